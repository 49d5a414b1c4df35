"""Where a benchmark's latency tail goes: an event-loop lag probe for a process, and the
arithmetic that sets the slowest deliveries against it (benchmarks.screen_pop --trace).

A delivery that took long was late either because a process's event loop was busy (the probe,
which asks to wake every `every_s`, woke late by about as much) or for reasons no loop saw (the
OS ran something else: other processes on a shared machine). Comparing the probe's lag during
each slow delivery with that delivery's latency says which.
"""

from __future__ import annotations

import asyncio
import bisect
import gc
import time
from collections.abc import Iterable, Sequence
from typing import Any

PROBE_EVERY_S = 0.005


class LoopProbe:
    """Samples (wall time, lag ms, process CPU s) every `every_s` while running, and notes
    every garbage collection as (wall time it ended, generation, ms)."""

    def __init__(self, every_s: float = PROBE_EVERY_S) -> None:
        self.every_s = every_s
        self.samples: list[tuple[float, float, float]] = []
        # (wall time it ended, generation, wall ms, CPU ms of the collecting thread)
        self.collections: list[tuple[float, int, float, float]] = []
        self._task: asyncio.Task[None] | None = None
        self._gc_started = (0.0, 0.0)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-probe")
        gc.callbacks.append(self._on_gc)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = (time.perf_counter(), time.thread_time())
        else:
            wall, cpu = self._gc_started
            self.collections.append((time.time(), int(info.get("generation", -1)),
                                     round((time.perf_counter() - wall) * 1000, 3),
                                     round((time.thread_time() - cpu) * 1000, 3)))

    async def _run(self) -> None:
        every = self.every_s
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(every)
            lag = (time.perf_counter() - t0 - every) * 1000
            self.samples.append((time.time(), round(max(0.0, lag), 3), time.process_time()))


class LagIndex:
    """Lag samples sorted by time: the worst lag in a time window."""

    def __init__(self, samples: Iterable[Sequence[float]]) -> None:
        rows = sorted((float(s[0]), float(s[1])) for s in samples)
        self.times = [t for t, _ in rows]
        self.lags = [lag for _, lag in rows]

    def worst(self, start: float, end: float) -> float:
        """Largest lag of a sample taken in [start, end + one probe period]: a probe that woke
        late after `end` was blocked during it."""
        lo = bisect.bisect_left(self.times, start)
        hi = bisect.bisect_right(self.times, end + PROBE_EVERY_S + 0.001)
        return max(self.lags[lo:hi], default=0.0)


def worst_gc(collections: Sequence[Sequence[float]], start: float, end: float) -> float:
    """Longest garbage collection that ended in [start, end]."""
    return max((float(c[2]) for c in collections if start <= c[0] <= end), default=0.0)


def phase_cpu(samples: Sequence[Sequence[float]], start: float, end: float) -> float | None:
    """Process CPU seconds per wall second between start and end (from the probe's samples)."""
    inside = [s for s in samples if start <= s[0] < end]
    if len(inside) < 2:
        return None
    wall = inside[-1][0] - inside[0][0]
    return round((inside[-1][2] - inside[0][2]) / wall, 3) if wall > 0 else None


def blame(latency_ms: float, server_lag_ms: float, client_lag_ms: float,
          built_ms: float | None = None, gc_ms: float = 0.0) -> str:
    """What a slow delivery waited on: "pop_build" when at least half of it went by before the
    pop was even queued for its client (the CRM read and encoding: nothing a stuck client
    touches), else a garbage collection (either process) as long as half of it, else the loop
    that stalled for at least half its latency, else "neither" (no loop of ours was blocked that
    long: the OS ran something else, e.g. other processes)."""
    if built_ms is not None and built_ms >= latency_ms / 2:
        return "pop_build"
    if gc_ms >= latency_ms / 2:
        return "gc"
    if server_lag_ms >= client_lag_ms and server_lag_ms >= latency_ms / 2:
        return "server_loop"
    if client_lag_ms >= latency_ms / 2:
        return "client_loop"
    return "neither"
