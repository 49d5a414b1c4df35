"""The wallboard's trend of the day: calls waiting and service level, one point per queue per
minute, kept on the server so a reloaded page or a TV switched on at noon shows the morning too.

Pure (time passed in). It folds the same queue rows the wallboard tiles show (agent_desktop/hub/
stats.QueueStats, from acd/stats.py's QueueReport): no second definition of either figure.

- A point is one minute of one queue (and of "ALL", the line over every queue): `waiting` is
  the most calls seen waiting during that minute (a spike between two samples still shows),
  `service_level` the last value of the minute (the 15-minute sliding window's, as the tile).
- The day is the centre's local day (its zone is passed in; None = the server's local time,
  as the ACD's "today" counts): the series starts afresh at local midnight.
- Bounded: one point per minute of one day per series (1,440), and at most `max_series` series
  (queues come from the configuration, so this only guards against a runaway).
- A clock stepped back within the day adds nothing until it passes the last point again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Protocol

MINUTE_S = 60.0
POINTS_PER_DAY = 1440


class TrendRow(Protocol):
    """What a point is made of (agent_desktop.hub.stats.QueueStats has it)."""

    @property
    def queue(self) -> str: ...
    @property
    def waiting(self) -> int: ...
    @property
    def service_level(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One queue's minute: the `wallboard.trend` event's data."""

    queue: str
    day: str  # the centre's local date, "2026-11-28"
    t: float  # Unix time of the minute's start
    waiting: int  # the most calls waiting during the minute
    service_level: float | None  # last value of the minute (15-minute window), 0-1


@dataclass(slots=True)
class _Series:
    t: list[float] = field(default_factory=list)
    waiting: list[int] = field(default_factory=list)
    service_level: list[float | None] = field(default_factory=list)

    def point(self, queue: str, day: str, i: int) -> TrendPoint:
        return TrendPoint(queue, day, self.t[i], self.waiting[i], self.service_level[i])


def local_day(now: float, zone: tzinfo | None) -> str:
    return datetime.fromtimestamp(now, zone).date().isoformat()


class TrendBook:
    def __init__(self, zone: tzinfo | None, *, max_series: int = 64) -> None:
        self.zone = zone
        self.max_series = max_series
        self.day = ""
        self._series: dict[str, _Series] = {}

    def observe(self, now: float, rows: Iterable[TrendRow]) -> list[TrendPoint]:
        """Fold one sample of every queue's row taken at `now`; returns the points of the
        minutes this sample closed (each queue's previous minute, once)."""
        day = local_day(now, self.zone)
        if day != self.day:
            self.day, self._series = day, {}
        minute = math.floor(now / MINUTE_S) * MINUTE_S
        closed: list[TrendPoint] = []
        for row in rows:
            s = self._series.get(row.queue)
            if s is None:
                if len(self._series) >= self.max_series:
                    continue
                s = self._series[row.queue] = _Series()
            sl = None if row.service_level is None else round(float(row.service_level), 4)
            if s.t and s.t[-1] == minute:
                s.waiting[-1] = max(s.waiting[-1], int(row.waiting))
                s.service_level[-1] = sl
                continue
            if s.t and minute < s.t[-1]:
                continue  # the clock went back: nothing until it passes the last point
            if s.t:
                closed.append(s.point(row.queue, day, -1))
            if len(s.t) >= POINTS_PER_DAY:  # cannot happen within one day; a guard all the same
                del s.t[0], s.waiting[0], s.service_level[0]
            s.t.append(minute)
            s.waiting.append(int(row.waiting))
            s.service_level.append(sl)
        return closed

    def restore(self, now: float, points: Iterable[TrendPoint]) -> None:
        """Points kept from before a restart (crm_core/trend_store.py): those of `now`'s day,
        into series that hold nothing yet (points of one queue in time order)."""
        day = local_day(now, self.zone)
        if day != self.day:
            self.day, self._series = day, {}
        fresh: dict[str, _Series] = {}
        for p in points:
            if p.day != day or (p.queue in self._series and p.queue not in fresh):
                continue
            s = fresh.get(p.queue)
            if s is None:
                if len(self._series) >= self.max_series:
                    continue
                s = fresh[p.queue] = self._series[p.queue] = _Series()
            if (s.t and p.t <= s.t[-1]) or len(s.t) >= POINTS_PER_DAY:
                continue
            s.t.append(p.t)
            s.waiting.append(p.waiting)
            s.service_level.append(p.service_level)

    def open_points(self) -> list[TrendPoint]:
        """Each queue's last (still open) minute: what a stop saves besides the closed ones."""
        return [s.point(q, self.day, -1) for q, s in self._series.items() if s.t]

    def series(self, now: float) -> dict[str, Any]:
        """The day so far, every queue's series in columns (uPlot's shape), the open minute
        included: {"day", "minute_s", "queues": {queue: {"t", "waiting", "service_level"}}}."""
        if local_day(now, self.zone) != self.day:
            return {"day": local_day(now, self.zone), "minute_s": MINUTE_S, "queues": {}}
        return {"day": self.day, "minute_s": MINUTE_S,
                "queues": {q: {"t": list(s.t), "waiting": list(s.waiting),
                               "service_level": list(s.service_level)}
                           for q, s in sorted(self._series.items())}}

    def points(self, queue: str) -> list[TrendPoint]:
        s = self._series.get(queue)
        return [] if s is None else [s.point(queue, self.day, i) for i in range(len(s.t))]
