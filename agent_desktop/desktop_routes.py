"""GET /api/desktop/config: what the pages need to know before the first call.

The codes an agent may pick (pause reasons, each queue's dispositions), the wallboard's colour
thresholds, and the signed-in user's display defaults (language, time zone, phone style). One
read at page load; the live state comes over the websocket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from agent_desktop.jsonio import json_response
from agent_desktop.policy import ROLES
from agent_desktop.routing import RouteSpec, principal_of
from agent_desktop.wallboard_feed import thresholds_by_queue
from config.settings import Settings
from config.wallboard import Thresholds

if TYPE_CHECKING:
    from crm_core.service import Crm

# Pause reasons the system sets by itself; an agent does not pick them from the menu.
SYSTEM_PAUSE_CODES = frozenset({"missed-call"})


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    dispositions: tuple[str, ...]
    service_level_s: float
    service_level_target: float
    max_wait_s: float


@dataclass(frozen=True, slots=True)
class DesktopUser:
    id: int
    username: str
    display_name: str
    role: str
    team_id: int | None
    extension: str | None


@dataclass(frozen=True, slots=True)
class DesktopConfig:
    user: DesktopUser
    language: str
    timezone: str
    country: str
    placed_call_check_s: float  # [pages]: a placed call dialling this long unheard is read once
    pause_codes: tuple[str, ...]
    dispositions: tuple[str, ...]  # for calls of no (or an unknown) queue
    queues: tuple[QueueConfig, ...]
    wallboard: dict[str, Thresholds]  # queue (and "ALL") -> its [wallboard] thresholds


def desktop_config(settings: Settings, user: Any) -> DesktopConfig:
    pages, acd = settings.pages, settings.acd
    return DesktopConfig(
        user=DesktopUser(id=user.id, username=user.username,
                         display_name=getattr(user, "display_name", "") or user.username,
                         role=user.role, team_id=user.team_id,
                         extension=getattr(user, "extension", None)),
        language=pages.language, timezone=pages.timezone,
        country=pages.country or settings.crm.default_region,
        placed_call_check_s=pages.placed_call_check_s,
        pause_codes=tuple(c for c in acd.pause_codes if c not in SYSTEM_PAUSE_CODES),
        dispositions=tuple(acd.disposition_codes),
        queues=tuple(QueueConfig(q.name, acd.dispositions_for(q.name), q.service_level_s,
                                 q.service_level_target, q.max_wait_s) for q in acd.queues),
        wallboard=thresholds_by_queue(settings),
    )


def desktop_routes(settings: Settings, crm: Crm) -> list[RouteSpec]:
    async def config(request: web.Request) -> web.StreamResponse:
        me = principal_of(request)
        user = await crm.users.get(me.user_id)
        return json_response(desktop_config(settings, user))

    return [RouteSpec("GET", "/api/desktop/config", config, frozenset(ROLES),
                      "What the desktop and wallboard pages need: pause and disposition codes, "
                      "wallboard thresholds, the user's display defaults",
                      response=DesktopConfig, tags=("pages",), operation_id="desktop_config")]
