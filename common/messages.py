"""Every message on the bus, in one place: the vocabulary the hub, reports and scale-out speak.

API (what other modules use):

- ``Bus.publish(message)`` (common.bus) derives the topic from the message's type; subscribe by
  topic prefix (``bus.subscribe("acd.call.")``, ``bus.subscribe(AcdCallQueued.TOPIC)``).
- ``Envelope.message`` is a :data:`BusMessage` (the union of every type below): narrow it with
  ``isinstance``.
- ``MESSAGE_TYPES``: topic -> message type, for every message. ``topic_of(message)``.
- ``to_json_dict(message)`` -> ``{"topic": ..., **fields}`` (JSON-ready: enums as their values,
  tuples as lists); ``from_json_dict(data)`` is its inverse; ``json_schema(cls)`` the JSON schema
  of one type (pydantic ``TypeAdapter``), for the websocket hub and a Redis bus.
- ``call_id`` on every call message is the tracker's call id, the Asterisk Linkedid (the first
  channel's Uniqueid): ACD, tracker, IVR, dialer, event log and CRM interactions join on it.
  ``channel``/``uniqueid`` fields name a particular leg where a consumer needs it.

Rules for adding a message (tests/common/test_messages.py checks them):

1. A ``@dataclass(frozen=True, slots=True)`` subclass of :class:`Message`, defined HERE, with a
   ``TOPIC: ClassVar[str]`` no other type uses. The topic is namespaced by its source:
   ``pbx.call.*`` (the call tracker, cti.calls; ``pbx.call.dialling`` by whoever sent the
   Originate), ``pbx.connection.*`` (the AMI link),
   ``acd.call.*``, ``acd.agent.*``, ``acd.callback.*``, ``ivr.*``, ``dialer.*``, ``crm.*``.
   Subscribe with a prefix that ends with a dot (``"acd.call"`` would also match
   ``"acd.callback.failed"``).
2. Fields typed: enums/Literals for closed sets, numbers as numbers, times as float epoch
   seconds (``at``/``*_at``; the server's clock is common.clock.EpochMonotonicClock), tuples
   not lists, no ``Any``, no ``dict`` of free-form values. No field named ``topic``.
3. Add it to :data:`BusMessage` and ``_ALL`` below; ``TypeAdapter(cls).json_schema()`` must work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import TypeAdapter

from acd.model import AgentState, RemovalReason
from cti.call_views import CallView, OriginKind, TransferView

__all__ = [
    "MESSAGE_TYPES",
    "BusMessage",
    "Message",
    "from_json_dict",
    "json_schema",
    "to_json_dict",
    "topic_of",
]

class Message:
    """Base of every bus message; ``TOPIC`` names it on the bus."""

    __slots__ = ()
    TOPIC: ClassVar[str]


class _PbxCall(Message):
    """A call tracker update: ``call`` is the call's snapshot after the change; ``call_id``
    repeats ``call.call_id`` at the top (what every consumer joins on)."""

    __slots__ = ()
    call: CallView
    call_id: str

    def __post_init__(self) -> None:
        _check_call_id(self, self.call.call_id)


def _check_call_id(msg: Message, expected: str) -> None:
    got: str = getattr(msg, "call_id")  # noqa: B009 - every caller's type has the field
    if not got:
        object.__setattr__(msg, "call_id", expected)  # frozen: set once, at construction
    elif got != expected:
        raise ValueError(f"{type(msg).__name__}: call_id {got!r} is not the call's "
                         f"{expected!r}")


# ------------------------------------------------------------------ pbx.call.*: the call tracker


@dataclass(frozen=True, slots=True)
class CallStarted(_PbxCall):
    TOPIC: ClassVar[str] = "pbx.call.started"
    call: CallView
    call_id: str = ""  # filled from ``call`` (the Linkedid)


@dataclass(frozen=True, slots=True)
class CallDirectionChanged(_PbxCall):
    """The call turned out to be one we originated (matched after it started)."""

    TOPIC: ClassVar[str] = "pbx.call.direction_changed"
    call: CallView
    call_id: str = ""  # filled from ``call`` (the Linkedid)


@dataclass(frozen=True, slots=True)
class CallRinging(_PbxCall):
    """A leg of the call started ringing (an agent's phone, or the customer on outbound)."""

    TOPIC: ClassVar[str] = "pbx.call.ringing"
    call: CallView
    uniqueid: str
    device: str
    call_id: str = ""  # filled from ``call`` (the Linkedid)


@dataclass(frozen=True, slots=True)
class CallQueued(_PbxCall):
    """The call's queue is known or changed: ``source`` is "app_queue" or "ivr" (IVR_QUEUE)."""

    TOPIC: ClassVar[str] = "pbx.call.queued"
    call: CallView
    queue: str
    source: Literal["app_queue", "ivr"]
    call_id: str = ""  # filled from ``call`` (the Linkedid)


@dataclass(frozen=True, slots=True)
class CallOfferedToAgent(_PbxCall):
    """app_queue rings a member (AgentCalled)."""

    TOPIC: ClassVar[str] = "pbx.call.offered_to_agent"
    call: CallView
    interface: str
    member_name: str
    call_id: str = ""  # filled from ``call`` (the Linkedid)


@dataclass(frozen=True, slots=True)
class CallAgentNoAnswer(_PbxCall):
    """A member let it ring out (AgentRingNoAnswer); ``ring_time`` in seconds."""

    TOPIC: ClassVar[str] = "pbx.call.agent_no_answer"
    call: CallView
    interface: str
    ring_time: float
    call_id: str = ""  # filled from ``call`` (the Linkedid)


@dataclass(frozen=True, slots=True)
class CallDialBegan(_PbxCall):
    """A Dial started ringing ``dest_channel`` (AMI DialBegin); ``caller_channel`` is the
    dialling leg ("" when Asterisk dials on its own: an Originate). ``call`` is the dialling
    leg's call (an ACD caller's Dial is that caller's call)."""

    TOPIC: ClassVar[str] = "pbx.call.dial_began"
    call: CallView
    caller_channel: str
    dest_uniqueid: str
    dest_channel: str
    call_id: str = ""  # filled from ``call`` (the Linkedid)


@dataclass(frozen=True, slots=True)
class CallDialEnded(_PbxCall):
    """A Dial ended (AMI DialEnd): ``dial_status`` ANSWER, BUSY, NOANSWER, CANCEL, CONGESTION,
    CHANUNAVAIL ... One per dialled leg; the call's own answer is :class:`CallAnswered`."""

    TOPIC: ClassVar[str] = "pbx.call.dial_ended"
    call: CallView
    caller_channel: str
    dest_uniqueid: str
    dest_channel: str
    dial_status: str
    call_id: str = ""  # filled from ``call`` (the Linkedid)


@dataclass(frozen=True, slots=True)
class CallAnswered(_PbxCall):
    TOPIC: ClassVar[str] = "pbx.call.answered"
    call: CallView
    call_id: str = ""  # filled from ``call`` (the Linkedid)


@dataclass(frozen=True, slots=True)
class CallHeld(_PbxCall):
    TOPIC: ClassVar[str] = "pbx.call.held"
    call: CallView
    uniqueid: str
    call_id: str = ""  # filled from ``call`` (the Linkedid)


@dataclass(frozen=True, slots=True)
class CallUnheld(_PbxCall):
    TOPIC: ClassVar[str] = "pbx.call.unheld"
    call: CallView
    uniqueid: str
    call_id: str = ""  # filled from ``call`` (the Linkedid)


@dataclass(frozen=True, slots=True)
class CallTransferred(_PbxCall):
    TOPIC: ClassVar[str] = "pbx.call.transferred"
    call: CallView
    transfer: TransferView
    call_id: str = ""  # filled from ``call`` (the Linkedid)


@dataclass(frozen=True, slots=True)
class CallAgentChanged(_PbxCall):
    """The call moved to another agent after it had one (the target of a transfer answered, or
    someone else's phone took it over): ``call.agent`` is the new owner, ``previous_user`` /
    ``previous_device`` the one before ("" user: a device no user owns). A call's first agent
    is not a change (no message). ``previous_name`` is the previous user's display name: the
    tracker does not know names and leaves it "", the websocket hub fills it in from the CRM's
    users before the desktops get it ("transferred to you by 王芳", not by a login name)."""

    TOPIC: ClassVar[str] = "pbx.call.agent_changed"
    call: CallView
    previous_user: str
    previous_device: str
    call_id: str = ""  # filled from ``call`` (the Linkedid)
    previous_name: str = ""


@dataclass(frozen=True, slots=True)
class CallVariable(_PbxCall):
    """A whitelisted channel variable was set on a leg (AMDSTATUS, IVR_QUEUE, DIALSTATUS ...)."""

    TOPIC: ClassVar[str] = "pbx.call.variable"
    call: CallView
    uniqueid: str
    name: str
    value: str
    call_id: str = ""  # filled from ``call`` (the Linkedid)


@dataclass(frozen=True, slots=True)
class CallMonitorStarted(_PbxCall):
    """A supervisor started listening/whispering/barging (ChanSpyStart)."""

    TOPIC: ClassVar[str] = "pbx.call.monitor_started"
    call: CallView
    supervisor_channel: str
    supervisor_call_id: str
    call_id: str = ""  # filled from ``call`` (the Linkedid)


@dataclass(frozen=True, slots=True)
class CallMonitorStopped(_PbxCall):
    TOPIC: ClassVar[str] = "pbx.call.monitor_stopped"
    call: CallView
    supervisor_channel: str
    supervisor_call_id: str
    call_id: str = ""  # filled from ``call`` (the Linkedid)


@dataclass(frozen=True, slots=True)
class CallEnded(_PbxCall):
    """Reported exactly once per call. ``reason`` is one of the END_* constants."""

    TOPIC: ClassVar[str] = "pbx.call.ended"
    call: CallView
    reason: str
    call_id: str = ""  # filled from ``call`` (the Linkedid)


@dataclass(frozen=True, slots=True)
class OriginateFailed(Message):
    """An Originate we announced failed. ``call`` is None when no channel ever came up; the
    announcement's kind, number and agent say what was attempted (a call record needs them)."""

    TOPIC: ClassVar[str] = "pbx.call.originate_failed"
    action_id: str
    reason: int
    call: CallView | None
    kind: OriginKind = OriginKind.ORIGINATE
    cti_call_id: str = ""
    dialled: str = ""
    user: str = ""
    device: str = ""
    at: float = 0.0
    call_id: str = ""  # the call's id, "" when no channel ever came up

    def __post_init__(self) -> None:
        _check_call_id(self, self.call.call_id if self.call is not None else "")


@dataclass(frozen=True, slots=True)
class CallDialling(Message):
    """Asterisk accepted an Originate that rings an agent's phone first (a click-to-dial, a
    preview dial, an ACD callback): the call exists for its agent from now on, before the PBX
    reports any channel, so their desktop shows it dialling at once and follows it with
    ``pbx.call.answered`` / ``pbx.call.ended`` (same ``call_id``). Published by whoever sent the
    Originate, once its response came back (the tracker only hears of the channels later).
    ``call_id`` is the Originate's ChannelId: the first channel's Uniqueid, so the Linkedid every
    later message carries; ``user`` / ``device`` the agent and the phone rung first; ``dialled``
    the number dialled once they answer; ``at`` the wall time it was accepted."""

    TOPIC: ClassVar[str] = "pbx.call.dialling"
    call_id: str
    action_id: str
    kind: OriginKind
    user: str
    device: str
    dialled: str
    at: float


# ------------------------------------------------------------------ pbx.connection.*: the AMI link


@dataclass(frozen=True, slots=True)
class PbxConnected(Message):
    """Logged in to AMI (``banner``: the server's greeting line)."""

    TOPIC: ClassVar[str] = "pbx.connection.connected"
    banner: str


@dataclass(frozen=True, slots=True)
class PbxConnectionLost(Message):
    """The AMI connection dropped: events may have been missed until the next resync."""

    TOPIC: ClassVar[str] = "pbx.connection.lost"
    reason: str


@dataclass(frozen=True, slots=True)
class PbxResynced(Message):
    """CoreShowChannels was replayed into the tracker after (re)connecting."""

    TOPIC: ClassVar[str] = "pbx.connection.resynced"
    channels: int


# ------------------------------------------------------------------ acd.*: the ACD service


@dataclass(frozen=True, slots=True)
class IvrContext:
    """What the IVR learnt before queueing the call (digits of secret inputs masked)."""

    menu: str
    version: int
    path: tuple[str, ...]
    digits: tuple[tuple[str, str], ...]
    language: str
    seconds: float


@dataclass(frozen=True, slots=True)
class CallbackContext:
    """What a scheduled callback the ACD places is about, for its agent's screen-pop: the CRM
    callback row (its id, note and due time), who owns it, and its campaign if it has one."""

    callback_id: int | None
    note: str
    due_at: float | None
    owner: str = ""  # the agent it is for ("" : anyone)
    campaign_id: int | None = None
    campaign_name: str = ""
    owner_name: str = ""  # the owner's display name: filled in by the websocket hub


@dataclass(frozen=True, slots=True)
class AcdCallQueued(Message):
    """The call entered a queue (``callback``: a callback the caller asked for in the IVR)."""

    TOPIC: ClassVar[str] = "acd.call.queued"
    call_id: str
    channel: str  # the caller's channel ("" for a callback: the caller left)
    queue: str
    tier: str  # one of acd.model.TIERS (the engine refuses others)
    number: str
    customer_id: int | None = None
    ivr: IvrContext | None = None
    callback: bool = False


@dataclass(frozen=True, slots=True)
class AcdCallOffered(Message):
    """The ACD rings an agent for the call (screen-pop material). For a callback the ACD
    places (the agent's phone rings first, then the customer's), ``call_id`` is the callback
    call's own id (the one its pbx.call.* messages and CRM interaction carry), ``channel`` is
    "" and ``callback`` says what it is about when it was scheduled."""

    TOPIC: ClassVar[str] = "acd.call.offered"
    call_id: str
    channel: str
    agent_id: str
    queue: str
    number: str
    tier: str  # one of acd.model.TIERS, "" when the caller had left
    customer_id: int | None = None
    ivr: IvrContext | None = None
    callback: CallbackContext | None = None


@dataclass(frozen=True, slots=True)
class AcdCallAnswered(Message):
    TOPIC: ClassVar[str] = "acd.call.answered"
    call_id: str
    channel: str
    agent_id: str | None
    queue: str
    number: str


@dataclass(frozen=True, slots=True)
class AcdCallEnded(Message):
    """An answered ACD call ended (the agent moves to wrap-up)."""

    TOPIC: ClassVar[str] = "acd.call.ended"
    call_id: str
    channel: str
    agent_id: str | None


@dataclass(frozen=True, slots=True)
class AcdCallAbandoned(Message):
    """The caller hung up before an agent answered."""

    TOPIC: ClassVar[str] = "acd.call.abandoned"
    call_id: str
    channel: str
    queue: str


@dataclass(frozen=True, slots=True)
class AcdCallOverflowed(Message):
    TOPIC: ClassVar[str] = "acd.call.overflowed"
    call_id: str
    from_queue: str
    to_queue: str


@dataclass(frozen=True, slots=True)
class AcdCallRemoved(Message):
    """The call left the ACD for good (``waited_s``: enqueue to answer or to abandon)."""

    TOPIC: ClassVar[str] = "acd.call.removed"
    call_id: str
    queue: str
    reason: RemovalReason
    agent_id: str | None
    waited_s: float


@dataclass(frozen=True, slots=True)
class AcdCallHandedBack(Message):
    """The ACD gave the call back to the dialplan (Queue()) without an answer."""

    TOPIC: ClassVar[str] = "acd.call.handed_back"
    call_id: str
    channel: str
    reason: str


@dataclass(frozen=True, slots=True)
class AcdAgentState(Message):
    """An agent's ACD state changed (``reason``: the pause reason, or None)."""

    TOPIC: ClassVar[str] = "acd.agent.state"
    agent_id: str
    old: AgentState
    new: AgentState
    reason: str | None


@dataclass(frozen=True, slots=True)
class AcdCallbackFailed(Message):
    """A callback could not be connected: it is kept as a CRM callback task for a person."""

    TOPIC: ClassVar[str] = "acd.callback.failed"
    call_id: str
    number: str
    reason: str


# ------------------------------------------------------------------ ivr.*


IvrOutcome = Literal["queued", "self_service", "callback", "message", "transferred", "abandoned",
                     "failed"]


@dataclass(frozen=True, slots=True)
class IvrReloaded(Message):
    """A menu reload was tried: ``ok`` False means refused (``version`` is the one kept)."""

    TOPIC: ClassVar[str] = "ivr.reloaded"
    ok: bool
    version: int
    error: str


@dataclass(frozen=True, slots=True)
class IvrEnded(Message):
    """A caller left the IVR (``path``: the nodes visited; ``seconds`` spent in it)."""

    TOPIC: ClassVar[str] = "ivr.ended"
    call_id: str
    channel: str
    menu: str
    version: int
    outcome: IvrOutcome
    node: str
    path: tuple[str, ...]
    seconds: float
    customer_id: int | None


# ------------------------------------------------------------------ dialer.*


@dataclass(frozen=True, slots=True)
class DialerCampaignChanged(Message):
    TOPIC: ClassVar[str] = "dialer.campaign.status"
    campaign_id: int
    status: str


@dataclass(frozen=True, slots=True)
class DialerAttemptOutcome(Message):
    """A dialer attempt finished (``result``: connected, abandoned, busy, no_answer, ...)."""

    TOPIC: ClassVar[str] = "dialer.attempt.outcome"
    campaign_id: int
    lead_id: int
    result: str


@dataclass(frozen=True, slots=True)
class DialerCampaignStats(Message):
    """A campaign's live figures for the wallboard (acd/dialer/service.py CampaignStatus),
    published when they change: pacing, lines, and the abandon rule's rolling windows
    (``rate_*`` = abandoned / live answers; 0 with no live answer)."""

    TOPIC: ClassVar[str] = "dialer.campaign.stats"
    at: float
    campaign_id: int
    name: str
    status: str
    dial_mode: str
    dial_level: float  # lines per working agent, last pacing step
    pacing: str  # what decided it: progressive, predictive, backoff:<why> ...
    lines_in_progress: int
    humans_waiting: int
    unknown_outcome: int
    calls_placed: int
    live_24h: int
    abandoned_24h: int
    rate_24h: float
    live_30d: int
    abandoned_30d: int
    rate_30d: float


@dataclass(frozen=True, slots=True)
class DialerDisposition(Message):
    """An agent recorded the disposition of a dialer call (acd/dialer/desk.py)."""

    TOPIC: ClassVar[str] = "dialer.disposition.recorded"
    campaign_id: int
    call_id: str
    lead_id: int | None
    disposition: str
    outcome: Literal["done", "retry", "callback", "dnc"]
    agent: str


# ------------------------------------------------------------------ crm.*

Role = Literal["agent", "supervisor", "admin"]


@dataclass(frozen=True, slots=True)
class CrmUserUpdated(Message):
    TOPIC: ClassVar[str] = "crm.user.updated"
    user_id: int
    username: str
    active: bool
    role: Role


@dataclass(frozen=True, slots=True)
class CrmUserDeleted(Message):
    TOPIC: ClassVar[str] = "crm.user.deleted"
    user_id: int
    username: str


@dataclass(frozen=True, slots=True)
class CrmTicketEscalated(Message):
    """A ticket went past its SLA due time and was escalated."""

    TOPIC: ClassVar[str] = "crm.ticket.escalated"
    ticket_id: int
    customer_id: int | None


# ------------------------------------------------------------------ the registry

PbxCallMessage = (
    CallStarted
    | CallDirectionChanged
    | CallRinging
    | CallQueued
    | CallOfferedToAgent
    | CallAgentNoAnswer
    | CallDialBegan
    | CallDialEnded
    | CallAnswered
    | CallHeld
    | CallUnheld
    | CallTransferred
    | CallAgentChanged
    | CallVariable
    | CallMonitorStarted
    | CallMonitorStopped
    | CallEnded
    | OriginateFailed
)

BusMessage = (
    PbxCallMessage
    | CallDialling
    | PbxConnected
    | PbxConnectionLost
    | PbxResynced
    | AcdCallQueued
    | AcdCallOffered
    | AcdCallAnswered
    | AcdCallEnded
    | AcdCallAbandoned
    | AcdCallOverflowed
    | AcdCallRemoved
    | AcdCallHandedBack
    | AcdAgentState
    | AcdCallbackFailed
    | IvrReloaded
    | IvrEnded
    | DialerCampaignChanged
    | DialerAttemptOutcome
    | DialerCampaignStats
    | DialerDisposition
    | CrmUserUpdated
    | CrmUserDeleted
    | CrmTicketEscalated
)

_ALL: tuple[type[Message], ...] = (
    CallStarted, CallDirectionChanged, CallRinging, CallQueued, CallOfferedToAgent,
    CallAgentNoAnswer, CallDialBegan, CallDialEnded, CallAnswered, CallHeld, CallUnheld,
    CallTransferred, CallAgentChanged, CallVariable,
    CallMonitorStarted, CallMonitorStopped, CallEnded, OriginateFailed, CallDialling,
    PbxConnected, PbxConnectionLost, PbxResynced,
    AcdCallQueued, AcdCallOffered, AcdCallAnswered, AcdCallEnded, AcdCallAbandoned,
    AcdCallOverflowed, AcdCallRemoved, AcdCallHandedBack, AcdAgentState, AcdCallbackFailed,
    IvrReloaded, IvrEnded,
    DialerCampaignChanged, DialerAttemptOutcome, DialerCampaignStats, DialerDisposition,
    CrmUserUpdated, CrmUserDeleted, CrmTicketEscalated,
)


def _registry() -> dict[str, type[Message]]:
    out: dict[str, type[Message]] = {}
    for cls in _ALL:
        if cls.TOPIC in out:
            raise RuntimeError(f"bus topic {cls.TOPIC!r} is used by {out[cls.TOPIC].__name__} "
                               f"and {cls.__name__}: give each message its own topic")
        out[cls.TOPIC] = cls
    return out


MESSAGE_TYPES: dict[str, type[Message]] = _registry()


def topic_of(message: Message) -> str:
    return message.TOPIC


_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _adapter(cls: type[Message]) -> TypeAdapter[Any]:
    a = _ADAPTERS.get(cls.TOPIC)
    if a is None:  # built once per type: building one costs milliseconds
        a = _ADAPTERS[cls.TOPIC] = TypeAdapter(cls)
    return a


def json_schema(cls: type[Message]) -> dict[str, Any]:
    return _adapter(cls).json_schema()


def to_json_dict(message: Message) -> dict[str, Any]:
    """``{"topic": ..., **fields}``, JSON-ready (what the websocket hub sends)."""
    data: dict[str, Any] = _adapter(type(message)).dump_python(message, mode="json")
    return {"topic": message.TOPIC, **data}


def from_json_dict(data: dict[str, Any]) -> Message:
    """The inverse of :func:`to_json_dict`; an unknown topic or a bad field raises ValueError
    (pydantic's ValidationError is one)."""
    fields = dict(data)
    topic = fields.pop("topic", None)
    cls = MESSAGE_TYPES.get(topic) if isinstance(topic, str) else None
    if cls is None:
        raise ValueError(f"unknown bus topic {topic!r}")
    msg: Message = _adapter(cls).validate_python(fields)
    return msg
