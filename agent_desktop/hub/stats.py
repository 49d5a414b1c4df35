"""Queue statistics and agent rows for supervisors and wallboards (pure).

Every figure comes from the ACD's QueueReport (acd/stats.py, whose metrics are defined once in
acd/metrics.py, with Erlang C agents needed from acd/erlang.py): the wallboard, GET /api/queues,
/metrics and the log summary show the same numbers. Window figures are the report's sliding
window (15 min by default); the *_today counts run since local midnight.

The throttle lets a queue's row out at most once per `min_interval_s`, and only when it changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from acd.model import AgentSnapshot
from acd.stats import QueueReport

OVERALL = "ALL"  # the line over every queue, named as GET /api/queues names it


@dataclass(frozen=True, slots=True)
class QueueStats:
    queue: str
    overall: bool
    waiting: int
    longest_wait_s: float
    service_level: float | None
    asa_s: float | None
    aht_s: float | None
    abandon_rate: float | None
    agents_by_state: dict[str, int]
    staffed: int
    erlang_agents_needed: int | None
    offered_today: int
    answered_today: int
    abandoned_today: int
    service_level_today: float | None


@dataclass(frozen=True, slots=True)
class AgentRow:
    agent_id: str
    name: str
    team_id: int | None
    state: str
    pause_reason: str | None
    state_since: float  # Unix time; time in state = now - state_since
    call_id: str | None
    calls_handled: int  # today


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def queue_stats(r: QueueReport) -> QueueStats:
    w, t = r.window, r.today
    return QueueStats(
        queue=OVERALL if r.overall else r.queue, overall=r.overall, waiting=r.waiting,
        longest_wait_s=round(r.longest_wait_s, 1), service_level=_r(w.service_level),
        asa_s=_r(w.asa_s, 1), aht_s=_r(w.aht_s, 1), abandon_rate=_r(w.abandon_rate),
        agents_by_state={str(a.state): a.count for a in r.agents}, staffed=r.staffed,
        erlang_agents_needed=r.agents_needed, offered_today=t.entered,
        answered_today=t.answered, abandoned_today=t.abandoned,
        service_level_today=_r(t.service_level))


def agent_row(a: AgentSnapshot, *, name: str, team_id: int | None,
              wall_offset: float) -> AgentRow:
    """`a` in the engine's monotonic time; `wall_offset` turns it into Unix time."""
    return AgentRow(agent_id=a.agent_id, name=name or a.agent_id, team_id=team_id,
                    state=str(a.state), pause_reason=a.pause_reason,
                    state_since=round(a.state_since + wall_offset, 3), call_id=a.call_id,
                    calls_handled=a.calls_today)


class StatsThrottle:
    """Which queue rows to publish now: changed since last sent, and not sent in the last
    `min_interval_s` (a queue whose longest wait grows every second is sent once a second)."""

    def __init__(self, min_interval_s: float = 1.0) -> None:
        self.min_interval_s = min_interval_s
        self._last: dict[str, QueueStats] = {}
        self._sent_at: dict[str, float] = {}

    def due(self, rows: Iterable[QueueStats], now: float) -> list[QueueStats]:
        out = []
        for row in rows:
            if self._last.get(row.queue) == row:
                continue
            at = self._sent_at.get(row.queue)
            if at is not None and now - at < self.min_interval_s:
                continue
            self._last[row.queue] = row
            self._sent_at[row.queue] = now
            out.append(row)
        return out
