"""The hub's errors. Each carries the websocket close code it ends the connection with.

HubError
 +- ProtocolViolation   the client broke the protocol: the socket is closed with `code`
"""

from __future__ import annotations


class HubError(Exception):
    pass


class ProtocolViolation(HubError):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason
