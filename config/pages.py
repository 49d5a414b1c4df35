"""[pages]: the web pages' defaults (language, clock, phone style); the wallboard's colours are
[wallboard] (config/wallboard.py)."""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from config.base import Section, invalid

# The wallboard's colour keys that [pages] had before [wallboard] existed.
MOVED_TO_WALLBOARD = ("sl_bad_margin", "wait_warn_factor", "wait_bad_factor", "abandon_warn",
                      "abandon_bad")


class PagesSettings(Section):
    # Interface language for users who have not picked one in their browser.
    language: Literal["zh-CN", "en"] = "zh-CN"
    # IANA zone the pages show times in ("" = the browser's own zone).
    timezone: str = ""
    # ISO country whose style phone numbers are shown in ("" = crm.default_region).
    country: str = Field(default="", pattern=r"^([A-Z]{2})?$")
    # A call placed from the desktop (click-to-dial, preview dial) that is still "dialling" this
    # many seconds later with nothing pushed about it is read once over REST: its phone may
    # never have rung, and a call with no channel gets no pbx.call.ended.
    placed_call_check_s: float = Field(default=60.0, gt=0, le=3600)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        if v:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise invalid(f"unknown time zone {v[:60]!r}",
                              "use an IANA name such as \"Asia/Shanghai\", or \"\" for the "
                              "browser's zone") from None
        return v

    @model_validator(mode="before")
    @classmethod
    def _moved_to_wallboard(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in MOVED_TO_WALLBOARD:
                if key in data:
                    raise invalid(f"{key} moved to the [wallboard] section, per figure and "
                                  "per queue", "remove it from [pages] and set [wallboard] "
                                  "waiting_*, longest_wait_s_*, service_level_* or "
                                  "abandon_rate_* (see config/example.toml)", at=key)
        return data
