"""[ivr]: which menu files the IVR runs (ivr/ loads and validates them; see ivr/loader.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from config.base import Section

# The shipped demo menus, used when [ivr].menus is empty.
SHIPPED_MENUS = Path(__file__).resolve().parent / "ivr"


class IvrSettings(Section):
    # Menu files or directories of *.toml files; [] = the shipped menus in config/ivr/.
    menus: list[str] = Field(default_factory=list)
    # The menu agi://HOST:PORT/ivr runs; agi://HOST:PORT/ivr?menu=NAME picks another.
    menu: str = Field(default="main", pattern=r"^[a-z][a-z0-9_]{0,47}$")
    # Asterisk sound directories holding <language>/<prompt>.<ext>. When given, every prompt a
    # menu names must exist there in the menu's default language (checked at load).
    sound_dirs: list[str] = Field(default_factory=list)
    # Every business_hours condition of every menu: "menu" = the menus' own hours; "open" =
    # always open (staffed around the clock, or a demo); "closed" = closed now (an emergency
    # closure); "" = the menus' hours, except under --demo, which is open around the clock.
    hours_override: Literal["", "menu", "open", "closed"] = ""

    def hours_mode(self, *, demo: bool) -> Literal["", "open", "closed"]:
        """What the menus' business-hours conditions follow: "" = their own hours."""
        if self.hours_override in ("open", "closed"):
            return self.hours_override
        return "open" if demo and self.hours_override == "" else ""

    def menu_paths(self) -> list[Path]:
        return [Path(p) for p in self.menus] if self.menus else [SHIPPED_MENUS]
