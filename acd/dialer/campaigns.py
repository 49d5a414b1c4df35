"""Campaign run states: one transition table (start, pause, stop); an illegal one raises.

    draft  --start--> active      paused --start--> active
    active --pause--> paused
    draft/active/paused --stop--> finished   (finished is final)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from acd.dialer.errors import DialerError

CAMPAIGN_ACTIONS = ("start", "pause", "stop")

TRANSITIONS: Mapping[tuple[str, str], str] = MappingProxyType({
    ("draft", "start"): "active",
    ("paused", "start"): "active",
    ("active", "pause"): "paused",
    ("draft", "stop"): "finished",
    ("active", "stop"): "finished",
    ("paused", "stop"): "finished",
})


class IllegalCampaignTransition(DialerError):
    def __init__(self, campaign_id: int, status: str, action: str) -> None:
        self.campaign_id = campaign_id
        self.status = status
        self.action = action
        super().__init__(f"campaign {campaign_id}: cannot {action} a {status} campaign")


def campaign_transition(campaign_id: int, status: str, action: str) -> str:
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise IllegalCampaignTransition(campaign_id, status, action) from None
