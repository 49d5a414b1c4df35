"""The hub inside the whole demo server: a simulated call's offer reaches the agent's desktop
as a screen-pop built from the CRM, and a command over the socket changes the ACD as REST would.
"""

from __future__ import annotations

import asyncio
import dataclasses
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


async def _ws(h: dict[str, Any], s: aiohttp.ClientSession, user: str,
              stream: str | None = None) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    token = (await login(h, user))["Authorization"].split()[1]
    ws = await s.ws_connect(h["base"].replace("http", "ws") + "/ws")
    await ws.send_json({"op": "auth", "token": token, **({"stream": stream} if stream else {})})
    welcome = json.loads((await ws.receive(timeout=10)).data)
    assert welcome["op"] == "welcome", welcome
    return ws, welcome


async def _topic(ws: aiohttp.ClientWebSocketResponse, topic: str,
                 call_id: str) -> dict[str, Any]:
    while True:
        f = json.loads((await ws.receive(timeout=20)).data)
        if f.get("topic") == topic and f["data"].get("call_id") == call_id:
            return dict(f)


async def test_a_blind_transfer_from_the_phone_reaches_both_desktops(tmp_path: Path) -> None:
    """Through the PBX simulator, the tracker and the bus: the transferring agent's desktop sees
    the call leave, the target's (the supervisor's phone, 1099) sees it arrive with a pop."""
    async for h in running_demo(demo_settings(tmp_path, calls_per_minute=0.001,
                                              mean_handle_s=100_000.0)):
        await h["sim"].stop_traffic()
        h["sim"].config = dataclasses.replace(h["sim"].config, agi_script="queue?queue=support")
        async with aiohttp.ClientSession() as s:
            handle = await h["sim"].place_inbound_call("+12025550101")
            async with asyncio.timeout(20):
                while (c := h["tracker"].get(handle.uniqueid)) is None or c.agent is None \
                        or not c.agent.channel or c.answered_at is None:
                    await asyncio.sleep(0.02)
            first = c.agent.user
            old, _ = await _ws(h, s, first)
            team, welcome = await _ws(h, s, "supervisor")
            await team.close()
            new, _ = await _ws(h, s, "supervisor", f"agent:{welcome['user']['id']}")
            h["sim"].phone_blind_transfer(c.agent.channel, "1099")
            left = await _topic(old, "pbx.call.transferred", c.call_id)
            assert left["data"]["transfer"]["from_agent"] == first
            assert left["data"]["transfer"]["target"] == "1099@from-cti"
            moved = await _topic(old, "pbx.call.agent_changed", c.call_id)
            assert moved["data"]["call"]["agent"]["user"] == "supervisor"
            arrived = await _topic(new, "pbx.call.agent_changed", c.call_id)
            assert arrived["data"]["previous_user"] == first
            pop = await _topic(new, "desktop.screen_pop", c.call_id)
            assert pop["data"]["agent_id"] == "supervisor"
            assert pop["data"]["caller_number"] == "+12025550101"
            for ws in (old, new):
                await ws.close()
        for channel in list(h["sim"].channels):
            h["sim"].hangup_caller(channel)
        await h["sim"].wait_calls_done(10)
