"""[reports]: the call-center event log and the historical reports built on it."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from config.base import Section

QUEUE_NAME = r"[a-z][a-z0-9_-]{0,31}"  # as config/acd.py QueueSettings.name


class ReportsSettings(Section):
    # Event-log rows are written in batches this often (seconds), off the routing path.
    flush_interval_s: float = Field(default=1.0, gt=0, le=60)
    # Rows kept in memory while the database refuses writes; beyond this the oldest are dropped
    # (with a log line counting them) rather than growing without bound.
    max_pending_events: int = Field(default=200_000, ge=1000)
    # First-call resolution: an answered call is resolved unless the same number calls again
    # within this many days.
    repeat_window_days: float = Field(default=3.0, ge=0, le=90)
    # IANA zone for days and hours in reports ("" = the server's local time).
    timezone: str = ""
    # Outbound reports: a connected dialer call whose CRM disposition (the agent's wrap-up code)
    # is one of these counts as a conversion.
    conversion_dispositions: list[str] = Field(default_factory=lambda: ["sale"])
    # Inbound figures by team: queue name -> the team (its name in the CRM) that owns the
    # queue; its unanswered calls (abandons, overflows, callbacks) count for that team
    # (reports/teams.py). A queue not listed: they count under "(none)".
    queue_teams: dict[str, str] = Field(default_factory=dict)

    @field_validator("queue_teams")
    @classmethod
    def _queue_names(cls, v: dict[str, str]) -> dict[str, str]:
        for queue, team in v.items():
            if not re.fullmatch(QUEUE_NAME, queue):
                raise ValueError(f"queue_teams: {queue[:40]!r} is not a queue name (lower-case "
                                 "letters, digits, '_' or '-', starting with a letter)")
            if not team.strip() or len(team) > 100 or any(ord(c) < 32 for c in team):
                raise ValueError(f"queue_teams.{queue}: {team[:40]!r} is not a team name; "
                                 "give the team's name as the CRM has it")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        if v and v != "UTC":
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {v!r}; use an IANA name such as "
                                 f"'Europe/Paris', or \"\" for the server's local time") from exc
        return v
