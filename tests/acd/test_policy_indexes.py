"""The engine's parts against their specifications: the call state table, the escalation rule,
round robin, lazy positions, and the indexed picks against acd.policy's reference picks on
random states (several queues, every selection policy, VIP handling, escalated thresholds,
calls reserved for one agent)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd import policy
from acd.calls import TRANSITIONS, AcdCall, CallEvent
from acd.errors import AcdError, IllegalCallTransition, InvalidRequest
from acd.indexes import AgentKey, Positions, in_policy_order, rr_cut
from acd.model import AgentLogin, CallState, NewCall
from config.acd import EscalationStep
from tests.acd.helpers import engine, queue

SKILLS = ["support", "french", "billing"]
POLICIES = ["longest_idle", "best_skill", "fewest_calls", "round_robin"]
TIERS = ["platinum", "gold", "silver", "bronze", "unknown"]


# ------------------------------------------------------------------------- call state table


def new_call(state: CallState = CallState.WAITING) -> AcdCall:
    return AcdCall(call_id="c1", queue="support", tier="gold", skills=frozenset({"support"}),
                   number="", enqueued_at=1.0, queue_since=1.0, key=(0.0, 1.0, 1), state=state,
                   agent_id="a1" if state in (CallState.OFFERED, CallState.CONNECTED) else None)


def record(c: AcdCall) -> list[Any]:
    return [getattr(c, f.name) for f in fields(c)]


@pytest.mark.parametrize("state", list(CallState))
@pytest.mark.parametrize("event", list(CallEvent))
def test_every_call_transition_is_in_the_table_or_refused_without_change(
    state: CallState, event: CallEvent
) -> None:
    c = new_call(state)
    before = record(c)
    if (state, event) in TRANSITIONS:
        assert c.can_apply(event)
        target = TRANSITIONS[(state, event)]
        assert c.apply(event) is target
        assert c.state is (target if target is not None else state)
    else:
        assert not c.can_apply(event)
        with pytest.raises(IllegalCallTransition) as err:
            c.require(event)
        with pytest.raises(IllegalCallTransition):
            c.apply(event)
        assert isinstance(err.value, InvalidRequest)  # the API's 400, as before the table
        assert (err.value.call_id, err.value.state, err.value.event) == (
            "c1", state.value, event.value)
        assert record(c) == before


def test_call_table_is_the_documented_lifecycle() -> None:
    w, cw, o, cn = (CallState.WAITING, CallState.CALLBACK_WAITING, CallState.OFFERED,
                    CallState.CONNECTED)
    e = CallEvent
    assert dict(TRANSITIONS) == {
        (w, e.OFFER): o, (cw, e.OFFER): o, (w, e.LEAVE_LINE): cw,
        (o, e.ANSWER): cn, (o, e.NO_ANSWER): w, (o, e.CALLBACK_NO_ANSWER): cw,
        (cn, e.HANGUP): None,
        (w, e.ABANDON): None, (cw, e.ABANDON): None, (o, e.ABANDON): None,
        (w, e.HAND_BACK): None, (cw, e.HAND_BACK): None, (o, e.HAND_BACK): None,
    }


@given(st.lists(st.sampled_from(list(CallEvent)), max_size=30))
def test_random_call_event_sequences_follow_the_table(events: list[CallEvent]) -> None:
    c = new_call()
    for ev in events:
        before, state = record(c), c.state
        legal = (state, ev) in TRANSITIONS
        try:
            c.apply(ev)
        except IllegalCallTransition:
            assert not legal
            assert record(c) == before
            continue
        assert legal
        target = TRANSITIONS[(state, ev)]
        if target is None:
            break  # the call left the ACD: nothing more can happen to it
        assert c.state is target
        # An unanswered offer goes back to the kind of waiting the call was in.
        if ev is CallEvent.LEAVE_LINE:
            assert c.is_callback and c.no_answer_event is CallEvent.CALLBACK_NO_ANSWER


def test_engine_refusal_messages_name_the_call_and_its_state() -> None:
    e = engine(queue("support"))
    e.enqueue(NewCall("c1", "support"), 0)
    for fn, msg in [
        (lambda: e.offer_answered("c1", 1), "call c1 is waiting, not offered"),
        (lambda: e.offer_failed("c1", "busy", 1), "call c1 is waiting, not offered"),
        (lambda: e.call_ended("c1", 1), "call c1 is waiting, not connected"),
    ]:
        with pytest.raises(InvalidRequest, match=f"^{msg}$"):
            fn()
    e.request_callback("c1", "5551234567", 1)
    refused = "^call c1 is callback_waiting: callback not possible$"
    with pytest.raises(InvalidRequest, match=refused):
        e.request_callback("c1", "5551234567", 2)


# ------------------------------------------------------------------------------- escalation

steps_st = st.lists(
    st.builds(EscalationStep, after_s=st.integers(0, 100).map(float),
              min_skill_level=st.integers(0, 5),
              action=st.sampled_from(["route", "route", "overflow", "callback"])),
    max_size=6,
).map(lambda ss: sorted(ss, key=lambda s: s.after_s))


def plain_threshold(steps: list[EscalationStep], waited: float) -> int:
    """The rule in one line: the last due route step's level, else the default."""
    routes = [s.min_skill_level for s in steps if s.action == "route" and s.after_s <= waited]
    return routes[-1] if routes else policy.DEFAULT_MIN_LEVEL


@given(steps=steps_st, since=st.integers(0, 1000).map(float),
       waits=st.lists(st.integers(0, 150).map(float), min_size=1, max_size=5))
def test_escalation_applied_in_steps_is_the_plain_rule(
    steps: list[EscalationStep], since: float, waits: list[float]
) -> None:
    # The engine applies steps as time passes, stopping at each overflow/callback step to carry
    # it out; whatever the pieces, the level is the plain rule's at every instant.
    level, nxt = policy.DEFAULT_MIN_LEVEL, 0
    for waited in sorted(waits):
        now = since + waited
        while True:
            level, nxt = policy.escalate(steps, nxt, level, since, now)
            if nxt < len(steps) and policy.step_due(since, steps[nxt]) <= now:
                assert steps[nxt].action != "route"
                nxt += 1  # the engine carries the overflow / callback out here
                continue
            break
        assert level == plain_threshold(steps, waited)
        assert level == policy.escalate(steps, 0, policy.DEFAULT_MIN_LEVEL, since, now,
                                        past_other_actions=True)[0]


# ------------------------------------------------------------------------------ round robin

ids_st = st.lists(st.sampled_from([f"a{i}" for i in range(12)]), min_size=1, unique=True).map(
    sorted)


@given(ids=ids_st, pointer=st.one_of(st.none(), st.sampled_from([f"a{i}" for i in range(13)])))
def test_rr_cut_is_the_round_robin_rule(ids: list[str], pointer: str | None) -> None:
    keys = [AgentKey(0.0, 0.0, aid) for aid in ids]
    order = [k.agent_id for _, k in in_policy_order(keys, pointer)]
    assert order[0] == policy.round_robin(ids, pointer)
    cut = rr_cut(keys, pointer)
    assert order == ids[cut:] + ids[:cut]  # a rotation: everyone once, in id order
    assert all(wrapped == (pointer is not None and k.agent_id <= pointer)
               for wrapped, k in in_policy_order(keys, pointer))


# -------------------------------------------------------------------------------- positions


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), st.integers(0, 400)), max_size=400),
       check_every=st.integers(1, 120))
def test_lazy_positions_equal_a_sorted_list(ops: list[tuple[bool, int]],
                                            check_every: int) -> None:
    # Enough changes pile up to cross the apply threshold both ways, and positions are asked
    # at random moments (one-by-one apply, bulk apply).
    pos = Positions()
    live: dict[str, tuple[float, float, int]] = {}
    for i, (add, n) in enumerate(ops):
        cid = f"c{n}"
        key = (float(n % 7), float(n), n)
        if add and cid not in live:
            pos.add(cid, key)
            live[cid] = key
        elif not add and cid in live:
            pos.remove(cid, live.pop(cid))
        if i % check_every == 0:
            ranked = sorted(live.values())
            assert [pos.of(k) for k in ranked] == list(range(1, len(ranked) + 1))


# ----------------------------------------------- indexed picks against the reference picks

queue_st = st.fixed_dictionaries({
    "selection": st.sampled_from(POLICIES),
    "vip_tiers_best_agents_first": st.booleans(),
    "levels": st.lists(st.integers(0, 5), min_size=1, max_size=3),
})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), queues=st.lists(queue_st, min_size=2, max_size=4))
def test_indexed_picks_equal_reference_picks_on_random_states(
    data: st.DataObject, queues: list[dict[str, Any]]
) -> None:
    names = [f"q{i}" for i in range(len(queues))]
    # Escalation every 20 s down the drawn levels, so that waiting calls sit at several
    # thresholds; no max wait / overflow inside the drawn times.
    e = engine(*[
        queue(n, skills=[SKILLS[i % 3]], selection=q["selection"], wrapup_s=0,
              vip_tiers_best_agents_first=q["vip_tiers_best_agents_first"], max_wait_s=10_000,
              escalation=[EscalationStep(after_s=20.0 * j, min_skill_level=lvl)
                          for j, lvl in enumerate(q["levels"])])
        for i, (n, q) in enumerate(zip(names, queues, strict=True))
    ])
    now = 0.0
    n_agents = data.draw(st.integers(1, 10))
    for i in range(n_agents):
        levels = data.draw(st.lists(st.integers(0, 5), min_size=3, max_size=3))
        qs = data.draw(st.sets(st.sampled_from(names), min_size=1))
        e.agent_login(AgentLogin(
            f"a{i:02d}", f"PJSIP/a{i:02d}", frozenset(qs),
            {s: lvl for s, lvl in zip(SKILLS, levels, strict=True) if lvl}, "break"), now)
    for step in range(data.draw(st.integers(0, 40))):
        now += data.draw(st.sampled_from([0.0, 0.5, 7.0, 21.0]))
        op = data.draw(st.sampled_from(["call", "call", "owned", "ready", "pause",
                                        "answer_end", "fail", "claim", "claim", "release"]))
        try:
            if op in ("call", "owned"):
                # "owned": a call for one agent (logged in or not), for a drawn grace.
                owner = data.draw(st.sampled_from([f"a{i:02d}" for i in range(n_agents)]
                                                  + ["absent"])) if op == "owned" else None
                e.enqueue(NewCall(f"c{step}", data.draw(st.sampled_from(names)),
                                  data.draw(st.sampled_from(TIERS)),
                                  frozenset(data.draw(st.sets(st.sampled_from(SKILLS),
                                                              max_size=2))),
                                  required_agent=owner,
                                  required_grace_s=data.draw(st.sampled_from([5.0, 30.0, 600.0]))
                                  if owner else None), now)
            elif op == "claim":
                # An agent held for an outbound call on its way (acd/claims.py): no pick may
                # give it another call.
                e.claim_agent(f"k{step}", data.draw(st.sampled_from(names)), "pool", now,
                              hold_s=data.draw(st.sampled_from([5.0, 60.0])),
                              tier=data.draw(st.sampled_from(TIERS)))
            elif op == "release":
                e.release_claim(f"k{data.draw(st.integers(0, max(0, step - 1)))}", now)
            elif op == "fail":
                offered = [c.call_id for c in e.calls() if c.state is CallState.OFFERED]
                if offered:
                    e.offer_failed(data.draw(st.sampled_from(offered)), "no_answer", now)
            elif op in ("ready", "pause"):
                aid = f"a{data.draw(st.integers(0, n_agents - 1)):02d}"
                if op == "ready":
                    e.agent_available(aid, now)
                else:
                    e.agent_pause(aid, "break", now)
            else:
                offered = [c.call_id for c in e.calls() if c.state is CallState.OFFERED]
                if offered:
                    cid = data.draw(st.sampled_from(offered))
                    e.offer_answered(cid, now)
                    e.call_ended(cid, now)
        except AcdError:
            pass  # a refused input (pausing an agent on a call...): nothing changed
        e.tick(now)
        for a in e.agents():
            assert e.pick_call(a.agent_id) == e.reference_pick_call(a.agent_id, now)
        for c in e.calls():
            if c.state in (CallState.WAITING, CallState.CALLBACK_WAITING):
                assert e.pick_agent(c.call_id, now) == e.reference_pick_agent(c.call_id, now)
        probe = NewCall("probe", data.draw(st.sampled_from(names)),
                        data.draw(st.sampled_from(TIERS)),
                        frozenset(data.draw(st.sets(st.sampled_from(SKILLS), max_size=3))),
                        required_agent=data.draw(st.one_of(
                            st.none(), st.sampled_from([f"a{i:02d}" for i in range(n_agents)]))))
        assert e.pick_agent(probe, now) == e.reference_pick_agent(probe, now)
