"""[pages]: the web pages' defaults (language, clock, phone style) and the wallboard's colours."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from config.base import Section, invalid


class PagesSettings(Section):
    # Interface language for users who have not picked one in their browser.
    language: Literal["zh-CN", "en"] = "zh-CN"
    # IANA zone the pages show times in ("" = the browser's own zone).
    timezone: str = ""
    # ISO country whose style phone numbers are shown in ("" = crm.default_region).
    country: str = Field(default="", pattern=r"^([A-Z]{2})?$")
    # Wallboard tile colours. Service level: warn below the queue's service_level_target, bad
    # more than sl_bad_margin below it. Longest wait: warn past the queue's service_level_s
    # times wait_warn_factor, bad past wait_bad_factor times it. Abandon rate: warn/bad above.
    sl_bad_margin: float = Field(default=0.15, ge=0, le=1)
    wait_warn_factor: float = Field(default=1.0, gt=0)
    wait_bad_factor: float = Field(default=3.0, gt=0)
    abandon_warn: float = Field(default=0.05, ge=0, le=1)
    abandon_bad: float = Field(default=0.10, ge=0, le=1)

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

    @model_validator(mode="after")
    def _ordered(self) -> PagesSettings:
        if self.wait_bad_factor < self.wait_warn_factor:
            raise invalid("wait_bad_factor is below wait_warn_factor",
                          "make wait_bad_factor >= wait_warn_factor", at="wait_bad_factor")
        if self.abandon_bad < self.abandon_warn:
            raise invalid("abandon_bad is below abandon_warn",
                          "make abandon_bad >= abandon_warn", at="abandon_bad")
        return self
