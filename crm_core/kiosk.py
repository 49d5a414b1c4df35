"""Read-only wallboard kiosk tokens (table from the kiosk_tokens migration).

Only a SHA-256 of each token is stored: the token is 256 random bits, so a plain hash is enough
to make a stolen database useless for opening wallboards (no password-style stretching needed).
A token shows one team's wallboard (team_id) or every team's (NULL); revoking is immediate.
Times are Unix seconds from the caller.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from crm_core.db import Database
from crm_core.errors import NotFound


@dataclass(frozen=True, slots=True)
class KioskToken:
    id: int
    team_id: int | None
    label: str
    created_by: int | None
    created_at: float
    revoked_at: float | None


_COLUMNS = "id, team_id, label, created_by, created_at, revoked_at"


class KioskRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, token_hash: str, team_id: int | None, label: str,
                     created_by: int | None, now: float) -> KioskToken:
        return await self._db.write(_create, token_hash, team_id, label, created_by, now)

    async def by_hash(self, token_hash: str) -> KioskToken | None:
        """The live (not revoked) token with this hash."""
        return await self._db.point_read(_by_hash, token_hash)

    async def get(self, token_id: int) -> KioskToken:
        found: KioskToken | None = await self._db.point_read(_get, token_id)
        if found is None:
            raise NotFound("kiosk token", token_id)
        return found

    async def list(self, team_id: int | None = None, *, every_team: bool = False
                   ) -> list[KioskToken]:
        """Tokens of `team_id` (None = the all-teams tokens), or of every team."""
        return await self._db.point_read(_list, team_id, every_team)

    async def revoke(self, token_id: int, now: float) -> bool:
        """False if it was already revoked."""
        return await self._db.write(_revoke, token_id, now)


def _row(r: tuple[Any, ...]) -> KioskToken:
    return KioskToken(int(r[0]), None if r[1] is None else int(r[1]), str(r[2]),
                      None if r[3] is None else int(r[3]), float(r[4]),
                      None if r[5] is None else float(r[5]))


def _create(conn: sqlite3.Connection, token_hash: str, team_id: int | None, label: str,
            created_by: int | None, now: float) -> KioskToken:
    cur = conn.execute("INSERT INTO kiosk_tokens (token_hash, team_id, label, created_by,"
                       " created_at) VALUES (?, ?, ?, ?, ?)",
                       (token_hash, team_id, label, created_by, now))
    return KioskToken(int(cur.lastrowid or 0), team_id, label, created_by, now, None)


def _by_hash(conn: sqlite3.Connection, token_hash: str) -> KioskToken | None:
    r = conn.execute(f"SELECT {_COLUMNS} FROM kiosk_tokens WHERE token_hash = ?"
                     " AND revoked_at IS NULL", (token_hash,)).fetchone()
    return _row(r) if r else None


def _get(conn: sqlite3.Connection, token_id: int) -> KioskToken | None:
    r = conn.execute(f"SELECT {_COLUMNS} FROM kiosk_tokens WHERE id = ?", (token_id,)).fetchone()
    return _row(r) if r else None


def _list(conn: sqlite3.Connection, team_id: int | None, every_team: bool) -> list[KioskToken]:
    if every_team:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM kiosk_tokens ORDER BY id").fetchall()
    else:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM kiosk_tokens WHERE team_id IS ?"
                            " ORDER BY id", (team_id,)).fetchall()
    return [_row(r) for r in rows]


def _revoke(conn: sqlite3.Connection, token_id: int, now: float) -> bool:
    cur = conn.execute("UPDATE kiosk_tokens SET revoked_at = ? WHERE id = ?"
                       " AND revoked_at IS NULL", (now, token_id))
    return cur.rowcount > 0
