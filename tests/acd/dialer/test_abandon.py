"""Rolling abandon windows: counts, eviction on the safe side, budgets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.dialer.abandon import AbandonTracker, RollingCounter, WindowCounts
from acd.dialer.errors import InvalidPacing


def test_counts_and_rate_over_both_windows() -> None:
    t = AbandonTracker()
    for i in range(97):
        t.live_answer(1000.0 + i)
    for i in range(3):
        t.abandon(2000.0 + i)
    w24, w30 = t.snapshot(3000.0)
    assert (w24.name, w24.live, w24.abandoned) == ("24h", 100, 3)
    assert w24.rate == pytest.approx(0.03) and w30.rate == pytest.approx(0.03)
    assert w24.budget(0.03) == 0
    # A day later the 24 h window has forgotten them; 30 days still remembers.
    w24, w30 = t.snapshot(1000.0 + 86_400 + 3_700)
    assert (w24.live, w24.abandoned) == (0, 0) and (w30.live, w30.abandoned) == (100, 3)


def test_straddling_bucket_counts_abandons_but_not_live_answers() -> None:
    c = RollingCounter(600.0, 60.0)
    c.add(30.0, live=10)
    c.add(40.0, live=1, abandoned=1)
    c.add(200.0, live=5)
    w = c.counts("w", 630.0)  # window (30, 630]: the first bucket [0, 60) straddles the edge
    assert (w.live, w.abandoned) == (5, 1)
    w = c.counts("w", 660.0)  # bucket [0, 60) is now wholly out
    assert (w.live, w.abandoned) == (5, 0)


def test_lookahead_drops_live_answers_that_will_age_out() -> None:
    c = RollingCounter(600.0, 60.0)
    c.add(100.0, live=10)
    c.add(500.0, live=10)
    assert c.counts("w", 650.0).live == 20
    assert c.counts("w", 650.0, lookahead_s=60.0).live == 10


def test_late_event_is_booked_not_lost() -> None:
    c = RollingCounter(600.0, 60.0)
    c.add(300.0, live=1)
    c.add(100.0, live=1, abandoned=1)
    w = c.counts("w", 310.0)
    assert (w.live, w.abandoned) == (2, 1)


def test_empty_window_with_abandons_has_full_rate_and_no_budget() -> None:
    w = WindowCounts("24h", 0, 1)
    assert w.rate == 1.0 and w.budget(0.03) == 0
    assert WindowCounts("24h", 0, 0).rate == 0.0


@pytest.mark.parametrize("args", [(0.0, 1.0), (10.0, 20.0), (float("nan"), 1.0), (10.0, -1.0)])
def test_bad_windows_are_refused(args: tuple[float, float]) -> None:
    with pytest.raises(InvalidPacing):
        RollingCounter(*args)


def test_bad_counts_are_refused() -> None:
    c = RollingCounter(600.0, 60.0)
    with pytest.raises(InvalidPacing):
        c.add(1.0, live=-1)
    with pytest.raises(InvalidPacing):
        c.add(float("inf"), live=1)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 5000), st.booleans()), max_size=200), st.floats(0, 6000))
def test_never_more_generous_than_the_exact_window(events, now) -> None:  # type: ignore[no-untyped-def]
    events = sorted(events)
    c = RollingCounter(600.0, 60.0)
    for t, ab in events:
        c.add(t, live=1, abandoned=int(ab))
    now = max(now, events[-1][0]) if events else now
    w = c.counts("w", now)
    exact_live = sum(1 for t, _ in events if now - 600 < t <= now)
    exact_ab = sum(1 for t, ab in events if ab and now - 600 < t <= now)
    assert w.live <= exact_live and w.abandoned >= exact_ab
    assert w.budget(0.03) <= max(0, int(0.03 * exact_live + 1e-9) - exact_ab)
