"""Who the dialer's pacing counts as free is who a claim takes (acd/claims.py `can_hold`, asked
by the engine's claims and by acd/dialer/blend.py's `pacing_agents`): an agent of the queue
without its skills is neither."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.dialer.blend import pacing_agents
from acd.engine import AcdEngine
from acd.model import AgentLogin, ClaimLost, NewCall, Offer
from config.acd import AcdSettings, EscalationStep, QueueSettings
from cti.commands import hangup_call
from cti.errors import ActionFailed, AmiConnectionError, InvalidValue
from cti.events import ChannelCreated, ChannelHungUp, ChannelInfo, OriginateResult
from tests.acd.dialer.conftest import World, settle

QUEUE = "sales"


def engine(*, ladder: bool = True) -> AcdEngine:
    steps = [EscalationStep(after_s=0, min_skill_level=3),
             EscalationStep(after_s=5, min_skill_level=1),
             EscalationStep(after_s=20, min_skill_level=0)] if ladder else []
    return AcdEngine(AcdSettings(queues=[
        QueueSettings(name=QUEUE, skills=["sales"], escalation=steps),
        QueueSettings(name="support", skills=["support"])]))


agent_st = st.tuples(
    st.one_of(st.none(), st.integers(1, 5)),  # its "sales" level (None: not skilled)
    st.booleans(),  # also skilled in support
    st.sampled_from([frozenset({QUEUE}), frozenset({QUEUE, "support"}), frozenset({"support"})]),
    st.sampled_from(["available", "paused", "busy"]))


@settings(max_examples=150, deadline=None)
@given(agents=st.lists(agent_st, max_size=8), ladder=st.booleans())
def test_the_free_agents_the_pacing_counts_are_the_agents_claims_take(
        agents: list[tuple[int | None, bool, frozenset[str], str]], ladder: bool) -> None:
    e = engine(ladder=ladder)
    for i, (level, support, queues, state) in enumerate(agents):
        skills = {"sales": level} if level is not None else {}
        if support:
            skills["support"] = 2
        aid = f"a{i}"
        e.agent_login(AgentLogin(aid, f"PJSIP/{aid}", queues, skills,
                                 pause_reason="break" if state == "paused" else None), 0.0)
    now = 10.0
    free, held, _ = pacing_agents(e.agents(), e.claim_terms(QUEUE, now), now, ())
    assert held == []
    taken: list[str] = []
    for n in range(len(agents) + 1):
        e.claim_agent(f"L{n}", QUEUE, "campaign:1", now, hold_s=60.0, tier="platinum")
        agent = e.claimed_agent(f"L{n}")
        if agent is None:
            break
        taken.append(agent)
    # Every agent counted free is one a line can hold, and no other agent is.
    assert sorted(taken) == sorted(free)


def test_a_queue_member_without_the_queues_skill_is_not_counted_free_nor_busy() -> None:
    e = engine()
    e.agent_login(AgentLogin("skilled", "PJSIP/s", frozenset({QUEUE}), {"sales": 2}), 0.0)
    e.agent_login(AgentLogin("other", "PJSIP/o", frozenset({QUEUE}), {"support": 5}), 0.0)
    e.agent_login(AgentLogin("talker", "PJSIP/t", frozenset({QUEUE}), {"support": 5}), 0.0)
    e.enqueue(NewCall("in1", QUEUE, "gold", frozenset({"support"})), 1.0)  # talker or other
    free, held, busy = pacing_agents(e.agents(), e.claim_terms(QUEUE, 2.0), 2.0, ())
    assert free == ["skilled"] and held == [] and busy == ()


# ------------------------------------------------------------------ a claimed agent leaves

def staffed(*agents: tuple[str, dict[str, int]]) -> AcdEngine:
    e = engine()
    for aid, skills in agents:
        e.agent_login(AgentLogin(aid, f"PJSIP/{aid}", frozenset({QUEUE}), skills), 0.0)
    return e


def test_a_claimed_agent_who_pauses_hands_the_claim_to_another_free_qualified_agent() -> None:
    e = staffed(("a1", {"sales": 2}), ("a2", {"support": 5}), ("a3", {"sales": 1}))
    e.claim_agent("L1", QUEUE, "campaign:1", 1.0, hold_s=60.0, tier="platinum")
    first = e.claimed_agent("L1")
    assert first in ("a1", "a3")
    out = e.agent_pause(first, "break", 2.0)
    other = "a3" if first == "a1" else "a1"
    # Moved (not to a2, who lacks the queue's skill); nothing says it was lost.
    assert e.claimed_agent("L1") == other and e.agent(other).claimed_by == "L1"
    assert not any(isinstance(c, ClaimLost) for c in out)
    assert e.agent(first).claimed_by is None
    # Its expiry did not move with it: at 1 + 60 s the agent is free again.
    e.tick(60.5)
    assert e.claimed_agent("L1") == other
    e.tick(61.0)
    assert e.claimed_agent("L1") is None and e.agent(other).routable


def test_with_nobody_else_free_the_claim_ends_and_the_engine_says_so() -> None:
    e = staffed(("a1", {"sales": 2}), ("a2", {"support": 5}))
    e.claim_agent("L1", QUEUE, "campaign:1", 1.0, hold_s=60.0, tier="platinum")
    assert e.claimed_agent("L1") == "a1"
    out = e.agent_logout("a1", 2.0)
    assert [c for c in out if isinstance(c, ClaimLost)] == [ClaimLost("L1", "campaign:1", "a1")]
    assert e.claimed_agent("L1") is None
    e.release_claim("L1", 3.0)  # (the dialer's release of a lost claim is no error)
    # The agent back: nothing holds it.
    e.agent_login(AgentLogin("a1", "PJSIP/a1", frozenset({QUEUE}), {"sales": 2}), 4.0)
    assert e.agent("a1").routable


def test_a_person_whose_claim_is_gone_waits_first_in_line_at_a_claims_level() -> None:
    e = staffed(("a1", {"sales": 1}))
    e.claim_agent("L1", QUEUE, "campaign:1", 1.0, hold_s=60.0, tier="platinum")
    e.agent_pause("a1", "break", 2.0)  # claim lost
    # A gold caller waiting long (its priority 300 + 500 s of aging beats platinum's 400).
    e.enqueue(NewCall("in1", QUEUE, "gold"), 3.0)
    e.enqueue(NewCall("L1", QUEUE, "platinum", claim="L1", claim_pool="campaign:1"), 503.0)
    assert [c.call_id for c in e.waiting(QUEUE)] == ["L1", "in1"]
    assert e.call("L1").min_skill_level <= 1  # the ladder's level 3 is not waited for
    out = e.agent_available("a1", 503.5)  # level 1: takes the person, not the caller
    assert [c.call_id for c in out if isinstance(c, Offer)] == ["L1"]


# ------------------------------------------------------------------ the dialer's side



async def test_a_line_whose_agent_left_is_hung_up_while_ringing_and_is_no_abandon(
        world: World) -> None:
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    ringing, answered = [a.action_id.removeprefix("orig-") for a in world.ami.sent]
    world.ami.sent.clear()
    # The second line's callee picked up (answering-machine detection runs).
    world.dialer.on_cti_event(OriginateResult(f"orig-{answered}", True, 4, "x", "", "", "",
                                              "", ""))
    pool = f"campaign:{world.campaign_id}"
    world.dialer.on_claim_lost(ClaimLost(answered, pool, "a2"))
    world.dialer.on_claim_lost(ClaimLost(ringing, pool, "a1"))
    await settle(world.dialer)
    # Only the line still ringing is hung up, by its uniqueid (its channel has no known name).
    assert [(a.name, a.get("Channel")) for a in world.ami.sent] == [("Hangup", ringing)]
    line = world.dialer.lines[ringing]
    lead_id = line.lead_id
    world.dialer.on_cti_event(OriginateResult(f"orig-{ringing}", False, 1, "x", "", "", "",
                                              "", ""))
    await settle(world.dialer)
    lead = await world.crm.leads.get(lead_id)
    # Nobody answered: not an attempt of the lead's, due again after the `failed` delay.
    assert (lead.status, lead.attempts, lead.last_result) == ("new", 0, "cancelled")
    assert lead.next_attempt == world.wall.now() + 900.0
    status = world.dialer.status(await world.crm.campaigns.get(world.campaign_id))
    assert status.results == {"cancelled": 1}
    assert all(w["live"] == 0 and w["abandoned"] == 0 for w in status.abandon_rate.values())
    assert [r.reason for r in world.history if r.call_id == ringing] == ["cancelled"]
    assert answered in world.dialer.lines  # the answered line goes on


async def test_a_line_answered_as_we_hung_it_up_counts_as_abandoned(world: World) -> None:
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    call_id = world.ami.sent[0].action_id.removeprefix("orig-")
    world.dialer.on_claim_lost(ClaimLost(call_id, f"campaign:{world.campaign_id}", "a1"))
    await settle(world.dialer)
    # The callee picked up just before our Hangup took: maybe a person, hung up on.
    world.dialer.on_cti_event(OriginateResult(f"orig-{call_id}", True, 4, "x", "", "", "",
                                              "", ""))
    chan = ChannelInfo("PJSIP/trunk-1", call_id, call_id, 6, "Up", "", "", "", "", "", "")
    world.dialer.on_cti_event(ChannelHungUp(chan, 16, "Normal Clearing"))
    await settle(world.dialer)
    status = world.dialer.status(await world.crm.campaigns.get(world.campaign_id))
    assert status.results == {"abandoned": 1}
    assert status.abandon_rate["24h"]["abandoned"] == 1


async def test_with_ami_down_the_line_rings_on_as_before(world: World) -> None:
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    call_id = world.ami.sent[0].action_id.removeprefix("orig-")
    world.ami.fail = AmiConnectionError("not connected")
    world.dialer.on_claim_lost(ClaimLost(call_id, f"campaign:{world.campaign_id}", "a1"))
    await settle(world.dialer)
    assert not world.dialer.lines[call_id].cancelled
    world.ami.fail = None
    world.dialer.on_cti_event(OriginateResult(f"orig-{call_id}", False, 3, "x", "", "", "",
                                              "", ""))
    await settle(world.dialer)
    status = world.dialer.status(await world.crm.campaigns.get(world.campaign_id))
    assert status.results == {"no_answer": 1}


async def test_a_line_whose_channel_is_not_there_yet_is_hung_up_when_it_appears(
        world: World) -> None:
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    call_id = world.ami.sent[0].action_id.removeprefix("orig-")
    world.ami.sent.clear()
    world.ami.fail = ActionFailed("Hangup", {"Message": "No such channel"})
    world.dialer.on_claim_lost(ClaimLost(call_id, f"campaign:{world.campaign_id}", "a1"))
    await settle(world.dialer)
    world.ami.fail = None
    chan = ChannelInfo("PJSIP/trunk-1", call_id, call_id, 0, "Down", "", "", "", "", "", "")
    world.dialer.on_cti_event(ChannelCreated(chan))
    await settle(world.dialer)
    assert [a.name for a in world.ami.sent] == ["Hangup", "Hangup"]
    assert world.dialer.lines[call_id].hangup_sent
    world.dialer.on_cti_event(OriginateResult(f"orig-{call_id}", False, 1, "x", "", "", "",
                                              "", ""))
    await settle(world.dialer)
    status = world.dialer.status(await world.crm.campaigns.get(world.campaign_id))
    assert status.results == {"cancelled": 1}


def test_the_hangup_of_a_line_by_its_id_refuses_hostile_values() -> None:
    action = hangup_call("dl1-7-1-3", action_id="cancel-dl1-7-1-3")
    assert (action.name, action.get("Channel"), action.get("Cause")) == \
        ("Hangup", "dl1-7-1-3", "16")
    for bad in ("dl1\r\nAction: Originate", "", "a" * 65, "x,y", "${EVIL}"):
        with pytest.raises(InvalidValue):
            hangup_call(bad, action_id="cancel-x")
