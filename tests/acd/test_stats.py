"""Queue statistics: window vs today, service level variants, ASA/AHT, agents by state."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.erlang import agents_needed
from acd.errors import UnknownQueue
from acd.model import AgentState
from acd.stats import ALL, QueueStats
from tests.acd.helpers import call, engine, login, queue


def qstats(window_s: float = 900.0) -> QueueStats:
    return QueueStats([queue("support", service_level_s=20, short_abandon_s=5),
                       queue("sales", service_level_s=30)], window_s=window_s)


def test_service_level_variants_asa_abandon_rate() -> None:
    s = qstats()
    s.call_answered("support", 10, 100)   # within 20 s
    s.call_answered("support", 30, 101)   # late
    s.call_abandoned("support", 3, 102)   # short abandon
    s.call_abandoned("support", 40, 103)
    p = s.window("support", 110)
    assert (p.answered, p.answered_within_sl, p.abandoned, p.abandoned_short) == (2, 1, 2, 1)
    assert p.service_level == pytest.approx(1 / 4)
    assert p.service_level_excl_short == pytest.approx(1 / 3)
    assert p.asa_s == pytest.approx(20.0)
    assert p.abandon_rate == pytest.approx(0.5)
    assert p.avg_time_to_abandon_s == pytest.approx(21.5)


def test_per_queue_threshold_and_overall() -> None:
    s = qstats()
    s.call_answered("sales", 25, 10)  # within sales' 30 s, not support's 20 s
    s.call_answered("support", 25, 10)
    assert s.window("sales", 11).service_level == 1.0
    assert s.window("support", 11).service_level == 0.0
    assert s.window(ALL, 11).service_level == 0.5


def test_window_slides_but_today_keeps() -> None:
    s = qstats(window_s=900)
    s.call_answered("support", 5, 1000)
    s.call_handled("support", 200, 1000)
    s.call_answered("support", 50, 1800)
    w = s.window("support", 1950)  # the first answer is 950 s old
    assert (w.answered, w.asa_s) == (1, 50.0)
    t = s.today("support", 1950, day_start=0)
    assert (t.answered, t.asa_s, t.handled, t.aht_s) == (2, 27.5, 1, 200.0)


def test_day_boundary_drops_yesterday() -> None:
    s = qstats()
    s.call_answered("support", 5, 86_000)
    s.call_answered("support", 5, 86_500)
    assert s.today("support", 86_500, day_start=0).answered == 2
    assert s.today("support", 86_500, day_start=86_400).answered == 1


def test_unknown_queue_refused() -> None:
    with pytest.raises(UnknownQueue):
        qstats().call_entered("nope", 1)


def test_estimated_wait_uses_window_aht() -> None:
    s = qstats()
    assert s.estimated_wait("support", 3, 2, 10) == pytest.approx(3 * 180 / 2)
    s.call_handled("support", 100, 10)
    s.call_handled("support", 300, 11)
    assert s.estimated_wait("support", 3, 2, 12) == pytest.approx(3 * 200 / 2)


def test_agents_needed_from_window_load() -> None:
    s = qstats(window_s=3600)
    for i in range(100):  # 100 calls in the last hour, AHT 180 s: 5 Erlangs
        s.call_entered("support", float(i))
        s.call_handled("support", 180, float(i))
    assert s.agents_needed("support", 100) == agents_needed(5.0, 180, 20, 0.8) == 8
    assert s.agents_needed("sales", 100) is None


@given(st.lists(st.tuples(st.floats(0, 5000), st.floats(0, 120), st.booleans()), max_size=40))
def test_window_equals_recount(events: list[tuple[float, float, bool]]) -> None:
    s = qstats(window_s=600)
    events = sorted(events)
    for t, wait, answered in events:
        if answered:
            s.call_answered("support", wait, t)
        else:
            s.call_abandoned("support", wait, t)
    now = events[-1][0] if events else 0.0
    recent = [(t, w, a) for t, w, a in events if t >= now - 600]
    p = s.window("support", now)
    assert p.answered == sum(1 for _, _, a in recent if a)
    assert p.abandoned == sum(1 for _, _, a in recent if not a)
    assert p.answered_within_sl == sum(1 for _, w, a in recent if a and w <= 20)


def test_engine_report_live_picture() -> None:
    e = engine(queue("support"), queue("sales"))
    login(e, "a1", 0, queues=("support",))
    login(e, "a2", 0, queues=("support", "sales"), skills={"support": 3, "sales": 3})
    e.agent_pause("a2", "lunch", 10)
    call(e, "c1", 20)  # -> a1
    call(e, "c2", 30)
    call(e, "c3", 40, queue="sales")
    reports = {r.queue: r for r in e.report(100, 0)}
    sup = reports["support"]
    assert (sup.waiting, sup.longest_wait_s, sup.staffed) == (1, 70.0, 1)
    states = {a.state: a for a in sup.agents}
    assert states[AgentState.RESERVED].count == 1
    assert states[AgentState.RESERVED].total_time_s == 80.0
    assert states[AgentState.PAUSED].longest_s == 90.0
    assert reports["sales"].waiting == 1
    overall = reports[ALL]
    assert (overall.waiting, overall.longest_wait_s) == (2, 70.0)
    assert overall.today.entered == 3
    assert overall.arrival_rate_per_h == pytest.approx(3 * 3600 / 900)


def test_engine_feeds_asa_aht_with_wrapup_and_service_level() -> None:
    e = engine(queue("support", wrapup_s=60, service_level_s=20))
    login(e, "a1", 0)
    call(e, "c1", 0)
    e.offer_answered("c1", 10)  # waited 10 s: within 20 s
    e.call_ended("c1", 40)  # talk 30 s
    e.agent_end_wrapup("a1", 45)  # wrap-up 5 s
    call(e, "c2", 50)
    e.offer_answered("c2", 80)  # waited 30 s: late
    sup = next(r for r in e.report(100, 0) if r.queue == "support")
    w = sup.window
    assert (w.answered, w.answered_within_sl, w.handled) == (2, 1, 1)
    assert (w.asa_s, w.aht_s, w.service_level) == (20.0, 35.0, 0.5)


def test_long_run_folds_and_compacts_without_losing_counts() -> None:
    # Thousands of outcomes with no read in between: recording folds and compacts its log on its
    # own; the window and today must still equal a recount.
    s = qstats(window_s=600)
    n = 5000
    for i in range(n):
        t = float(i)
        s.call_entered("support" if i % 3 else "sales", t)
        s.call_answered("support", float(i % 40), t)
    now = float(n - 1)
    w = s.window("support", now)
    recent = [i for i in range(n) if i >= now - 600]
    assert w.answered == len(recent)
    assert w.answered_within_sl == sum(1 for i in recent if i % 40 <= 20)
    assert w.entered == sum(1 for i in recent if i % 3)
    assert s.window(ALL, now).entered == len(recent)
    assert s.today("support", now, day_start=1000).answered == n - 1000
    assert s.today("support", now, day_start=4000).answered == n - 4000
    # Compacted: outcomes that aged out of both periods are not kept.
    assert len(s._log) == 2 * (n - 4000)


def test_transfers_are_counted_per_queue_and_overall() -> None:
    s = qstats(window_s=100.0)
    s.call_transferred("support", 10.0)
    s.call_transferred("support", 20.0)
    assert (s.window("support", 20.0).transferred, s.window(ALL, 20.0).transferred) == (2, 2)
    assert s.window("support", 115.0).transferred == 1  # the first aged out of the window
    assert s.today("support", 115.0, 0.0).transferred == 2
    with pytest.raises(UnknownQueue):
        s.call_transferred("nope", 30.0)
