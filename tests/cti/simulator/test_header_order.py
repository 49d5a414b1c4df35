"""For every event type the simulator emits, the header order equals the real captures'."""

from __future__ import annotations

import asyncio
import socket

from cti.simulator import OutboundProfile, PbxSimulator, PhoneBehaviour

from .conftest import TRANSCRIPTS, AmiTestClient, TinyAgiServer, fast_config


def captured_orders() -> dict[str, set[tuple[str, ...]]]:
    """Event name -> every header-key order seen for it in tests/data/ami-transcripts."""
    orders: dict[str, set[tuple[str, ...]]] = {}
    for path in sorted(TRANSCRIPTS.glob("*.ami.raw")):
        raw = path.read_bytes().decode()
        for msg in raw.split("\r\n\r\n"):
            lines = [ln for ln in msg.split("\r\n") if ln]
            if lines and lines[0].startswith("Asterisk Call Manager"):
                lines = lines[1:]
            if not lines or not lines[0].startswith("Event: "):
                continue
            keys = tuple(ln.split(":", 1)[0] for ln in lines[1:])
            orders.setdefault(lines[0][7:], set()).add(keys)
    return orders


def test_checker_extracts_known_layouts() -> None:
    orders = captured_orders()
    assert ("Privilege", "Device", "State") in orders["DeviceStateChange"]
    hangup = orders["Hangup"]
    assert any(k[-3:] == ("Cause", "Cause-txt", "TechCause") for k in hangup)
    assert len(orders) > 50


async def _scenarios(sim: PbxSimulator, agi: TinyAgiServer, ami: AmiTestClient) -> None:
    """Drive every flow the simulator has, so that every event type it can emit appears."""

    async def ivr(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        if env["agi_network_script"].startswith("dialer"):
            await agi.command(r, w, "EXEC Dial PJSIP/1005,15")
            return
        for cmd in ('STREAM FILE demo-congrats "0123456789*#"', "GET DATA beep 5000 1",
                    "SET MUSIC ON default", "SET MUSIC OFF", "EXEC Dial PJSIP/1001,15"):
            await agi.command(r, w, cmd)

    agi.script = ivr
    call = await sim.place_inbound_call(dtmf="11", patience_s=None)
    await call.wait(5)
    # Abandon while ringing; busy; unavailable.
    sim.set_phone("1002", PhoneBehaviour(answers=False))

    async def ring_1002(
        r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]
    ) -> None:
        await agi.command(r, w, "EXEC Dial PJSIP/1002,60")

    agi.script = ring_1002
    call = await sim.place_inbound_call(patience_s=None)
    await ami.wait_event("DialState", DialStatus="RINGING")
    sim.hangup_caller(call.channel)
    await call.wait(5)
    # Originates: busy, no answer, answered + AMI hangup, Local, dialer (human + machine).
    sim.set_phone("1003", PhoneBehaviour(busy=True))
    sim.set_phone("1004", PhoneBehaviour(answers=False))
    agi.script = ivr
    for i, (chan, ctx, exten) in enumerate([
        ("PJSIP/1003", "lab", "playback"), ("PJSIP/1004", "lab", "playback"),
        ("PJSIP/1006", "lab", "playback"), ("Local/amd@lab", "lab", "playback"),
        ("PJSIP/+15550000001@carrier", "cti-dialer", "s"),
        ("PJSIP/+15550000002@carrier", "cti-dialer", "s"),
    ]):
        ami.send(("Action", "Originate"), ("Channel", chan), ("Context", ctx), ("Exten", exten),
                 ("Priority", "1"), ("Timeout", "8000"), ("CallerID", '"Lab" <5550002>'),
                 ("Variable", "CTI_CALL_ID=lab-1"), ("Async", "true"),
                 ("ActionID", f"o{i}"))
        await ami.wait_for(lambda m, i=i: dict(m).get("ActionID") == f"o{i}")
    await sim.wait_calls_done(10)
    # ChanSpy on a talking agent.
    sim.set_phone("1001", PhoneBehaviour(answer_delay_s=1.0, handle_time_s=300.0))

    async def talk(r: asyncio.StreamReader, w: asyncio.StreamWriter, env: dict[str, str]) -> None:
        await agi.command(r, w, "EXEC Dial PJSIP/1001,15")

    agi.script = talk
    call = await sim.place_inbound_call(patience_s=None)
    await ami.wait_event("BridgeEnter", Channel=call.channel)
    ami.send(("Action", "Originate"), ("Channel", "Local/wait@lab"), ("Context", "lab"),
             ("Exten", "whisper1001"), ("Priority", "1"), ("Async", "true"),
             ("ActionID", "spy"))
    await ami.wait_event("ChanSpyStart")
    await sim.wait_calls_done(10)
    await ami.barrier()


async def test_every_emitted_event_has_a_captured_header_order(
    sim: PbxSimulator, agi_server: TinyAgiServer, ami: AmiTestClient
) -> None:
    emitted: list[list[tuple[str, str]]] = []
    sim.add_listener(lambda headers: emitted.append(list(headers)))
    await _scenarios(sim, agi_server, ami)
    orders = captured_orders()
    seen: dict[str, tuple[str, ...]] = {}
    for headers in emitted:
        name = headers[0][1]
        keys = tuple(k for k, _ in headers[1:])
        assert name in orders, f"{name} never appears in the captures"
        assert keys in orders[name], f"{name}: {keys} not in {orders[name]}"
        seen[name] = keys
    # The scenarios really exercised the simulator (a checker that saw nothing proves nothing).
    must = {"Newchannel", "Newexten", "VarSet", "Newstate", "DialBegin", "DialState", "DialEnd",
            "BridgeCreate", "BridgeEnter", "BridgeLeave", "BridgeDestroy", "Hangup",
            "HangupRequest", "SoftHangupRequest", "DeviceStateChange", "OriginateResponse",
            "LocalBridge", "NewCallerid", "NewConnectedLine", "AGIExecStart", "AGIExecEnd",
            "DTMFEnd", "MusicOnHoldStart", "MusicOnHoldStop", "Cdr", "ChanSpyStart",
            "ChanSpyStop", "QueueMemberStatus"}
    assert must <= set(seen), must - set(seen)
    # The bytes on the wire are the same events, in the same order.
    wire = [m for m in ami.messages if m and m[0][0] == "Event"
            and m[0][1] not in ("FullyBooted", "SuccessfulAuth")]
    assert [tuple(k for k, _ in m) for m in wire] == [tuple(k for k, _ in h) for h in emitted]


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


async def test_queue_fallback_and_session_events_have_captured_orders() -> None:
    emitted: list[list[tuple[str, str]]] = []
    cfg = fast_config(_closed_port(), outbound=OutboundProfile())
    async with PbxSimulator(cfg) as sim:
        sim.add_listener(lambda headers: emitted.append(list(headers)))
        ami = await AmiTestClient.connect(sim.ami_port)
        await ami.login()
        sim.set_phone("1001", PhoneBehaviour(answers=False))
        sim.set_phone("1002", PhoneBehaviour(answers=False))
        # Patience (0.2 s real) outlasts a 15 s (15 ms) ring even on a loaded machine.
        call = await sim.place_inbound_call(patience_s=200)
        await call.wait(5)
        sim.set_phone("1001", PhoneBehaviour())
        call = await sim.place_inbound_call(patience_s=None)
        await call.wait(5)
        ami.send(("Action", "NoSuchAction"), ("ActionID", "bad"))
        await ami.barrier()
        session_events = [m for m in ami.messages if m and m[0][0] == "Event"
                          and m[0][1] in ("FullyBooted", "SuccessfulAuth", "RequestBadFormat")]
        await ami.close()
    orders = captured_orders()
    names = set()
    for headers in emitted + session_events:
        name = headers[0][1]
        keys = tuple(k for k, _ in headers[1:])
        assert keys in orders[name], f"{name}: {keys}"
        names.add(name)
    assert {"QueueCallerJoin", "QueueCallerAbandon", "QueueCallerLeave", "AgentCalled",
            "AgentRingNoAnswer", "AgentConnect", "AgentComplete", "FullyBooted",
            "SuccessfulAuth", "RequestBadFormat"} <= names
