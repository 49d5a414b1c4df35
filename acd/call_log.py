"""What the record says after a call: every call the tracker ends is written to the CRM.

- Calls an agent placed (click-to-dial, callbacks, desk-phone calls, other clients' Originates
  from an agent's phone) become an interaction: who (the agent), the number dialled, the
  customer matched by that number (crm_core), the outcome (None when answered, as for ACD
  calls, whose disposition the agent sets; else "busy", "no answer", ...) and the durations.
  A click-to-dial the PBX could not place at all (the agent's phone never answered) is one too.
- An inbound call transferred on ends (and talks) until its last party hangs up, not when the
  first agent's part ended.
- Every call with an agent gets its segments (crm_core.segments): each agent's stretch, the talk
  seconds in it, and the transfer that ended it. Inbound ACD calls keep the interaction the ACD
  writes (acd.service); their segments are added here under the same call id.
- Transfers of a queue's calls are counted in the ACD's queue statistics as they happen.

Input: the tracker's updates as the server publishes them on the bus (pbx.call.*),
and each update at once through :meth:`CallLog.on_update` (transfers are counted while the ACD
still knows the call's queue: the tracker only sees a queue app_queue or the IVR reported).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from acd.stats import QueueStats
from common.clock import Clock
from common.messages import CallEnded, CallTransferred, OriginateFailed
from crm_core.segments import CallSegment
from cti.call_views import CallView, Direction, OriginKind

if TYPE_CHECKING:
    from crm_core.service import Crm

log = structlog.get_logger("acd.call_log")

# Calls written as interactions here (inbound ACD calls are written by the ACD service).
AGENT_PLACED = frozenset({OriginKind.CLICK_TO_DIAL, OriginKind.CALLBACK, OriginKind.PHONE,
                          OriginKind.ORIGINATE})
_FAILED_REASONS = {0: "busy", 1: "no answer", 3: "no answer", 5: "busy", 8: "congestion"}


class CallLog:
    def __init__(self, crm: Crm, stats: QueueStats | None, *, clock: Clock, wall: Clock,
                 queue_of: Callable[[str], str] | None = None) -> None:
        self.crm = crm
        self.stats = stats
        self.queue_of = queue_of or (lambda call_id: "")
        self.clock = clock  # the tracker's (monotonic) time
        self.wall = wall
        self.written = 0
        self.failed = 0

    async def run(self, sub: Any) -> None:
        """Consume tracker updates from a bus subscription ("pbx.call.") until cancelled."""
        while True:
            env = await sub.get()
            try:
                await self.handle(env.message)
            except Exception:  # one bad write must not stop the log for every later call
                self.failed += 1
                log.exception("call_log_failed", topic=env.topic)

    async def handle(self, msg: object) -> None:
        if isinstance(msg, CallEnded):
            await self._ended(msg.call, msg.reason)
        elif isinstance(msg, OriginateFailed) and msg.call is None \
                and msg.kind in (OriginKind.CLICK_TO_DIAL, OriginKind.CALLBACK) and msg.cti_call_id:
            await self._not_placed(msg)

    def on_update(self, update: object) -> None:
        """Synchronous: counts a transfer of a queue's call in the queue statistics."""
        if not isinstance(update, CallTransferred):
            return
        queue = self.queue_of(update.call.call_id) or update.call.queue
        if queue and self.stats is not None:
            with contextlib.suppress(Exception):  # a queue this ACD does not know: not its call
                self.stats.call_transferred(queue, self.clock.now())

    def _wall(self, t: float | None) -> float | None:
        return None if t is None else t + (self.wall.now() - self.clock.now())

    async def _ended(self, call: CallView, reason: str) -> None:
        if call.direction is Direction.OUTBOUND and call.origin in AGENT_PLACED \
                and call.agent is not None:
            # Who placed it: the first agent (segments keep whoever had it after transfers).
            placed_by = call.segments[0].user if call.segments else call.agent.user
            await self.crm.log_call(
                call.call_id, direction="outbound", phone=call.dialled or None,
                agent_user_id=await self.crm.users.id_of(placed_by),
                offered_at=self._wall(call.offered_at), answered_at=self._wall(call.answered_at),
                ended_at=self._wall(call.ended_at),
                disposition=None if call.answered_at is not None else reason,
                notes=f"{call.origin.replace('_', '-')} call",
            )
            self.written += 1
        elif call.direction is Direction.INBOUND and call.transfers and call.ended_at is not None:
            # The ACD closed the interaction when the caller left its session (at the first
            # transfer); the call went on with the new party: it ends, and talks, until now.
            await self.crm.log_call(call.call_id, ended_at=self._wall(call.ended_at))
        # (not a listening supervisor's own call)
        if call.segments and call.origin is not OriginKind.SUPERVISOR:
            await self.crm.log_call_segments(call.call_id, await self._segments(call))

    async def _segments(self, call: CallView) -> list[CallSegment]:
        transfers = iter(call.transfers)
        out = []
        for seq, s in enumerate(call.segments):
            t = next(transfers, None) if s.ended_by == "transfer" else None
            start = self._wall(s.start)
            out.append(CallSegment(
                call_id=call.call_id, seq=seq, agent_user_id=await self.crm.users.id_of(s.user),
                agent=s.user or s.device, device=s.device,
                started_at=start if start is not None else 0.0, ended_at=self._wall(s.end),
                talk_s=round(s.talk_s, 3), ended_by=s.ended_by,
                transfer_kind=t.kind if t else None, transfer_target=t.target if t else None,
            ))
        return out

    async def _not_placed(self, msg: OriginateFailed) -> None:
        at = self._wall(msg.at)
        await self.crm.log_call(
            msg.cti_call_id, direction="outbound", phone=msg.dialled or None,
            agent_user_id=await self.crm.users.id_of(msg.user), offered_at=at, ended_at=at,
            disposition=f"not placed: agent's phone {_FAILED_REASONS.get(msg.reason, 'failed')}",
            notes=f"{msg.kind.replace('_', '-')} call",
        )
        self.written += 1

