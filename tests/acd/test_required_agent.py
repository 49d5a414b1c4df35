"""Calls for one agent (NewCall.required_agent: agent-owned callbacks): offered to that agent
only, before their other work, while the grace lasts; then to the queue like any call."""

from __future__ import annotations

import math

import pytest

from acd.engine import AcdEngine
from acd.errors import InvalidRequest
from acd.model import (
    AgentState,
    CallState,
    DeviceState,
    NewCall,
    Offer,
    PlaceCallback,
)
from config.acd import EscalationStep
from tests.acd.helpers import call, engine, login, of, queue

GRACE = 600.0


def owned(e: AcdEngine, call_id: str, agent: str, now: float, *, grace: float | None = None,
          tier: str = "unknown", queue: str = "support") -> list[object]:
    return list(e.enqueue(NewCall(call_id, queue, tier, required_agent=agent,
                                  required_grace_s=grace), now))


def offers(cmds: list[object]) -> list[tuple[str, str]]:
    return [(c.call_id, c.agent_id) for c in cmds if isinstance(c, Offer | PlaceCallback)]


def test_goes_to_its_agent_although_another_has_been_idle_longer() -> None:
    e = engine(queue("support"))
    login(e, "a1", 0)  # idle since 0: longest_idle would pick a1 for any call
    login(e, "a2", 5)
    assert offers(owned(e, "c1", "a2", 10)) == [("c1", "a2")]
    assert e.call("c1").required_agent == "a2"
    assert e.agent("a1").state is AgentState.AVAILABLE


def test_never_offered_to_a_free_agent_while_its_agent_is_busy() -> None:
    e = engine(queue("support", wrapup_s=30))
    login(e, "owner", 0)
    login(e, "other", 0)
    call(e, "first", 1)  # to owner or other: make the owner the one busy
    busy = e.call("first").agent_id
    free = "other" if busy == "owner" else "owner"
    cmds = owned(e, "cb", busy, 2)
    assert offers(cmds) == []
    assert e.agent(free).state is AgentState.AVAILABLE
    assert e.call("cb").state is CallState.WAITING
    for t in (10.0, 100.0, GRACE):  # nothing happens to it until the grace is over
        assert offers(list(e.tick(t))) == []
    assert e.pick_call(free) is None and e.pick_agent("cb", GRACE) == e.reference_pick_agent(
        "cb", GRACE) is None


def test_comes_before_the_agents_other_work_whatever_the_priorities() -> None:
    e = engine(queue("support", wrapup_s=0))
    login(e, "a1", 0)
    call(e, "talk", 1)
    e.offer_answered("talk", 2)
    owned(e, "mine", "a1", 3, tier="unknown")
    call(e, "vip", 4, tier="platinum")  # far higher priority, waiting longer... for the queue
    assert e.pick_call("a1") == e.reference_pick_call("a1", 4) == "mine"
    cmds = e.call_ended("talk", 5)
    assert offers(list(cmds)) == [("mine", "a1")]
    assert e.call("vip").state is CallState.WAITING


def test_waits_out_wrap_up_and_pause() -> None:
    e = engine(queue("support", wrapup_s=20))
    login(e, "a1", 0)
    call(e, "talk", 1)
    e.offer_answered("talk", 1)
    e.call_ended("talk", 2)  # wrap-up until 22
    assert offers(owned(e, "cb", "a1", 3)) == []
    e.agent_pause("a1", "break", 10)  # wrap-up -> paused
    assert offers(list(e.tick(30))) == []
    assert offers(list(e.agent_available("a1", 40))) == [("cb", "a1")]


def test_unreachable_phone_counts_as_not_free() -> None:
    e = engine(queue("support"))
    login(e, "a1", 0)
    e.device_state("PJSIP/a1", DeviceState.UNAVAILABLE, 1)
    assert offers(owned(e, "cb", "a1", 2)) == []
    assert offers(list(e.device_state("PJSIP/a1", DeviceState.NOT_INUSE, 3))) == [("cb", "a1")]


def test_after_the_grace_it_joins_its_queue_and_anyone_takes_it() -> None:
    e = engine(queue("support", max_wait_s=300, escalation=[
        EscalationStep(after_s=0, min_skill_level=3),
        EscalationStep(after_s=60, min_skill_level=0)]))
    login(e, "owner", 0, pause="break")
    login(e, "junior", 0, skills={"support": 1})  # below level 3: only after 60 s in queue
    owned(e, "cb", "owner", 10, grace=100)
    assert offers(list(e.tick(109.9))) == []
    cmds = list(e.tick(110))
    assert offers(cmds) == []  # in the queue now, at level 3 from 110 on: not junior yet
    snap = e.call("cb")
    assert snap.required_agent is None and snap.queue_since == 110 and snap.enqueued_at == 10
    assert [c.call_id for c in e.waiting("support")] == ["cb"] and e.position("cb") == 1
    assert offers(list(e.tick(169.9))) == []
    assert offers(list(e.tick(170))) == [("cb", "junior")]


def test_agent_not_logged_in_gets_it_if_they_log_in_within_the_grace() -> None:
    e = engine(queue("support"))
    login(e, "other", 0)
    assert offers(owned(e, "early", "late", 1)) == []
    assert offers(owned(e, "never", "absent", 1, grace=30)) == []
    assert offers(list(login(e, "late", 20))) == [("early", "late")]
    assert offers(list(e.tick(31))) == [("never", "other")]


def test_owner_missing_the_offer_keeps_it_for_the_rest_of_the_grace() -> None:
    e = engine(queue("support"))
    login(e, "owner", 0)
    login(e, "other", 0)
    assert offers(owned(e, "cb", "owner", 1, grace=50)) == [("cb", "owner")]
    e.offer_failed("cb", "no_answer", 16)  # ring-no-answer: owner paused "missed-call"
    assert e.agent("owner").state is AgentState.PAUSED
    assert e.call("cb").state is CallState.WAITING and e.agent("other").call_id is None
    assert offers(list(e.agent_available("owner", 20))) == [("cb", "owner")]
    e.offer_failed("cb", "no_answer", 60)  # past the grace now: the queue's
    assert e.call("cb").agent_id == "other"


def test_reserved_callback_is_placed_by_its_agent() -> None:
    e = engine(queue("support"))
    login(e, "a1", 0, pause="break")
    login(e, "a2", 0)
    owned(e, "cb", "a1", 1)
    e.request_callback("cb", "+12125550100", 2)  # the caller left the line: an ACD callback
    cmds = list(e.agent_available("a1", 3))
    [place] = of(cmds, PlaceCallback)
    assert (place.agent_id, place.number) == ("a1", "+12125550100")


def test_owner_needs_neither_the_queue_nor_its_skills() -> None:
    e = engine(queue("support"), queue("sales"))
    login(e, "a1", 0, queues=("sales",), skills={"sales": 1})
    assert offers(owned(e, "cb", "a1", 1, queue="support")) == [("cb", "a1")]


def test_round_robin_pointer_ignores_reserved_offers() -> None:
    e = engine(queue("support", selection="round_robin"))
    for a in ("a1", "a2", "a3"):
        login(e, a, 0)
    call(e, "c1", 1)
    assert e.call("c1").agent_id == "a1"
    owned(e, "cb", "a3", 2)
    call(e, "c2", 3)
    assert e.call("c2").agent_id == "a2"  # after a1, the queue's last pick; not after a3


def test_several_reserved_calls_go_in_priority_order() -> None:
    e = engine(queue("support", wrapup_s=0))
    login(e, "a1", 0, pause="break")
    owned(e, "low", "a1", 1, tier="bronze")
    owned(e, "high", "a1", 2, tier="gold")
    assert offers(list(e.agent_available("a1", 3))) == [("high", "a1")]
    e.offer_answered("high", 4)
    assert offers(list(e.call_ended("high", 5))) == [("low", "a1")]


def test_zero_grace_is_an_ordinary_call_and_the_default_is_the_config() -> None:
    e = engine(queue("support"), owner_grace_s=42)
    login(e, "other", 0)
    assert offers(owned(e, "now", "absent", 1, grace=0)) == [("now", "other")]
    owned(e, "later", "absent", 2)
    assert e.call("later").required_until == 44


@pytest.mark.parametrize(("agent", "grace"), [
    ("", None), (" a1", None), ("a1\n", None), ("a1", -1.0), ("a1", math.nan), ("a1", math.inf),
    ("a1", 86_401.0),
])
def test_bad_requests_are_refused_and_change_nothing(agent: str, grace: float | None) -> None:
    e = engine(queue("support"))
    login(e, "a1", 0, pause="break")
    before = (e.agents(), e.calls())
    with pytest.raises(InvalidRequest):
        owned(e, "cb", agent, 1, grace=grace)
    with pytest.raises(InvalidRequest):
        e.pick_agent(NewCall("cb", "support", required_agent=agent, required_grace_s=grace), 1)
    assert (e.agents(), e.calls()) == before


def test_position_and_line_leave_reserved_calls_out() -> None:
    e = engine(queue("support"))
    owned(e, "cb", "a1", 1)
    call(e, "c1", 2)
    assert [c.call_id for c in e.waiting("support")] == ["c1"]
    assert e.position("c1") == 1
    with pytest.raises(InvalidRequest, match="waits for agent a1"):
        e.position("cb")


def test_precedence_holds_when_agent_and_calls_change_at_once() -> None:
    # At 41 the agent's wrap-up ends and the VIP call's threshold drops to the agent's level,
    # together: the general matching (several changes at once) must still give the agent the
    # call reserved for them first, though the VIP call ranks higher.
    e = engine(queue("support", wrapup_s=20, escalation=[
        EscalationStep(after_s=0, min_skill_level=3),
        EscalationStep(after_s=20, min_skill_level=1)]))
    login(e, "a1", 0, skills={"support": 1})
    call(e, "talk", 0)  # level 3 needed: a1 (level 1) cannot take it yet...
    assert e.call("talk").state is CallState.WAITING
    e.tick(20)  # ...until 20
    e.offer_answered("talk", 20)
    e.call_ended("talk", 21)  # wrap-up until 41
    call(e, "vip", 21, tier="platinum")  # level 1 from 41 on
    owned(e, "mine", "a1", 22, tier="bronze")
    assert e.call("vip").state is CallState.WAITING
    cmds = list(e.tick(41))
    assert offers(cmds) == [("mine", "a1")]
    assert e.call("vip").state is CallState.WAITING


def test_scheduled_callback_waits_as_a_callback_and_is_placed_by_its_agent() -> None:
    e = engine(queue("support"))
    login(e, "a2", 0)
    cmds = list(e.enqueue_callback(NewCall("cb", "support", number="+12125550100",
                                           required_agent="a1"), 1))
    assert offers(cmds) == [] and e.call("cb").state is CallState.CALLBACK_WAITING
    [place] = of(list(login(e, "a1", 2)), PlaceCallback)
    assert (place.call_id, place.agent_id, place.number) == ("cb", "a1", "+12125550100")
    e.offer_failed("cb", "no_answer", 20)  # the agent's phone: back to waiting as a callback
    assert e.call("cb").state is CallState.CALLBACK_WAITING
    [anyone] = of(list(e.enqueue_callback(NewCall("any", "support", number="+12125550101"), 21)),
                  PlaceCallback)
    assert anyone.agent_id == "a2"


@pytest.mark.parametrize("number", ["", "12", "+1 212 555", "+12125550100\r\n",
                                    "+12125550100\n", "abc"])
def test_scheduled_callback_needs_a_number(number: str) -> None:
    e = engine(queue("support"))
    with pytest.raises(InvalidRequest, match="is not a number"):
        e.enqueue_callback(NewCall("cb", "support", number=number), 1)
    assert e.calls() == ()


def test_a_callback_number_with_a_trailing_newline_is_refused() -> None:
    e = engine(queue("support"))
    call(e, "c1", 0)
    with pytest.raises(InvalidRequest, match="is not a number"):
        e.request_callback("c1", "+12125550100\n", 1)
    assert e.call("c1").state is CallState.WAITING
