"""The ACD's call records and their state machine: every legal transition lives in TRANSITIONS.

A call event not in the table raises IllegalCallTransition before anything is touched (the h11
`_state.py` discipline, as acd.agents does for agents), so a refused request leaves the call
exactly as it was.

    (new call)       --> waiting, or callback_waiting (a scheduled callback: nobody on the line)
    waiting          --offer--> offered             (Offer: ring an agent)
    callback_waiting --offer--> offered             (PlaceCallback: dial the customer)
    waiting          --leave_line--> callback_waiting   (the caller asked to be called back)
    offered          --answer--> connected
    offered          --no_answer--> waiting             (ring-no-answer: back to its place)
    offered          --callback_no_answer--> callback_waiting  (a callback's agent side failed)
    connected        --hangup--> (gone: completed)
    waiting / callback_waiting / offered --abandon--> (gone: abandoned)
    waiting / callback_waiting / offered --hand_back--> (gone: handed to Asterisk's Queue())

Overflow and escalation change a call's queue and threshold, never its state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from acd.errors import IllegalCallTransition
from acd.model import CallSnapshot, CallState
from acd.policy import DEFAULT_MIN_LEVEL, CallKey

S = CallState


class CallEvent(StrEnum):
    OFFER = "offer"
    LEAVE_LINE = "leave_line"
    ANSWER = "answer"
    NO_ANSWER = "no_answer"
    CALLBACK_NO_ANSWER = "callback_no_answer"
    HANGUP = "hangup"
    ABANDON = "abandon"
    HAND_BACK = "hand_back"


E = CallEvent

# Target state; None: the call leaves the ACD.
TRANSITIONS: Final[Mapping[tuple[CallState, CallEvent], CallState | None]] = MappingProxyType(
    {
        (S.WAITING, E.OFFER): S.OFFERED,
        (S.CALLBACK_WAITING, E.OFFER): S.OFFERED,
        (S.WAITING, E.LEAVE_LINE): S.CALLBACK_WAITING,
        (S.OFFERED, E.ANSWER): S.CONNECTED,
        (S.OFFERED, E.NO_ANSWER): S.WAITING,
        (S.OFFERED, E.CALLBACK_NO_ANSWER): S.CALLBACK_WAITING,
        (S.CONNECTED, E.HANGUP): None,
        (S.WAITING, E.ABANDON): None,
        (S.CALLBACK_WAITING, E.ABANDON): None,
        (S.OFFERED, E.ABANDON): None,
        (S.WAITING, E.HAND_BACK): None,
        (S.CALLBACK_WAITING, E.HAND_BACK): None,
        (S.OFFERED, E.HAND_BACK): None,
    }
)

# The same table keyed by the members' string values: it is looked up on every call input, and an
# enum member's hash is a Python-level call where a str's is cached.
_TABLE: Final[dict[tuple[str, str], CallState | None]] = {
    (state.value, event.value): target for (state, event), target in TRANSITIONS.items()
}

# What the caller of a refused input is told ({call}: its id, {state}: its state).
_REFUSALS: Final[Mapping[CallEvent, str]] = MappingProxyType(
    {
        E.OFFER: "call {call} is {state}: it cannot be offered",
        E.LEAVE_LINE: "call {call} is {state}: callback not possible",
        E.ANSWER: "call {call} is {state}, not offered",
        E.NO_ANSWER: "call {call} is {state}, not offered",
        E.CALLBACK_NO_ANSWER: "call {call} is {state}, not offered",
        E.HANGUP: "call {call} is {state}, not connected",
        E.ABANDON: "call {call} is {state}: report call_ended, not abandoned",
        E.HAND_BACK: "call {call} is {state}: report call_ended, not handed_back",
    }
)

# The states in which a call waits for an agent (with the caller on the line, or not).
WAITING_STATES: Final = (S.WAITING, S.CALLBACK_WAITING)


@dataclass(slots=True, eq=False)
class AcdCall:
    """One call's mutable record, owned by the engine, from enqueue until it leaves the ACD.
    Change its state only through `apply`."""

    call_id: str
    queue: str
    tier: str
    skills: frozenset[str]
    number: str
    enqueued_at: float
    queue_since: float  # when it entered its current queue: escalation and max wait run from here
    # Its place in the service order (acd.policy.call_key), fixed for the call's life: built
    # once, so the position list and comparisons never allocate one.
    key: CallKey
    state: CallState = S.WAITING
    min_level: int = DEFAULT_MIN_LEVEL  # the escalation threshold in its current queue
    next_step: int = 0  # the current queue's first escalation step not yet applied
    agent_id: str | None = None
    answered_at: float | None = None
    # Renewed (unique engine-wide) whenever its heap entry changes: entries carrying an older
    # token are stale (acd.indexes deletes lazily).
    heap_token: int = 0
    # Renewed (from the engine's sequence, so never reused even by a later call with the same id)
    # whenever its timers must be forgotten (left waiting, changed queue).
    timer_token: int = 0
    callback_offered: bool = False
    is_callback: bool = False  # the caller left the line; an agent will call them back
    own_skills: bool = False  # skills set by the IVR; otherwise they follow the current queue
    visited: tuple[str, ...] = ()  # queues it has waited in (overflow never loops back)
    # The one agent it may be offered to (an agent-owned callback) until `required_until`;
    # None: any agent of its queue. While set, the call is in no queue heap or position list
    # (acd.indexes keeps it per agent) and has no queue timers, only the lapse timer.
    required_agent: str | None = None
    required_until: float = float("-inf")

    @property
    def waiting(self) -> bool:
        return self.state in WAITING_STATES

    @property
    def no_answer_event(self) -> CallEvent:
        """The event an unanswered offer is: back to waiting, on the line or for a callback."""
        return E.CALLBACK_NO_ANSWER if self.is_callback else E.NO_ANSWER

    def can_apply(self, event: CallEvent) -> bool:
        return (self.state._value_, event._value_) in _TABLE

    def require(self, event: CallEvent) -> None:
        """Raise IllegalCallTransition unless `event` is legal now; changes nothing."""
        if (self.state._value_, event._value_) not in _TABLE:
            raise self._refusal(event)

    def apply(self, event: CallEvent) -> CallState | None:
        """Move along the table; return the new state (None: the call leaves the ACD).
        IllegalCallTransition changes nothing."""
        try:
            new = _TABLE[(self.state._value_, event._value_)]
        except KeyError:
            raise self._refusal(event) from None
        if new is not None:
            self.state = new
        if event is E.LEAVE_LINE:
            self.is_callback = True
        return new

    def _refusal(self, event: CallEvent) -> IllegalCallTransition:
        msg = _REFUSALS[event].format(call=self.call_id, state=self.state.value)
        return IllegalCallTransition(self.call_id, self.state.value, event.value, msg)

    def snapshot(self) -> CallSnapshot:
        return CallSnapshot(
            call_id=self.call_id, queue=self.queue, tier=self.tier, skills=self.skills,
            state=self.state, enqueued_at=self.enqueued_at, queue_since=self.queue_since,
            min_skill_level=self.min_level, agent_id=self.agent_id, number=self.number,
            required_agent=self.required_agent,
            required_until=self.required_until if self.required_agent is not None else None,
        )
