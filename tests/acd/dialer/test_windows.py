"""Calling windows in the called person's local time, across zones and DST, with a fixed now."""

from __future__ import annotations

import datetime as dt

import pytest

from acd.dialer.errors import InvalidNumber, InvalidWindow, UnknownZone
from acd.dialer.windows import CallingWindow, zone, zones_for_number

UTC = dt.UTC
NY = "+12125551234"
LA = "+13105551234"
PHOENIX = "+15205551234"
LONDON = "+442071234567"
SYDNEY = "+61291234567"
TOLL_FREE = "+18005551234"


def ts(*a: int) -> float:
    return dt.datetime(*a, tzinfo=UTC).timestamp()


W = CallingWindow()


def allowed(number: str, now: float, window: CallingWindow = W) -> bool:
    return window.allows(now, zones_for_number(number))


def test_new_york_window_follows_dst() -> None:
    # Winter (EST, UTC-5): 8:00 local is 13:00 UTC.
    assert not allowed(NY, ts(2026, 1, 15, 12, 59))
    assert allowed(NY, ts(2026, 1, 15, 13, 0))
    # Summer (EDT, UTC-4): 8:00 local is 12:00 UTC.
    assert allowed(NY, ts(2026, 7, 15, 12, 0))
    assert not allowed(NY, ts(2026, 7, 15, 11, 59))
    # 21:00 is closed: 01:00 UTC next day in summer.
    assert allowed(NY, ts(2026, 7, 16, 0, 59)) and not allowed(NY, ts(2026, 7, 16, 1, 0))


def test_dst_change_day_in_new_york() -> None:
    # 2026-03-08 02:00 EST -> 03:00 EDT. 8:00 local that day is 12:00 UTC; the day before 13:00.
    assert not allowed(NY, ts(2026, 3, 7, 12, 30)) and allowed(NY, ts(2026, 3, 7, 13, 0))
    assert allowed(NY, ts(2026, 3, 8, 12, 0)) and not allowed(NY, ts(2026, 3, 8, 11, 59))
    tz = zones_for_number(NY)
    assert W.next_open(ts(2026, 3, 8, 2, 0), tz) == ts(2026, 3, 8, 12, 0)
    # Autumn back (2026-11-01 02:00 EDT -> 01:00 EST): 8:00 local is 13:00 UTC that day.
    assert W.next_open(ts(2026, 11, 1, 5, 0), tz) == ts(2026, 11, 1, 13, 0)


def test_phoenix_has_no_dst_and_london_sydney_differ() -> None:
    assert allowed(PHOENIX, ts(2026, 7, 15, 15, 0))  # 8:00 MST
    assert not allowed(PHOENIX, ts(2026, 7, 15, 14, 59))
    assert allowed(LONDON, ts(2026, 7, 15, 7, 0))  # 8:00 BST
    assert not allowed(LONDON, ts(2026, 1, 15, 7, 30))  # 7:30 GMT
    # Sydney is in summer time in January (UTC+11): 8:00 local is 21:00 UTC the day before.
    assert allowed(SYDNEY, ts(2026, 1, 14, 21, 0)) and not allowed(SYDNEY, ts(2026, 1, 14, 20, 59))


def test_same_instant_open_in_one_zone_closed_in_another() -> None:
    now = ts(2026, 7, 15, 13, 30)  # 9:30 in New York, 6:30 in Los Angeles
    assert allowed(NY, now) and not allowed(LA, now)
    assert W.next_open(now, zones_for_number(LA)) == ts(2026, 7, 15, 15, 0)


def test_number_spanning_many_zones_needs_all_open() -> None:
    zones = zones_for_number(TOLL_FREE)
    assert len(zones) > 10
    now = ts(2026, 7, 15, 14, 0)  # 10:00 in New York, 4:00 in Honolulu, 0:00 in Guam
    assert not W.allows(now, zones)
    at = W.next_open(now, zones)
    assert at is not None and now < at and all(W.open_in(at, z) for z in zones)
    assert not W.allows(at - 60, zones)
    # Zones whose windows never overlap: no time is allowed.
    narrow = CallingWindow(start=dt.time(9), end=dt.time(10))
    apart = (zone("America/New_York"), zone("Australia/Sydney"))
    assert narrow.next_open(now, apart) is None
    # A lead that knows its zone is judged in that zone alone.
    assert zones_for_number(TOLL_FREE, "America/Chicago") == (zone("America/Chicago"),)


def test_unknown_region_falls_back_to_default_zone() -> None:
    assert zones_for_number("+80012345678", default_zone="Europe/Paris") == (
        zone("Europe/Paris"),)


def test_without_a_default_zone_an_unplaceable_number_is_never_guessed() -> None:
    with pytest.raises(UnknownZone, match="default_timezone"):
        zones_for_number("+80012345678")
    assert zones_for_number("+80012345678", "Asia/Tokyo") == (zone("Asia/Tokyo"),)


def test_weekdays_and_holidays() -> None:
    w = CallingWindow(days=frozenset(range(5)), holidays=frozenset({dt.date(2026, 7, 3)}))
    tz = zones_for_number(NY)
    assert not w.allows(ts(2026, 7, 3, 14, 0), tz)  # Friday holiday
    assert not w.allows(ts(2026, 7, 4, 14, 0), tz)  # Saturday
    assert w.next_open(ts(2026, 7, 3, 14, 0), tz) == ts(2026, 7, 6, 12, 0)  # Monday 8:00 EDT


def test_holiday_is_a_local_date() -> None:
    # 2026-12-25 02:00 UTC is still the 24th in Los Angeles (18:00 PST): open there.
    w = CallingWindow(holidays=frozenset({dt.date(2026, 12, 25)}))
    assert w.allows(ts(2026, 12, 25, 2, 0), zones_for_number(LA))
    assert not w.allows(ts(2026, 12, 25, 14, 0), zones_for_number(NY))


def test_bad_windows_and_numbers() -> None:
    with pytest.raises(InvalidWindow):
        CallingWindow(start=dt.time(21), end=dt.time(8))
    with pytest.raises(InvalidWindow):
        CallingWindow(days=frozenset({7}))
    with pytest.raises(InvalidWindow, match="America/New_York"):
        zones_for_number(NY, "Mars/Olympus")
    with pytest.raises(InvalidNumber):
        zones_for_number("12\r\n34")
