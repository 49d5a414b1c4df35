"""[reports]: the call-center event log and the historical reports built on it."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from config.base import Section


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
