"""Outbound campaigns, lead lists and leads for the dialer, do-not-call entries, callbacks/tasks."""

from __future__ import annotations

import sqlite3

from common.clock import Clock
from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.models import (
    AMD_ACTIONS,
    CALLBACK_KINDS,
    CALLBACK_STATUSES,
    CAMPAIGN_STATUSES,
    DIAL_MODES,
    LEAD_STATUSES,
    Callback,
    Campaign,
    CampaignDncEntry,
    DncEntry,
    Lead,
    LeadList,
)
from crm_core.phones import normalize_e164
from crm_core.repo import Repo, TableSpec, get_row, row_factory, update_row

CAMPAIGNS = TableSpec("campaigns", Campaign, ("name",),
                      choices={"status": CAMPAIGN_STATUSES, "dial_mode": DIAL_MODES,
                               "amd_action": AMD_ACTIONS},
                      order_by="name")
LEAD_LISTS = TableSpec("lead_lists", LeadList, ("name",), order_by="name")
LEADS = TableSpec("leads", Lead, ("name", "phone"), choices={"status": LEAD_STATUSES},
                  phone_fields=("phone",))
DNC = TableSpec("dnc", DncEntry, ("phone", "reason"), phone_fields=("phone",),
                order_by="phone")
CAMPAIGN_DNC = TableSpec("campaign_dnc", CampaignDncEntry, ("phone", "reason"),
                         phone_fields=("phone",), order_by="phone")
CALLBACKS = TableSpec("callbacks", Callback, ("notes",),
                      choices={"status": CALLBACK_STATUSES, "kind": CALLBACK_KINDS},
                      phone_fields=("phone",), order_by="due_at")

# Leads the dialer may still call.
DIALABLE = ("new", "callback")


class CampaignRepo(Repo[Campaign]):
    def __init__(self, db: Database, clock: Clock, region: str) -> None:
        super().__init__(db, CAMPAIGNS, clock, region)


class LeadListRepo(Repo[LeadList]):
    def __init__(self, db: Database, clock: Clock, region: str) -> None:
        super().__init__(db, LEAD_LISTS, clock, region)


class LeadRepo(Repo[Lead]):
    def __init__(self, db: Database, clock: Clock, region: str) -> None:
        super().__init__(db, LEADS, clock, region)

    async def due(self, campaign_id: int, limit: int = 100) -> tuple[Lead, ...]:
        """Dialable leads of the campaign whose next attempt is due, numbers on the do-not-call
        list and leads with a pending callback left out; never-tried leads first, then by due
        time."""
        if not 1 <= limit <= 10_000:
            raise ValidationError("limit", "must be 1..10000", limit)
        return await self._db.scan(_due_leads, campaign_id, limit, self._clock.now())

    async def record_attempt(self, lead_id: int, result: str, *, status: str | None = None,
                             next_attempt: float | None = None) -> Lead:
        """Count one dial attempt with its result; status/next_attempt as the dialer decides."""
        if status is not None and status not in LEAD_STATUSES:
            raise ValidationError("status", f"must be one of {', '.join(LEAD_STATUSES)}", status)
        return await self._db.write(_record_attempt, lead_id, result, status, next_attempt)


def _due_leads(conn: sqlite3.Connection, campaign_id: int, limit: int, now: float
               ) -> tuple[Lead, ...]:
    make = row_factory(LEADS)
    cols = ", ".join(f"l.{c}" for c in LEADS.columns)
    rows = conn.execute(
        f"SELECT {cols} FROM leads l JOIN lead_lists ll ON ll.id = l.list_id"
        " WHERE ll.campaign_id = ? AND l.status IN ('new', 'callback')"
        " AND (l.next_attempt IS NULL OR l.next_attempt <= ?)"
        " AND NOT EXISTS (SELECT 1 FROM dnc d WHERE d.phone = l.phone"
        "                 AND (d.expires_at IS NULL OR d.expires_at > ?))"
        " AND NOT EXISTS (SELECT 1 FROM campaign_dnc c WHERE c.campaign_id = ll.campaign_id"
        "                 AND c.phone = l.phone AND (c.expires_at IS NULL OR c.expires_at > ?))"
        # A lead with a pending callback is dialled through that callback, never twice.
        " AND NOT EXISTS (SELECT 1 FROM callbacks cb WHERE cb.lead_id = l.id"
        "                 AND cb.status = 'pending')"
        " ORDER BY l.next_attempt IS NOT NULL, l.next_attempt, l.id LIMIT ?",
        (campaign_id, now, now, now, limit))
    return tuple(make(r) for r in rows)


def _record_attempt(conn: sqlite3.Connection, lead_id: int, result: str, status: str | None,
                    next_attempt: float | None) -> Lead:
    lead = get_row(conn, LEADS, lead_id)
    changes: dict[str, object] = {"attempts": lead.attempts + 1, "last_result": result,
                                  "next_attempt": next_attempt}
    if status is not None:
        changes["status"] = status
    return update_row(conn, LEADS, lead_id, changes)


class DncRepo(Repo[DncEntry]):
    def __init__(self, db: Database, clock: Clock, region: str) -> None:
        super().__init__(db, DNC, clock, region)

    def _prepare(self, conn: sqlite3.Connection, values: dict[str, object], now: float,
                 old: DncEntry | None) -> dict[str, object]:
        if old is None:
            values.setdefault("added_at", now)
        return values

    async def contains(self, phone: str) -> bool:
        """Whether the number is on the list now (an unparsable number is an error)."""
        e164 = normalize_e164(phone, self._region).e164
        return await self._db.point_read(_dnc_contains, e164, self._clock.now())


def _dnc_contains(conn: sqlite3.Connection, e164: str, now: float) -> bool:
    return conn.execute(
        "SELECT 1 FROM dnc WHERE phone = ? AND (expires_at IS NULL OR expires_at > ?)",
        (e164, now)).fetchone() is not None


class CampaignDncRepo(Repo[CampaignDncEntry]):
    """Per-campaign do-not-call entries (a number may be on several campaigns' lists)."""

    def __init__(self, db: Database, clock: Clock, region: str) -> None:
        super().__init__(db, CAMPAIGN_DNC, clock, region)

    def _prepare(self, conn: sqlite3.Connection, values: dict[str, object], now: float,
                 old: CampaignDncEntry | None) -> dict[str, object]:
        if old is None:
            values.setdefault("added_at", now)
        return values

    async def active(self, campaign_id: int) -> tuple[CampaignDncEntry, ...]:
        return await self._db.scan(_campaign_dnc_active, campaign_id, self._clock.now())


def _campaign_dnc_active(conn: sqlite3.Connection, campaign_id: int, now: float
                         ) -> tuple[CampaignDncEntry, ...]:
    make = row_factory(CAMPAIGN_DNC)
    return tuple(make(r) for r in conn.execute(
        f"SELECT {', '.join(CAMPAIGN_DNC.columns)} FROM campaign_dnc WHERE campaign_id = ?"
        " AND (expires_at IS NULL OR expires_at > ?)", (campaign_id, now)))


class CallbackRepo(Repo[Callback]):
    def __init__(self, db: Database, clock: Clock, region: str) -> None:
        super().__init__(db, CALLBACKS, clock, region)

    def _prepare(self, conn: sqlite3.Connection, values: dict[str, object], now: float,
                 old: Callback | None) -> dict[str, object]:
        if old is None and values.get("customer_id") is None and values.get("phone") is None:
            raise ValidationError("customer_id", "a callback needs a customer or a phone")
        return values

    async def due(self, until: float, assigned_user_id: int | None = None
                  ) -> tuple[Callback, ...]:
        """Pending callbacks/tasks due by `until`, soonest first (optionally one user's)."""
        return await self._db.scan(_due_callbacks, until, assigned_user_id)


def _due_callbacks(conn: sqlite3.Connection, until: float, user_id: int | None
                   ) -> tuple[Callback, ...]:
    make = row_factory(CALLBACKS)
    sql = (f"SELECT {', '.join(CALLBACKS.columns)} FROM callbacks"
           " WHERE status = 'pending' AND due_at <= ?")
    params: list[object] = [until]
    if user_id is not None:
        sql += " AND assigned_user_id = ?"
        params.append(user_id)
    return tuple(make(r) for r in conn.execute(sql + " ORDER BY due_at, id", params))
