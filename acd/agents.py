"""The agent state machine: every legal transition lives in TRANSITIONS, nowhere else.

An event not in the table raises IllegalTransition before anything is touched (the h11 `_state.py`
discipline), so a refused request leaves the agent exactly as it was.

    logged_out --login--> available          logged_out --login_paused--> paused
    available  --reserve--> reserved         reserved --answer--> on_call
    reserved   --no_answer--> paused("missed-call")  reserved --retract--> available
    on_call    --hangup--> wrap_up           wrap_up --end_wrapup--> available
    available/wrap_up/paused --pause--> paused        paused --ready--> available
    available/wrap_up/paused --logout--> logged_out
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from acd.errors import IllegalTransition, InvalidSkills
from acd.model import (
    MAX_SKILL_LEVEL,
    UNROUTABLE_DEVICE_STATES,
    AgentSnapshot,
    AgentState,
    DeviceState,
)

S = AgentState


class AgentEvent(StrEnum):
    LOGIN = "login"
    LOGIN_PAUSED = "login_paused"
    LOGOUT = "logout"
    READY = "ready"
    PAUSE = "pause"
    RESERVE = "reserve"
    ANSWER = "answer"
    NO_ANSWER = "no_answer"
    RETRACT = "retract"
    HANGUP = "hangup"
    END_WRAPUP = "end_wrapup"


E = AgentEvent

TRANSITIONS: Final[Mapping[tuple[AgentState, AgentEvent], AgentState]] = MappingProxyType(
    {
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
        # Re-pausing while paused changes the reason (break -> lunch) without a trip through ready.
        (S.PAUSED, E.PAUSE): S.PAUSED,
        (S.PAUSED, E.READY): S.AVAILABLE,
        (S.PAUSED, E.LOGOUT): S.LOGGED_OUT,
    }
)

# The same table keyed by the members' string values: the lookup runs on every engine input,
# and an enum member's hash is a Python-level call where a str's is cached.
_TABLE: Final[dict[tuple[str, str], AgentState]] = {
    (state.value, event.value): target for (state, event), target in TRANSITIONS.items()
}

# Events whose target state carries a pause reason.
_PAUSING: Final = frozenset({E.LOGIN_PAUSED, E.PAUSE, E.NO_ANSWER})
MISSED_CALL_REASON: Final = "missed-call"


def validate_skills(agent_id: str, skills: Mapping[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, level in skills.items():
        ok = isinstance(level, int) and not isinstance(level, bool)
        if not name or not ok or not 1 <= level <= MAX_SKILL_LEVEL:
            raise InvalidSkills(
                f"agent {agent_id}: skill {name!r} level {level!r} must be an int in 1..5"
            )
        out[name] = level
    return out


@dataclass(slots=True, eq=False)
class Agent:
    """One agent's mutable record, owned by the engine. Change state only through `apply`."""

    agent_id: str
    device: str
    queues: frozenset[str]
    skills: dict[str, int]
    state: AgentState = S.LOGGED_OUT
    pause_reason: str | None = None
    state_since: float = 0.0
    device_state: DeviceState = DeviceState.UNKNOWN
    call_id: str | None = None
    calls_today: int = 0
    last_call_end: float | None = None
    logged_in_at: float = 0.0
    time_in_state: dict[AgentState, float] = field(default_factory=dict)
    # The claim holding this available agent for an outbound call on its way (acd/claims.py);
    # only ever set while the agent is available.
    claimed_by: str | None = None

    @property
    def device_ok(self) -> bool:
        return self.device_state not in UNROUTABLE_DEVICE_STATES

    @property
    def routable(self) -> bool:
        return self.state is S.AVAILABLE and self.device_ok and self.claimed_by is None

    @property
    def idle_since(self) -> float:
        """Longest idle counts from the end of the last call, or from login if none yet."""
        return self.last_call_end if self.last_call_end is not None else self.logged_in_at

    def level(self, skill: str) -> int:
        return self.skills.get(skill, 0)

    def can_apply(self, event: AgentEvent) -> bool:
        return (self.state._value_, event._value_) in _TABLE

    def apply(self, event: AgentEvent, now: float, reason: str | None = None) -> AgentState:
        """Move along the table; return the old state. IllegalTransition changes nothing."""
        old = self.state
        new = _TABLE.get((old._value_, event._value_))
        if new is None:
            raise IllegalTransition(self.agent_id, old.value, event.value)
        since = self.state_since
        # Clamp: an out-of-order `now` must not make time-in-state negative.
        spent = now - since if now > since else 0.0
        tis = self.time_in_state
        tis[old] = tis.get(old, 0.0) + spent
        self.state = new
        if now > since:
            self.state_since = now
        if event in _PAUSING:
            self.pause_reason = MISSED_CALL_REASON if event is E.NO_ANSWER else reason
        else:
            self.pause_reason = None
        if event is E.LOGIN or event is E.LOGIN_PAUSED:
            self.logged_in_at = now
        elif event is E.ANSWER:
            self.calls_today += 1
        elif event is E.HANGUP:
            self.last_call_end = now
        return old

    def snapshot(self) -> AgentSnapshot:
        return AgentSnapshot(
            agent_id=self.agent_id,
            device=self.device,
            state=self.state,
            pause_reason=self.pause_reason,
            state_since=self.state_since,
            device_state=self.device_state,
            routable=self.routable,
            queues=self.queues,
            # Plain copies (not MappingProxyType): the engine's own dicts stay private, and
            # dataclasses.asdict() / deepcopy keep working on snapshots.
            skills=dict(self.skills),
            call_id=self.call_id,
            calls_today=self.calls_today,
            last_call_end=self.last_call_end,
            time_in_state=dict(self.time_in_state),
            claimed_by=self.claimed_by,
        )
