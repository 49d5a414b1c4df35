"""The dialer's bus messages (common/messages.py): live campaign figures for the wallboard when
they change, campaign run-state changes and attempt outcomes."""

from __future__ import annotations

from common.messages import (
    BusMessage,
    DialerAttemptOutcome,
    DialerCampaignChanged,
    DialerCampaignStats,
    from_json_dict,
    to_json_dict,
)
from tests.acd.dialer.conftest import FakeSession, World


async def test_stats_are_published_when_they_change(world: World) -> None:
    out: list[BusMessage] = []
    world.dialer.publish = out.append
    await world.dialer.control(world.campaign_id, "start")
    assert out == [DialerCampaignChanged(world.campaign_id, "active")]
    world.dialer.publish_stats()
    world.dialer.publish_stats()  # nothing changed: nothing new
    stats = [m for m in out if isinstance(m, DialerCampaignStats)]
    assert len(stats) == 1 and stats[0].lines_in_progress == 0
    await world.dialer.tick()
    world.dialer.publish_stats()
    call_id = world.ami.sent[0].action_id.removeprefix("orig-")
    world.acd.outcome = "timed_out"
    await world.dialer.handle_dialer(FakeSession(call_id, "HUMAN"))  # type: ignore[arg-type]
    world.dialer.publish_stats()
    stats = [m for m in out if isinstance(m, DialerCampaignStats)]
    assert [(s.lines_in_progress, s.calls_placed, s.live_24h, s.abandoned_24h, s.rate_24h)
            for s in stats] == [(0, 0, 0, 0, 0.0), (2, 2, 0, 0, 0.0), (1, 2, 1, 1, 1.0)]
    assert (stats[-1].name, stats[-1].dial_mode, stats[-1].pacing) == (
        "Renewals", "progressive", "progressive")
    lead = (await world.crm.leads.search(phone="+12125550101")).items[0]
    assert DialerAttemptOutcome(world.campaign_id, lead.id, "abandoned") in out
    # JSON round trip (the websocket hub and a Redis bus carry it so).
    assert from_json_dict(to_json_dict(stats[-1])) == stats[-1]
