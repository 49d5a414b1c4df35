"""[dialer]: outbound campaigns' compliance and retry rules (acd/dialer/).

The calling window, days, holidays, default_timezone and retry delays are the defaults of every
campaign: a campaign may set its own (acd/dialer/rules.py, `campaign_rules` in the CRM) and
inherits each rule it leaves unset from here.

    [dialer]
    window_start = "08:00"          # calling window, in the CALLED person's local time
    window_end = "21:00"            # [start, end): 21:00 itself is outside
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    holidays = ["2026-12-25"]       # local dates (of the called person) never called
    default_timezone = ""           # IANA zone for numbers phonenumbers cannot place
    abandon_target = 0.03           # abandoned / live answers, per campaign, 24 h and 30 days
    abandon_deadline_s = 2.0        # a person gets an agent within this, or the message
    min_ring_s = 15.0               # the shortest ring the rules allow ...
    ring_timeout_s = 25.0           # ... and how long Originates ring (>= min_ring_s)
    tick_s = 1.0                    # pacing decisions this often
    preview_hold_s = 120.0          # a preview lead is held this long for the agent it shows
    preview_skip_s = 900.0          # a skipped preview lead comes back after this

    [dialer.retry_delay_s]          # next attempt after an outcome (seconds)
    busy = 600.0
    no_answer = 7200.0
    machine = 72000.0               # 20 h: "next day", at another hour of the day
    abandoned = 3600.0
    failed = 900.0

The called person's zone comes from the lead (its `timezone`, e.g. from an address) or from the
number (phonenumbers; a number spread over several zones is called only when the window is open
in all of them). `default_timezone` is used only for numbers phonenumbers cannot place at all;
left empty, such leads are not dialled (failed with last_result "no-timezone") rather than called
at a guessed hour.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from config.base import Section, invalid

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()
_HHMM = re.compile(r"([01][0-9]|2[0-4]):([0-5][0-9])")
# The US TSR / FCC rules (DESIGN.md field notes): never shorter, never later.
REGULATORY_MIN_RING_S = 15.0
REGULATORY_ABANDON_DEADLINE_S = 2.0
REGULATORY_ABANDON_RATE = 0.03


def parse_hhmm(text: str, at: str = "") -> dt.time:
    m = _HHMM.fullmatch(text)
    if m is None or (m.group(1) == "24" and m.group(2) != "00"):
        raise invalid(f"{text[:20]!r} is not a time of day",
                      "write HH:MM on a 24-hour clock, e.g. \"08:00\" or \"21:00\"", at=at)
    hour, minute = int(m.group(1)), int(m.group(2))
    return dt.time.max if hour == 24 else dt.time(hour, minute)


class RetryDelays(Section):
    """Seconds until the next attempt after each outcome (invalid numbers are never retried)."""

    busy: float = Field(default=600.0, ge=0, le=90 * 86_400)
    no_answer: float = Field(default=7_200.0, ge=0, le=90 * 86_400)
    machine: float = Field(default=72_000.0, ge=0, le=90 * 86_400)
    abandoned: float = Field(default=3_600.0, ge=0, le=90 * 86_400)
    failed: float = Field(default=900.0, ge=0, le=90 * 86_400)


class DialerSettings(Section):
    window_start: str = "08:00"
    window_end: str = "21:00"
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS))
    holidays: list[str] = Field(default_factory=list)
    default_timezone: str = ""
    abandon_target: float = 0.03
    abandon_deadline_s: float = 2.0
    min_ring_s: float = Field(default=15.0, le=120)
    ring_timeout_s: float = Field(default=25.0, gt=0, le=300)
    tick_s: float = Field(default=1.0, gt=0, le=60)
    preview_hold_s: float = Field(default=120.0, gt=0, le=3600)
    preview_skip_s: float = Field(default=900.0, ge=0, le=7 * 86_400)
    # Free agents a campaign leaves to inbound while an inbound queue they serve is below its
    # service-level target (acd/dialer/blend.py); 0 = off.
    inbound_reserve_agents: int = Field(default=0, ge=0, le=10_000)
    retry_delay_s: RetryDelays = RetryDelays()

    @field_validator("abandon_target")
    @classmethod
    def _target(cls, v: float) -> float:
        if not 0 <= v <= REGULATORY_ABANDON_RATE:
            raise invalid(f"abandon_target {v} is outside 0..{REGULATORY_ABANDON_RATE}",
                          "the rules allow at most 3 % abandoned calls (of live answers) per "
                          "campaign: use 0.03 or less, e.g. 0.025 for a safety margin")
        return v

    @field_validator("abandon_deadline_s")
    @classmethod
    def _deadline(cls, v: float) -> float:
        if not 0 < v <= REGULATORY_ABANDON_DEADLINE_S:
            raise invalid(f"abandon_deadline_s {v} is outside (0, 2]",
                          "the rules require an agent or the recorded message within 2 s of "
                          "the greeting: use 2.0 or less")
        return v

    @field_validator("min_ring_s")
    @classmethod
    def _min_ring(cls, v: float) -> float:
        if v < REGULATORY_MIN_RING_S:
            raise invalid(f"min_ring_s {v} is shorter than the 15 s the rules require",
                          "use 15 or more (and ring_timeout_s at least as long)")
        return v

    @field_validator("window_start", "window_end")
    @classmethod
    def _time(cls, v: str) -> str:
        parse_hhmm(v)
        return v

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[str]) -> list[str]:
        if not v:
            raise invalid("no calling day is listed", "list at least one of "
                          + ", ".join(WEEKDAYS))
        for i, d in enumerate(v):
            if d not in WEEKDAYS:
                raise invalid(f"{d[:20]!r} is not a weekday",
                              f"use the three-letter names {', '.join(WEEKDAYS)}", at=str(i))
        return v

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, v: list[str]) -> list[str]:
        for i, d in enumerate(v):
            try:
                dt.date.fromisoformat(d)
            except ValueError:
                raise invalid(f"{d[:20]!r} is not a date", "write YYYY-MM-DD, e.g. "
                              "\"2026-12-25\"", at=str(i)) from None
        return v

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        if v:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise invalid(f"unknown time zone {v[:60]!r}",
                              "use an IANA name such as 'America/New_York', or \"\" to skip "
                              "numbers whose zone is unknown") from None
        return v

    @model_validator(mode="after")
    def _consistent(self) -> DialerSettings:
        if not parse_hhmm(self.window_start) < parse_hhmm(self.window_end):
            raise invalid(f"window_start {self.window_start} is not before window_end "
                          f"{self.window_end}", "the window is one span within a local day, "
                          "e.g. window_start = \"08:00\", window_end = \"21:00\"",
                          at="window_end")
        if self.ring_timeout_s < self.min_ring_s:
            raise invalid(f"ring_timeout_s {self.ring_timeout_s} is shorter than min_ring_s "
                          f"{self.min_ring_s}", "let calls ring at least min_ring_s (the rules "
                          "require 15 s): raise ring_timeout_s", at="ring_timeout_s")
        return self

    # ------------------------------------------------------------------ derived values

    @property
    def start_time(self) -> dt.time:
        return parse_hhmm(self.window_start)

    @property
    def end_time(self) -> dt.time:
        return parse_hhmm(self.window_end)

    @property
    def weekday_numbers(self) -> frozenset[int]:
        return frozenset(WEEKDAYS.index(d) for d in self.days)

    @property
    def holiday_dates(self) -> frozenset[dt.date]:
        return frozenset(dt.date.fromisoformat(d) for d in self.holidays)
