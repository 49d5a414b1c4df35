"""Typed values that cross the ACD's boundary: inputs, snapshots and the commands the engine emits.

Everything here is frozen: the engine keeps its own mutable records (acd.agents.Agent, the engine's
call records) and hands out snapshots, so a caller can never corrupt routing state by holding on to
something it was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

Tier = Literal["platinum", "gold", "silver", "bronze", "unknown"]
TIERS: frozenset[str] = frozenset({"platinum", "gold", "silver", "bronze", "unknown"})
# Tiers that get the best-skilled eligible agents first (when the queue asks for it).
VIP_TIERS: frozenset[str] = frozenset({"platinum", "gold"})

MAX_SKILL_LEVEL = 5


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RESERVED = "reserved"  # an offer is ringing on the agent's device (or a callback is dialing)
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class DeviceState(StrEnum):
    """Asterisk device states as AMI reports them (DeviceStateChange / ExtensionStatus)."""

    UNKNOWN = "UNKNOWN"
    NOT_INUSE = "NOT_INUSE"
    INUSE = "INUSE"
    BUSY = "BUSY"
    INVALID = "INVALID"
    UNAVAILABLE = "UNAVAILABLE"
    RINGING = "RINGING"
    RINGINUSE = "RINGINUSE"
    ONHOLD = "ONHOLD"

    @classmethod
    def from_ami(cls, value: str) -> DeviceState:
        """AMI spells states upper case, sometimes with spaces ("NOT INUSE"); unknown -> UNKNOWN."""
        try:
            return cls(value.strip().upper().replace(" ", "_"))
        except ValueError:
            return cls.UNKNOWN


# A phone that is unregistered or does not exist cannot ring: its agent is not routable until it
# comes back. Busy/in-use states are not listed: while the agent is on one of our calls the device
# is naturally INUSE, and an available agent's private call is reported to us as a state change.
UNROUTABLE_DEVICE_STATES: frozenset[DeviceState] = frozenset(
    {DeviceState.UNAVAILABLE, DeviceState.INVALID}
)


class CallState(StrEnum):
    WAITING = "waiting"  # caller on the line, in a queue
    CALLBACK_WAITING = "callback_waiting"  # caller left the line, keeps their place
    OFFERED = "offered"  # agent reserved; ringing (or dialing the customer for a callback)
    CONNECTED = "connected"  # answered; the agent is talking


RemovalReason = Literal["completed", "abandoned", "handed_back"]


# ---------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class NewCall:
    """A call the IVR hands to the ACD. Empty `skills` means the queue's own skills.

    `required_agent`: the call is for that agent only (an agent-owned callback): offered to
    nobody else, and to them before any other call, until `required_grace_s` (None: the
    configured [acd].owner_grace_s) has passed; then it joins `queue` like any call.

    `claim` / `claim_pool`: an outbound call for which an agent was claimed (acd/claims.py):
    it goes straight to the agent of its claim, or else of another claim of its pool, if one
    is held; else it is routed like any call."""

    call_id: str
    queue: str
    tier: str = "unknown"
    skills: frozenset[str] = frozenset()
    number: str = ""
    required_agent: str | None = None
    required_grace_s: float | None = None
    claim: str | None = None
    claim_pool: str = ""


@dataclass(frozen=True, slots=True)
class AgentLogin:
    agent_id: str
    device: str  # e.g. "PJSIP/1001"
    queues: frozenset[str]
    skills: Mapping[str, int] = field(default_factory=dict)
    pause_reason: str | None = None  # log in paused with this reason instead of available


# ------------------------------------------------------------------------------------- snapshots


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    agent_id: str
    device: str
    state: AgentState
    pause_reason: str | None
    state_since: float
    device_state: DeviceState
    routable: bool  # available and its device can ring
    queues: frozenset[str]
    skills: Mapping[str, int]
    call_id: str | None
    calls_today: int
    last_call_end: float | None
    # Seconds spent in each state, closed intervals only (add now - state_since for the current).
    time_in_state: Mapping[AgentState, float]
    # An available agent held for an outbound call on its way (acd/claims.py): that claim's id.
    # Not routable meanwhile.
    claimed_by: str | None = None


@dataclass(frozen=True, slots=True)
class CallSnapshot:
    call_id: str
    queue: str
    tier: str
    skills: frozenset[str]
    state: CallState
    enqueued_at: float  # original enqueue time: survives overflow and re-offers
    queue_since: float  # when it entered its current queue (escalation and max wait run from here)
    min_skill_level: int  # current eligibility threshold (0 = any agent of the queue)
    agent_id: str | None
    number: str
    # The agent it waits for (see NewCall.required_agent) and until when; None once it joined
    # its queue (or never was for one agent).
    required_agent: str | None = None
    required_until: float | None = None


# -------------------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring `device` for `call_id`; report offer_answered / offer_failed."""

    call_id: str
    agent_id: str
    device: str
    queue: str
    ring_timeout_s: float


@dataclass(frozen=True, slots=True)
class PlaceCallback:
    """The agent is reserved for a callback: dial `number` and bridge it to the agent's device."""

    call_id: str
    agent_id: str
    device: str
    queue: str
    number: str


@dataclass(frozen=True, slots=True)
class OfferRetracted:
    """Stop ringing the agent: the call went away (abandon) while the offer was outstanding."""

    call_id: str
    agent_id: str
    device: str


@dataclass(frozen=True, slots=True)
class Overflowed:
    call_id: str
    from_queue: str
    to_queue: str


@dataclass(frozen=True, slots=True)
class OfferCallback:
    """Offer the caller a callback (max wait with nowhere to overflow, or a callback step)."""

    call_id: str
    queue: str


@dataclass(frozen=True, slots=True)
class Announce:
    call_id: str
    queue: str
    position: int  # 1 = next
    estimated_wait_s: float


@dataclass(frozen=True, slots=True)
class CallRemoved:
    """The call left the ACD for good."""

    call_id: str
    queue: str
    reason: RemovalReason
    agent_id: str | None
    waited_s: float  # from the original enqueue to answer (completed) or to abandon


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    agent_id: str
    old: AgentState
    new: AgentState
    reason: str | None  # pause reason, or None
    at: float


@dataclass(frozen=True, slots=True)
class ClaimLost:
    """A claim's agent left `available` (pause, logout) and no other agent its terms allow was
    free to be held in its place (acd/claims.py): the outbound call it was made for has no
    agent waiting for it. The dialer hangs up a line still ringing (not yet answered)."""

    claim_id: str
    pool: str
    agent_id: str  # the agent who left


Command = (
    Offer
    | PlaceCallback
    | OfferRetracted
    | Overflowed
    | OfferCallback
    | Announce
    | CallRemoved
    | AgentStateChanged
    | ClaimLost
)
