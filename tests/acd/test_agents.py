"""The agent state machine: every (state, event) pair, allowed or not."""

from __future__ import annotations

import copy

import pytest

from acd.agents import TRANSITIONS, Agent, AgentEvent, validate_skills
from acd.errors import IllegalTransition, InvalidSkills
from acd.model import AgentState

S, E = AgentState, AgentEvent

# The spec, written out independently of acd.agents.TRANSITIONS.
EXPECTED = {
    (S.LOGGED_OUT, E.LOGIN): S.AVAILABLE,
    (S.LOGGED_OUT, E.LOGIN_PAUSED): S.PAUSED,
    (S.AVAILABLE, E.RESERVE): S.RESERVED,
    (S.AVAILABLE, E.PAUSE): S.PAUSED,
    (S.AVAILABLE, E.LOGOUT): S.LOGGED_OUT,
    (S.RESERVED, E.ANSWER): S.ON_CALL,
    (S.RESERVED, E.NO_ANSWER): S.PAUSED,
    (S.RESERVED, E.RETRACT): S.AVAILABLE,
    (S.ON_CALL, E.HANGUP): S.WRAP_UP,
    (S.WRAP_UP, E.END_WRAPUP): S.AVAILABLE,
    (S.WRAP_UP, E.PAUSE): S.PAUSED,
    (S.WRAP_UP, E.LOGOUT): S.LOGGED_OUT,
    (S.PAUSED, E.PAUSE): S.PAUSED,
    (S.PAUSED, E.READY): S.AVAILABLE,
    (S.PAUSED, E.LOGOUT): S.LOGGED_OUT,
}
ALL_PAIRS = [(s, e) for s in S for e in E]


def make(state: AgentState) -> Agent:
    a = Agent("a1", "PJSIP/1001", frozenset({"support"}), {"support": 3}, state=state,
              state_since=10.0, pause_reason="break" if state is S.PAUSED else None)
    a.calls_today = 2
    a.last_call_end = 5.0
    return a


def test_table_is_the_spec() -> None:
    assert dict(TRANSITIONS) == EXPECTED


@pytest.mark.parametrize(("state", "event"), [p for p in ALL_PAIRS if p in EXPECTED])
def test_allowed_transition(state: AgentState, event: AgentEvent) -> None:
    a = make(state)
    old = a.apply(event, 25.0, "lunch")
    assert old is state
    assert a.state is EXPECTED[(state, event)]
    assert a.state_since == 25.0
    assert a.time_in_state[state] == 15.0
    if a.state is S.PAUSED:
        assert a.pause_reason == ("missed-call" if event is E.NO_ANSWER else "lunch")
    else:
        assert a.pause_reason is None


@pytest.mark.parametrize(("state", "event"), [p for p in ALL_PAIRS if p not in EXPECTED])
def test_disallowed_transition_raises_and_changes_nothing(
    state: AgentState, event: AgentEvent
) -> None:
    a = make(state)
    before = copy.deepcopy(a)
    with pytest.raises(IllegalTransition) as ei:
        a.apply(event, 25.0, "lunch")
    assert ei.value.state == state.value and ei.value.event == event.value
    for f in Agent.__dataclass_fields__:
        assert getattr(a, f) == getattr(before, f), f


def test_counters_and_idle_clock() -> None:
    a = make(S.LOGGED_OUT)
    a.calls_today, a.last_call_end = 0, None
    a.apply(E.LOGIN, 100.0)
    assert a.idle_since == 100.0
    a.apply(E.RESERVE, 110.0)
    a.apply(E.ANSWER, 112.0)
    assert a.calls_today == 1
    a.apply(E.HANGUP, 200.0)
    assert a.last_call_end == 200.0 and a.idle_since == 200.0
    assert a.time_in_state[S.ON_CALL] == 88.0


def test_time_never_runs_backwards() -> None:
    a = make(S.AVAILABLE)
    a.apply(E.PAUSE, 3.0, "break")
    assert a.time_in_state[S.AVAILABLE] == 0.0
    assert a.state_since == 10.0


@pytest.mark.parametrize("bad", [{"x": 0}, {"x": 6}, {"": 3}, {"x": 2.5}, {"x": True}])
def test_skill_levels_validated(bad: dict[str, int]) -> None:
    with pytest.raises(InvalidSkills):
        validate_skills("a1", bad)
