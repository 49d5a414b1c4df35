"""Queue statistics and agent rows for supervisors and wallboards (pure).

Every figure comes from the ACD's QueueReport (acd/stats.py, whose metrics are defined once in
acd/metrics.py, with Erlang C agents needed from acd/erlang.py): the wallboard, GET /api/queues,
/metrics and the log summary show the same numbers. Window figures are the report's sliding
window (15 min by default); the *_today counts run since local midnight.

The throttle lets a queue's row out at most once per `min_interval_s`, and only when it changed.

Agents' desktops get the rows of their own queues as "latest-value" frames (AgentQueueFanout):
cheap by construction, because a floor of 1,000 desktops is the hub's widest fan-out.
- Each row is encoded once, and agents with the same set of queues share one frame: the same
  string object goes into each of their send queues (no per-client encoding).
- At most one frame per agent per tick, holding every row of theirs that is due; a row is due
  at most once per `min_interval_s` and only when it changed (latest wins).
- The frames carry no seq and are not kept for replay: a stale figure is worth nothing, and
  they would push screen-pops out of the bounded replay buffers. A client that resumes gets the
  current rows of its queues at once (`current_frame`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
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


@dataclass(frozen=True, slots=True)
class AgentQueueStats:
    """The data of a `desktop.queue_stats` value frame: the agent's queues whose figures
    changed (or, right after a connect or resume, all of them)."""

    queues: tuple[QueueStats, ...]


class AgentQueueFanout:
    """Which value frame each agent's desktop gets now (pure; the hub pushes the strings).

    `encode_row` turns a QueueStats into JSON text; `frame` wraps the data JSON into the
    value frame's text (wire.value, with the tick's time)."""

    def __init__(self, min_interval_s: float, encode_row: Callable[[QueueStats], str]) -> None:
        self.throttle = StatsThrottle(min_interval_s)
        self._encode = encode_row
        self._latest: dict[str, str] = {}  # queue -> its latest row, encoded

    def tick(self, rows: Iterable[QueueStats], now: float) -> frozenset[str]:
        """Take the queues' current rows; returns the queues whose row is due now."""
        due = self.throttle.due((r for r in rows if not r.overall), now)
        for r in due:
            self._latest[r.queue] = self._encode(r)
        return frozenset(r.queue for r in due)

    def frames(self, due: frozenset[str], agents: Mapping[str, frozenset[str]],
               frame: Callable[[str], str]) -> dict[str, str]:
        """agent -> the frame text for them (agents whose queues have nothing due: none).
        Agents with the same due queues get the very same string."""
        by_group: dict[frozenset[str], str] = {}
        out: dict[str, str] = {}
        if not due:
            return out
        for agent, queues in agents.items():
            key = queues & due
            if not key:
                continue
            text = by_group.get(key)
            if text is None:
                text = by_group[key] = frame(self._data(key))
            out[agent] = text
        return out

    def current_frame(self, queues: frozenset[str], frame: Callable[[str], str]) -> str | None:
        """Every latest row of `queues` in one frame (for a client that just resumed)."""
        key = frozenset(q for q in queues if q in self._latest)
        return frame(self._data(key)) if key else None

    def _data(self, queues: frozenset[str]) -> str:
        return '{"queues":[' + ",".join(self._latest[q] for q in sorted(queues)) + "]}"

