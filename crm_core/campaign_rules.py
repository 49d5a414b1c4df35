"""A campaign's own calling rules (`crm.campaign_rules`, table `campaign_rules`, migration 24).

One row per campaign that sets any rule; a NULL column (no row at all) means "the [dialer]
default". What the rules mean and how they are validated and merged with the defaults is the
dialer's (acd/dialer/rules.py): this repository stores what it is given after checking its
shape (types, lengths, ranges), so that no caller can store what the dialer could not read.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from common.clock import Clock
from crm_core.db import Database
from crm_core.errors import NotFound, StaleVersion, ValidationError

# outcome -> column; the outcomes the dialer retries.
RETRY_COLUMNS: Mapping[str, str] = MappingProxyType({
    "busy": "retry_busy_s", "no_answer": "retry_no_answer_s", "machine": "retry_machine_s",
    "abandoned": "retry_abandoned_s", "failed": "retry_failed_s"})
MAX_DELAY_S = 90 * 86_400.0
_WRITTEN = ("campaign_id", "window_start", "window_end", "days", "holidays", "default_timezone",
            *RETRY_COLUMNS.values(), "updated_at")
# `version`: set by the table's triggers on every write (migration 25), never by a writer.
_COLUMNS = (*_WRITTEN, "version")
_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]|24:00")
_WORD = re.compile(r"[A-Za-z0-9_+/-]{0,64}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class CampaignRulesRow:
    campaign_id: int
    window_start: str | None = None
    window_end: str | None = None
    days: tuple[str, ...] | None = None
    holidays: tuple[str, ...] | None = None
    default_timezone: str | None = None
    retry_delay_s: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    updated_at: float = 0.0
    version: int = 0  # a new one on every write of the row, from one sequence (migration 25)


class CampaignRulesRepo:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def get(self, campaign_id: int) -> CampaignRulesRow | None:
        """The campaign's own rules, None when it sets none."""
        return await self._db.point_read(_get, campaign_id)

    async def all(self) -> dict[int, CampaignRulesRow]:
        """Every campaign's own rules, by campaign id."""
        return await self._db.scan(_all)

    async def put(self, row: CampaignRulesRow) -> CampaignRulesRow:
        """Store the campaign's rules, replacing what it had (NotFound: no such campaign)."""
        values = _values(row, self._clock.now())
        return await self._db.write(_put, values)

    async def delete(self, campaign_id: int) -> bool:
        """Back to every default; whether the campaign had rules."""
        return await self._db.write(_delete, campaign_id)

    async def versions(self) -> dict[int, int]:
        """Every row's version, by campaign id (a campaign with no row: not there). One small
        read: the dialer asks it every tick to see rules written by anyone."""
        return await self._db.scan(_versions)

    async def update(self, campaign_id: int,
                     change: Callable[[CampaignRulesRow | None], CampaignRulesRow | None], *,
                     if_version: int | None = None) -> CampaignRulesRow | None:
        """Read-modify-write in one write transaction, so that two concurrent changes never
        lose one: `change(current row or None)` gives the new row (None: no rules of its own,
        the row goes). `if_version`: the version the caller saw (0: no row); another one raises
        StaleVersion and writes nothing. Whatever `change` raises rolls it back."""
        now = self._clock.now()
        return await self._db.write(_update, campaign_id, change, if_version, now)


def _values(row: CampaignRulesRow, now: float) -> dict[str, object]:
    if isinstance(row.campaign_id, bool) or not isinstance(row.campaign_id, int) \
            or row.campaign_id < 1:
        raise ValidationError("campaign_id", "must be a positive integer", row.campaign_id)
    for name in ("window_start", "window_end"):
        v = getattr(row, name)
        if v is not None and (not isinstance(v, str) or not _HHMM.fullmatch(v)):
            raise ValidationError(name, "must be HH:MM", v)
    if (row.window_start is None) != (row.window_end is None):
        raise ValidationError("window_end", "window_start and window_end are set together",
                              (row.window_start, row.window_end))
    if row.default_timezone is not None and (
            not isinstance(row.default_timezone, str) or not _WORD.fullmatch(
                row.default_timezone)):
        raise ValidationError("default_timezone", "must be a zone name", row.default_timezone)
    values: dict[str, object] = {
        "campaign_id": row.campaign_id, "window_start": row.window_start,
        "window_end": row.window_end, "default_timezone": row.default_timezone,
        "days": _list("days", row.days, re.compile(r"[a-z]{3}"), 7),
        "holidays": _list("holidays", row.holidays, _DATE, 500), "updated_at": now}
    for outcome in row.retry_delay_s:
        if outcome not in RETRY_COLUMNS:
            raise ValidationError("retry_delay_s", "unknown outcome", outcome)
    for outcome, column in RETRY_COLUMNS.items():
        v = row.retry_delay_s.get(outcome)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)
                              or not math.isfinite(v) or not 0 < v <= MAX_DELAY_S):
            raise ValidationError(f"retry_delay_s.{outcome}", "must be seconds in (0, 90 days]",
                                  v)
        values[column] = float(v) if v is not None else None
    return values


def _list(name: str, items: tuple[str, ...] | None, pattern: re.Pattern[str], most: int
          ) -> str | None:
    if items is None:
        return None
    if not isinstance(items, tuple) or len(items) > most:
        raise ValidationError(name, f"must be a tuple of at most {most} values", items)
    for x in items:
        if not isinstance(x, str) or not pattern.fullmatch(x):
            raise ValidationError(name, "malformed value", x)
    return json.dumps(list(items))


def _versions(conn: sqlite3.Connection) -> dict[int, int]:
    return {int(r[0]): int(r[1])
            for r in conn.execute("SELECT campaign_id, version FROM campaign_rules")}


def _update(conn: sqlite3.Connection, campaign_id: int,
            change: Callable[[CampaignRulesRow | None], CampaignRulesRow | None],
            if_version: int | None, now: float) -> CampaignRulesRow | None:
    current = _get(conn, campaign_id)
    found = current.version if current is not None else 0
    if if_version is not None and if_version != found:
        raise StaleVersion("campaign rules", campaign_id, if_version, found)
    new = change(current)
    if new is None:
        _delete(conn, campaign_id)
        return None
    if new.campaign_id != campaign_id:
        raise ValidationError("campaign_id", "the change moved the rules to another campaign",
                              new.campaign_id)
    return _put(conn, _values(new, now))


def _row(r: sqlite3.Row | tuple[object, ...]) -> CampaignRulesRow:
    v = dict(zip(_COLUMNS, r, strict=True))
    delays = {o: float(v[c]) for o, c in RETRY_COLUMNS.items()  # type: ignore[arg-type]
              if v[c] is not None}
    return CampaignRulesRow(
        campaign_id=int(v["campaign_id"]),  # type: ignore[call-overload]
        window_start=v["window_start"],  # type: ignore[arg-type]
        window_end=v["window_end"],  # type: ignore[arg-type]
        days=tuple(json.loads(v["days"])) if v["days"] is not None else None,  # type: ignore[arg-type]
        holidays=(tuple(json.loads(v["holidays"]))  # type: ignore[arg-type]
                  if v["holidays"] is not None else None),
        default_timezone=v["default_timezone"],  # type: ignore[arg-type]
        retry_delay_s=MappingProxyType(delays),
        updated_at=float(v["updated_at"]),  # type: ignore[arg-type]
        version=int(v["version"]))  # type: ignore[call-overload]


_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM campaign_rules"


def _get(conn: sqlite3.Connection, campaign_id: int) -> CampaignRulesRow | None:
    r = conn.execute(_SELECT + " WHERE campaign_id = ?", (campaign_id,)).fetchone()
    return _row(r) if r is not None else None


def _all(conn: sqlite3.Connection) -> dict[int, CampaignRulesRow]:
    return {row.campaign_id: row for row in map(_row, conn.execute(_SELECT))}


def _put(conn: sqlite3.Connection, values: dict[str, object]) -> CampaignRulesRow:
    if conn.execute("SELECT 1 FROM campaigns WHERE id = ?",
                    (values["campaign_id"],)).fetchone() is None:
        raise NotFound("campaign", values["campaign_id"])
    cols = ", ".join(_WRITTEN)
    marks = ", ".join("?" for _ in _WRITTEN)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _WRITTEN if c != "campaign_id")
    conn.execute(f"INSERT INTO campaign_rules ({cols}) VALUES ({marks})"
                 f" ON CONFLICT (campaign_id) DO UPDATE SET {updates}",
                 [values[c] for c in _WRITTEN])
    row = _get(conn, int(values["campaign_id"]))  # type: ignore[call-overload]
    assert row is not None
    return row


def _delete(conn: sqlite3.Connection, campaign_id: int) -> bool:
    return conn.execute("DELETE FROM campaign_rules WHERE campaign_id = ?",
                        (campaign_id,)).rowcount > 0
