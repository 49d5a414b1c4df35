"""The wallboard's trend of the day, kept across restarts (`crm.wallboard_trend`).

One row per queue and minute (`wallboard_trend`, migration 20): the most calls waiting during the
minute and the minute's last service level, as agent_desktop/wallboard_trend.py folds them. The
hub writes each closed minute (and the open ones when it stops) and reads the current day back
when it starts, so a restart in the afternoon does not blank the wallboards' chart of the morning.
Only the centre's current day is ever read: older days are pruned.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from crm_core.db import Database
from crm_core.errors import ValidationError


@dataclass(frozen=True, slots=True)
class TrendRow:
    queue: str
    day: str  # the centre's local date, "2026-11-28"
    t: float  # the minute's start (Unix seconds, a multiple of 60)
    waiting: int
    service_level: float | None


class TrendRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, rows: Sequence[TrendRow]) -> int:
        """Insert or replace the rows' minutes (one transaction)."""
        for r in rows:
            if r.t % 60 != 0:
                raise ValidationError("t", "must be the start of a minute", r.t)
            if r.waiting < 0:
                raise ValidationError("waiting", "must be >= 0", r.waiting)
        if not rows:
            return 0
        return await self._db.write(_save, list(rows))

    async def day(self, day: str) -> list[TrendRow]:
        """Every queue's minutes of `day`, by queue and time."""
        return await self._db.scan(_day, day)

    async def prune(self, keep_from_day: str) -> int:
        """Forget the days before `keep_from_day`."""
        return await self._db.write(_prune, keep_from_day)


def _save(conn: sqlite3.Connection, rows: list[TrendRow]) -> int:
    conn.executemany(
        "INSERT INTO wallboard_trend (queue, t, day, waiting, service_level) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (queue, t) DO UPDATE SET day = excluded.day, "
        "waiting = excluded.waiting, service_level = excluded.service_level",
        [(r.queue, r.t, r.day, r.waiting, r.service_level) for r in rows])
    return len(rows)


def _day(conn: sqlite3.Connection, day: str) -> list[TrendRow]:
    cur = conn.execute("SELECT queue, day, t, waiting, service_level FROM wallboard_trend "
                       "WHERE day = ? ORDER BY queue, t", (day,))
    return [TrendRow(r[0], r[1], float(r[2]), int(r[3]), r[4]) for r in cur]


def _prune(conn: sqlite3.Connection, keep_from_day: str) -> int:
    return conn.execute("DELETE FROM wallboard_trend WHERE day < ?", (keep_from_day,)).rowcount
