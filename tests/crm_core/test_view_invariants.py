"""Invariants of the screen-pop aggregation, on the synchronous core over an in-memory file."""

from __future__ import annotations

import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_core import schema, view
from crm_core.db import run_read

from .conftest import T0

DEPTS = ("hardware", "software", "services")
order_st = st.tuples(st.sampled_from(DEPTS), st.sampled_from(("paid", "open", "cancelled")),
                     st.integers(0, 10**9), st.integers(1, 3))
interaction_st = st.floats(T0 - 10**7, T0, allow_nan=False)


@given(st.lists(order_st, max_size=30), st.lists(interaction_st, max_size=25))
@settings(max_examples=60, deadline=None)
def test_view_totals_and_recency(orders: list[tuple[str, str, int, int]],
                                 times: list[float]) -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    schema.migrate(conn, T0)
    for cid in (1, 2, 3):
        conn.execute("INSERT INTO customers (id, kind, name) VALUES (?, 'person', ?)",
                     (cid, f"c{cid}"))
    for dept, status, total, cid in orders:
        conn.execute("INSERT INTO orders (customer_id, department, status, total_cents)"
                     " VALUES (?, ?, ?, ?)", (cid, dept, status, total))
    for i, t in enumerate(times):
        conn.execute("INSERT INTO interactions (customer_id, created_at, call_id)"
                     " VALUES (?, ?, ?)", (1 + i % 2, t, f"c{i}"))
    v = run_read(conn, view.customer_view_sync, 1)
    expected: dict[str, tuple[int, int]] = {}
    for dept, status, total, cid in orders:
        if cid == 1 and status != "cancelled":
            n, s = expected.get(dept, (0, 0))
            expected[dept] = (n + 1, s + total)
    got = {d.department: (d.orders, d.total_cents) for d in v.purchases_by_department}
    assert got == expected
    sums = [d.total_cents for d in v.purchases_by_department]
    assert sums == sorted(sums, reverse=True)
    mine = sorted((t for i, t in enumerate(times) if i % 2 == 0), reverse=True)
    assert [i.created_at for i in v.last_interactions] == mine[: view.LAST_INTERACTIONS]
    assert all(i.customer_id == 1 for i in v.last_interactions)
    conn.close()
