"""A campaign's own rules to and from the CRM (`crm.campaign_rules`).

Rows read back are validated again by `parse_rules`: a row the dialer cannot apply (written by
hand, or naming a time zone this machine's tz database no longer has) raises InvalidRule, and
the dialer then does not dial that campaign rather than fall back to rules it was not given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from acd.dialer.errors import InvalidRule
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


@dataclass(frozen=True, slots=True)
class StoredRules:
    """A campaign's own rules as stored: None when it sets none, InvalidRule when the row
    cannot be applied; `version` the row's (0: no row), the REST API's ETag."""

    rules: CampaignRules | InvalidRule | None
    version: int


def _stored(row: CampaignRulesRow | None) -> StoredRules:
    if row is None:
        return StoredRules(None, 0)
    try:
        return StoredRules(rules_of(row), row.version)
    except InvalidRule as exc:
        return StoredRules(exc, row.version)


async def read_rules(crm: Crm, campaign_id: int) -> StoredRules:
    return _stored(await crm.campaign_rules.get(campaign_id))


async def change_rules(crm: Crm, campaign_id: int, given: Mapping[str, Any], *, replace: bool,
                       if_version: int | None = None) -> StoredRules:
    """Apply a PUT (`replace`) or PATCH body to the stored rules in one write transaction
    (crm.campaign_rules.update): two changes at once both land, neither is lost. A PATCH of
    rules the dialer cannot read starts from no rules (a PUT replaces them anyway).
    InvalidRule for a refused value, StaleVersion when `if_version` is not the row's: nothing
    is written then."""
    def change(row: CampaignRulesRow | None) -> CampaignRulesRow | None:
        base: CampaignRules | None = None
        if not replace:
            old = _stored(row).rules
            base = old if isinstance(old, CampaignRules) else CampaignRules()
        rules = parse_rules(dict(given), base=base)
        return None if rules == CampaignRules() else row_of(campaign_id, rules)

    return _stored(await crm.campaign_rules.update(campaign_id, change, if_version=if_version))
