"""The asyncio AMI client: one TCP connection to Asterisk, kept alive, resynchronised, in order.

Why not `panoramisk.Manager`: every part of it this client needs had to be replaced.
- `Manager.connect/connection_lost` hard-wire a fixed reconnect delay (`call_later(
  reconnect_timeout, connect)`), and `AMIProtocol.close()` pushes every unanswered action,
  Originate included, onto `awaiting_actions`, which a FullyBooted callback re-sends after the
  next login (duplicate calls). Both live in methods the Manager calls on itself.
- its ping (`Manager.ping`) never looks at the reply, so a half-open connection is never noticed;
- `dispatch()` runs coroutine callbacks through `ensure_future`: out of order, errors lost;
- `AMIProtocol.data_received` decodes and splits the *whole* buffer again on every read, without
  a cap (one unterminated 16 MB message stalls the loop for ~20 s), and builds a
  `CaseInsensitiveDict` `Message` per event, which is most of the cost of ingesting 20k events/s;
- what remains (`Action`'s future and its "is this a list?" heuristics on message text) is less
  code to write correctly than to wrap: here a list is exactly `EventList: start ... Complete`.
So the protocol is written on `asyncio.Protocol` with `cti.framing.AmiFramer` (capped) doing the
framing and `cti.parse.parse` doing the typing, in `data_received`, synchronously.

Ordering: `data_received` only frames, matches replies and parses; parsed events go, one batch per
read, onto ONE `asyncio.Queue` drained by ONE consumer task that calls the single synchronous
`on_event` callback (or publishes on the bus). Nothing else calls `on_event`, so it sees events in
wire order, synthetic ones included:

    AmiConnected -> AmiResynced(CoreShowChannels rows) -> live events ... -> AmiLost -> ...

Live events that arrive while CoreShowChannels is running are held back and released right after
AmiResynced, so the consumer (the call tracker) reconciles before it applies anything newer.

Liveness: a Ping every `ping_interval_s`; no reply within `ping_timeout_s` aborts the connection.
Reconnect: exponential backoff with jitter between `reconnect_min_s` and `reconnect_max_s`
(:func:`backoff_delay`), reset once a Ping is answered on the new connection.
Actions cut off by a disconnect are never re-sent blindly: Originate fails with
:class:`OriginateOutcomeUnknown` (the reconciliation finds its channel by our ChannelId), read-only
actions (`SAFE_TO_RESEND`) are sent once more after the next resync, everything else fails with
AmiConnectionError ("may or may not have been applied").
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from common.bus import Bus
from common.clock import Clock, MonotonicClock
from common.messages import PbxConnected, PbxConnectionLost, PbxResynced
from config.cti import AmiSettings
from cti.commands import AmiAction
from cti.errors import (
    ActionFailed,
    ActionTimeout,
    AmiConnectionError,
    AmiProtocolError,
    AuthenticationFailed,
    InvalidValue,
    OriginateOutcomeUnknown,
)
from cti.events import AmiConnected, AmiLost, AmiResynced, ChannelSnapshot, CtiEvent
from cti.framing import AmiFramer, AmiMessage, encode_action
from cti.parse import parse as parse_message


def describe_error(exc: BaseException) -> str:
    """An exception as a log message: its text, or its type when it has none (TimeoutError()
    and many OSErrors stringify to ""; the exception object itself is always true)."""
    return str(exc) or type(exc).__name__


log = logging.getLogger(__name__)

# Read-only actions: sending one twice cannot change anything on the PBX.
SAFE_TO_RESEND: frozenset[str] = frozenset(
    {
        "coreshowchannels", "status", "getvar", "queuestatus", "queuesummary", "coresettings",
        "corestatus", "pjsipshowendpoints", "pjsipshowendpoint", "pjsipshowcontacts",
        "pjsipshowaors", "devicestatelist", "extensionstatelist", "extensionstate", "listcommands",
        "mailboxcount", "mailboxstatus", "sippeers", "command",
    }
)
_FAILED_RESPONSES = frozenset({"error", "failure", "fail"})
_BACKLOG_WARN = 50_000


class AmiState(enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    SYNCING = "syncing"  # logged in; CoreShowChannels not finished, live events held back
    CONNECTED = "connected"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class AmiResponse:
    """What an action got back. `events` holds the rows of a list action (`EventList: start`)
    without the closing `...Complete` event, which is `complete`."""

    action: str
    headers: Mapping[str, str]
    events: tuple[AmiMessage, ...] = ()
    complete: Mapping[str, str] | None = None

    def __getitem__(self, key: str) -> str:
        return self.headers[key]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.headers.get(key, default)


@dataclass(frozen=True, slots=True)
class AmiStatus:
    """A snapshot for status pages and metrics."""

    state: str
    since: float  # clock time of the last state change
    banner: str | None
    connects: int
    disconnects: int
    events: int
    pending_actions: int
    backlog: int
    ping_timeouts: int
    oversized_drops: int
    consumer_errors: int


@dataclass(slots=True)
class AmiCounters:
    """Health counters of the AMI connection since start (not call statistics: those are
    acd/stats.py's queue statistics)."""

    connects: int = 0
    disconnects: int = 0
    messages: int = 0
    events: int = 0
    ping_timeouts: int = 0
    oversized_drops: int = 0
    consumer_errors: int = 0
    actions_sent: int = 0
    actions_resent: int = 0
    reconnect_delays: deque[float] = field(default_factory=lambda: deque(maxlen=64))


def backoff_delay(attempt: int, min_s: float, max_s: float, rng: random.Random) -> float:
    """Delay before reconnect number `attempt` (0-based): the ceiling doubles from `min_s` up to
    `max_s`, and the delay is drawn from the upper half of it so that many clients restarted
    together (one per server process) do not reconnect in lock-step."""
    hi = max(min_s, max_s)
    ceiling = min(hi, min_s * (2.0 ** min(attempt, 60)))
    return max(min_s, rng.uniform(ceiling / 2.0, ceiling))


class _Pending:
    __slots__ = (
        "action_id", "name", "data", "future", "response", "events", "internal", "resends",
        "channel_id", "orphaned",
    )

    def __init__(
        self, action_id: str, name: str, data: bytes, future: asyncio.Future[AmiResponse],
        internal: bool, channel_id: str | None,
    ) -> None:
        self.action_id = action_id
        self.name = name
        self.data = data
        self.future = future
        self.response: AmiMessage | None = None
        self.events: list[AmiMessage] = []
        self.internal = internal
        self.resends = 0
        self.channel_id = channel_id
        self.orphaned = False  # its connection died; waiting to be re-sent on the next one

    def resolve(self, complete: AmiMessage | None = None) -> None:
        if not self.future.done():
            assert self.response is not None
            self.future.set_result(
                AmiResponse(self.name, self.response, tuple(self.events), complete)
            )

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


# Bytes per read. The selector transport's default (256 KiB, ~650 events) makes every event of a
# read wait for the framing and parsing of the whole read under load; 64 KiB cuts that latency by
# four while the per-read cost (one recv, one loop turn) stays negligible next to ~160 events.
READ_SIZE = 65_536


class _AmiProtocol(asyncio.BufferedProtocol):
    """Bytes -> AmiFramer -> client. Owns nothing but the transport and the framer."""

    def __init__(self, client: AmiClient, max_message_bytes: int) -> None:
        loop = asyncio.get_running_loop()
        self._client = client
        self._framer = AmiFramer(max_message_bytes)
        self._rbuf = bytearray(READ_SIZE)
        self._rview = memoryview(self._rbuf)
        self.transport: asyncio.Transport | None = None
        self.banner: asyncio.Future[str] = loop.create_future()
        self.lost: asyncio.Future[str] = loop.create_future()
        self.reason: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._rview

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self._rview[:nbytes]))

    def data_received(self, data: bytes) -> None:
        t = time.perf_counter()
        try:
            msgs = self._framer.feed(data)
        except AmiProtocolError as exc:
            self._client.counters.oversized_drops += 1
            log.error("AMI: dropping the connection, the peer broke framing: %s", exc)
            self.abort(f"protocol error: {exc}")
            return
        if not self.banner.done() and self._framer.banner is not None:
            self.banner.set_result(self._framer.banner)
        if msgs:
            self._client._on_messages(msgs, t)

    def eof_received(self) -> bool | None:
        if self.reason is None:
            self.reason = "closed by Asterisk"
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        reason = self.reason or (f"connection lost: {exc}" if exc else "closed by Asterisk")
        self.reason = reason
        if not self.banner.done():
            self.banner.set_exception(AmiConnectionError(f"no AMI banner: {reason}"))
            self.banner.exception()  # retrieved: nobody may be waiting any more
        if not self.lost.done():
            self.lost.set_result(reason)
        self._client._on_lost(self, reason)

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def abort(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        if self.transport is not None:
            self.transport.abort()


EventSink = Callable[[CtiEvent], None]


def connection_message(ev: CtiEvent) -> PbxConnected | PbxConnectionLost | PbxResynced | None:
    """The bus message (pbx.connection.*) for the AMI client's own events, else None."""
    if isinstance(ev, AmiConnected):
        return PbxConnected(ev.banner)
    if isinstance(ev, AmiLost):
        return PbxConnectionLost(ev.reason)
    if isinstance(ev, AmiResynced):
        return PbxResynced(len(ev.channels))
    return None


def _sink_for(on_event: EventSink | Bus) -> EventSink:
    if asyncio.iscoroutinefunction(on_event):
        # The panoramisk defect this client exists to avoid: coroutine callbacks get scheduled
        # independently, run out of order and lose their exceptions.
        raise TypeError("on_event must be a plain function (or a Bus), not a coroutine function")
    if isinstance(on_event, Bus):
        bus = on_event

        def publish(ev: CtiEvent) -> None:
            # Only the link's state goes on the bus: raw AMI events (mostly VarSet) are the call
            # tracker's input, and the tracker publishes what they mean (pbx.call.*).
            msg = connection_message(ev)
            if msg is not None:
                bus.publish(msg)

        return publish
    return on_event


class AmiClient:
    """Connects, logs in, resyncs and stays connected until `close()`.

        client = AmiClient(settings.ami, on_event=tracker_adapter)
        await client.connect()                 # start() + wait_ready()
        resp = await client.send(action)       # ActionFailed on Response: Error
        await client.close()

    `on_event` is called from a single consumer task, in order; it must not block. A Bus gets
    the link's state only (pbx.connection.*: PbxConnected, PbxConnectionLost, PbxResynced).
    A refused login is terminal (retrying a wrong secret only fills Asterisk's security log):
    the client closes and `wait_ready()` raises AuthenticationFailed.
    """

    def __init__(
        self,
        settings: AmiSettings,
        *,
        on_event: EventSink | Bus,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        parser: Callable[[AmiMessage], CtiEvent | None] = parse_message,
        action_id_prefix: str | None = None,
    ) -> None:
        self._settings = settings
        self._deliver = _sink_for(on_event)
        self._clock = clock or MonotonicClock()
        self._rng = rng or random.Random()
        self._parse = parser
        self._prefix = action_id_prefix or f"cti-{uuid.uuid4().hex[:8]}"
        self._ids = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        self._queue: asyncio.Queue[tuple[float, list[CtiEvent]] | None] = asyncio.Queue()
        self._holding: list[tuple[float, list[CtiEvent]]] | None = None
        self._protocol: _AmiProtocol | None = None
        self._announced = False
        self._healthy = False
        self._state = AmiState.DISCONNECTED
        self._state_since = self._clock.now()
        self._closing = False
        self._fatal: BaseException | None = None
        self._ready = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._arrival = 0.0
        self._backlog_warned = False
        self.banner: str | None = None
        self.counters = AmiCounters()

    # ------------------------------------------------------------------ status

    @property
    def state(self) -> AmiState:
        return self._state

    @property
    def state_since(self) -> float:
        """Clock time of the last state change."""
        return self._state_since

    @property
    def pending_actions(self) -> int:
        return len(self._pending)

    @property
    def backlog(self) -> int:
        """Batches of events waiting for the consumer."""
        return self._queue.qsize()

    @property
    def arrival_time(self) -> float:
        """`time.perf_counter()` when the bytes of the event being delivered arrived: lets a
        consumer measure ingest latency without a timestamp on every event."""
        return self._arrival

    def status(self) -> AmiStatus:
        st = self.counters
        return AmiStatus(
            state=self._state.value, since=self._state_since, banner=self.banner,
            connects=st.connects, disconnects=st.disconnects, events=st.events,
            pending_actions=len(self._pending), backlog=self._queue.qsize(),
            ping_timeouts=st.ping_timeouts, oversized_drops=st.oversized_drops,
            consumer_errors=st.consumer_errors,
        )

    def _set_state(self, state: AmiState) -> None:
        if state is not self._state:
            log.info("AMI %s:%d %s -> %s", self._settings.host, self._settings.port,
                     self._state.value, state.value)
            self._state = state
            self._state_since = self._clock.now()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start connecting in the background; returns at once."""
        if self._supervisor is not None:
            return
        self._closing = False
        self._fatal = None
        self._consumer = asyncio.create_task(self._consume(), name="ami-consumer")
        self._supervisor = asyncio.create_task(self._run(), name="ami-supervisor")

    async def wait_ready(self) -> None:
        """Until logged in and resynced (bound it with `asyncio.timeout`). Raises
        AuthenticationFailed if the login was refused, AmiConnectionError if the client closed."""
        while True:
            supervisor = self._supervisor
            if supervisor is None:
                raise AmiConnectionError("AMI client not started")
            if self._state is AmiState.CONNECTED:
                return
            if supervisor.done():
                if self._fatal is not None:
                    raise self._fatal
                raise AmiConnectionError("AMI client closed")
            ready = asyncio.ensure_future(self._ready.wait())
            try:
                await asyncio.wait({ready, supervisor}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                ready.cancel()

    async def connect(self) -> None:
        await self.start()
        await self.wait_ready()

    async def close(self) -> None:
        """Log off (best effort), stop reconnecting, deliver what is queued, stop."""
        self._closing = True
        proto = self._protocol
        if proto is not None and self._state in (AmiState.SYNCING, AmiState.CONNECTED):
            with contextlib.suppress(Exception):
                await self.send_fields([("Action", "Logoff")], timeout_s=1.0)
        if self._protocol is not None:
            self._protocol.abort("client closed")
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        for p in list(self._pending.values()):
            p.fail(AmiConnectionError("AMI client closed"))
        self._pending.clear()
        if self._consumer is not None:
            self._queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
        self._supervisor = self._consumer = None
        self._set_state(AmiState.CLOSED)

    async def __aenter__(self) -> AmiClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ actions

    def next_action_id(self) -> str:
        """A fresh ActionID for the `cti.commands` builders (unique within this process)."""
        return f"{self._prefix}-{next(self._ids)}"

    async def send(self, action: AmiAction, *, timeout_s: float | None = None) -> AmiResponse:
        """Send a validated `cti.commands.AmiAction` under its own ActionID (an Originate's
        ActionID is how the call tracker matches its OriginateResponse). Raises like
        `send_fields`, and InvalidValue if an action with the same ActionID is in flight."""
        if self._state not in (AmiState.SYNCING, AmiState.CONNECTED):
            raise AmiConnectionError(f"AMI not connected (state {self._state.value})")
        return await self._request(
            action.headers(), timeout_s=timeout_s, action_id=action.action_id
        )

    async def send_fields(
        self, fields: Sequence[tuple[str, str]], *, timeout_s: float | None = None
    ) -> AmiResponse:
        """Send header pairs (an `Action` header first or anywhere; any ActionID is replaced
        with a fresh one of ours). Raises InvalidValue before sending anything unsafe,
        AmiConnectionError when not logged in or the connection drops, ActionTimeout after
        `timeout_s` (default action_timeout_s), ActionFailed on Response: Error."""
        if self._state not in (AmiState.SYNCING, AmiState.CONNECTED):
            raise AmiConnectionError(f"AMI not connected (state {self._state.value})")
        return await self._request(fields, timeout_s=timeout_s)

    def _submit(
        self, fields: Sequence[tuple[str, str]], *, internal: bool, action_id: str | None = None
    ) -> _Pending:
        proto = self._protocol
        if proto is None:
            raise AmiConnectionError("AMI not connected")
        clean = [(k, v) for k, v in fields if k.lower() != "actionid"]
        name = next((v for k, v in clean if k.lower() == "action"), None)
        if not name:
            raise InvalidValue("Action", fields, "an AMI action needs an Action header")
        if action_id is None:
            action_id = self.next_action_id()
        elif not action_id or action_id in self._pending:
            raise InvalidValue("ActionID", action_id, "empty, or an action with it is in flight")
        data = encode_action([*clean, ("ActionID", action_id)])
        channel_id = next((v for k, v in clean if k.lower() == "channelid"), None)
        fut: asyncio.Future[AmiResponse] = asyncio.get_running_loop().create_future()
        p = _Pending(action_id, name.lower(), data, fut, internal, channel_id)
        self._pending[action_id] = p
        proto.write(data)
        self.counters.actions_sent += 1
        return p

    async def _request(
        self, fields: Sequence[tuple[str, str]], *, timeout_s: float | None = None,
        internal: bool = False, action_id: str | None = None,
    ) -> AmiResponse:
        p = self._submit(fields, internal=internal, action_id=action_id)
        limit = self._settings.action_timeout_s if timeout_s is None else timeout_s
        try:
            async with asyncio.timeout(limit):
                return await p.future
        except TimeoutError:
            raise ActionTimeout(
                f"AMI {p.name} {p.action_id}: no response within {limit:.3g}s"
            ) from None
        finally:
            self._pending.pop(p.action_id, None)

    # ------------------------------------------------------------------ the read path

    def _on_messages(self, msgs: list[AmiMessage], t: float) -> None:
        """Called from data_received: match replies, parse events, queue them in order."""
        pending = self._pending
        parse = self._parse
        out: list[CtiEvent] = []
        for m in msgs:
            aid = m.get("ActionID")
            if aid is not None:
                p = pending.get(aid)
                if p is not None and self._on_reply(p, m):
                    continue
            if "Event" in m:
                ev = parse(m)
                if ev is not None:
                    out.append(ev)
        self.counters.messages += len(msgs)
        if out:
            self.counters.events += len(out)
            if self._holding is not None:
                self._holding.append((t, out))
            else:
                self._queue.put_nowait((t, out))
                if not self._backlog_warned and self._queue.qsize() > _BACKLOG_WARN:
                    self._backlog_warned = True
                    log.warning("AMI: event consumer is %d batches behind", self._queue.qsize())

    def _on_reply(self, p: _Pending, m: AmiMessage) -> bool:
        """Feed one message carrying `p`'s ActionID; False if it is not part of the reply."""
        if p.response is None:
            response = m.get("Response")
            if response is None:
                return False  # an event that merely quotes our ActionID
            p.response = m
            if response.lower() in _FAILED_RESPONSES:
                self._pending.pop(p.action_id, None)
                p.fail(ActionFailed(p.name, m))
            elif m.get("EventList", "").lower() != "start":
                self._pending.pop(p.action_id, None)
                p.resolve()
            return True
        if "Event" not in m:
            return False
        # Every Asterisk 22 list ends with "EventList: Complete"; older ones only with an event
        # named "...Complete".
        if m.get("EventList", "").lower() == "complete" or m["Event"].endswith("Complete"):
            self._pending.pop(p.action_id, None)
            p.resolve(m)
        else:
            p.events.append(m)
        return True

    def _emit(self, ev: CtiEvent) -> None:
        self._queue.put_nowait((time.perf_counter(), [ev]))

    async def _consume(self) -> None:
        q = self._queue
        deliver = self._deliver
        while True:
            item = await q.get()
            if item is None:
                return
            self._arrival, batch = item
            for ev in batch:
                try:
                    deliver(ev)
                except Exception:
                    self.counters.consumer_errors += 1
                    log.exception("AMI event consumer failed on %s", type(ev).__name__)

    # ------------------------------------------------------------------ connection lifecycle

    async def _run(self) -> None:
        attempt = 0
        try:
            while not self._closing:
                self._set_state(AmiState.CONNECTING)
                self._healthy = False
                try:
                    await self._session()
                except AuthenticationFailed as exc:
                    self._fatal = exc
                    log.error("AMI %s: %s; not retrying", self._settings.host, exc)
                    return
                except (OSError, TimeoutError, AmiConnectionError, AmiProtocolError) as exc:
                    log.warning("AMI %s:%d: %s", self._settings.host, self._settings.port,
                                describe_error(exc))
                finally:
                    proto = self._protocol
                    if proto is not None:
                        # Settle now rather than when connection_lost arrives, so the next
                        # session never shares state with this one.
                        proto.abort("session ended")
                        self._on_lost(proto, proto.reason or "session ended")
                if self._closing:
                    return
                if self._healthy:
                    attempt = 0
                delay = backoff_delay(
                    attempt, self._settings.reconnect_min_s, self._settings.reconnect_max_s,
                    self._rng,
                )
                attempt += 1
                self.counters.reconnect_delays.append(delay)
                log.info("AMI: reconnecting in %.2fs (attempt %d)", delay, attempt)
                await asyncio.sleep(delay)
        finally:
            self._set_state(AmiState.CLOSED)

    async def _session(self) -> None:
        s = self._settings
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(s.action_timeout_s):
            _, proto = await loop.create_connection(
                lambda: _AmiProtocol(self, s.max_message_bytes), s.host, s.port
            )
        self._protocol = proto
        # Hold live events from the start: the first ones can share a read with the Login
        # response, before this coroutine resumes, and must still follow AmiResynced.
        self._holding = []
        async with asyncio.timeout(s.action_timeout_s):
            self.banner = await proto.banner
        try:
            await self._request(
                [("Action", "Login"), ("Username", s.username), ("Secret", s.secret)],
                internal=True,
            )
        except ActionFailed as exc:
            raise AuthenticationFailed(
                f"AMI login as {s.username!r} refused: {exc.response.get('Message', '')}. "
                f"Fix: make [ami].username/secret (CTI_AMI__SECRET) match a user in Asterisk's "
                f"manager.conf whose permit= allows this host, then restart"
            ) from None
        self.counters.connects += 1
        self._announced = True
        self._set_state(AmiState.SYNCING)
        self._emit(AmiConnected(self.banner))
        pinger = asyncio.create_task(self._ping_loop(proto), name="ami-ping")
        try:
            resp = await self._request([("Action", "CoreShowChannels")], internal=True)
            rows = tuple(
                ev for m in resp.events if isinstance(ev := self._parse(m), ChannelSnapshot)
            )
            self._emit(AmiResynced(rows))
            self._release_held()
            self._set_state(AmiState.CONNECTED)
            self._ready.set()
            self._resend_survivors(proto)
            await asyncio.shield(proto.lost)
        finally:
            pinger.cancel()

    def _release_held(self) -> None:
        held, self._holding = self._holding, None
        for item in held or ():
            self._queue.put_nowait(item)

    def _resend_survivors(self, proto: _AmiProtocol) -> None:
        for p in list(self._pending.values()):
            if p.orphaned:
                p.orphaned = False
                p.resends += 1
                self.counters.actions_resent += 1
                log.info("AMI: re-sending read-only %s %s after reconnect", p.name, p.action_id)
                proto.write(p.data)

    async def _ping_loop(self, proto: _AmiProtocol) -> None:
        s = self._settings
        while proto is self._protocol:
            await asyncio.sleep(s.ping_interval_s)
            try:
                await self._request(
                    [("Action", "Ping")], timeout_s=s.ping_timeout_s, internal=True
                )
            except ActionTimeout:
                self.counters.ping_timeouts += 1
                log.warning("AMI: no reply to Ping within %.3gs; the connection is dead, closing",
                            s.ping_timeout_s)
                proto.abort(f"no Pong within {s.ping_timeout_s:.3g}s")
                return
            except ActionFailed:
                self._healthy = True  # an Error reply still proves the peer is there
            except AmiConnectionError:
                return
            else:
                self._healthy = True

    def _on_lost(self, proto: _AmiProtocol, reason: str) -> None:
        """From connection_lost: settle in-flight actions, release held events, announce."""
        if proto is not self._protocol:
            return
        self._protocol = None
        self._ready.clear()
        self.counters.disconnects += 1
        survivors: dict[str, _Pending] = {}
        for aid, p in self._pending.items():
            if p.future.done():
                continue
            if p.name == "originate":
                p.fail(OriginateOutcomeUnknown(aid, p.channel_id))
            elif not p.internal and p.resends == 0 and p.name in SAFE_TO_RESEND:
                p.response, p.events, p.orphaned = None, [], True
                survivors[aid] = p
            else:
                p.fail(AmiConnectionError(
                    f"AMI connection lost before {p.name} {aid} was answered ({reason}); "
                    "it may or may not have been applied"
                ))
        self._pending = survivors
        self._release_held()
        if self._announced:
            self._announced = False
            self._emit(AmiLost(reason))
        if not self._closing:
            log.warning("AMI %s:%d lost: %s", self._settings.host, self._settings.port, reason)
            self._set_state(AmiState.DISCONNECTED)
