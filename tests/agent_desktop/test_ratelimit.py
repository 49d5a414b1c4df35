from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_desktop.ratelimit import SlidingWindowLimiter


def test_blocks_after_max_then_frees_when_oldest_leaves_window() -> None:
    lim = SlidingWindowLimiter(3, 60.0)
    for t in (0.0, 10.0, 20.0):
        assert lim.retry_after("u", t) == 0.0
        lim.record("u", t)
    assert lim.retry_after("u", 30.0) == 30.0  # first attempt (t=0) leaves at t=60
    assert lim.retry_after("u", 60.0) == 0.0
    assert lim.retry_after("other", 30.0) == 0.0


def test_reset_clears_key() -> None:
    lim = SlidingWindowLimiter(1, 60.0)
    lim.record("u", 0.0)
    assert lim.retry_after("u", 1.0) > 0
    lim.reset("u")
    assert lim.retry_after("u", 1.0) == 0.0


def test_memory_bounded() -> None:
    lim = SlidingWindowLimiter(1, 60.0, max_keys=100)
    for i in range(1000):
        lim.record(f"user{i}", 0.0)
    assert len(lim) == 100
    assert lim.retry_after("user999", 1.0) > 0  # the most recent keys are the ones kept


def test_expired_keys_are_dropped() -> None:
    lim = SlidingWindowLimiter(2, 10.0)
    lim.record("u", 0.0)
    assert lim.count("u", 11.0) == 0
    assert len(lim) == 0


@settings(max_examples=200, deadline=None)
@given(max_attempts=st.integers(1, 5), window=st.floats(1.0, 100.0),
       gaps=st.lists(st.floats(0.0, 50.0), min_size=1, max_size=60))
def test_never_more_than_max_allowed_in_any_window(max_attempts: int, window: float,
                                                   gaps: list[float]) -> None:
    """A client that attempts whenever allowed never gets more than max_attempts in any window."""
    lim = SlidingWindowLimiter(max_attempts, window)
    now, allowed = 0.0, []
    for gap in gaps:
        now += gap
        if lim.retry_after("k", now) == 0.0:
            lim.record("k", now)
            allowed.append(now)
        else:
            # Blocked only if max_attempts allowed attempts really are inside the window.
            assert sum(1 for a in allowed if a > now - window) >= max_attempts
    for t in allowed:  # the window ending at each allowed attempt, as the limiter defines it
        assert sum(1 for a in allowed if t - window < a <= t) <= max_attempts
