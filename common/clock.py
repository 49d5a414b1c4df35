"""Clocks are injected: pure cores take `now` as an argument; adapters get it from a Clock."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class MonotonicClock:
    """Seconds from an arbitrary origin; for durations, timers and routing decisions."""

    def now(self) -> float:
        return time.monotonic()


class EpochMonotonicClock:
    """Unix seconds at start, then advancing monotonically: a timestamp people (and bus message
    consumers) can read, and durations a wall-clock step (NTP, DST tooling) cannot bend. The
    server's clock, so the call tracker's times on the bus are epoch seconds."""

    def __init__(self) -> None:
        self._offset = time.time() - time.monotonic()

    def now(self) -> float:
        return time.monotonic() + self._offset


class WallClock:
    """Unix seconds; for timestamps stored in the CRM and shown to people."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock tests move by hand."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
