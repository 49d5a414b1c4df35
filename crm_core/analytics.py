"""CRM analytics queries (the SQL behind reports/crm.py); each returns plain tuples.

- pipeline_sync: open and closed opportunities by stage: count, amount, amount x probability.
- forecast: crm_core.sales.forecast_sync (open opportunities by month of expected close).
- customer_revenue_sync: paid order revenue per customer in [start, end) (the 80/20 curve).
- not_contacted_sync: customers (stage 'customer') with no interaction since `since`.
- vip_open_tickets_sync: customers of the given tiers with open or pending tickets.
- tickets_sync: tickets created in [start, end) with their first resolution time (from the
  ticket history) and escalation, for SLA compliance.
- lead_funnel_sync: leads per campaign and lead list (source) by status, and how many of their
  customers became customers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from crm_core.db import Database
from crm_core.models import ForecastMonth
from crm_core.sales import forecast_sync


def pipeline_sync(conn: sqlite3.Connection) -> list[tuple[str, int, int, float]]:
    cur = conn.execute(
        "SELECT stage, COUNT(*), COALESCE(SUM(amount_cents), 0), "
        "COALESCE(SUM(amount_cents * probability), 0) FROM opportunities GROUP BY stage")
    return [(r[0], int(r[1]), int(r[2]), float(r[3])) for r in cur]


def customer_revenue_sync(conn: sqlite3.Connection, start: float, end: float
                          ) -> list[tuple[int, int]]:
    """(customer id, revenue cents) for every customer, 0 for those without paid orders."""
    cur = conn.execute(
        "SELECT c.id, COALESCE(SUM(o.total_cents), 0) FROM customers c "
        "LEFT JOIN orders o ON o.customer_id = c.id AND o.status = 'paid' "
        "AND o.ordered_at >= ? AND o.ordered_at < ? GROUP BY c.id", (start, end))
    return [(int(r[0]), int(r[1])) for r in cur]


def not_contacted_sync(conn: sqlite3.Connection, since: float, limit: int
                       ) -> list[tuple[int, str, str, float, float | None]]:
    """(id, name, tier, value score, last contact or None), most valuable first."""
    cur = conn.execute(
        "SELECT c.id, c.name, c.tier, c.value_score, MAX(i.created_at) AS last FROM customers c "
        "LEFT JOIN interactions i ON i.customer_id = c.id WHERE c.stage = 'customer' "
        "GROUP BY c.id HAVING last IS NULL OR last < ? "
        "ORDER BY c.value_score DESC, c.id LIMIT ?", (since, limit))
    return [(int(r[0]), r[1], r[2], float(r[3]), r[4]) for r in cur]


def vip_open_tickets_sync(conn: sqlite3.Connection, tiers: Sequence[str], limit: int
                          ) -> list[tuple[int, str, str, float, int, int, float]]:
    """(id, name, tier, value score, open tickets, escalated among them, earliest due)."""
    marks = ", ".join("?" * len(tiers))
    cur = conn.execute(
        "SELECT c.id, c.name, c.tier, c.value_score, COUNT(t.id), SUM(t.escalated), "
        "MIN(t.due_at) FROM customers c JOIN tickets t ON t.customer_id = c.id "
        f"WHERE c.tier IN ({marks}) AND t.status IN ('open', 'pending') "  # noqa: S608
        "GROUP BY c.id ORDER BY c.value_score DESC, c.id LIMIT ?", (*tiers, limit))
    return [(int(r[0]), r[1], r[2], float(r[3]), int(r[4]), int(r[5]), float(r[6]))
            for r in cur]


def tickets_sync(conn: sqlite3.Connection, start: float, end: float
                 ) -> list[tuple[str, str, str, float, float, float | None, int, float | None]]:
    """(priority, category, status, created, due, first resolved/closed time or None,
    escalated, escalated_at) of tickets created in [start, end)."""
    cur = conn.execute(
        "SELECT t.priority, t.category, t.status, t.created_at, t.due_at, "
        "(SELECT MIN(h.at) FROM ticket_history h WHERE h.ticket_id = t.id AND h.field = "
        "'status' AND h.new_value IN ('resolved', 'closed')), t.escalated, t.escalated_at "
        "FROM tickets t WHERE t.created_at >= ? AND t.created_at < ?", (start, end))
    return [(r[0], r[1], r[2], float(r[3]), float(r[4]), r[5], int(r[6]), r[7]) for r in cur]


def lead_funnel_sync(conn: sqlite3.Connection
                     ) -> list[tuple[str, str, str, int, int, int]]:
    """(campaign, lead list, status, leads, attempts, leads whose customer is a customer)."""
    cur = conn.execute(
        "SELECT cp.name, ll.name, l.status, COUNT(*), SUM(l.attempts), "
        "SUM(CASE WHEN c.stage = 'customer' THEN 1 ELSE 0 END) FROM leads l "
        "JOIN lead_lists ll ON ll.id = l.list_id JOIN campaigns cp ON cp.id = ll.campaign_id "
        "LEFT JOIN customers c ON c.id = l.customer_id GROUP BY cp.name, ll.name, l.status")
    return [(r[0], r[1], r[2], int(r[3]), int(r[4] or 0), int(r[5] or 0)) for r in cur]


def pipeline_by_team_sync(conn: sqlite3.Connection) -> list[tuple[str, str, int, int, float]]:
    """(owner's team name, "" when none; stage; count; amount; amount x probability)."""
    cur = conn.execute(
        "SELECT COALESCE(t.name, ''), o.stage, COUNT(*), COALESCE(SUM(o.amount_cents), 0), "
        "COALESCE(SUM(o.amount_cents * o.probability), 0) FROM opportunities o "
        "LEFT JOIN users u ON u.id = o.owner_user_id LEFT JOIN teams t ON t.id = u.team_id "
        "GROUP BY 1, 2")
    return [(r[0], r[1], int(r[2]), int(r[3]), float(r[4])) for r in cur]


def ticket_teams_sync(conn: sqlite3.Connection, start: float, end: float
                      ) -> list[tuple[str, str, str, str, float, float, float | None, int,
                                      float | None]]:
    """tickets_sync's rows with the owner's team name ("" when none) in front."""
    cur = conn.execute(
        "SELECT COALESCE(tm.name, ''), t.priority, t.category, t.status, t.created_at, "
        "t.due_at, (SELECT MIN(h.at) FROM ticket_history h WHERE h.ticket_id = t.id AND "
        "h.field = 'status' AND h.new_value IN ('resolved', 'closed')), t.escalated, "
        "t.escalated_at FROM tickets t LEFT JOIN users u ON u.id = t.owner_user_id "
        "LEFT JOIN teams tm ON tm.id = u.team_id WHERE t.created_at >= ? AND t.created_at < ?",
        (start, end))
    return [(r[0], r[1], r[2], r[3], float(r[4]), float(r[5]), r[6], int(r[7]), r[8])
            for r in cur]


class AnalyticsRepo:
    """Async face of the analytics queries (`crm.analytics`); reads run on the scan thread."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def pipeline_by_team(self) -> list[tuple[str, str, int, int, float]]:
        return await self._db.scan(pipeline_by_team_sync)

    async def ticket_teams(self, start: float, end: float
                           ) -> list[tuple[str, str, str, str, float, float, float | None, int,
                                           float | None]]:
        return await self._db.scan(ticket_teams_sync, start, end)

    async def pipeline(self) -> list[tuple[str, int, int, float]]:
        return await self._db.scan(pipeline_sync)

    async def forecast(self, start: float, end: float) -> tuple[ForecastMonth, ...]:
        return await self._db.scan(forecast_sync, start, end)

    async def customer_revenue(self, start: float, end: float) -> list[tuple[int, int]]:
        return await self._db.scan(customer_revenue_sync, start, end)

    async def not_contacted(self, since: float, limit: int
                            ) -> list[tuple[int, str, str, float, float | None]]:
        return await self._db.scan(not_contacted_sync, since, limit)

    async def vip_open_tickets(self, tiers: Sequence[str], limit: int
                               ) -> list[tuple[int, str, str, float, int, int, float]]:
        return await self._db.scan(vip_open_tickets_sync, tiers, limit)

    async def tickets(self, start: float, end: float
                      ) -> list[tuple[str, str, str, float, float, float | None, int,
                                      float | None]]:
        return await self._db.scan(tickets_sync, start, end)

    async def lead_funnel(self) -> list[tuple[str, str, str, int, int, int]]:
        return await self._db.scan(lead_funnel_sync)
