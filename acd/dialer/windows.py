"""Calling windows in the called person's local time.

A number's time zones come from phonenumbers (`timezone.time_zones_for_number`, which falls back
to the zones of the number's country), unless the lead carries its own zone (from its address,
say). A number phonenumbers cannot place gets the configured default zone ([dialer]
default_timezone); with none configured it raises UnknownZone: never called at a guessed hour.
When a number maps to several zones (a US toll-free number, an area
code across a zone line) the call is allowed only when the window is open in every one of them:
the safe reading of "the called person's local time" when we do not know where they are.

Local times are computed with zoneinfo, so DST changes are followed: 8:00 in New York is 13:00
UTC in winter and 12:00 UTC in summer. The window is [start, end) in local wall-clock time, on
the allowed weekdays, never on a holiday (a local date).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone

from acd.dialer.errors import InvalidNumber, InvalidWindow, UnknownZone

ALL_DAYS = frozenset(range(7))  # Monday = 0
E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@functools.lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise InvalidWindow(f"unknown time zone {name!r} (use an IANA name such as "
                            "'America/New_York')") from e


@functools.lru_cache(maxsize=65_536)
def _zones_of_number(e164: str) -> tuple[str, ...]:
    if not E164.fullmatch(e164):
        raise InvalidNumber(f"not an E.164 number: {e164!r}")
    try:
        num = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException as e:
        raise InvalidNumber(f"not an E.164 number: {e164!r}") from e
    names = tuple(n for n in pn_timezone.time_zones_for_number(num) if n != "Etc/Unknown")
    return names


def zones_for_number(e164: str, lead_zone: str = "", default_zone: str = ""
                     ) -> tuple[ZoneInfo, ...]:
    """The zones the person may be in: the lead's own zone if set, else the number's zones
    (phonenumbers), else `default_zone`; UnknownZone when that is "" too."""
    if lead_zone:
        return (zone(lead_zone),)
    names = _zones_of_number(e164)
    if names:
        return tuple(zone(n) for n in names)
    if not default_zone:
        raise UnknownZone(f"no time zone is known for {e164}: set the lead's timezone or "
                          "[dialer].default_timezone")
    return (zone(default_zone),)


@dataclass(frozen=True, slots=True)
class CallingWindow:
    start: dt.time = dt.time(8, 0)
    end: dt.time = dt.time(21, 0)
    days: frozenset[int] = ALL_DAYS
    holidays: frozenset[dt.date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise InvalidWindow(f"calling window start {self.start} must be before end {self.end}")
        if not self.days or not self.days <= ALL_DAYS:
            raise InvalidWindow(f"calling window days must be a non-empty subset of 0..6 "
                                f"(Monday = 0), got {sorted(self.days)}")

    def open_in(self, now: float, tz: ZoneInfo) -> bool:
        local = dt.datetime.fromtimestamp(now, tz)
        return (local.weekday() in self.days and local.date() not in self.holidays
                and self.start <= local.time().replace(tzinfo=None) < self.end)

    def allows(self, now: float, zones: Iterable[ZoneInfo]) -> bool:
        """Whether a call placed at `now` is inside the window in every zone."""
        return all(self.open_in(now, z) for z in zones)

    def next_open(self, now: float, zones: tuple[ZoneInfo, ...], days_ahead: int = 14
                  ) -> float | None:
        """Earliest instant >= now when `allows` holds, or None if not within `days_ahead` (the
        zones' windows never overlap, e.g. a toll-free number spread over 14 hours of zones)."""
        if self.allows(now, zones):
            return now
        # The allowed set is an intersection of per-zone intervals: it opens at some zone's start.
        candidates: set[float] = set()
        for z in zones:
            today = dt.datetime.fromtimestamp(now, z).date()
            for d in range(days_ahead + 1):
                day = today + dt.timedelta(days=d)
                t = dt.datetime.combine(day, self.start, tzinfo=z).timestamp()
                if t > now:
                    candidates.add(t)
        for t in sorted(candidates):
            if self.allows(t, zones):
                return t
        return None
