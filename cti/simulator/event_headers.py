"""AMI event builders with Asterisk 22's exact header order (see tests/data/ami-transcripts/).

Every function returns the header list of one event; nothing here does I/O. Header order is
part of the contract: tests/cti/simulator/test_header_order.py compares each event type with
the order found in the real captures.
"""

from __future__ import annotations

from dataclasses import dataclass

from cti.simulator.wire import Header

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}

CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
}

# The Privilege header of each event type, as Asterisk 22 prints it (from the captures).
PRIVILEGE = {
    "AGIExecEnd": "agi,all",
    "AGIExecStart": "agi,all",
    "AgentCalled": "agent,all",
    "AgentComplete": "agent,all",
    "AgentConnect": "agent,all",
    "AgentRingNoAnswer": "agent,all",
    "AttendedTransfer": "call,all",
    "BlindTransfer": "call,all",
    "BridgeCreate": "call,all",
    "BridgeDestroy": "call,all",
    "BridgeEnter": "call,all",
    "BridgeLeave": "call,all",
    "Cdr": "cdr,all",
    "ChanSpyStart": "call,all",
    "ChanSpyStop": "call,all",
    "DTMFBegin": "dtmf,all",
    "DTMFEnd": "dtmf,all",
    "DeviceStateChange": "call,all",
    "DialBegin": "call,all",
    "DialEnd": "call,all",
    "DialState": "call,all",
    "FullyBooted": "system,all",
    "Hangup": "call,all",
    "HangupRequest": "call,all",
    "LocalBridge": "call,all",
    "MusicOnHoldStart": "call,all",
    "MusicOnHoldStop": "call,all",
    "NewCallerid": "call,all",
    "NewConnectedLine": "call,all",
    "Newchannel": "call,all",
    "Newexten": "dialplan,all",
    "Newstate": "call,all",
    "OriginateResponse": "call,all",
    "QueueCallerAbandon": "agent,all",
    "QueueCallerJoin": "agent,all",
    "QueueCallerLeave": "agent,all",
    "QueueMemberStatus": "agent,all",
    "RequestBadFormat": "security,all",
    "SoftHangupRequest": "call,all",
    "SuccessfulAuth": "security,all",
    "VarSet": "dialplan,all",
}


@dataclass(frozen=True, slots=True)
class ChannelSnap:
    """What AMI prints about a channel at one instant (the standard channel block)."""

    name: str
    state: int
    cid_num: str
    cid_name: str
    cl_num: str
    cl_name: str
    context: str
    exten: str
    priority: int
    uniqueid: str
    linkedid: str
    language: str = "en"
    accountcode: str = ""


def channel_block(snap: ChannelSnap, prefix: str = "") -> list[Header]:
    p = prefix
    return [
        (f"{p}Channel", snap.name),
        (f"{p}ChannelState", str(snap.state)),
        (f"{p}ChannelStateDesc", STATE_DESC.get(snap.state, "Unknown")),
        (f"{p}CallerIDNum", snap.cid_num),
        (f"{p}CallerIDName", snap.cid_name),
        (f"{p}ConnectedLineNum", snap.cl_num),
        (f"{p}ConnectedLineName", snap.cl_name),
        (f"{p}Language", snap.language),
        (f"{p}AccountCode", snap.accountcode),
        (f"{p}Context", snap.context),
        (f"{p}Exten", snap.exten),
        (f"{p}Priority", str(snap.priority)),
        (f"{p}Uniqueid", snap.uniqueid),
        (f"{p}Linkedid", snap.linkedid),
    ]


def event(name: str, *parts: list[Header]) -> list[Header]:
    out: list[Header] = [("Event", name), ("Privilege", PRIVILEGE[name])]
    for part in parts:
        out.extend(part)
    return out


def event_name(headers: list[Header]) -> str:
    return headers[0][1] if headers and headers[0][0] == "Event" else ""


def event_class(headers: list[Header]) -> str:
    """The first class of the Privilege header ('dialplan', 'call', ...)."""
    for k, v in headers:
        if k == "Privilege":
            return v.split(",", 1)[0].lower()
    return ""


# --- channel lifecycle ------------------------------------------------------------------------


def newchannel(ch: ChannelSnap) -> list[Header]:
    return event("Newchannel", channel_block(ch))


def newstate(ch: ChannelSnap) -> list[Header]:
    return event("Newstate", channel_block(ch))


def newexten(ch: ChannelSnap, app: str, data: str) -> list[Header]:
    return event(
        "Newexten",
        channel_block(ch),
        [("Extension", ch.exten), ("Application", app), ("AppData", data)],
    )


def varset(ch: ChannelSnap, variable: str, value: str) -> list[Header]:
    return event("VarSet", channel_block(ch), [("Variable", variable), ("Value", value)])


def newcallerid(ch: ChannelSnap) -> list[Header]:
    return event(
        "NewCallerid",
        channel_block(ch),
        [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")],
    )


def newconnectedline(ch: ChannelSnap) -> list[Header]:
    return event("NewConnectedLine", channel_block(ch))


def hangup_request(
    ch: ChannelSnap, cause: int | None = None, tech_cause: int | None = None
) -> list[Header]:
    extra: list[Header] = []
    if cause is not None:
        extra.append(("Cause", str(cause)))
        if tech_cause is not None:
            extra.append(("TechCause", str(tech_cause)))
    return event("HangupRequest", channel_block(ch), extra)


def soft_hangup_request(ch: ChannelSnap, cause: int = 16) -> list[Header]:
    return event("SoftHangupRequest", channel_block(ch), [("Cause", str(cause))])


def hangup(ch: ChannelSnap, cause: int, tech_cause: int | None = None) -> list[Header]:
    extra: list[Header] = [("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))]
    if tech_cause is not None:
        extra.append(("TechCause", str(tech_cause)))
    return event("Hangup", channel_block(ch), extra)


def device_state_change(device: str, state: str) -> list[Header]:
    return event("DeviceStateChange", [("Device", device), ("State", state)])


# --- dialing ----------------------------------------------------------------------------------


def _caller_dest(caller: ChannelSnap | None, dest: ChannelSnap) -> list[Header]:
    out: list[Header] = [] if caller is None else channel_block(caller)
    out.extend(channel_block(dest, "Dest"))
    return out


def dial_begin(caller: ChannelSnap | None, dest: ChannelSnap, dial_string: str) -> list[Header]:
    return event("DialBegin", _caller_dest(caller, dest), [("DialString", dial_string)])


def dial_state(caller: ChannelSnap | None, dest: ChannelSnap, status: str) -> list[Header]:
    return event("DialState", _caller_dest(caller, dest), [("DialStatus", status)])


def dial_end(caller: ChannelSnap | None, dest: ChannelSnap, status: str) -> list[Header]:
    return event("DialEnd", _caller_dest(caller, dest), [("DialStatus", status)])


def local_bridge(one: ChannelSnap, two: ChannelSnap, context: str, exten: str) -> list[Header]:
    return event(
        "LocalBridge",
        channel_block(one, "LocalOne"),
        channel_block(two, "LocalTwo"),
        [("Context", context), ("Exten", exten), ("LocalOptimization", "Yes")],
    )


def originate_response(
    *,
    action_id: str | None,
    success: bool,
    channel: str,
    context: str,
    exten: str,
    reason: int,
    uniqueid: str,
    cid_num: str,
    cid_name: str,
) -> list[Header]:
    head: list[Header] = []
    if action_id is not None:
        head.append(("ActionID", action_id))
    head.extend(
        [
            ("Response", "Success" if success else "Failure"),
            ("Channel", channel),
            ("Context", context),
            ("Exten", exten),
            ("Reason", str(reason)),
            ("Uniqueid", uniqueid),
            ("CallerIDNum", cid_num),
            ("CallerIDName", cid_name),
        ]
    )
    return event("OriginateResponse", head)


# --- bridges ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BridgeSnap:
    uniqueid: str
    num_channels: int
    technology: str = "simple_bridge"


def _bridge_block(b: BridgeSnap) -> list[Header]:
    return [
        ("BridgeUniqueid", b.uniqueid),
        ("BridgeType", "basic"),
        ("BridgeTechnology", b.technology),
        ("BridgeCreator", "<unknown>"),
        ("BridgeName", "<unknown>"),
        ("BridgeNumChannels", str(b.num_channels)),
        ("BridgeVideoSourceMode", "none"),
    ]


def _prefixed(prefix: str, block: list[Header]) -> list[Header]:
    return [(prefix + k, v) for k, v in block]


def blind_transfer(
    transferer: ChannelSnap, transferee: ChannelSnap, b: BridgeSnap, context: str, exten: str
) -> list[Header]:
    """BlindTransfer as Asterisk 22 publishes it (stasis_bridges.c: transferer and transferee
    channel blocks with their prefixes, the bridge block, IsExternal, Context, Extension)."""
    return event(
        "BlindTransfer",
        [("Result", "Success")],
        channel_block(transferer, "Transferer"),
        channel_block(transferee, "Transferee"),
        _bridge_block(b),
        [("IsExternal", "No"), ("Context", context), ("Extension", exten)],
    )


def attended_transfer(
    transferer: ChannelSnap,
    orig_bridge: BridgeSnap,
    transferee: ChannelSnap,
    target: ChannelSnap,
) -> list[Header]:
    """AttendedTransfer completed by the transferer hanging up after the consultation
    (DestType Bridge: the target joins the transferee's bridge). The consultation runs on the
    transferer's own channel, so it is also the SecondTransferer."""
    return event(
        "AttendedTransfer",
        [("Result", "Success")],
        channel_block(transferer, "OrigTransferer"),
        _prefixed("Orig", _bridge_block(orig_bridge)),
        channel_block(transferer, "SecondTransferer"),
        channel_block(transferee, "Transferee"),
        channel_block(target, "TransferTarget"),
        [("IsExternal", "No"), ("DestType", "Bridge"),
         ("DestBridgeUniqueid", orig_bridge.uniqueid)],
    )


def bridge_create(b: BridgeSnap) -> list[Header]:
    return event("BridgeCreate", _bridge_block(b))


def bridge_enter(b: BridgeSnap, ch: ChannelSnap) -> list[Header]:
    return event("BridgeEnter", _bridge_block(b), channel_block(ch))


def bridge_leave(b: BridgeSnap, ch: ChannelSnap) -> list[Header]:
    return event("BridgeLeave", _bridge_block(b), channel_block(ch))


def bridge_destroy(b: BridgeSnap) -> list[Header]:
    return event("BridgeDestroy", _bridge_block(b))


# --- media, AGI, supervision ------------------------------------------------------------------


def dtmf_begin(ch: ChannelSnap, digit: str, direction: str = "Received") -> list[Header]:
    return event("DTMFBegin", channel_block(ch), [("Digit", digit), ("Direction", direction)])


def dtmf_end(
    ch: ChannelSnap, digit: str, duration_ms: int = 160, direction: str = "Received"
) -> list[Header]:
    return event(
        "DTMFEnd",
        channel_block(ch),
        [("Digit", digit), ("DurationMs", str(duration_ms)), ("Direction", direction)],
    )


def moh_start(ch: ChannelSnap, klass: str = "default") -> list[Header]:
    return event("MusicOnHoldStart", channel_block(ch), [("Class", klass)])


def moh_stop(ch: ChannelSnap) -> list[Header]:
    return event("MusicOnHoldStop", channel_block(ch))


def agi_exec_start(ch: ChannelSnap, command_id: int, command: str) -> list[Header]:
    return event(
        "AGIExecStart", channel_block(ch), [("CommandId", str(command_id)), ("Command", command)]
    )


def agi_exec_end(
    ch: ChannelSnap, command_id: int, command: str, code: int, result: str
) -> list[Header]:
    return event(
        "AGIExecEnd",
        channel_block(ch),
        [
            ("CommandId", str(command_id)),
            ("Command", command),
            ("ResultCode", str(code)),
            ("Result", result),
        ],
    )


def chanspy_start(spyer: ChannelSnap, spyee: ChannelSnap) -> list[Header]:
    return event("ChanSpyStart", channel_block(spyer, "Spyer"), channel_block(spyee, "Spyee"))


def chanspy_stop(spyer: ChannelSnap, spyee: ChannelSnap) -> list[Header]:
    return event("ChanSpyStop", channel_block(spyer, "Spyer"), channel_block(spyee, "Spyee"))


# --- queue (the dialplan's degraded-mode fallback) --------------------------------------------


def queue_caller_join(ch: ChannelSnap, queue: str, position: int, count: int) -> list[Header]:
    return event(
        "QueueCallerJoin",
        channel_block(ch),
        [("Queue", queue), ("Position", str(position)), ("Count", str(count))],
    )


def queue_caller_leave(ch: ChannelSnap, queue: str, position: int, count: int) -> list[Header]:
    return event(
        "QueueCallerLeave",
        channel_block(ch),
        [("Queue", queue), ("Position", str(position)), ("Count", str(count))],
    )


def queue_caller_abandon(
    ch: ChannelSnap, queue: str, position: int, hold_time: int
) -> list[Header]:
    return event(
        "QueueCallerAbandon",
        channel_block(ch),
        [
            ("Queue", queue),
            ("Position", str(position)),
            ("OriginalPosition", str(position)),
            ("HoldTime", str(hold_time)),
        ],
    )


def _agent_common(
    caller: ChannelSnap, dest: ChannelSnap, queue: str, interface: str, member: str
) -> list[Header]:
    out = channel_block(caller)
    out.extend(channel_block(dest, "Dest"))
    out.extend([("Queue", queue), ("Interface", interface), ("MemberName", member)])
    return out


def agent_called(
    caller: ChannelSnap, dest: ChannelSnap, queue: str, interface: str, member: str
) -> list[Header]:
    return event("AgentCalled", _agent_common(caller, dest, queue, interface, member))


def agent_connect(
    caller: ChannelSnap,
    dest: ChannelSnap,
    queue: str,
    interface: str,
    member: str,
    hold_time: int,
    ring_time_s: int,
) -> list[Header]:
    return event(
        "AgentConnect",
        _agent_common(caller, dest, queue, interface, member),
        [("HoldTime", str(hold_time)), ("RingTime", str(ring_time_s))],
    )


def agent_complete(
    caller: ChannelSnap,
    dest: ChannelSnap,
    queue: str,
    interface: str,
    member: str,
    hold_time: int,
    talk_time: int,
    reason: str,
) -> list[Header]:
    return event(
        "AgentComplete",
        _agent_common(caller, dest, queue, interface, member),
        [("HoldTime", str(hold_time)), ("TalkTime", str(talk_time)), ("Reason", reason)],
    )


def agent_ring_no_answer(
    caller: ChannelSnap,
    dest: ChannelSnap,
    queue: str,
    interface: str,
    member: str,
    ring_time_ms: int,
) -> list[Header]:
    return event(
        "AgentRingNoAnswer",
        _agent_common(caller, dest, queue, interface, member),
        [("RingTime", str(ring_time_ms))],
    )


# --- CDR --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CdrRecord:
    source: str
    destination: str
    destination_context: str
    caller_id: str
    channel: str
    destination_channel: str
    last_application: str
    last_data: str
    start_time: str
    answer_time: str
    end_time: str
    duration: int
    billable: int
    disposition: str
    uniqueid: str


def cdr(r: CdrRecord) -> list[Header]:
    return event(
        "Cdr",
        [
            ("AccountCode", ""),
            ("Source", r.source),
            ("Destination", r.destination),
            ("DestinationContext", r.destination_context),
            ("CallerID", r.caller_id),
            ("Channel", r.channel),
            ("DestinationChannel", r.destination_channel),
            ("LastApplication", r.last_application),
            ("LastData", r.last_data),
            ("StartTime", r.start_time),
            ("AnswerTime", r.answer_time),
            ("EndTime", r.end_time),
            ("Duration", str(r.duration)),
            ("BillableSeconds", str(r.billable)),
            ("Disposition", r.disposition),
            ("AMAFlags", "DOCUMENTATION"),
            ("UniqueID", r.uniqueid),
            ("UserField", ""),
        ],
    )


# --- session-level events ---------------------------------------------------------------------


def fully_booted(uptime: int) -> list[Header]:
    return event(
        "FullyBooted",
        [("Uptime", str(uptime)), ("LastReload", str(uptime)), ("Status", "Fully Booted")],
    )


def successful_auth(
    *, event_tv: str, account: str, session_id: str, local: str, remote: str, session_tv: str
) -> list[Header]:
    return event(
        "SuccessfulAuth",
        [
            ("EventTV", event_tv),
            ("Severity", "Informational"),
            ("Service", "AMI"),
            ("EventVersion", "1"),
            ("AccountID", account),
            ("SessionID", session_id),
            ("LocalAddress", local),
            ("RemoteAddress", remote),
            ("UsingPassword", "0"),
            ("SessionTV", session_tv),
        ],
    )


def request_bad_format(
    *,
    event_tv: str,
    session_id: str,
    local: str,
    remote: str,
    request_type: str,
    session_tv: str,
    account: str,
) -> list[Header]:
    return event(
        "RequestBadFormat",
        [
            ("EventTV", event_tv),
            ("Severity", "Error"),
            ("Service", "AMI"),
            ("EventVersion", "1"),
            ("SessionID", session_id),
            ("LocalAddress", local),
            ("RemoteAddress", remote),
            ("RequestType", request_type),
            ("SessionTV", session_tv),
            ("AccountID", account),
        ],
    )


@dataclass(frozen=True, slots=True)
class MemberSnap:
    queue: str
    name: str
    interface: str
    calls_taken: int
    last_call: int
    login_time: int
    in_call: bool
    status: int  # 1 not in use, 3 busy, 5 unavailable (AST_DEVICE_*)


def queue_member_status(m: MemberSnap) -> list[Header]:
    return event(
        "QueueMemberStatus",
        [
            ("Queue", m.queue),
            ("MemberName", m.name),
            ("Interface", m.interface),
            ("StateInterface", m.interface),
            ("Membership", "static"),
            ("Penalty", "0"),
            ("CallsTaken", str(m.calls_taken)),
            ("LastCall", str(m.last_call)),
            ("LastPause", "0"),
            ("LoginTime", str(m.login_time)),
            ("InCall", "1" if m.in_call else "0"),
            ("Status", str(m.status)),
            ("Paused", "0"),
            ("PausedReason", ""),
            ("Ringinuse", "0"),
            ("Wrapuptime", "0"),
        ],
    )


# RTP statistics Asterisk sets on a PJSIP channel that carried media, just before its Hangup.
RTP_QOS_VARS = (
    (
        "RTPAUDIOQOS",
        "ssrc=0;themssrc=0;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;"
        "txcount=0;rlp=0;rtt=0.000000;rxmes=0.000000;txmes=0.000000",
    ),
    (
        "RTPAUDIOQOSJITTER",
        "minrxjitter=000.000000;maxrxjitter=000.000000;avgrxjitter=000.000000;"
        "stdevrxjitter=000.000000;mintxjitter=000.000000;maxtxjitter=000.000000;"
        "avgtxjitter=000.000000;stdevtxjitter=000.000000;",
    ),
    (
        "RTPAUDIOQOSLOSS",
        "  minrxlost=000.000000;  maxrxlost=000.000000;  avgrxlost=000.000000;"
        "  stdevrxlost=000.000000;  mintxlost=000.000000;  maxtxlost=000.000000;"
        "  avgtxlost=000.000000;  stdevtxlost=000.000000;",
    ),
    (
        "RTPAUDIOQOSRTT",
        "     minrtt=000.000000;     maxrtt=000.000000;     avgrtt=000.000000;"
        "     stdevrtt=000.000000;",
    ),
    (
        "RTPAUDIOQOSMES",
        "   minrxmes=000.000000;   maxrxmes=000.000000;   avgrxmes=000.000000;"
        "   stdevrxmes=000.000000;   mintxmes=000.000000;   maxtxmes=000.000000;"
        "   avgtxmes=000.000000;   stdevtxmes=000.000000;",
    ),
)
