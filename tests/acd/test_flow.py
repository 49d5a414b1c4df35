"""Time-driven behaviour and the call lifecycle: escalation, overflow, RONA, callbacks, wrap-up,
device state, abandon, announcements, and refusals that change nothing."""

from __future__ import annotations

import pytest

from acd.errors import (
    DuplicateCall,
    IllegalTransition,
    InvalidRequest,
    UnknownAgent,
    UnknownCall,
    UnknownQueue,
)
from acd.model import (
    AgentState,
    AgentStateChanged,
    Announce,
    CallRemoved,
    CallState,
    DeviceState,
    NewCall,
    Offer,
    OfferCallback,
    OfferRetracted,
    Overflowed,
    PlaceCallback,
)
from config.acd import EscalationStep
from tests.acd.helpers import call, engine, login, of, queue

STEPS = [
    EscalationStep(after_s=0, min_skill_level=4),
    EscalationStep(after_s=30, min_skill_level=2),
    EscalationStep(after_s=60, min_skill_level=0),
]


def test_escalation_lowers_requirement_exactly_on_time() -> None:
    e = engine(queue("support", escalation=STEPS))
    login(e, "l3", 0, skills={"support": 3})
    login(e, "none", 0, skills={"sales": 5})
    call(e, "c1", 100)
    assert e.call("c1").min_skill_level == 4
    assert of(e.tick(129.999), Offer) == []
    [o] = of(e.tick(130.0), Offer)
    assert o.agent_id == "l3"
    assert e.call("c1").min_skill_level == 2


def test_last_step_opens_to_any_agent_of_queue() -> None:
    e = engine(queue("support", escalation=STEPS))
    login(e, "none", 0, skills={"sales": 5})
    call(e, "c1", 0)
    assert of(e.tick(59), Offer) == []
    [o] = of(e.tick(60), Offer)
    assert o.agent_id == "none"


def test_escalation_applies_even_if_tick_is_late() -> None:
    # Any input catches up with time: no tick between, the enqueue at t=75 still sees c1 at
    # level 0 and serves it before the newcomer.
    e = engine(queue("support", escalation=STEPS))
    call(e, "c1", 0)
    login(e, "a1", 75, skills={"support": 1})
    assert e.agent("a1").call_id == "c1"


def test_caller_keeps_place_across_steps() -> None:
    e = engine(queue("support", escalation=STEPS))
    call(e, "first", 0)
    call(e, "second", 10)
    e.tick(35)  # first at level 2, second still at 4
    assert e.call("first").min_skill_level == 2 and e.call("second").min_skill_level == 4
    [o] = of(login(e, "a5", 36, skills={"support": 5}), Offer)
    assert o.call_id == "first"


def test_max_wait_overflows_keeping_enqueue_time_and_priority() -> None:
    e = engine(queue("support", max_wait_s=120, overflow_to="backup"), queue("backup"))
    call(e, "c1", 0, tier="gold")
    call(e, "b1", 50, queue="backup", tier="gold")
    cmds = e.tick(120)
    assert of(cmds, Overflowed) == [Overflowed("c1", "support", "backup")]
    snap = e.call("c1")
    assert (snap.queue, snap.enqueued_at, snap.queue_since) == ("backup", 0.0, 120.0)
    # Same tier, earlier original enqueue: c1 goes before b1 in the new queue.
    assert [c.call_id for c in e.waiting("backup")] == ["c1", "b1"]
    report = {r.queue: r for r in e.report(121, 0)}
    assert report["support"].today.overflowed_out == 1
    assert report["backup"].today.entered == 2


def test_max_wait_without_overflow_offers_callback_once() -> None:
    e = engine(queue("support", max_wait_s=100))
    call(e, "c1", 0)
    assert of(e.tick(99), OfferCallback) == []
    assert of(e.tick(100), OfferCallback) == [OfferCallback("c1", "support")]
    assert of(e.tick(500), OfferCallback) == []
    assert e.call("c1").state is CallState.WAITING  # still waiting until they accept or hang up


def test_escalation_overflow_and_callback_actions() -> None:
    e = engine(
        queue("support", escalation=[EscalationStep(after_s=0, min_skill_level=1),
                                     EscalationStep(after_s=20, action="callback"),
                                     EscalationStep(after_s=40, action="overflow",
                                                    target="sales")]),
        queue("sales"),
    )
    call(e, "c1", 0)
    assert of(e.tick(20), OfferCallback) == [OfferCallback("c1", "support")]
    assert of(e.tick(40), Overflowed) == [Overflowed("c1", "support", "sales")]


def test_overflow_loop_between_queues_ends_in_callback_offer() -> None:
    e = engine(queue("a", max_wait_s=10, overflow_to="b"), queue("b", max_wait_s=10,
                                                                  overflow_to="a"))
    call(e, "c1", 0, queue="a")
    assert of(e.tick(10), Overflowed) == [Overflowed("c1", "a", "b")]
    cmds = e.tick(20)
    assert of(cmds, Overflowed) == [] and of(cmds, OfferCallback) == [OfferCallback("c1", "b")]


def test_ring_no_answer_pauses_agent_and_requeues_at_head() -> None:
    e = engine()
    login(e, "a1", 0)
    call(e, "c1", 1, tier="bronze")
    call(e, "c2", 2, tier="bronze")
    cmds = e.offer_failed("c1", "no-answer", 20)
    a = e.agent("a1")
    assert (a.state, a.pause_reason) == (AgentState.PAUSED, "missed-call")
    assert of(cmds, AgentStateChanged)[-1].new is AgentState.PAUSED
    assert [c.call_id for c in e.waiting("support")] == ["c1", "c2"]
    assert e.call("c1").enqueued_at == 1.0
    [o] = of(login(e, "a2", 21), Offer)
    assert o.call_id == "c1"


def test_ring_no_answer_goes_to_next_agent_now() -> None:
    e = engine()
    login(e, "a1", 0)
    call(e, "c1", 1)
    login(e, "a2", 2)
    [o] = of(e.offer_failed("c1", "no-answer", 16), Offer)
    assert (o.call_id, o.agent_id) == ("c1", "a2")


def test_callback_keeps_place_and_places_callback_when_due() -> None:
    e = engine()
    call(e, "c1", 0)
    call(e, "c2", 5)
    call(e, "c3", 10)
    e.request_callback("c2", "+15551230000", 20)
    assert [c.call_id for c in e.waiting("support")] == ["c1", "c2", "c3"]
    assert e.call("c2").state is CallState.CALLBACK_WAITING
    login(e, "a1", 30)
    e.offer_answered("c1", 31)
    e.call_ended("c1", 40)
    cmds = e.agent_end_wrapup("a1", 41)
    assert of(cmds, PlaceCallback) == [
        PlaceCallback("c2", "a1", "PJSIP/a1", "support", "+15551230000")]
    assert e.agent("a1").state is AgentState.RESERVED
    e.offer_answered("c2", 50)
    [r] = of(e.call_ended("c2", 60), CallRemoved)
    assert (r.reason, r.waited_s) == ("completed", 45.0)


def test_callback_customer_not_answering_frees_agent() -> None:
    e = engine()
    call(e, "c1", 0)
    e.request_callback("c1", "5551230000", 1)
    login(e, "a1", 2)
    cmds = e.abandon("c1", 30)
    assert of(cmds, OfferRetracted) == [OfferRetracted("c1", "a1", "PJSIP/a1")]
    assert e.agent("a1").state is AgentState.AVAILABLE


@pytest.mark.parametrize("number", ["", "12", "555\r\nAction: Originate", "555&PJSIP/9", "abc"])
def test_bad_callback_number_refused(number: str) -> None:
    e = engine()
    call(e, "c1", 0)
    with pytest.raises(InvalidRequest):
        e.request_callback("c1", number, 1)
    assert e.call("c1").state is CallState.WAITING


def test_abandon_while_waiting_and_while_ringing() -> None:
    e = engine()
    call(e, "c1", 0)
    [r] = of(e.abandon("c1", 7), CallRemoved)
    assert (r.reason, r.waited_s, r.agent_id) == ("abandoned", 7.0, None)
    with pytest.raises(UnknownCall):
        e.call("c1")
    login(e, "a1", 10)
    call(e, "c2", 11)
    cmds = e.abandon("c2", 14)
    assert of(cmds, OfferRetracted) == [OfferRetracted("c2", "a1", "PJSIP/a1")]
    assert e.agent("a1").state is AgentState.AVAILABLE
    [today] = [r for r in e.report(20, 0) if r.queue == "support"]
    assert today.today.abandoned == 2 and today.today.avg_time_to_abandon_s == 5.0


def test_wrapup_ends_at_tick_after_queue_wrapup_time() -> None:
    e = engine(queue("support", wrapup_s=25))
    login(e, "a1", 0)
    call(e, "c1", 0)
    e.offer_answered("c1", 1)
    e.call_ended("c1", 10)
    assert e.agent("a1").state is AgentState.WRAP_UP
    e.tick(34.9)
    assert e.agent("a1").state is AgentState.WRAP_UP
    e.tick(35)
    assert e.agent("a1").state is AgentState.AVAILABLE


def test_wrapup_ended_by_request_and_next_call_offered() -> None:
    e = engine(queue("support", wrapup_s=60))
    login(e, "a1", 0)
    call(e, "c1", 0)
    call(e, "c2", 1)
    e.offer_answered("c1", 1)
    e.call_ended("c1", 10)
    [o] = of(e.agent_end_wrapup("a1", 12), Offer)
    assert o.call_id == "c2"
    # The stale wrap-up timer must not touch the agent later.
    e.offer_answered("c2", 13)
    e.tick(100)
    assert e.agent("a1").state is AgentState.ON_CALL


def test_one_call_at_a_time() -> None:
    e = engine()
    login(e, "a1", 0)
    call(e, "c1", 0)
    assert of(call(e, "c2", 1), Offer) == []
    e.offer_answered("c1", 2)
    assert of(call(e, "c3", 3), Offer) == []
    assert e.agent("a1").call_id == "c1"


def test_unregistered_device_not_routable_until_back() -> None:
    e = engine()
    login(e, "a1", 0)
    e.device_state("PJSIP/a1", "UNAVAILABLE", 1)
    assert e.agent("a1").routable is False
    assert of(call(e, "c1", 2), Offer) == []
    [o] = of(e.device_state("PJSIP/a1", "NOT_INUSE", 3), Offer)
    assert (o.call_id, o.agent_id) == ("c1", "a1")


def test_device_state_known_before_login_is_respected() -> None:
    e = engine()
    e.device_state("PJSIP/a1", DeviceState.UNAVAILABLE, 0)
    login(e, "a1", 1)
    assert of(call(e, "c1", 2), Offer) == []


def test_set_skills_can_make_agent_eligible() -> None:
    e = engine()
    login(e, "a1", 0, skills={"support": 1})
    call(e, "c1", 1, skills=["french"])
    [o] = of(e.agent_set_skills("a1", {"support": 1, "french": 2}, 2), Offer)
    assert o.call_id == "c1"


def test_announcements_every_interval_with_position() -> None:
    e = engine(queue("support", announce_every_s=30))
    login(e, "a1", 0, pause="break")
    call(e, "c1", 0)
    call(e, "c2", 10)
    assert [(a.call_id, a.position) for a in of(e.tick(30), Announce)] == [("c1", 1)]
    assert [(a.call_id, a.position) for a in of(e.tick(40), Announce)] == [("c2", 2)]
    anns = of(e.tick(60), Announce)
    assert [(a.call_id, a.position) for a in anns] == [("c1", 1)]
    # No handled calls yet: default AHT 180 s; one staffed agent? paused agents are not staffed.
    assert anns[0].estimated_wait_s == 180.0


def test_logout_and_pause_rules() -> None:
    e = engine()
    login(e, "a1", 0)
    call(e, "c1", 1)
    with pytest.raises(IllegalTransition):
        e.agent_logout("a1", 2)  # reserved
    with pytest.raises(IllegalTransition):
        e.agent_pause("a1", "break", 2)
    assert e.agent("a1").state is AgentState.RESERVED
    with pytest.raises(InvalidRequest):
        e.agent_pause("a1", "coffee", 3)


def test_refused_inputs_change_nothing() -> None:
    e = engine()
    login(e, "a1", 0)
    call(e, "c1", 1)
    before = (e.agents(), e.calls())
    with pytest.raises(DuplicateCall):
        call(e, "c1", 2)
    with pytest.raises(UnknownQueue):
        e.enqueue(NewCall("c9", "nope"), 2)
    with pytest.raises(InvalidRequest):
        e.enqueue(NewCall("c9", "support", "diamond"), 2)
    with pytest.raises(UnknownAgent):
        e.agent_available("ghost", 2)
    with pytest.raises(InvalidRequest):
        e.call_ended("c1", 2)  # offered, not connected
    with pytest.raises(InvalidRequest):
        login(e, "a1", 2)  # already logged in
    with pytest.raises(InvalidRequest):
        login(e, "a2", 2, queues=("support",), skills={"support": 9})
    assert (e.agents(), e.calls()) == before


def test_commands_from_catching_up_survive_a_refused_input() -> None:
    e = engine(queue("support", wrapup_s=10))
    login(e, "a1", 0)
    call(e, "c1", 0)
    e.offer_answered("c1", 1)
    e.call_ended("c1", 2)  # wrap-up until 12
    call(e, "c2", 3)
    # Logout is legal in wrap-up, but catching up to t=12 ends the wrap-up and reserves the agent
    # for c2: the logout is refused, and the offer it produced is not lost.
    with pytest.raises(IllegalTransition):
        e.agent_logout("a1", 12)
    [o] = of(e.tick(12), Offer)
    assert (o.call_id, o.agent_id) == ("c2", "a1")


def test_ring_no_answer_on_callback_keeps_it_a_callback() -> None:
    e = engine()
    call(e, "c1", 0)
    e.request_callback("c1", "5551230000", 1)
    login(e, "a1", 2)
    e.offer_failed("c1", "no-answer", 20)
    assert e.call("c1").state is CallState.CALLBACK_WAITING
    [p] = of(login(e, "a2", 21), PlaceCallback)
    assert (p.call_id, p.agent_id, p.number) == ("c1", "a2", "5551230000")


def test_late_catch_up_acts_at_due_times() -> None:
    # No tick between 0 and 500: the overflow happened at 100 (not 500), so the call is already
    # past backup's 60 s escalation step; announcements are not replayed per missed slot. The
    # call had no skills of its own, so it now needs backup's.
    e = engine(
        queue("support", max_wait_s=100, overflow_to="backup", announce_every_s=30),
        queue("backup", escalation=[EscalationStep(after_s=0, min_skill_level=5),
                                    EscalationStep(after_s=60, min_skill_level=1)],
              announce_every_s=30),
    )
    call(e, "c1", 0)
    cmds = e.tick(500)
    assert of(cmds, Overflowed) == [Overflowed("c1", "support", "backup")]
    snap = e.call("c1")
    assert (snap.queue_since, snap.min_skill_level, snap.skills) == (100.0, 1, {"backup"})
    assert len(of(cmds, Announce)) <= 2  # one per queue at most, not one per missed slot
    [o] = of(login(e, "a1", 501, queues=("backup",), skills={"backup": 1}), Offer)
    assert o.call_id == "c1"


def test_time_never_runs_backwards() -> None:
    e = engine()
    e.tick(100)
    call(e, "c1", 90)  # a late-delivered event: treated as happening at 100
    assert e.call("c1").enqueued_at == 100.0


def test_callback_request_refused_if_catching_up_routed_the_call() -> None:
    e = engine(queue("support", wrapup_s=10))
    login(e, "a1", 0)
    call(e, "c0", 0)
    e.offer_answered("c0", 1)
    e.call_ended("c0", 2)  # wrap-up ends at 12
    call(e, "c1", 3)
    with pytest.raises(InvalidRequest):
        e.request_callback("c1", "5551230000", 12)
    assert e.call("c1").state is CallState.OFFERED
    assert [o.call_id for o in of(e.tick(12), Offer)] == ["c1"]
