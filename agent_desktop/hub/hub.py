"""The hub: reads the bus, keeps one numbered, replayable log per stream, and fans frames out to
the clients of each stream through their own bounded send queues.

- A message is encoded once; its frame text is built once per stream and the same string goes
  to every client of that stream. Fan-out never awaits: a client whose queue is full is dropped
  (close 4000 "too slow"; it reconnects and resumes from its last seq), so one stuck desktop
  cannot delay anyone else, nor the bus.
- A screen-pop is built when the offer is handled, with one CRM read. With [crm].inline_reads
  (the default) that read runs on the loop thread and the pop is built and queued right there,
  in the same loop iteration as the offer; with reads on the database thread, each pop gets a
  task of its own, so a slow read delays only that pop, never other messages or clients.
- A stream's log exists from the first time a client opens it; messages for a stream nobody has
  opened yet are not kept (the first client gets a snapshot with the current state instead).
  A stream nobody has had open for `ws_idle_stream_expiry_s` is freed the same way: a client
  that resumes it later gets a "gap" snapshot (current state, call and screen-pop).
- A client's first frames (welcome, then snapshot or replay) are computed and queued in one
  synchronous step with its registration, so nothing published meanwhile is missed or doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from acd.model import AgentSnapshot
from acd.stats import QueueReport
from agent_desktop.hub import screenpop, streams, wire
from agent_desktop.hub.current import Current, CurrentCalls
from agent_desktop.hub.replay import IdleStreams, StreamLog
from agent_desktop.hub.stats import AgentQueueFanout, StatsThrottle, agent_row, queue_stats
from agent_desktop.hub.streams import AgentInfo, Viewer
from agent_desktop.jsonio import to_jsonable
from common.bus import Bus, Envelope, Subscription
from common.clock import Clock
from common.messages import (
    AcdAgentState,
    AcdCallAbandoned,
    AcdCallAnswered,
    AcdCallbackFailed,
    AcdCallEnded,
    AcdCallHandedBack,
    AcdCallOffered,
    AcdCallOverflowed,
    AcdCallQueued,
    AcdCallRemoved,
    CallAgentChanged,
    CallAnswered,
    CallDialling,
    CallEnded,
    CallHeld,
    CallTransferred,
    CallUnheld,
    CrmUserDeleted,
    CrmUserUpdated,
    Message,
    OriginateFailed,
)
from config.desktop import DesktopSettings

if TYPE_CHECKING:
    from agent_desktop.wallboard_feed import WallboardFeed
    from crm_core.service import Crm

log = structlog.get_logger("agent_desktop.hub")

TOPIC_SCREEN_POP = "desktop.screen_pop"
TOPIC_QUEUE_STATS = "acd.queue.stats"
TOPIC_AGENT_ROW = "desktop.agent_row"
TOPIC_AGENT_QUEUE_STATS = "desktop.queue_stats"  # value frames to agents' own streams
AGENT_VALUES_SLICE = 64  # desktops pushed at once when the agents' figures go out
# How often the agents' queue memberships are re-read from the ACD for the value frames (a
# skills change reaches the desktop's figures within this; a joining agent's are read at once).
AGENT_QUEUES_REFRESH_S = 10.0

# Bus messages the hub forwards to clients (data = the message, field by field). Those about an
# agent (agent_id set) go to that agent's stream, their team's and all; those about a call with
# no agent yet to every team stream and all. Never to a wallboard.
# The call tracker's hold and ownership messages (pbx.call.*) name the agent in `call.agent`
# (and a transfer's or move's previous owner): they go to each of those agents' streams.
# pbx.call.answered and pbx.call.ended go to the agents a call names (owner, segments): they
# are how a desktop follows the calls the ACD does not report (click-to-dial, preview dials,
# calls dialled from the desk phone, calls transferred in) without asking the server. Neither
# is sent for a call no agent has (every inbound call is answered by the IVR first).
# pbx.call.dialling (an Originate that rings an agent's phone first was accepted) goes to that
# agent's streams: the desktop shows the call at once and the two above follow it, no polling;
# pbx.call.originate_failed likewise (their phone never answered: no call, no pbx.call.ended).
PLACED = (CallDialling, OriginateFailed)
PBX_FORWARDED = (CallAnswered, CallHeld, CallUnheld, CallTransferred, CallAgentChanged,
                 CallEnded)
FORWARDED_TYPES: dict[str, type[Message]] = {cls.TOPIC: cls for cls in (
    AcdCallQueued, AcdCallOffered, AcdCallAnswered, AcdCallEnded, AcdCallRemoved,
    AcdCallAbandoned, AcdCallOverflowed, AcdCallHandedBack, AcdAgentState, AcdCallbackFailed,
    *PBX_FORWARDED, *PLACED,
)}
FORWARDED_TOPICS = frozenset(FORWARDED_TYPES)
CALL_OVER = (AcdCallEnded, AcdCallRemoved, AcdCallAbandoned, AcdCallHandedBack)
# Exact pbx topics (not "pbx.call."): the tracker's other updates (a dozen per call) are not the
# hub's business and would only queue up in its subscription.
# dialer.*: the wallboard's campaign tiles (agent_desktop/wallboard_feed.py).
BUS_PREFIXES = ("acd.", "crm.user.", "dialer.",
                *(cls.TOPIC for cls in (*PBX_FORWARDED, *PLACED)))
# Bus messages the hub handles in one go before the loop gets its turn (bounded further by a
# quarter of the clients' send queue: see _consume).
BUS_BATCH = 16
# Calls transferred away whose new owner is not known yet: their screen-pop waits here for the
# owner's desktop (bounded: a transfer to an outside number never gets an owner).
MAX_MOVING = 1024


def fields_of(message: Any) -> Mapping[str, Any]:
    """A bus message's fields: a dataclass's, or a dict as is."""
    if dataclasses.is_dataclass(message) and not isinstance(message, type):
        return {f.name: getattr(message, f.name) for f in dataclasses.fields(message)}
    if isinstance(message, Mapping):
        return message
    return {}


# ------------------------------------------------------------------------------- sources


class AcdView(Protocol):
    """What the hub reads of the ACD (times in the engine's monotonic clock)."""

    def agents(self) -> Sequence[AgentSnapshot]: ...
    def agent(self, agent_id: str) -> AgentSnapshot | None: ...
    def report(self) -> Sequence[QueueReport]: ...
    def wall_offset(self) -> float: ...
    def waited_s(self, call_id: str) -> float | None: ...


class UserDirectory(Protocol):
    async def by_username(self, username: str) -> AgentInfo | None: ...
    async def by_id(self, user_id: int) -> AgentInfo | None: ...
    async def all(self) -> list[AgentInfo]: ...


class CrmUserDirectory:
    """AgentInfo from the CRM's users (username is the ACD's agent id)."""

    def __init__(self, crm: Crm) -> None:
        self._crm = crm

    @staticmethod
    def _info(u: Any) -> AgentInfo:
        return AgentInfo(u.username, u.id, u.team_id, u.display_name)

    async def by_username(self, username: str) -> AgentInfo | None:
        from crm_core.errors import NotFound

        try:
            return self._info(await self._crm.users.by_username(username))
        except NotFound:
            return None

    async def by_id(self, user_id: int) -> AgentInfo | None:
        from crm_core.errors import NotFound

        try:
            return self._info(await self._crm.users.get(user_id))
        except NotFound:
            return None

    async def all(self) -> list[AgentInfo]:
        out: list[AgentInfo] = []
        offset = 0
        while True:
            page = await self._crm.users.search(limit=500, offset=offset)
            out.extend(self._info(u) for u in page.items)
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return out


class AcdServiceView:
    """AcdView over acd.service.AcdService."""

    def __init__(self, service: Any) -> None:
        self._s = service

    def agents(self) -> Sequence[AgentSnapshot]:
        return tuple(self._s.engine.agents())

    def agent(self, agent_id: str) -> AgentSnapshot | None:
        from acd.errors import AcdError

        try:
            snap: AgentSnapshot = self._s.engine.agent(agent_id)
        except AcdError:
            return None
        return snap

    def report(self) -> Sequence[QueueReport]:
        return tuple(self._s.report())

    def wall_offset(self) -> float:
        return float(self._s.wall.now() - self._s.clock.now())

    def waited_s(self, call_id: str) -> float | None:
        from acd.errors import AcdError

        try:
            call = self._s.engine.call(call_id)
        except AcdError:
            return None
        return round(float(self._s.clock.now() - call.enqueued_at), 3)


# ------------------------------------------------------------------------------- clients


@dataclass(eq=False)
class Client:
    """One connected socket as the hub sees it. The adapter drains `queue` to the socket and
    provides `kill` (close with a code, without waiting for a peer that does not read)."""

    viewer: Viewer
    stream: str
    queue: asyncio.Queue[str]
    kill: Callable[[int, str], None]
    dropped: bool = False
    agent: str = ""  # on an agent stream: that agent's ACD id (username), set by the hub

    def push(self, text: str) -> bool:
        if self.dropped:
            return True
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True


class HubMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.clients = Gauge("cti_ws_clients", "Websocket clients connected, by role",
                             ["role"], registry=registry)
        self.dropped_slow = Counter("cti_ws_dropped_slow",
                                    "Websocket clients dropped because their send queue filled "
                                    "(they stopped reading)", registry=registry)
        for role in ("agent", "supervisor", "admin", "kiosk"):
            self.clients.labels(role)


@dataclass(slots=True)
class _Counters:
    screen_pops: int = 0
    frames: int = 0
    value_frames: int = 0
    streams_expired: int = 0
    dropped_slow: int = 0
    pop_errors: int = 0
    pop_ms: list[float] = field(default_factory=list)


class Hub:
    def __init__(self, settings: DesktopSettings, *, acd: AcdView | None, crm: Crm,
                 users: UserDirectory, wall: Clock, stats_interval_s: float = 1.0,
                 board: WallboardFeed | None = None) -> None:
        self.settings = settings
        self.acd = acd
        self.crm = crm
        self.users = users
        self.wall = wall
        self.stats_interval_s = stats_interval_s
        self.board = board  # thresholds, trend and campaign tiles (agent_desktop/wallboard_feed)
        self.logs: dict[str, StreamLog] = {}
        self.clients: dict[str, set[Client]] = {}
        self.by_user: dict[int, set[Client]] = {}
        self.by_kiosk: dict[int, set[Client]] = {}
        self.current = CurrentCalls()  # agent -> current call, indexed by call id too
        self._moving: OrderedDict[str, Current] = OrderedDict()  # by call id
        self.agents: dict[str, AgentInfo] = {}  # by username
        self.metrics: HubMetrics | None = None
        self.counters = _Counters()
        self.throttle = StatsThrottle(1.0)
        # Live figures of their own queues to agents' desktops (value frames, see stats.py);
        # a switch rather than only the setting, so the benchmark can compare in one run.
        self.agent_stats = settings.ws_agent_queue_stats
        self._values_left: deque[tuple[Client, str]] = deque()
        self._values_task: asyncio.Task[None] | None = None
        self.agent_fanout = AgentQueueFanout(settings.ws_agent_stats_interval_s,
                                             wire.encode_data)
        self._agent_queues: dict[str, frozenset[str]] = {}
        self._agent_queues_at = float("-inf")
        self.idle = IdleStreams(settings.ws_idle_stream_expiry_s)
        self._rows_cache: tuple[float, list[dict[str, Any]]] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._subs: list[Subscription] = []
        # [crm].inline_reads: the screen-pop's read is made on the loop thread (crm_core/db.py)
        settings_of_crm = getattr(crm, "settings", None)
        self._reads_inline = bool(getattr(settings_of_crm, "inline_reads", False))

    # ------------------------------------------------------------------------ lifecycle

    async def start(self, bus: Bus) -> None:
        with contextlib.suppress(Exception):  # a CRM without users: filled on demand
            for info in await self.users.all():
                self.agents[info.username] = info
        if self.board is not None:
            await self.board.start(self.crm, self.wall.now())
        for prefix in BUS_PREFIXES:
            sub = bus.subscribe(prefix)
            self._subs.append(sub)
            self._spawn(self._consume(sub), f"hub-{prefix}")
        if self.acd is not None:
            self._spawn(self._stats_loop(), "hub-stats")
        self._spawn(self._expiry_loop(), "hub-expiry")

    async def stop(self) -> None:
        for sub in self._subs:
            sub.close()
        if self._values_task is not None:
            self._values_task.cancel()
            self._values_task = None
        if self.board is not None:
            with contextlib.suppress(Exception):  # saving the trend must not block the stop
                await self.board.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for group in list(self.clients.values()):
            for c in list(group):
                self._kill(c, wire.CLOSE_GOING_AWAY, "server stopping")

    def _spawn(self, coro: Any, name: str = "") -> None:
        task = asyncio.create_task(coro, name=name or None)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------------ streams

    def log_for(self, stream: str) -> StreamLog:
        sl = self.logs.get(stream)
        if sl is None:
            sl = self.logs[stream] = StreamLog(
                stream, base=self.idle.base(self.wall.now()),
                max_events=self.settings.ws_replay_events,
                max_bytes=self.settings.ws_agent_replay_bytes if stream.startswith("agent:")
                else self.settings.ws_replay_bytes)
        return sl

    def emit(self, targets: Iterable[str], topic: str, data_json: str,
             ts: float | None = None) -> None:
        """Append the event to each (existing) target stream and queue it for its clients."""
        ts = self.wall.now() if ts is None else ts
        for stream in targets:
            sl = self.logs.get(stream)
            if sl is None:
                continue
            text = wire.event(stream, sl.next_seq(), topic, ts, data_json)
            sl.append(text)
            for c in tuple(self.clients.get(stream, ())):
                if not c.push(text):
                    self._drop_slow(c)
                else:
                    self.counters.frames += 1

    def _drop_slow(self, c: Client) -> None:
        self.counters.dropped_slow += 1
        if self.metrics is not None:
            self.metrics.dropped_slow.inc()
        log.info("ws_client_too_slow", stream=c.stream, user=c.viewer.username)
        self._kill(c, wire.CLOSE_TOO_SLOW, "too slow")

    def _kill(self, c: Client, code: int, reason: str) -> None:
        if c.dropped:
            return
        c.dropped = True
        self.leave(c)
        c.kill(code, reason)

    # ------------------------------------------------------------------------ clients

    def join(self, client: Client, resume_seq: int | None) -> None:
        """Register `client` and queue its first frames: welcome, then the missed events (resume
        inside the buffer) or a snapshot ("initial", or "gap" when the resume is too old)."""
        sl = self.log_for(client.stream)
        missed = sl.since(resume_seq) if resume_seq is not None else None
        v = client.viewer
        if v.user_id is not None:
            self.agents[v.username] = AgentInfo(v.username, v.user_id, v.team_id,
                                                v.display_name)
        user = wire.WelcomeUser(id=v.user_id, name=v.display_name or v.username,
                                username=v.username if v.user_id is not None else "",
                                role=v.role,
                                team_id=v.team_id, language=v.language, timezone=v.timezone,
                                extension=v.extension)
        # Resumed: welcome carries the client's own position, and the missed events follow it
        # one by one; otherwise the stream's current seq, which the snapshot is as of.
        at = resume_seq if missed is not None and resume_seq is not None else sl.seq
        frames = [wire.welcome(client.stream, at, missed is not None, user)]
        client.agent = self._agent_of_stream(client.stream, v)
        if missed is not None:
            frames.extend(e.text for e in missed)
            # Value frames are not replayed: the current figures instead (a snapshot has them).
            current = self._current_values(client.agent)
            if current is not None:
                frames.append(current)
        else:
            reason = "initial" if resume_seq is None else "gap"
            frames.append(wire.snapshot(client.stream, sl.seq, reason,
                                        self.snapshot(client.stream, v)))
        for text in frames:
            if not client.push(text):
                # More missed events than its queue holds: a snapshot is the cheaper catch-up.
                client.queue = asyncio.Queue(client.queue.maxsize)
                client.queue.put_nowait(wire.welcome(client.stream, sl.seq, False, user))
                client.queue.put_nowait(wire.snapshot(client.stream, sl.seq, "gap",
                                                      self.snapshot(client.stream, v)))
                break
        self.clients.setdefault(client.stream, set()).add(client)
        self.idle.opened(client.stream)
        if v.user_id is not None:
            self.by_user.setdefault(v.user_id, set()).add(client)
        if v.kiosk_id is not None:
            self.by_kiosk.setdefault(v.kiosk_id, set()).add(client)
        if self.metrics is not None:
            self.metrics.clients.labels(v.role).inc()

    def _agent_of_stream(self, stream: str, viewer: Viewer) -> str:
        kind, _, arg = stream.partition(":")
        if kind != "agent":
            return ""
        if viewer.user_id is not None and arg == str(viewer.user_id):
            return viewer.username
        return next((a.username for a in self.agents.values() if str(a.user_id) == arg), "")

    def _queues_of(self, agent: str) -> frozenset[str]:
        queues = self._agent_queues.get(agent)
        if queues is None and self.acd is not None and agent:
            snap = self.acd.agent(agent)
            queues = self._agent_queues[agent] = snap.queues if snap else frozenset()
        return queues or frozenset()

    def _current_values(self, agent: str) -> str | None:
        if not agent or not self.agent_stats:
            return None
        ts = self.wall.now()
        return self.agent_fanout.current_frame(
            self._queues_of(agent), lambda d: wire.value(TOPIC_AGENT_QUEUE_STATS, ts, d))

    def leave(self, client: Client) -> None:
        group = self.clients.get(client.stream)
        if group is None or client not in group:
            return
        group.discard(client)
        if not group:
            self.idle.closed(client.stream, self.wall.now())
        v = client.viewer
        if v.user_id is not None:
            self.by_user.get(v.user_id, set()).discard(client)
        if v.kiosk_id is not None:
            self.by_kiosk.get(v.kiosk_id, set()).discard(client)
        if self.metrics is not None:
            self.metrics.clients.labels(v.role).dec()

    def expire_idle(self, now: float | None = None) -> list[str]:
        """Free the logs (replay buffers) of streams nobody has had open for the expiry time;
        returns their names. `now`: the hub's wall clock."""
        freed = []
        for stream in self.idle.due(self.wall.now() if now is None else now):
            if self.clients.get(stream):
                continue  # a client came back (opened() keeps it off the list; belt and braces)
            self.clients.pop(stream, None)
            sl = self.logs.pop(stream, None)
            if sl is not None:
                self.idle.retire(sl)
                freed.append(stream)
        self.counters.streams_expired += len(freed)
        return freed

    def cut_user(self, user_id: int, reason: str) -> int:
        """Close every socket of the user at once (4403): deactivated, deleted, role changed."""
        victims = list(self.by_user.get(user_id, ()))
        for c in victims:
            self._kill(c, wire.CLOSE_FORBIDDEN, reason)
        return len(victims)

    def cut_session(self, session: str, user_id: int) -> int:
        """Close the sockets of a session that ended (logout, stolen refresh token): 4401."""
        victims = [c for c in self.by_user.get(user_id, ())
                   if c.viewer.principal is not None and c.viewer.principal.session == session]
        for c in victims:
            self._kill(c, wire.CLOSE_UNAUTHORIZED, "session ended")
        return len(victims)

    def cut_kiosk(self, kiosk_id: int) -> int:
        victims = list(self.by_kiosk.get(kiosk_id, ()))
        for c in victims:
            self._kill(c, wire.CLOSE_FORBIDDEN, "kiosk token revoked")
        return len(victims)

    def backlog(self) -> dict[str, int]:
        """Bus messages waiting for the hub, by subscription prefix."""
        return {sub.prefix: sub.queue.qsize() for sub in self._subs}

    def client_count(self) -> int:
        return sum(len(g) for g in self.clients.values())

    # ------------------------------------------------------------------------ snapshots

    def snapshot(self, stream: str, viewer: Viewer) -> dict[str, Any]:
        kind, _, arg = stream.partition(":")
        if kind == "agent":
            return self._agent_snapshot(int(arg), viewer)
        team = streams.team_of_stream(stream)
        out = {"queues": self._queue_rows(), "agents": self._agent_rows(team)}
        if self.board is not None:
            acd = self.acd
            out.update(self.board.snapshot(stream, self.wall.now(),
                                           acd.agents if acd is not None else tuple,
                                           self._team_of))
        return out

    def _team_of(self, username: str) -> int | None:
        info = self.agents.get(username)
        return None if info is None else info.team_id

    def _agent_snapshot(self, user_id: int, viewer: Viewer) -> dict[str, Any]:
        info = self.agents.get(viewer.username) if viewer.user_id == user_id else None
        if info is None or info.user_id != user_id:  # an admin looking at someone's stream
            info = next((a for a in self.agents.values() if a.user_id == user_id), None)
        snap = self.acd.agent(info.username) if self.acd is not None and info else None
        offset = self.acd.wall_offset() if self.acd is not None else 0.0
        cur = self.current.get(info.username) if info else None
        agent: Any = None
        stats: dict[str, Any] = {}
        if snap is not None:
            agent = dataclasses.replace(
                snap, state_since=snap.state_since + offset,
                last_call_end=None if snap.last_call_end is None
                else snap.last_call_end + offset)
            stats = {"calls_today": snap.calls_today,
                     "time_in_state_s": {str(k): round(v, 1)
                                         for k, v in snap.time_in_state.items()},
                     "queues": [q for q in self._queue_rows()
                                if q["queue"] in snap.queues]}
        call = None if cur is None else {"call_id": cur.call_id, "queue": cur.queue,
                                         "offered_at": cur.offered_at,
                                         "answered": cur.answered, "held": cur.held}
        return {"agent": to_jsonable(agent), "call": call,
                "screen_pop": cur.pop if cur is not None else None,
                "stats": stats}

    def _queue_rows(self) -> list[dict[str, Any]]:
        if self.acd is None:
            return []
        # A floor of desktops reconnecting at once (a restart) asks for a snapshot each: the
        # report (O(queues + agents)) is built once a second, not once per socket.
        now = time.monotonic()
        if self._rows_cache is None or now - self._rows_cache[0] >= 1.0:
            rows: list[dict[str, Any]] = to_jsonable(
                [queue_stats(r) for r in self.acd.report()])
            self._rows_cache = (now, rows)
        return self._rows_cache[1]

    def _agent_rows(self, team: int | None) -> list[dict[str, Any]]:
        if self.acd is None:
            return []
        offset = self.acd.wall_offset()
        rows = []
        for a in self.acd.agents():
            info = self.agents.get(a.agent_id)
            # An agent whose team is not known is shown on the all-teams views only.
            if team is not None and (info is None or info.team_id != team):
                continue
            rows.append(agent_row(a, name=info.display_name if info else "",
                                  team_id=info.team_id if info else None, wall_offset=offset))
        out: list[dict[str, Any]] = to_jsonable(rows)
        return out

    # ------------------------------------------------------------------------ bus

    async def _consume(self, sub: Subscription) -> None:
        # A burst on the bus must not fill fast clients' queues before their writers run: the
        # loop gets its turn after every `batch` messages (each gives a client a frame or two).
        # Not after every message: a backlog (the loop stalled: a collection, the OS) then took
        # one loop turn per message to drain, and an offer behind N messages waited N turns,
        # each as long as all the socket work the loop had queued meanwhile
        # (tests/agent_desktop/hub/test_offer_path.py counts them).
        batch = max(1, min(BUS_BATCH, self.settings.ws_send_queue // 4))
        while True:
            await self._handle(await sub.get())
            for _ in range(batch - 1):
                try:
                    env = sub.get_nowait()
                except asyncio.QueueEmpty:
                    break
                await self._handle(env)
            await asyncio.sleep(0)

    async def _handle(self, env: Envelope) -> None:
        try:
            await self.on_message(env.topic, env.message)
        except Exception:  # one bad message must not stop the desktops' feed
            log.exception("hub_message_failed", topic=env.topic)

    async def _agent_info(self, username: str) -> AgentInfo | None:
        info = self.agents.get(username)
        if info is None and username:
            info = await self.users.by_username(username)
            if info is not None:
                self.agents[username] = info
        return info

    async def on_message(self, topic: str, message: Any) -> None:
        if isinstance(message, CrmUserUpdated | CrmUserDeleted):
            await self._user_changed(message)
            return
        if self.board is not None and topic.startswith("dialer."):
            self.board.on_message(message, self.wall.now())
            return
        if topic not in FORWARDED_TOPICS:
            return
        if isinstance(message, PBX_FORWARDED):
            await self._pbx_call(topic, message)
            return
        if isinstance(message, PLACED):
            if isinstance(message, OriginateFailed):  # an ACD callback's offer is over too
                for call_id in {message.call_id, message.cti_call_id} - {""}:
                    self._call_over(call_id)
            if message.user:  # an Originate for no user's phone is nobody's desktop's
                info = await self._agent_info(message.user)
                self.emit(streams.agent_targets(info), topic, wire.encode_data(message))
            return
        if isinstance(message, AcdCallOffered) and message.callback is not None:
            message = await self._callback_named(message)
        f = fields_of(message)
        ts = self.wall.now()
        agent_id = str(f.get("agent_id") or "")
        data = _masked(to_jsonable(message))
        data_json = wire.dumps_data(data)
        if agent_id:
            info = await self._agent_info(agent_id)
            self.emit(streams.agent_targets(info), topic, data_json, ts)
        else:
            self.emit(streams.unassigned_targets(set(self.logs)), topic, data_json, ts)
        call_id = str(f.get("call_id") or "")
        if isinstance(message, AcdCallOffered):
            facts = screenpop.OfferFacts(
                call_id=call_id, agent_id=agent_id, queue=message.queue, number=message.number,
                customer_id=message.customer_id, ivr=data.get("ivr") or None, offered_at=ts,
                waited_s=self.acd.waited_s(call_id) if self.acd is not None else None,
                callback=message.callback)
            self.current[agent_id] = Current(call_id, facts.queue, ts)
            if self._reads_inline:
                # The CRM read runs on this thread and never suspends (~1 ms): a task of its
                # own would only put the pop one more loop iteration behind the offer (under
                # load, tens of ms: --trace's "to_read").
                await self._screen_pop(facts)
            else:  # a thread hop: a slow read must not hold up the other messages
                self._spawn(self._screen_pop(facts))
        elif isinstance(message, AcdCallAnswered) and agent_id:
            cur = self.current.get(agent_id)
            if cur is not None and cur.call_id == call_id:
                cur.answered = True
        elif isinstance(message, CALL_OVER):
            self.current.end(call_id, agent_id)
        elif isinstance(message, AcdAgentState):
            self._agent_row(agent_id)

    async def _pbx_call(self, topic: str, msg: CallAnswered | CallHeld | CallUnheld
                        | CallTransferred | CallAgentChanged | CallEnded) -> None:
        """Hold and ownership from the call tracker, to the desktops of the agents concerned
        (and their teams' supervisors); the agents' current calls follow (for snapshots)."""
        call = msg.call
        owner = call.agent.user if call.agent is not None else ""
        if isinstance(msg, CallEnded):
            self._moving.pop(msg.call_id, None)
            people = [s.user for s in call.segments] + [owner]
            if not any(people):
                return  # no agent ever had it: nobody's desktop shows it
            # Over for every desktop (the ACD's acd.call.ended names only the first agent, and
            # an ACD callback that never connected has none under the call's own id).
            self._call_over(msg.call_id)
        elif isinstance(msg, CallAnswered):
            if not owner:
                return
            people = [owner]
        elif isinstance(msg, CallTransferred):
            people = [msg.transfer.from_agent, owner]
        elif isinstance(msg, CallAgentChanged):
            people = [msg.previous_user, owner]
            msg = await self._named(msg)
        else:
            people = [owner]
        ts = self.wall.now()
        targets: list[str] = []
        for username in dict.fromkeys(u for u in people if u):
            targets.extend(streams.agent_targets(await self._agent_info(username)))
        if not targets:  # nobody owns it (yet): as a call with no agent
            targets = streams.unassigned_targets(set(self.logs))
        self.emit(dict.fromkeys(targets), topic, wire.encode_data(msg), ts)
        if isinstance(msg, CallHeld | CallUnheld):
            cur = self.current.get(owner)
            if cur is not None and cur.call_id == msg.call_id:
                cur.held = isinstance(msg, CallHeld)
        elif isinstance(msg, CallTransferred):
            gone = msg.transfer.from_agent
            cur = self.current.get(gone)
            if cur is not None and cur.call_id == msg.call_id and gone != owner:
                del self.current[gone]
                self._moving[msg.call_id] = cur
                while len(self._moving) > MAX_MOVING:
                    self._moving.popitem(last=False)
        elif isinstance(msg, CallAgentChanged) and owner:
            self._arrived(msg, owner, ts)

    async def _callback_named(self, msg: AcdCallOffered) -> AcdCallOffered:
        """A callback's owner by display name too (the ACD knows only usernames)."""
        cb = msg.callback
        if cb is None or not cb.owner or cb.owner_name:
            return msg
        info = await self._agent_info(cb.owner)
        if info is None or not info.display_name:
            return msg
        return dataclasses.replace(msg, callback=dataclasses.replace(
            cb, owner_name=info.display_name))

    async def _named(self, msg: CallAgentChanged) -> CallAgentChanged:
        """The previous owner's display name filled in (the tracker knows only usernames)."""
        if not msg.previous_user or msg.previous_name:
            return msg
        info = await self._agent_info(msg.previous_user)
        if info is None or not info.display_name:
            return msg
        return dataclasses.replace(msg, previous_name=info.display_name)

    def _arrived(self, msg: CallAgentChanged, owner: str, ts: float) -> None:
        """The call is `owner`'s now: it becomes their current call, and their desktop gets the
        caller's screen-pop (the one built at offer time, else one built now)."""
        before = self.current.get(msg.previous_user)
        if before is not None and before.call_id == msg.call_id:
            del self.current[msg.previous_user]
        else:
            before = self._moving.get(msg.call_id)
        self._moving.pop(msg.call_id, None)
        call = msg.call
        cur = Current(msg.call_id, before.queue if before is not None else call.queue, ts,
                       answered=call.answered_at is not None,
                       held=any(leg.on_hold for leg in call.legs if leg.ended_at is None))
        self.current[owner] = cur
        if before is not None and isinstance(before.pop, dict):
            cur.pop = {**before.pop, "agent_id": owner}
            self._spawn(self._emit_pop(owner, wire.dumps_data(cur.pop)))
            return
        number = call.caller_num if str(call.direction) == "inbound" else call.dialled
        self._spawn(self._screen_pop(screenpop.OfferFacts(
            call_id=msg.call_id, agent_id=owner, queue=cur.queue, number=number,
            customer_id=None, ivr=None, offered_at=ts, waited_s=None)))

    async def _emit_pop(self, agent_id: str, data_json: str) -> None:
        info = await self._agent_info(agent_id)
        self.emit(streams.agent_targets(info), TOPIC_SCREEN_POP, data_json)

    def _call_over(self, call_id: str) -> None:
        self._moving.pop(call_id, None)
        self.current.end(call_id)

    async def _screen_pop(self, facts: screenpop.OfferFacts) -> None:
        started = time.perf_counter()
        if self.crm is not None:
            pop = await screenpop.fetch(self.crm, facts)
        else:
            pop = screenpop.build(facts, None, error="no CRM")
        if pop.error:
            self.counters.pop_errors += 1
        data = to_jsonable(pop)
        data_json = wire.dumps_data(data)
        cur = self.current.get(facts.agent_id)
        if cur is not None and cur.call_id == facts.call_id:
            cur.pop = data
        info = await self._agent_info(facts.agent_id)
        self.emit(streams.agent_targets(info), TOPIC_SCREEN_POP, data_json)
        self.counters.screen_pops += 1
        self.counters.pop_ms.append((time.perf_counter() - started) * 1000)
        if len(self.counters.pop_ms) > 10_000:
            del self.counters.pop_ms[:5_000]

    def _agent_row(self, agent_id: str) -> None:
        if self.acd is None:
            return
        snap = self.acd.agent(agent_id)
        if snap is None:
            return
        info = self.agents.get(agent_id)
        row = agent_row(snap, name=info.display_name if info else "",
                        team_id=info.team_id if info else None,
                        wall_offset=self.acd.wall_offset())
        self.emit(streams.agent_row_targets(info, set(self.logs)), TOPIC_AGENT_ROW,
                  wire.encode_data(row))

    async def _user_changed(self, msg: CrmUserUpdated | CrmUserDeleted) -> None:
        if isinstance(msg, CrmUserDeleted):
            self.agents.pop(msg.username, None)
            self.cut_user(msg.user_id, "account deleted")
            return
        if not msg.active:
            self.cut_user(msg.user_id, "account deactivated")
            return
        info = await self.users.by_id(msg.user_id)
        if info is None:
            self.cut_user(msg.user_id, "account deleted")
            return
        self.agents[info.username] = info
        for c in list(self.by_user.get(msg.user_id, ())):
            # What the socket may see was decided by role and team at connect time.
            if msg.role != c.viewer.role or c.viewer.team_id != info.team_id:
                self._kill(c, wire.CLOSE_FORBIDDEN, "role or team changed; reconnect")

    async def _expiry_loop(self) -> None:
        every = min(60.0, self.settings.ws_idle_stream_expiry_s / 2)
        while True:
            await asyncio.sleep(every)
            try:
                self.expire_idle()
            except Exception:
                log.exception("hub_expiry_failed")

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(self.stats_interval_s)
            try:
                self.publish_stats()
            except Exception:
                log.exception("hub_stats_failed")

    def publish_stats(self, now: float | None = None) -> None:
        """One stats tick (`now`: monotonic seconds, for the per-queue intervals)."""
        if self.acd is None:
            return
        now = time.monotonic() if now is None else now
        every = [queue_stats(r) for r in self.acd.report()]
        rows = self.throttle.due(every, now)
        ts = self.wall.now()
        if self.board is not None:
            for e in self.board.on_tick(ts, every, self.acd.agents, self._team_of,
                                        set(self.logs)):
                self.emit(e.targets, e.topic, e.data_json, ts)
        if rows:
            targets = streams.stats_targets(set(self.logs))
            for row in rows:
                self.emit(targets, TOPIC_QUEUE_STATS, wire.encode_data(row), ts)
        if self.agent_stats:
            self._agent_values(every, now, ts)

    def _agent_values(self, rows: list[Any], now: float, ts: float) -> None:
        """The due queue figures to agents' desktops: value frames, one string per group of
        agents with the same queues, pushed as is (see stats.AgentQueueFanout)."""
        due = self.agent_fanout.tick(rows, now)
        if not due:
            return
        if self.acd is not None and now - self._agent_queues_at >= AGENT_QUEUES_REFRESH_S:
            self._agent_queues = {a.agent_id: a.queues for a in self.acd.agents()}
            self._agent_queues_at = now
        desks: dict[str, list[Client]] = {}
        for stream, group in self.clients.items():
            if stream.startswith("agent:"):
                for c in group:
                    if c.agent:
                        desks.setdefault(c.agent, []).append(c)
        frames = self.agent_fanout.frames(
            due, {a: self._queues_of(a) for a in desks},
            lambda d: wire.value(TOPIC_AGENT_QUEUE_STATS, ts, d))
        pushes = deque((c, text) for agent, text in frames.items() for c in desks[agent])
        # Spread, not burst: a thousand pushes at once wake a thousand writer tasks ahead of
        # any screen-pop queued behind them (at 1,000 desktops p99 went 16 -> 59 ms, measured
        # by benchmarks.screen_pop). The first slice goes now; the rest in slices over half a
        # stats interval. Frames carry only changed rows, so a spread still under way when the
        # next tick comes is finished at once first, never dropped. (Plain version: push all.)
        self.flush_agent_values()
        self._push_values(pushes, AGENT_VALUES_SLICE)
        if pushes:
            self._values_left = pushes
            self._values_task = asyncio.get_running_loop().create_task(
                self._spread_values(pushes))

    def _push_values(self, pushes: deque[tuple[Client, str]], n: int) -> None:
        for _ in range(min(n, len(pushes))):
            c, text = pushes.popleft()
            if c.dropped:
                continue
            if c.push(text):
                self.counters.frames += 1
                self.counters.value_frames += 1
            else:
                self._drop_slow(c)

    async def _spread_values(self, pushes: deque[tuple[Client, str]]) -> None:
        slices = -(-len(pushes) // AGENT_VALUES_SLICE)
        gap = self.stats_interval_s * 0.5 / max(1, slices)
        while pushes:
            await asyncio.sleep(gap)
            self._push_values(pushes, AGENT_VALUES_SLICE)

    def flush_agent_values(self) -> None:
        """Push what a spread still has to send, now (before newer frames, or at the stop)."""
        if self._values_task is not None:
            self._values_task.cancel()
            self._values_task = None
        left, self._values_left = self._values_left, deque()
        self._push_values(left, len(left))


def _masked(data: Any) -> Any:
    """What the IVR recorded goes out as the screen-pop shows it: digits masked."""
    if isinstance(data, dict) and isinstance(data.get("ivr"), dict):
        ivr = dict(data["ivr"])
        if isinstance(ivr.get("digits"), list):
            ivr["digits"] = [[d[0], screenpop.mask(str(d[1]))]
                             if isinstance(d, list) and len(d) == 2 else d
                             for d in ivr["digits"]]
        data = {**data, "ivr": ivr}
    return data


def _int_or_none(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.isdigit():
        return int(v)
    return None


def kiosk_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
