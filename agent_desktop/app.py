"""The aiohttp application: middlewares, the route registry, and the CRM, auth and system routes.

Other packages add endpoints with `extra_routes` (RouteSpec records, e.g. a RouteRegistry); they
get the same guard, error handling, metrics and OpenAPI entry as the built-in ones. Components
that need shared objects read them from the app with the AppKeys below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from agent_desktop.app_keys import BUS_KEY, OPENAPI_EXTRAS_KEY
from agent_desktop.auth import AuthService, UserStore, auth_routes
from agent_desktop.middleware import HttpMetrics, error_middleware, security_headers
from agent_desktop.openapi import build_openapi
from agent_desktop.pages import page_routes
from agent_desktop.routing import RouteRegistry, RouteSpec
from agent_desktop.system_routes import HealthCheck, StatusCheck, system_routes
from agent_desktop.vendor import vendor_routes
from common.bus import Bus
from common.clock import Clock, WallClock
from config.settings import Settings

if TYPE_CHECKING:
    from crm_core.service import Crm

# Bodies larger than this are refused with 413 before they are buffered in full.
MAX_BODY_BYTES = 1024 * 1024

SETTINGS_KEY = web.AppKey("cti.settings", Settings)
CRM_KEY: web.AppKey[Crm | None] = web.AppKey("cti.crm")
AUTH_KEY = web.AppKey("cti.auth", AuthService)
ROUTES_KEY = web.AppKey("cti.routes", RouteRegistry)
METRICS_KEY = web.AppKey("cti.metrics", CollectorRegistry)


def create_app(settings: Settings, crm: Crm | None, bus: Bus, *,
               extra_routes: Iterable[RouteSpec] = (),
               clock: Clock | None = None,
               users: UserStore | None = None,
               max_body_bytes: int = MAX_BODY_BYTES,
               health_checks: Mapping[str, StatusCheck] | None = None) -> web.Application:
    """Build the API application.

    `crm` is a crm_core.service.Crm (or None: only auth/system routes, which then need `users`).
    `clock` is the wall clock tokens and login throttling read (tests pass a ManualClock).
    `health_checks`: name -> `() -> (ok, detail)`, called on every GET /healthz on the event loop
    (so it must not block), e.g. {"ami": lambda: (ami.connected, "connected")}. All passing:
    200 {"status": "ok", "checks": {name: detail}}; any failing or raising: 503 {"status":
    "degraded", "checks": {name: "failed: detail"}}. The name "crm" is taken by the built-in
    CRM check.
    """
    clock = clock or WallClock()
    metrics_registry = CollectorRegistry()
    metrics = HttpMetrics(metrics_registry)
    if users is None:
        if crm is None:
            raise ValueError("create_app needs a crm or a users store")
        from agent_desktop.crm_routes import CrmUserStore

        users = CrmUserStore(crm)
    # Sessions live in the CRM database when there is one (they survive restarts).
    sessions = getattr(crm, "sessions", None) if crm is not None else None
    auth = AuthService(settings.auth, users, clock, metrics_login=metrics.logins,
                       sessions=sessions)

    app = web.Application(
        client_max_size=max_body_bytes,
        middlewares=[metrics.middleware(), error_middleware],
    )
    app.on_response_prepare.append(security_headers)

    registry = RouteRegistry()
    document: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not document:
            built = build_openapi(registry)
            for extra in app[OPENAPI_EXTRAS_KEY]:
                extra(built)
            document.update(built)
        return document

    checks: dict[str, HealthCheck] = {}
    if crm is not None and hasattr(crm, "schema_version"):
        async def crm_check() -> str:
            return f"ok (schema {await crm.schema_version()})"
        checks["crm"] = crm_check
    registry.extend(system_routes(metrics_registry, openapi, lambda: len(registry), checks,
                                  health_checks))
    registry.extend(auth_routes(auth))
    registry.extend(vendor_routes())
    # The softphone's websocket goes to Asterisk, another origin the pages' CSP must allow.
    registry.extend(page_routes(settings.softphone.connect_sources()))
    if crm is not None:
        from agent_desktop.crm_routes import crm_routes

        registry.extend(crm_routes(crm, bus, settings))
        from agent_desktop.desktop_routes import desktop_routes

        registry.extend(desktop_routes(settings, crm))
    registry.extend(extra_routes)
    registry.install(app, auth)

    app[SETTINGS_KEY] = settings
    app[CRM_KEY] = crm
    app[BUS_KEY] = bus
    app[OPENAPI_EXTRAS_KEY] = []
    app[AUTH_KEY] = auth
    app[ROUTES_KEY] = registry
    app[METRICS_KEY] = metrics_registry
    return app
