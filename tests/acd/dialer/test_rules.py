"""A campaign's own rules over the [dialer] defaults (acd/dialer/rules.py): the merge, the
validation of what a client sends, and the picker never dialling outside a campaign's effective
window, across zones and DST, with a fixed `now`."""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.dialer.dnc import DncList
from acd.dialer.errors import InvalidRule
from acd.dialer.rules import (
    RETRY_OUTCOMES,
    RULE_FIELDS,
    CampaignRules,
    effective_window,
    effective_zone,
    merge,
    parse_rules,
)
from acd.dialer.scheduler import LeadCandidate, pick
from acd.dialer.windows import zones_for_number
from config.dialer import WEEKDAYS, DialerSettings, RetryDelays

NUMBERS = {  # number -> the zones phonenumbers gives it
    "+12125551234": ("America/New_York",),
    "+13105551234": ("America/Los_Angeles",),
    "+15205551234": ("America/Phoenix",),
    "+442071234567": ("Europe/London",),
    "+61291234567": ("Australia/Sydney",),
    "+862112345678": ("Asia/Shanghai",),
}

hhmm = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 30]))


@st.composite
def window_pair(draw: st.DrawFn) -> tuple[str, str]:
    a, b = draw(hhmm), draw(st.one_of(hhmm, st.just("24:00")))
    if a == b:
        b = "24:00" if a != "24:00" else "23:30"
    return (a, b) if a < b else (b, a)


days_st = st.sets(st.sampled_from(WEEKDAYS), min_size=1).map(
    lambda s: tuple(d for d in WEEKDAYS if d in s))
dates_st = st.dates(dt.date(2026, 1, 1), dt.date(2027, 12, 31)).map(dt.date.isoformat)
holidays_st = st.sets(dates_st, max_size=4).map(lambda s: tuple(sorted(s)))
zone_st = st.sampled_from(["", "UTC", "Europe/Paris", "Asia/Shanghai", "America/Chicago"])
delay_st = st.floats(1.0, 90 * 86_400.0, allow_nan=False)


@st.composite
def campaign_rules(draw: st.DrawFn) -> CampaignRules:
    window = draw(st.none() | window_pair())
    return CampaignRules(
        window_start=window[0] if window else None, window_end=window[1] if window else None,
        days=draw(st.none() | days_st), holidays=draw(st.none() | holidays_st),
        default_timezone=draw(st.none() | zone_st),
        retry_delay_s=MappingProxyType(draw(st.dictionaries(
            st.sampled_from(RETRY_OUTCOMES), delay_st))))


@st.composite
def dialer_defaults(draw: st.DrawFn) -> DialerSettings:
    start, end = draw(window_pair())
    delays = {o: draw(delay_st) for o in RETRY_OUTCOMES}
    return DialerSettings(window_start=start, window_end=end, days=list(draw(days_st)),
                          holidays=list(draw(holidays_st)), default_timezone=draw(zone_st),
                          retry_delay_s=RetryDelays(**delays))


# ------------------------------------------------------------------ the merge


@settings(max_examples=200, deadline=None)
@given(rules=st.none() | campaign_rules(), defaults=dialer_defaults(),
       attempts=st.integers(1, 100))
def test_each_effective_rule_is_the_campaigns_if_set_else_the_default(
        rules: CampaignRules | None, defaults: DialerSettings, attempts: int) -> None:
    e = merge(rules, defaults, attempts)
    own = rules or CampaignRules()
    mine: dict[str, Any] = {
        "window_start": own.window_start, "window_end": own.window_end, "days": own.days,
        "holidays": own.holidays, "default_timezone": own.default_timezone,
        **{f"retry_delay_s.{o}": own.retry_delay_s.get(o) for o in RETRY_OUTCOMES}}
    base: dict[str, Any] = {
        "window_start": defaults.window_start, "window_end": defaults.window_end,
        "days": tuple(defaults.days), "holidays": tuple(defaults.holidays),
        "default_timezone": defaults.default_timezone,
        **{f"retry_delay_s.{o}": getattr(defaults.retry_delay_s, o) for o in RETRY_OUTCOMES}}
    got: dict[str, Any] = {
        "window_start": e.window_start, "window_end": e.window_end, "days": e.days,
        "holidays": e.holidays, "default_timezone": e.default_timezone,
        **{f"retry_delay_s.{o}": e.retry_delay_s[o] for o in RETRY_OUTCOMES}}
    assert set(got) == set(RULE_FIELDS)
    for name in RULE_FIELDS:
        assert got[name] == (mine[name] if mine[name] is not None else base[name]), name
    assert e.from_defaults == {n for n in RULE_FIELDS if mine[n] is None}
    assert e.max_attempts == attempts == e.retry_policy().max_attempts
    assert dict(e.retry_policy().delays) == dict(e.retry_delay_s)
    # The window value is built from the effective strings, days and holidays.
    w = e.window
    assert w.start == dt.time.fromisoformat(e.window_start)
    assert w.end == (dt.time.max if e.window_end == "24:00"
                     else dt.time.fromisoformat(e.window_end))
    assert w.days == {WEEKDAYS.index(d) for d in e.days}
    assert w.holidays == {dt.date.fromisoformat(h) for h in e.holidays}
    assert effective_window(rules, defaults) == w
    assert effective_zone(rules, defaults) == e.default_timezone


def test_nothing_set_is_all_defaults_and_holidays_replace_not_add() -> None:
    d = DialerSettings(holidays=["2026-12-25"], default_timezone="Europe/Paris")
    e = merge(None, d)
    assert e.inherited() == list(RULE_FIELDS)
    assert (e.window_start, e.window_end, e.holidays, e.default_timezone) == (
        "08:00", "21:00", ("2026-12-25",), "Europe/Paris")
    own = merge(CampaignRules(holidays=("2026-10-01",), default_timezone=""), d)
    assert own.holidays == ("2026-10-01",)  # the campaign's list, not [dialer]'s added to it
    assert own.default_timezone == ""  # explicitly none: unplaceable numbers are not dialled
    assert "holidays" not in own.from_defaults and "window_start" in own.from_defaults
    none = merge(CampaignRules(holidays=()), d)
    assert none.holidays == () and none.window.holidays == frozenset()


# ------------------------------------------------------------------ validation


@settings(max_examples=150, deadline=None)
@given(rules=campaign_rules())
def test_valid_rules_round_trip_through_their_json(rules: CampaignRules) -> None:
    assert parse_rules(rules.as_dict()) == rules
    assert parse_rules({}, base=rules) == rules  # a PATCH of nothing changes nothing


def test_patch_changes_only_what_it_names() -> None:
    base = parse_rules({"window_start": "09:00", "window_end": "17:00", "days": ["mon", "tue"],
                        "retry_delay_s": {"busy": 300, "machine": 86400}})
    p = parse_rules({"days": None, "retry_delay_s": {"busy": None, "failed": 60}}, base=base)
    assert (p.window_start, p.window_end, p.days) == ("09:00", "17:00", None)
    assert dict(p.retry_delay_s) == {"machine": 86400.0, "failed": 60.0}
    # A PUT (no base) replaces the whole map.
    assert dict(parse_rules({"retry_delay_s": {"failed": 60}}).retry_delay_s) == {"failed": 60.0}
    p = parse_rules({"window_start": "10:00"}, base=base)
    assert (p.window_start, p.window_end) == ("10:00", "17:00")
    assert parse_rules({"retry_delay_s": None}, base=base).retry_delay_s == {}
    assert parse_rules({"days": ["fri", "mon"]}).days == ("mon", "fri")  # weekday order
    assert parse_rules({"holidays": ["2026-12-25", "2026-01-01"]}).holidays == (
        "2026-01-01", "2026-12-25")


REFUSED: list[tuple[dict[str, Any], str, str]] = [
    # (rules, field named, words in the message)
    ({"window_start": "21:00", "window_end": "08:00"}, "window_end", "crossing midnight"),
    ({"window_start": "09:00", "window_end": "09:00"}, "window_end", "not before"),
    ({"window_start": "9:00", "window_end": "17:00"}, "window_start", "HH:MM"),
    ({"window_start": "09:00", "window_end": "24:01"}, "window_end", "HH:MM"),
    ({"window_start": "24:00", "window_end": "24:00"}, "window_start", "end"),
    ({"window_start": "09:00\r\n", "window_end": "17:00"}, "window_start", "HH:MM"),
    ({"window_start": "09:00"}, "window_end", "together"),
    ({"window_end": "17:00"}, "window_start", "together"),
    ({"window_start": 900, "window_end": "17:00"}, "window_start", "not a time"),
    ({"days": []}, "days", "non-empty"),
    ({"days": ["monday"]}, "days", "not a weekday"),
    ({"days": ["mon", "mon"]}, "days", "twice"),
    ({"days": "mon"}, "days", "list"),
    ({"holidays": ["25/12/2026"]}, "holidays", "YYYY-MM-DD"),
    ({"holidays": ["2026-02-30"]}, "holidays", "calendar"),
    ({"holidays": ["20261225"]}, "holidays", "YYYY-MM-DD"),
    ({"holidays": ["2026-12-25\n"]}, "holidays", "YYYY-MM-DD"),
    ({"holidays": ["1066-10-14"]}, "holidays", "2000-2199"),
    ({"holidays": ["2026-12-25", "2026-12-25"]}, "holidays", "twice"),
    ({"holidays": ["2026-01-01"] * 501}, "holidays", "at most"),
    ({"holidays": "2026-12-25"}, "holidays", "list"),
    ({"default_timezone": "Mars/Olympus"}, "default_timezone", "unknown time zone"),
    ({"default_timezone": "../../etc/passwd"}, "default_timezone", "IANA"),
    ({"default_timezone": "Europe/Paris\r\nX-Evil: 1"}, "default_timezone", "IANA"),
    ({"default_timezone": 5}, "default_timezone", "IANA"),
    ({"retry_delay_s": {"busy": 0}}, "retry_delay_s.busy", "more than 0"),
    ({"retry_delay_s": {"busy": -5}}, "retry_delay_s.busy", "more than 0"),
    ({"retry_delay_s": {"machine": 91 * 86_400}}, "retry_delay_s.machine", "90 days"),
    ({"retry_delay_s": {"busy": float("nan")}}, "retry_delay_s.busy", "not a number"),
    ({"retry_delay_s": {"busy": float("inf")}}, "retry_delay_s.busy", "not a number"),
    ({"retry_delay_s": {"busy": True}}, "retry_delay_s.busy", "not a number"),
    ({"retry_delay_s": {"busy": "600"}}, "retry_delay_s.busy", "not a number"),
    ({"retry_delay_s": {"invalid": 600}}, "retry_delay_s.invalid", "never retried"),
    ({"retry_delay_s": {"voicemail": 600}}, "retry_delay_s.voicemail", "unknown outcome"),
    ({"retry_delay_s": {"busy\r\n": 600}}, "retry_delay_s.'busy\\r\\n'", "unknown outcome"),
    ({"retry_delay_s": [600]}, "retry_delay_s", "object"),
    ({"window": "08-21"}, "window", "unknown rule"),
]


@pytest.mark.parametrize(("raw", "field", "words"), REFUSED)
def test_refused_rules_name_their_field(raw: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidRule) as caught:
        parse_rules(raw)
    assert caught.value.field == field
    assert words in caught.value.message
    assert "\r" not in str(caught.value) and "\n" not in str(caught.value)


def test_a_patch_is_checked_against_what_it_keeps() -> None:
    base = parse_rules({"window_start": "09:00", "window_end": "12:00"})
    with pytest.raises(InvalidRule) as caught:
        parse_rules({"window_start": "13:00"}, base=base)
    assert caught.value.field == "window_end"


# ------------------------------------------------------------------ never outside the window

# Instants through 2026 and early 2027, with the DST changes of New York, London and Sydney
# (and Shanghai and Phoenix without DST) drawn more often.
DST_EDGES = [dt.datetime(*a, tzinfo=dt.UTC).timestamp() for a in (
    (2026, 3, 8, 7), (2026, 3, 29, 1), (2026, 4, 5, 16), (2026, 10, 4, 16), (2026, 10, 25, 1),
    (2026, 11, 1, 6))]
instants = st.one_of(
    st.floats(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp(),
              dt.datetime(2027, 3, 1, tzinfo=dt.UTC).timestamp()),
    st.builds(lambda e, d: e + d, st.sampled_from(DST_EDGES), st.floats(-86_400, 86_400)))


def open_at(now: float, zone: str, start: str, end: str, days: tuple[str, ...],
            holidays: tuple[str, ...]) -> bool:
    """Written out again, from the wall clock of the zone: the test's own reading."""
    local = dt.datetime.fromtimestamp(now, ZoneInfo(zone))
    hm = local.strftime("%H:%M")
    return (WEEKDAYS[local.weekday()] in days and local.date().isoformat() not in holidays
            and start <= hm < end)


@settings(max_examples=300, deadline=None)
@given(now=instants, rules=campaign_rules(), defaults=dialer_defaults(),
       lead_zones=st.lists(st.sampled_from(["", "", "Europe/Berlin", "Asia/Tokyo"]),
                           min_size=len(NUMBERS), max_size=len(NUMBERS)))
def test_the_picker_never_dials_outside_the_campaigns_effective_window(
        now: float, rules: CampaignRules, defaults: DialerSettings,
        lead_zones: list[str]) -> None:
    e = merge(rules, defaults, 5)
    leads = [LeadCandidate(i + 1, phone, timezone=tz)
             for i, (phone, tz) in enumerate(zip(NUMBERS, lead_zones, strict=True))]
    picked = pick(now=now, lines=len(leads), campaign_id=1, leads=leads, dnc=DncList(),
                  window=e.window, default_zone=e.default_timezone, max_attempts=e.max_attempts)
    by_id = {ld.lead_id: ld for ld in leads}
    zones = {ld.lead_id: ((ld.timezone,) if ld.timezone else NUMBERS[ld.phone]) for ld in leads}
    for target in picked.dials:
        for z in zones[target.ref_id]:
            assert open_at(now, z, e.window_start, e.window_end, e.days, e.holidays), (
                by_id[target.ref_id], z)
    for skip in picked.skipped:
        assert skip.reason == "window"
        assert not all(open_at(now, z, e.window_start, e.window_end, e.days, e.holidays)
                       for z in zones[skip.ref_id])
        if skip.retry_at is not None:  # when it is due again, the window is open there
            assert skip.retry_at > now
            assert all(open_at(skip.retry_at, z, e.window_start, e.window_end, e.days,
                               e.holidays) for z in zones[skip.ref_id])
    assert len(picked.dials) + len(picked.skipped) == len(leads)
    assert {z.key for z in zones_for_number("+12125551234")} == {"America/New_York"}


def test_two_campaigns_same_instant_same_lead_differ() -> None:
    # 12:00 in New York on Wednesday 2026-07-15: open for the default window, closed for a
    # campaign calling 14:00-21:00, and for one whose holiday it is.
    now = dt.datetime(2026, 7, 15, 16, 0, tzinfo=dt.UTC).timestamp()
    d = DialerSettings()
    lead = [LeadCandidate(1, "+12125551234")]

    def dials(rules: CampaignRules | None) -> tuple[int, float | None]:
        e = merge(rules, d)
        p = pick(now=now, lines=1, campaign_id=1, leads=lead, dnc=DncList(), window=e.window,
                 default_zone=e.default_timezone, max_attempts=e.max_attempts)
        return len(p.dials), (p.skipped[0].retry_at if p.skipped else None)

    assert dials(None) == (1, None)
    late = parse_rules({"window_start": "14:00", "window_end": "21:00"})
    assert dials(late) == (0, dt.datetime(2026, 7, 15, 18, 0, tzinfo=dt.UTC).timestamp())
    holiday = parse_rules({"holidays": ["2026-07-15"]})
    assert dials(holiday) == (0, dt.datetime(2026, 7, 16, 12, 0, tzinfo=dt.UTC).timestamp())
    weekend = parse_rules({"days": ["sat", "sun"]})
    assert dials(weekend) == (0, dt.datetime(2026, 7, 18, 12, 0, tzinfo=dt.UTC).timestamp())
