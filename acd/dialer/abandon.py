"""Rolling abandon-rate windows (the 24 h and 30 day rules), per campaign.

The rule counts abandoned calls against live-answered calls (an abandoned call is a live answer
too). Counts are kept in fixed buckets (one minute for 24 h, one hour for 30 days) so memory is
bounded whatever the traffic. A bucket that straddles the window's left edge is counted on the
safe side for compliance: its abandons still count, its live answers no longer do. The rate shown
and the budget the pacing gets are therefore never more generous than the exact window.

This is the one computation of the rule's windows: the live tracker (pacing, the wallboard's
dialer.campaign.stats, /metrics) and the outbound reports (`windows_at`, over the per-minute
counts the dialer saved: crm_core/dialer_store.py) both run it, so a report's 24 h / 30 day
rate at a period's end is the figure the wallboard showed then. Rate: acd/metrics.py.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

from acd import metrics
from acd.dialer.errors import InvalidPacing

DAY_S = 86_400.0
WINDOWS: tuple[tuple[str, float, float], ...] = (
    ("24h", DAY_S, 60.0),
    ("30d", 30 * DAY_S, 3_600.0),
)


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """One window's counts, as the pacing reads them."""

    name: str
    live: int  # live answers surely inside the window (abandons included)
    abandoned: int  # abandons possibly inside the window

    @property
    def rate(self) -> float:
        """abandoned / live; 1.0 for abandons with no live answer; 0 with neither."""
        return metrics.outbound_abandon_rate(self.abandoned, self.live) or 0.0

    @property
    def report_rate(self) -> float | None:
        """The same, None with neither (a report's "no figure")."""
        return metrics.outbound_abandon_rate(self.abandoned, self.live)

    def budget(self, target: float) -> int:
        """Abandons still allowed before this window exceeds `target` (never negative)."""
        return max(0, math.floor(target * self.live + 1e-9) - self.abandoned)


class RollingCounter:
    """Live answers and abandons over the last `window_s` seconds, in `bucket_s` buckets."""

    def __init__(self, window_s: float, bucket_s: float) -> None:
        if not (math.isfinite(window_s) and math.isfinite(bucket_s)) or not (
                0 < bucket_s <= window_s):
            raise InvalidPacing(f"window {window_s} s / bucket {bucket_s} s: "
                                "need 0 < bucket <= window")
        self.window_s = window_s
        self.bucket_s = bucket_s
        # [bucket index, live, abandoned], oldest first
        self._buckets: deque[list[int]] = deque()
        self._live = 0
        self._abandoned = 0
        self._last = -math.inf

    def add(self, now: float, *, live: int = 0, abandoned: int = 0) -> None:
        if live < 0 or abandoned < 0 or not math.isfinite(now):
            raise InvalidPacing("counts must be >= 0 and the time finite")
        if now < self._last:
            now = self._last  # a late event is booked in the newest bucket, never lost
        self._last = now
        idx = math.floor(now / self.bucket_s)
        if self._buckets and self._buckets[-1][0] == idx:
            b = self._buckets[-1]
            b[1] += live
            b[2] += abandoned
        else:
            self._buckets.append([idx, live, abandoned])
        self._live += live
        self._abandoned += abandoned

    def _evict(self, at: float) -> None:
        # A bucket leaves once its end is at or before the window's left edge.
        edge = at - self.window_s
        while self._buckets and (self._buckets[0][0] + 1) * self.bucket_s <= edge:
            _, live, ab = self._buckets.popleft()
            self._live -= live
            self._abandoned -= ab

    def counts(self, name: str, now: float, lookahead_s: float = 0.0) -> WindowCounts:
        """Counts at `now`; live answers that leave the window within `lookahead_s` are not
        counted (the calls being dialled now are judged against the window they will end in)."""
        self._evict(now)
        live = self._live
        edge = now + lookahead_s - self.window_s
        for b in self._buckets:
            if b[0] * self.bucket_s > edge:
                break
            live -= b[1]  # straddles (or will straddle) the left edge
        return WindowCounts(name, live, self._abandoned)


class AbandonTracker:
    """The campaign's abandon rate over the regulatory windows (24 h and 30 days)."""

    def __init__(self, windows: tuple[tuple[str, float, float], ...] = WINDOWS) -> None:
        self._counters = tuple((name, RollingCounter(w, b)) for name, w, b in windows)

    def live_answer(self, now: float) -> None:
        for _, c in self._counters:
            c.add(now, live=1)

    def abandon(self, now: float) -> None:
        """An abandoned call: a live answer that got no agent in time (counted in both)."""
        for _, c in self._counters:
            c.add(now, live=1, abandoned=1)

    def restore(self, at: float, *, live: int, abandoned: int) -> None:
        """Counts saved earlier (crm_core/dialer_store.py), replayed oldest first at start-up:
        `live` includes the abandons, as in the rule."""
        if abandoned > live:
            raise InvalidPacing(f"abandoned {abandoned} > live {live}")
        for _, c in self._counters:
            c.add(at, live=live, abandoned=abandoned)

    def snapshot(self, now: float, lookahead_s: float = 0.0) -> tuple[WindowCounts, ...]:
        return tuple(c.counts(name, now, lookahead_s) for name, c in self._counters)


def windows_at(counts: Iterable[tuple[Hashable, float, int, int]], ends: Sequence[float],
               windows: tuple[tuple[str, float, float], ...] = WINDOWS
               ) -> dict[tuple[Hashable, float], tuple[WindowCounts, ...]]:
    """The windows a live tracker would show at each of `ends`, per group: `counts` are
    (group, minute start, live, abandoned), the minutes the dialer saved (any order); each
    group's tracker is restored from them oldest first, as the dialer does at start-up, and
    read at each end (minutes starting before it). Groups with no minute before an end are
    left out at that end."""
    rows = sorted(counts, key=lambda c: c[1])
    trackers: dict[Hashable, AbandonTracker] = {}
    out: dict[tuple[Hashable, float], tuple[WindowCounts, ...]] = {}
    i = 0
    for end in sorted(set(ends)):
        while i < len(rows) and rows[i][1] < end:
            group, minute, live, abandoned = rows[i]
            tracker = trackers.get(group)
            if tracker is None:
                tracker = trackers[group] = AbandonTracker(windows)
            tracker.restore(minute, live=live, abandoned=abandoned)
            i += 1
        for group, tracker in trackers.items():
            out[(group, end)] = tracker.snapshot(end)
    return out
