"""A campaign's own calling rules and the [dialer] defaults it inherits.

A campaign may set its own calling window (start and end, together), calling days, holidays,
default time zone (for numbers phonenumbers cannot place) and retry delay per outcome. Every
rule it leaves unset (None; a retry outcome absent from its map) is the [dialer] value of the
moment: `merge` gives the effective rules and names the ones that came from the defaults.

    effective rule = the campaign's value if set, else [dialer]'s

A campaign's value replaces the default whole: its holidays are its list (a campaign calling
another country has other holidays), not added to [dialer]'s. `max_attempts` is a column of the
campaign itself (no default to inherit) and is carried here so that one value holds everything
the scheduler needs.

`parse_rules` is the one validation of a campaign's rules, used by the REST routes before
anything is stored: each refusal is an InvalidRule naming its field. The window is one span
within the called person's local day: start must be before end ("24:00" may end it). A window
that crosses midnight (start after end) is refused on purpose: the day and holiday a late call
belongs to would be ambiguous, and no calling-hours rule we know of allows night calls.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from acd.dialer.errors import InvalidRule
from acd.dialer.leads import RetryPolicy
from acd.dialer.windows import CallingWindow
from config.dialer import WEEKDAYS, DialerSettings

# Outcomes that are retried; "invalid" (a number that cannot be dialled) and "connected" (a
# person reached an agent: the disposition decides) never are.
RETRY_OUTCOMES = ("busy", "no_answer", "machine", "abandoned", "failed")
MAX_DELAY_S = 90 * 86_400.0
MAX_HOLIDAYS = 500
RULE_FIELDS = ("window_start", "window_end", "days", "holidays", "default_timezone",
               *(f"retry_delay_s.{o}" for o in RETRY_OUTCOMES))
_TOP_FIELDS = ("window_start", "window_end", "days", "holidays", "default_timezone",
               "retry_delay_s")
_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]|24:00")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,3}")
_KEY = re.compile(r"[a-z_]{1,20}")


@dataclass(frozen=True, slots=True)
class CampaignRules:
    """A campaign's own rules, validated; None (an outcome absent) = inherit [dialer]'s."""

    window_start: str | None = None  # "HH:MM", set together with window_end
    window_end: str | None = None
    days: tuple[str, ...] | None = None  # "mon".."sun", in weekday order
    holidays: tuple[str, ...] | None = None  # "YYYY-MM-DD" local dates, sorted
    default_timezone: str | None = None  # "" = none: unplaceable numbers are not dialled
    retry_delay_s: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({}))

    def as_dict(self) -> dict[str, object]:
        return {"window_start": self.window_start, "window_end": self.window_end,
                "days": list(self.days) if self.days is not None else None,
                "holidays": list(self.holidays) if self.holidays is not None else None,
                "default_timezone": self.default_timezone,
                "retry_delay_s": {o: self.retry_delay_s[o] for o in RETRY_OUTCOMES
                                  if o in self.retry_delay_s}}


@dataclass(frozen=True, slots=True)
class EffectiveRules:
    """What the dialer applies to one campaign: its rules over the defaults."""

    window_start: str
    window_end: str
    days: tuple[str, ...]
    holidays: tuple[str, ...]
    default_timezone: str
    retry_delay_s: Mapping[str, float]
    max_attempts: int
    from_defaults: frozenset[str]  # RULE_FIELDS the campaign leaves to [dialer]
    window: CallingWindow

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.max_attempts, delays=self.retry_delay_s)

    def inherited(self) -> list[str]:
        """The rules that come from [dialer], in RULE_FIELDS order."""
        return [f for f in RULE_FIELDS if f in self.from_defaults]

    def as_dict(self) -> dict[str, object]:
        return {"window_start": self.window_start, "window_end": self.window_end,
                "days": list(self.days), "holidays": list(self.holidays),
                "default_timezone": self.default_timezone,
                "retry_delay_s": dict(self.retry_delay_s), "max_attempts": self.max_attempts,
                "from_defaults": self.inherited()}


def merge(rules: CampaignRules | None, defaults: DialerSettings, max_attempts: int = 5
          ) -> EffectiveRules:
    """The campaign's value for each rule it sets, [dialer]'s for the others."""
    own = rules or CampaignRules()
    inherited = {f for f, mine in (
        ("window_start", own.window_start), ("window_end", own.window_end), ("days", own.days),
        ("holidays", own.holidays), ("default_timezone", own.default_timezone)) if mine is None}
    start = own.window_start if own.window_start is not None else defaults.window_start
    end = own.window_end if own.window_end is not None else defaults.window_end
    days = own.days if own.days is not None else tuple(defaults.days)
    holidays = own.holidays if own.holidays is not None else tuple(defaults.holidays)
    zone_name = (own.default_timezone if own.default_timezone is not None
                 else defaults.default_timezone)
    default_delays = defaults.retry_delay_s.model_dump()
    delays: dict[str, float] = {}
    for outcome in RETRY_OUTCOMES:
        mine = own.retry_delay_s.get(outcome)
        if mine is None:
            inherited.add(f"retry_delay_s.{outcome}")
        delays[outcome] = float(default_delays[outcome] if mine is None else mine)
    window = CallingWindow(start=_time(start), end=_time(end),
                           days=frozenset(WEEKDAYS.index(d) for d in days),
                           holidays=frozenset(dt.date.fromisoformat(h) for h in holidays))
    return EffectiveRules(start, end, days, holidays, zone_name, MappingProxyType(delays),
                          max_attempts, frozenset(inherited), window)


def effective_window(rules: CampaignRules | None, defaults: DialerSettings) -> CallingWindow:
    """The calling window (hours, days, holidays) a campaign's calls are placed in."""
    return merge(rules, defaults).window


def effective_zone(rules: CampaignRules | None, defaults: DialerSettings) -> str:
    """The zone for numbers phonenumbers cannot place ("" = such numbers are not dialled)."""
    if rules is not None and rules.default_timezone is not None:
        return rules.default_timezone
    return defaults.default_timezone


# ------------------------------------------------------------------ validation


def parse_rules(raw: Mapping[str, object], base: CampaignRules | None = None) -> CampaignRules:
    """Rules from a JSON object. Without `base`, every rule not given is inherited (a full
    replacement); with it, only the rules given change (null: back to the default) and
    `retry_delay_s` changes per outcome. InvalidRule names the first field refused."""
    for key in raw:
        if key not in _TOP_FIELDS:
            raise InvalidRule(_name(key), "unknown rule; the rules are "
                              + ", ".join(_TOP_FIELDS))
    old = base or CampaignRules()
    values: dict[str, object] = {
        "window_start": old.window_start, "window_end": old.window_end, "days": old.days,
        "holidays": old.holidays, "default_timezone": old.default_timezone}
    delays = dict(old.retry_delay_s)
    if "window_start" in raw:
        values["window_start"] = _hhmm("window_start", raw["window_start"])
    if "window_end" in raw:
        values["window_end"] = _hhmm("window_end", raw["window_end"])
    if "days" in raw:
        values["days"] = _days(raw["days"])
    if "holidays" in raw:
        values["holidays"] = _holidays(raw["holidays"])
    if "default_timezone" in raw:
        values["default_timezone"] = _zone_name(raw["default_timezone"])
    if "retry_delay_s" in raw:
        given = raw["retry_delay_s"]
        if given is None:
            delays = {}
        elif not isinstance(given, Mapping):
            raise InvalidRule("retry_delay_s", "must be an object: outcome -> seconds, e.g. "
                              '{"busy": 600}')
        else:
            if base is None:
                delays = {}
            for outcome, seconds in given.items():
                name = _outcome(outcome)
                if seconds is None:
                    delays.pop(name, None)
                else:
                    delays[name] = _delay(f"retry_delay_s.{name}", seconds)
    start, end = values["window_start"], values["window_end"]
    if (start is None) != (end is None):
        missing = "window_end" if end is None else "window_start"
        raise InvalidRule(missing, "set window_start and window_end together (or neither, to "
                          "inherit [dialer]'s window)")
    if isinstance(start, str) and isinstance(end, str) and not _time(start) < _time(end):
        raise InvalidRule("window_end", f"window_start {start} is not before window_end {end}: "
                          "the calling window is one span within the called person's local "
                          "day; a window crossing midnight is not allowed")
    return CampaignRules(
        window_start=start if isinstance(start, str) else None,
        window_end=end if isinstance(end, str) else None,
        days=_tuple_or_none(values["days"]), holidays=_tuple_or_none(values["holidays"]),
        default_timezone=(values["default_timezone"]
                          if isinstance(values["default_timezone"], str) else None),
        retry_delay_s=MappingProxyType({o: delays[o] for o in RETRY_OUTCOMES if o in delays}))


def _tuple_or_none(v: object) -> tuple[str, ...] | None:
    return tuple(str(x) for x in v) if isinstance(v, tuple) else None


def _show(v: object) -> str:
    """A refused value for a message: short, its control characters escaped by repr."""
    return repr(v[:20]) if isinstance(v, str) else type(v).__name__


def _name(key: object) -> str:
    return key if isinstance(key, str) and _KEY.fullmatch(key) else _show(key)


def _time(text: str) -> dt.time:
    return dt.time.max if text == "24:00" else dt.time.fromisoformat(text)


def _hhmm(name: str, v: object) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str) or not _HHMM.fullmatch(v):
        raise InvalidRule(name, f"{_show(v)} is not a time of day: write HH:MM on a 24-hour "
                          'clock, e.g. "08:00" or "21:00" ("24:00" for the end of the day)')
    if v == "24:00" and name != "window_end":
        raise InvalidRule(name, '"24:00" can only end a window')
    return v


def _days(v: object) -> tuple[str, ...] | None:
    if v is None:
        return None
    if not isinstance(v, list | tuple) or not v:
        raise InvalidRule("days", "must be a non-empty list of weekdays: "
                          + ", ".join(WEEKDAYS))
    seen: set[str] = set()
    for d in v:
        if not isinstance(d, str) or d not in WEEKDAYS:
            raise InvalidRule("days", f"{_show(d)} is not a weekday: use "
                              + ", ".join(WEEKDAYS))
        if d in seen:
            raise InvalidRule("days", f"{d!r} is listed twice")
        seen.add(d)
    return tuple(d for d in WEEKDAYS if d in seen)


def _holidays(v: object) -> tuple[str, ...] | None:
    if v is None:
        return None
    if not isinstance(v, list | tuple):
        raise InvalidRule("holidays", 'must be a list of dates, e.g. ["2026-12-25"] ([] for '
                          "none)")
    if len(v) > MAX_HOLIDAYS:
        raise InvalidRule("holidays", f"at most {MAX_HOLIDAYS} dates, got {len(v)}")
    out: set[str] = set()
    for d in v:
        if not isinstance(d, str) or not _DATE.fullmatch(d):
            raise InvalidRule("holidays", f"{_show(d)} is not a date: write YYYY-MM-DD, e.g. "
                              '"2026-12-25"')
        try:
            day = dt.date.fromisoformat(d)
        except ValueError:
            raise InvalidRule("holidays", f"{d!r} is not a date of the calendar") from None
        if not 2000 <= day.year <= 2199:
            raise InvalidRule("holidays", f"{d!r} is outside the years 2000-2199")
        if d in out:
            raise InvalidRule("holidays", f"{d!r} is listed twice")
        out.add(d)
    return tuple(sorted(out))


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _zone_name(v: object) -> str | None:
    if v is None:
        return None
    if v == "":
        return ""
    if not isinstance(v, str) or len(v) > 64 or not _ZONE.fullmatch(v):
        raise InvalidRule("default_timezone", f"{_show(v)} is not a time zone name: use an IANA "
                          "name such as \"America/New_York\" (\"\" for none)")
    if v not in _known_zones():
        raise InvalidRule("default_timezone", f"unknown time zone {v!r}: use an IANA name such "
                          "as \"America/New_York\" or \"Asia/Shanghai\"")
    return v


def _outcome(key: object) -> str:
    if isinstance(key, str) and key in RETRY_OUTCOMES:
        return key
    where = f"retry_delay_s.{_name(key)}"
    if key in ("invalid", "connected"):
        raise InvalidRule(where, f"{key!r} is never retried (an invalid number is failed, a "
                          "connected lead waits for its disposition)")
    raise InvalidRule(where, "unknown outcome: the retried outcomes are "
                      + ", ".join(RETRY_OUTCOMES))


def _delay(name: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise InvalidRule(name, f"{_show(v)} is not a number of seconds")
    if not 0 < v <= MAX_DELAY_S:
        raise InvalidRule(name, f"{v} s is outside (0, {MAX_DELAY_S:.0f}] (more than 0, at "
                          "most 90 days)")
    return float(v)
