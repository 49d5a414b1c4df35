"""/ws over a real server: authentication, Origin, streams and what each role may see."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest

from common.messages import CrmUserDeleted, CrmUserUpdated

from .world import World, connect, ended, login_ws, make_world, offered, queued, world_settings


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async for world in make_world(tmp_path):
        yield world


async def test_agent_gets_welcome_and_initial_snapshot_of_own_stream(w: World) -> None:
    c = await login_ws(w, "ann")
    welcome = await c.next()
    assert welcome["op"] == "welcome"
    assert welcome["stream"] == f"agent:{w.users['ann'].id}"
    assert welcome["resumed"] is False
    assert welcome["user"] == {"id": w.users["ann"].id, "name": "Ann", "username": "ann",
                               "role": "agent",
                               "team_id": w.teams["red"], "language": "", "timezone": "",
                               "extension": "1001"}
    snap = await c.next()
    assert snap["op"] == "snapshot" and snap["reason"] == "initial"
    assert snap["seq"] == welcome["seq"]
    assert snap["data"]["agent"]["agent_id"] == "ann"
    assert snap["data"]["agent"]["state"] == "available"
    assert snap["data"]["call"] is None and snap["data"]["screen_pop"] is None
    await c.close()


async def test_no_auth_message_in_time_is_4408(w: World) -> None:
    c = await connect(w)
    c = await connect(w)
    w.clock.advance(5.1)  # the server's clock (ManualClock here): past ws_auth_timeout_s
    code, reason = await c.closed()
    assert code == 4408 and "auth" in reason
    await c.close()


@pytest.mark.parametrize("first", [
    {"op": "ping"},
    {"op": "command", "id": "c1", "name": "agent.state", "args": {"state": "available"}},
    "not json",
])
async def test_first_message_must_be_auth(w: World, first: object) -> None:
    c = await connect(w)
    await c.send(first)
    code, reason = await c.closed()
    assert code == 4401 and "auth" in reason
    await c.close()


async def test_no_token_is_4401(w: World) -> None:
    c = await connect(w)
    await c.send({"op": "auth"})
    code, reason = await c.closed()
    assert code == 4401 and "no token" in reason
    await c.close()


def _claims(w: World, user: str, **over: object) -> dict[str, object]:
    now = int(w.clock.now())
    base: dict[str, object] = {"sub": str(w.users[user].id), "role": "admin", "typ": "access",
                               "iat": now, "exp": now + 600, "iss": "cti-agent-desktop",
                               "fam": "f" * 32, "jti": "j" * 32, "ver": ""}
    base.update(over)
    return base


async def test_forged_token_is_4401(w: World) -> None:
    forged = jwt.encode(_claims(w, "ann"), "another-secret-" + "y" * 40, algorithm="HS256")
    c = await connect(w)
    await c.send({"op": "auth", "token": forged})
    code, reason = await c.closed()
    assert (code, reason) == (4401, "invalid token")
    assert not [f for f in c.frames if f["op"] in ("welcome", "event", "snapshot")]
    await c.close()


async def test_alg_none_token_is_4401(w: World) -> None:
    unsigned = jwt.encode(_claims(w, "ann"), key=None, algorithm="none")  # type: ignore[arg-type]
    c = await connect(w)
    await c.send({"op": "auth", "token": unsigned})
    code, reason = await c.closed()
    assert (code, reason) == (4401, "invalid token")
    await c.close()


async def test_expired_token_is_4401_token_expired(w: World) -> None:
    token = await w.token("ann")
    w.clock.advance(3600)
    c = await connect(w)
    await c.send({"op": "auth", "token": token})
    assert await c.closed() == (4401, "token expired")
    await c.close()


async def test_token_expiring_mid_session_closes_4401(w: World) -> None:
    c = await login_ws(w, "ann")
    await c.until(lambda f: f["op"] == "snapshot")
    w.clock.advance(899)
    await c.send({"op": "ping"})
    assert (await c.next())["op"] == "pong"
    w.clock.advance(2)  # past the access token's 900 s
    assert await c.closed() == (4401, "token expired")
    await c.close()


async def test_a_fresh_token_on_the_socket_extends_it(w: World) -> None:
    c = await login_ws(w, "ann")
    await c.until(lambda f: f["op"] == "snapshot")
    w.clock.advance(600)
    await c.send({"op": "auth", "token": await w.token("ann")})
    await c.send({"op": "ping"})  # frames are handled in order: after the pong, the new token
    assert (await c.next())["op"] == "pong"
    w.clock.advance(600)  # past the first token, inside the second
    await c.send({"op": "ping"})
    assert (await c.next())["op"] == "pong"
    # Another user's token on this socket ends it.
    await c.send({"op": "auth", "token": await w.token("amy")})
    assert (await c.closed())[0] == 4401
    await c.close()


async def test_token_in_cc_token_cookie_is_accepted(w: World) -> None:
    c = await connect(w, cookies={"cc_token": await w.token("ann")})
    await c.send({"op": "auth"})
    assert (await c.next())["op"] == "welcome"
    await c.close()


async def test_token_in_the_url_is_not_read(w: World) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(w.url + "?token=" + await w.token("ann"), autoclose=False)
        await ws.send_json({"op": "auth"})
        msg = await ws.receive(timeout=5)
        assert msg.type.name in ("CLOSE", "CLOSED", "CLOSING")
        assert ws.close_code == 4401


async def test_wrong_origin_is_4403_and_same_origin_is_fine(w: World) -> None:
    c = await connect(w, origin="https://evil.example")
    await c.send({"op": "auth", "token": await w.token("ann")})
    code, reason = await c.closed()
    assert code == 4403 and "origin" in reason
    await c.close()
    ok = await connect(w, origin=f"http://127.0.0.1:{w.server.port}")
    await ok.send({"op": "auth", "token": await w.token("ann")})
    assert (await ok.next())["op"] == "welcome"
    await ok.close()


async def test_configured_origin_allow_list(tmp_path: Path) -> None:
    settings = world_settings(allowed_origins=["https://desk.example.com"])
    async for w in make_world(tmp_path, settings):
        ok = await connect(w, origin="https://desk.example.com")
        await ok.send({"op": "auth", "token": await w.token("ann")})
        assert (await ok.next())["op"] == "welcome"
        await ok.close()
        same_host = await connect(w, origin=f"http://127.0.0.1:{w.server.port}")
        assert (await same_host.closed())[0] == 4403  # not listed, even if same origin
        await same_host.close()


@pytest.mark.parametrize(("user", "stream"), [
    ("ann", "agent:{amy}"),          # another agent's stream
    ("ann", "team:{red}"),           # an agent does not get the team view
    ("ann", "all"),
    ("sue", "team:{blue}"),          # a supervisor of another team
    ("sue", "agent:{amy}"),
    ("sue", "all"),
    ("sue", "wallboard:all"),
])
async def test_wrong_role_or_stream_is_4403(w: World, user: str, stream: str) -> None:
    name = stream.format(amy=w.users["amy"].id, red=w.teams["red"], blue=w.teams["blue"])
    c = await login_ws(w, user, stream=name)
    code, _ = await c.closed()
    assert code == 4403
    assert not [f for f in c.frames if f["op"] != "error"]
    await c.close()


@pytest.mark.parametrize(("user", "stream"), [
    ("sue", "team:{red}"), ("sue", "wallboard:{red}"), ("sue", "agent:{sue}"),
    ("root", "team:{blue}"), ("root", "agent:{amy}"), ("root", "all"),
])
async def test_allowed_streams(w: World, user: str, stream: str) -> None:
    name = stream.format(amy=w.users["amy"].id, red=w.teams["red"], blue=w.teams["blue"],
                         sue=w.users["sue"].id)
    c = await login_ws(w, user, stream=name)
    welcome = await c.next()
    assert welcome["op"] == "welcome" and welcome["stream"] == name
    await c.close()


async def test_another_teams_customer_data_never_arrives(w: World) -> None:
    sue = await login_ws(w, "sue")  # red supervisor
    sam = await login_ws(w, "sam")  # blue supervisor
    ann = await login_ws(w, "ann")  # red agent
    amy = await login_ws(w, "amy")  # red agent, not offered
    for c in (sue, sam, ann, amy):
        await c.until(lambda f: f["op"] == "snapshot")
    w.bus.publish(offered("c-red", "ann", "+12125550100"))
    w.bus.publish(offered("c-blue", "bob", "+12125550199"))
    # Markers after both pops: when a client has its marker, it has everything before it.
    await _both_pops(w)
    w.bus.publish(queued("marker"))
    for agent in ("ann", "amy"):  # agent streams get no unassigned calls: their own marker
        w.bus.publish(ended("marker", agent))
    for c in (sue, sam, ann, amy):
        await c.until(lambda f: f.get("data", {}).get("call_id") == "marker")
    seen = {name: {f["data"].get("call_id") for f in c.frames if f["op"] == "event"}
            for name, c in (("sue", sue), ("sam", sam), ("ann", ann), ("amy", amy))}
    assert "c-red" in seen["sue"] and "c-blue" not in seen["sue"]
    assert "c-blue" in seen["sam"] and "c-red" not in seen["sam"]
    assert "c-red" in seen["ann"] and "c-blue" not in seen["ann"]
    assert not {"c-red", "c-blue"} & seen["amy"]
    texts = {name: str(c.frames) for name, c in (("sue", sue), ("sam", sam), ("ann", ann),
                                                   ("amy", amy))}
    assert "+12125550199" not in texts["sue"] + texts["ann"] + texts["amy"]
    assert "+12125550100" not in texts["sam"] + texts["amy"]
    for c in (sue, sam, ann, amy):
        await c.close()


async def _both_pops(w: World) -> None:
    deadline = time.monotonic() + 5
    while w.hub.counters.screen_pops < 2:
        assert time.monotonic() < deadline
        import asyncio

        await asyncio.sleep(0.01)


async def test_deactivated_user_is_cut_off_at_once(w: World) -> None:
    c = await login_ws(w, "amy")
    await c.until(lambda f: f["op"] == "snapshot")
    await w.crm.users.update(w.users["amy"].id, active=False)
    w.bus.publish(CrmUserUpdated(w.users["amy"].id, "amy", False, "agent"))
    code, reason = await c.closed()
    assert code == 4403 and "deactivated" in reason
    await c.close()
    again = await login_ws(w, "ann")  # others are untouched
    assert (await again.next())["op"] == "welcome"
    await again.close()


async def test_deactivation_over_rest_cuts_the_socket(w: World) -> None:
    c = await login_ws(w, "amy")
    await c.until(lambda f: f["op"] == "snapshot")
    import aiohttp

    async with aiohttp.ClientSession() as s:
        async with s.patch(f"{w.http}/api/users/{w.users['amy'].id}", json={"active": False},
                           headers={"Authorization": f"Bearer {await w.token('sue')}"}) as r:
            assert r.status == 200, await r.text()
    code, reason = await c.closed()
    assert code == 4403 and "deactivated" in reason
    await c.close()


async def test_deleted_user_is_cut_off(w: World) -> None:
    c = await login_ws(w, "amy")
    await c.until(lambda f: f["op"] == "snapshot")
    w.bus.publish(CrmUserDeleted(w.users["amy"].id, "amy"))
    assert (await c.closed())[0] == 4403
    await c.close()


async def test_logout_over_rest_ends_that_sessions_sockets_only(w: World) -> None:
    import aiohttp

    token = await w.token("ann")
    other = await login_ws(w, "ann")  # another login (session) of the same user
    c = await connect(w)
    await c.send({"op": "auth", "token": token})
    for s in (c, other):
        await s.until(lambda f: f["op"] == "snapshot")
    async with aiohttp.ClientSession() as s, s.post(
            f"{w.http}/api/auth/logout", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 204
    assert await c.closed() == (4401, "session ended")
    await other.send({"op": "ping"})
    assert (await other.next())["op"] == "pong"
    await c.close()
    await other.close()
