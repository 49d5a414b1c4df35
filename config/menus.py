"""[ivr]: which menu files the IVR runs (ivr/ loads and validates them; see ivr/loader.py)."""

from __future__ import annotations

from pathlib import Path

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

    def menu_paths(self) -> list[Path]:
        return [Path(p) for p in self.menus] if self.menus else [SHIPPED_MENUS]
