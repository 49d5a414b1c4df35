"""The garbage collector's policy for a long-running server: full collections kept short.

CPython's full (generation 2) collection walks every tracked container object that is not
frozen, and the whole process waits meanwhile: every screen-pop and routing decision in flight.
What a server holds for its lifetime (the start-up heap) and what it holds for a connected
desktop's whole shift (aiohttp's request, protocol, websocket reader and writer, asyncio's tasks,
queues and handles for the socket: ~100 container objects each) are walked again and again for
nothing. At 1,000 desktops that was ~130k objects and full collections of over 100 ms on a loaded
machine (benchmarks.screen_pop --trace), each one a stall in the pops' tail.

The policy (`[server].gc_freeze_interval_s`, `gc_full_interval_s`; README, Operating notes):
- start-up done: collect once, then freeze (gc.freeze: the survivors move to the permanent
  generation, which collections skip; O(1));
- every `gc_freeze_interval_s`: collect the young generations (0 and 1: at most a few thousand
  objects, well under a millisecond), then freeze everything. Desktops that connected meanwhile
  drop out of the collector's reach; automatic full collections walk only what is newer than
  the last pass. Not a full collection first: that would walk the very objects being taken out
  of reach (at 1,000 desktops, the first pass after a shift logs in would be the long pause
  this avoids); cyclic garbage that sat in the old generation is frozen with the rest and waits
  for the full pass below;
- every `gc_full_interval_s`: unfreeze, one full collection of everything, freeze again. Frozen
  objects that became cyclic garbage later (a closed socket's asyncio/aiohttp cycles, an ended
  call's), and garbage frozen by a pass, are only reclaimed by such a pass: this bounds that
  memory, at the price of one long walk at a known rate (once an hour by default).
`HeapSchedule` decides (pure, time passed in); `HeapKeeper` runs the passes on the real collector.
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass
from typing import Literal

import structlog

log = structlog.get_logger("common.heap")

PassKind = Literal["settle", "freeze", "full"]


@dataclass(frozen=True, slots=True)
class HeapPass:
    kind: PassKind
    ms: float  # wall time of the pass (the process waited this long)
    collected: int  # unreachable objects the collection found
    frozen: int  # objects in the permanent generation afterwards


class HeapSchedule:
    """When the next pass is due. Intervals of 0 turn that pass off."""

    def __init__(self, freeze_every_s: float, full_every_s: float, now: float) -> None:
        if freeze_every_s < 0 or full_every_s < 0:
            raise ValueError("heap pass intervals must be >= 0 (0 = off)")
        self.freeze_every_s = freeze_every_s
        self.full_every_s = full_every_s
        self._last_freeze = now
        self._last_full = now

    def due(self, now: float) -> PassKind | None:
        """"full" when its interval has passed (it freezes too), else "freeze", else None."""
        if self.full_every_s and now - self._last_full >= self.full_every_s:
            return "full"
        if self.freeze_every_s and now - self._last_freeze >= self.freeze_every_s:
            return "freeze"
        return None

    def done(self, kind: PassKind, now: float) -> None:
        self._last_freeze = now
        if kind == "full":
            self._last_full = now

    def wait_s(self, now: float) -> float | None:
        """Seconds until the next pass is due; None when every pass is off."""
        nexts = [last + every - now for last, every in ((self._last_freeze, self.freeze_every_s),
                                                        (self._last_full, self.full_every_s))
                 if every]
        return max(0.0, min(nexts)) if nexts else None


class HeapKeeper:
    """Runs the schedule's passes on the process's garbage collector (one per process)."""

    def __init__(self, freeze_every_s: float, full_every_s: float) -> None:
        self.schedule = HeapSchedule(freeze_every_s, full_every_s, time.monotonic())
        self.passes: list[HeapPass] = []  # the last few, for tests and the benchmark's trace

    def run_pass(self, kind: PassKind) -> HeapPass:
        started = time.perf_counter()
        if kind == "full":
            gc.unfreeze()
        # settle and full: everything; freeze: the young generations only (see above)
        collected = gc.collect(1 if kind == "freeze" else 2)
        gc.freeze()
        done = HeapPass(kind, round((time.perf_counter() - started) * 1000, 2), collected,
                        gc.get_freeze_count())
        self.schedule.done(kind, time.monotonic())
        self.passes = [*self.passes[-19:], done]
        if kind == "full":
            log.info("gc_full_pass", ms=done.ms, collected=collected, frozen=done.frozen)
        else:
            log.debug("gc_pass", kind=kind, ms=done.ms, collected=collected, frozen=done.frozen)
        return done

    def settle(self) -> HeapPass:
        """Start-up is done: what exists now lives as long as the process."""
        return self.run_pass("settle")

    async def run(self) -> None:
        """The periodic passes, until cancelled."""
        while True:
            wait = self.schedule.wait_s(time.monotonic())
            if wait is None:
                return
            await asyncio.sleep(wait)
            kind = self.schedule.due(time.monotonic())
            if kind is not None:
                self.run_pass(kind)
