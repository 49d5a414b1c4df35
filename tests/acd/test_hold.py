"""acd/hold.py: the hold state of a connected ACD call; commands out, times in."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.errors import HoldConflict, StateConflict
from acd.hold import (
    TRANSITIONS,
    BridgeAgent,
    CallHold,
    HangupAgent,
    HoldState,
    RedirectAgent,
    SayGoodbye,
    StartMusic,
    StopMusic,
)

AGENT = "PJSIP/1001-0000000a"


def test_hold_then_resume_redirects_the_agent_plays_music_and_bridges_again() -> None:
    h = CallHold(AGENT)
    assert h.hold(10.0) == [RedirectAgent(AGENT)]
    assert h.state is HoldState.HOLD_REQUESTED and h.on_hold
    # The agent left the Dial's bridge: the caller's Dial returned; music, not the end.
    assert h.bridge_ended(10.2) == [StartMusic()]
    assert h.state is HoldState.HELD
    assert h.tick(11.0, agent_present=True) == []
    assert h.resume(40.0) == []  # the session acts at its next poll
    assert h.tick(40.1, agent_present=True) == [StopMusic(), BridgeAgent(AGENT)]
    assert h.state is HoldState.TALKING and not h.on_hold
    assert (h.holds, h.held_s) == (1, pytest.approx(30.1))
    # The Bridge ends when the conversation does: that is the call's end.
    assert h.bridge_ended(100.0, bridge_result="SUCCESS") == []
    assert h.ended


def test_a_second_hold_after_a_resume_counts_both() -> None:
    h = CallHold(AGENT)
    h.hold(0.0)
    h.bridge_ended(0.0)
    h.resume(5.0)
    h.tick(5.0, agent_present=True)
    assert h.hold(20.0) == [RedirectAgent(AGENT)]
    assert h.bridge_ended(20.0, bridge_result="SUCCESS") == [StartMusic()]
    assert h.held_for(26.0) == pytest.approx(11.0)
    h.resume(30.0)
    h.tick(30.0, agent_present=True)
    assert (h.holds, h.held_s) == (2, pytest.approx(15.0))


def test_agent_hanging_up_while_the_caller_is_held_ends_the_call_with_a_goodbye() -> None:
    h = CallHold(AGENT)
    h.hold(0.0)
    h.bridge_ended(0.1)
    assert h.tick(3.0, agent_present=False) == [StopMusic(), SayGoodbye()]
    assert h.ended and h.held_s == pytest.approx(3.0)
    assert h.caller_gone(4.0) == []  # already over: the agent is not hung up twice


def test_agent_gone_when_the_resume_bridge_runs() -> None:
    h = CallHold(AGENT)
    h.hold(0.0)
    h.bridge_ended(0.0)
    h.resume(1.0)
    assert h.tick(1.0, agent_present=True) == [StopMusic(), BridgeAgent(AGENT)]
    assert h.bridge_ended(1.1, bridge_result="NONEXISTENT") == [SayGoodbye()]
    assert h.ended


def test_caller_hanging_up_while_held_hangs_up_the_parked_agent() -> None:
    h = CallHold(AGENT)
    h.hold(0.0)
    h.bridge_ended(0.0)
    assert h.caller_gone(2.0) == [HangupAgent(AGENT)]
    assert h.ended


def test_caller_hanging_up_while_talking_leaves_the_agent_to_asterisk() -> None:
    h = CallHold(AGENT)
    assert h.caller_gone(2.0) == []
    assert h.ended


def test_unhold_before_the_redirect_took_effect_bridges_at_once() -> None:
    h = CallHold(AGENT)
    h.hold(0.0)
    h.resume(0.05)
    assert h.bridge_ended(0.1) == [BridgeAgent(AGENT)]  # no music to stop: none was started
    assert h.state is HoldState.TALKING


def test_server_stopping_gives_a_held_caller_back_to_the_agent() -> None:
    h = CallHold(AGENT)
    h.hold(0.0)
    h.bridge_ended(0.0)
    assert h.tick(1.0, agent_present=True, stopping=True) == [StopMusic(), BridgeAgent(AGENT)]


def test_without_a_hold_the_end_of_the_dial_is_the_end_of_the_call() -> None:
    h = CallHold(AGENT)
    assert h.bridge_ended(50.0) == []
    assert h.ended and h.holds == 0


@pytest.mark.parametrize(("setup", "request_", "message"), [
    ("held", "hold", "already on hold"),
    ("hold_requested", "hold", "already being put on hold"),
    ("talking", "resume", "not on hold"),
    ("ended", "hold", "over"),
    ("ended", "resume", "over"),
])
def test_refused_requests_raise_a_conflict_and_change_nothing(setup: str, request_: str,
                                                              message: str) -> None:
    h = CallHold(AGENT)
    if setup in ("held", "hold_requested"):
        h.hold(0.0)
    if setup == "held":
        h.bridge_ended(0.0)
    if setup == "ended":
        h.bridge_ended(0.0)
    before = (h.state, h.holds, h.held_s)
    with pytest.raises(HoldConflict, match=message) as err:
        (h.hold if request_ == "hold" else h.resume)(1.0)
    assert isinstance(err.value, StateConflict)  # the API's 409
    assert (h.state, h.holds, h.held_s) == before


def test_a_redirect_that_was_not_sent_undoes_the_hold() -> None:
    h = CallHold(AGENT)
    h.hold(0.0)
    assert h.hold_failed(0.5) == []
    assert (h.state, h.holds, h.held_s) == (HoldState.TALKING, 0, 0.0)


_INPUTS = ("hold", "hold_failed", "resume", "bridge_ok", "bridge_gone", "tick", "tick_gone",
           "tick_stop", "caller_gone")


@given(st.lists(st.sampled_from(_INPUTS), max_size=30))
def test_any_sequence_keeps_the_table_and_hangs_the_agent_up_at_most_once(
        inputs: list[str]) -> None:
    h = CallHold(AGENT)
    hangups = 0
    t = 0.0
    for name in inputs:
        t += 1.0
        before = h.state
        try:
            out = {
                "hold": lambda: h.hold(t),
                "hold_failed": lambda: h.hold_failed(t),
                "resume": lambda: h.resume(t),
                "bridge_ok": lambda: h.bridge_ended(t),
                "bridge_gone": lambda: h.bridge_ended(t, bridge_result="NONEXISTENT"),
                "tick": lambda: h.tick(t, agent_present=True),
                "tick_gone": lambda: h.tick(t, agent_present=False),
                "tick_stop": lambda: h.tick(t, agent_present=True, stopping=True),
                "caller_gone": lambda: h.caller_gone(t),
            }[name]()
        except HoldConflict:
            assert h.state is before  # refused: nothing changed
            continue
        assert h.state is before or (before, h.state) in {
            (a, TRANSITIONS[(a, e)]) for (a, e) in TRANSITIONS}
        hangups += sum(isinstance(c, HangupAgent) for c in out)
        assert 0.0 <= h.held_s <= t
        assert h.holds >= 0
    assert hangups <= 1
