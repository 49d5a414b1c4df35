"""Who gets which call: priorities, aging, skills, selection policies, VIP handling."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.model import TIERS, AgentState, NewCall, Offer
from config.acd import EscalationStep
from tests.acd.helpers import call, engine, login, of, queue


def offered(cmds: list) -> list[tuple[str, str]]:
    return [(o.call_id, o.agent_id) for o in of(cmds, Offer)]


def busy_then_free(e, agent_id: str, call_id: str, t: float) -> None:
    """Give `agent_id` a call and finish it at t (ends at t+1), leaving it in wrap-up."""
    e.offer_answered(call_id, t)
    e.call_ended(call_id, t + 1)


def test_call_arrival_offers_to_available_agent() -> None:
    e = engine()
    login(e, "a1", 0)
    cmds = call(e, "c1", 1)
    [o] = of(cmds, Offer)
    assert (o.call_id, o.agent_id, o.device, o.queue, o.ring_timeout_s) == (
        "c1", "a1", "PJSIP/a1", "support", 15.0)
    assert e.agent("a1").state is AgentState.RESERVED
    assert e.agent("a1").call_id == "c1"


def test_agent_available_gets_highest_priority_call() -> None:
    e = engine()
    call(e, "bronze-early", 0, tier="bronze")
    call(e, "gold-late", 50, tier="gold")
    call(e, "silver", 60, tier="silver")
    cmds = login(e, "a1", 100)
    assert offered(cmds) == [("gold-late", "a1")]


def test_aging_lets_old_low_tier_call_win() -> None:
    # aging 1/s: bronze at t=0 has 0 + 1000 at t=1000; gold at t=800 has 300 + 200 = 500.
    e = engine()
    call(e, "bronze", 0, tier="bronze")
    call(e, "gold", 800, tier="gold")
    assert offered(login(e, "a1", 1000)) == [("bronze", "a1")]


def test_equal_priority_served_in_arrival_order() -> None:
    e = engine()
    for i in range(3):
        call(e, f"c{i}", float(i))
    assert offered(login(e, "a1", 10)) == [("c0", "a1")]
    assert [c.call_id for c in e.waiting("support")] == ["c1", "c2"]
    assert e.position("c2") == 2


def test_skill_requirement_blocks_and_picks() -> None:
    e = engine(queue("support", skills=["support"]))
    login(e, "fr", 0, skills={"support": 3, "french": 1})
    login(e, "en", 0, skills={"support": 3})
    cmds = call(e, "c1", 1, skills=["french"])
    assert offered(cmds) == [("c1", "fr")]
    # Nobody left with "german": the call waits.
    assert offered(call(e, "c2", 2, skills=["german"])) == []
    assert e.call("c2").state.value == "waiting"


def test_multi_skill_call_needs_all_skills() -> None:
    e = engine(queue("support", skills=["support"]))
    login(e, "one", 0, skills={"support": 3, "french": 2})
    login(e, "both", 1, skills={"support": 2, "french": 2, "billing": 2})
    assert offered(call(e, "c1", 5, skills=["french", "billing"])) == [("c1", "both")]


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("longest_idle", "idle"),  # last call ended longest ago
        ("best_skill", "expert"),
        ("fewest_calls", "fresh"),  # no calls today
        ("round_robin", "expert"),  # rr pointer is at "busy", next id in order is "expert"
    ],
)
def test_selection_policies(selection: str, expected: str) -> None:
    e = engine(queue("support", selection=selection))
    # idle: level 2, call ended t=2. expert: level 5, call ended t=5. fresh: level 3, logged in
    # t=6, no calls. busy: takes x3, so round robin's pointer sits on it.
    login(e, "idle", 0, skills={"support": 2})
    call(e, "x1", 0)
    busy_then_free(e, "idle", "x1", 1)
    login(e, "expert", 3, skills={"support": 5})
    call(e, "x2", 3)
    busy_then_free(e, "expert", "x2", 4)
    login(e, "fresh", 6, skills={"support": 3})
    e.agent_pause("fresh", "break", 6.5)
    login(e, "busy", 7, skills={"support": 1})
    assert offered(call(e, "x3", 7)) == [("x3", "busy")]
    e.offer_answered("x3", 8)
    e.tick(20)  # wrap-ups (10 s) are over
    e.agent_available("fresh", 20)
    cmds = call(e, "target", 21)
    assert offered(cmds) == [("target", expected)]
    assert e.agent(expected).call_id == "target"


def test_round_robin_rotates() -> None:
    e = engine(queue("support", selection="round_robin", wrapup_s=0))
    for a in ("a", "b", "c"):
        login(e, a, 0)
    picks = []
    for i in range(5):
        [o] = of(call(e, f"c{i}", 1 + i), Offer)
        picks.append(o.agent_id)
        e.offer_answered(o.call_id, 1 + i)
        e.call_ended(o.call_id, 1 + i)
    assert picks == ["a", "b", "c", "a", "b"]


def test_vip_gets_highest_level_agent_first() -> None:
    e = engine(queue("support", selection="longest_idle"))
    login(e, "junior", 0, skills={"support": 1})  # idle longest
    login(e, "senior", 5, skills={"support": 4})
    assert offered(call(e, "vip", 10, tier="platinum")) == [("vip", "senior")]


def test_non_vip_uses_plain_policy() -> None:
    e = engine(queue("support", selection="longest_idle"))
    login(e, "junior", 0, skills={"support": 1})
    login(e, "senior", 5, skills={"support": 4})
    assert offered(call(e, "std", 10, tier="silver")) == [("std", "junior")]


def test_vip_first_can_be_switched_off() -> None:
    e = engine(queue("support", vip_tiers_best_agents_first=False))
    login(e, "junior", 0, skills={"support": 1})
    login(e, "senior", 5, skills={"support": 4})
    assert offered(call(e, "vip", 10, tier="gold")) == [("vip", "junior")]


def test_agent_serving_two_queues_takes_best_call_across_them() -> None:
    e = engine(queue("support"), queue("sales"))
    call(e, "support-bronze", 0, queue="support", tier="bronze")
    call(e, "sales-gold", 10, queue="sales", tier="gold")
    cmds = login(e, "a1", 20, queues=("support", "sales"), skills={"support": 3, "sales": 3})
    assert offered(cmds) == [("sales-gold", "a1")]


def test_agent_not_in_queue_never_offered() -> None:
    e = engine(queue("support"), queue("sales"))
    login(e, "a1", 0, queues=("sales",), skills={"sales": 5, "support": 5})
    assert offered(call(e, "c1", 1, queue="support")) == []


@pytest.mark.parametrize("selection", ["longest_idle", "best_skill", "fewest_calls", "round_robin"])
@pytest.mark.parametrize("tier", ["platinum", "bronze"])
@pytest.mark.parametrize("thr", [0, 2])
@pytest.mark.parametrize("skills", [(), ("support",), ("support", "french")])
def test_fast_pick_matches_reference(selection: str, tier: str, thr: int, skills: tuple) -> None:
    e = engine(queue("support", selection=selection,
                     escalation=[EscalationStep(after_s=0, min_skill_level=thr)]), queue("sales"))
    levels = [(1, 1), (2, 3), (3, 1), (4, 5), (5, 2), (2, 2), (3, 4), (5, 4), (5, 5)]
    for i, (s, f) in enumerate(levels):
        sk = {"support": s, "french": f} if i % 3 else {"support": s}
        login(e, f"a{i}", float(i), skills=sk)
    # Top skills, but not a member of the queue: must never be picked.
    login(e, "outsider", -1.0, queues=("sales",), skills={"support": 5, "french": 5, "sales": 5})
    # Give a few agents a call so fewest_calls / longest_idle / rr have something to chew on.
    for j in range(3):
        [o] = of(call(e, f"w{j}", 10.0 + j), Offer)
        e.offer_answered(o.call_id, 11.0 + j)
        e.call_ended(o.call_id, 12.0 + j)
    e.tick(100)
    from acd.model import NewCall
    nc = NewCall("probe", "support", tier, frozenset(skills))
    e.tick(101)
    ref = e.reference_pick_agent(nc, 101)
    assert e.pick_agent(nc, 101) == ref
    got = [o.agent_id for o in of(e.enqueue(nc, 101), Offer)]
    assert got == ([ref] if ref is not None else [])


def test_agent_freed_at_tick_takes_best_call_not_the_one_that_just_escalated() -> None:
    # At t=30 two things happen at once: a1's wrap-up ends, and "low" (bronze) escalates to a
    # level a1 has. "high" (gold, waiting all along in vip) must still go first.
    e = engine(
        queue("support", skills=["support"], wrapup_s=25,
              escalation=[EscalationStep(after_s=0, min_skill_level=4),
                          EscalationStep(after_s=30, min_skill_level=1)]),
        queue("vip", skills=["support"]),
    )
    login(e, "a1", 0, queues=("support", "vip"), skills={"support": 2})
    call(e, "warm", 0, queue="vip")
    e.offer_answered("warm", 1)
    e.call_ended("warm", 5)  # wrap-up until 30
    call(e, "low", 0, tier="bronze")
    call(e, "high", 10, queue="vip", tier="gold")
    assert offered(e.tick(30)) == [("high", "a1")]


@settings(max_examples=60, deadline=None)
@given(
    calls=st.lists(
        st.tuples(st.sampled_from(["support", "sales"]), st.sampled_from(list(TIERS)),
                  st.sets(st.sampled_from(["support", "sales", "french"]), max_size=2),
                  st.integers(0, 100)),
        max_size=25),
    levels=st.lists(st.integers(0, 5), min_size=3, max_size=3),
    queues=st.sets(st.sampled_from(["support", "sales"]), min_size=1),
    now=st.integers(100, 200),
)
def test_agent_available_pick_matches_reference(calls, levels, queues, now) -> None:
    steps = [EscalationStep(after_s=0, min_skill_level=4),
             EscalationStep(after_s=60, min_skill_level=2),
             EscalationStep(after_s=150, min_skill_level=0)]
    e = engine(queue("support", escalation=steps), queue("sales", escalation=steps[:2]))
    for i, (q, tier, skills, t) in enumerate(sorted(calls, key=lambda c: c[3])):
        call(e, f"c{i}", float(t), queue=q, tier=tier, skills=skills)
    skills = {s: lvl for s, lvl in zip(["support", "sales", "french"], levels) if lvl}
    login(e, "a1", float(now), queues=queues, skills=skills, pause="break")
    ref = e.reference_pick_call("a1", float(now))
    assert e.pick_call("a1") == ref
    got = [o.call_id for o in of(e.agent_available("a1", float(now)), Offer)]
    assert got == ([ref] if ref is not None else [])


@settings(max_examples=400, deadline=None)
@given(
    selection=st.sampled_from(["longest_idle", "best_skill", "fewest_calls", "round_robin"]),
    thr=st.integers(0, 5),
    agents=st.lists(
        st.tuples(st.lists(st.integers(0, 5), min_size=3, max_size=3), st.integers(0, 50),
                  st.booleans()),
        min_size=1, max_size=12),
    warmups=st.integers(0, 4),
    tier=st.sampled_from(list(TIERS)),
    skills=st.sets(st.sampled_from(["support", "french", "billing"]), max_size=3),
)
def test_agent_pick_matches_reference_on_random_populations(
    selection, thr, agents, warmups, tier, skills
) -> None:
    e = engine(queue("support", selection=selection, wrapup_s=0,
                     escalation=[EscalationStep(after_s=0, min_skill_level=thr)]))
    for i, (levels, t, busy) in enumerate(agents):
        sk = {s: lvl for s, lvl in zip(["support", "french", "billing"], levels) if lvl}
        login(e, f"a{i:02d}", float(t), skills=sk, pause="break" if busy else None)
    # Warm-up calls move the round-robin pointer and the calls-today / idle clocks.
    for j in range(warmups):
        offers = of(call(e, f"w{j}", 60.0 + j), Offer)
        if not offers:
            e.abandon(f"w{j}", 60.0 + j)
            continue
        e.offer_answered(offers[0].call_id, 60.5 + j)
        e.call_ended(offers[0].call_id, 61.0 + j)
    e.tick(100)
    nc = NewCall("probe", "support", tier, frozenset(skills))
    ref = e.reference_pick_agent(nc, 100)
    assert e.pick_agent(nc, 100) == ref
    assert [o.agent_id for o in of(e.enqueue(nc, 100), Offer)] == ([ref] if ref else [])


def test_positions_stay_exact_through_many_arrivals_and_departures() -> None:
    # Positions are kept lazily (changes are noted, applied when asked): exercise the one-by-one
    # path, the bulk rebuild, and the automatic apply when too many changes pile up.
    rng = random.Random(5)
    e = engine(queue("support"))
    tiers = ["platinum", "gold", "silver", "bronze", "unknown"]
    live: list[str] = []
    t = 0.0
    for i in range(900):
        t += 0.5
        if live and rng.random() < 0.35:
            e.abandon(live.pop(rng.randrange(len(live))), t)
        else:
            call(e, f"c{i}", t, tier=rng.choice(tiers))
            live.append(f"c{i}")
        if i % 97 == 0 or i > 880:
            order = [c.call_id for c in e.waiting("support")]
            assert sorted(order) == sorted(live)
            assert [e.position(cid) for cid in order] == list(range(1, len(order) + 1))
