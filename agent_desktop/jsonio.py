"""JSON in and out.

In: `parse_json` is the one way a request's JSON is read: anything that is not JSON, or is nested
deeper than MAX_JSON_DEPTH, is a BadRequest (400), never a RecursionError (500) from deep inside
the decoder or a later recursive walk.

Out: dataclasses (the CRM's rows), pydantic models, enums and containers to JSON. Fields named in
NEVER_SERIALISED are dropped wherever they appear, so a password hash cannot leak through a new
endpoint that forgets to strip it.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping
from typing import Any

import pydantic
from aiohttp import web

from agent_desktop.errors import BadRequest

NEVER_SERIALISED = frozenset({"password_hash", "password"})
# No request body of this API nests deeper than a few levels; the cap keeps a legal but absurd
# body (hundreds of levels) from reaching recursive code after the decoder (pydantic, to_jsonable).
MAX_JSON_DEPTH = 32


def parse_json(raw: bytes | str) -> Any:
    """The decoded JSON document, or BadRequest when it is not JSON or is nested too deeply."""
    try:
        data = json.loads(raw)
    except RecursionError:
        # The C decoder recurses per nesting level: "[" * 100000 exhausts the interpreter stack.
        raise BadRequest("the body is nested too deeply",
                         {"max_depth": MAX_JSON_DEPTH}) from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON") from None
    if _depth_exceeds(data, MAX_JSON_DEPTH):
        raise BadRequest("the body is nested too deeply", {"max_depth": MAX_JSON_DEPTH})
    return data


def _depth_exceeds(data: Any, limit: int) -> bool:
    # Iterative on purpose: a recursive walk would hit the very limit it is guarding.
    stack: list[tuple[Any, int]] = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def to_jsonable(obj: Any) -> Any:
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if f.name not in NEVER_SERIALISED}
    if isinstance(obj, pydantic.BaseModel):
        return to_jsonable(obj.model_dump(mode="json"))
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items() if k not in NEVER_SERIALISED}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def dumps(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), separators=(",", ":"), ensure_ascii=False)


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None
                  ) -> web.Response:
    return web.Response(text=dumps(data), status=status, content_type="application/json",
                        headers=headers)
