"""AMI message -> typed CTI event.

``parse`` never raises on input from the wire: an event the product ignores, an unknown event, a
response, or an event missing the fields that identify it all give None; a missing or garbled
secondary field falls back to a default ("" or 0). Dispatch is one dict lookup on ``Event``, and
VarSet (most of the traffic) is discarded on its ``Variable`` before anything is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cti.events import (
    VARSET_WHITELIST,
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentRingNoAnswer,
    AttendedTransfer,
    BlindTransfer,
    BridgeEntered,
    BridgeLeft,
    CallerIdChanged,
    ChannelCreated,
    ChannelHungUp,
    ChannelInfo,
    ChannelSnapshot,
    ChannelStateChanged,
    ChanSpyStarted,
    ChanSpyStopped,
    CtiEvent,
    DeviceStateChanged,
    DialBegin,
    DialEnd,
    DtmfBegin,
    DtmfEnd,
    ExtensionStateChanged,
    Hold,
    MusicOnHoldStarted,
    MusicOnHoldStopped,
    OriginateResult,
    QueueCallerAbandon,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueMemberChanged,
    Unhold,
    VarSet,
)
from cti.framing import AmiMessage

_UNKNOWN = "<unknown>"

_CHANNEL_SUFFIXES = (
    "Channel",
    "Uniqueid",
    "Linkedid",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Context",
    "Exten",
    "AccountCode",
)
_KeyTuple = tuple[str, str, str, str, str, str, str, str, str, str, str, str]


def _keys(prefix: str) -> _KeyTuple:
    k = tuple(prefix + s for s in _CHANNEL_SUFFIXES)
    assert len(k) == 12
    return (k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8], k[9], k[10], k[11])


_PLAIN = _keys("")
_DEST = _keys("Dest")
_SPYER = _keys("Spyer")
_SPYEE = _keys("Spyee")
_TRANSFERER = _keys("Transferer")
_TRANSFEREE = _keys("Transferee")
_ORIG_TRANSFERER = _keys("OrigTransferer")
_SECOND_TRANSFERER = _keys("SecondTransferer")
_TRANSFER_TARGET = _keys("TransferTarget")


def _s(v: str | None) -> str:
    if v is None or v == _UNKNOWN:
        return ""
    return v


def _int(v: str | None, default: int = 0) -> int:
    if not v:
        return default
    try:
        return int(v)
    except ValueError:
        return default


def _float(v: str | None, default: float = 0.0) -> float:
    if not v:
        return default
    try:
        f = float(v)
    except ValueError:
        return default
    # NaN and infinities would poison durations and statistics downstream.
    return f if f == f and f not in (float("inf"), float("-inf")) else default


def _chan(m: Mapping[str, str], k: _KeyTuple) -> ChannelInfo | None:
    """The channel block under key set ``k``; None unless it names a channel and a uniqueid."""
    channel = m.get(k[0])
    uniqueid = m.get(k[1])
    if not channel or not uniqueid or uniqueid == _UNKNOWN:
        return None
    return ChannelInfo(
        channel=channel,
        uniqueid=uniqueid,
        # A channel is its own linkedid until linked; older peers omit the header.
        linkedid=m.get(k[2]) or uniqueid,
        state=_int(m.get(k[3])),
        state_desc=m.get(k[4], ""),
        caller_id_num=_s(m.get(k[5])),
        caller_id_name=_s(m.get(k[6])),
        connected_line_num=_s(m.get(k[7])),
        connected_line_name=_s(m.get(k[8])),
        context=m.get(k[9], ""),
        exten=m.get(k[10], ""),
        account_code=m.get(k[11], ""),
    )


def _newchannel(m: AmiMessage) -> CtiEvent | None:
    c = _chan(m, _PLAIN)
    return ChannelCreated(c) if c else None


def _newstate(m: AmiMessage) -> CtiEvent | None:
    c = _chan(m, _PLAIN)
    return ChannelStateChanged(c) if c else None


def _newcallerid(m: AmiMessage) -> CtiEvent | None:
    c = _chan(m, _PLAIN)
    return CallerIdChanged(c) if c else None


def _hangup(m: AmiMessage) -> CtiEvent | None:
    c = _chan(m, _PLAIN)
    if c is None:
        return None
    return ChannelHungUp(c, _int(m.get("Cause")), m.get("Cause-txt", ""))


def _dialbegin(m: AmiMessage) -> CtiEvent | None:
    d = _chan(m, _DEST)
    if d is None:
        return None
    return DialBegin(_chan(m, _PLAIN), d, m.get("DialString", ""))


def _dialend(m: AmiMessage) -> CtiEvent | None:
    d = _chan(m, _DEST)
    if d is None:
        return None
    return DialEnd(_chan(m, _PLAIN), d, m.get("DialStatus", ""))


def _bridgeenter(m: AmiMessage) -> CtiEvent | None:
    c = _chan(m, _PLAIN)
    bridge = m.get("BridgeUniqueid")
    if c is None or not bridge:
        return None
    return BridgeEntered(bridge, m.get("BridgeType", ""), _int(m.get("BridgeNumChannels")), c)


def _bridgeleave(m: AmiMessage) -> CtiEvent | None:
    c = _chan(m, _PLAIN)
    bridge = m.get("BridgeUniqueid")
    if c is None or not bridge:
        return None
    return BridgeLeft(bridge, m.get("BridgeType", ""), _int(m.get("BridgeNumChannels")), c)


def _hold(m: AmiMessage) -> CtiEvent | None:
    c = _chan(m, _PLAIN)
    return Hold(c, m.get("MusicClass", "")) if c else None


def _unhold(m: AmiMessage) -> CtiEvent | None:
    c = _chan(m, _PLAIN)
    return Unhold(c) if c else None


def _moh_start(m: AmiMessage) -> CtiEvent | None:
    c = _chan(m, _PLAIN)
    return MusicOnHoldStarted(c, m.get("Class", "")) if c else None


def _moh_stop(m: AmiMessage) -> CtiEvent | None:
    c = _chan(m, _PLAIN)
    return MusicOnHoldStopped(c) if c else None


def _dtmfbegin(m: AmiMessage) -> CtiEvent | None:
    c = _chan(m, _PLAIN)
    digit = m.get("Digit")
    if c is None or not digit:
        return None
    return DtmfBegin(c, digit, m.get("Direction", ""))


def _dtmfend(m: AmiMessage) -> CtiEvent | None:
    c = _chan(m, _PLAIN)
    digit = m.get("Digit")
    if c is None or not digit:
        return None
    return DtmfEnd(c, digit, _int(m.get("DurationMs")), m.get("Direction", ""))


def _originate(m: AmiMessage) -> CtiEvent | None:
    action_id = m.get("ActionID")
    response = m.get("Response")
    if not action_id or not response:
        return None
    return OriginateResult(
        action_id=action_id,
        success=response.lower() == "success",
        reason=_int(m.get("Reason"), -1),
        channel=m.get("Channel", ""),
        uniqueid=_s(m.get("Uniqueid")),
        context=m.get("Context", ""),
        exten=m.get("Exten", ""),
        caller_id_num=_s(m.get("CallerIDNum")),
        caller_id_name=_s(m.get("CallerIDName")),
    )


def _devicestate(m: AmiMessage) -> CtiEvent | None:
    device = m.get("Device")
    state = m.get("State")
    if not device or not state:
        return None
    return DeviceStateChanged(device, state)


def _extensionstatus(m: AmiMessage) -> CtiEvent | None:
    exten = m.get("Exten")
    if not exten:
        return None
    return ExtensionStateChanged(
        exten=exten,
        context=m.get("Context", ""),
        hint=m.get("Hint", ""),
        status=_int(m.get("Status"), -1),
        status_text=m.get("StatusText", ""),
    )


def _queue_position(
    cls: type[QueueCallerJoin] | type[QueueCallerLeave],
) -> Callable[[AmiMessage], CtiEvent | None]:
    """QueueCallerJoin and QueueCallerLeave carry the same fields."""

    def parse_it(m: AmiMessage) -> CtiEvent | None:
        c = _chan(m, _PLAIN)
        queue = m.get("Queue")
        if c is None or not queue:
            return None
        return cls(c, queue, _int(m.get("Position")), _int(m.get("Count")))

    return parse_it


_queue_join = _queue_position(QueueCallerJoin)
_queue_leave = _queue_position(QueueCallerLeave)


def _queue_abandon(m: AmiMessage) -> CtiEvent | None:
    c = _chan(m, _PLAIN)
    queue = m.get("Queue")
    if c is None or not queue:
        return None
    return QueueCallerAbandon(
        c,
        queue,
        _int(m.get("Position")),
        _int(m.get("OriginalPosition")),
        _float(m.get("HoldTime")),
    )


def _agent_parts(m: AmiMessage) -> tuple[ChannelInfo, ChannelInfo, str, str] | None:
    c = _chan(m, _PLAIN)
    d = _chan(m, _DEST)
    queue = m.get("Queue")
    if c is None or d is None or not queue:
        return None
    # Interface is what routing knows the agent by; fall back to the device of the agent leg.
    return c, d, queue, m.get("Interface") or d.device


def _agent_called(m: AmiMessage) -> CtiEvent | None:
    p = _agent_parts(m)
    if p is None:
        return None
    return AgentCalled(p[0], p[1], p[2], p[3], m.get("MemberName", ""))


def _agent_connect(m: AmiMessage) -> CtiEvent | None:
    p = _agent_parts(m)
    if p is None:
        return None
    return AgentConnect(
        p[0],
        p[1],
        p[2],
        p[3],
        m.get("MemberName", ""),
        hold_time=_float(m.get("HoldTime")),
        ring_time=_float(m.get("RingTime")),
    )


def _agent_ringnoanswer(m: AmiMessage) -> CtiEvent | None:
    p = _agent_parts(m)
    if p is None:
        return None
    return AgentRingNoAnswer(
        p[0], p[1], p[2], p[3], m.get("MemberName", ""), ring_time=_float(m.get("RingTime")) / 1000
    )


def _agent_complete(m: AmiMessage) -> CtiEvent | None:
    p = _agent_parts(m)
    if p is None:
        return None
    return AgentComplete(
        p[0],
        p[1],
        p[2],
        p[3],
        m.get("MemberName", ""),
        hold_time=_float(m.get("HoldTime")),
        talk_time=_float(m.get("TalkTime")),
        reason=m.get("Reason", ""),
    )


_MEMBER_CHANGES = {
    "QueueMemberStatus": "status",
    "QueueMemberPause": "pause",
    "QueueMemberPenalty": "penalty",
    "QueueMemberAdded": "added",
    "QueueMemberRemoved": "removed",
}


def _queue_member(m: AmiMessage) -> CtiEvent | None:
    queue = m.get("Queue")
    interface = m.get("Interface")
    if not queue or not interface:
        return None
    return QueueMemberChanged(
        change=_MEMBER_CHANGES.get(m.get("Event", ""), ""),
        queue=queue,
        interface=interface,
        member_name=m.get("MemberName", ""),
        status=_int(m.get("Status"), -1),
        paused=m.get("Paused") == "1",
        paused_reason=m.get("PausedReason", ""),
        in_call=m.get("InCall") == "1",
        calls_taken=_int(m.get("CallsTaken")),
        penalty=_int(m.get("Penalty")),
    )


def _blind_transfer(m: AmiMessage) -> CtiEvent | None:
    transferer = _chan(m, _TRANSFERER)
    if transferer is None:
        return None
    return BlindTransfer(
        result=m.get("Result", ""),
        transferer=transferer,
        transferee=_chan(m, _TRANSFEREE),
        bridge_id=m.get("BridgeUniqueid", ""),
        is_external=m.get("IsExternal", "").lower() == "yes",
        context=m.get("Context", ""),
        extension=m.get("Extension", ""),
    )


def _attended_transfer(m: AmiMessage) -> CtiEvent | None:
    orig = _chan(m, _ORIG_TRANSFERER)
    if orig is None:
        return None
    return AttendedTransfer(
        result=m.get("Result", ""),
        orig_transferer=orig,
        second_transferer=_chan(m, _SECOND_TRANSFERER),
        transferee=_chan(m, _TRANSFEREE),
        transfer_target=_chan(m, _TRANSFER_TARGET),
        orig_bridge_id=m.get("OrigBridgeUniqueid", ""),
        second_bridge_id=m.get("SecondBridgeUniqueid", ""),
        dest_type=m.get("DestType", ""),
        dest_bridge_id=m.get("DestBridgeUniqueid", ""),
        dest_app=m.get("DestApp", ""),
    )


def _chanspy_start(m: AmiMessage) -> CtiEvent | None:
    spyer = _chan(m, _SPYER)
    spyee = _chan(m, _SPYEE)
    if spyer is None or spyee is None:
        return None
    return ChanSpyStarted(spyer, spyee)


def _chanspy_stop(m: AmiMessage) -> CtiEvent | None:
    spyer = _chan(m, _SPYER)
    if spyer is None:
        return None
    return ChanSpyStopped(spyer, _chan(m, _SPYEE))


def _coreshowchannel(m: AmiMessage) -> CtiEvent | None:
    c = _chan(m, _PLAIN)
    if c is None:
        return None
    return ChannelSnapshot(
        chan=c,
        application=m.get("Application", ""),
        application_data=m.get("ApplicationData", ""),
        duration_s=_hms(m.get("Duration", "")),
        bridge_id=m.get("BridgeId", ""),
        action_id=m.get("ActionID", ""),
    )


def _hms(v: str) -> int:
    """CoreShowChannel Duration "HH:MM:SS" -> seconds; 0 if unparseable."""
    parts = v.split(":")
    if len(parts) != 3:
        return 0
    try:
        h, mi, s = (int(p) for p in parts)
    except ValueError:
        return 0
    if h < 0 or mi < 0 or s < 0:
        return 0
    return h * 3600 + mi * 60 + s


def _varset(m: AmiMessage) -> CtiEvent | None:
    name = m.get("Variable")
    if not name:
        return None
    if name not in VARSET_WHITELIST:
        name = name.lstrip("_")
        if name not in VARSET_WHITELIST:
            return None
    c = _chan(m, _PLAIN)
    if c is None:
        return None
    return VarSet(c, name, m.get("Value", ""))


_DISPATCH: dict[str, Callable[[AmiMessage], CtiEvent | None]] = {
    "VarSet": _varset,
    "Newchannel": _newchannel,
    "Newstate": _newstate,
    "NewCallerid": _newcallerid,
    "Hangup": _hangup,
    "DialBegin": _dialbegin,
    "DialEnd": _dialend,
    "BridgeEnter": _bridgeenter,
    "BridgeLeave": _bridgeleave,
    "Hold": _hold,
    "Unhold": _unhold,
    "MusicOnHoldStart": _moh_start,
    "MusicOnHoldStop": _moh_stop,
    "DTMFBegin": _dtmfbegin,
    "DTMFEnd": _dtmfend,
    "OriginateResponse": _originate,
    "DeviceStateChange": _devicestate,
    "ExtensionStatus": _extensionstatus,
    "QueueCallerJoin": _queue_join,
    "QueueCallerLeave": _queue_leave,
    "QueueCallerAbandon": _queue_abandon,
    "AgentCalled": _agent_called,
    "AgentConnect": _agent_connect,
    "AgentRingNoAnswer": _agent_ringnoanswer,
    "AgentComplete": _agent_complete,
    "QueueMemberStatus": _queue_member,
    "QueueMemberPause": _queue_member,
    "QueueMemberPenalty": _queue_member,
    "QueueMemberAdded": _queue_member,
    "QueueMemberRemoved": _queue_member,
    "BlindTransfer": _blind_transfer,
    "AttendedTransfer": _attended_transfer,
    "ChanSpyStart": _chanspy_start,
    "ChanSpyStop": _chanspy_stop,
    "CoreShowChannel": _coreshowchannel,
}

PARSED_EVENTS: frozenset[str] = frozenset(_DISPATCH)
"""AMI event names ``parse`` may turn into something; every other name gives None."""


def parse(msg: AmiMessage) -> CtiEvent | None:
    """One framed AMI message -> a typed event, or None if the product does not use it."""
    name = msg.get("Event")
    if name is None:
        return None
    handler = _DISPATCH.get(name)
    if handler is None:
        return None
    try:
        return handler(msg)
    except Exception:  # a wire message must never take the reader down
        return None
