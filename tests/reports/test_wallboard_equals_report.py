"""The live wallboard (engine.report, acd/stats.py) and the historical report computed from the
persisted event log agree, figure by figure, for the same simulated day."""

from __future__ import annotations

from datetime import UTC

import pytest

from acd.history_writer import queue_limits
from crm_core.history import (
    agent_intervals_sync,
    events_sync,
    queue_intervals_sync,
    repeated_calls_sync,
)
from reports.agents import agent_performance
from reports.inbound import inbound_summary, intervals_from_events
from tests.reports.simday import EPOCH, day_settings, persist, simulate_day

FIELDS = [("entered", "offered"), ("answered", "answered"),
          ("answered_within_sl", "answered_within_sl"), ("abandoned", "abandoned"),
          ("abandoned_short", "abandoned_short"), ("overflowed_out", "overflowed_out"),
          ("handled", "handled"), ("callbacks_requested", "callbacks")]
RATIOS = ["service_level", "service_level_excl_short", "asa_s", "aht_s", "abandon_rate",
          "avg_time_to_abandon_s"]


@pytest.fixture(scope="module")
def day():  # type: ignore[no-untyped-def]
    return simulate_day()


def test_the_day_exercises_every_outcome(day) -> None:  # type: ignore[no-untyped-def]
    kinds = {e.kind for e in day.events}
    assert {"entered", "offered", "answered", "abandoned", "rona", "overflow", "callback",
            "callback_offered", "ended", "handled", "agent_state"} <= kinds
    today = day.engine.report(day.end, 0.0)[-1].today
    assert today.answered > 500 and today.abandoned > 20 and today.abandoned_short > 0
    assert today.overflowed_out > 0 and today.callbacks_requested > 0


def test_report_from_the_log_equals_the_wallboard(day) -> None:  # type: ignore[no-untyped-def]
    conn = persist(day.events, day_settings())
    rows = queue_intervals_sync(conn, EPOCH, EPOCH + 86400)
    report = {r.queue: r for r in inbound_summary(rows, interval="total", tz=UTC,
                                                   start=EPOCH, end=EPOCH + 86400)}
    live = day.engine.report(day.end, 0.0)
    assert {r.queue for r in live} == set(report)
    for q in live:
        r = report[q.queue]
        for live_name, rep_name in FIELDS:
            assert getattr(q.today, live_name) == getattr(r, rep_name), (q.queue, live_name)
        for name in RATIOS:
            assert getattr(r, name) == pytest.approx(getattr(q.today, name), rel=1e-9), name


def test_the_aggregate_equals_the_raw_log(day) -> None:  # type: ignore[no-untyped-def]
    """Hourly figures from the 15-minute tables equal the same report recomputed from the raw
    event rows (what the benchmark's baseline does)."""
    conn = persist(day.events, day_settings(), batches=3)
    agg = inbound_summary(queue_intervals_sync(conn, EPOCH, EPOCH + 86400), interval="hour",
                          tz=UTC, start=EPOCH, end=EPOCH + 86400)
    raw_rows = intervals_from_events(events_sync(conn, EPOCH, EPOCH + 86400),
                                     queue_limits(day_settings()),
                                     repeated_calls_sync(conn, EPOCH, EPOCH + 86400))
    raw = inbound_summary(raw_rows, interval="hour", tz=UTC, start=EPOCH, end=EPOCH + 86400)
    assert len(agg) == len(raw) > 10
    for a, b in zip(agg, raw, strict=True):
        assert a.period == b.period and a.queue == b.queue
        assert (a.offered, a.answered, a.abandoned, a.handled, a.first_call_resolution) == (
            b.offered, b.answered, b.abandoned, b.handled, b.first_call_resolution)
        assert a.asa_s == pytest.approx(b.asa_s, rel=1e-9)


def test_agents_calls_today_on_the_wallboard_equal_the_report(day) -> None:  # type: ignore[no-untyped-def]
    """The wallboard's agent rows show each agent's calls today (the engine's count of
    answers, agent_desktop/hub/stats.py calls_handled); agent_performance's `answered` for the
    same day, from the log, is the same number."""
    conn = persist(day.events, day_settings())
    perf = {r.agent: r for r in agent_performance(
        agent_intervals_sync(conn, EPOCH, EPOCH + 86400), [], interval="total", tz=UTC,
        start=EPOCH, end=EPOCH + 86400)}
    agents = day.engine.agents()
    assert len(agents) > 5 and sum(a.calls_today for a in agents) > 500
    for a in agents:
        assert a.calls_today == (perf[a.agent_id].answered if a.agent_id in perf else 0), \
            a.agent_id
