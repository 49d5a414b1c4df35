"""The lifecycle of a callback the ACD places: pure, one transition table, indexed lookups.

When the engine hands a waiting callback to an agent (PlaceCallback), the service sends an
Originate that rings the agent's phone first; once the agent answers, the dialplan dials the
customer. A callback is then in one of these states::

    ringing_agent --agent_answered--> dialing_customer --customer_answered--> connected
         |                                  |   \\                                  |
    agent_no_answer / not_placed   customer_no_answer  hung_up                  hung_up
         v                                  v           v                           v
       failed                             failed      failed                      ended

``failed`` and ``ended`` are final: the callback leaves the book. Every transition is in
:data:`TRANSITIONS`; an event the table does not allow for the current state raises
:class:`IllegalCallbackTransition` and changes nothing (h11's ``_state.py`` discipline, as in
acd/agents.py). The asyncio side (acd/service.py) maps the call tracker's messages to events and
executes what a transition means for the engine:

- agent_no_answer: the offer failed (ring-no-answer: the engine re-offers, pauses the agent);
- customer_answered: the offer is answered (the agent talks);
- customer_no_answer, hung_up before the answer, not_placed: the callback is given up (kept as
  a CRM callback task for a person);
- hung_up when connected: the call ended (the agent wraps up).

Lookups are by the callback's CTI call id (``cb-<ACD call id>``: the Originate's ChannelId and
CTI_CALL_ID, so the tracker's call carries it) and by the Originate's ActionID.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import StrEnum

from acd.errors import AcdError


class CallbackState(StrEnum):
    RINGING_AGENT = "ringing_agent"  # Originate sent: the agent's phone rings
    DIALING_CUSTOMER = "dialing_customer"  # the agent answered; the customer's phone rings
    CONNECTED = "connected"  # the customer answered: agent and customer talk
    ENDED = "ended"  # final: was connected, then hung up
    FAILED = "failed"  # final: never connected


class CallbackEvent(StrEnum):
    AGENT_ANSWERED = "agent_answered"  # the agent's leg dials the customer (DialBegin)
    AGENT_NO_ANSWER = "agent_no_answer"  # the Originate failed (the agent's phone)
    NOT_PLACED = "not_placed"  # the Originate could not be sent
    CUSTOMER_ANSWERED = "customer_answered"  # DialEnd ANSWER
    CUSTOMER_NO_ANSWER = "customer_no_answer"  # DialEnd BUSY / NOANSWER / ...
    HUNG_UP = "hung_up"  # the callback's call ended


S, E = CallbackState, CallbackEvent

TRANSITIONS: dict[tuple[CallbackState, CallbackEvent], CallbackState] = {
    (S.RINGING_AGENT, E.AGENT_ANSWERED): S.DIALING_CUSTOMER,
    (S.RINGING_AGENT, E.AGENT_NO_ANSWER): S.FAILED,
    (S.RINGING_AGENT, E.NOT_PLACED): S.FAILED,
    (S.DIALING_CUSTOMER, E.CUSTOMER_ANSWERED): S.CONNECTED,
    (S.DIALING_CUSTOMER, E.CUSTOMER_NO_ANSWER): S.FAILED,
    (S.DIALING_CUSTOMER, E.HUNG_UP): S.FAILED,
    (S.CONNECTED, E.HUNG_UP): S.ENDED,
}

FINAL: frozenset[CallbackState] = frozenset({S.ENDED, S.FAILED})


class IllegalCallbackTransition(AcdError):
    """The event is not allowed in the callback's current state (nothing was changed)."""


class UnknownCallback(AcdError):
    """No live callback under that id."""


@dataclass(frozen=True, slots=True)
class Callback:
    cti_call_id: str  # "cb-<ACD call id>": the Originate's ChannelId / CTI_CALL_ID
    action_id: str  # the Originate's ActionID
    call_id: str  # the ACD's call id (the engine's)
    agent_id: str
    number: str  # E.164, validated
    queue: str
    state: CallbackState = CallbackState.RINGING_AGENT


@dataclass(frozen=True, slots=True)
class Transition:
    before: Callback
    after: Callback
    event: CallbackEvent


def next_state(state: CallbackState, event: CallbackEvent) -> CallbackState:
    """The state after `event`, or IllegalCallbackTransition."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalCallbackTransition(
            f"callback event {event.value!r} is not allowed in state {state.value!r}") from None


def allowed(state: CallbackState, event: CallbackEvent) -> bool:
    return (state, event) in TRANSITIONS


class CallbackBook:
    """The live callbacks, by CTI call id and by ActionID (both kept in step)."""

    def __init__(self) -> None:
        self._by_cti: dict[str, Callback] = {}
        self._cti_by_action: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._by_cti)

    def __iter__(self) -> Iterator[Callback]:
        return iter(tuple(self._by_cti.values()))

    def add(self, cb: Callback) -> None:
        """A new callback (ringing its agent). Its ids must be new: a duplicate raises."""
        if cb.state is not CallbackState.RINGING_AGENT:
            raise IllegalCallbackTransition(f"a callback starts ringing its agent, not in "
                                            f"{cb.state.value!r}")
        if cb.cti_call_id in self._by_cti or cb.action_id in self._cti_by_action:
            raise IllegalCallbackTransition(f"callback {cb.cti_call_id!r} (action "
                                            f"{cb.action_id!r}) is already placed")
        self._by_cti[cb.cti_call_id] = cb
        self._cti_by_action[cb.action_id] = cb.cti_call_id

    def get(self, cti_call_id: str) -> Callback | None:
        return self._by_cti.get(cti_call_id)

    def by_action(self, action_id: str) -> Callback | None:
        cti = self._cti_by_action.get(action_id)
        return self._by_cti.get(cti) if cti is not None else None

    def apply(self, cti_call_id: str, event: CallbackEvent) -> Transition:
        """Move the callback along the table; a final state removes it from the book. An
        unknown id or an illegal event raises and leaves the book as it was."""
        cb = self._by_cti.get(cti_call_id)
        if cb is None:
            raise UnknownCallback(f"no live callback {cti_call_id!r}")
        after = replace(cb, state=next_state(cb.state, event))
        if after.state in FINAL:
            del self._by_cti[cti_call_id]
            del self._cti_by_action[cb.action_id]
        else:
            self._by_cti[cti_call_id] = after
        return Transition(cb, after, event)
