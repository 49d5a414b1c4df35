"""Blending with inbound (acd/dialer/blend.py): free agents a campaign leaves to inbound queues
short of their service level, as a rule and through the adapter's pacing; the agents its lines
hold (claims), as the adapter asks the ACD for them and counts them."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from acd.claims import ClaimTerms
from acd.dialer.blend import kept_for_inbound, pacing_agents, short_queues
from acd.dialer.pacing import BusyAgent
from acd.model import AgentState, DeviceState
from config.dialer import DialerSettings
from cti.events import OriginateResult
from tests.acd.dialer.conftest import Agent, FakeSession, World

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


# ------------------------------------------------------------------ claims, through the adapter

def test_pacing_counts_the_agents_its_lines_hold_and_no_one_elses() -> None:
    agents = [Agent("free"), Agent("mine", routable=False, claimed_by="dl1"),
              Agent("other", routable=False, claimed_by="dl9"),
              Agent("gone", routable=False, claimed_by="dl2",
                    device_state=DeviceState.UNAVAILABLE),
              Agent("talking", AgentState.ON_CALL, state_since=40.0),
              Agent("support", queues=frozenset({"support"}))]
    free, held, busy = pacing_agents(agents, ClaimTerms("sales", frozenset(), 1), 100.0,
                                     {"dl1", "dl2"})  # type: ignore[arg-type]
    assert (free, held, busy) == (["free"], ["mine"], (BusyAgent("talk", 60.0),))


async def test_progressive_dials_only_for_an_agent_the_acd_holds(world: World) -> None:
    await world.dialer.control(world.campaign_id, "start")
    # Two free agents, but the ACD will not hold one (its policy finds nobody for the call).
    world.acd.claim_agent = lambda *a, **kw: None  # type: ignore[method-assign]
    await world.dialer.tick()
    assert world.ami.sent == [] and world.dialer.lines == {}
    assert (await world.crm.leads.search(status="dialing")).total == 0


async def test_a_ringing_line_that_lost_its_agent_claims_one_before_new_lines(
        world: World) -> None:
    world.acd.engine.agents_[:] = [Agent("a1"), Agent("a2"), Agent("a3", AgentState.ON_CALL)]
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    first, second = [a.action_id.removeprefix("orig-") for a in world.ami.sent]
    # a1 goes on a break: the ACD ends its claim (the agent's choice wins).
    a1, a2, a3 = world.acd.engine.agents_
    a1.state, a1.routable, a1.claimed_by = AgentState.PAUSED, False, None
    a3.state = AgentState.AVAILABLE  # and a3 is free again
    world.acd.claims.clear()
    await world.dialer.tick()
    # The line that lost its agent holds a3 now; nothing new is dialled (both lines hold one).
    assert [c[0] for c in world.acd.claims] == [first]
    assert (a2.claimed_by, a3.claimed_by) == (second, first)
    assert len(world.ami.sent) == 2


async def test_a_talking_line_is_not_in_flight_for_the_pacing(world: World) -> None:
    world.acd.engine.agents_[:] = [Agent("a1"), Agent("a2"), Agent("a3", AgentState.ON_CALL)]
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    ans = world.ami.sent[0]
    call_id = ans.action_id.removeprefix("orig-")
    world.dialer.on_cti_event(OriginateResult(ans.action_id, True, 4, "x", "", "", "", "", ""))
    world.acd.talking = asyncio.Event()
    call = asyncio.create_task(world.dialer.handle_dialer(FakeSession(call_id, "HUMAN")))  # type: ignore[arg-type]
    while not world.acd.calls:
        await asyncio.sleep(0)
    a1, _, a3 = world.acd.engine.agents_  # a1 took its call (its claim used); a3 is free
    a1.state, a1.routable, a1.claimed_by = AgentState.ON_CALL, False, None
    a3.state = AgentState.AVAILABLE
    assert world.dialer.status(await world.crm.campaigns.get(world.campaign_id)
                               ).humans_waiting == 0
    await world.dialer.tick()
    # a3 gets a line of its own: the call a1 is talking on holds no place in flight.
    assert len(world.ami.sent) == 3 and a3.claimed_by == \
        world.ami.sent[2].action_id.removeprefix("orig-")
    world.acd.talking.set()
    await call
