"""The agent_desktop package's errors. Everything a handler raises to a client is an ApiError.

ApiError (status, error_id, message, details) -> JSON {"error_id", "message", "details"}
├── BadRequest          400 bad_request         body is not JSON, bad query parameter
│   └── ValidationFailed 422 validation_failed  body/query parsed but a field is wrong
├── Unauthorized        401 unauthorized        no/invalid/expired token, wrong credentials
├── Forbidden           403 forbidden           authenticated, but the role/scope does not allow it
├── NotFound            404 not_found
├── MethodNotAllowed    405 method_not_allowed
├── Conflict            409 conflict            duplicate key, still referenced, stale state
├── PreconditionFailed  412 precondition_failed If-Match names a version that is not current
├── PayloadTooLarge     413 payload_too_large
├── TooManyRequests     429 too_many_requests   carries retry_after_s (sent as Retry-After)
├── InternalError       500 internal_error      unexpected exception; details has the incident id
├── BadGateway          502 bad_gateway         an upstream (Asterisk/AMI) answered with an error
├── ServiceUnavailable  503 service_unavailable an upstream is not connected; try again later
└── GatewayTimeout      504 gateway_timeout     an upstream did not answer in time

Handlers raise these; the error middleware renders them and is the only place that does.

Everything an error carries is bounded here, whoever built it: messages and details often quote
the client's input (an unknown pause reason, a bad field value), and a client controls its size.
A long text keeps its head and its tail (the tail usually says what would have been right) with
the count of characters cut in between; lists, mappings and nesting are capped too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MAX_MESSAGE_CHARS = 600
MAX_DETAIL_CHARS = 200
MAX_DETAILS_CHARS = 4000
MAX_DETAIL_ITEMS = 50
MAX_DETAIL_DEPTH = 6


def clip(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """`text` if it fits in `limit` characters, else its head and tail around a note of the cut."""
    if len(text) <= limit:
        return text
    tail = limit // 3
    head = limit - tail
    return f"{text[:head]}...[{len(text) - head - tail} characters cut]...{text[-tail:]}"


def bounded(value: Any) -> Any:
    """A JSON-able detail value with every text clipped, every container capped, and all of it
    within MAX_DETAILS_CHARS of text in total (later texts shrink to a marker)."""
    return _bounded(value, 0, [MAX_DETAILS_CHARS])


def _bounded(value: Any, depth: int, budget: list[int]) -> Any:
    if isinstance(value, str):
        limit = min(MAX_DETAIL_CHARS, max(budget[0], 24))
        out = clip(value, limit)
        budget[0] -= len(out)
        return out
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= MAX_DETAIL_DEPTH:
        return "...[nested too deeply]"
    if isinstance(value, Mapping):
        items = list(value.items())
        out_map = {_bounded(str(k), depth + 1, budget): _bounded(v, depth + 1, budget)
                   for k, v in items[:MAX_DETAIL_ITEMS]}
        if len(items) > MAX_DETAIL_ITEMS:
            out_map["..."] = f"{len(items) - MAX_DETAIL_ITEMS} more entries cut"
        return out_map
    if isinstance(value, list | tuple | set | frozenset):
        seq = list(value)
        kept = [_bounded(v, depth + 1, budget) for v in seq[:MAX_DETAIL_ITEMS]]
        if len(seq) > MAX_DETAIL_ITEMS:
            kept.append(f"...[{len(seq) - MAX_DETAIL_ITEMS} more items cut]")
        return kept
    return _bounded(repr(value), depth, budget)


class ApiError(Exception):
    status: int = 500
    error_id: str = "internal_error"

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        self.message = clip(message, MAX_MESSAGE_CHARS)
        self.details: dict[str, Any] = bounded(dict(details or {}))
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        # Bounded again here: a handler may have changed message or details after raising.
        return {"error_id": self.error_id, "message": clip(self.message, MAX_MESSAGE_CHARS),
                "details": bounded(self.details)}

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(ApiError):
    status = 400
    error_id = "bad_request"


class ValidationFailed(BadRequest):
    status = 422
    error_id = "validation_failed"


class Unauthorized(ApiError):
    status = 401
    error_id = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="cti"'}


class Forbidden(ApiError):
    status = 403
    error_id = "forbidden"


class NotFound(ApiError):
    status = 404
    error_id = "not_found"


class MethodNotAllowed(ApiError):
    status = 405
    error_id = "method_not_allowed"

    def __init__(self, message: str, allowed: frozenset[str] | set[str] = frozenset()) -> None:
        self.allowed = frozenset(allowed)
        super().__init__(message, {"allowed": sorted(self.allowed)})

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(sorted(self.allowed))} if self.allowed else {}


class Conflict(ApiError):
    status = 409
    error_id = "conflict"


class PreconditionFailed(ApiError):
    status = 412
    error_id = "precondition_failed"


class PayloadTooLarge(ApiError):
    status = 413
    error_id = "payload_too_large"


class TooManyRequests(ApiError):
    status = 429
    error_id = "too_many_requests"

    def __init__(self, message: str, retry_after_s: float) -> None:
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        super().__init__(message, {"retry_after_s": self.retry_after_s})

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class InternalError(ApiError):
    status = 500
    error_id = "internal_error"


class BadGateway(ApiError):
    status = 502
    error_id = "bad_gateway"


class ServiceUnavailable(ApiError):
    status = 503
    error_id = "service_unavailable"


class GatewayTimeout(ApiError):
    status = 504
    error_id = "gateway_timeout"
