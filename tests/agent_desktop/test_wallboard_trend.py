"""The wallboard's trend of the day (pure): one point per queue per minute, bounded, reset at the
centre's midnight, each closed minute handed out once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_desktop.wallboard_trend import POINTS_PER_DAY, TrendBook, TrendPoint, local_day

DAY0 = 1_789_948_800.0  # 2026-09-21 00:00 UTC


@dataclass(frozen=True)
class Row:
    queue: str
    waiting: int
    service_level: float | None


samples = st.lists(
    st.tuples(st.floats(min_value=-90, max_value=400),  # seconds since the previous sample
              st.sampled_from(["support", "sales"]), st.integers(0, 50),
              st.none() | st.floats(0, 1)),
    max_size=120)


@settings(max_examples=150, deadline=None)
@given(start=st.floats(0, 86_399), steps=samples)
def test_points_are_minutes_of_the_day_each_closed_once_with_the_peak(
        start: float, steps: list[tuple[float, str, int, float | None]]) -> None:
    book = TrendBook(UTC)
    now = DAY0 + start
    closed: list[TrendPoint] = []
    peaks: dict[tuple[str, float], int] = {}
    last_minute: dict[str, float] = {}
    for dt, queue, waiting, sl in steps:
        now += dt
        if local_day(now, UTC) != book.day:
            peaks, last_minute, closed = {}, {}, []
        minute = now - now % 60
        if minute >= last_minute.get(queue, minute):  # a clock stepped back adds nothing
            last_minute[queue] = minute
            peaks[queue, minute] = max(peaks.get((queue, minute), 0), waiting)
        closed += book.observe(now, [Row(queue, waiting, sl)])
    series = book.series(now)
    for queue, s in series["queues"].items():
        ts = s["t"]
        assert ts == sorted(set(ts)) and len(ts) <= POINTS_PER_DAY
        assert all(t % 60 == 0 and local_day(t, UTC) == series["day"] for t in ts)
        assert s["waiting"] == [peaks[queue, t] for t in ts]
        # Every minute but the open one was handed out once, as it stands in the series.
        mine = [p for p in closed if p.queue == queue and p.day == series["day"]]
        assert [p.t for p in mine] == ts[:-1]
        assert [p.waiting for p in mine] == s["waiting"][:-1]


def test_the_series_starts_afresh_at_the_centres_midnight() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")  # UTC+8: its midnight is 16:00 UTC
    book = TrendBook(shanghai)
    before = DAY0 + 15 * 3600 + 59 * 60  # 23:59 in Shanghai
    book.observe(before, [Row("ALL", 3, 0.9)])
    assert book.series(before)["queues"]["ALL"]["t"] == [before]
    after = before + 61
    book.observe(after, [Row("ALL", 1, None)])
    s = book.series(after)
    assert s["day"] == "2026-09-22" and s["queues"]["ALL"] == {
        "t": [after - after % 60], "waiting": [1], "service_level": [None]}
    # A snapshot taken the next day before any sample: an empty new day, not yesterday's.
    assert book.series(after + 86_400)["queues"] == {}


def test_queues_beyond_the_bound_are_not_kept() -> None:
    book = TrendBook(UTC, max_series=2)
    book.observe(DAY0, [Row(q, 1, None) for q in ("a", "b", "c")])
    assert set(book.series(DAY0)["queues"]) == {"a", "b"}
