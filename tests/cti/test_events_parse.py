from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti import events as ev
from cti.parse import PARSED_EVENTS, parse
from tests.cti import transcripts as tx

ALL = tx.scenarios()


def _first(name: str, cls: type) -> object:
    found = [e for e in tx.events(name) if isinstance(e, cls)]
    assert found, f"no {cls.__name__} in {name}"
    return found[0]


def _chan_block(prefix: str, channel: str, uniqueid: str, linkedid: str) -> dict[str, str]:
    return {
        f"{prefix}Channel": channel,
        f"{prefix}ChannelState": "6",
        f"{prefix}ChannelStateDesc": "Up",
        f"{prefix}CallerIDNum": "1001",
        f"{prefix}CallerIDName": "Agent 1001",
        f"{prefix}ConnectedLineNum": "<unknown>",
        f"{prefix}ConnectedLineName": "<unknown>",
        f"{prefix}Language": "en",
        f"{prefix}AccountCode": "",
        f"{prefix}Context": "agents",
        f"{prefix}Exten": "s",
        f"{prefix}Priority": "1",
        f"{prefix}Uniqueid": uniqueid,
        f"{prefix}Linkedid": linkedid,
    }


# --------------------------------------------------------------------------- real captures


@pytest.mark.parametrize("name", ALL)
def test_every_message_of_every_capture_parses_without_error(name: str) -> None:
    for m in tx.ami_messages(name):
        e = parse(m)
        if e is not None:
            assert dataclasses.is_dataclass(e)
            assert m["Event"] in PARSED_EVENTS


def test_newchannel_of_the_inbound_caller() -> None:
    e = _first("inbound_queue_answered", ev.ChannelCreated)
    assert isinstance(e, ev.ChannelCreated)
    c = e.chan
    assert c.channel == "PJSIP/carrier-00000003"
    assert c.uniqueid == c.linkedid == "1795462481.7"
    assert c.state == ev.STATE_RING
    assert c.caller_id_num == "+15557654321"
    assert c.caller_id_name == "Carrier Caller"
    assert c.connected_line_num == ""  # "<unknown>" normalised
    assert c.exten == "15551230000"
    assert c.context == "from-carrier"
    assert c.device == "PJSIP/carrier"


def test_hangup_cause_and_text() -> None:
    hangups = [e for e in tx.events("originate_busy") if isinstance(e, ev.ChannelHungUp)]
    assert [(h.cause, h.cause_txt) for h in hangups] == [(17, "User busy")]
    hangups = [e for e in tx.events("originate_no_answer") if isinstance(e, ev.ChannelHungUp)]
    assert [(h.cause, h.cause_txt) for h in hangups] == [(19, "User alerting, no answer")]


def test_originate_results() -> None:
    busy = _first("originate_busy", ev.OriginateResult)
    assert busy == ev.OriginateResult(
        action_id="originate_busy-51",
        success=False,
        reason=0,
        channel="PJSIP/1003",
        uniqueid="",
        context="lab",
        exten="playback",
        caller_id_num="5550002",
        caller_id_name="Lab Originate",
    )
    noans = _first("originate_no_answer", ev.OriginateResult)
    assert isinstance(noans, ev.OriginateResult)
    assert (noans.success, noans.reason) == (False, ev.ORIGINATE_REASON_RINGING)
    ok = _first("originate_agent_answered", ev.OriginateResult)
    assert isinstance(ok, ev.OriginateResult)
    assert (ok.success, ok.reason, ok.uniqueid) == (True, 4, "1795462472.6")
    assert ok.channel == "PJSIP/1001-00000002"


def test_dial_begin_without_a_caller_channel_on_originate() -> None:
    d = _first("originate_busy", ev.DialBegin)
    assert isinstance(d, ev.DialBegin)
    assert d.caller is None
    assert d.dest.channel == "PJSIP/1003-00000000"
    end = _first("originate_busy", ev.DialEnd)
    assert isinstance(end, ev.DialEnd)
    assert end.dial_status == "BUSY"


def test_queue_agent_events() -> None:
    name = "inbound_queue_answered"
    join = _first(name, ev.QueueCallerJoin)
    assert isinstance(join, ev.QueueCallerJoin)
    assert (join.queue, join.position, join.count) == ("support", 1, 1)
    called = _first(name, ev.AgentCalled)
    assert isinstance(called, ev.AgentCalled)
    assert called.interface == "PJSIP/1001"
    assert called.member_name == "Agent 1001"
    assert called.dest.channel == "PJSIP/1001-00000004"
    assert called.chan.channel == "PJSIP/carrier-00000003"
    conn = _first(name, ev.AgentConnect)
    assert isinstance(conn, ev.AgentConnect)
    assert (conn.hold_time, conn.ring_time) == (1.0, 1.0)
    done = _first(name, ev.AgentComplete)
    assert isinstance(done, ev.AgentComplete)
    assert (done.hold_time, done.talk_time, done.reason) == (1.0, 8.0, "caller")


def test_agent_connect_ring_time_stays_seconds() -> None:
    conn = _first("agi_session", ev.AgentConnect)
    assert isinstance(conn, ev.AgentConnect)
    assert conn.ring_time == 1.0
    assert conn.interface == "PJSIP/1002"


def test_ring_no_answer_ring_time_is_converted_from_ms() -> None:
    rna = [
        e for e in tx.events("inbound_queue_ring_no_answer") if isinstance(e, ev.AgentRingNoAnswer)
    ]
    assert [(r.interface, r.ring_time) for r in rna] == [("PJSIP/1002", 15.0)]


def test_abandon() -> None:
    ab = _first("inbound_queue_abandoned", ev.QueueCallerAbandon)
    assert isinstance(ab, ev.QueueCallerAbandon)
    assert (ab.queue, ab.position, ab.original_position, ab.hold_time) == ("support", 1, 1, 5.0)


def test_bridge_events() -> None:
    enters = [e for e in tx.events("inbound_queue_answered") if isinstance(e, ev.BridgeEntered)]
    assert len(enters) == 2
    assert {e.bridge_id for e in enters} == {"820f3670-1451-4a03-b6c7-a73c82a89372"}
    assert [e.num_channels for e in enters] == [1, 2]


def test_dtmf() -> None:
    ends = [e for e in tx.events("agi_session") if isinstance(e, ev.DtmfEnd)]
    # SIP INFO DTMF: only DTMFEnd, no DTMFBegin.
    assert [(d.digit, d.direction, d.duration_ms) for d in ends] == [("1", "Received", 160)] * 2
    assert not [e for e in tx.events("agi_session") if isinstance(e, ev.DtmfBegin)]
    local = [e for e in tx.events("agi_session_local") if isinstance(e, (ev.DtmfBegin, ev.DtmfEnd))]
    assert [(type(d).__name__, d.digit, d.chan.channel) for d in local] == [
        ("DtmfBegin", "2", "Local/agi@lab-00000002;2"),
        ("DtmfEnd", "2", "Local/agi@lab-00000002;2"),
    ] * 2


def test_chanspy() -> None:
    start = _first("chanspy_supervisor", ev.ChanSpyStarted)
    assert isinstance(start, ev.ChanSpyStarted)
    assert start.spyer.channel == "Local/wait@lab-00000004;1"
    assert start.spyee.channel == "PJSIP/1001-0000000f"
    assert start.spyee.linkedid == "1795462575.22"
    stop = _first("chanspy_supervisor", ev.ChanSpyStopped)
    assert isinstance(stop, ev.ChanSpyStopped)
    assert stop.spyer.uniqueid == "1795462577.24"


def test_core_show_channel_snapshot() -> None:
    snaps = [e for e in tx.events("actions") if isinstance(e, ev.ChannelSnapshot)]
    assert len(snaps) == 2
    s = snaps[0]
    assert s.action_id == "actions-14"
    assert s.chan.channel == "Local/wait@lab-00000000;1"
    assert s.application == "Wait"
    assert s.application_data == "30"
    assert s.duration_s == 1
    assert s.bridge_id == ""


def test_varset_whitelist() -> None:
    vs = [e for e in tx.events("originate_amd") if isinstance(e, ev.VarSet)]
    assert [(v.variable, v.value) for v in vs] == [
        ("AMDSTATUS", "MACHINE"),
        ("AMDCAUSE", "MAXWORDS-3-2"),
    ]
    ivr = [e for e in tx.events("agi_session") if isinstance(e, ev.VarSet)]
    assert ("IVR_QUEUE", "support") in {(v.variable, v.value) for v in ivr}
    did = [v for v in tx.events("inbound_queue_answered") if isinstance(v, ev.VarSet)]
    assert ("INBOUND_DID", "15551230000") in {(v.variable, v.value) for v in did}
    all_vars = {e.variable for n in ALL for e in tx.events(n) if isinstance(e, ev.VarSet)}
    assert all_vars <= ev.VARSET_WHITELIST
    assert "BRIDGEPEER" not in all_vars


def test_queue_member_changes() -> None:
    qm = [e for e in tx.events("actions") if isinstance(e, ev.QueueMemberChanged)]
    assert [(q.change, q.interface, q.paused, q.paused_reason, q.penalty) for q in qm] == [
        ("added", "PJSIP/1003", False, "", 0),
        ("pause", "PJSIP/1003", True, "lunch", 0),
        ("pause", "PJSIP/1003", False, "", 0),
        ("pause", "PJSIP/1001", True, "break", 0),
        ("pause", "PJSIP/1001", False, "", 0),
        ("penalty", "PJSIP/1003", False, "", 2),
        ("removed", "PJSIP/1003", False, "", 2),
    ]
    ring = [e for e in tx.events("inbound_queue_answered") if isinstance(e, ev.QueueMemberChanged)]
    assert [(q.change, q.interface, q.status, q.calls_taken) for q in ring] == [
        ("status", "PJSIP/1001", 3, 0),
        ("status", "PJSIP/1001", 1, 1),
    ]


def test_device_state() -> None:
    ds = [e for e in tx.events("inbound_queue_answered") if isinstance(e, ev.DeviceStateChanged)]
    assert ev.DeviceStateChanged("PJSIP/1001", "BUSY") in ds
    assert ev.DeviceStateChanged("Queue:support", "RINGING") in ds


# --------------------------------------------------------------------------- hand-built messages


def test_ignored_and_non_events_are_none() -> None:
    assert parse({"Event": "Newexten", "Channel": "x", "Uniqueid": "1"}) is None
    assert parse({"Event": "RTCPSent"}) is None
    assert parse({"Event": "VarSet", "Variable": "BRIDGEPEER", "Value": "x"}) is None
    assert parse({"Response": "Success", "ActionID": "1"}) is None
    assert parse({"Event": "NoSuchEvent"}) is None
    assert parse({}) is None


def test_missing_identity_fields_give_none() -> None:
    assert parse({"Event": "Newchannel"}) is None
    assert parse({"Event": "Hangup", "Channel": "PJSIP/1-1"}) is None
    assert parse({"Event": "Hangup", "Channel": "PJSIP/1-1", "Uniqueid": "<unknown>"}) is None
    assert parse({"Event": "DialBegin", "Channel": "a", "Uniqueid": "1"}) is None
    assert parse({"Event": "QueueCallerJoin", "Channel": "a", "Uniqueid": "1"}) is None
    assert parse({"Event": "OriginateResponse", "Response": "Success"}) is None


def test_garbled_numbers_fall_back_to_defaults() -> None:
    e = parse(
        {
            "Event": "Hangup",
            "Channel": "PJSIP/1-1",
            "Uniqueid": "1.1",
            "ChannelState": "six",
            "Cause": "abc",
        }
    )
    assert isinstance(e, ev.ChannelHungUp)
    assert (e.cause, e.cause_txt, e.chan.state, e.chan.linkedid) == (0, "", 0, "1.1")
    m = {
        **_chan_block("", "PJSIP/c-1", "1.1", "1.1"),
        **_chan_block("Dest", "PJSIP/a-2", "1.2", "1.1"),
    }
    rna = parse({"Event": "AgentRingNoAnswer", **m, "Queue": "q", "RingTime": "nan"})
    assert isinstance(rna, ev.AgentRingNoAnswer)
    assert rna.ring_time == 0.0
    assert rna.interface == "PJSIP/a"  # no Interface header: the agent leg's device


def test_hold_unhold() -> None:
    base = _chan_block("", "PJSIP/1001-00000004", "9.1", "9.0")
    h = parse({"Event": "Hold", **base, "MusicClass": "default"})
    assert isinstance(h, ev.Hold) and h.music_class == "default"
    assert h.chan.uniqueid == "9.1"
    u = parse({"Event": "Unhold", **base})
    assert isinstance(u, ev.Unhold) and u.chan.linkedid == "9.0"


def test_music_on_hold() -> None:
    moh = [
        e
        for e in tx.events("inbound_queue_answered")
        if isinstance(e, (ev.MusicOnHoldStarted, ev.MusicOnHoldStopped))
    ]
    assert [type(e).__name__ for e in moh] == ["MusicOnHoldStarted", "MusicOnHoldStopped"]
    assert isinstance(moh[0], ev.MusicOnHoldStarted) and moh[0].music_class == "default"
    assert moh[0].chan.channel == "PJSIP/carrier-00000003"


def test_blind_transfer() -> None:
    m = {
        "Event": "BlindTransfer",
        "Result": "Success",
        **_chan_block("Transferer", "PJSIP/1001-00000004", "9.1", "9.0"),
        **_chan_block("Transferee", "PJSIP/carrier-00000003", "9.0", "9.0"),
        "BridgeUniqueid": "b-1",
        "IsExternal": "Yes",
        "Context": "agents",
        "Extension": "1002",
    }
    e = parse(m)
    assert isinstance(e, ev.BlindTransfer)
    assert (e.result, e.is_external, e.context, e.extension, e.bridge_id) == (
        "Success",
        True,
        "agents",
        "1002",
        "b-1",
    )
    assert e.transferee is not None and e.transferee.uniqueid == "9.0"


def test_attended_transfer() -> None:
    m = {
        "Event": "AttendedTransfer",
        "Result": "Success",
        **_chan_block("OrigTransferer", "PJSIP/1001-00000004", "9.1", "9.0"),
        "OrigBridgeUniqueid": "b-1",
        **_chan_block("SecondTransferer", "PJSIP/1001-00000005", "9.2", "9.2"),
        "SecondBridgeUniqueid": "b-2",
        "DestType": "Bridge",
        "DestBridgeUniqueid": "b-1",
        **_chan_block("Transferee", "PJSIP/carrier-00000003", "9.0", "9.0"),
        **_chan_block("TransferTarget", "PJSIP/1002-00000006", "9.3", "9.2"),
    }
    e = parse(m)
    assert isinstance(e, ev.AttendedTransfer)
    assert e.dest_type == "Bridge"
    assert e.second_transferer is not None and e.second_transferer.uniqueid == "9.2"
    assert e.transfer_target is not None and e.transfer_target.channel == "PJSIP/1002-00000006"
    assert (e.orig_bridge_id, e.second_bridge_id, e.dest_bridge_id) == ("b-1", "b-2", "b-1")


def test_extension_status() -> None:
    e = parse(
        {
            "Event": "ExtensionStatus",
            "Exten": "1001",
            "Context": "agents",
            "Hint": "PJSIP/1001",
            "Status": "1",
            "StatusText": "InUse",
        }
    )
    assert e == ev.ExtensionStateChanged("1001", "agents", "PJSIP/1001", 1, "InUse")


def test_events_are_frozen_and_slotted() -> None:
    e = _first("inbound_queue_answered", ev.ChannelCreated)
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.chan = e.chan  # type: ignore[misc, attr-defined]
    assert not hasattr(e, "__dict__")


def test_channel_device() -> None:
    assert ev.channel_device("PJSIP/1001-00000004") == "PJSIP/1001"
    assert ev.channel_device("Local/wait@lab-00000000;1") == "Local/wait@lab"
    assert ev.channel_device("PJSIP/my-trunk-0000000a") == "PJSIP/my-trunk"
    assert ev.channel_device("PJSIP/1001") == "PJSIP/1001"


_keys = st.sampled_from(
    sorted(
        {"Event", "Channel", "Uniqueid", "Linkedid", "Cause", "Queue", "RingTime", "HoldTime"}
        | {"DestChannel", "DestUniqueid", "Variable", "Value", "Response", "ActionID", "Reason"}
        | {"SpyerChannel", "SpyerUniqueid", "BridgeUniqueid", "Duration", "Digit", "Device"}
        | {"State", "Exten", "TransfererChannel", "TransfererUniqueid", "OrigTransfererChannel"}
    )
)


@given(
    st.dictionaries(
        _keys,
        st.one_of(st.text(max_size=12), st.sampled_from(["<unknown>", "", "1", "-1", "x:y:z"])),
    ),
    st.sampled_from(sorted(PARSED_EVENTS)),
)
def test_parse_never_raises_on_arbitrary_fields(m: dict[str, str], name: str) -> None:
    m["Event"] = name
    e = parse(m)
    assert e is None or dataclasses.is_dataclass(e)


def test_newcallerid_carries_the_originates_caller_id() -> None:
    e = _first("originate_agent_answered", ev.CallerIdChanged)
    assert isinstance(e, ev.CallerIdChanged)
    assert (e.chan.channel, e.chan.caller_id_num, e.chan.caller_id_name) == (
        "PJSIP/1001-00000002", "5550003", "Lab Originate")
