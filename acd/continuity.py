"""What makes the ACD survive its own faults and restarts (the asyncio side; acd/follow.py is
the pure part). Attached to an AcdService, it:

- writes each call's CRM record when the call enters the ACD (open: no end yet), so a call is
  on record even if the process is killed the next moment;
- follows calls handed back to Asterisk's Queue() through AMI and records what really happened
  (a Queue() member answered, or the caller hung up), counting an answer as the fallback's;
- at stop, writes what it knows of calls still talking; on start, adopts the calls an earlier
  process left open: those the first AMI resync finds live are followed until they end, the
  others are closed as "ended while no server was running";
- keeps ACD logins and the outcomes behind today's queue statistics in the CRM database
  (crm_core.acd_store), restores them on start, and reconciles restored agents with the resync
  (an agent whose phone is busy on a call the ACD does not own is paused until it ends).

Persistence of logins and statistics is batched every `flush_s` seconds and at stop: a kill -9
loses at most that much of them; call records are written as things happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog

from acd.errors import AcdError
from acd.follow import Answered, CallFollower, Ended, FollowedCall, Outcome, device_extension
from acd.model import AgentLogin, AgentState
from crm_core.acd_store import AcdStore, AgentSessionRow, OpenCall
from cti.events import AmiResynced, ChannelHungUp, ChannelSnapshot, CtiEvent, QueueCallerJoin

if TYPE_CHECKING:
    from crm_core.service import Crm

if TYPE_CHECKING:
    from acd.service import AcdService

log = structlog.get_logger("acd.continuity")

# Open records older than this are not adopted (a call does not last a day; a row that old is
# left from a database restored from backup or similar).
ADOPT_WINDOW_S = 12 * 3600.0
ENDED_UNSEEN = "ended while no CTI server was running (outcome and end time unknown)"
RECONCILE_PAUSE = "after-call-work"
# AMI gives no answer time at a resync (acd.follow.answer_estimate): the record says so.
ANSWER_ESTIMATED = ("answer time estimated at the AMI resync: when the agent's phone began "
                    "ringing (its channel's age); the wait may be short by the ring time")


class AcdContinuity:
    def __init__(self, acd: AcdService, crm: Crm, *, flush_s: float = 0.5) -> None:
        self.acd = acd
        self.crm = crm
        self.store = AcdStore(crm.db)
        self.flush_s = flush_s
        self.follower = CallFollower(acd.settings.dialing.agent_device_template)
        self._stats_mark = 0
        self._dirty_agents: set[str] = set()
        self._open: dict[str, OpenCall] = {}  # left open by an earlier process, until adopted
        self._adopted = False
        self._reconciled: dict[str, str] = {}  # agent id -> the adopted call keeping them busy
        self._flusher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._users_by_ext: dict[str, int | None] = {}
        acd.continuity = self

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Before AMI connects: restore logins and today's statistics, load the open calls."""
        wall, mono = self.acd.wall.now(), self.acd.clock.now()
        midnight = _local_midnight(wall)
        saved = await self.store.outcomes(midnight)
        stats = self.acd.engine.stats
        restored = stats.restore((mono - (wall - t), q, k, v) for t, q, k, v in saved)
        self._stats_mark = stats.outcomes_since(0)[0]  # restored outcomes are saved already
        agents = 0
        for row in await self.store.agents():
            if self._restore_agent(row):
                agents += 1
        for call in await self.store.open_calls(wall - ADOPT_WINDOW_S):
            self._open[call.call_id] = call
        log.info("acd_restored", agents=agents, stat_outcomes=restored,
                 open_calls=len(self._open))
        self._flusher = asyncio.create_task(self._flush_loop(), name="acd-persist")

    def _restore_agent(self, row: AgentSessionRow) -> bool:
        configured = {q.name for q in self.acd.settings.acd.queues}
        queues = frozenset(q for q in row.queues if q in configured) or frozenset(configured)
        try:
            self.acd.feed_engine(self.acd.engine.agent_login, AgentLogin(
                agent_id=row.agent_id, device=row.device, queues=queues, skills=row.skills,
                pause_reason=row.pause_reason))
        except AcdError as exc:
            log.warning("agent_not_restored", agent_id=row.agent_id, error=str(exc))
            self._dirty_agents.add(row.agent_id)  # the flush drops the stale row
            return False
        return True

    async def at_stop(self, talking: Sequence[Any]) -> None:
        """Stop has begun: write what is known of calls still in conversation (their sessions
        may be cancelled before they can), so the record exists whatever happens next."""
        for caller in talking:
            await self._write(caller.call_id, queue=caller.queue, phone=caller.number or None,
                              agent_user_id=await self.acd.user_id_of(caller.agent_id),
                              offered_at=caller.offered_wall, answered_at=caller.answered_wall)

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._flush()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ persistence

    def agent_changed(self, agent_id: str) -> None:
        self._dirty_agents.add(agent_id)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            try:
                await self._flush()
            except Exception:  # the next round retries
                log.exception("acd_persist_failed")

    async def _flush(self) -> None:
        stats = self.acd.engine.stats
        mark, new = stats.outcomes_since(self._stats_mark)
        if new:
            wall, mono = self.acd.wall.now(), self.acd.clock.now()
            await self.store.append_outcomes([(wall - (mono - t), q, k, v)
                                              for t, q, k, v in new])
        self._stats_mark = mark
        dirty, self._dirty_agents = self._dirty_agents, set()
        for agent_id in sorted(dirty):
            try:
                a = self.acd.engine.agent(agent_id)
            except AcdError:
                a = None
            if a is None or a.state is AgentState.LOGGED_OUT:
                await self.store.delete_agent(agent_id)
                continue
            await self.store.save_agent(AgentSessionRow(
                agent_id=agent_id, device=a.device, queues=tuple(sorted(a.queues)),
                skills=dict(a.skills), updated_at=self.acd.wall.now(),
                # Busy states restore as available: the resync tells whether the phone is
                # still on a call. A RONA or reconcile pause is kept as it was.
                pause_reason=a.pause_reason if a.state is AgentState.PAUSED else None))

    # ------------------------------------------------------------------ calls

    async def call_entered(self, caller: Any) -> None:
        """The open record, before the ACD routes the call."""
        await self._write(caller.call_id, queue=caller.queue, phone=caller.number or None,
                          offered_at=caller.offered_wall)

    def call_answered(self, caller: Any) -> None:
        self._spawn(self._answered(caller))

    async def _answered(self, caller: Any) -> None:
        await self._write(caller.call_id, answered_at=caller.answered_wall,
                          agent_user_id=await self.acd.user_id_of(caller.agent_id))

    def handed_back(self, caller: Any, why: str) -> None:
        """The ACD gave the caller to Asterisk's Queue(): follow the call to its real end."""
        call = FollowedCall(call_id=caller.call_id, queue=caller.queue, number=caller.number,
                            offered_at=caller.offered_wall, handed_back=why,
                            uniqueid=caller.uniqueid if caller.uniqueid != caller.call_id
                            else "")
        self.follower.follow(call)
        log.info("handback", call_id=caller.call_id, queue=caller.queue, reason=why,
                 agent_id=caller.agent_id)
        self._spawn(self._write(caller.call_id, queue=caller.queue, phone=caller.number or None,
                                offered_at=caller.offered_wall,
                                notes=f"handed back to Asterisk's Queue(): {why}"))

    def follow_handback(self, call_id: str, number: str, offered_at: float, why: str) -> None:
        """Another FastAGI handler (the IVR) gave its caller to Queue(): follow it too (its
        record is the handler's; the outcome is added here)."""
        if call_id in self.follower:
            return
        self.follower.follow(FollowedCall(call_id=call_id, queue="", number=number,
                                          offered_at=offered_at, handed_back=f"ivr: {why}"))
        log.info("handback", call_id=call_id, reason=f"ivr: {why}", agent_id=None)

    def queue_of(self, call_id: str) -> str | None:
        for call in self.follower.calls():
            if call.call_id == call_id:
                return call.queue or None
        return None

    def on_cti_event(self, ev: CtiEvent) -> None:
        now = self.acd.wall.now()
        if isinstance(ev, AmiResynced):
            self._resynced(ev.channels, now)
            return
        if (isinstance(ev, QueueCallerJoin) and self._adopted
                and ev.chan.uniqueid == ev.chan.linkedid
                and ev.chan.uniqueid not in self.follower
                and ev.chan.uniqueid not in self.acd.owned_calls()):
            # A caller entered Queue() without passing through this server (it was
            # unreachable when the call arrived, or restarted meanwhile): on record from now.
            self.follower.follow(self._stranger(ev.chan.uniqueid, ev.chan.caller_id_num,
                                                ev.queue, now))
        if len(self.follower):
            self._outcomes(self.follower.apply(ev, now))
        if self._reconciled:
            self._maybe_release(ev)

    def _resynced(self, channels: Sequence[ChannelSnapshot], now: float) -> None:
        outcomes = self.follower.resync(channels, now)
        if not self._adopted:
            self._adopted = True
            owned = self.acd.owned_calls()
            open_calls = [self._as_followed(c) for c in self._open.values()
                          if c.call_id not in owned and c.call_id not in self.follower]
            self._open.clear()
            outcomes += self.follower.adopt(open_calls, channels, now, self._queue_names())
            adopted = [c.call_id for c in self.follower.calls() if c.adopted]
            if adopted or open_calls:
                log.info("calls_adopted", live=adopted, ended_unseen=len(open_calls) -
                         len(adopted))
            self._reconcile_agents(channels)
        self._adopt_strangers(channels, now)
        self._outcomes(outcomes)

    def _adopt_strangers(self, channels: Sequence[ChannelSnapshot], now: float) -> None:
        """Callers in Asterisk's Queue() that no server has seen: they arrived while none was
        reachable (AGISTATUS=FAILURE). They get a record now and are followed like the rest
        (answered at once if already talking to a member)."""
        owned = self.acd.owned_calls()
        strangers = []
        for snap in channels:
            chan = snap.chan
            if (snap.application.lower() != "queue" or chan.uniqueid != chan.linkedid
                    or chan.uniqueid in owned or chan.uniqueid in self.follower):
                continue
            strangers.append(self._stranger(chan.uniqueid, chan.caller_id_num,
                                            snap.application_data.split(",")[0],
                                            now - snap.duration_s))
        if strangers:
            self._outcomes(self.follower.adopt(strangers, channels, now, self._queue_names()))

    def _queue_names(self) -> frozenset[str]:
        return frozenset(q.name for q in self.acd.settings.acd.queues)

    def _stranger(self, call_id: str, number: str, fallback_queue: str,
                  offered_at: float) -> FollowedCall:
        queues = {q.name for q in self.acd.settings.acd.queues}
        call = FollowedCall(
            call_id=call_id, number=number, queue=fallback_queue if fallback_queue in queues
            else "", offered_at=offered_at, fallback_queue=fallback_queue or "?",
            handed_back="reached Queue() without this server", adopted=True)
        log.info("call_adopted", call_id=call_id, queue=fallback_queue, reason=call.handed_back)
        self._spawn(self._write(call_id, queue=call.queue or None, phone=number or None,
                                offered_at=offered_at, notes=record_note(call, True)))
        return call

    def _as_followed(self, c: OpenCall) -> FollowedCall:
        return FollowedCall(call_id=c.call_id, queue=c.queue or "", number=c.phone or "",
                            offered_at=c.offered_at, answered_at=c.answered_at,
                            handed_back="earlier server process" if c.notes else "")

    def _reconcile_agents(self, channels: Sequence[ChannelSnapshot]) -> None:
        """Restored agents whose phone is on a call this process does not own (an adopted call,
        or a Queue() call taken while no server ran) are paused until that call ends."""
        template = self.acd.settings.dialing.agent_device_template
        busy: dict[str, str] = {}
        for snap in channels:
            ext = device_extension(snap.chan.channel, template)
            if ext:
                busy[template.format(extension=ext)] = snap.chan.linkedid
        reason = RECONCILE_PAUSE if RECONCILE_PAUSE in self.acd.settings.acd.pause_codes \
            else "missed-call"
        for a in self.acd.engine.agents():
            linkedid = busy.get(a.device)
            if linkedid is None or a.state is not AgentState.AVAILABLE:
                continue
            try:
                self.acd.agent_pause(a.agent_id, reason)
            except AcdError:
                continue
            self._reconciled[a.agent_id] = linkedid
            log.info("agent_reconciled", agent_id=a.agent_id, device=a.device,
                     state="paused until the call on the phone ends", call_linkedid=linkedid)

    def _maybe_release(self, ev: CtiEvent) -> None:
        if not isinstance(ev, ChannelHungUp):
            return
        template = self.acd.settings.dialing.agent_device_template
        ext = device_extension(ev.chan.channel, template)
        if not ext:
            return
        device = template.format(extension=ext)
        for agent_id, _linkedid in list(self._reconciled.items()):
            try:
                a = self.acd.engine.agent(agent_id)
            except AcdError:
                self._reconciled.pop(agent_id, None)
                continue
            if a.device != device:
                continue
            self._reconciled.pop(agent_id, None)
            if a.state is AgentState.PAUSED and a.pause_reason in (RECONCILE_PAUSE,
                                                                   "missed-call"):
                with contextlib.suppress(AcdError):
                    self.acd.agent_available(agent_id)
                    log.info("agent_reconciled", agent_id=agent_id, state="available")

    def _outcomes(self, outcomes: list[Outcome]) -> None:
        for o in outcomes:
            if isinstance(o, Answered):
                self._count_answer(o)
                self._spawn(self._record_answer(o))
            elif isinstance(o, Ended):
                self._count_end(o)
                self._spawn(self._record_end(o))

    def _count_answer(self, o: Answered) -> None:
        call = o.call
        log.info("fallback_answered" if o.via_fallback else "adopted_call_answered",
                 call_id=call.call_id, agent_ext=call.agent, queue=call.fallback_queue or
                 call.queue, answered_at=call.answered_at,
                 answer_time="estimated" if call.answer_estimated else "seen")
        stats = self.acd.engine.stats
        if call.offered_at is None or call.queue not in {q.name for q in
                                                          self.acd.settings.acd.queues}:
            return
        waited = max(0.0, (call.answered_at or 0.0) - call.offered_at)
        now = self.acd.clock.now()
        with contextlib.suppress(AcdError):
            if o.via_fallback:
                stats.call_answered_by_fallback(call.queue, waited, now)
            else:
                stats.call_answered(call.queue, waited, now)

    def _count_end(self, o: Ended) -> None:
        call = o.call
        if call.answered_at is not None or not o.seen:
            log.info("followed_call_ended", call_id=call.call_id, answered=call.answered_at
                     is not None, seen=o.seen, agent_ext=call.agent)
            return
        log.info("fallback_abandoned" if call.handed_back or call.fallback_queue else
                 "adopted_call_abandoned", call_id=call.call_id, queue=call.queue)
        if call.offered_at is None or call.queue not in {q.name for q in
                                                          self.acd.settings.acd.queues}:
            return
        with contextlib.suppress(AcdError):
            self.acd.engine.stats.call_abandoned(
                call.queue, max(0.0, o.at - call.offered_at), self.acd.clock.now())

    async def _record_answer(self, o: Answered) -> None:
        call = o.call
        await self._write(call.call_id, answered_at=call.answered_at, queue=call.queue or None,
                          agent_user_id=await self._user_for_extension(call.agent),
                          notes=record_note(call, o.via_fallback))

    async def _record_end(self, o: Ended) -> None:
        call = o.call
        if not o.seen:
            await self._write(call.call_id, ended_at=o.at, queue=call.queue or None,
                              notes=(record_note(call, bool(call.fallback_queue)) + "; " if
                                     call.answered_at is not None else "") + ENDED_UNSEEN,
                              disposition=None if call.answered_at is not None else "unknown")
            return
        await self._write(call.call_id, ended_at=o.at, queue=call.queue or None,
                          disposition=None if call.answered_at is not None else "abandoned")

    async def _write(self, call_id: str, **fields: Any) -> None:
        try:
            await self.crm.log_call(call_id, direction="inbound", **fields)
        except Exception:  # the call happened; a logging failure must not hurt the caller
            log.exception("crm_log_call_failed", call_id=call_id)

    async def _user_for_extension(self, ext: str) -> int | None:
        if not ext:
            return None
        for a in self.acd.engine.agents():
            if device_extension(a.device, self.acd.settings.dialing.agent_device_template) == ext:
                return await self.acd.user_id_of(a.agent_id)
        if ext not in self._users_by_ext:
            try:
                page = await self.crm.users.search(extension=ext, limit=1)
                self._users_by_ext[ext] = page.items[0].id if page.items else None
            except Exception:
                self._users_by_ext[ext] = None
        return self._users_by_ext[ext]


def record_note(call: FollowedCall, via_fallback: bool) -> str:
    parts = []
    if call.handed_back:
        parts.append(f"handed back to Asterisk's Queue(): {call.handed_back}")
    if call.adopted:
        parts.append("adopted after a server restart")
    if call.answered_at is not None:
        where = f"Queue({call.fallback_queue})" if via_fallback and call.fallback_queue \
            not in ("", "?") else ("Queue()" if via_fallback else "the ACD's Dial")
        parts.append(f"answered in {where} by extension {call.agent or '?'}")
        if call.answer_estimated:
            parts.append(ANSWER_ESTIMATED)
    return "; ".join(parts)


def _local_midnight(wall: float) -> float:
    lt = time.localtime(wall)
    return wall - (lt.tm_hour * 3600 + lt.tm_min * 60 + lt.tm_sec)

