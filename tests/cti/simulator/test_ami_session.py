"""Session-level AMI bytes compared with the real Asterisk 22 captures."""

from __future__ import annotations

import asyncio
import re

from cti.simulator import PbxSimulator

from .conftest import TRANSCRIPTS, AmiTestClient

VOLATILE = {
    "Timestamp", "EventTV", "SessionTV", "SessionID", "LocalAddress", "RemoteAddress", "Uptime",
    "LastReload",
}


def normalise(raw: bytes) -> bytes:
    """Blank the values that differ per run (times, ids, ports) and nothing else."""
    out = []
    for line in raw.split(b"\r\n"):
        key, sep, _ = line.partition(b": ")
        if sep and key.decode() in VOLATILE:
            line = key + b": X"
        out.append(line)
    return b"\r\n".join(out)


def messages_for(raw: bytes, action_ids: set[str]) -> list[bytes]:
    """The messages of a capture that answer the given ActionIDs, plus the security events
    that follow them, in order."""
    body = raw.split(b"\r\n", 1)[1]
    picked = []
    keep_next_security = False
    for msg in body.split(b"\r\n\r\n"):
        if not msg:
            continue
        m = re.search(rb"^ActionID: (.*)$", msg, re.M)
        if m and m.group(1).decode() in action_ids:
            picked.append(msg)
            keep_next_security = True
        elif keep_next_security and msg.startswith(b"Event: RequestBadFormat"):
            picked.append(msg)
            keep_next_security = False
    return picked


async def replay(port: int, sent: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(sent)
    got = await asyncio.wait_for(reader.read(-1), 5.0)
    writer.close()
    return got


async def test_failed_login_bytes_equal_capture(sim: PbxSimulator) -> None:
    sent = (TRANSCRIPTS / "login_failed.sent.raw").read_bytes()
    expected = (TRANSCRIPTS / "login_failed.ami.raw").read_bytes()
    got = await replay(sim.ami_port, sent)
    assert got == expected  # and the read(-1) returning proves the socket was closed


async def test_unknown_user_bytes_equal_capture(sim: PbxSimulator) -> None:
    sent = (TRANSCRIPTS / "login_failed_unknown_user.sent.raw").read_bytes()
    expected = (TRANSCRIPTS / "login_failed_unknown_user.ami.raw").read_bytes()
    assert await replay(sim.ami_port, sent) == expected


async def test_events_off_session_bytes_equal_capture(sim: PbxSimulator) -> None:
    sent = (TRANSCRIPTS / "login_events_off.sent.raw").read_bytes()
    expected = (TRANSCRIPTS / "login_events_off.ami.raw").read_bytes()
    assert await replay(sim.ami_port, sent) == expected


async def test_good_login_bytes_equal_capture_modulo_ids(sim: PbxSimulator) -> None:
    sent = (TRANSCRIPTS / "originate_busy.sent.raw").read_bytes()
    login, _, _ = sent.partition(b"\r\n\r\n")
    logoff = b"Action: Logoff\r\nActionID: originate_busy-52\r\n\r\n"
    got = await replay(sim.ami_port, login + b"\r\n\r\n" + logoff)
    expected = (TRANSCRIPTS / "originate_busy.ami.raw").read_bytes()
    # Capture: banner, login response, FullyBooted, SuccessfulAuth ... Goodbye.
    exp_msgs = expected.split(b"\r\n\r\n")
    want = b"\r\n\r\n".join(exp_msgs[:3]) + b"\r\n\r\n" + exp_msgs[-2] + b"\r\n\r\n"
    assert normalise(got) == normalise(want)
    assert got.startswith(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n")


async def test_malformed_and_error_requests_match_actions_capture(sim: PbxSimulator) -> None:
    sent = (TRANSCRIPTS / "actions.sent.raw").read_bytes()
    login = sent.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    start = sent.index(b"Action: NoSuchAction")
    tail = sent[start:]
    # Ping, then the malformed requests, nonexistent-channel Hangup/Redirect, Logoff.
    ping = b"Action: Ping\r\nActionID: actions-9\r\n\r\n"
    got = await replay(sim.ami_port, login + ping + tail)
    ids = {"actions-9", "actions-43", "actions-noaction", "actions-origbad", "actions-garbage",
           "actions-44", "actions-45", "actions-46"}
    expected = messages_for((TRANSCRIPTS / "actions.ami.raw").read_bytes(), ids)
    assert [normalise(m) for m in messages_for(got, ids)] == [normalise(m) for m in expected]


async def test_action_before_login_is_denied_and_session_stays_open(sim: PbxSimulator) -> None:
    client = await AmiTestClient.connect(sim.ami_port)
    client.send(("Action", "CoreShowChannels"), ("ActionID", "x1"))
    m = dict(await client.wait_for(lambda m: dict(m).get("ActionID") == "x1"))
    assert m == {"Response": "Error", "ActionID": "x1", "Message": "Permission denied"}
    await client.login()
    client.send(("Action", "Ping"), ("ActionID", "x2"))
    pong = dict(await client.wait_for(lambda m: dict(m).get("ActionID") == "x2"))
    assert pong["Ping"] == "Pong"
    await client.close()


async def test_every_client_gets_events_unless_events_off(sim: PbxSimulator) -> None:
    a = await AmiTestClient.connect(sim.ami_port)
    b = await AmiTestClient.connect(sim.ami_port)
    c = await AmiTestClient.connect(sim.ami_port)
    await a.login()
    await b.login()
    await c.login(events="off")
    sim.register_phone("1003", False)
    for client in (a, b):
        e = await client.wait_event("DeviceStateChange", Device="PJSIP/1003")
        assert e["State"] == "UNAVAILABLE"
    c.send(("Action", "Ping"), ("ActionID", "p"))
    await c.wait_for(lambda m: dict(m).get("ActionID") == "p")
    assert c.events() == []
    for client in (a, b, c):
        await client.close()


async def test_oversized_request_drops_only_that_client(agi_server: object) -> None:
    from .conftest import fast_config

    cfg = fast_config(1, max_message_bytes=4096)
    async with PbxSimulator(cfg) as sim:
        bad = await AmiTestClient.connect(sim.ami_port)
        bad.writer.write(b"Action: Ping\r\nX: " + b"a" * 10000)
        await asyncio.wait_for(bad._task, 5.0)  # closed by the server
        good = await AmiTestClient.connect(sim.ami_port)
        await good.login()
        await good.close()


async def test_event_mask_filters_by_class(sim: PbxSimulator) -> None:
    client = await AmiTestClient.connect(sim.ami_port)
    await client.login(events="off")
    client.send(("Action", "Events"), ("EventMask", "agent"), ("ActionID", "m"))
    resp = dict(await client.wait_for(lambda m: dict(m).get("ActionID") == "m"))
    assert resp == {"Response": "Success", "ActionID": "m", "Events": "On"}
    sim.register_phone("1001", False)  # DeviceStateChange (call) + QueueMemberStatus (agent)
    await client.barrier()
    assert [e["Event"] for e in client.events()] == ["QueueMemberStatus"]
    await client.close()
