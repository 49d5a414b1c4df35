"""Invariants of the outbound and IVR reports over random attempt histories (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from acd.history import interval_deltas, ivr_outcome_event
from crm_core.history import DialerSum, HistoryEvent, IvrInterval
from reports.ivr import OUTCOMES, ivr_exits, ivr_summary
from reports.outbound import outbound_hours, outbound_summary, sums_from_attempts

D = 1_700_006_400.0
RESULTS = ["connected", "abandoned", "machine", "busy", "no_answer", "invalid", "failed",
           "refused"]

attempts = st.lists(st.tuples(
    st.floats(0, 3 * 86400 - 1), st.sampled_from(["a", "b", "c"]), st.sampled_from(RESULTS),
    st.sampled_from(["", "x", "y"]), st.booleans()), max_size=60)


def rows_of(raw: list[tuple[float, str, str, str, bool]]) -> list[DialerSum]:
    out = [(HistoryEvent(D + t, "dialer_attempt", queue=c, reason=r,
                         agent=a if r == "connected" else "", wait_s=1.0), conv)
           for t, c, r, a, conv in raw]
    return sums_from_attempts(sorted(out, key=lambda x: x[0].at))


@settings(max_examples=60, deadline=None)
@given(attempts)
def test_outbound_counts_add_up_across_groups_and_intervals(raw: list) -> None:  # type: ignore[type-arg]
    rows = rows_of(raw)
    end = D + 3 * 86400
    for by in ("campaign", "agent"):
        total = outbound_summary(rows, interval="total", tz=UTC, start=D, end=end, by=by)
        lines = {r.group: r for r in total}
        for r in total:
            assert r.attempts == r.live + r.machine + r.busy + r.no_answer + r.other
            assert r.live == r.connected + r.abandoned and r.conversions <= r.connected
        if lines:
            groups = [r for g, r in lines.items() if g != ""]
            for name in ("attempts", "live", "conversions", "refused"):
                assert getattr(lines[""], name) == sum(getattr(r, name) for r in groups)
    hourly = outbound_summary(rows, interval="hour", tz=UTC, start=D, end=end)
    daily = outbound_summary(rows, interval="day", tz=UTC, start=D, end=end)
    for name in ("attempts", "live", "abandoned", "conversions", "refused"):
        assert sum(getattr(r, name) for r in hourly if r.group == "") == \
            sum(getattr(r, name) for r in daily if r.group == "")
    hours = outbound_hours(rows, tz=UTC, start=D, end=end)
    assert sum(r.attempts for r in hours if r.campaign == "") == \
        sum(r.attempts for r in daily if r.group == "")


ivr_rows = st.lists(st.tuples(
    st.floats(0, 2 * 86400 - 1), st.sampled_from(["support", "sales"]), st.sampled_from(OUTCOMES),
    st.lists(st.sampled_from(["identify", "main", "to_agent", "goodbye"]), min_size=1,
             max_size=4), st.floats(0, 300)), max_size=60)


def test_sqlite_sums_equal_the_python_sums() -> None:
    """dialer_sums_sync (SQLite GROUP BY with the disposition join) against sums_from_attempts."""
    import random
    import sqlite3

    from crm_core import schema
    from crm_core.history import IntervalDeltas, append_sync, dialer_sums_sync

    rng = random.Random(3)
    conn = sqlite3.connect(":memory:", isolation_level=None)
    schema.configure(conn)
    schema.migrate(conn, 0.0)
    rows = []
    for i in range(400):
        r = rng.choice(RESULTS)
        e = HistoryEvent(D + rng.uniform(0, 86400), "dialer_attempt", queue=rng.choice("12"),
                         call_id=f"c{i}", reason=r,
                         agent=rng.choice("xyz") if r == "connected" else "",
                         wait_s=rng.uniform(0, 2) if r == "connected" else None)
        sale = r == "connected" and rng.random() < 0.4
        if r == "connected":
            conn.execute("INSERT INTO interactions (call_id, disposition) VALUES (?, ?)",
                         (e.call_id, "sale" if sale else "follow-up"))
        rows.append((e, sale))
    rows.sort(key=lambda x: x[0].at)
    conn.execute("BEGIN")
    append_sync(conn, [e for e, _ in rows], IntervalDeltas(), 0.0)
    conn.execute("COMMIT")
    got = dialer_sums_sync(conn, D, D + 86400, ["sale"])
    _same_sums(got, sums_from_attempts(rows))
    assert sum(s.conversions for s in got) == sum(1 for _, sale in rows if sale) > 0
    assert len({s.agent for s in got}) == 4  # "", x, y, z
    # Summed over the agents (figures per campaign): the same as the rows without agents,
    # fewer sums, and the same campaign report.
    flat = dialer_sums_sync(conn, D, D + 86400, ["sale"], by_agent=False)
    _same_sums(flat, sums_from_attempts([(replace(e, agent=""), sale) for e, sale in rows]))
    assert len(flat) < len(got)
    kw: dict[str, Any] = {"interval": "hour", "tz": UTC, "start": D, "end": D + 86400}
    assert outbound_summary(flat, **kw) == outbound_summary(got, **kw)
    assert outbound_hours(flat, tz=UTC, start=D, end=D + 86400) == outbound_hours(
        got, tz=UTC, start=D, end=D + 86400)


def _same_sums(got: list[DialerSum], want: list[DialerSum]) -> None:
    g = sorted(got, key=lambda s: (s.start, s.campaign, s.agent, s.result))
    w = sorted(want, key=lambda s: (s.start, s.campaign, s.agent, s.result))
    assert [(a.start, a.campaign, a.agent, a.result, a.attempts, a.conversions) for a in g] == \
        [(b.start, b.campaign, b.agent, b.result, b.attempts, b.conversions) for b in w]
    assert all(abs(a.wait_s - b.wait_s) < 1e-9 for a, b in zip(g, w, strict=True))


@settings(max_examples=60, deadline=None)
@given(ivr_rows)
def test_ivr_intervals_keep_every_call(raw: list) -> None:  # type: ignore[type-arg]
    events = [ivr_outcome_event(at=D + t, menu="main", queue=q, outcome=o, path=p, seconds=s)
              for t, q, o, p, s in raw]
    d = interval_deltas(events, {})
    rows = [IvrInterval(k[0], k[1], k[2], k[3], k[4], int(v[0]), v[1])
            for k, v in d.ivr.items()]
    end = D + 2 * 86400
    summary = ivr_summary(rows, interval="day", tz=UTC, start=D, end=end)
    total = sum(r.calls for r in summary if r.queue == "")
    assert total == len(events)
    for r in summary:
        assert r.calls == sum(getattr(r, o) for o in OUTCOMES)
    exits = ivr_exits(rows, start=D, end=end)
    assert sum(e.calls for e in exits) == len(events)
    left = {}
    for t, q, o, p, s in raw:
        left[(p[-1], o)] = left.get((p[-1], o), 0) + 1
    assert {(e.node, e.outcome): e.calls for e in exits} == left
