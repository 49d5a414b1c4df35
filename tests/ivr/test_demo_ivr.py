"""The demo server runs its callers through the shipped menu; SIGHUP reloads the menus."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from tests.test_server_demo import demo_settings, get, login, running_demo


async def test_demo_calls_walk_the_menu_and_sighup_reloads(tmp_path: Path) -> None:
    async for h in running_demo(demo_settings(tmp_path, calls_per_minute=60.0)):
        admin = await login(h, "admin")
        async with asyncio.timeout(60):
            while True:
                status, stats = await get(h, "/api/ivr/stats", admin)
                assert status == 200
                if sum(stats["outcomes"].values()) >= 3:
                    break
                await asyncio.sleep(0.1)
        assert stats["fallbacks"] == 0 and stats["outcomes"].get("failed", 0) == 0
        assert stats["version"] == 1
        os.kill(os.getpid(), signal.SIGHUP)
        async with asyncio.timeout(10):
            while h["ivr"].registry.version != 2:
                await asyncio.sleep(0.02)
        status, menus = await get(h, "/api/ivr/menus", admin)
        assert status == 200 and menus[0]["name"] == "main" and menus[0]["version"] == 2
        async with h["http"].get(h["base"] + "/api/ivr/menus/main/graph",
                                 headers=admin) as r:
            assert r.status == 200 and (await r.text()).startswith('digraph "main"')
