"""The abandon windows survive a restart: counts are saved per campaign and minute in the CRM
(crm_core/dialer_store.py), in batches, and reloaded when the dialer starts."""

from __future__ import annotations

import pytest

from acd.dialer.service import DialerService
from config.cti import DialingSettings
from crm_core.dialer_store import AbandonCount
from crm_core.errors import ValidationError
from tests.acd.dialer.conftest import NOON_NY, FakeSession, World

DAY = 86_400.0


async def answer(world: World, d: DialerService, outcome: str) -> None:
    await d.tick()
    call_id = world.ami.sent[-1].action_id.removeprefix("orig-")
    world.acd.outcome = outcome
    await d.handle_dialer(FakeSession(call_id, "HUMAN"))  # type: ignore[arg-type]


async def test_windows_survive_a_restart(world: World) -> None:
    d = world.dialer
    await d.control(world.campaign_id, "start")
    # Two days ago: one abandon and one connected call; now: one connected, one abandon.
    world.wall.t = NOON_NY - 2 * DAY
    await answer(world, d, "answered")
    await answer(world, d, "timed_out")
    await d.flush_counts()
    world.wall.t = NOON_NY
    await answer(world, d, "answered")
    await answer(world, d, "timed_out")
    before = d.status(await world.crm.campaigns.get(world.campaign_id)).abandon_rate
    assert before["24h"] == {"live": 2, "abandoned": 1, "rate": 0.5}
    assert before["30d"] == {"live": 4, "abandoned": 2, "rate": 0.5}
    await d.stop()  # saves what the last flush did not

    again = DialerService(crm=world.crm, acd=world.acd, ami=world.ami,
                          dialing=DialingSettings(), wall=world.wall, tick_s=3600)
    await again.start()
    try:
        after = again.status(await world.crm.campaigns.get(world.campaign_id)).abandon_rate
        assert after == before
        # The rows are per minute: two minutes two days apart.
        rows = await world.crm.dialer_state.counts_since(0)
        assert [(r.live, r.abandoned) for r in rows] == [(2, 1), (2, 1)]
    finally:
        await again.stop()


async def test_a_paused_campaign_keeps_its_windows_across_a_restart(world: World) -> None:
    d = world.dialer
    await d.control(world.campaign_id, "start")
    await answer(world, d, "timed_out")
    await d.control(world.campaign_id, "pause")
    await d.stop()
    again = DialerService(crm=world.crm, acd=world.acd, ami=world.ami,
                          dialing=DialingSettings(), wall=world.wall, tick_s=3600)
    await again.start()
    try:
        st = again.status(await world.crm.campaigns.get(world.campaign_id))
        assert st.status == "paused"
        assert st.abandon_rate["30d"] == {"live": 1, "abandoned": 1, "rate": 1.0}
    finally:
        await again.stop()


async def test_counts_that_could_not_be_saved_are_kept_for_the_next_flush(
        world: World) -> None:
    d = world.dialer
    await d.control(world.campaign_id, "start")
    await answer(world, d, "timed_out")
    real = world.crm.dialer_state.add_counts

    async def disk_full(counts: object) -> int:
        raise OSError("disk full")

    world.crm.dialer_state.add_counts = disk_full  # type: ignore[assignment,method-assign]
    await d.flush_counts()
    assert await world.crm.dialer_state.counts_since(0) == []
    world.crm.dialer_state.add_counts = real  # type: ignore[method-assign]
    await answer(world, d, "answered")
    await d.flush_counts()
    rows = await world.crm.dialer_state.counts_since(0)
    assert [(r.live, r.abandoned) for r in rows] == [(2, 1)]


async def test_store_adds_prunes_and_refuses_impossible_counts(world: World) -> None:
    st = world.crm.dialer_state
    cid = world.campaign_id
    await st.add_counts([AbandonCount(cid, 600.0, 3, 1), AbandonCount(cid, 60.0, 1, 0)])
    await st.add_counts([AbandonCount(cid, 600.0, 2, 2)])
    assert [(r.minute, r.live, r.abandoned) for r in await st.counts_since(0)] == [
        (60.0, 1, 0), (600.0, 5, 3)]
    assert await st.prune(before=600.0) == 1
    assert [r.minute for r in await st.counts_since(0)] == [600.0]
    with pytest.raises(ValidationError):
        await st.add_counts([AbandonCount(cid, 660.0, 1, 2)])
    with pytest.raises(ValidationError):
        await st.add_counts([AbandonCount(cid, 661.0, 1, 0)])
