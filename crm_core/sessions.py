"""Login sessions for the REST API: refresh-token families (tables from migration 8).

A family is one login. Its refresh tokens form a chain: exchanging one (rotate) spends it and
records the next. The rules, each decided inside one write transaction:

- a spent token presented again means two parties hold the chain (a stolen token, or a client
  that kept an old one): the whole family is revoked, so the thief's tokens and the victim's
  die together and the victim logs in again;
- a token of a revoked family is refused (logout, reuse, or an admin ending the session);
- a token the store never recorded (signed with the key, but not by this server's login) is
  refused without revoking anything.

Expired families are pruned when a new one starts. Times are Unix seconds from the caller.
"""

from __future__ import annotations

import sqlite3
from typing import Literal

from crm_core.db import Database

RotateOutcome = Literal["rotated", "reused", "revoked", "unknown", "expired"]


class SessionRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def start(self, family: str, user_id: int, jti: str, now: float,
                    expires_at: float) -> None:
        """Record a new family (one login) with its first refresh token."""
        await self._db.write(_start, family, user_id, jti, now, expires_at)

    async def rotate(self, family: str, jti: str, new_jti: str, now: float,
                     expires_at: float) -> RotateOutcome:
        """Spend `jti` of `family` and record `new_jti` after it ("rotated"), or say why not.
        "reused" has revoked the family (committed: the refusal must stick)."""
        return await self._db.write(_rotate, family, jti, new_jti, now, expires_at)

    async def revoke(self, family: str, now: float, reason: str) -> bool:
        """End the family; False if it is unknown or was already ended."""
        return await self._db.write(_revoke, family, now, reason)

    async def is_active(self, family: str, user_id: int) -> bool:
        """The family exists, belongs to `user_id` and is not revoked (one indexed lookup)."""
        return await self._db.point_read(_is_active, family, user_id)

    async def revoked_reason(self, family: str) -> str | None:
        return await self._db.point_read(_revoked_reason, family)


def _start(conn: sqlite3.Connection, family: str, user_id: int, jti: str, now: float,
           expires_at: float) -> None:
    conn.execute("DELETE FROM auth_families WHERE expires_at < ?", (now,))
    conn.execute("INSERT INTO auth_families (id, user_id, created_at, expires_at)"
                 " VALUES (?, ?, ?, ?)", (family, user_id, now, expires_at))
    conn.execute("INSERT INTO auth_refresh_tokens (jti, family_id, issued_at, expires_at)"
                 " VALUES (?, ?, ?, ?)", (jti, family, now, expires_at))


def _rotate(conn: sqlite3.Connection, family: str, jti: str, new_jti: str, now: float,
            expires_at: float) -> RotateOutcome:
    fam = conn.execute("SELECT revoked_at FROM auth_families WHERE id = ?",
                       (family,)).fetchone()
    if fam is None:
        return "unknown"
    if fam[0] is not None:
        return "revoked"
    tok = conn.execute("SELECT family_id, used_at, expires_at FROM auth_refresh_tokens"
                       " WHERE jti = ?", (jti,)).fetchone()
    if tok is None or tok[0] != family:
        return "unknown"
    if tok[1] is not None:
        _revoke(conn, family, now, "refresh token reused")
        return "reused"
    if now >= tok[2]:
        return "expired"
    conn.execute("UPDATE auth_refresh_tokens SET used_at = ? WHERE jti = ?", (now, jti))
    conn.execute("INSERT INTO auth_refresh_tokens (jti, family_id, issued_at, expires_at)"
                 " VALUES (?, ?, ?, ?)", (new_jti, family, now, expires_at))
    conn.execute("UPDATE auth_families SET expires_at = MAX(expires_at, ?) WHERE id = ?",
                 (expires_at, family))
    return "rotated"


def _revoke(conn: sqlite3.Connection, family: str, now: float, reason: str) -> bool:
    cur = conn.execute("UPDATE auth_families SET revoked_at = ?, revoked_reason = ?"
                       " WHERE id = ? AND revoked_at IS NULL", (now, reason, family))
    return cur.rowcount > 0


def _is_active(conn: sqlite3.Connection, family: str, user_id: int) -> bool:
    row = conn.execute("SELECT user_id, revoked_at FROM auth_families WHERE id = ?",
                       (family,)).fetchone()
    return row is not None and row[0] == user_id and row[1] is None


def _revoked_reason(conn: sqlite3.Connection, family: str) -> str | None:
    row = conn.execute("SELECT revoked_reason FROM auth_families WHERE id = ?",
                       (family,)).fetchone()
    return None if row is None or row[0] is None else str(row[0])
