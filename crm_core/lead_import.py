"""CSV lead import: column mapping, E.164 normalisation, and a report of what was left out.

    report = await crm.lead_import.import_csv(list_id, text, LeadColumns(phone="Phone"))

The file's first row is its header. `LeadColumns` maps the lead's fields to header names (phone
is required; name and timezone optional). Each data row is normalised to E.164 with the CRM's
default region; a row is reported and skipped when its number is invalid, its time zone is not
an IANA name, or its number is already in the file (an earlier row) or in the campaign (any of
its lists). Everything else is inserted in one transaction, so an import is all or nothing
when the database refuses (a missing list gives NotFound and writes nothing). Numbers on a
do-not-call list are imported (the dialer never dials them while listed) and counted.

Parsing runs on a worker thread, then one short write transaction inserts: a 100k-row file
takes seconds of CPU (phonenumbers validation dominates) that must stall neither the event loop
nor other CRM writes.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import sqlite3
import zoneinfo
from dataclasses import dataclass

from crm_core.db import Database
from crm_core.errors import InvalidPhoneNumber, NotFound, ValidationError
from crm_core.phones import normalize_e164

MAX_ROWS = 1_000_000
MAX_FIELD = 1_000  # characters of one cell we keep (names); longer is an invalid row
MAX_ISSUES = 1_000  # issues listed in a report; the counts stay exact


@dataclass(frozen=True, slots=True)
class LeadColumns:
    phone: str
    name: str | None = None
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class RowIssue:
    row: int  # 1-based line of the file (the header is row 1)
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    list_id: int
    rows: int  # data rows read
    imported: int
    invalid: int
    duplicates: int
    on_dnc: int  # imported, but on the global or the campaign's do-not-call list
    issues: tuple[RowIssue, ...]  # the first MAX_ISSUES invalid or duplicate rows


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _sanitise(value: str) -> str:
    return value[:80].replace("\r", "\\r").replace("\n", "\\n").replace("\x00", "\\0")


def parse_rows(text: str, columns: LeadColumns, region: str
               ) -> tuple[list[tuple[int, str, str, str]], list[RowIssue], int, int, int]:
    """(good rows as (row, e164, name, tz), issues, rows, invalid, duplicates within the file)."""
    if "\x00" in text:
        raise ValidationError("csv", "the file holds NUL bytes: not a text CSV file")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError("csv", "the file is empty (a header row is required)") from None
    except csv.Error as exc:
        raise ValidationError("csv", f"row 1: {exc}") from None
    header = [h.strip().lstrip("\ufeff") for h in header]

    def index(field: str, name: str | None) -> int | None:
        if name is None:
            return None
        try:
            return header.index(name)
        except ValueError:
            raise ValidationError(
                f"columns.{field}", f"no column {name!r} in the header; columns are: "
                + ", ".join(repr(h) for h in header[:50]), name) from None

    i_phone = index("phone", columns.phone)
    i_name = index("name", columns.name)
    i_tz = index("timezone", columns.timezone)
    assert i_phone is not None
    zones = _zones() if i_tz is not None else frozenset()
    seen: dict[str, int] = {}
    good: list[tuple[int, str, str, str]] = []
    issues: list[RowIssue] = []
    rows = invalid = dups = 0

    def issue(row: int, value: str, reason: str) -> None:
        if len(issues) < MAX_ISSUES:
            issues.append(RowIssue(row, _sanitise(value), reason))

    line = 1
    try:
        for rec in reader:
            line = reader.line_num
            if not rec or all(not c.strip() for c in rec):
                continue
            rows += 1
            if rows > MAX_ROWS:
                raise ValidationError("csv", f"more than {MAX_ROWS} rows: split the file")
            raw = rec[i_phone] if i_phone < len(rec) else ""
            name = rec[i_name].strip() if i_name is not None and i_name < len(rec) else ""
            tz = rec[i_tz].strip() if i_tz is not None and i_tz < len(rec) else ""
            try:
                e164 = normalize_e164(raw, region).e164
            except InvalidPhoneNumber as exc:
                invalid += 1
                issue(line, raw, f"invalid number: {exc.reason}")
                continue
            if tz and tz not in zones:
                invalid += 1
                issue(line, tz, "unknown time zone (use an IANA name such as America/New_York)")
                continue
            if len(name) > MAX_FIELD:
                invalid += 1
                issue(line, name, f"name longer than {MAX_FIELD} characters")
                continue
            first = seen.get(e164)
            if first is not None:
                dups += 1
                issue(line, e164, f"duplicate of row {first}")
                continue
            seen[e164] = line
            good.append((line, e164, name, tz))
    except csv.Error as exc:
        raise ValidationError("csv", f"row {line + 1}: {exc}") from None
    return good, issues, rows, invalid, dups


Parsed = tuple[list[tuple[int, str, str, str]], list[RowIssue], int, int, int]


def import_sync(conn: sqlite3.Connection, list_id: int, parsed: Parsed) -> ImportReport:
    row = conn.execute("SELECT campaign_id FROM lead_lists WHERE id = ?", (list_id,)).fetchone()
    if row is None:
        raise NotFound("lead_list", list_id)
    campaign_id = int(row[0])
    good, issues, rows, invalid, dups = parsed
    existing = {p for (p,) in conn.execute(
        "SELECT l.phone FROM leads l JOIN lead_lists ll ON ll.id = l.list_id"
        " WHERE ll.campaign_id = ?", (campaign_id,))}
    fresh = []
    for line, e164, name, tz in good:
        if e164 in existing:
            dups += 1
            if len(issues) < MAX_ISSUES:
                issues.append(RowIssue(line, e164, "already in the campaign"))
            continue
        fresh.append((list_id, e164, name, tz))
    conn.executemany("INSERT INTO leads (list_id, phone, name, timezone) VALUES (?, ?, ?, ?)",
                     fresh)
    blocked = {p for (p,) in conn.execute(
        "SELECT phone FROM dnc UNION SELECT phone FROM campaign_dnc WHERE campaign_id = ?",
        (campaign_id,))}
    on_dnc = sum(1 for _, e164, _, _ in fresh if e164 in blocked)
    issues.sort(key=lambda i: i.row)
    return ImportReport(list_id, rows, len(fresh), invalid, dups, on_dnc, tuple(issues))


class LeadImporter:
    def __init__(self, db: Database, region: str) -> None:
        self._db = db
        self._region = region

    async def import_csv(self, list_id: int, text: str, columns: LeadColumns) -> ImportReport:
        if not isinstance(text, str):
            raise ValidationError("csv", "expected text")
        # Parsing is CPU work without the database: off the loop, and outside the write
        # transaction so call logging is not held up behind it.
        parsed = await asyncio.to_thread(parse_rows, text, columns, self._region)
        return await self._db.write(import_sync, list_id, parsed)
