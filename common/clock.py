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
