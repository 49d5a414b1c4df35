"""Blending with inbound (acd/dialer/blend.py): free agents a campaign leaves to inbound queues
short of their service level, as a rule and through the adapter's pacing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from acd.dialer.blend import kept_for_inbound, short_queues
from acd.model import AgentState
from config.dialer import DialerSettings
from tests.acd.dialer.conftest import Agent, World

QUEUES = ["sales", "support", "billing"]


def test_a_queue_is_short_below_its_target_with_calls_in_the_window() -> None:
    levels = {"sales": 0.1, "support": 0.7, "billing": None, "vip": 0.95}
    targets = {"sales": 0.8, "support": 0.8, "billing": 0.8, "vip": 0.9}
    assert short_queues(levels, targets, exclude=("sales",)) == {"support"}
    assert short_queues(levels, targets) == {"sales", "support"}
    assert short_queues({"ghost": 0.1}, targets) == frozenset()  # no target: not ours


@given(reserve=st.integers(0, 5),
       free=st.lists(st.sets(st.sampled_from(QUEUES), min_size=1), max_size=8),
       short=st.sets(st.sampled_from(QUEUES)))
def test_kept_agents_are_bounded_by_the_reserve_and_by_who_serves_a_short_queue(
        reserve: int, free: list[set[str]], short: set[str]) -> None:
    kept = kept_for_inbound(reserve, free, short)
    serving = sum(1 for qs in free if qs & short)
    assert kept == min(reserve, serving)
    assert 0 <= kept <= len(free)


def channels(world: World) -> list[str]:
    return [a.get("Channel") for a in world.ami.sent]


async def tick_with(world: World, reserve: int, support_sl: float | None) -> int:
    world.dialer.settings = DialerSettings(inbound_reserve_agents=reserve)
    world.acd.service_levels = {"sales": (0.1, 0.8), "support": (support_sl, 0.8)}
    world.ami.sent.clear()
    for call_id in world.dialer.lines:  # (their agents held for them go free with them)
        world.acd.release_claim(call_id)
    world.dialer.lines.clear()
    await world.dialer.tick()
    return len(world.ami.sent)


async def test_free_agents_serving_a_short_inbound_queue_are_left_to_it(world: World) -> None:
    # a1 and a2 free; a1 also serves support. Progressive: one line per free agent.
    world.acd.engine.agents_[:] = [
        Agent("a1", queues=frozenset({"sales", "support"})), Agent("a2"),
        Agent("a3", AgentState.ON_CALL)]
    await world.dialer.control(world.campaign_id, "start")
    assert await tick_with(world, reserve=0, support_sl=0.2) == 2  # off
    assert await tick_with(world, reserve=1, support_sl=0.9) == 2  # support is doing fine
    assert await tick_with(world, reserve=1, support_sl=None) == 2  # no support calls yet
    assert await tick_with(world, reserve=1, support_sl=0.2) == 1  # one left to support
    # Only a1 serves support: a reserve of 5 still leaves a2 to the campaign; the campaign's
    # own queue (sales, 10 % here) never holds its agents back.
    assert await tick_with(world, reserve=5, support_sl=0.2) == 1
