"""Report periods: a 15-minute row's start mapped to the start of its 15 minutes, hour or day in
the report's time zone (days and hours are local: a day starts at local midnight)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Literal

from reports.errors import BadRequest

QUARTER = 900.0
Interval = Literal["15min", "hour", "day", "total"]
INTERVALS: tuple[str, ...] = ("15min", "hour", "day", "total")


def check_interval(value: str) -> Interval:
    if value not in INTERVALS:
        raise BadRequest(f"interval must be one of {', '.join(INTERVALS)}, not {value!r}",
                         {"interval": value})
    return value  # type: ignore[return-value]


class Periods:
    """Caches start -> period start (a month of 15-minute rows has 2,880 distinct starts)."""

    def __init__(self, interval: Interval, tz: tzinfo | None, range_start: float) -> None:
        self.interval = interval
        self.tz = tz
        self.range_start = range_start
        self._cache: dict[float, float] = {}

    def of(self, start: float) -> float:
        p = self._cache.get(start)
        if p is None:
            p = self._cache[start] = self._compute(start)
        return p

    def _compute(self, start: float) -> float:
        if self.interval == "15min":
            return start
        if self.interval == "total":
            return self.range_start
        dt = datetime.fromtimestamp(start, self.tz)
        if self.interval == "hour":
            dt = dt.replace(minute=0, second=0, microsecond=0)
        else:
            dt = dt.replace(hour=0, minute=0, second=0, microsecond=0)
        return dt.timestamp()

    def bounds(self, start: float, end: float) -> list[tuple[float, float]]:
        """The periods covering [start, end) as (start, end) pairs on 15-minute boundaries
        (the first starts at the quarter-hour holding `start`)."""
        out: list[tuple[float, float]] = []
        t = start // QUARTER * QUARTER
        while t < end:
            p = self.of(t)
            if out and out[-1][0] == p:
                out[-1] = (p, t + QUARTER)
            else:
                out.append((p, t + QUARTER))
            t += QUARTER
        return [(max(ps, start // QUARTER * QUARTER), pe) for ps, pe in out]

    def label(self, period_start: float) -> str:
        if self.interval == "total":
            return "total"
        dt = datetime.fromtimestamp(period_start, self.tz)
        if self.interval == "day":
            return dt.strftime("%Y-%m-%d")
        return dt.strftime("%Y-%m-%dT%H:%M")
