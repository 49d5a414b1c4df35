"""GET /api/softphone/config: the calling user's own SIP credentials for the browser softphone.

Only ever the caller's own: the extension comes from the caller's user row, and the route takes no
parameter that could name anyone else (any query parameter is refused). Every role may ask, since
supervisors and admins can have an extension too. Responses are never cached (Cache-Control:
no-store), and the password is never logged: the log line says who got the credentials of which
extension.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from aiohttp import web

from agent_desktop.errors import Unauthorized
from agent_desktop.jsonio import json_response
from agent_desktop.routing import RouteRegistry, check_query, principal_of
from agent_desktop.softphone import SoftphoneConfig, credentials_for, disabled
from common.clock import Clock, WallClock
from config.softphone import SoftphoneSettings
from crm_core.errors import NotFound as CrmNotFound

if TYPE_CHECKING:
    from crm_core.service import Crm

log = structlog.get_logger("agent_desktop")

ANY_ROLE = frozenset({"agent", "supervisor", "admin"})
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def softphone_routes(settings: SoftphoneSettings, crm: Crm,
                     clock: Clock | None = None) -> RouteRegistry:
    """`clock`: unix seconds, the start of each TURN credential's lifetime (coturn compares the
    expiry with its own wall clock, so this is the wall clock, not the server's monotonic one)."""
    routes = RouteRegistry()
    wall = clock or WallClock()

    @routes.get("/api/softphone/config", roles=ANY_ROLE, response=SoftphoneConfig,
                tags=("softphone",),
                summary="The caller's own softphone settings and SIP credentials (for their "
                        "extension), or enabled=false when there is no softphone for them")
    async def softphone_config(request: web.Request) -> web.StreamResponse:
        check_query(request, frozenset())  # nothing may select another user's credentials
        me = principal_of(request)
        if not settings.enabled:
            body = disabled("the softphone is not configured on this server")
        else:
            try:
                user = await crm.users.get(me.user_id)
            except CrmNotFound:
                raise Unauthorized("your user no longer exists") from None
            if not user.extension:
                body = disabled("you have no extension; an admin must set one on your user")
            else:
                body = credentials_for(settings, user.extension,
                                       user.display_name or user.username, now=wall.now())
                log.info("softphone_credentials_issued", user=me.username,
                         extension=user.extension, turn=bool(settings.turn_urls))
        return json_response(body, headers=NO_STORE)

    return routes
