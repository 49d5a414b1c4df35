"""The dialer's durable state (`crm.dialer_state`): abandon-rule counts and campaign callbacks.

Abandon counts: live answers (abandons included) and abandons per campaign and minute, in
`dialer_abandon_counts` (migration 16). The dialer (acd/dialer/service.py) adds its counts in
batches, off the event loop (the CRM's writer thread), and reloads the last 30 days when it starts,
so the 24 h and 30 day abandon windows survive restarts. A minute is the 24 h window's own bucket
size, and divides the 30 day window's hour: the reloaded windows equal the ones kept in memory.
The same rows are the outbound reports' abandon figures (counts_between; reports/outbound.py):
they are kept HISTORY_S, as far back as a report reaches, not just the 30 days the pacing needs.

Campaign callbacks: pending `callbacks` rows of kind 'callback' that belong to a campaign, due by
a time, soonest first; the dialer places them before any lead. Free callbacks: the same rows of
no campaign, which acd/dialer/free_callbacks.py hands to the ACD.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from crm_core.campaigns import CALLBACKS
from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.models import Callback
from crm_core.repo import row_factory

MINUTE_S = 60.0
# Reports ask for up to 400 days (reports/service.py) and look 30 days further back for the
# rolling window, plus its edge bucket (an hour).
HISTORY_S = (400 + 30) * 86_400.0 + 3_600.0


@dataclass(frozen=True, slots=True)
class AbandonCount:
    campaign_id: int
    minute: float  # start of the minute (Unix seconds, a multiple of 60)
    live: int  # live answers, abandons included (the rule's denominator)
    abandoned: int


def minute_of(at: float) -> float:
    return float(int(at // MINUTE_S)) * MINUTE_S


class DialerStateRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_counts(self, counts: Sequence[AbandonCount]) -> int:
        """Add the counts to their minutes (one transaction); returns the rows touched."""
        for c in counts:
            if c.live < 0 or c.abandoned < 0 or c.abandoned > c.live:
                raise ValidationError("abandoned", "counts must satisfy 0 <= abandoned <= live",
                                      (c.live, c.abandoned))
            if c.minute != minute_of(c.minute):
                raise ValidationError("minute", "must be the start of a minute", c.minute)
        if not counts:
            return 0
        return await self._db.write(_add_counts, list(counts))

    async def counts_since(self, since: float) -> list[AbandonCount]:
        """Every campaign's counts of minutes starting at or after `since`, oldest first."""
        return await self._db.scan(_counts_since, since)

    async def counts_between(self, start: float, end: float) -> list[AbandonCount]:
        """Every campaign's counts of minutes starting in [start, end), oldest first."""
        return await self._db.scan(_counts_between, start, end)

    async def prune(self, before: float) -> int:
        """Forget minutes that ended before `before` (outside every window)."""
        return await self._db.write(_prune, before)

    async def due_callbacks(self, campaign_id: int, until: float, limit: int = 100
                            ) -> tuple[Callback, ...]:
        """The campaign's pending callbacks (kind 'callback') due by `until`, soonest first."""
        if not 1 <= limit <= 10_000:
            raise ValidationError("limit", "must be 1..10000", limit)
        return await self._db.scan(_due_callbacks, campaign_id, until, limit)


    async def due_free_callbacks(self, until: float, limit: int = 100
                                 ) -> tuple[Callback, ...]:
        """Pending callbacks (kind 'callback') of NO campaign due by `until`, soonest first
        (with a phone or not: the caller fills it from the customer or tells a person):
        scheduled from the desktop or the API, placed through the ACD
        (acd/dialer/free_callbacks.py). Tasks (kind 'task') are for a person and never here."""
        if not 1 <= limit <= 10_000:
            raise ValidationError("limit", "must be 1..10000", limit)
        return await self._db.scan(_due_free_callbacks, until, limit)


def _add_counts(conn: sqlite3.Connection, counts: list[AbandonCount]) -> int:
    conn.executemany(
        "INSERT INTO dialer_abandon_counts (campaign_id, minute, live, abandoned) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (campaign_id, minute) DO UPDATE SET "
        "live = live + excluded.live, abandoned = abandoned + excluded.abandoned",
        [(c.campaign_id, c.minute, c.live, c.abandoned) for c in counts])
    return len(counts)


def _counts_since(conn: sqlite3.Connection, since: float) -> list[AbandonCount]:
    return [AbandonCount(int(r[0]), float(r[1]), int(r[2]), int(r[3])) for r in conn.execute(
        "SELECT campaign_id, minute, live, abandoned FROM dialer_abandon_counts "
        "WHERE minute >= ? ORDER BY minute, campaign_id", (since,))]


def _counts_between(conn: sqlite3.Connection, start: float, end: float) -> list[AbandonCount]:
    return [AbandonCount(int(r[0]), float(r[1]), int(r[2]), int(r[3])) for r in conn.execute(
        "SELECT campaign_id, minute, live, abandoned FROM dialer_abandon_counts "
        "WHERE minute >= ? AND minute < ? ORDER BY minute, campaign_id", (start, end))]


def _prune(conn: sqlite3.Connection, before: float) -> int:
    return conn.execute("DELETE FROM dialer_abandon_counts WHERE minute + ? <= ?",
                        (MINUTE_S, before)).rowcount


def _due_callbacks(conn: sqlite3.Connection, campaign_id: int, until: float, limit: int
                   ) -> tuple[Callback, ...]:
    make = row_factory(CALLBACKS)
    return tuple(make(r) for r in conn.execute(
        f"SELECT {', '.join(CALLBACKS.columns)} FROM callbacks WHERE campaign_id = ? "  # noqa: S608
        "AND status = 'pending' AND kind = 'callback' AND due_at <= ? "
        "ORDER BY due_at, id LIMIT ?", (campaign_id, until, limit)))


def _due_free_callbacks(conn: sqlite3.Connection, until: float, limit: int
                        ) -> tuple[Callback, ...]:
    make = row_factory(CALLBACKS)
    return tuple(make(r) for r in conn.execute(
        f"SELECT {', '.join(CALLBACKS.columns)} FROM callbacks WHERE campaign_id IS NULL "  # noqa: S608
        "AND status = 'pending' AND kind = 'callback' AND due_at <= ? "
        "ORDER BY due_at, id LIMIT ?", (until, limit)))


__all__ = ["HISTORY_S", "AbandonCount", "DialerStateRepo", "minute_of"]

