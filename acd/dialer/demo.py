"""The demo's outbound campaign: one small progressive campaign beside the inbound traffic.

Its leads are fictional NANP 555-01XX numbers. Calling windows are honoured in the demo too, so
each lead gets a fixed-offset zone where it is now early afternoon (an Etc/GMT zone): the
campaign dials whatever the hour of the machine running the demo, and the window logic is the
one production uses.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from crm_core.lead_import import LeadColumns

if TYPE_CHECKING:
    from crm_core.service import Crm

DEMO_CAMPAIGN = "Demo renewals"


def daytime_zone(now: float, local_hour: int = 13) -> str:
    """An Etc/GMT zone where the local hour at `now` is about `local_hour`."""
    utc_hour = math.floor(now / 3600) % 24
    offset = (local_hour - utc_hour + 12) % 24 - 12  # hours east of UTC, -12..11
    # Etc/GMT signs are inverted (POSIX): Etc/GMT-3 is three hours east of UTC.
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


async def start_demo_campaign(crm: Crm, dialer: Any, *, queue: str, now: float,
                              leads: int = 40) -> Any:
    """Create (first run) and start the demo campaign; returns the campaign."""
    found = await crm.campaigns.search(name=DEMO_CAMPAIGN, limit=1)
    if found.items:
        campaign = found.items[0]
    else:
        campaign = await crm.campaigns.create(
            name=DEMO_CAMPAIGN, queue=queue, dial_mode="progressive", caller_id="+12025550100",
            script="Hello, this is the renewals team calling about your contract.",
            max_attempts=3, amd_action="message")
        lst = await crm.lead_lists.create(campaign_id=campaign.id, name="demo leads")
        zone = daytime_zone(now)
        rows = "\n".join(f"Lead {i},+1 (212) 555-{100 + i % 100:04d},{zone}"
                         for i in range(min(leads, 100)))
        await crm.lead_import.import_csv(lst.id, "name,phone,tz\n" + rows + "\n",
                                         LeadColumns(phone="phone", name="name", timezone="tz"))
    if campaign.status != "active":
        action = "start" if campaign.status in ("draft", "paused") else None
        if action is not None:
            campaign = await dialer.control(campaign.id, action)
    return campaign


async def pause_demo_campaigns(crm: Crm, dialer: Any) -> None:
    """[demo].campaign_leads = 0 means no outbound demo: the demo data's active campaign
    ("Spring renewal", crm_core/demo_data.py) is paused too, before any agent logs in (its
    lines would hold the agents, and connect them, that the demo's other users expect free)."""
    page = await crm.campaigns.search(status="active", limit=100)
    for campaign in page.items:
        await dialer.control(campaign.id, "pause")
