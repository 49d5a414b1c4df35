"""One websocket connection's protocol, sans-I/O: text frames and time in, actions out.

The adapter (ws.py) feeds what arrives (`receive`), the outcome of the asynchronous token check
it was asked for (`auth_ok` / `auth_failed`) and the passing of time (`tick`, at
`next_deadline`), and carries out the actions returned: send a frame, close with a code,
check credentials, run a command. Nothing here touches a socket, a clock or the hub.

States and what moves between them are one table (as in h11's _state.py): an event a state does
not list raises IllegalTransition and changes nothing.

    AWAIT_AUTH --auth--> AUTHENTICATING --auth_ok--> OPEN --auth/command/ping--> OPEN
         |                      |                      |
         +------ deadline / violation / auth_failed / expiry / close ------> CLOSED

Limits, checked before a frame is parsed: its size (1009) and a token bucket over every frame
(4429, bad ones included, so garbage cannot be sent faster than commands). A malformed frame gets
an error frame and the socket stays open. Frames that arrive while the credentials are being
checked wait (a few) and are handled once the socket is open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from agent_desktop.hub import wire
from agent_desktop.hub.errors import HubError


class State(Enum):
    AWAIT_AUTH = "await_auth"
    AUTHENTICATING = "authenticating"
    OPEN = "open"
    CLOSED = "closed"


class Ev(Enum):
    AUTH = "auth"
    AUTH_OK = "auth_ok"
    AUTH_FAILED = "auth_failed"
    MESSAGE = "message"  # a command or a ping
    CLOSE = "close"


_S, _E = State, Ev
TRANSITIONS: dict[tuple[State, Ev], State] = {
    (_S.AWAIT_AUTH, _E.AUTH): _S.AUTHENTICATING,
    (_S.AWAIT_AUTH, _E.CLOSE): _S.CLOSED,
    (_S.AUTHENTICATING, _E.AUTH_OK): _S.OPEN,
    (_S.AUTHENTICATING, _E.AUTH_FAILED): _S.CLOSED,
    (_S.AUTHENTICATING, _E.CLOSE): _S.CLOSED,
    # On an open socket, a new auth message carries a fresh token (the page refreshed it): the
    # session is extended instead of being cut at the old token's expiry.
    (_S.OPEN, _E.AUTH): _S.OPEN,
    (_S.OPEN, _E.AUTH_OK): _S.OPEN,
    (_S.OPEN, _E.AUTH_FAILED): _S.CLOSED,
    (_S.OPEN, _E.MESSAGE): _S.OPEN,
    (_S.OPEN, _E.CLOSE): _S.CLOSED,
}


class IllegalTransition(HubError):
    def __init__(self, state: State, event: Ev) -> None:
        super().__init__(f"{event.value} is not allowed in state {state.value}")
        self.state = state
        self.event = event


# ------------------------------------------------------------------------------------ actions


@dataclass(frozen=True, slots=True)
class Send:
    text: str


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Authenticate:
    """Check these credentials (JWT or kiosk token), then call auth_ok / auth_failed."""

    frame: wire.AuthFrame
    token: str | None  # the frame's token, else the cc_token cookie's
    first: bool  # False: a token refresh on an open socket


@dataclass(frozen=True, slots=True)
class RunCommand:
    frame: wire.CommandFrame


Action = Send | Close | Authenticate | RunCommand


@dataclass(frozen=True, slots=True)
class Limits:
    auth_timeout_s: float = 5.0
    max_message_bytes: int = 16 * 1024
    messages_per_s: float = 20.0
    burst: int = 40
    max_waiting: int = 8  # frames held while the credentials are checked


@dataclass(slots=True)
class _Bucket:
    """Token bucket: `rate` frames per second, at most `burst` at once."""

    rate: float
    burst: float
    tokens: float
    at: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass(slots=True)
class Connection:
    limits: Limits
    opened_at: float
    cookie_token: str | None = None
    state: State = State.AWAIT_AUTH
    expires_at: float | None = None  # the token's exp; None = no expiry (kiosk token)
    close_code: int | None = None
    _bucket: _Bucket = field(init=False)
    _waiting: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._bucket = _Bucket(self.limits.messages_per_s, float(self.limits.burst),
                               float(self.limits.burst), self.opened_at)

    # --------------------------------------------------------------------- transitions

    def _move(self, event: Ev) -> None:
        nxt = TRANSITIONS.get((self.state, event))
        if nxt is None:
            raise IllegalTransition(self.state, event)
        self.state = nxt

    def _close(self, code: int, reason: str) -> list[Action]:
        if self.state is State.CLOSED:
            return []
        self._move(Ev.CLOSE)
        self.close_code = code
        return [Close(code, reason)]

    # --------------------------------------------------------------------- inputs

    @property
    def next_deadline(self) -> float | None:
        if self.state in (State.AWAIT_AUTH, State.AUTHENTICATING):
            return self.opened_at + self.limits.auth_timeout_s
        if self.state is State.OPEN:
            return self.expires_at
        return None

    def tick(self, now: float) -> list[Action]:
        if self.state in (State.AWAIT_AUTH, State.AUTHENTICATING) and \
                now >= self.opened_at + self.limits.auth_timeout_s:
            return self._close(wire.CLOSE_AUTH_TIMEOUT, "no auth message in time")
        if self.state is State.OPEN and self.expires_at is not None and now >= self.expires_at:
            return self._close(wire.CLOSE_UNAUTHORIZED, "token expired")
        return []

    def receive(self, text: str, now: float) -> list[Action]:
        """A text frame from the client."""
        if self.state is State.CLOSED:
            return []
        if len(text) > self.limits.max_message_bytes or \
                len(text.encode("utf-8", "surrogatepass")) > self.limits.max_message_bytes:
            return self._close(wire.CLOSE_TOO_BIG, "message too big")
        if not self._bucket.take(now):
            return self._close(wire.CLOSE_RATE_LIMIT, "too many messages")
        expired = self.tick(now)
        if expired:
            return expired
        if self.state is State.AUTHENTICATING:
            if len(self._waiting) >= self.limits.max_waiting:
                return self._close(wire.CLOSE_RATE_LIMIT, "too many messages before welcome")
            self._waiting.append(text)
            return []
        return self._handle(text)

    def receive_binary(self) -> list[Action]:
        if self.state is State.CLOSED:
            return []
        return [Send(wire.error("bad_message", "binary frames are not used; send JSON text"))]

    def _handle(self, text: str) -> list[Action]:
        try:
            frame = wire.parse_client_frame(text)
        except wire.BadMessage as exc:
            if self.state is State.AWAIT_AUTH:
                return self._close(wire.CLOSE_UNAUTHORIZED, f"the first message must be auth "
                                                            f"({str(exc)[:60]})")
            return [Send(wire.error("bad_message", str(exc)))]
        if isinstance(frame, wire.AuthFrame):
            first = self.state is State.AWAIT_AUTH
            if not first and (frame.resume is not None or frame.stream is not None):
                return [Send(wire.error("bad_message",
                                        "stream and resume are chosen by the first auth message;"
                                        " reconnect to change them"))]
            token = frame.token
            if token is None and frame.kiosk is None:
                token = self.cookie_token
            if token is None and frame.kiosk is None:
                return self._close(wire.CLOSE_UNAUTHORIZED,
                                   "no token (auth message or cc_token cookie)")
            if token is not None and frame.kiosk is not None:
                return self._close(wire.CLOSE_UNAUTHORIZED, "send a token or a kiosk token, "
                                                            "not both")
            if not first and frame.kiosk is not None:
                return [Send(wire.error("bad_message", "a kiosk socket has nothing to refresh"))]
            self._move(Ev.AUTH)
            return [Authenticate(frame, token, first)]
        if self.state is State.AWAIT_AUTH:
            return self._close(wire.CLOSE_UNAUTHORIZED, "the first message must be auth")
        self._move(Ev.MESSAGE)
        if isinstance(frame, wire.PingFrame):
            return [Send(wire.PONG)]
        return [RunCommand(frame)]

    def auth_ok(self, expires_at: float | None, now: float) -> list[Action]:
        """The credentials are good until `expires_at`. Frames that waited are handled now; the
        adapter sends welcome and snapshot/replay before the actions returned here."""
        self._move(Ev.AUTH_OK)
        self.expires_at = expires_at
        out = self.tick(now)
        waiting, self._waiting = self._waiting, []
        for text in waiting:
            if self.state is not State.OPEN:
                break
            out.extend(self._handle(text))
        return out

    def auth_failed(self, code: int, reason: str) -> list[Action]:
        if self.state is State.CLOSED:
            return []
        self._move(Ev.AUTH_FAILED)
        self.close_code = code
        return [Close(code, reason)]

    def close(self, code: int, reason: str) -> list[Action]:
        """The server ends the connection (slow client, user deactivated, shutdown)."""
        return self._close(code, reason)

    def closed_by_peer(self) -> None:
        if self.state is not State.CLOSED:
            self._move(Ev.CLOSE)
