"""AMI client against the loopback replay server (real Asterisk 22 bytes, ActionIDs rewritten)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from common.bus import Bus
from common.messages import PbxConnected, PbxConnectionLost, PbxResynced
from config.cti import AmiSettings
from cti import commands
from cti.ami import (
    ActionTimeout,
    AmiClient,
    AmiResponse,
    AmiState,
    OriginateOutcomeUnknown,
    _AmiProtocol,
    backoff_delay,
    connection_message,
)
from cti.errors import (
    ActionFailed,
    AmiConnectionError,
    AuthenticationFailed,
    CtiError,
    InvalidValue,
)
from cti.events import (
    AmiConnected,
    AmiLost,
    AmiResynced,
    ChannelCreated,
    ChannelSnapshot,
    CtiEvent,
)
from cti.framing import AmiFramer
from cti.parse import parse
from tests.cti.replay_server import (
    TERM,
    ReplayAmiServer,
    channel_row,
    event_messages,
    read_transcript,
    reply_for,
    split_messages,
    with_action_id,
)


class Recorder:
    def __init__(self) -> None:
        self.events: list[CtiEvent] = []

    def __call__(self, ev: CtiEvent) -> None:
        self.events.append(ev)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    async def until(self, pred: Callable[[], bool], within: float = 5.0) -> None:
        """Poll: most conditions (client stats, backlog) have no change notification."""
        async with asyncio.timeout(within):
            while not pred():  # noqa: ASYNC110
                await asyncio.sleep(0.005)


def _settings(port: int, **kw: Any) -> AmiSettings:
    base: dict[str, Any] = dict(
        host="127.0.0.1", port=port, ping_interval_s=30.0, ping_timeout_s=5.0,
        reconnect_min_s=0.01, reconnect_max_s=0.05, action_timeout_s=5.0,
    )
    base.update(kw)
    return AmiSettings(**base)


@pytest.fixture
async def server() -> AsyncIterator[ReplayAmiServer]:
    srv = ReplayAmiServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


async def _connected(server: ReplayAmiServer, rec: Recorder, **kw: Any) -> AmiClient:
    client = AmiClient(_settings(server.port, **kw), on_event=rec, rng=random.Random(7))
    async with asyncio.timeout(5):
        await client.connect()
    return client


def _transcript_events(name: str) -> list[CtiEvent]:
    """What parse() makes of a capture's unsolicited events, framed independently."""
    framer = AmiFramer(1 << 20, expect_banner=False)
    msgs = framer.feed(b"".join(m + TERM for m in event_messages(name)))
    return [e for e in (parse(m) for m in msgs) if e is not None]


# ---------------------------------------------------------------- login and resync


async def test_login_and_resync_use_real_banner_and_channels(
    server: ReplayAmiServer, rec: Recorder
) -> None:
    client = await _connected(server, rec)
    try:
        assert client.state is AmiState.CONNECTED
        assert client.banner == "Asterisk Call Manager/11.0.0"
        sent = server.connections[0].actions
        assert [a["Action"] for a in sent[:2]] == ["Login", "CoreShowChannels"]
        assert sent[0]["Username"] == "cti" and sent[0]["Secret"] == "cti-secret"
        await rec.until(lambda: len(rec.of(AmiResynced)) == 1)
        assert isinstance(rec.events[0], AmiConnected)
        assert rec.events[0].banner == "Asterisk Call Manager/11.0.0"
        resynced = rec.events[1]
        assert isinstance(resynced, AmiResynced)
        assert [c.chan.channel for c in resynced.channels] == [
            "Local/wait@lab-00000000;1",
            "Local/wait@lab-00000000;2",
        ]
        assert all(isinstance(c, ChannelSnapshot) for c in resynced.channels)
        status = client.status()
        assert (status.state, status.connects, status.banner) == (
            "connected", 1, "Asterisk Call Manager/11.0.0"
        )
    finally:
        await client.close()
    assert client.state is AmiState.CLOSED
    assert server.connections[0].names()[-1] == "Logoff"
    assert isinstance(rec.events[-1], AmiLost)


@pytest.mark.parametrize(("user", "secret"), [("cti", "wrong-secret"), ("nobody", "x")])
async def test_login_refused_is_terminal(
    server: ReplayAmiServer, rec: Recorder, user: str, secret: str
) -> None:
    client = AmiClient(_settings(server.port, username=user, secret=secret), on_event=rec)
    await client.start()
    with pytest.raises(AuthenticationFailed, match="Authentication failed"):
        async with asyncio.timeout(5):
            await client.wait_ready()
    assert client.state is AmiState.CLOSED
    assert len(server.connections) == 1  # a wrong secret is not retried
    assert rec.of(AmiConnected) == []
    await client.close()


def test_coroutine_callback_is_refused() -> None:
    async def on_event(ev: CtiEvent) -> None: ...

    with pytest.raises(TypeError, match="coroutine"):
        AmiClient(_settings(1), on_event=on_event)  # type: ignore[arg-type]


async def test_send_before_connect_fails_fast(rec: Recorder) -> None:
    client = AmiClient(_settings(1), on_event=rec)
    with pytest.raises(AmiConnectionError, match="not connected"):
        await client.send_fields([("Action", "Ping")])


async def test_keeps_retrying_until_asterisk_listens(rec: Recorder) -> None:
    srv = ReplayAmiServer()
    await srv.start()
    port = srv.port
    await srv.stop()  # nothing listens on `port` now
    client = AmiClient(_settings(port), on_event=rec, rng=random.Random(1))
    await client.start()
    try:
        await rec.until(lambda: len(client.counters.reconnect_delays) >= 2)
        assert client.state in (AmiState.CONNECTING, AmiState.DISCONNECTED)
        await srv.start(port)
        async with asyncio.timeout(5):
            await client.wait_ready()
        assert client.state is AmiState.CONNECTED
    finally:
        await client.close()
        await srv.stop()


# ---------------------------------------------------------------- events


@pytest.mark.parametrize("name", ["inbound_queue_answered", "agi_session", "chanspy_supervisor"])
async def test_events_delivered_in_wire_order(
    server: ReplayAmiServer, rec: Recorder, name: str
) -> None:
    client = await _connected(server, rec)
    try:
        expected = _transcript_events(name)
        assert len(expected) > 20
        stream = b"".join(m + TERM for m in event_messages(name))
        # Odd-sized writes so messages straddle reads.
        for i in range(0, len(stream), 997):
            await server.push(stream[i : i + 997])
        await rec.until(lambda: client.counters.events >= len(expected))
        await rec.until(lambda: client.backlog == 0)
        live = [e for e in rec.events if not isinstance(e, AmiConnected | AmiResynced)]
        assert live == expected
    finally:
        await client.close()


async def test_consumer_error_is_logged_and_delivery_continues(
    server: ReplayAmiServer, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[CtiEvent] = []

    def flaky(ev: CtiEvent) -> None:
        if isinstance(ev, ChannelCreated) and not any(isinstance(g, ChannelCreated) for g in got):
            got.append(ev)
            raise RuntimeError("consumer bug")
        got.append(ev)

    client = AmiClient(_settings(server.port), on_event=flaky)
    async with asyncio.timeout(5):
        await client.connect()
    try:
        expected = _transcript_events("inbound_queue_abandoned")
        await server.push(b"".join(m + TERM for m in event_messages("inbound_queue_abandoned")))
        rec = Recorder()
        await rec.until(lambda: len(got) >= len(expected) + 2)
        assert got[2:] == expected
        assert client.counters.consumer_errors == 1
        assert any("consumer failed" in r.getMessage() for r in caplog.records)
    finally:
        await client.close()


async def test_bus_gets_the_connection_state_and_no_raw_events(server: ReplayAmiServer) -> None:
    bus = Bus()
    conn = bus.subscribe("pbx.connection.")
    client = AmiClient(_settings(server.port), on_event=bus)
    async with asyncio.timeout(5):
        await client.connect()
    try:
        await server.push(b"".join(m + TERM for m in event_messages("originate_busy")))
        async with asyncio.timeout(5):
            first = await conn.get()
            second = await conn.get()
        assert isinstance(first.message, PbxConnected) and first.topic == PbxConnected.TOPIC
        assert isinstance(second.message, PbxResynced)
    finally:
        await client.close()
    # Raw AMI events are the tracker's input, not bus messages.
    raw = _transcript_events("originate_busy")
    assert raw and all(connection_message(ev) is None for ev in raw)
    assert connection_message(AmiLost("eof")) == PbxConnectionLost("eof")


# ---------------------------------------------------------------- actions


async def test_responses_matched_by_action_id_even_out_of_order(
    server: ReplayAmiServer, rec: Recorder
) -> None:
    client = await _connected(server, rec)
    try:
        server.hold.add("corestatus")
        slow = asyncio.create_task(client.send_fields([("Action", "CoreStatus")]))
        await server.wait_action("corestatus")
        settings, queues, contacts = await asyncio.gather(
            client.send_fields([("Action", "CoreSettings")]),
            client.send_fields([("Action", "QueueStatus")]),
            client.send_fields([("Action", "PJSIPShowContacts")]),
            return_exceptions=True,
        )
        assert not isinstance(settings, BaseException) and not isinstance(queues, BaseException)
        assert settings["AsteriskVersion"] == "22.10.1"
        assert queues.events and all(e["ActionID"] == queues["ActionID"] for e in queues.events)
        assert queues.complete is not None and queues.complete["Event"] == "QueueStatusComplete"
        # Asterisk answers "no contacts" as an Error, with a bare LF before the blank line.
        assert isinstance(contacts, ActionFailed)
        assert contacts.response["Message"].startswith("No Contacts found")
        assert not slow.done()
        held = next(a for a in server.connections[0].actions if a["Action"] == "CoreStatus")
        await server.push(
            f"Response: Success\r\nActionID: {held['ActionID']}\r\nCoreCurrentCalls: 3\r\n\r\n"
            .encode()
        )
        resp = await asyncio.wait_for(slow, 5)
        assert resp["CoreCurrentCalls"] == "3"
        assert client.pending_actions == 0
    finally:
        await client.close()


async def test_error_response_raises_action_failed(server: ReplayAmiServer, rec: Recorder) -> None:
    client = await _connected(server, rec)
    try:
        with pytest.raises(ActionFailed) as info:
            await client.send_fields([("Action", "NoSuchAction")])
        assert info.value.response["Response"] == "Error"
        assert "Invalid/unknown command" in str(info.value)
        assert client.state is AmiState.CONNECTED
    finally:
        await client.close()


async def test_action_timeout_then_late_reply_is_ignored(
    server: ReplayAmiServer, rec: Recorder
) -> None:
    client = await _connected(server, rec)
    try:
        server.hold.add("corestatus")
        with pytest.raises(ActionTimeout):
            await client.send_fields([("Action", "CoreStatus")], timeout_s=0.05)
        assert client.pending_actions == 0
        held = server.connections[0].actions[-1]
        await server.push(f"Response: Success\r\nActionID: {held['ActionID']}\r\n\r\n".encode())
        resp = await client.send_fields([("Action", "CoreSettings")])
        assert resp["AsteriskVersion"] == "22.10.1"
        assert client.state is AmiState.CONNECTED
    finally:
        await client.close()


async def test_invalid_value_sends_nothing(server: ReplayAmiServer, rec: Recorder) -> None:
    client = await _connected(server, rec)
    try:
        before = len(server.connections[0].actions)
        with pytest.raises(InvalidValue):
            await client.send_fields(
                [("Action", "Getvar"), ("Variable", "X\r\nAction: Originate")]
            )
        with pytest.raises(InvalidValue):
            await client.send_fields([("Variable", "X")])  # no Action header
        await client.send_fields([("Action", "Ping")])
        assert [a["Action"] for a in server.connections[0].actions[before:]] == ["Ping"]
        assert client.pending_actions == 0
    finally:
        await client.close()


async def test_send_keeps_the_actions_own_action_id(
    server: ReplayAmiServer, rec: Recorder
) -> None:
    client = await _connected(server, rec)
    try:
        aid = client.next_action_id()
        resp = await client.send(commands.getvar("PJSIP/1001-00000001", "CHANNEL(state)",
                                                 action_id=aid))
        assert resp["ActionID"] == aid
        sent = server.connections[0].actions[-1]
        assert (sent["Action"], sent["ActionID"], sent["Variable"]) == (
            "Getvar", aid, "CHANNEL(state)"
        )
        server.hold.add("ping")
        first = asyncio.create_task(client.send(commands.ping(action_id="dup-1")))
        await server.wait_action("ping", 1)
        with pytest.raises(InvalidValue, match="in flight"):
            await client.send(commands.ping(action_id="dup-1"))
        first.cancel()
    finally:
        await client.close()


# ---------------------------------------------------------------- liveness and reconnects


async def test_unanswered_ping_reconnects_with_exponential_backoff(
    server: ReplayAmiServer, rec: Recorder
) -> None:
    server.answer_pings = False
    client = await _connected(
        server, rec,
        ping_interval_s=0.02, ping_timeout_s=0.03, reconnect_min_s=0.01, reconnect_max_s=0.08,
    )
    try:
        await server.wait_logins(5)
        await rec.until(lambda: client.counters.ping_timeouts >= 4)
        delays = list(client.counters.reconnect_delays)
        rng = random.Random(7)  # the client's rng: only backoff draws from it
        expected = [backoff_delay(i, 0.01, 0.08, rng) for i in range(len(delays))]
        assert delays == expected
        assert delays[3] > delays[0]
        lost = rec.of(AmiLost)
        assert len(lost) >= 4 and all("no Pong" in x.reason for x in lost)
    finally:
        await client.close()


async def test_answered_ping_keeps_connection_and_resets_backoff(
    server: ReplayAmiServer, rec: Recorder
) -> None:
    client = await _connected(server, rec, ping_interval_s=0.01, ping_timeout_s=1.0)
    try:
        await server.wait_action("ping", 3)
        assert client.counters.ping_timeouts == 0
        assert len(server.connections) == 1
        server.drop_all()
        await server.wait_logins(2)
        # The dropped connection had answered Pings: the next delay starts from the bottom again.
        first = backoff_delay(0, 0.01, 0.05, random.Random(7))
        assert list(client.counters.reconnect_delays) == [first]
    finally:
        await client.close()


async def test_oversized_message_drops_and_reconnects(
    server: ReplayAmiServer, rec: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    client = await _connected(server, rec, max_message_bytes=4096)
    try:
        await server.push(b"Event: Flood\r\nData: " + b"x" * 6000)  # never terminated
        await server.wait_logins(2)
        await rec.until(lambda: len(rec.of(AmiResynced)) == 2)
        assert client.counters.oversized_drops == 1
        assert "exceeds 4096" in rec.of(AmiLost)[0].reason
        assert any(
            r.levelno == logging.ERROR and "exceeds 4096" in r.getMessage() for r in caplog.records
        )
        # A complete but oversized message is refused the same way.
        await server.push(b"Event: Flood\r\nData: " + b"y" * 6000 + TERM)
        await server.wait_logins(3)
        # And the connection after that works.
        await rec.until(lambda: client.state is AmiState.CONNECTED)
        resp = await client.send_fields([("Action", "CoreSettings")])
        assert resp["AsteriskVersion"] == "22.10.1"
    finally:
        await client.close()


async def test_originate_in_flight_is_not_resent_but_reads_are(
    server: ReplayAmiServer, rec: Recorder
) -> None:
    client = await _connected(server, rec)
    try:
        server.hold.update({"originate", "queuestatus", "queuepause"})
        originate = asyncio.create_task(client.send_fields([
            ("Action", "Originate"), ("Channel", "PJSIP/1001"), ("Context", "from-cti"),
            ("Exten", "100"), ("Priority", "1"), ("Async", "true"), ("ChannelId", "cti-42"),
        ]))
        status = asyncio.create_task(client.send_fields([("Action", "QueueStatus")]))
        pause = asyncio.create_task(client.send_fields(
            [("Action", "QueuePause"), ("Interface", "PJSIP/1001"), ("Paused", "true")]
        ))
        for name in ("originate", "queuestatus", "queuepause"):
            await server.wait_action(name)
        server.hold.clear()
        server.drop_all()

        with pytest.raises(OriginateOutcomeUnknown) as info:
            await asyncio.wait_for(originate, 5)
        assert info.value.channel_id == "cti-42"
        assert "not re-sent" in str(info.value)
        with pytest.raises(AmiConnectionError, match="may or may not"):
            await asyncio.wait_for(pause, 5)
        resp = await asyncio.wait_for(status, 5)  # read-only: re-sent after the resync
        assert resp.complete is not None

        await server.wait_logins(2)
        second = server.connections[1].names()
        assert second[:2] == ["Login", "CoreShowChannels"]
        assert "QueueStatus" in second
        assert server.count("originate") == 1
        assert server.count("queuepause") == 1
        assert client.counters.actions_resent == 1
    finally:
        await client.close()


async def test_resync_after_reconnect_precedes_live_events(
    server: ReplayAmiServer, rec: Recorder
) -> None:
    client = await _connected(server, rec)
    try:
        await rec.until(lambda: len(rec.of(AmiResynced)) == 1)
        server.channels = [channel_row("PJSIP/1001-00000007", "1795462999.7")]
        # Live events that reach the client between its Login and the end of CoreShowChannels.
        _, msgs = split_messages(read_transcript("originate_busy"))
        server.after_login = [m for m in msgs if m.startswith(b"Event: Newchannel")]
        assert server.after_login
        server.drop_all()
        await rec.until(lambda: len(rec.of(AmiResynced)) == 2)
        await rec.until(lambda: len(rec.of(ChannelCreated)) == 1)
        tail = rec.events[rec.events.index(rec.of(AmiLost)[0]):]
        kinds = [type(e) for e in tail]
        assert kinds[:4] == [AmiLost, AmiConnected, AmiResynced, ChannelCreated]
        resynced = rec.of(AmiResynced)[1]
        assert [(c.chan.channel, c.chan.uniqueid) for c in resynced.channels] == [
            ("PJSIP/1001-00000007", "1795462999.7")
        ]
        assert client.state is AmiState.CONNECTED
    finally:
        await client.close()


async def test_everything_raised_is_a_cti_error(server: ReplayAmiServer, rec: Recorder) -> None:
    for exc in (ActionTimeout("x"), OriginateOutcomeUnknown("a", None)):
        assert isinstance(exc, CtiError) and isinstance(exc, AmiConnectionError)


@given(
    st.integers(min_value=0, max_value=200),
    st.floats(min_value=0.001, max_value=10),
    st.floats(min_value=0.001, max_value=100),
    st.integers(min_value=0, max_value=2**32),
)
def test_backoff_stays_in_bounds_and_its_ceiling_grows(
    attempt: int, lo: float, hi: float, seed: int
) -> None:
    d = backoff_delay(attempt, lo, hi, random.Random(seed))
    ceiling = min(max(lo, hi), lo * 2.0 ** min(attempt, 60))
    eps = 1e-9 * max(lo, hi)
    assert lo <= d <= max(lo, hi) + eps
    assert ceiling / 2 - eps <= d <= max(lo, ceiling) + eps
    # Same random draw, one more failure: never a shorter wait.
    assert backoff_delay(attempt + 1, lo, hi, random.Random(seed)) >= d


# ---------------------------------------------------------------- against the PBX simulator


async def test_inbound_call_through_simulator_fastagi_and_tracker() -> None:
    """End to end: simulator AMI -> AmiClient -> CallTracker, simulator AGI -> FastAgiServer."""
    pbx = pytest.importorskip("cti.simulator.pbx")
    sim_config = pytest.importorskip("cti.simulator.config")
    from config.cti import FastAgiSettings
    from cti.calls import CallAnswered, CallEnded, CallQueued, CallStarted, CallTracker
    from cti.fastagi import AgiSession, FastAgiServer

    seen: dict[str, object] = {}

    async def ivr(s: AgiSession) -> None:
        await s.answer()
        seen["did"] = await s.get_variable("INBOUND_DID")
        seen["pressed"] = await s.stream_file("demo-congrats", "0123456789*#")
        await s.set_variable("IVR_QUEUE", "sales" if seen["pressed"] == "2" else "support")

    agi = FastAgiServer(FastAgiSettings(host="127.0.0.1", port=0))
    agi.route("ivr", ivr)
    await agi.start()
    sim = pbx.PbxSimulator(sim_config.SimulatorConfig(agi_port=agi.port, time_scale=0.01, seed=3))
    await sim.start()
    tracker = CallTracker()
    updates: list[object] = []
    clock = asyncio.get_running_loop().time

    def on_event(ev: CtiEvent) -> None:
        if isinstance(ev, AmiResynced):
            updates.extend(tracker.reconcile(ev.channels, clock()))
        else:
            updates.extend(tracker.apply(ev, clock()))

    client = AmiClient(_settings(sim.ami_port), on_event=on_event)
    try:
        async with asyncio.timeout(5):
            await client.connect()
        await sim.place_inbound_call(dtmf="2", patience_s=None)
        await sim.wait_calls_done(20)
        rec = Recorder()
        await rec.until(lambda: any(isinstance(u, CallEnded) for u in updates))
        kinds = [type(u) for u in updates]
        for kind in (CallStarted, CallQueued, CallAnswered, CallEnded):
            assert kind in kinds
        assert kinds.index(CallStarted) < kinds.index(CallAnswered) < kinds.index(CallEnded)
        assert seen == {"did": "15551230000", "pressed": "2"}
        assert agi.counters.sessions_total == 1 and agi.counters.handler_errors == 0
        assert client.counters.consumer_errors == 0
    finally:
        await client.close()
        await sim.stop()
        await agi.stop()


def test_benchmark_repetitions_are_distinct_calls() -> None:
    """The ingest benchmark's stream: each repetition must be new calls, not the same ones."""
    import re

    from benchmarks.ami_ingest import capture_events, repetition

    block = b"".join(capture_events())
    r0, r1 = repetition(block, 0), repetition(block, 1)
    ids = re.compile(rb"(?:Uniqueid|Linkedid|BridgeUniqueid): ([^<\s]\S*)")
    ids0, ids1 = set(ids.findall(r0)), set(ids.findall(r1))
    assert ids0 and ids1 and not ids0 & ids1
    framer = AmiFramer(1 << 20, expect_banner=False)
    m0, m1 = framer.feed(r0), framer.feed(r1)
    assert [m["Event"] for m in m0] == [m["Event"] for m in m1]
    assert "VarSet" in {m["Event"] for m in m0}


# ---------------------------------------------------------------- read path, without sockets


class _FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def abort(self) -> None:
        self.aborted = True


_LIVE = b"".join(m + TERM for m in event_messages("agi_session"))
_EXPECTED_LIVE = _transcript_events("agi_session")


@hyp_settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=len(_LIVE) - 1), max_size=40),
    st.integers(0, 40),
)
def test_any_chunking_gives_the_same_events_and_replies(cuts: list[int], at: int) -> None:
    """Reads split anywhere, a list reply spliced between two live events: the consumer still
    sees exactly the capture's events in order, and the reply goes to its action only."""

    async def run() -> tuple[list[CtiEvent], AmiResponse, bool]:
        got: list[CtiEvent] = []
        client = AmiClient(_settings(1), on_event=got.append)
        proto = _AmiProtocol(client, 1 << 20)
        transport = _FakeTransport()
        proto.connection_made(transport)
        client._protocol = proto
        consumer = asyncio.create_task(client._consume())
        pending = client._submit([("Action", "QueueSummary")], internal=False)
        reply = b"".join(
            with_action_id(m, pending.action_id) + TERM
            for m in reply_for("login_events_off", "login_events_off-5")
        )
        msgs = _LIVE.split(TERM)[:-1]
        k = min(at, len(msgs))
        stream = (
            b"Asterisk Call Manager/11.0.0\r\n"
            + b"".join(m + TERM for m in msgs[:k]) + reply + b"".join(m + TERM for m in msgs[k:])
        )
        bounds = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
        for a, b in zip(bounds, bounds[1:], strict=False):
            proto.data_received(stream[a:b])
        response = await asyncio.wait_for(pending.future, 1)
        client._queue.put_nowait(None)
        await consumer
        return got, response, transport.aborted

    got, response, aborted = asyncio.run(run())
    assert got == _EXPECTED_LIVE
    assert [e["Queue"] for e in response.events] == ["support", "sales"]
    assert response.complete is not None and not aborted
