"""Customer value over SQL: gather each customer's inputs, score them (crm_core.value), store
score and tier on the customer row, and keep the scales/cut-offs of the last full recompute."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from config.crm import CrmSettings
from crm_core import value
from crm_core.customers import CUSTOMERS
from crm_core.models import Customer, ValueRecompute
from crm_core.repo import get_row

_YEAR = 365 * 86400.0

_INPUTS_SQL = """
SELECT c.id, c.created_at, COALESCE(o.revenue, 0), COALESCE(o.n, 0),
       COALESCE((SELECT SUM(p.amount_cents * p.probability) FROM opportunities p
                 WHERE p.customer_id = c.id AND p.stage NOT IN ('won', 'lost')), 0)
FROM customers c,
     (SELECT SUM(total_cents) AS revenue, COUNT(*) AS n FROM orders
      WHERE customer_id = :id AND status != 'cancelled' AND ordered_at >= :since) o
WHERE c.id = :id
"""

# For everyone: aggregate each table once instead of two correlated sub-queries per customer.
_ALL_INPUTS_SQL = """
SELECT c.id, c.created_at, COALESCE(o.revenue, 0), COALESCE(o.n, 0), COALESCE(p.pipeline, 0)
FROM customers c
LEFT JOIN (SELECT customer_id, SUM(total_cents) AS revenue, COUNT(*) AS n FROM orders
           WHERE status != 'cancelled' AND ordered_at >= :since GROUP BY customer_id) o
       ON o.customer_id = c.id
LEFT JOIN (SELECT customer_id, SUM(amount_cents * probability) AS pipeline FROM opportunities
           WHERE stage NOT IN ('won', 'lost') GROUP BY customer_id) p
       ON p.customer_id = c.id
"""


def _inputs(rows: Iterator[tuple[int, float, float, int, float]], now: float
            ) -> list[value.ValueInputs]:
    return [
        value.ValueInputs(cid, float(rev), int(n), value.tenure_days(created, now), float(pipe))
        for cid, created, rev, n, pipe in rows
    ]


def recompute_all(conn: sqlite3.Connection, settings: CrmSettings, now: float) -> ValueRecompute:
    inputs = _inputs(conn.execute(_ALL_INPUTS_SQL, {"since": now - _YEAR}), now)
    scales = value.scales_for(inputs)
    scores = [(i.customer_id, value.score(i, scales, settings.value_weights)) for i in inputs]
    tiering = value.assign_tiers(scores, settings.tiers)
    conn.executemany(
        "UPDATE customers SET value_score = ?, tier = ? WHERE id = ?",
        ((s, tiering.tiers[cid], cid) for cid, s in scores),
    )
    cut = tiering.cutoffs
    conn.execute(
        "INSERT OR REPLACE INTO value_state (id, computed_at, customers, revenue_max, orders_max,"
        " tenure_max, pipeline_max, platinum_min, gold_min, silver_min)"
        " VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (now, len(scores), scales.revenue, scales.orders, scales.tenure, scales.pipeline,
         _finite(cut.platinum), _finite(cut.gold), _finite(cut.silver)),
    )
    return ValueRecompute(len(scores), _none_if_inf(cut.platinum), _none_if_inf(cut.gold),
                          _none_if_inf(cut.silver), now)


def load_state(conn: sqlite3.Connection) -> tuple[value.Scales, value.Cutoffs] | None:
    row = conn.execute(
        "SELECT revenue_max, orders_max, tenure_max, pipeline_max, platinum_min, gold_min,"
        " silver_min FROM value_state WHERE id = 1"
    ).fetchone()
    if row is None:
        return None
    return (value.Scales(*row[:4]),
            value.Cutoffs(_infinite(row[4]), _infinite(row[5]), _infinite(row[6])))


def rescore_customer(
    conn: sqlite3.Connection, customer_id: int, settings: CrmSettings, now: float
) -> Customer:
    """Rescore one customer on the stored scales; tier it against the stored cut-offs.

    With no full recompute yet there are no cut-offs, so this runs the full recompute.
    """
    state = load_state(conn)
    if state is None:
        recompute_all(conn, settings, now)
        return get_row(conn, CUSTOMERS, customer_id)
    scales, cutoffs = state
    found = _inputs(conn.execute(_INPUTS_SQL, {"since": now - _YEAR, "id": customer_id}), now)
    if not found:
        return get_row(conn, CUSTOMERS, customer_id)  # raises NotFound
    s = value.score(found[0], scales, settings.value_weights)
    conn.execute(
        "UPDATE customers SET value_score = ?, tier = ? WHERE id = ?",
        (s, value.tier_for_score(s, cutoffs), customer_id),
    )
    return get_row(conn, CUSTOMERS, customer_id)


# SQLite REAL has no infinity literal round-trip guarantee across drivers; store a sentinel.
_INF_SENTINEL = 1e308


def _finite(x: float) -> float:
    return _INF_SENTINEL if x == float("inf") else x


def _none_if_inf(x: float) -> float | None:
    return None if x == float("inf") else x


def _infinite(x: float) -> float:
    return float("inf") if x >= _INF_SENTINEL else x
