"""Originate: event sequences compared with originate_busy / no_answer / agent_answered."""

from __future__ import annotations

import asyncio
from collections import Counter

from cti.simulator import OutboundProfile, PbxSimulator, PhoneBehaviour

from .conftest import TRANSCRIPTS, AmiTestClient, TinyAgiServer, fast_config

# Device-state events are produced on Asterisk's device-state taskprocessor, so their position
# relative to the channel events varies between runs of real Asterisk; RTCPSent depends on
# media timing, which the simulator does not model. They are compared separately.
ASYNC_EVENTS = {"DeviceStateChange", "QueueMemberStatus", "RTCPSent"}


def capture_events(name: str) -> list[dict[str, str]]:
    raw = (TRANSCRIPTS / f"{name}.ami.raw").read_bytes().decode()
    out = []
    for msg in raw.split("\r\n", 1)[1].split("\r\n\r\n"):
        lines = [ln for ln in msg.split("\r\n") if ln]
        if lines and lines[0].startswith("Event: "):
            out.append(dict(ln.split(": ", 1) if ": " in ln else (ln.rstrip(":"), "")
                            for ln in lines))
    return out


def capture_sent(name: str) -> list[list[tuple[str, str]]]:
    raw = (TRANSCRIPTS / f"{name}.sent.raw").read_bytes().decode()
    actions = []
    for msg in raw.split("\r\n\r\n"):
        lines = [ln for ln in msg.split("\r\n") if ln]
        if lines:
            actions.append([tuple(ln.split(": ", 1)) for ln in lines])  # type: ignore[misc]
    return actions


def shape(events: list[dict[str, str]]) -> tuple[list[str], Counter[str], list[tuple[str, str]]]:
    skip = ASYNC_EVENTS | {"VarSet"}
    names = [e["Event"] for e in events if e["Event"] not in skip]
    varsets = Counter(e["Variable"] for e in events if e["Event"] == "VarSet")
    devices = [(e["Device"], e["State"]) for e in events if e["Event"] == "DeviceStateChange"]
    return names, varsets, devices


async def run_capture_originate(sim: PbxSimulator, name: str) -> list[dict[str, str]]:
    """Send the capture's Originate, wait for the call to end, return the events that followed."""
    ami = await AmiTestClient.connect(sim.ami_port)
    await ami.login()
    before = len(ami.messages)
    originate = next(a for a in capture_sent(name) if a[0] == ("Action", "Originate"))
    ami.send(*originate)
    resp = await ami.wait_event("OriginateResponse")
    if resp["Response"] == "Success" and name == "originate_agent_answered":
        # The capture hangs the agent up over AMI once Playback runs.
        await ami.wait_event("Newexten", Application="Playback")
        ami.send(("Action", "Hangup"), ("Channel", resp["Channel"]), ("Cause", "16"),
                 ("ActionID", "h1"))
    await sim.wait_calls_done(5)
    await ami.barrier()
    events = [dict(m) for m in ami.messages[before:] if m and m[0][0] == "Event"]
    await ami.close()
    return events


async def test_originate_busy_sequence_matches_capture(agi_server: TinyAgiServer) -> None:
    cfg = fast_config(agi_server.port, phone=PhoneBehaviour())
    async with PbxSimulator(cfg) as sim:
        sim.set_phone("1003", PhoneBehaviour(busy=True))
        got = await run_capture_originate(sim, "originate_busy")
    want = [e for e in capture_events("originate_busy") if e["Event"] not in
            ("FullyBooted", "SuccessfulAuth")]
    assert shape(got) == shape(want)
    resp = [e for e in got if e["Event"] == "OriginateResponse"][0]
    assert (resp["Response"], resp["Reason"], resp["Uniqueid"]) == ("Failure", "0", "<unknown>")
    hangup = [e for e in got if e["Event"] == "Hangup"][0]
    assert (hangup["Cause"], hangup["TechCause"]) == ("17", "486")


async def test_originate_no_answer_sequence_matches_capture(agi_server: TinyAgiServer) -> None:
    async with PbxSimulator(fast_config(agi_server.port)) as sim:
        sim.set_phone("1004", PhoneBehaviour(answers=False))
        got = await run_capture_originate(sim, "originate_no_answer")
        assert sim.tally().originate_results == {"NOANSWER": 1}
    want = [e for e in capture_events("originate_no_answer") if e["Event"] not in
            ("FullyBooted", "SuccessfulAuth")]
    assert shape(got) == shape(want)
    resp = [e for e in got if e["Event"] == "OriginateResponse"][0]
    assert (resp["Response"], resp["Reason"]) == ("Failure", "3")
    hangup = [e for e in got if e["Event"] == "Hangup"][0]
    assert (hangup["Cause"], hangup["Cause-txt"], hangup["TechCause"]) == (
        "19", "User alerting, no answer", "480")


async def test_originate_agent_answered_sequence_matches_capture(
    agi_server: TinyAgiServer,
) -> None:
    # Playback long enough (simulated 1000 s = 1 s real) for the AMI Hangup to cut it.
    async with PbxSimulator(fast_config(agi_server.port, playback_s=1000.0)) as sim:
        got = await run_capture_originate(sim, "originate_agent_answered")
        assert sim.tally().originate_results == {"ANSWER": 1}
    want = [e for e in capture_events("originate_agent_answered") if e["Event"] not in
            ("FullyBooted", "SuccessfulAuth")]
    assert shape(got) == shape(want)
    resp = [e for e in got if e["Event"] == "OriginateResponse"][0]
    assert resp["Response"] == "Success" and resp["Reason"] == "4"
    assert resp["Channel"].startswith("PJSIP/1001-") and resp["ActionID"] == (
        "originate_agent_answered-57")
    first = got[0]
    assert first["Event"] == "Newchannel" and first["Uniqueid"] == resp["Uniqueid"]


async def test_originate_local_matches_actions_capture_start(agi_server: TinyAgiServer) -> None:
    async with PbxSimulator(fast_config(agi_server.port)) as sim:
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        ami.send(("Action", "Originate"), ("Channel", "Local/wait@lab"), ("Context", "lab"),
                 ("Exten", "wait"), ("Priority", "1"), ("Async", "true"),
                 ("CallerID", '"Lab Actions" <5550005>'), ("ActionID", "o1"))
        await ami.wait_event("OriginateResponse")
        await sim.wait_calls_done(5)
        await ami.barrier()
        got = [e for e in ami.events() if e["Event"] not in ("FullyBooted", "SuccessfulAuth")]
        await ami.close()
    want = capture_events("actions")
    start = next(i for i, e in enumerate(want) if e["Event"] == "Newchannel")
    stop = next(i for i, e in enumerate(want) if e["Event"] == "OriginateResponse")
    want_names = [e["Event"] for e in want[start:stop + 1] if e["Event"] not in ASYNC_EVENTS]
    got_names = [e["Event"] for e in got if e["Event"] not in ASYNC_EVENTS]
    assert got_names[: len(want_names)] == want_names
    chans = {e["Channel"] for e in got if e["Event"] == "Newchannel"}
    assert {c.rsplit(";", 1)[1] for c in chans} == {"1", "2"}
    assert all(c.startswith("Local/wait@lab-") for c in chans)


async def test_click_to_dial_rings_agent_then_external(agi_server: TinyAgiServer) -> None:
    profile = OutboundProfile(forced={"+15551112222": "human"})
    async with PbxSimulator(fast_config(agi_server.port, outbound=profile)) as sim:
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        ami.send(("Action", "Originate"), ("Channel", "PJSIP/1001"), ("Context", "from-cti"),
                 ("Exten", "+15551112222"), ("Priority", "1"), ("Async", "true"),
                 ("CallerID", '"Customer" <+15551112222>'), ("ActionID", "c2d"))
        await ami.wait_for(lambda m: dict(m).get("ActionID") == "c2d")
        await sim.wait_calls_done(5)
        await ami.barrier()
        begins = ami.events("DialBegin")
        assert [b["DestChannel"].split("-")[0] for b in begins] == ["PJSIP/1001", "PJSIP/carrier"]
        assert begins[1]["DialString"] == "+15551112222@carrier"
        assert "Channel" in begins[1] and begins[1]["Channel"].startswith("PJSIP/1001-")
        assert len(ami.events("BridgeEnter")) == 2
        assert ami.events("OriginateResponse")[0]["Response"] == "Success"
        assert sim.tally().outbound_truth == {"human": 1}
        await ami.close()


async def test_dialer_originate_runs_amd_then_agi(agi_server: TinyAgiServer) -> None:
    seen: list[tuple[str, str]] = []

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        amd = await agi_server.command(r, w, "GET VARIABLE AMDSTATUS")
        seen.append((env["agi_network_script"], amd))

    agi_server.script = script
    # talk_time_s: the answered party waits up to 1 s (real) for the AGI, ample under load.
    profile = OutboundProfile(forced={"+15550000001": "human", "+15550000002": "machine",
                                      "+15550000003": "busy", "+15550000004": "no_answer"},
                              talk_time_s=1000.0)
    async with PbxSimulator(fast_config(agi_server.port, outbound=profile)) as sim:
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        for i in range(1, 5):
            url = f"agi://127.0.0.1:{agi_server.port}/dialer?campaign=7&lead={i}"
            # Lead 1 relies on the [cti-dialer] default URL built from CAMPAIGN_ID / LEAD_ID.
            var = "CAMPAIGN_ID=7,LEAD_ID=1" if i == 1 else f"CTI_AGI_URL={url}"
            ami.send(("Action", "Originate"), ("Channel", f"PJSIP/+1555000000{i}@carrier"),
                     ("Context", "cti-dialer"), ("Exten", f"1555000000{i}"), ("Priority", "1"),
                     ("Timeout", "30000"), ("Variable", var),
                     ("Async", "true"), ("ActionID", f"d{i}"))
        await ami.wait_for(lambda m: dict(m).get("ActionID") == "d4")
        await sim.wait_calls_done(5)
        await ami.barrier()
        results = {e["ActionID"]: (e["Response"], e["Reason"])
                   for e in ami.events("OriginateResponse")}
        assert results == {"d1": ("Success", "4"), "d2": ("Success", "4"),
                           "d3": ("Failure", "0"), "d4": ("Failure", "3")}
        amd = [(e["Variable"], e["Value"]) for e in ami.events("VarSet")
               if e["Variable"].startswith("AMD")]
        assert ("AMDSTATUS", "HUMAN") in amd and ("AMDSTATUS", "MACHINE") in amd
        assert ("AMDCAUSE", "MAXWORDS-3-2") in amd
        assert sorted(seen) == [("dialer?campaign=7&lead=1", "200 result=1 (HUMAN)"),
                                ("dialer?campaign=7&lead=2", "200 result=1 (MACHINE)")]
        st = sim.tally()
        assert st.originate_results == {"ANSWER": 2, "BUSY": 1, "NOANSWER": 1}
        assert st.amd_results == {"HUMAN": 1, "MACHINE": 1}
        await ami.close()


async def test_chanspy_originate_emits_start_and_stop(agi_server: TinyAgiServer) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        await agi_server.command(r, w, "EXEC Dial PJSIP/1001,15")

    agi_server.script = script
    phone = PhoneBehaviour(answer_delay_s=1.0, handle_time_s=200.0)
    async with PbxSimulator(fast_config(agi_server.port, phone=phone)) as sim:
        sim.set_phone("1001", PhoneBehaviour(answer_delay_s=1.0, handle_time_s=200.0))
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        call = await sim.place_inbound_call(patience_s=1000)
        await ami.wait_event("BridgeEnter", within=5)
        ami.send(("Action", "Originate"), ("Channel", "Local/wait@lab"), ("Context", "lab"),
                 ("Exten", "whisper1001"), ("Priority", "1"), ("Async", "true"),
                 ("CallerID", '"Supervisor" <5559000>'), ("ActionID", "spy"))
        start = await ami.wait_event("ChanSpyStart")
        # And a supervisor phone originated straight into the ChanSpy application.
        ami.send(("Action", "Originate"), ("Channel", "PJSIP/1009"), ("Application", "ChanSpy"),
                 ("Data", "PJSIP/1001,qE"), ("Async", "true"), ("ActionID", "spy2"))
        await ami.wait_for(lambda m: dict(m).get("Event") == "ChanSpyStart"
                           and dict(m).get("SpyerChannel", "").startswith("PJSIP/1009-"))
        assert start["SpyeeChannel"].startswith("PJSIP/1001-")
        assert start["SpyerChannel"].startswith("Local/wait@lab-") and start[
            "SpyerChannel"].endswith(";1")
        await call.wait(5)
        stop = await ami.wait_event("ChanSpyStop")
        assert stop["SpyeeChannel"] == start["SpyeeChannel"]
        await sim.wait_calls_done(5)
        await ami.barrier()
        spyers = sorted(e["SpyerChannel"].split("-")[0] for e in ami.events("ChanSpyStop"))
        assert spyers == ["Local/wait@lab", "PJSIP/1009"]
        assert sim.channel_snapshots() == []
        await ami.close()


async def test_hangup_and_redirect_actions(agi_server: TinyAgiServer) -> None:
    async with PbxSimulator(fast_config(agi_server.port, playback_s=10_000.0)) as sim:
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        ami.send(("Action", "Originate"), ("Channel", "PJSIP/1002"), ("Context", "lab"),
                 ("Exten", "playback"), ("Priority", "1"), ("Async", "true"), ("ActionID", "o"))
        resp = await ami.wait_event("OriginateResponse")
        chan = resp["Channel"]
        ami.send(("Action", "Redirect"), ("Channel", chan), ("Context", "lab"),
                 ("Exten", "echo"), ("Priority", "1"), ("ActionID", "r"))
        ok = dict(await ami.wait_for(lambda m: dict(m).get("ActionID") == "r"))
        assert ok["Response"] == "Success"
        await ami.wait_event("Newexten", Channel=chan, Application="Echo")
        ami.send(("Action", "Getvar"), ("Channel", chan), ("Variable", "CHANNEL(state)"),
                 ("ActionID", "g"))
        g = dict(await ami.wait_for(lambda m: dict(m).get("ActionID") == "g"))
        assert (g["Variable"], g["Value"]) == ("CHANNEL(state)", "Up")
        ami.send(("Action", "Hangup"), ("Channel", chan), ("ActionID", "h"))
        h = dict(await ami.wait_for(lambda m: dict(m).get("ActionID") == "h"))
        assert h["Message"] == "Channel Hungup"
        hang = await ami.wait_event("Hangup", Channel=chan)
        assert hang["Cause"] == "16"
        await sim.wait_calls_done(5)
        assert sim.channel_snapshots() == []
        await ami.close()


async def test_local_originate_to_external_number(agi_server: TinyAgiServer) -> None:
    profile = OutboundProfile(forced={"+15550000011": "human", "+15550000012": "busy"})
    async with PbxSimulator(fast_config(agi_server.port, outbound=profile)) as sim:
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        for i, number in enumerate(("+15550000011", "+15550000012")):
            ami.send(("Action", "Originate"), ("Channel", f"Local/{number}@from-cti"),
                     ("Context", "lab"), ("Exten", "wait"), ("Priority", "1"),
                     ("Timeout", "30000"), ("Async", "true"), ("ActionID", f"l{i}"))
            await ami.wait_for(lambda m, i=i: dict(m).get("ActionID") == f"l{i}")
        await sim.wait_calls_done(5)
        await ami.barrier()
        results = {e["ActionID"]: (e["Response"], e["Reason"])
                   for e in ami.events("OriginateResponse")}
        assert results == {"l0": ("Success", "4"), "l1": ("Failure", "0")}
        trunk = [e for e in ami.events("DialBegin") if e["DestChannel"].startswith("PJSIP/carrier")]
        assert [e["DialString"] for e in trunk] == ["+15550000011@carrier", "+15550000012@carrier"]
        assert all(e["Channel"].startswith("Local/") and e["Channel"].endswith(";2")
                   for e in trunk)
        assert sim.channel_snapshots() == []
        await ami.close()


async def test_sync_originate_answers_after_the_call_and_channel_id_sets_uniqueid(
    agi_server: TinyAgiServer,
) -> None:
    async with PbxSimulator(fast_config(agi_server.port)) as sim:
        sim.set_phone("1003", PhoneBehaviour(busy=True))
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        ami.send(("Action", "Originate"), ("Channel", "PJSIP/1001"), ("Context", "lab"),
                 ("Exten", "wait"), ("Priority", "1"), ("ChannelId", "cti-42"),
                 ("ActionID", "s1"))
        ok = dict(await ami.wait_for(lambda m: dict(m).get("ActionID") == "s1"))
        assert ok == {"Response": "Success", "ActionID": "s1",
                      "Message": "Originate successfully queued"}
        new = ami.events("Newchannel")[0]
        assert (new["Uniqueid"], new["Linkedid"]) == ("cti-42", "cti-42")
        # A re-sent Originate with the same ChannelId cannot ring anyone twice.
        ami.send(("Action", "Originate"), ("Channel", "PJSIP/1002"), ("Context", "lab"),
                 ("Exten", "wait"), ("Priority", "1"), ("ChannelId", "cti-42"),
                 ("Async", "true"), ("ActionID", "s2"))
        dup = await ami.wait_event("OriginateResponse", ActionID="s2")
        assert (dup["Response"], dup["Reason"]) == ("Failure", "0")
        assert len(ami.events("Newchannel")) == 1
        ami.send(("Action", "Originate"), ("Channel", "PJSIP/1003"), ("Context", "lab"),
                 ("Exten", "wait"), ("Priority", "1"), ("ActionID", "s3"))
        err = dict(await ami.wait_for(lambda m: dict(m).get("ActionID") == "s3"))
        assert err == {"Response": "Error", "ActionID": "s3", "Message": "Originate failed"}
        await ami.barrier()
        assert [e["ActionID"] for e in ami.events("OriginateResponse")] == ["s2"]
        await ami.close()


async def _bridged_inbound(sim: PbxSimulator, agi_server: TinyAgiServer, ami: AmiTestClient,
                           replies: list[str]) -> tuple[str, str]:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        replies.append(await agi_server.command(r, w, "EXEC Dial PJSIP/1001,15"))
        if replies[-1] == "200 result=-1":  # the call left the AGI: Asterisk says HANGUP
            replies.append((await r.readline()).decode().rstrip("\n"))

    agi_server.script = script
    call = await sim.place_inbound_call(patience_s=None)
    enter = await ami.wait_event("BridgeEnter", Channel=call.channel)
    agent = next(e["Channel"] for e in ami.events("BridgeEnter")
                 if e["BridgeUniqueid"] == enter["BridgeUniqueid"] and e["Channel"] != call.channel)
    return call.channel, agent


async def test_hold_by_dual_redirect_then_unhold_by_bridge(agi_server: TinyAgiServer) -> None:
    phone = PhoneBehaviour(answer_delay_s=1.0, handle_time_s=400.0)  # 0.4 s real talk
    async with PbxSimulator(fast_config(agi_server.port, phone=phone)) as sim:
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        replies: list[str] = []
        customer, agent = await _bridged_inbound(sim, agi_server, ami, replies)
        ami.send(("Action", "Redirect"), ("Channel", customer), ("ExtraChannel", agent),
                 ("Context", "cti-hold"), ("Exten", "customer"), ("Priority", "1"),
                 ("ExtraContext", "cti-hold"), ("ExtraExten", "agent"), ("ExtraPriority", "1"),
                 ("ActionID", "hold"))
        r = dict(await ami.wait_for(lambda m: dict(m).get("ActionID") == "hold"))
        assert r["Response"] == "Success"
        await ami.wait_event("MusicOnHoldStart", Channel=customer)
        await ami.wait_event("Newexten", Channel=agent, Application="Wait")
        assert replies == ["200 result=-1", "HANGUP"]  # the AGI learns the call left it
        assert sim.phone_state("1001") == "BUSY"  # the agent's phone stays up on hold
        ami.send(("Action", "Bridge"), ("Channel1", customer), ("Channel2", agent),
                 ("Tone", "no"), ("ActionID", "unhold"))
        r = dict(await ami.wait_for(lambda m: dict(m).get("ActionID") == "unhold"))
        assert r["Message"] == "Channels have been bridged"
        await ami.wait_event("MusicOnHoldStop", Channel=customer)
        await sim.wait_calls_done(5)
        await ami.barrier()
        creates = ami.events("BridgeCreate")
        assert len(creates) == 2 and len(ami.events("BridgeDestroy")) == 2
        second = [e["Channel"] for e in ami.events("BridgeEnter")
                  if e["BridgeUniqueid"] == creates[1]["BridgeUniqueid"]]
        assert sorted(second) == sorted([customer, agent])
        hangups = [e["Channel"] for e in ami.events("Hangup")]
        assert sorted(hangups) == sorted([customer, agent])  # each exactly once
        assert sim.channel_snapshots() == [] and sim.tally().answered == 1
        await ami.close()


async def test_blind_transfer_by_redirect_rings_the_new_agent(agi_server: TinyAgiServer) -> None:
    phone = PhoneBehaviour(answer_delay_s=1.0, handle_time_s=400.0)
    async with PbxSimulator(fast_config(agi_server.port, phone=phone)) as sim:
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        replies: list[str] = []
        customer, agent = await _bridged_inbound(sim, agi_server, ami, replies)
        ami.send(("Action", "Redirect"), ("Channel", customer), ("Context", "agents"),
                 ("Exten", "1002"), ("Priority", "1"), ("ActionID", "xfer"))
        await ami.wait_event("Hangup", Channel=agent)
        begin = await ami.wait_event("DialBegin", Channel=customer, DialString="1002")
        assert begin["DestChannel"].startswith("PJSIP/1002-")
        await sim.wait_calls_done(5)
        await ami.barrier()
        assert sim.tally().agent_answered == {"1001": 1, "1002": 1}
        assert sim.channel_snapshots() == []
        await ami.close()


async def test_attended_transfer_hands_the_customer_to_the_target(
    agi_server: TinyAgiServer,
) -> None:
    phone = PhoneBehaviour(answer_delay_s=1.0, handle_time_s=400.0)
    async with PbxSimulator(fast_config(agi_server.port, phone=phone)) as sim:
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        replies: list[str] = []
        customer, agent = await _bridged_inbound(sim, agi_server, ami, replies)
        ami.send(("Action", "Atxfer"), ("Channel", "PJSIP/1099-ffffffff"), ("Exten", "1003"),
                 ("Context", "agents"), ("ActionID", "bad"))
        bad = dict(await ami.wait_for(lambda m: dict(m).get("ActionID") == "bad"))
        assert bad["Response"] == "Error"
        ami.send(("Action", "Atxfer"), ("Channel", agent), ("Exten", "1003"),
                 ("Context", "agents"), ("ActionID", "atx"))
        ok = dict(await ami.wait_for(lambda m: dict(m).get("ActionID") == "atx"))
        assert ok["Message"] == "Atxfer successfully queued"
        await ami.wait_event("MusicOnHoldStart", Channel=customer)
        begin = await ami.wait_event("DialBegin", Channel=agent)
        assert begin["DestChannel"].startswith("PJSIP/1003-")
        xfer = await ami.wait_event("AttendedTransfer", OrigTransfererChannel=agent)
        assert (xfer["Result"], xfer["TransfereeChannel"], xfer["TransferTargetChannel"],
                xfer["DestType"]) == ("Success", customer, begin["DestChannel"], "Bridge")
        await ami.wait_event("Hangup", Channel=agent)
        enter = await ami.wait_event("BridgeEnter", Channel=begin["DestChannel"])
        first = ami.events("BridgeCreate")[0]["BridgeUniqueid"]
        assert enter["BridgeUniqueid"] == first  # the target joins the customer's bridge
        await sim.wait_calls_done(5)
        await ami.barrier()
        assert sim.tally().agent_answered == {"1001": 1, "1003": 1}
        assert sim.channel_snapshots() == []
        await ami.close()


async def test_blind_transfer_from_the_phone_emits_blindtransfer_and_moves_the_customer(
    agi_server: TinyAgiServer,
) -> None:
    from cti import events as cev
    from cti.parse import parse

    phone = PhoneBehaviour(answer_delay_s=1.0, handle_time_s=400.0)
    async with PbxSimulator(fast_config(agi_server.port, phone=phone)) as sim:
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        replies: list[str] = []
        customer, agent = await _bridged_inbound(sim, agi_server, ami, replies)
        sim.phone_blind_transfer(agent, "1003")
        xfer = await ami.wait_event("BlindTransfer", TransfererChannel=agent)
        assert (xfer["Result"], xfer["TransfereeChannel"], xfer["Extension"],
                xfer["Context"]) == ("Success", customer, "1003", "from-cti")
        typed = parse(dict(xfer))
        assert isinstance(typed, cev.BlindTransfer)
        assert (typed.transferer.channel, typed.transferee and typed.transferee.channel,
                typed.extension) == (agent, customer, "1003")
        await ami.wait_event("Hangup", Channel=agent)
        # The customer dials the target and talks to it.
        begin = dict(await ami.wait_for(
            lambda m: dict(m).get("Event") == "DialBegin"
            and dict(m).get("DestChannel", "").startswith("PJSIP/1003-")))
        assert begin["Channel"] == customer
        await ami.wait_event("BridgeEnter", Channel=begin["DestChannel"])
        await sim.wait_calls_done(5)
        await ami.barrier()
        assert sim.tally().agent_answered == {"1001": 1, "1003": 1}
        await ami.close()


async def test_a_desk_phone_call_comes_from_the_phone_with_the_number_dialled(
    agi_server: TinyAgiServer,
) -> None:
    phone = PhoneBehaviour(answer_delay_s=1.0, handle_time_s=100.0)
    outbound = OutboundProfile(forced={"+12025550100": "human"}, answer_delay_s=1.0)
    async with PbxSimulator(fast_config(agi_server.port, phone=phone,
                                        outbound=outbound)) as sim:
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        call = sim.place_phone_call("1002", "+12025550100")
        new = await ami.wait_event("Newchannel", Channel=call.channel)
        assert (new["ChannelState"], new["Exten"], new["CallerIDNum"]) == (
            "4", "+12025550100", "1002")
        begin = await ami.wait_event("DialBegin", Channel=call.channel)
        assert begin["DestChannel"].startswith("PJSIP/carrier-")
        assert begin["DestLinkedid"] == new["Uniqueid"]
        await call.wait(5)
        await ami.barrier()
        assert sim.channel_snapshots() == []
        await ami.close()
