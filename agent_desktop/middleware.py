"""aiohttp middlewares: every error becomes the JSON error body; every request is counted.

The error middleware is the one place an exception turns into a response. aiohttp's own HTTP
errors (404 no route, 405, 413 body over client_max_size) get the same JSON shape as ours. An
unexpected exception is logged with its traceback and an incident id; the client gets 500 with that
id and never the traceback.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry, Counter, Histogram

from agent_desktop import errors as api
from agent_desktop.jsonio import json_response

log = structlog.get_logger("agent_desktop")

_HTTP_ERROR_IDS = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media",
    422: "validation_failed", 429: "too_many_requests", 502: "bad_gateway",
    503: "service_unavailable", 504: "gateway_timeout",
}


def error_response(err: api.ApiError) -> web.Response:
    return json_response(err.body(), status=err.status, headers=err.headers())


def from_http_exception(exc: web.HTTPException) -> api.ApiError:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return api.MethodNotAllowed(f"method {exc.method} not allowed here",
                                    set(exc.allowed_methods))
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return api.PayloadTooLarge("request body too large")
    if exc.status == 404:
        return api.NotFound("no such resource")
    err = api.ApiError(exc.reason or "HTTP error")
    err.status = exc.status
    err.error_id = _HTTP_ERROR_IDS.get(exc.status, f"http_{exc.status}")
    return err


def from_crm_error(exc: Exception) -> api.ApiError | None:
    """The crm_core error as an API error, or None if it is not one (then it is a 500)."""
    try:
        from crm_core import errors as crm
    except ImportError:  # crm_core absent: nothing to map
        return None
    if not isinstance(exc, crm.CrmError):
        return None
    details = {k: v if isinstance(v, str | int | float | bool) or v is None else repr(v)
               for k, v in exc.details.items()}
    if isinstance(exc, crm.NotFound):
        return api.NotFound(exc.message, details)
    if isinstance(exc, crm.Conflict):
        return api.Conflict(exc.message, details)
    if isinstance(exc, crm.ValidationError):
        return api.ValidationFailed(exc.message, details)
    return None


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except api.ApiError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(from_http_exception(exc))
    except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        mapped = from_crm_error(exc)
        if mapped is not None:
            return error_response(mapped)
        incident = uuid.uuid4().hex
        log.exception("unhandled_exception", incident_id=incident, method=request.method,
                      path=request.path)
        return error_response(api.InternalError(
            "internal error; quote the incident id when reporting it",
            {"incident_id": incident}))


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter("cti_http_requests", "HTTP requests served",
                                ["method", "route", "status"], registry=registry)
        self.latency = Histogram("cti_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], registry=registry)
        self.logins = Counter("cti_auth_logins", "Login attempts by outcome", ["outcome"],
                              registry=registry)

    def middleware(self) -> Middleware:
        @web.middleware
        async def metrics_middleware(request: web.Request,
                                     handler: Handler) -> web.StreamResponse:
            started = time.perf_counter()
            status = 500
            try:
                resp = await handler(request)
                status = resp.status
                return resp
            finally:
                # The route template, not the path: ids in paths would explode the label set.
                route = "unmatched"
                info = request.match_info
                if info.route.resource is not None and not info.http_exception:
                    route = info.route.resource.canonical
                self.requests.labels(request.method, route, str(status)).inc()
                self.latency.labels(request.method, route).observe(
                    time.perf_counter() - started)
        return metrics_middleware


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
