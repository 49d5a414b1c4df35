"""The dial audit log: one row per dial, transfer, ACD callback or dialer campaign attempt,
allowed or refused.

Rows are written in batches by the server's audit writer (cti/dialguard.py), off the request's
path; they are never changed or deleted through this repository (it has no update/delete).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

from common.clock import Clock
from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.models import Page
from crm_core.repo import MAX_LIMIT, check_text

ACTIONS = ("dial", "transfer", "callback", "campaign")
VERDICTS = ("allowed", "refused")
_MAX_TEXT = 200  # the number as typed is attacker-controlled: stored bounded


@dataclass(frozen=True, slots=True)
class DialAttempt:
    id: int
    at: float
    user_id: int | None
    username: str
    role: str
    team_id: int | None
    action: str  # dial | transfer | callback | campaign (a dialer Originate)
    number: str  # as typed (bounded)
    target: str  # what would be dialled: extension digits or E.164; "" when not dialable
    kind: str  # internal | external | emergency | short_code | invalid
    region: str
    number_type: str
    verdict: str  # allowed | refused
    reason: str  # cti.dialpolicy.Reason
    message: str
    call_id: str


_COLUMNS = tuple(f.name for f in fields(DialAttempt))
# Equality filters the listing accepts (column -> type).
FILTERS: Mapping[str, type] = {
    "user_id": int, "username": str, "team_id": int, "action": str, "kind": str,
    "verdict": str, "reason": str, "region": str, "number_type": str, "call_id": str,
}


def _bounded(value: str) -> str:
    return value if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + "..."


class DialAuditRepo:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def add_many(self, rows: Iterable[Mapping[str, object]]) -> int:
        """Insert attempts (DialAttempt fields but id; at defaults to now) in one transaction."""
        now = self._clock.now()
        prepared = [self._row(r, now) for r in rows]
        if not prepared:
            return 0
        return await self._db.write(_insert_many, prepared)

    def _row(self, r: Mapping[str, object], now: float) -> tuple[object, ...]:
        unknown = set(r) - set(_COLUMNS[1:])
        if unknown:
            raise ValidationError(sorted(unknown)[0], "not a column of dial_audit")
        if r.get("action") not in ACTIONS:
            raise ValidationError("action", f"must be one of {', '.join(ACTIONS)}",
                                  r.get("action"))
        if r.get("verdict") not in VERDICTS:
            raise ValidationError("verdict", f"must be one of {', '.join(VERDICTS)}",
                                  r.get("verdict"))
        out: list[object] = []
        for name in _COLUMNS[1:]:
            v = r.get(name)
            if name == "at":
                v = now if v is None else float(v)  # type: ignore[arg-type]
            elif name in ("user_id", "team_id"):
                v = None if v is None else int(v)  # type: ignore[call-overload]
            else:
                v = "" if v is None else _bounded(str(v))
                check_text(name, v)
            out.append(v)
        return tuple(out)

    async def search(self, *, since: float | None = None, until: float | None = None,
                     limit: int = 50, offset: int = 0,
                     **filters: object) -> Page[DialAttempt]:
        """Newest first; ``since <= at < until``; equality filters from FILTERS."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError("limit", f"must be 1..{MAX_LIMIT}", limit)
        if offset < 0:
            raise ValidationError("offset", "must be >= 0", offset)
        where: list[str] = []
        params: list[object] = []
        for col, val in filters.items():
            tp = FILTERS.get(col)
            if tp is None:
                raise ValidationError(col, "not a filter of the dial audit", val)
            if not isinstance(val, tp) or isinstance(val, bool):
                raise ValidationError(col, f"expected {tp.__name__}", val)
            where.append(f"{col} = ?")
            params.append(val)
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        if until is not None:
            where.append("at < ?")
            params.append(until)
        return await self._db.scan(_search, where, params, limit, offset)


def _insert_many(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> int:
    cols = _COLUMNS[1:]
    conn.executemany(f"INSERT INTO dial_audit ({', '.join(cols)}) "
                     f"VALUES ({', '.join('?' for _ in cols)})", rows)
    return len(rows)


def _search(conn: sqlite3.Connection, where: list[str], params: list[object], limit: int,
            offset: int) -> Page[DialAttempt]:
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    total = conn.execute(f"SELECT COUNT(*) FROM dial_audit{clause}", params).fetchone()[0]
    rows = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM dial_audit{clause} "
                        "ORDER BY at DESC, id DESC LIMIT ? OFFSET ?",
                        [*params, limit, offset]).fetchall()
    return Page(tuple(DialAttempt(*r) for r in rows), int(total), limit, offset)


__all__ = ["ACTIONS", "FILTERS", "VERDICTS", "DialAttempt", "DialAuditRepo"]
