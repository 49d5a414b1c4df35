"""Read models of the call tracker: what routes, the call log and bus messages see of a call.

Snapshots only (frozen): the tracker (cti.calls.CallTracker) keeps its own mutable records and
hands these out, so a holder can never change tracking state. ``CallView.call_id`` is the
Asterisk Linkedid, the one call id every bus message and consumer joins on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from cti.ownership import AgentRef, AgentSegment


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class OriginKind(StrEnum):
    """Who placed an outbound call ("" for an inbound one)."""

    NONE = ""
    CLICK_TO_DIAL = "click_to_dial"
    CALLBACK = "callback"  # an ACD callback (acd/callbacks.py)
    DIALER = "dialer"
    SUPERVISOR = "supervisor"  # a supervisor's phone, to listen/whisper/barge
    ORIGINATE = "originate"  # another AMI client's Originate
    PHONE = "phone"  # placed from a user's desk phone

# CallEnded.reason values.
END_COMPLETED = "completed"
END_ABANDONED = "abandoned"
END_NOT_ANSWERED = "not answered"
END_BUSY = "busy"
END_NO_ANSWER = "no answer"
END_REJECTED = "rejected"
END_CONGESTION = "congestion"
END_FAILED = "failed"
END_LOST = "lost during disconnect"

# --------------------------------------------------------------------------- read-only views


@dataclass(frozen=True, slots=True)
class LegView:
    uniqueid: str
    channel: str
    device: str
    state: int
    state_desc: str
    caller_id_num: str
    caller_id_name: str
    created_at: float
    answered_at: float | None
    ended_at: float | None
    hangup_cause: int | None
    on_hold: bool
    bridge_id: str


@dataclass(frozen=True, slots=True)
class TransferView:
    """``from_agent`` is the transferring agent's username (its device when no user owns it);
    ``by`` the user who asked for it over the API ("" when done from the phone)."""

    kind: Literal["blind", "attended"]
    at: float
    from_agent: str
    target: str
    result: str
    by: str = ""


@dataclass(frozen=True, slots=True)
class RingNoAnswerView:
    interface: str
    member_name: str
    ring_time: float
    at: float


@dataclass(frozen=True, slots=True)
class CallView:
    """A snapshot of one call. Every ``pbx.call.*`` message (common.messages) carries the
    snapshot after the change."""

    call_id: str
    direction: Direction
    origin: OriginKind
    cti_call_id: str
    originate_action_id: str
    originate_reason: int | None
    caller_num: str
    caller_name: str
    dialled: str
    queue: str
    agent: AgentRef | None
    segments: tuple[AgentSegment, ...]
    far_status: str
    offered_at: float
    queued_at: float | None
    answered_at: float | None
    ended_at: float | None
    hangup_cause: int | None
    hangup_cause_txt: str
    end_reason: str
    abandoned: bool
    amd_status: str
    amd_cause: str
    supervisors: tuple[str, ...]
    transfers: tuple[TransferView, ...]
    ring_no_answers: tuple[RingNoAnswerView, ...]
    legs: tuple[LegView, ...]

    @property
    def active(self) -> bool:
        return self.ended_at is None
