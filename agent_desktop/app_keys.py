"""Application keys route handlers need without importing the app factory (no import cycle)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from common.bus import Bus

BUS_KEY = web.AppKey("cti.bus", Bus)
# Functions that amend the OpenAPI document once it is built (e.g. the websocket's message
# schemas); create_app sets an empty list, components append to it before the first request.
OPENAPI_EXTRAS_KEY = web.AppKey("cti.openapi_extras", list[Callable[[dict[str, Any]], None]])
