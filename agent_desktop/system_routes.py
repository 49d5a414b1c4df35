"""Unauthenticated operational endpoints: health, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pydantic
import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from agent_desktop.jsonio import json_response
from agent_desktop.routing import RouteSpec

log = structlog.get_logger("agent_desktop")


class Health(pydantic.BaseModel):
    status: str  # "ok", or "degraded" (with HTTP 503) when a dependency check fails
    uptime_s: float
    routes: int
    checks: dict[str, str]


HealthCheck = Callable[[], Awaitable[str]]
# A synchronous check another component supplies (e.g. "is AMI connected"): (healthy, detail).
# It must not block: /healthz calls it on the event loop.
StatusCheck = Callable[[], tuple[bool, str]]


def system_routes(metrics: CollectorRegistry, openapi: Callable[[], dict[str, Any]],
                  route_count: Callable[[], int],
                  checks: Mapping[str, HealthCheck] | None = None,
                  status_checks: Mapping[str, StatusCheck] | None = None) -> list[RouteSpec]:
    """Health, metrics and OpenAPI routes.

    `checks`: name -> coroutine returning a short status; raising marks the process degraded.
    `status_checks`: name -> function returning (ok, detail); (False, ...) or raising marks the
    process degraded. A passing check reports its detail, a failing one "failed: <detail>".
    """
    started = time.monotonic()
    probes = dict(checks or {})
    statuses = dict(status_checks or {})
    clash = set(probes) & set(statuses)
    if clash:
        raise ValueError(f"health check names used twice: {sorted(clash)}")

    async def healthz(request: web.Request) -> web.StreamResponse:
        results: dict[str, str] = {}
        ok = True
        for name, probe in probes.items():
            try:
                results[name] = await asyncio.wait_for(probe(), timeout=2.0)
            except Exception as exc:  # a health probe reports failures, it does not raise them
                ok = False
                results[name] = f"failed: {type(exc).__name__}"
                log.warning("health_check_failed", check=name, error=repr(exc))
        for name, status in statuses.items():
            try:
                healthy, detail = status()
            except Exception as exc:  # same rule: a broken check is a failed check, not a 500
                healthy, detail = False, type(exc).__name__
                log.warning("health_check_failed", check=name, error=repr(exc))
            healthy = bool(healthy)
            ok = ok and healthy
            detail = str(detail)
            if healthy:
                results[name] = detail or "ok"
            else:
                results[name] = f"failed: {detail}" if detail else "failed"
        body = Health(status="ok" if ok else "degraded",
                      uptime_s=round(time.monotonic() - started, 3), routes=route_count(),
                      checks=results)
        return json_response(body, status=200 if ok else 503)

    async def prometheus_metrics(request: web.Request) -> web.StreamResponse:
        return web.Response(body=generate_latest(metrics),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def openapi_document(request: web.Request) -> web.StreamResponse:
        return json_response(openapi())

    none = frozenset[str]()
    return [
        RouteSpec("GET", "/healthz", healthz, none,
                  "Health: 200 when every dependency check passes, else 503", response=Health,
                  tags=("system",), operation_id="healthz"),
        RouteSpec("GET", "/metrics", prometheus_metrics, none,
                  "Prometheus metrics (text exposition format)", response={"type": "string"},
                  content_type="text/plain", tags=("system",), operation_id="metrics"),
        RouteSpec("GET", "/api/openapi.json", openapi_document, none,
                  "This API's OpenAPI 3.1 document", response={"type": "object"},
                  tags=("system",), operation_id="openapi"),
    ]
