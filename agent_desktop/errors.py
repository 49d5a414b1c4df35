"""The agent_desktop package's errors. Everything a handler raises to a client is an ApiError.

ApiError (status, error_id, message, details) -> JSON {"error_id", "message", "details"}
├── BadRequest          400 bad_request         body is not JSON, bad query parameter
│   └── ValidationFailed 422 validation_failed  body/query parsed but a field is wrong
├── Unauthorized        401 unauthorized        no/invalid/expired token, wrong credentials
├── Forbidden           403 forbidden           authenticated, but the role/scope does not allow it
├── NotFound            404 not_found
├── MethodNotAllowed    405 method_not_allowed
├── Conflict            409 conflict            duplicate key, still referenced, stale state
├── PayloadTooLarge     413 payload_too_large
├── TooManyRequests     429 too_many_requests   carries retry_after_s (sent as Retry-After)
├── InternalError       500 internal_error      unexpected exception; details has the incident id
├── BadGateway          502 bad_gateway         an upstream (Asterisk/AMI) answered with an error
├── ServiceUnavailable  503 service_unavailable an upstream is not connected; try again later
└── GatewayTimeout      504 gateway_timeout     an upstream did not answer in time

Handlers raise these; the error middleware renders them and is the only place that does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


class ApiError(Exception):
    status: int = 500
    error_id: str = "internal_error"

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        return {"error_id": self.error_id, "message": self.message, "details": self.details}

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
