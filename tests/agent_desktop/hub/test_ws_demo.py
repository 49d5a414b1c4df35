"""The hub inside the whole demo server: a simulated call's offer reaches the agent's desktop
as a screen-pop built from the CRM, and a command over the socket changes the ACD as REST would.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.test_server_demo import demo_settings, get, login, running_demo


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async for handles in running_demo(demo_settings(tmp_path, calls_per_minute=60.0)):
        yield handles


async def test_offer_to_screen_pop_and_a_command_in_the_demo(demo: dict[str, Any]) -> None:
    h = demo
    headers = await login(h, "agent1")
    token = headers["Authorization"].split()[1]
    async with aiohttp.ClientSession() as s, s.ws_connect(
            h["base"].replace("http", "ws") + "/ws") as ws:
        await ws.send_json({"op": "auth", "token": token})
        welcome = json.loads((await ws.receive(timeout=10)).data)
        assert welcome["op"] == "welcome" and welcome["user"]["extension"] == "1001"
        offers: dict[str, Any] = {}
        pop = None
        while pop is None:
            f = json.loads((await ws.receive(timeout=30)).data)
            if f.get("topic") == "acd.call.offered":
                offers[f["data"]["call_id"]] = f["data"]
            elif f.get("topic") == "desktop.screen_pop":
                pop = f["data"]
        # The pop follows its own offer, for this agent, and names the tracker's call id.
        assert pop["call_id"] in offers and pop["agent_id"] == "agent1"
        assert h["tracker"].get(pop["call_id"]) is not None
        assert pop["status"] in ("known", "unknown", "ambiguous")
        if pop["status"] == "known":
            view = await h["crm"].lookup_by_phone(pop["caller_number"])
            assert view is not None and pop["customer"]["customer"]["id"] == view.customer.id

        await ws.send_json({"op": "command", "id": "p", "name": "agent.state",
                            "args": {"state": "paused", "reason": "lunch", "after_call": True}})
        while True:
            f = json.loads((await ws.receive(timeout=10)).data)
            if f["op"] == "result":
                break
        assert f["ok"] and f["status"] in (200, 202)
    if f["status"] == 200:
        status, me = await get(h, "/api/acd/me", headers)
        assert status == 200 and me["state"] == "paused" and me["pause_reason"] == "lunch"
