"""Inbound calls reaching a tiny FastAGI server written here (not cti/fastagi.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import socket

import pytest

from cti.simulator import PbxSimulator, PhoneBehaviour

from .conftest import TRANSCRIPTS, AmiTestClient, TinyAgiServer, fast_config

CAPTURED_COMMANDS = (TRANSCRIPTS / "agi_session.agi_tx.raw").read_text().splitlines()
CAPTURED_REPLIES = (TRANSCRIPTS / "agi_session.agi_rx.raw").read_text().split("\n\n", 1)[1]


async def test_env_and_replies_match_the_captured_session(
    sim: PbxSimulator, agi_server: TinyAgiServer, ami: AmiTestClient
) -> None:
    replies: list[str] = []

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        for cmd in CAPTURED_COMMANDS:
            replies.append(await agi_server.command(r, w, cmd))

    agi_server.script = script
    call = await sim.place_inbound_call(
        "+15557654321", caller_name="Carrier Caller", did="15551230000", dtmf="11"
    )
    await ami.wait_event("AGIExecEnd", Command=CAPTURED_COMMANDS[-1])
    # Environment: same keys, same order, LF endings, blank line; only per-call values differ.
    raw = agi_server.raw_envs[0].decode()
    captured = (TRANSCRIPTS / "agi_session.agi_rx.raw").read_text().split("\n\n", 1)[0] + "\n\n"
    assert raw.endswith("\n\n") and "\r" not in raw
    assert [line.split(":")[0] for line in raw.splitlines()] == [
        line.split(":")[0] for line in captured.splitlines()
    ]
    env = agi_server.envs[0]
    assert env["agi_channel"] == call.channel
    assert env["agi_uniqueid"] == call.uniqueid
    assert env["agi_request"] == f"agi://127.0.0.1:{agi_server.port}/ivr"
    volatile = {"agi_channel", "agi_uniqueid", "agi_threadid", "agi_request"}
    cap_env = dict(line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
                   for line in captured.splitlines() if line)
    assert {k: v for k, v in env.items() if k not in volatile} == {
        k: v for k, v in cap_env.items() if k not in volatile
    }
    # Replies: identical except STREAM FILE's endpos (it depends on how long the prompt played).
    expected = CAPTURED_REPLIES.splitlines()
    assert [r.split(" endpos=")[0] for r in replies] == [e.split(" endpos=")[0] for e in expected]
    assert replies[4].startswith("200 result=49 endpos=")
    # The AGI ended; the lab dialplan then queues the call on IVR_QUEUE (support).
    join = await ami.wait_event("QueueCallerJoin", Channel=call.channel)
    assert join["Queue"] == "support"
    varsets = {(e["Variable"], e["Value"]) for e in ami.events("VarSet")}
    assert {("IVR_DIGIT", "1"), ("IVR_QUEUE", "support"), ("AGISTATUS", "SUCCESS")} <= varsets
    assert [e["Digit"] for e in ami.events("DTMFEnd")] == ["1", "1"]


async def _dial_script(agi_server: TinyAgiServer, dial: str, results: list[str]) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        results.append(await agi_server.command(r, w, "ANSWER"))
        results.append(await agi_server.command(r, w, f"EXEC Dial {dial}"))
        results.append(await agi_server.command(r, w, "GET VARIABLE DIALSTATUS"))
        results.append(await agi_server.command(r, w, "HANGUP"))

    agi_server.script = script


async def test_exec_dial_answered_bridges_then_agent_hangs_up(
    sim: PbxSimulator, agi_server: TinyAgiServer, ami: AmiTestClient
) -> None:
    results: list[str] = []
    await _dial_script(agi_server, "PJSIP/1001,15", results)
    call = await sim.place_inbound_call(patience_s=1000)
    await call.wait(5)
    await ami.barrier()
    assert results[:3] == ["200 result=0", "200 result=0", "200 result=1 (ANSWER)"]
    assert results[3] == "200 result=1"
    names = [e["Event"] for e in ami.events()]
    i_begin = names.index("DialBegin")
    assert names.index("BridgeCreate") > i_begin
    enters = ami.events("BridgeEnter")
    assert [e["Channel"].split("-")[0] for e in enters] == ["PJSIP/1001", "PJSIP/carrier"]
    assert "AgentConnect" not in names  # only app_queue emits it
    begin = ami.events("DialBegin")[0]
    assert begin["Channel"] == call.channel and begin["DestChannel"].startswith("PJSIP/1001-")
    assert begin["DialString"] == "1001"
    agent_hangup = ami.events("Hangup")[0]
    assert agent_hangup["Channel"].startswith("PJSIP/1001-") and agent_hangup["Cause"] == "16"
    await ami.wait_event("Hangup", Channel=call.channel)
    cdrs = ami.events("Cdr")  # one CDR, the caller's, naming the agent leg (as in the capture)
    assert [(c["Channel"], c["DestinationChannel"]) for c in cdrs] == [
        (call.channel, begin["DestChannel"])]
    states = [(e["Device"], e["State"]) for e in ami.events("DeviceStateChange")]
    agent_states = [st for dev, st in states if dev == "PJSIP/1001"]
    assert agent_states == ["BUSY", "NOT_INUSE"]
    st = sim.tally()
    assert (st.offered, st.answered, st.abandoned, st.completed) == (1, 1, 0, 1)
    assert st.agent_answered == {"1001": 1}


async def test_exec_dial_no_answer_busy_unavailable(
    sim: PbxSimulator, agi_server: TinyAgiServer, ami: AmiTestClient
) -> None:
    sim.set_phone("1002", PhoneBehaviour(answers=False))
    sim.set_phone("1003", PhoneBehaviour(busy=True))
    sim.register_phone("1004", False)
    for ext, status in (("1002", "NOANSWER"), ("1003", "BUSY"), ("1004", "CHANUNAVAIL")):
        results: list[str] = []
        await _dial_script(agi_server, f"PJSIP/{ext},15", results)
        call = await sim.place_inbound_call(patience_s=1000)
        await call.wait(5)
        await ami.barrier()
        assert results[1:3] == ["200 result=0", f"200 result=1 ({status})"], ext
    busy = ami.events("Hangup")
    assert any(e["Cause"] == "17" and e.get("TechCause") == "486" for e in busy)
    dial_ends = [e["DialStatus"] for e in ami.events("DialEnd")]
    assert dial_ends == ["NOANSWER", "BUSY"]  # CHANUNAVAIL never creates a channel
    assert sim.tally().answered == 0


async def test_abandon_sends_hangup_then_511_and_hangup_cause_0(
    sim: PbxSimulator, agi_server: TinyAgiServer, ami: AmiTestClient
) -> None:
    lines: list[str] = []
    done = asyncio.Event()

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        lines.append(await agi_server.command(r, w, "ANSWER"))
        # Hold the caller with music; the caller's patience (5 s simulated) runs out.
        lines.append(await agi_server.command(r, w, "EXEC MusicOnHold default"))
        lines.append((await r.readline()).decode().rstrip("\n"))  # the HANGUP notification
        lines.append(await agi_server.command(r, w, "STREAM FILE beep \"\""))
        done.set()

    agi_server.script = script
    # Patience 1000 simulated s = 1 s real: ample for ANSWER, then the caller gives up on hold.
    call = await sim.place_inbound_call(patience_s=1000)
    await asyncio.wait_for(done.wait(), 5)
    await call.wait(5)
    assert lines == [
        "200 result=0",
        "200 result=-1",
        "HANGUP",
        "511 Command Not Permitted on a dead channel or intercept routine",
    ]
    hangup = await ami.wait_event("Hangup", Channel=call.channel)
    assert (hangup["Cause"], hangup["Cause-txt"]) == ("0", "Unknown")
    names = [e["Event"] for e in ami.events() if e.get("Channel") == call.channel]
    assert names.index("HangupRequest") < names.index("Hangup")
    st = sim.tally()
    assert (st.offered, st.answered, st.abandoned) == (1, 0, 1)


async def test_abandon_while_agent_rings_cancels_the_dial(
    sim: PbxSimulator, agi_server: TinyAgiServer, ami: AmiTestClient
) -> None:
    sim.set_phone("1001", PhoneBehaviour(answers=False))
    replies: list[str] = []

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        replies.append(await agi_server.command(r, w, "EXEC Dial PJSIP/1001,60"))
        replies.append((await r.readline()).decode().rstrip("\n"))

    agi_server.script = script
    call = await sim.place_inbound_call(patience_s=None)
    await ami.wait_event("DialState", DialStatus="RINGING")
    sim.hangup_caller(call.channel)
    await call.wait(5)
    await ami.barrier()
    assert replies == ["200 result=-1", "HANGUP"]
    ends = ami.events("DialEnd")
    assert [e["DialStatus"] for e in ends] == ["CANCEL"]
    agent = [e for e in ami.events("Hangup") if e["Channel"].startswith("PJSIP/1001-")][0]
    assert agent["Cause"] == "0"
    assert sim.tally().abandoned == 1


async def test_unknown_command_and_agi_helpers(
    sim: PbxSimulator, agi_server: TinyAgiServer
) -> None:
    replies: list[str] = []

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        for cmd in (
            "FROBNICATE now",
            "SET VARIABLE CUSTOMER_ID \"42\"",
            "GET VARIABLE CUSTOMER_ID",
            "GET VARIABLE NOPE",
            "STREAM FILE welcome \"\"",
            "GET DATA menu 2000 2",
            "WAIT FOR DIGIT 1000",
            "GET DATA menu 2000 4",
            "SAY NUMBER 42 \"\"",
            "SET MUSIC ON default",
            "SET MUSIC OFF",
            "EXEC Playback demo-congrats",
            "EXEC Wait 1",
            "EXEC NoSuchApp x",
        ):
            replies.append(await agi_server.command(r, w, cmd))

    agi_server.script = script
    call = await sim.place_inbound_call(dtmf="12#3", patience_s=1000)
    await call.wait(5)
    assert replies == [
        "510 Invalid or unknown command",
        "200 result=1",
        "200 result=1 (42)",
        "200 result=0",
        "200 result=0 endpos=24000",
        "200 result=12",
        "200 result=35",  # '#'
        "200 result=3 (timeout)",
        "200 result=0",
        "200 result=0",
        "200 result=0",
        "200 result=0",
        "200 result=0",
        "200 result=-2",
    ]


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


async def test_agi_failure_falls_back_to_builtin_queue() -> None:
    async with PbxSimulator(fast_config(_closed_port())) as sim:
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        call = await sim.place_inbound_call(patience_s=1000)
        await call.wait(5)
        await ami.barrier()
        names = [e["Event"] for e in ami.events()]
        for n in ("QueueCallerJoin", "AgentCalled", "AgentConnect", "BridgeEnter", "AgentComplete"):
            assert n in names, n
        varsets = {(e["Variable"], e["Value"]) for e in ami.events("VarSet")}
        assert ("AGISTATUS", "FAILURE") in varsets
        gotoif = [e for e in ami.events("Newexten") if e["Application"] == "GotoIf"]
        assert gotoif[0]["AppData"] == "1?fallback"
        st = sim.tally()
        assert (st.agi_failures, st.answered) == (1, 1)
        await ami.close()


def _capture_event_names(name: str) -> list[str]:
    raw = (TRANSCRIPTS / f"{name}.ami.raw").read_bytes().decode()
    names = []
    for msg in raw.split("\r\n\r\n"):
        d = dict(ln.split(": ", 1) for ln in msg.split("\r\n") if ": " in ln)
        if "Event" not in d or d["Event"] in ("FullyBooted", "SuccessfulAuth", "RTCPSent"):
            continue
        names.append(d["Event"])
        if d["Event"] == "QueueCallerJoin":
            break
    return names


async def test_inbound_event_sequence_matches_agi_session_capture(
    sim: PbxSimulator, agi_server: TinyAgiServer, ami: AmiTestClient
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        for cmd in CAPTURED_COMMANDS:
            await agi_server.command(r, w, cmd)

    agi_server.script = script
    sim.set_phone("1001", PhoneBehaviour(registered=False))
    sim.set_phone("1002", PhoneBehaviour(registered=False))
    await ami.barrier()
    before = len(ami.events())
    call = await sim.place_inbound_call(dtmf="11", patience_s=None)
    await ami.wait_event("QueueCallerJoin", Channel=call.channel)
    got = [e["Event"] for e in ami.events()[before:]]
    assert got[: got.index("QueueCallerJoin") + 1] == _capture_event_names("agi_session")
    sim.hangup_caller(call.channel)
    await call.wait(5)


@pytest.mark.cti_dialplan
async def test_reference_dialplan_hangs_up_a_call_the_server_marked_done(
    sim: PbxSimulator, agi_server: TinyAgiServer, ami: AmiTestClient
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        await agi_server.command(r, w, 'SET VARIABLE CTI_RESULT "done"')

    agi_server.script = script
    call = await sim.place_inbound_call(patience_s=None)
    await call.wait(5)
    await ami.barrier()
    steps = [(e["Priority"], e["Application"], e["AppData"]) for e in ami.events("Newexten")
             if e["Channel"] == call.channel]
    assert [s[:2] for s in steps[-2:]] == [("5", "GotoIf"), ("7", "Hangup")]
    assert steps[-2][2] == "1?finished"
    assert ami.events("QueueCallerJoin") == []
    hangup = ami.events("Hangup")[-1]
    assert (hangup["Channel"], hangup["Cause"]) == (call.channel, "16")
    assert not sim.truth[call.uniqueid].fell_back


@pytest.mark.cti_dialplan
@pytest.mark.parametrize("result", ["", "fallback"])
async def test_reference_dialplan_queues_a_call_the_server_did_not_mark_done(
    sim: PbxSimulator, agi_server: TinyAgiServer, ami: AmiTestClient, result: str
) -> None:
    """The server closing the socket (crash, kill -9, cancelled session) is AGISTATUS=SUCCESS in
    Asterisk: only the missing CTI_RESULT=done sends the caller to Queue()."""
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        if result:
            await agi_server.command(r, w, f'SET VARIABLE CTI_RESULT "{result}"')
        # then the socket closes, as when the server process dies

    agi_server.script = script
    call = await sim.place_inbound_call(patience_s=None)
    await ami.wait_event("QueueCallerJoin")
    await ami.barrier()
    agi = [e for e in ami.events("VarSet")
           if e["Channel"] == call.channel and e["Variable"] == "AGISTATUS"]
    assert agi[-1]["Value"] == "SUCCESS"
    steps = [(e["Priority"], e["Application"], e["AppData"]) for e in ami.events("Newexten")
             if e["Channel"] == call.channel]
    assert steps[-2:] == [("5", "GotoIf", "0?finished"), ("6", "Queue", "support")]
    assert sim.truth[call.uniqueid].fell_back
    sim.hangup_caller(call.channel)
    await call.wait(5)


async def test_a_replaced_config_steers_the_calls_that_follow(
    sim: PbxSimulator, agi_server: TinyAgiServer, ami: AmiTestClient
) -> None:
    # Tests and the fault drills point a running simulator at another FastAGI script (and
    # could name other queues): every part of the PBX must read the configuration in force.
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        await agi_server.command(r, w, "HANGUP")

    agi_server.script = script
    sim.config = dataclasses.replace(sim.config, agi_script="queue?queue=support",
                                     queues={"vip": ("1002",)})
    call = await sim.place_inbound_call(patience_s=1000)
    await call.wait(5)
    assert agi_server.envs[-1]["agi_network_script"] == "queue?queue=support"
    sim.register_phone("1002", registered=False)
    member = await ami.wait_event("QueueMemberStatus", Interface="PJSIP/1002")
    assert member["Queue"] == "vip"
