"""The asyncio side of the dial policy: every place a number becomes a dial asks this first.

    guard = DialGuard(settings.dialing, crm, audit=DialAuditWriter(crm))
    target = await guard.authorize(dialer, "+4930123456", "dial", call_id=...)
    # -> DialTarget (send target.dial, never the raw input); DialRefused / DialRateLimited

For each attempt it (1) applies the dialler's per-user rate limit (dial and transfer attempts
share one budget; refused attempts count too, so probing numbers is throttled), (2) classifies
the target with cti.dialpolicy, asking the CRM whether a short digit string is an active user's
extension (on each dial: a changed or removed extension counts at once), (3) decides by the
rules of the dialler's role and team, and (4) queues an audit row, allowed or refused. The row is
written by DialAuditWriter's own task in batches: the request never waits for the disk, and if
the CRM is slow the queue (bounded) drops rows with a log line rather than holding calls up.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import structlog

from agent_desktop.ratelimit import SlidingWindowLimiter
from common.clock import Clock, MonotonicClock, WallClock
from config.cti import DialingSettings
from crm_core.errors import CrmError
from cti.dialpolicy import DialDecision, DialPolicy, DialRules, DialTarget
from cti.errors import DialRateLimited, DialRefused

if TYPE_CHECKING:
    from crm_core.service import Crm

log = structlog.get_logger("cti.dialguard")

DialAction = Literal["dial", "transfer", "callback", "campaign"]  # campaign: acd/dialer
_WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class Dialer:
    """Who asks for the dial (for callbacks: the agent who will talk)."""

    user_id: int | None
    username: str
    role: str
    team_id: int | None = None


class DialAuditWriter:
    """Writes audit rows off the request path: submit() never blocks; a task batches inserts."""

    def __init__(self, crm: Crm, *, max_queue: int = 10_000, batch: int = 200) -> None:
        self._crm = crm
        self._queue: asyncio.Queue[dict[str, object]] = asyncio.Queue(max_queue)
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.written = 0

    def submit(self, row: dict[str, object]) -> None:
        try:
            self._queue.put_nowait(row)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("dial_audit_dropped", dropped=self.dropped, number=row.get("target"))

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="dial-audit-writer")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        await self.flush()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def flush(self) -> None:
        """Wait until every row submitted so far is written (or failed)."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            rows = [await self._queue.get()]
            while len(rows) < self._batch and not self._queue.empty():
                rows.append(self._queue.get_nowait())
            try:
                self.written += await self._crm.dial_audit.add_many(rows)
            except CrmError:  # a bad row or a disk error must not stop the writer
                log.exception("dial_audit_not_written", rows=len(rows))
            finally:
                for _ in rows:
                    self._queue.task_done()


class DialGuard:
    def __init__(self, settings: DialingSettings, crm: Crm, *,
                 audit: DialAuditWriter | None = None, clock: Clock | None = None,
                 wall: Clock | None = None) -> None:
        self.policy = DialPolicy(settings)
        self._crm = crm
        self._audit = audit
        self._clock = clock or MonotonicClock()
        self._wall = wall or WallClock()
        self._limiters: dict[int, SlidingWindowLimiter] = {}

    async def rules_for(self, dialer: Dialer) -> DialRules:
        team = None
        if self.policy.teams and dialer.team_id is not None and self._crm is not None:
            with contextlib.suppress(CrmError):
                team = (await self._crm.teams.get(dialer.team_id)).name
        return self.policy.rules_for(dialer.role, team)

    async def classify(self, raw: str) -> DialTarget:
        known: set[str] = set()
        text = raw.strip()
        if self._crm is not None and text.isascii() and text.isdigit() and 2 <= len(text) <= 6:
            with contextlib.suppress(CrmError):
                if await self._crm.users.extension_in_use(text):
                    known.add(text)
        return self.policy.classify(raw, known.__contains__)

    async def authorize(self, dialer: Dialer, raw: str, action: DialAction, *,
                        call_id: str = "", rate_limit: bool = True,
                        audit_allowed: bool = True) -> DialTarget:
        """The target to dial, or DialRefused (DialRateLimited) naming why. Audited either way,
        except an allowed one with `audit_allowed=False`: a check ahead of the dial that is
        decided (and audited) again when it is placed (the dialer's agent-owned callbacks)."""
        rules = await self.rules_for(dialer)
        target = await self.classify(raw)
        now = self._clock.now()
        key = f"{dialer.user_id}:{dialer.username}"
        limiter = self._limiter(rules.dials_per_minute) if rate_limit else None
        if limiter is not None:
            wait = limiter.retry_after(key, now)
            if wait > 0:
                decision = DialDecision(
                    target, "refused", "rate_limited",
                    f"too many dial attempts: at most {rules.dials_per_minute} a minute; try "
                    f"again in {max(1, math.ceil(wait))} s")
                self._record(dialer, action, decision, call_id)
                raise DialRateLimited(decision, wait)
            limiter.record(key, now)
        decision = self.policy.decide(target, rules)
        if audit_allowed or not decision.allowed:
            self._record(dialer, action, decision, call_id)
        if not decision.allowed:
            log.info("dial_refused", user=dialer.username, action=action,
                     target=decision.target.dial, reason=decision.reason)
            raise DialRefused(decision)
        return decision.target

    def _limiter(self, per_minute: int) -> SlidingWindowLimiter | None:
        if per_minute <= 0:
            return None
        limiter = self._limiters.get(per_minute)
        if limiter is None:
            limiter = self._limiters[per_minute] = SlidingWindowLimiter(per_minute, _WINDOW_S)
        return limiter

    def _record(self, dialer: Dialer, action: DialAction, d: DialDecision,
                call_id: str) -> None:
        if self._audit is None:
            return
        t = d.target
        self._audit.submit({
            "at": self._wall.now(), "user_id": dialer.user_id, "username": dialer.username,
            "role": dialer.role, "team_id": dialer.team_id, "action": action, "number": t.raw,
            "target": t.dial, "kind": t.kind, "region": t.region, "number_type": t.number_type,
            "verdict": d.verdict, "reason": d.reason, "message": d.message, "call_id": call_id,
        })

    async def authorize_callback(self, agent_username: str, number: str, *,
                                 call_id: str = "") -> DialTarget:
        """An ACD callback: decided by the rules of the agent who will talk to the customer
        (no rate limit: the ACD places it, not the person). A caller ID is the caller's to
        choose, so a spoofed premium or foreign number must not be called back."""
        dialer = Dialer(None, agent_username, "agent")
        if self._crm is not None:
            with contextlib.suppress(CrmError):
                user = await self._crm.users.by_username(agent_username)
                dialer = Dialer(user.id, user.username, user.role, user.team_id)
        return await self.authorize(dialer, number, "callback", call_id=call_id,
                                    rate_limit=False)
