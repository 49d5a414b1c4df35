"""Application keys route handlers need without importing the app factory (no import cycle)."""

from __future__ import annotations

from aiohttp import web

from common.bus import Bus

BUS_KEY = web.AppKey("cti.bus", Bus)
