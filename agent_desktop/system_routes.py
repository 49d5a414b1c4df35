"""Unauthenticated operational endpoints: health, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pydantic
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from agent_desktop.jsonio import json_response
from agent_desktop.routing import RouteSpec


class Health(pydantic.BaseModel):
    status: str
    uptime_s: float
    routes: int


def system_routes(metrics: CollectorRegistry, openapi: Callable[[], dict[str, Any]],
                  route_count: Callable[[], int]) -> list[RouteSpec]:
    started = time.monotonic()

    async def healthz(request: web.Request) -> web.StreamResponse:
        return json_response(Health(status="ok", uptime_s=round(time.monotonic() - started, 3),
                                    routes=route_count()))

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
