"""The loaded menus and their hot reload.

`reload()` builds every menu anew and swaps the whole set only when all of them are valid: an
invalid new version is refused (the error says which file, node and fix) and the old set keeps
running. A call holds the `Menu` object it started with, so it finishes on that version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings
from cti import commands
from cti.dialpolicy import DialPolicy
from ivr.errors import IvrError, MenuConfigError
from ivr.loader import Context, load_menus
from ivr.model import Menu

# Whose dial rules an IVR transfer follows (the [dialing] role overrides apply).
IVR_DIAL_ROLE = "agent"


def context_for(settings: Settings, *, demo: bool = False) -> Context:
    queues = frozenset(q.name for q in settings.acd.queues)
    skills = settings.acd.known_skills()  # the queues' skills and [acd].extra_skills
    policy = DialPolicy(settings.dialing)

    def check_number(number: str) -> str:
        """The click-to-dial validation of a transfer target, as far as it can be decided
        before a call: the dial string rules, then the dial policy with the agents' rules
        (the IVR transfers on the caller's behalf, like an agent). Whether a short digit
        string is a user's extension is known only per call (ivr/service.py asks again)."""
        checked = commands.check_number(number, settings.dialing)
        decision = policy.check(number, policy.rules_for(IVR_DIAL_ROLE), lambda _: True)
        if not decision.allowed:
            raise ValueError(decision.message)
        return checked

    return Context(queues=queues, skills=skills,
                   sound_dirs=tuple(Path(d) for d in settings.ivr.sound_dirs),
                   check_number=check_number,
                   hours_override=settings.ivr.hours_mode(demo=demo))


def load_configured(settings: Settings, version: int = 1, *, demo: bool = False
                    ) -> dict[str, Menu]:
    """Every configured menu; also checks that [ivr].menu names one of them."""
    menus = load_menus(settings.ivr.menu_paths(), context_for(settings, demo=demo), version)
    if settings.ivr.menu not in menus:
        names = ", ".join(sorted(menus)) or "(none)"
        where = ", ".join(str(p) for p in settings.ivr.menu_paths())
        raise MenuConfigError(where, "", f"[ivr].menu {settings.ivr.menu!r} is not a loaded "
                              f"menu (loaded: {names})",
                              "set [ivr].menu to a menu's [menu].name, or add its file to "
                              "[ivr].menus")
    return menus


@dataclass(frozen=True, slots=True)
class ReloadResult:
    ok: bool
    version: int
    menus: tuple[str, ...]
    error: str = ""


class MenuRegistry:
    def __init__(self, settings: Settings, *, demo: bool = False) -> None:
        self.settings = settings
        self.demo = demo  # --demo: business hours open around the clock unless configured
        self.version = 1
        self._menus: Mapping[str, Menu] = load_configured(settings, self.version, demo=demo)

    @property
    def menus(self) -> Mapping[str, Menu]:
        return self._menus

    def get(self, name: str | None = None) -> Menu | None:
        return self._menus.get(name or self.settings.ivr.menu)

    def reload(self) -> ReloadResult:
        try:
            menus = load_configured(self.settings, self.version + 1, demo=self.demo)
        except IvrError as exc:
            return ReloadResult(False, self.version, tuple(sorted(self._menus)), str(exc))
        self.version += 1
        self._menus = menus
        return ReloadResult(True, self.version, tuple(sorted(menus)))
