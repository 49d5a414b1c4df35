"""Scheduled callbacks that another part of the server hands to the ACD, and what it hears back.

The dialer's agent-owned campaign callbacks are placed this way (acd/dialer/service.py): the
ACD holds the callback for its agent (NewCall.required_agent: that agent only, before their other
work, for [acd].owner_grace_s; then any agent of the campaign's queue) and, once an agent is free,
places it as every ACD callback is placed (acd/callbacks.py: the agent's phone rings first, then
the customer's number), so nobody who answers is left waiting for an agent. When the callback
leaves the ACD, its owner gets one `CallbackDone`: connected (who talked, for how long), not
connected (the customer's DialStatus), or withdrawn (the server stopped first: not attempted, to
be placed again later). The owner keeps the record (the CRM callback row), so a failed one does
not also become an ACD callback task.

Pure bookkeeping: the asyncio side (acd/service.py) calls these methods as the callback moves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from acd.errors import DuplicateCall
from common.messages import CallbackContext


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    call_id: str  # the ACD's call id, also the Originate's ChannelId (the CRM interaction's)
    queue: str  # whose agents take it once `required_agent`'s grace is over
    number: str  # E.164 (the dial policy decides it again when placed, by the agent's rules)
    required_agent: str | None = None  # None: any agent of the queue
    grace_s: float | None = None  # None: [acd].owner_grace_s
    tier: str = "unknown"
    caller_id_num: str = ""  # what the agent's phone and the customer see ("": the number)
    caller_id_name: str = ""
    variables: tuple[tuple[str, str], ...] = ()  # channel variables for the dialplan
    # For the agent's offer and screen-pop (acd.call.offered): the customer, and what the
    # callback is about (its CRM row's note, owner, campaign).
    customer_id: int | None = None
    context: CallbackContext | None = None
    # Awaited with the call id just before the Originate: the owner records the placement
    # durably (its CRM row), so that a restart knows the customer may have been dialled. If it
    # raises, the callback is not placed (given up as when AMI cannot take it).
    before_dial: Callable[[str], Awaitable[None]] | None = field(default=None, compare=False)


CallbackResult = Literal["connected", "not_connected", "withdrawn"]


@dataclass(frozen=True, slots=True)
class CallbackDone:
    call_id: str
    result: CallbackResult
    agent_id: str | None  # who talked (connected), else the last agent it was placed by
    dial_status: str = ""  # the customer leg's DialStatus when not answered (BUSY, NOANSWER...)
    why: str = ""
    talk_s: float | None = None  # connected: from the customer's answer to the end


CallbackSink = Callable[[CallbackDone], None]


@dataclass(eq=False, slots=True)
class _Order:
    request: CallbackRequest
    on_done: CallbackSink
    agent_id: str | None = None
    dial_status: str = ""
    why: str = ""
    answered_at: float | None = None
    withdrawn: bool = False


class ScheduledCallbacks:
    """The scheduled callbacks in the ACD, by call id, until each one's CallbackDone."""

    def __init__(self) -> None:
        self._orders: dict[str, _Order] = {}

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._orders

    def __len__(self) -> int:
        return len(self._orders)

    def add(self, request: CallbackRequest, on_done: CallbackSink) -> None:
        if request.call_id in self._orders:
            raise DuplicateCall(f"callback {request.call_id!r} is already scheduled")
        self._orders[request.call_id] = _Order(request, on_done)

    def discard(self, call_id: str) -> None:
        """Forget one the ACD refused (its owner was told by the exception)."""
        self._orders.pop(call_id, None)

    def request(self, call_id: str) -> CallbackRequest | None:
        order = self._orders.get(call_id)
        return order.request if order is not None else None

    def placed(self, call_id: str, agent_id: str) -> None:
        """An agent's phone is rung for it."""
        order = self._orders.get(call_id)
        if order is not None:
            order.agent_id = agent_id

    def answered(self, call_id: str, at: float) -> None:
        """The customer answered (wall time)."""
        order = self._orders.get(call_id)
        if order is not None:
            order.answered_at = at

    def failed(self, call_id: str, why: str, *, dial_status: str = "",
               withdrawn: bool = False) -> None:
        """It is being given up (the CallRemoved that follows reports it)."""
        order = self._orders.get(call_id)
        if order is not None:
            order.why, order.dial_status, order.withdrawn = why, dial_status, withdrawn

    def removed(self, call_id: str, completed: bool, agent_id: str | None, at: float
                ) -> tuple[CallbackSink, CallbackDone] | None:
        """It left the ACD (at wall time `at`): whom to tell, and what; None if not ours."""
        order = self._orders.pop(call_id, None)
        if order is None:
            return None
        result: CallbackResult = "connected" if completed else (
            "withdrawn" if order.withdrawn else "not_connected")
        talk = None
        if completed and order.answered_at is not None:
            talk = max(0.0, at - order.answered_at)
        return order.on_done, CallbackDone(
            call_id, result, agent_id if completed else order.agent_id,
            dial_status=order.dial_status, why=order.why, talk_s=talk)
