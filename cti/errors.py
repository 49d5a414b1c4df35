"""The cti package's errors. Everything raised out of cti/ is a CtiError.

CtiError
├── InvalidValue          a value bound for AMI/AGI failed validation (CR/LF/NUL, dial pattern,
│                         destination not allowed); nothing was sent
├── ActionFailed          Asterisk answered an action with Response: Error/Failure
├── AmiProtocolError      the peer sent something that is not AMI (bad banner, oversized message)
├── AmiConnectionError    not connected, login refused, connection lost mid-action
│   └── AuthenticationFailed
└── AgiError              a FastAGI session failed (peer closed, 5xx reply)
    └── AgiHangup         the caller hung up: handlers end cleanly on this
"""

from __future__ import annotations

from collections.abc import Mapping


class CtiError(Exception):
    """Base of every error raised by cti/."""


class InvalidValue(CtiError, ValueError):
    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {reason} (got {value!r})")


class ActionFailed(CtiError):
    def __init__(self, action: str, response: Mapping[str, str]) -> None:
        self.action = action
        self.response = dict(response)
        msg = self.response.get("Message", "no message")
        super().__init__(f"AMI action {action} failed: {msg}")


class AmiProtocolError(CtiError):
    pass


class AmiConnectionError(CtiError):
    pass


class AuthenticationFailed(AmiConnectionError):
    pass


class AgiError(CtiError):
    pass


class AgiHangup(AgiError):
    pass
