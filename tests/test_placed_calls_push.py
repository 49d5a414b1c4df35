"""A click-to-dial reaches the agent's desktop as pushes only, through the PBX simulator, the
call tracker, the bus and /ws: pbx.call.dialling as soon as Asterisk accepted the Originate
(before the PBX reported any channel of it), then pbx.call.answered, then pbx.call.ended, all
with the call id the REST answer gave. No GET /api/calls/{id} is needed to follow it."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from tests import test_call_ownership as ownership
from tests.test_call_ownership import Handles, human, login, until
from tests.test_server_demo import post

# The quiet demo server of tests/test_call_ownership.py (its database built once per module).
prepared_data = ownership.prepared_data
quiet = ownership.quiet


async def _desktop(h: Handles, s: aiohttp.ClientSession, user: str
                   ) -> aiohttp.ClientWebSocketResponse:
    token = (await login(h, user))["Authorization"].split()[1]
    ws = await s.ws_connect(h["base"].replace("http", "ws") + "/ws")
    await ws.send_json({"op": "auth", "token": token})
    while (json.loads((await ws.receive(timeout=10)).data))["op"] != "snapshot":
        pass
    return ws


async def _call_frames(ws: aiohttp.ClientWebSocketResponse, call_id: str, last: str
                       ) -> list[dict[str, Any]]:
    out = []
    while True:
        f = json.loads((await ws.receive(timeout=20)).data)
        data = f.get("data") or {}
        if f.get("op") == "event" and call_id in (data.get("call_id"), data.get("cti_call_id")):
            out.append(f)
            if f["topic"] == last:
                return out


async def test_click_to_dial_is_pushed_dialling_answered_ended(quiet: Handles) -> None:
    h = quiet
    async with aiohttp.ClientSession() as s:
        ws = await _desktop(h, s, "agent3")
        auth = await login(h, "agent3")
        status, body = await post(h, "/api/calls/dial", auth,
                                  {"number": human(h, "+12025550171")})
        assert status == 202, body
        call_id = body["call_id"]
        first = json.loads((await ws.receive(timeout=10)).data)
        while first.get("topic") != "pbx.call.dialling":  # (agent state frames may come first)
            first = json.loads((await ws.receive(timeout=10)).data)
        assert first["data"]["call_id"] == call_id and first["data"]["user"] == "agent3"
        assert first["data"]["kind"] == "click_to_dial"
        assert first["data"]["dialled"] == "+12025550171"
        await until(lambda: (c := h["tracker"].get(call_id)) is not None and c.answered_at)
        status, _ = await post(h, f"/api/calls/{call_id}/hangup", auth)
        assert status in (200, 202)
        rest = await _call_frames(ws, call_id, "pbx.call.ended")
        topics = [f["topic"] for f in [first, *rest]]
        assert topics == ["pbx.call.dialling", "pbx.call.answered", "pbx.call.ended"], topics
        seqs = [f["seq"] for f in [first, *rest]]
        assert seqs == sorted(seqs)
        await ws.close()


async def test_a_click_to_dial_the_customer_does_not_answer_is_dialling_then_ended(
        quiet: Handles) -> None:
    h = quiet
    h["sim"].config.outbound.forced["+12025550172"] = "busy"
    async with aiohttp.ClientSession() as s:
        ws = await _desktop(h, s, "agent2")
        status, body = await post(h, "/api/calls/dial", await login(h, "agent2"),
                                  {"number": "+12025550172"})
        assert status == 202, body
        got = await _call_frames(ws, body["call_id"], "pbx.call.ended")
        assert [f["topic"] for f in got] == ["pbx.call.dialling", "pbx.call.ended"]
        assert got[-1]["data"]["reason"] == "busy"
        await ws.close()
