"""The frames of the websocket protocol (docs/websocket.md): client -> server messages are
validated pydantic models (unknown fields refused), server -> client frames are plain JSON objects
built here, so every frame of one kind has one shape. The close codes live here too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pydantic

from agent_desktop.jsonio import MAX_JSON_DEPTH, dumps, to_jsonable

# Close codes (RFC 6455 leaves 4000-4999 to applications).
CLOSE_GOING_AWAY = 1001  # the server is stopping: reconnect and resume
CLOSE_TOO_BIG = 1009
CLOSE_TOO_SLOW = 4000
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_RATE_LIMIT = 4429

# Seq numbers stay below 2**53 so JavaScript reads them exactly.
MAX_SEQ = 2**53 - 1
STREAM_PATTERN = r"^(agent:[0-9]{1,12}|team:[0-9]{1,12}|all|wallboard:([0-9]{1,12}|all))$"
_NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"


class _Frame(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class Resume(_Frame):
    stream: str = pydantic.Field(pattern=STREAM_PATTERN)
    seq: int = pydantic.Field(ge=0, le=MAX_SEQ)


class AuthFrame(_Frame):
    op: Literal["auth"]
    token: str | None = pydantic.Field(default=None, min_length=1, max_length=4096)
    kiosk: str | None = pydantic.Field(default=None, min_length=1, max_length=256)
    # The stream to open (default: the role's own, see streams.default_stream); `resume` names
    # one too, and then the two must agree.
    stream: str | None = pydantic.Field(default=None, pattern=STREAM_PATTERN)
    resume: Resume | None = None


class CommandFrame(_Frame):
    op: Literal["command"]
    id: str = pydantic.Field(min_length=1, max_length=64, pattern=_NO_CONTROL)
    name: str = pydantic.Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.]*$")
    args: dict[str, Any] = pydantic.Field(default_factory=dict)


class PingFrame(_Frame):
    op: Literal["ping"]


ClientFrame = Annotated[AuthFrame | CommandFrame | PingFrame, pydantic.Field(discriminator="op")]
_CLIENT_FRAME: pydantic.TypeAdapter[AuthFrame | CommandFrame | PingFrame] = \
    pydantic.TypeAdapter(ClientFrame)


class BadMessage(ValueError):
    """A client frame that is not JSON or not a valid message: answered with an error frame."""


def parse_client_frame(text: str) -> AuthFrame | CommandFrame | PingFrame:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise BadMessage("not a JSON object") from None
    if not isinstance(data, dict):
        raise BadMessage("a message is one JSON object with an \"op\"")
    if _too_deep(data):
        raise BadMessage(f"nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return _CLIENT_FRAME.validate_python(data)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "op"
        raise BadMessage(f"{where}: {first['msg']}") from None


def _too_deep(data: Any) -> bool:
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


# ---------------------------------------------------------------------- server -> client frames
# Records for the JSON schema in the OpenAPI document; the encoders below write the same shapes.


@dataclass(frozen=True, slots=True)
class WelcomeUser:
    id: int | None
    name: str
    username: str  # what call messages name agents by (call.agent.user); "" for a kiosk
    role: str  # agent | supervisor | admin | kiosk
    team_id: int | None
    language: str
    timezone: str
    extension: str


@dataclass(frozen=True, slots=True)
class WelcomeFrame:
    op: Literal["welcome"]
    stream: str
    seq: int
    resumed: bool
    user: WelcomeUser


@dataclass(frozen=True, slots=True)
class SnapshotFrame:
    op: Literal["snapshot"]
    stream: str
    seq: int
    reason: Literal["initial", "gap"]
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EventFrame:
    op: Literal["event"]
    stream: str
    seq: int
    topic: str
    ts: float
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ValueFrame:
    """A latest-value frame: no stream, no seq, never replayed; the newest one of a topic
    replaces what the client had (docs/websocket.md)."""

    op: Literal["value"]
    topic: str
    ts: float
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResultError:
    code: str
    message: str
    details: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ResultFrame:
    op: Literal["result"]
    id: str
    ok: bool
    status: int
    body: Any = None
    error: ResultError | None = None


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    op: Literal["error"]
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class PongFrame:
    op: Literal["pong"]


def welcome(stream: str, seq: int, resumed: bool, user: WelcomeUser) -> str:
    return dumps({"op": "welcome", "stream": stream, "seq": seq, "resumed": resumed,
                  "user": user})


def snapshot(stream: str, seq: int, reason: str, data: Any) -> str:
    return dumps({"op": "snapshot", "stream": stream, "seq": seq, "reason": reason,
                  "data": data})


def event(stream: str, seq: int, topic: str, ts: float, data_json: str) -> str:
    """`data_json` is already encoded: one message fans out to several streams, encoded once."""
    head = json.dumps({"op": "event", "stream": stream, "seq": seq, "topic": topic,
                       "ts": round(ts, 6)}, separators=(",", ":"))
    return f'{head[:-1]},"data":{data_json}}}'


def value(topic: str, ts: float, data_json: str) -> str:
    """A latest-value frame; `data_json` already encoded (one frame text serves many clients)."""
    head = json.dumps({"op": "value", "topic": topic, "ts": round(ts, 6)},
                      separators=(",", ":"))
    return f'{head[:-1]},"data":{data_json}}}'


def encode_data(message: Any) -> str:
    return dumps_data(to_jsonable(message))


def dumps_data(data: Any) -> str:
    """JSON-able data (jsonio.to_jsonable's output) as compact JSON text."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def result_ok(cmd_id: str, status: int, body: Any) -> str:
    return dumps({"op": "result", "id": cmd_id, "ok": True, "status": status, "body": body})


def result_error(cmd_id: str, status: int, code: str, message: str,
                 details: dict[str, Any] | None = None) -> str:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return dumps({"op": "result", "id": cmd_id, "ok": False, "status": status, "error": error})


def error(code: str, message: str) -> str:
    return dumps({"op": "error", "code": code, "message": message})


PONG = '{"op":"pong"}'
