"""A campaign's own rules to and from the CRM (`crm.campaign_rules`).

Rows read back are validated again by `parse_rules`: a row the dialer cannot apply (written by
hand, or naming a time zone this machine's tz database no longer has) raises InvalidRule, and
the dialer then does not dial that campaign rather than fall back to rules it was not given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from acd.dialer.rules import CampaignRules, parse_rules
from crm_core.campaign_rules import CampaignRulesRow

if TYPE_CHECKING:
    from crm_core.service import Crm


def rules_of(row: CampaignRulesRow) -> CampaignRules:
    return parse_rules({
        "window_start": row.window_start, "window_end": row.window_end,
        "days": list(row.days) if row.days is not None else None,
        "holidays": list(row.holidays) if row.holidays is not None else None,
        "default_timezone": row.default_timezone, "retry_delay_s": dict(row.retry_delay_s)})


def row_of(campaign_id: int, rules: CampaignRules) -> CampaignRulesRow:
    return CampaignRulesRow(campaign_id, rules.window_start, rules.window_end, rules.days,
                            rules.holidays, rules.default_timezone, rules.retry_delay_s)


async def load_rules(crm: Crm, campaign_id: int) -> CampaignRules | None:
    """The campaign's own rules, None when it sets none (InvalidRule: unreadable)."""
    row = await crm.campaign_rules.get(campaign_id)
    return rules_of(row) if row is not None else None


async def save_rules(crm: Crm, campaign_id: int, rules: CampaignRules) -> CampaignRules:
    """Stores them (no row at all when every rule is inherited); returns what is stored."""
    if rules == CampaignRules():
        await crm.campaign_rules.delete(campaign_id)
        return rules
    return rules_of(await crm.campaign_rules.put(row_of(campaign_id, rules)))
