"""Tickets with an SLA due time from the customer's tier, escalation, and a change history."""

from __future__ import annotations

import sqlite3

from common.clock import Clock
from config.crm import CrmSettings
from crm_core import sla
from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.models import (
    OPEN_TICKET_STATUSES,
    TICKET_PRIORITIES,
    TICKET_STATUSES,
    Ticket,
    TicketChange,
)
from crm_core.repo import Repo, TableSpec, check_id, get_row, update_row

TICKETS = TableSpec(
    "tickets", Ticket, ("subject", "category"),
    choices={"priority": TICKET_PRIORITIES, "status": TICKET_STATUSES},
    order_by="due_at",
    immutable=frozenset({"customer_id", "created_at"}),
)
_OPEN = "('open', 'pending')"
assert set(OPEN_TICKET_STATUSES) == {"open", "pending"}


class TicketRepo(Repo[Ticket]):
    def __init__(self, db: Database, clock: Clock, region: str, settings: CrmSettings) -> None:
        super().__init__(db, TICKETS, clock, region)
        self._settings = settings

    async def update(self, row_id: int, by_user_id: int | None = None,  # type: ignore[override]
                     **changes: object) -> Ticket:
        """Change fields; each change is written to the ticket's history as by_user_id."""
        check_id("ticket", row_id)
        return await self._db.write(self._update_by, row_id, dict(changes), self._clock.now(),
                                    by_user_id)

    async def history(self, ticket_id: int) -> tuple[TicketChange, ...]:
        return await self._db.read(_history, ticket_id)

    async def escalate_overdue(self) -> tuple[Ticket, ...]:
        """Escalate every open ticket past its due time; returns those escalated now."""
        return await self._db.write(self._escalate_overdue, self._clock.now())

    # -- database thread ------------------------------------------------------------------------

    def _update_by(self, conn: sqlite3.Connection, row_id: int, changes: dict[str, object],
                   now: float, by_user_id: int | None) -> Ticket:
        old = get_row(conn, TICKETS, row_id)
        new = self._update_sync(conn, row_id, changes, now)
        _record(conn, old, new, now, by_user_id)
        self._check_complaints(conn, new.customer_id, now)
        return get_row(conn, TICKETS, row_id)

    def _prepare(self, conn: sqlite3.Connection, values: dict[str, object], now: float,
                 old: Ticket | None) -> dict[str, object]:
        if old is None:
            if not str(values.get("subject", "")).strip():
                raise ValidationError("subject", "must not be empty", values.get("subject"))
            cid = values.get("customer_id")
            row = conn.execute("SELECT tier FROM customers WHERE id = ?", (cid,)).fetchone()
            if row is None:
                raise ValidationError("customer_id", "no such customer", cid)
            if "due_at" not in values:
                created = values.get("created_at", now)
                assert isinstance(created, int | float)
                values["due_at"] = sla.sla_due(float(created), str(row[0]),
                                               self._settings.sla_hours)
        return values

    def _after(self, conn: sqlite3.Connection, old: Ticket | None, new: Ticket | None,
               now: float) -> None:
        if old is None and new is not None:
            conn.execute(
                "INSERT INTO ticket_history (ticket_id, at, user_id, field, old_value, new_value)"
                " VALUES (?, ?, NULL, 'created', NULL, ?)", (new.id, now, new.status))
            self._check_complaints(conn, new.customer_id, now)

    def _check_complaints(self, conn: sqlite3.Connection, customer_id: int, now: float) -> None:
        ids = [r[0] for r in conn.execute(
            f"SELECT id FROM tickets WHERE customer_id = ? AND category = ? AND status IN {_OPEN}",
            (customer_id, sla.COMPLAINT))]
        for tid in ids:
            t = get_row(conn, TICKETS, tid)
            reason = sla.escalation_reason(
                status=t.status, escalated=t.escalated, category=t.category, due_at=t.due_at,
                now=now, open_complaints=len(ids),
                complaint_threshold=self._settings.escalate_after_complaints)
            if reason is not None:
                _escalate(conn, t, reason, now)

    def _escalate_overdue(self, conn: sqlite3.Connection, now: float) -> tuple[Ticket, ...]:
        ids = [r[0] for r in conn.execute(
            f"SELECT id FROM tickets WHERE status IN {_OPEN} AND escalated = 0 AND due_at < ?",
            (now,))]
        out = []
        for tid in ids:
            t = get_row(conn, TICKETS, tid)
            n_complaints = conn.execute(
                f"SELECT COUNT(*) FROM tickets WHERE customer_id = ? AND category = ?"
                f" AND status IN {_OPEN}", (t.customer_id, sla.COMPLAINT)).fetchone()[0]
            reason = sla.escalation_reason(
                status=t.status, escalated=t.escalated, category=t.category, due_at=t.due_at,
                now=now, open_complaints=n_complaints,
                complaint_threshold=self._settings.escalate_after_complaints)
            if reason is not None:
                out.append(_escalate(conn, t, reason, now))
        return tuple(out)


def _escalate(conn: sqlite3.Connection, t: Ticket, reason: str, now: float) -> Ticket:
    new = update_row(conn, TICKETS, t.id, {
        "escalated": 1, "escalated_at": now, "escalation_reason": reason,
        "priority": sla.escalated_priority(t.priority), "updated_at": now,
    })
    _record(conn, t, new, now, None)
    return new


_UNTRACKED = {"updated_at", "escalated_at"}


def _record(conn: sqlite3.Connection, old: Ticket, new: Ticket, now: float,
            user_id: int | None) -> None:
    rows = []
    for field in TICKETS.columns:
        if field in _UNTRACKED:
            continue
        a, b = getattr(old, field), getattr(new, field)
        if a != b:
            rows.append((new.id, now, user_id, field, _text(a), _text(b)))
    conn.executemany(
        "INSERT INTO ticket_history (ticket_id, at, user_id, field, old_value, new_value)"
        " VALUES (?, ?, ?, ?, ?, ?)", rows)


def _text(v: object) -> str | None:
    return None if v is None else str(v)


def _history(conn: sqlite3.Connection, ticket_id: int) -> tuple[TicketChange, ...]:
    get_row(conn, TICKETS, ticket_id)
    return tuple(TicketChange(*r) for r in conn.execute(
        "SELECT id, ticket_id, at, user_id, field, old_value, new_value FROM ticket_history"
        " WHERE ticket_id = ? ORDER BY at, id", (ticket_id,)))
