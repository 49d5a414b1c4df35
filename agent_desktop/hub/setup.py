"""Assembling the hub from the server's parts (kept out of server.py, which many hands edit)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from acd.agent_actions import AgentActions
from agent_desktop.hub import ws
from agent_desktop.hub.commands import Commands
from agent_desktop.hub.hub import AcdServiceView, CrmUserDirectory, Hub
from agent_desktop.routing import RouteSpec
from agent_desktop.wallboard_feed import WallboardFeed
from config.settings import Settings

if TYPE_CHECKING:
    from crm_core.service import Crm


def build_hub(settings: Settings, crm: Crm, acd: Any, *,
              campaigns: Callable[[], Sequence[Any]] | None = None) -> Hub:
    """The hub over a running AcdService and the CRM (times: the ACD's wall clock);
    `campaigns`: the dialer's campaign statuses (DialerService.statuses), for the wallboard."""
    return Hub(settings.desktop, acd=AcdServiceView(acd), crm=crm,
               users=CrmUserDirectory(crm), wall=acd.wall,
               board=WallboardFeed(settings, campaigns=campaigns))


def hub_routes(crm: Crm) -> list[RouteSpec]:
    return ws.hub_routes(crm)


def install_hub(app: web.Application, hub: Hub, acd: Any, crm: Crm, *,
                poll_s: float = 1.0) -> ws.WsEndpoint:
    commands = Commands(AgentActions(acd, crm) if acd is not None else None)
    return ws.install_hub(app, hub, commands, poll_s=poll_s)
