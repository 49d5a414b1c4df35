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


def system_routes(metrics: CollectorRegistry, openapi: Callable[[], dict[str, Any]],
                  route_count: Callable[[], int],
                  checks: Mapping[str, HealthCheck] | None = None) -> list[RouteSpec]:
    """`checks`: name -> coroutine returning a short status; raising marks the process degraded."""
    started = time.monotonic()
    probes = dict(checks or {})

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
        RouteSpec("GET", "/healthz", healthz, none, "Liveness: the process serves HTTP",
                  response=Health, tags=("system",), operation_id="healthz"),
        RouteSpec("GET", "/metrics", prometheus_metrics, none,
                  "Prometheus metrics (text exposition format)", response={"type": "string"},
                  content_type="text/plain", tags=("system",), operation_id="metrics"),
        RouteSpec("GET", "/api/openapi.json", openapi_document, none,
                  "This API's OpenAPI 3.1 document", response={"type": "object"},
                  tags=("system",), operation_id="openapi"),
    ]
