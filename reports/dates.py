"""Report ranges from people's spellings: "2026-11-01" (a whole local day), an ISO date-time
("2026-11-01T08:00", local unless it carries an offset), or Unix seconds. A date given as the
end of a range includes that day (from 2026-11-01 to 2026-11-30 is all of November)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo

from reports.errors import BadRequest

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER = re.compile(r"^\d{9,11}(\.\d+)?$")


def parse_time(value: str, tz: tzinfo | None, *, end: bool = False, name: str = "from"
               ) -> float:
    v = value.strip()
    try:
        if _NUMBER.fullmatch(v):
            return float(v)
        if _DATE.fullmatch(v):
            d = date.fromisoformat(v)
            if end:
                d += timedelta(days=1)
            return datetime(d.year, d.month, d.day, tzinfo=tz).timestamp() if tz else \
                datetime(d.year, d.month, d.day).timestamp()
        dt = datetime.fromisoformat(v)
    except ValueError:
        raise BadRequest(
            f"{name}: {value[:40]!r} is not a date; use YYYY-MM-DD, YYYY-MM-DDTHH:MM or Unix "
            f"seconds", {name: value[:40]}) from None
    if dt.tzinfo is None and tz is not None:
        dt = dt.replace(tzinfo=tz)
    return dt.timestamp()
