"""The whole server as `--demo` runs it (simulator time-scaled), driven over HTTP like a user.

Covers: start-up order and clean shutdown, demo users, live traffic reaching agents, the ACD REST
routes (agent self-service, supervisor views and team scoping), and the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from common.messages import AcdCallAnswered, CallStarted
from config.settings import Settings
from server import serve


def demo_settings(tmp_path: Path, **demo: Any) -> Settings:
    return Settings.model_validate({
        "server": {"port": 0, "data_dir": str(tmp_path), "summary_interval_s": 0.2},
        "fastagi": {"port": 0},
        "auth": {"jwt_secret": "test-secret-0123456789-0123456789"},
        "demo": {"customers": 300, "agents": 4, "calls_per_minute": 20.0,
                 "mean_handle_s": 5.0, "time_scale": 0.02, "agent_return_s": 0.5,
                 "campaign_leads": 0, **demo},  # the outbound demo: tests/acd/dialer
    })


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async for handles in running_demo(demo_settings(tmp_path)):
        yield handles


@pytest.fixture
async def demo_long_calls(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """Conversations last ~60 s real time, so a test can act on a live call."""
    async for handles in running_demo(demo_settings(tmp_path, mean_handle_s=3000.0)):
        yield handles


async def running_demo(settings: Settings) -> AsyncIterator[dict[str, Any]]:
    ready, stop = asyncio.Event(), asyncio.Event()
    handles: dict[str, Any] = {}
    task = asyncio.create_task(serve(settings, demo=True, ready=ready, stop=stop,
                                     handles=handles))
    await asyncio.wait_for(ready.wait(), 60)
    handles["base"] = f"http://127.0.0.1:{handles['http_port']}"
    async with aiohttp.ClientSession() as http:
        handles["http"] = http
        yield handles
    stop.set()
    await asyncio.wait_for(task, 30)  # a clean shutdown returns, it does not hang or raise


async def login(h: dict[str, Any], user: str) -> dict[str, str]:
    async with h["http"].post(h["base"] + "/api/auth/login",
                              json={"username": user, "password": "demo"}) as r:
        assert r.status == 200, await r.text()
        token = (await r.json())["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def get(h: dict[str, Any], path: str, headers: dict[str, str]) -> tuple[int, Any]:
    async with h["http"].get(h["base"] + path, headers=headers) as r:
        return r.status, await r.json()


async def post(h: dict[str, Any], path: str, headers: dict[str, str],
               body: Any = None) -> tuple[int, Any]:
    async with h["http"].post(h["base"] + path, headers=headers, json=body) as r:
        return r.status, await r.json()


async def post_when_free(h: dict[str, Any], path: str, headers: dict[str, str],
                         body: Any = None) -> tuple[int, Any]:
    """Live calls keep the demo agents busy: an agent ringing or on a call refuses state changes
    with 409 (by design). Retry until the agent is between calls."""
    async with asyncio.timeout(30):
        while True:
            status, reply = await post(h, path, headers, body)
            if status != 409:
                return status, reply
            assert reply["error_id"] == "conflict"
            await asyncio.sleep(0.05)


async def test_demo_traffic_reaches_agents_and_supervisor_sees_it(demo: dict[str, Any]) -> None:
    everything = demo["bus"].subscribe("")
    sup = await login(demo, "supervisor")
    answered = 0
    async with asyncio.timeout(60):
        while answered < 3:
            await asyncio.sleep(0.2)
            status, queues = await get(demo, "/api/queues", sup)
            assert status == 200
            overall = next(q for q in queues if q["overall"])
            answered = overall["window"]["answered"]
    assert {q["queue"] for q in queues} == {"ALL", "support", "sales"}
    assert [q["queue"] for q in queues if q["overall"]] == ["ALL"]
    status, agents = await get(demo, "/api/agents", sup)
    assert status == 200
    assert {a["agent_id"] for a in agents} == {"agent1", "agent2", "agent3", "agent4"}
    # Calls were logged in the CRM as interactions.
    rows = await demo["crm"].interactions.search(limit=5, direction="inbound")
    assert rows.total >= 1
    # One call id on the bus: the ACD's calls are the tracker's (pbx.call.*) calls.
    msgs = []
    while not everything.queue.empty():
        msgs.append(everything.get_nowait().message)
    tracked = {m.call_id for m in msgs if isinstance(m, CallStarted)}
    acd_answered = {m.call_id for m in msgs if isinstance(m, AcdCallAnswered)}
    assert acd_answered and acd_answered <= tracked
    assert all(demo["tracker"].get(c) is not None for c in acd_answered)
    started = next(m for m in msgs if isinstance(m, CallStarted))
    assert abs(started.call.offered_at - time.time()) < 600  # epoch seconds on the bus


async def test_agent_pause_and_return_through_the_api(demo: dict[str, Any]) -> None:
    agent = await login(demo, "agent1")
    status, me = await post_when_free(demo, "/api/acd/me/pause", agent, {"reason": "lunch"})
    assert status == 200, me
    assert (me["state"], me["pause_reason"]) == ("paused", "lunch")
    status, err = await post(demo, "/api/acd/me/pause", agent, {"reason": "nap"})
    assert status == 400
    assert set(err) == {"error_id", "message", "details"}
    status, me = await post(demo, "/api/acd/me/available", agent)
    assert status in (200, 409)  # 409 if a call reached the agent in between; never a 500
    assert demo["engine"].agent("agent1").pause_reason != "lunch"


async def test_agents_may_not_read_supervisor_views(demo: dict[str, Any]) -> None:
    agent = await login(demo, "agent2")
    status, err = await get(demo, "/api/queues", agent)
    assert status == 403
    assert err["error_id"] == "forbidden"
    async with demo["http"].get(demo["base"] + "/api/agents") as r:
        assert r.status == 401


async def test_supervisor_acts_only_on_own_team_admin_on_all(demo: dict[str, Any]) -> None:
    sup = await login(demo, "supervisor")  # the demo supervisor leads agent1's team
    status, _ = await post(demo, "/api/agents/agent1/pause", sup, {"reason": "training"})
    assert status in (200, 409)
    status, err = await post(demo, "/api/agents/agent2/pause", sup, {"reason": "training"})
    assert status == 403, err
    admin = await login(demo, "admin")
    status, body = await post(demo, "/api/agents/agent2/logout", admin)
    assert status in (200, 202), body  # 202: right after the current call
    async with asyncio.timeout(60):
        while demo["engine"].agent("agent2").state != "logged_out":
            await asyncio.sleep(0.05)
    assert demo["engine"].agent("agent2").state == "logged_out"
    status, err = await post(demo, "/api/agents/nobody/logout", admin)
    assert status == 404


async def test_supervisor_changes_skills_live_and_in_crm(demo: dict[str, Any]) -> None:
    sup = await login(demo, "supervisor")
    async with demo["http"].put(demo["base"] + "/api/agents/agent1/skills", headers=sup,
                                json={"skills": {"support": 5, "sales": 1}}) as r:
        assert r.status == 200, await r.text()
    assert dict(demo["engine"].agent("agent1").skills) == {"support": 5, "sales": 1}
    user = await demo["crm"].users.by_username("agent1")
    stored = {s.skill: s.level for s in await demo["crm"].skills.for_user(user.id)}
    assert stored == {"support": 5, "sales": 1}
    async with demo["http"].put(demo["base"] + "/api/agents/agent1/skills", headers=sup,
                                json={"skills": {"support": 9}}) as r:
        assert r.status == 422


async def test_openapi_documents_the_acd_routes(demo: dict[str, Any]) -> None:
    async with demo["http"].get(demo["base"] + "/api/openapi.json") as r:
        assert r.status == 200
        doc = await r.json()
    for path in ("/api/queues", "/api/agents", "/api/acd/me/login", "/api/acd/me/pause",
                 "/api/agents/{agent_id}/skills"):
        assert path in doc["paths"], path


async def test_click_to_dial_rings_the_agent_then_the_number(demo: dict[str, Any]) -> None:
    agent = await login(demo, "agent3")
    before = demo["sim"].tally().originates
    status, body = await post(demo, "/api/calls/dial", agent, {"number": "+12025550123"})
    assert status == 202, body
    assert body["status"] == "dialing"
    async with asyncio.timeout(10):
        while demo["sim"].tally().originates == before:
            await asyncio.sleep(0.05)
    # The tracker knows the call is ours (outbound) under the id we gave it.
    async with asyncio.timeout(10):
        while demo["tracker"].get(body["call_id"]) is None:
            await asyncio.sleep(0.05)
    assert demo["tracker"].get(body["call_id"]).direction == "outbound"


@pytest.mark.parametrize(("number", "status", "error_id"), [
    ("+12025550123\r\nAction: Originate", 422, "validation_failed"),  # header injection
    ("+19005550123", 403, "forbidden"),                  # premium rate (dial policy)
    ("+8821234567", 403, "forbidden"),                   # satellite / international network
    ("+1202555&PJSIP/999", 422, "validation_failed"),    # dial-string injection
    ("123; DROP TABLE users", 422, "validation_failed"),
])
async def test_click_to_dial_refuses_hostile_numbers_and_sends_nothing(
        demo: dict[str, Any], number: str, status: int, error_id: str) -> None:
    agent = await login(demo, "agent3")
    before = demo["sim"].tally().originates
    got, body = await post(demo, "/api/calls/dial", agent, {"number": number})
    assert got == status, body
    assert body["error_id"] == error_id
    await asyncio.sleep(0.2)
    assert demo["sim"].tally().originates == before


async def test_status_and_live_calls_for_supervisors(demo: dict[str, Any]) -> None:
    sup = await login(demo, "supervisor")
    status, st = await get(demo, "/api/status", sup)
    assert status == 200
    assert st["ami"]["state"] == "connected"
    assert st["ami"]["banner"].startswith("Asterisk Call Manager/")
    status, calls = await get(demo, "/api/calls", sup)
    assert status == 200 and isinstance(calls, list)
    # Live ACD calls: Unix times (not seconds since the process started), and their queue.
    async with asyncio.timeout(30):
        while not any(c["direction"] == "inbound" and c["queue"] for c in calls):
            await asyncio.sleep(0.1)
            status, calls = await get(demo, "/api/calls", sup)
    now = time.time()
    queues = {q.name for q in demo["acd"].settings.acd.queues}
    for c in calls:
        assert now - 600 < c["offered_at"] <= now + 1
        assert all(now - 600 < leg["created_at"] <= now + 1 for leg in c["legs"])
        if c["direction"] == "inbound" and c["queue"]:
            assert c["queue"] in queues
    agent = await login(demo, "agent1")
    status, _ = await get(demo, "/api/status", agent)
    assert status == 403


async def test_supervisor_whispers_to_own_team_agent(demo: dict[str, Any]) -> None:
    # The demo supervisor has no phone: give it one.
    user = await demo["crm"].users.by_username("supervisor")
    await demo["crm"].users.update(user.id, extension="1009")
    sup = await login(demo, "supervisor")
    before = demo["sim"].tally().originates
    status, body = await post(demo, "/api/agents/agent1/monitor", sup, {"mode": "whisper"})
    assert status == 202, body
    async with asyncio.timeout(10):
        while demo["sim"].tally().originates == before:
            await asyncio.sleep(0.05)
    status, body = await post(demo, "/api/agents/agent1/monitor", sup, {"mode": "steal"})
    assert status == 422
    status, body = await post(demo, "/api/agents/agent2/monitor", sup, {"mode": "listen"})
    assert status == 403


async def test_agent_cannot_log_in_on_someone_elses_phone(demo: dict[str, Any]) -> None:
    agent = await login(demo, "agent2")  # extension 1002
    status, err = await post(demo, "/api/acd/me/login", agent, {"extension": "1001"})
    assert status == 403, err
    assert "1002" in err["message"]


async def test_skill_names_are_bounded_and_validated_before_any_write(
        demo: dict[str, Any]) -> None:
    sup = await login(demo, "supervisor")
    user = await demo["crm"].users.by_username("agent1")
    before = {s.skill: s.level for s in await demo["crm"].skills.for_user(user.id)}
    for skills in ({"x" * 5000: 3}, {"support": 3, "bad name!": 2}):
        async with demo["http"].put(demo["base"] + "/api/agents/agent1/skills", headers=sup,
                                    json={"skills": skills}) as r:
            assert r.status == 422
    after = {s.skill: s.level for s in await demo["crm"].skills.for_user(user.id)}
    assert after == before


@pytest.mark.parametrize("typed", ["(202) 555-0124", "202.555.0124", "2025550124"])
async def test_click_to_dial_accepts_numbers_as_people_type_them(demo: dict[str, Any],
                                                                 typed: str) -> None:
    agent = await login(demo, "agent3")
    status, body = await post(demo, "/api/calls/dial", agent, {"number": typed})
    assert status == 202, body
    async with asyncio.timeout(10):
        while demo["tracker"].get(body["call_id"]) is None:
            await asyncio.sleep(0.05)
    assert demo["tracker"].get(body["call_id"]).dialled == "+12025550124"


async def test_click_to_dial_when_asterisk_is_unreachable_is_503(demo: dict[str, Any]) -> None:
    agent = await login(demo, "agent3")
    await demo["ami"].close()
    status, body = await post(demo, "/api/calls/dial", agent, {"number": "+12025550125"})
    assert status == 503, body
    assert body["error_id"] == "service_unavailable"


async def test_healthz_reports_the_ami_connection(demo: dict[str, Any]) -> None:
    async with demo["http"].get(demo["base"] + "/healthz") as r:
        assert r.status == 200
        assert (await r.json())["checks"]["ami"] == "connected"
    await demo["ami"].close()
    async with demo["http"].get(demo["base"] + "/healthz") as r:
        assert r.status == 503
        body = await r.json()
    assert body["status"] == "degraded"
    assert body["checks"]["ami"].startswith("failed")


async def test_logging_in_twice_or_on_a_busy_device_is_a_conflict(demo: dict[str, Any]) -> None:
    agent = await login(demo, "agent1")  # logged in to the ACD by the demo already
    status, err = await post(demo, "/api/acd/me/login", agent, {})
    assert status == 409, err
    assert "already logged in" in err["message"]
    admin = await login(demo, "admin")  # no phone of its own; 1002 is agent2's
    status, err = await post(demo, "/api/acd/me/login", admin, {"extension": "1002"})
    assert status == 403, err
    assert "no extension" in err["message"]


async def test_agent_times_are_unix_timestamps(demo: dict[str, Any]) -> None:
    import time

    sup = await login(demo, "supervisor")
    status, agents = await get(demo, "/api/agents", sup)
    assert status == 200
    now = time.time()
    for a in agents:
        assert now - 3600 < a["state_since"] <= now + 1, a


async def test_deactivated_agent_stops_taking_calls(demo: dict[str, Any]) -> None:
    admin = await login(demo, "admin")
    user = await demo["crm"].users.by_username("agent3")
    async with demo["http"].patch(demo["base"] + f"/api/users/{user.id}", headers=admin,
                                  json={"active": False}) as r:
        assert r.status == 200, await r.text()
    async with asyncio.timeout(60):  # now, or right after the call in progress
        while demo["engine"].agent("agent3").state != "logged_out":
            await asyncio.sleep(0.05)


async def wait_live_answered_call(demo: dict[str, Any]) -> Any:
    async with asyncio.timeout(60):
        while True:
            for call in demo["tracker"].active_calls():
                if call.answered_at is not None and call.agent is not None and \
                        call.agent.channel and call.direction == "inbound":
                    return call
            await asyncio.sleep(0.05)


async def test_supervisor_hangs_up_a_live_call(demo_long_calls: dict[str, Any]) -> None:
    demo = demo_long_calls
    call = await wait_live_answered_call(demo)
    sup = await login(demo, "admin")
    status, body = await post(demo, f"/api/calls/{call.call_id}/hangup", sup)
    assert status == 200, body
    async with asyncio.timeout(10):
        while (c := demo["tracker"].get(call.call_id)) is not None and c.active:
            await asyncio.sleep(0.05)


async def test_agent_transfers_own_call_but_not_others(demo_long_calls: dict[str, Any]) -> None:
    demo = demo_long_calls
    call = await wait_live_answered_call(demo)
    owner = call.agent.user
    assert owner.startswith("agent"), call.agent
    other = "agent1" if owner != "agent1" else "agent2"
    mine, theirs = await login(demo, owner), await login(demo, other)
    status, err = await post(demo, f"/api/calls/{call.call_id}/transfer", theirs,
                             {"number": "+12025550166"})
    assert status == 403, err
    status, err = await post(demo, f"/api/calls/{call.call_id}/transfer", mine,
                             {"number": "+12025550166\r\nAction: Hangup"})
    assert status == 422, err
    status, body = await post(demo, f"/api/calls/{call.call_id}/transfer", mine,
                              {"number": "+12025550166"})
    assert status == 200, body
    async with asyncio.timeout(10):  # the agent's part is over: the caller left the agent
        while (c := demo["tracker"].get(call.call_id)) is not None and \
                c.agent == call.agent and c.active and not c.transfers:
            await asyncio.sleep(0.05)
    status, err = await post(demo, "/api/calls/no-such-call/hangup", mine)
    assert status == 404
