"""Typed CTI events: what the product uses out of the AMI event stream.

:func:`cti.parse.parse` turns one framed AMI message into one of these (or None). Everything past
that boundary works on these frozen dataclasses, never on raw header dicts.

Conventions:
- A channel's snapshot (the ``Channel``/``Uniqueid``/``CallerIDNum``... block Asterisk repeats in
  every channel event, and with a prefix such as ``Dest`` or ``Spyee``) is a :class:`ChannelInfo`.
- Asterisk's ``<unknown>`` placeholder is normalised to "" so "no value" has one spelling.
- Times are seconds (float). AgentRingNoAnswer's RingTime arrives in milliseconds and is converted.
"""

from __future__ import annotations

from dataclasses import dataclass

# Channel states (ast_channel_state); the ones the product branches on.
STATE_DOWN = 0
STATE_RING = 4
STATE_RINGING = 5
STATE_UP = 6
STATE_BUSY = 7

# Hangup causes (Q.850) worth naming.
CAUSE_UNKNOWN = 0
CAUSE_NORMAL_CLEARING = 16
CAUSE_USER_BUSY = 17
CAUSE_NO_USER_RESPONSE = 18
CAUSE_NO_ANSWER = 19
CAUSE_CALL_REJECTED = 21

# OriginateResponse Reason (enum ast_control_frame_type as Asterisk reports it).
ORIGINATE_REASON_FAILED = 0
ORIGINATE_REASON_HANGUP = 1
ORIGINATE_REASON_RINGING = 3
ORIGINATE_REASON_ANSWERED = 4
ORIGINATE_REASON_BUSY = 5
ORIGINATE_REASON_CONGESTION = 8


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One channel as a channel event describes it."""

    channel: str
    uniqueid: str
    linkedid: str
    state: int
    state_desc: str
    caller_id_num: str
    caller_id_name: str
    connected_line_num: str
    connected_line_name: str
    context: str
    exten: str
    account_code: str = ""

    @property
    def device(self) -> str:
        """The device part of the channel name: "PJSIP/1001-00000004" -> "PJSIP/1001"."""
        return channel_device(self.channel)


def channel_device(channel: str) -> str:
    """Strip the per-call suffix of a channel name; Local channels keep "Local/x@ctx"."""
    base, sep, _suffix = channel.rpartition("-")
    return base if sep else channel


# --------------------------------------------------------------------------- channel lifecycle


@dataclass(frozen=True, slots=True)
class ChannelCreated:
    """Newchannel."""

    chan: ChannelInfo


@dataclass(frozen=True, slots=True)
class ChannelStateChanged:
    """Newstate: the new state is ``chan.state``."""

    chan: ChannelInfo


@dataclass(frozen=True, slots=True)
class CallerIdChanged:
    """NewCallerid: the channel's caller ID is now ``chan.caller_id_num/name`` (an Originate's
    CallerID arrives this way, after the Newchannel that still shows the device's own)."""

    chan: ChannelInfo


@dataclass(frozen=True, slots=True)
class ChannelHungUp:
    """Hangup."""

    chan: ChannelInfo
    cause: int
    cause_txt: str


@dataclass(frozen=True, slots=True)
class DialBegin:
    """DialBegin. ``caller`` is None when Asterisk dials on its own (Originate)."""

    caller: ChannelInfo | None
    dest: ChannelInfo
    dial_string: str


@dataclass(frozen=True, slots=True)
class DialEnd:
    """DialEnd: ``dial_status`` is ANSWER, BUSY, NOANSWER, CANCEL, CONGESTION, CHANUNAVAIL ..."""

    caller: ChannelInfo | None
    dest: ChannelInfo
    dial_status: str


@dataclass(frozen=True, slots=True)
class BridgeEntered:
    """BridgeEnter."""

    bridge_id: str
    bridge_type: str
    num_channels: int
    chan: ChannelInfo


@dataclass(frozen=True, slots=True)
class BridgeLeft:
    """BridgeLeave."""

    bridge_id: str
    bridge_type: str
    num_channels: int
    chan: ChannelInfo


@dataclass(frozen=True, slots=True)
class Hold:
    """Hold: a phone (or our hold action) put the channel on hold."""

    chan: ChannelInfo
    music_class: str


@dataclass(frozen=True, slots=True)
class Unhold:
    chan: ChannelInfo


@dataclass(frozen=True, slots=True)
class MusicOnHoldStarted:
    """MusicOnHoldStart: queue waiting music, or a party put on hold (Redirect hold, SIP hold)."""

    chan: ChannelInfo
    music_class: str


@dataclass(frozen=True, slots=True)
class MusicOnHoldStopped:
    chan: ChannelInfo


@dataclass(frozen=True, slots=True)
class DtmfBegin:
    chan: ChannelInfo
    digit: str
    direction: str


@dataclass(frozen=True, slots=True)
class DtmfEnd:
    """DTMFEnd. SIP INFO DTMF produces only this one, without a DtmfBegin."""

    chan: ChannelInfo
    digit: str
    duration_ms: int
    direction: str


@dataclass(frozen=True, slots=True)
class OriginateResult:
    """OriginateResponse (async Originate). ``uniqueid`` is "" when no channel came up.

    Reason 4 is answered; a busy callee reports Failure with Reason 0 (not 5) and the channel's
    Hangup carries cause 17; no answer is Reason 3 with cause 19.
    """

    action_id: str
    success: bool
    reason: int
    channel: str
    uniqueid: str
    context: str
    exten: str
    caller_id_num: str
    caller_id_name: str


# --------------------------------------------------------------------------- device / hint state


@dataclass(frozen=True, slots=True)
class DeviceStateChanged:
    """DeviceStateChange: ``state`` is NOT_INUSE, INUSE, BUSY, RINGING, UNAVAILABLE ..."""

    device: str
    state: str


@dataclass(frozen=True, slots=True)
class ExtensionStateChanged:
    """ExtensionStatus (hint state)."""

    exten: str
    context: str
    hint: str
    status: int
    status_text: str


# --------------------------------------------------------------------------- app_queue


@dataclass(frozen=True, slots=True)
class QueueCallerJoin:
    chan: ChannelInfo
    queue: str
    position: int
    count: int


@dataclass(frozen=True, slots=True)
class QueueCallerLeave:
    chan: ChannelInfo
    queue: str
    position: int
    count: int


@dataclass(frozen=True, slots=True)
class QueueCallerAbandon:
    chan: ChannelInfo
    queue: str
    position: int
    original_position: int
    hold_time: float


@dataclass(frozen=True, slots=True)
class AgentCalled:
    """A queue member's phone is being rung. ``chan`` is the caller, ``dest`` the agent leg."""

    chan: ChannelInfo
    dest: ChannelInfo
    queue: str
    interface: str
    member_name: str


@dataclass(frozen=True, slots=True)
class AgentConnect:
    """The agent answered. Asterisk's RingTime here is already in seconds."""

    chan: ChannelInfo
    dest: ChannelInfo
    queue: str
    interface: str
    member_name: str
    hold_time: float
    ring_time: float


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer:
    """The agent did not answer. Asterisk reports RingTime in milliseconds; this is seconds."""

    chan: ChannelInfo
    dest: ChannelInfo
    queue: str
    interface: str
    member_name: str
    ring_time: float


@dataclass(frozen=True, slots=True)
class AgentComplete:
    """The queue call ended; ``reason`` is "caller", "agent" or "transfer"."""

    chan: ChannelInfo
    dest: ChannelInfo
    queue: str
    interface: str
    member_name: str
    hold_time: float
    talk_time: float
    reason: str


@dataclass(frozen=True, slots=True)
class QueueMemberChanged:
    """QueueMemberStatus/Pause/Penalty/Added/Removed, one shape: ``change`` says which.

    ``status`` is app_queue's device status (1 not in use, 2 in use, 3 busy, 5 unavailable,
    6 ringing ...). Useful when app_queue is the fallback router (the CTI was down).
    """

    change: str
    queue: str
    interface: str
    member_name: str
    status: int
    paused: bool
    paused_reason: str
    in_call: bool
    calls_taken: int
    penalty: int


# --------------------------------------------------------------------------- transfers, spying


@dataclass(frozen=True, slots=True)
class BlindTransfer:
    result: str
    transferer: ChannelInfo
    transferee: ChannelInfo | None
    bridge_id: str
    is_external: bool
    context: str
    extension: str


@dataclass(frozen=True, slots=True)
class AttendedTransfer:
    """AttendedTransfer: ``dest_type`` is Bridge, App, Link, Threeway or Fail."""

    result: str
    orig_transferer: ChannelInfo
    second_transferer: ChannelInfo | None
    transferee: ChannelInfo | None
    transfer_target: ChannelInfo | None
    orig_bridge_id: str
    second_bridge_id: str
    dest_type: str
    dest_bridge_id: str
    dest_app: str


@dataclass(frozen=True, slots=True)
class ChanSpyStarted:
    spyer: ChannelInfo
    spyee: ChannelInfo


@dataclass(frozen=True, slots=True)
class ChanSpyStopped:
    spyer: ChannelInfo
    spyee: ChannelInfo | None


# --------------------------------------------------------------------------- snapshots, variables


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    """One CoreShowChannel row (the answer to CoreShowChannels)."""

    chan: ChannelInfo
    application: str
    application_data: str
    duration_s: int
    bridge_id: str
    action_id: str


# VarSet is the bulk of AMI traffic; only these variables reach the product. A leading "__"/"_"
# (inheritance marker) is stripped before the lookup so __INBOUND_DID arrives as INBOUND_DID.
VARSET_WHITELIST: frozenset[str] = frozenset(
    {
        "AMDSTATUS",
        "AMDCAUSE",
        "DIALSTATUS",
        "IVR_QUEUE",
        "CTI_CALL_ID",
        "AGISTATUS",
        "QUEUESTATUS",
        "INBOUND_DID",
    }
)


@dataclass(frozen=True, slots=True)
class VarSet:
    chan: ChannelInfo
    variable: str
    value: str


# --------------------------------------------------------------------------- synthetic (client)


@dataclass(frozen=True, slots=True)
class AmiConnected:
    """Emitted by the AMI client after a successful login."""

    banner: str


@dataclass(frozen=True, slots=True)
class AmiLost:
    """Emitted by the AMI client when the connection dropped; events may have been missed."""

    reason: str


@dataclass(frozen=True, slots=True)
class AmiResynced:
    """Emitted by the AMI client after CoreShowChannels was replayed into the tracker."""

    channels: tuple[ChannelSnapshot, ...]


CtiEvent = (
    ChannelCreated
    | ChannelStateChanged
    | CallerIdChanged
    | ChannelHungUp
    | DialBegin
    | DialEnd
    | BridgeEntered
    | BridgeLeft
    | Hold
    | Unhold
    | MusicOnHoldStarted
    | MusicOnHoldStopped
    | DtmfBegin
    | DtmfEnd
    | OriginateResult
    | DeviceStateChanged
    | ExtensionStateChanged
    | QueueCallerJoin
    | QueueCallerLeave
    | QueueCallerAbandon
    | AgentCalled
    | AgentConnect
    | AgentRingNoAnswer
    | AgentComplete
    | QueueMemberChanged
    | BlindTransfer
    | AttendedTransfer
    | ChanSpyStarted
    | ChanSpyStopped
    | ChannelSnapshot
    | VarSet
    | AmiConnected
    | AmiLost
    | AmiResynced
)
