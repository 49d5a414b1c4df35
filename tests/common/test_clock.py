from __future__ import annotations

import time

from common.clock import EpochMonotonicClock


def test_epoch_monotonic_clock_reads_as_unix_time_and_never_steps_back() -> None:
    c = EpochMonotonicClock()
    readings = [c.now() for _ in range(1000)]
    assert readings == sorted(readings)
    assert abs(readings[-1] - time.time()) < 1.0
