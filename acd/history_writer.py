"""Moves event-log rows from the ACD to the CRM database in batches (the asyncio side of
acd/history.py).

Routing never waits for the database: the engine's traffic only appends rows to the deriver's
list (AcdService.observe_commands); a task drains it every `flush_interval_s` and writes the
batch, with its 15-minute aggregate deltas, in one transaction on the CRM's writer thread. If a
write fails the batch is kept and retried on the next flush; beyond `max_pending_events` the
oldest rows are dropped with a log line (memory stays bounded while the disk is full). `stop()`
closes the agents' open states and flushes what is left.

Transfers are not engine inputs: with a bus, the writer follows the call tracker's
`pbx.call.transferred` messages (AMI BlindTransfer / AttendedTransfer) and logs `transferred`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog

from acd.history import HistoryDeriver, Limits, interval_deltas
from common.bus import Bus
from common.messages import CallTransferred
from config.acd import AcdSettings
from config.reports import ReportsSettings
from crm_core.history import HistoryEvent, HistoryRepo, bucket, local_day, zone

log = structlog.get_logger("acd.history")
BACKFILL_KINDS = ("answered", "handled", "transferred", "rona")


def queue_limits(acd: AcdSettings) -> Limits:
    return {q.name: (q.service_level_s, q.short_abandon_s) for q in acd.queues}


class HistoryWriter:
    def __init__(self, repo: HistoryRepo, deriver: HistoryDeriver, *, limits: Limits,
                 settings: ReportsSettings, now: Callable[[], float],
                 bus: Bus | None = None) -> None:
        self.repo = repo
        self.deriver = deriver
        self.limits = limits
        self.settings = settings
        self._now = now  # the engine's clock (monotonic), for closing open agent states
        self._pending: list[HistoryEvent] = []
        self._task: asyncio.Task[None] | None = None
        self._bus = bus
        self._follow: asyncio.Task[None] | None = None
        self._backfill: asyncio.Task[None] | None = None
        self._tz = zone(settings.timezone)
        self._days: dict[float, float] = {}  # 15-minute start -> local day start
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self.written = 0
        self.dropped = 0
        self.failures = 0

    def day_of(self, bucket_start: float) -> float:
        d = self._days.get(bucket_start)
        if d is None:
            if len(self._days) > 10_000:
                self._days.clear()
            d = self._days[bucket_start] = local_day(bucket_start, self._tz)
        return d

    async def start(self) -> None:
        today = local_day(self.deriver.to_wall(self._now()), self._tz)
        # (+26 h lands in the next local day even across a daylight-saving change)
        await self.repo.adopt_zone(self.settings.timezone, local_day(today + 26 * 3600, self._tz))
        # The one-time rebuild covers rows logged before schema 19 only; rows logged from now
        # on carry their own per-agent sums: the two add to the same tables independently, so
        # the rebuild runs beside the writer instead of delaying the start.
        self._backfill = asyncio.create_task(self._backfill_in_background(),
                                             name="history-backfill")
        self._task = asyncio.create_task(self._run(), name="history-writer")
        if self._bus is not None:
            self._follow = asyncio.create_task(
                self._transfers(self._bus.subscribe(CallTransferred.TOPIC)),
                name="history-transfers")

    async def _backfill_in_background(self) -> None:
        try:
            await self.backfill_queue_agents()
        except asyncio.CancelledError:
            raise
        except Exception:  # the figures by team stay short of the old rows; routing goes on
            log.exception("history_queue_agents_backfill_failed")

    async def backfill_queue_agents(self, chunk: int = 50_000) -> int:
        """Once, after schema migration 19: the per-agent queue sums of the events logged before
        it (the figures by team), rebuilt from the log with today's thresholds, in chunks that
        each commit with their progress (a restart resumes after the last). Returns the events
        read."""
        pending = await self.repo.backfill_pending("queue_agents")
        n = 0
        while pending is not None and pending[0] < pending[1]:
            done, upto = pending
            last, rows = await self.repo.events_by_id(done, upto, BACKFILL_KINDS, chunk)
            # (with the day: the per-day rows were summed from the 15-minute ones at start)
            d = interval_deltas([e for e, _ in rows], self.limits, day_of=self.day_of,
                                tz=self.settings.timezone)
            for e, repeated in rows:
                if repeated and e.kind == "answered":
                    row = d.queue_agent.setdefault((bucket(e.at), e.queue, e.agent), {})
                    row["repeated"] = row.get("repeated", 0.0) + 1
            await self.repo.backfill_queue_agents(d, last)
            n += len(rows)
            pending = (last, upto)
        if n:
            log.info("history_queue_agents_backfilled", events=n)
        return n

    async def stop(self) -> None:
        # Not cancelled mid-write: a cancelled await could leave a committed batch looking
        # unwritten, and the last flush would write it twice.
        self._stopping.set()
        if self._backfill is not None:  # its progress is committed with each chunk
            self._backfill.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._backfill
        if self._follow is not None:
            self._follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follow
        if self._task is not None:
            await self._task
            self._task = None
        self.deriver.close(self._now())
        await self.flush()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.settings.flush_interval_s)
            if not self._stopping.is_set():
                await self.flush()

    async def _transfers(self, sub: Any) -> None:
        while True:
            env = await sub.get()
            u = env.message
            if not isinstance(u, CallTransferred):
                continue
            try:
                self.deriver.transferred(u.call.call_id, u.transfer.target, self._now(),
                                         queue=u.call.queue or "")
            except Exception:
                log.exception("history_transfer_not_logged")

    async def flush(self) -> int:
        """Write what has accumulated; returns the rows written (0 on failure: kept)."""
        async with self._lock:
            self._pending.extend(self.deriver.drain())
            if not self._pending:
                return 0
            batch = self._pending
            excess = len(batch) - self.settings.max_pending_events
            if excess > 0:
                del batch[:excess]
                self.dropped += excess
                log.error("history_rows_dropped", dropped=excess, total_dropped=self.dropped)
            try:
                deltas = interval_deltas(batch, self.limits, day_of=self.day_of,
                                         tz=self.settings.timezone)
                n = await self.repo.append(batch, deltas,
                                           self.settings.repeat_window_days * 86400.0)
            except Exception as exc:  # the disk may come back: keep the rows, retry later
                self.failures += 1
                log.warning("history_write_failed", rows=len(batch), error=str(exc))
                return 0
            self._pending = []
            self.written += n
            return n
