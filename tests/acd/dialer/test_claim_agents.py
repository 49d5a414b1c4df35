"""Who the dialer's pacing counts as free is who a claim takes (acd/claims.py `can_hold`, asked
by the engine's claims and by acd/dialer/blend.py's `pacing_agents`): an agent of the queue
without its skills is neither."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.dialer.blend import pacing_agents
from acd.engine import AcdEngine
from acd.model import AgentLogin, NewCall
from config.acd import AcdSettings, EscalationStep, QueueSettings

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
