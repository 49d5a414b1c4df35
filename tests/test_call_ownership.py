"""Who owns a call and what the record says, through the REST API against the PBX simulator.

The demo server runs with its random traffic stopped: each test places the calls it needs
(click-to-dial over REST, an inbound call, another AMI client's Originate, a desk phone's call)
and checks the API's answers, the live call view, the CRM rows and the queue statistics.
Conversations last minutes (handle time), so every call ends only when a test ends it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from crm_core.demo_data import iter_demo_numbers
from server import serve
from tests.test_server_demo import demo_settings, get, post, running_demo
from tests.test_server_demo import login as login_once

Handles = dict[str, Any]


def quiet_settings(data_dir: Path) -> Any:
    return demo_settings(data_dir, calls_per_minute=0.001, mean_handle_s=100_000.0)


@pytest.fixture(scope="module")
def prepared_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo database with its users, built once: hashing the demo users' passwords is
    most of a demo start-up."""
    data = tmp_path_factory.mktemp("demo-data")

    async def build() -> None:
        ready, stop = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(serve(quiet_settings(data), demo=True, ready=ready,
                                         stop=stop))
        await asyncio.wait_for(ready.wait(), 60)
        stop.set()
        await asyncio.wait_for(task, 30)

    asyncio.run(build())
    return data


@pytest.fixture
async def quiet(tmp_path: Path, prepared_data: Path) -> AsyncIterator[Handles]:
    data = tmp_path / "data"
    shutil.copytree(prepared_data, data)
    settings = quiet_settings(data)
    async for h in running_demo(settings):
        await h["sim"].stop_traffic()
        # Inbound test calls go straight to the ACD's support queue (agi://.../queue), not
        # through the demo IVR menu, whose answers depend on the time of day.
        h["sim"].config = dataclasses.replace(h["sim"].config, agi_script="queue?queue=support")
        h["settings"] = settings
        h["tokens"] = {}
        yield h
        # Calls still up end now, so the server's stop need not wait out ACD sessions.
        for channel in list(h["sim"].channels):
            h["sim"].hangup_caller(channel)
        await h["sim"].wait_calls_done(10)


async def login(h: Handles, user: str) -> dict[str, str]:
    """Logged in once per test and user (verifying a password is deliberately slow)."""
    tokens: dict[str, dict[str, str]] = h["tokens"]
    if user not in tokens:
        tokens[user] = await login_once(h, user)
    return tokens[user]


async def until(pred: Callable[[], Any], within: float = 15.0) -> Any:
    async with asyncio.timeout(within):
        while not (value := pred()):
            await asyncio.sleep(0.02)
    return value


def human(h: Handles, number: str) -> str:
    h["sim"].config.outbound.forced[number] = "human"
    return number


async def dial(h: Handles, user: str, number: str) -> tuple[dict[str, str], str]:
    """Click-to-dial as ``user``; returns their headers and the call id, once answered."""
    auth = await login(h, user)
    status, body = await post(h, "/api/calls/dial", auth, {"number": number})
    assert status == 202, body
    call_id = body["call_id"]
    await until(lambda: (c := h["tracker"].get(call_id)) is not None and c.answered_at)
    return auth, call_id


async def inbound_answered(h: Handles, caller: str = "+12025550100") -> Any:
    """An inbound call the ACD routes; returns its view once an agent talks."""
    handle = await h["sim"].place_inbound_call(caller)
    return await until(lambda: (c := h["tracker"].get(handle.uniqueid)) is not None
                       and c.answered_at is not None and c.agent is not None
                       and c.agent.channel and c)


async def ended(h: Handles, call_id: str) -> Any:
    return await until(lambda: (c := h["tracker"].get(call_id)) is not None
                       and not c.active and c)


async def interaction(h: Handles, call_id: str) -> Any:
    async def fetch() -> Any:
        while (row := await h["crm"].interactions.by_call_id(call_id)) is None \
                or row.ended_at is None:
            await asyncio.sleep(0.02)
        return row
    return await asyncio.wait_for(fetch(), 15)


async def segments(h: Handles, call_id: str, n: int) -> list[Any]:
    async def fetch() -> list[Any]:
        while len(rows := await h["crm"].call_segments(call_id)) < n:
            await asyncio.sleep(0.02)
        return rows
    return await asyncio.wait_for(fetch(), 15)


async def user_id(h: Handles, username: str) -> int:
    return int((await h["crm"].users.by_username(username)).id)


# --------------------------------------------------------------------------- one agent shape


async def test_click_to_dial_and_inbound_calls_show_the_agent_the_same_way(quiet: Handles) -> None:
    h = quiet
    _, c2d = await dial(h, "agent3", human(h, "+12025550141"))
    inbound = await inbound_answered(h)
    status, calls = await get(h, "/api/calls", await login(h, "admin"))
    assert status == 200
    by_id = {c["call_id"]: c for c in calls}
    mine = by_id[c2d]["agent"]
    assert (mine["user"], mine["device"]) == ("agent3", "PJSIP/1003")
    assert mine["channel"].startswith("PJSIP/1003-")
    theirs = by_id[inbound.call_id]["agent"]
    assert theirs["user"].startswith("agent") and theirs["device"].startswith("PJSIP/10")
    assert theirs["channel"].startswith(theirs["device"] + "-")
    assert set(mine) == set(theirs)
    status, own = await get(h, "/api/calls/mine", await login(h, "agent3"))
    assert status == 200 and [c["call_id"] for c in own] == [c2d]


async def test_agent_hangs_up_own_click_to_dial_call_and_it_is_recorded(quiet: Handles) -> None:
    h = quiet
    known = next(iter(iter_demo_numbers(50)))  # a CRM customer's number
    auth, call_id = await dial(h, "agent3", human(h, known))
    status, body = await post(h, f"/api/calls/{call_id}/hangup", auth)
    assert status == 200, body
    call = await ended(h, call_id)
    assert call.end_reason == "completed"
    row = await interaction(h, call_id)
    assert (row.direction, row.phone, row.agent_user_id) == (
        "outbound", known, await user_id(h, "agent3"))
    assert row.customer_id is not None  # matched by the number dialled
    assert row.answered_at is not None and row.talk_s is not None and row.talk_s >= 0
    assert row.disposition is None  # answered: the agent's wrap-up sets it
    (seg,) = await segments(h, call_id, 1)
    assert (seg.agent, seg.device, seg.ended_by) == ("agent3", "PJSIP/1003", "hangup")


async def test_unanswered_click_to_dial_is_recorded_with_its_outcome(quiet: Handles) -> None:
    h = quiet
    h["sim"].config.outbound.forced["+12025550142"] = "busy"
    auth = await login(h, "agent3")
    status, body = await post(h, "/api/calls/dial", auth, {"number": "+12025550142"})
    assert status == 202, body
    call = await ended(h, body["call_id"])
    assert call.end_reason == "busy"
    row = await interaction(h, body["call_id"])
    assert (row.disposition, row.answered_at, row.phone) == ("busy", None, "+12025550142")
    # Over: the agent may dial again.
    status, body = await post(h, "/api/calls/dial", auth, {"number": human(h, "+12025550143")})
    assert status == 202, body


async def test_three_quick_dials_one_call_two_clear_refusals(quiet: Handles) -> None:
    h = quiet
    auth = await login(h, "agent3")
    numbers = [human(h, f"+1202555016{i}") for i in range(3)]
    replies = await asyncio.gather(*(post(h, "/api/calls/dial", auth, {"number": n})
                                     for n in numbers))
    statuses = sorted(s for s, _ in replies)
    assert statuses == [202, 409, 409], replies
    placed = next(b["call_id"] for s, b in replies if s == 202)
    for s, b in replies:
        if s == 409:
            assert "in progress" in b["message"] and b["details"]["call_id"] == placed
    await until(lambda: (c := h["tracker"].get(placed)) is not None and c.answered_at)
    status, calls = await get(h, "/api/calls", await login(h, "admin"))
    assert [c["call_id"] for c in calls if c["agent"] and c["agent"]["user"] == "agent3"] \
        == [placed]


# --------------------------------------------------------------------------- transfers


async def test_supervisor_transfer_moves_the_customer_and_the_ownership(quiet: Handles) -> None:
    h = quiet
    agent1, call_id = await dial(h, "agent1", human(h, "+12025550144"))
    before = h["tracker"].get(call_id)
    customer = next(leg.channel for leg in before.legs if leg.device == "PJSIP/carrier")
    sup = await login(h, "supervisor")  # agent1's team
    status, body = await post(h, f"/api/calls/{call_id}/transfer", sup, {"number": "1002"})
    assert status == 200, body
    after = await until(lambda: (c := h["tracker"].get(call_id)) is not None
                        and c.agent is not None and c.agent.user == "agent2" and c.answered_at
                        and c.agent.channel and c)
    # The customer's leg was moved (it is still up); the agent's own leg is gone.
    assert any(leg.channel == customer and leg.ended_at is None for leg in after.legs)
    assert all(leg.ended_at is not None for leg in after.legs if leg.device == "PJSIP/1001")
    (t,) = after.transfers
    assert (t.kind, t.from_agent, t.target, t.by) == ("blind", "agent1", "1002", "supervisor")
    # The call is agent2's now: agent1 may no longer touch it, agent2 may.
    status, err = await post(h, f"/api/calls/{call_id}/hangup", agent1)
    assert status == 403, err
    agent2 = await login(h, "agent2")
    status, view = await get(h, f"/api/calls/{call_id}", agent2)
    assert status == 200 and view["agent"]["user"] == "agent2"
    status, body = await post(h, f"/api/calls/{call_id}/hangup", agent2)
    assert status == 200, body
    await ended(h, call_id)
    first, second = await segments(h, call_id, 2)
    assert (first.agent, first.ended_by, first.transfer_kind, first.transfer_target) == (
        "agent1", "transfer", "blind", "1002")
    status, rows = await get(h, f"/api/calls/{call_id}/segments", agent1)
    assert status == 200
    assert [(r["agent"], r["ended_by"], r["transfer_target"]) for r in rows] == [
        ("agent1", "transfer", "1002"), ("agent2", "hangup", None)]
    assert (second.agent, second.ended_by, second.transfer_kind) == ("agent2", "hangup", None)
    assert first.talk_s > 0 and second.started_at >= first.ended_at


async def test_blind_transfer_from_the_phone_moves_the_call_and_counts_in_stats(
        quiet: Handles) -> None:
    h = quiet
    call = await inbound_answered(h, "+12025550101")
    first_agent = call.agent.user
    h["sim"].phone_blind_transfer(call.agent.channel, "1099")  # the supervisor's phone
    after = await until(lambda: (c := h["tracker"].get(call.call_id)) is not None
                        and c.agent is not None and c.agent.user == "supervisor"
                        and c.agent.channel and c)
    (t,) = after.transfers
    assert (t.kind, t.from_agent, t.target) == ("blind", first_agent, "1099@from-cti")
    status, err = await post(h, f"/api/calls/{call.call_id}/hangup",
                             await login(h, first_agent))
    assert status == 403, err  # the customer talks to someone else now
    sup = await login(h, "admin")
    status, queues = await get(h, "/api/queues", sup)
    row = next(q for q in queues if q["queue"] == "support")
    assert row["window"]["transferred"] == 1
    await asyncio.sleep(0.3)  # the new party talks a while (so its part shows in the record)
    status, body = await post(h, f"/api/calls/{call.call_id}/hangup", await login(h, "supervisor"))
    assert status == 200, body
    await ended(h, call.call_id)
    first, second = await segments(h, call.call_id, 2)
    assert (first.agent, first.transfer_kind, first.transfer_target) == (
        first_agent, "blind", "1099@from-cti")
    assert second.agent == "supervisor"
    assert first.agent_user_id == await user_id(h, first_agent)
    # The interaction covers the whole call, not only the first agent's part.
    async with asyncio.timeout(15):
        while (row := await h["crm"].interactions.by_call_id(call.call_id)) is None \
                or row.ended_at is None or row.ended_at < second.ended_at - 0.05:
            await asyncio.sleep(0.02)
    assert row.talk_s >= first.talk_s + second.talk_s - 0.05
    assert row.agent_user_id == await user_id(h, first_agent)
    # The event log has the transfer once.
    await h["history"].flush()
    logged = await h["crm"].history.events(0.0, 1e12, kinds=["transferred"])
    assert [(e.call_id, e.queue) for e in logged] == [(call.call_id, "support")]


async def test_attended_transfer_over_rest_for_a_click_to_dial_call(quiet: Handles) -> None:
    h = quiet
    agent1, call_id = await dial(h, "agent1", human(h, "+12025550145"))
    status, body = await post(h, f"/api/calls/{call_id}/attended-transfer", agent1,
                              {"number": "1099"})
    assert status == 200, body
    assert body["status"] == "consulting"
    after = await until(lambda: (c := h["tracker"].get(call_id)) is not None
                        and c.transfers and c.agent is not None
                        and c.agent.user == "supervisor" and c)
    (t,) = after.transfers
    assert (t.kind, t.from_agent, t.target) == ("attended", "agent1", "PJSIP/1099")
    status, body = await post(h, f"/api/calls/{call_id}/hangup", await login(h, "supervisor"))
    assert status == 200, body
    await ended(h, call_id)
    first, second = await segments(h, call_id, 2)
    assert (first.agent, first.ended_by, first.transfer_kind) == ("agent1", "transfer", "attended")
    assert (second.agent, second.device) == ("supervisor", "PJSIP/1099")


async def test_hold_and_unhold_over_rest(quiet: Handles) -> None:
    h = quiet
    auth, call_id = await dial(h, "agent3", human(h, "+12025550146"))

    def held() -> bool:
        c = h["tracker"].get(call_id)
        return c is not None and any(leg.on_hold for leg in c.legs if leg.ended_at is None)

    status, body = await post(h, f"/api/calls/{call_id}/unhold", auth)
    assert status == 409, body
    status, body = await post(h, f"/api/calls/{call_id}/hold", auth)
    assert status == 200, body
    await until(held)
    status, body = await post(h, f"/api/calls/{call_id}/hold", auth)
    assert status == 409 and "already" in body["message"]
    status, body = await post(h, f"/api/calls/{call_id}/unhold", auth)
    assert status == 200, body
    await until(lambda: not held())
    call = h["tracker"].get(call_id)
    assert call.active and call.agent.user == "agent3"


async def test_attended_transfer_is_refused_inside_an_acd_session(quiet: Handles) -> None:
    # Hold works there (the ACD holds its own callers: tests/test_acd_hold.py).
    h = quiet
    call = await inbound_answered(h, "+12025550102")
    auth = await login(h, call.agent.user)
    status, err = await post(h, f"/api/calls/{call.call_id}/attended-transfer", auth,
                             {"number": "1099"})
    assert status == 409, err
    assert "FastAGI" in err["message"]
    assert h["tracker"].get(call.call_id).active


# --------------------------------------------------------------------------- one policy


async def test_every_call_action_checks_the_team(quiet: Handles) -> None:
    h = quiet
    _, call_id = await dial(h, "agent2", human(h, "+12025550147"))  # not the supervisor's team
    sup = await login(h, "supervisor")
    status, err = await get(h, f"/api/calls/{call_id}", sup)
    assert status == 403, err
    for action, body in (("hangup", None), ("transfer", {"number": "1099"}),
                         ("hold", None), ("attended-transfer", {"number": "1099"})):
        status, err = await post(h, f"/api/calls/{call_id}/{action}", sup, body)
        assert status == 403, (action, err)
    status, err = await post(h, "/api/agents/agent2/monitor", sup, {"mode": "listen"})
    assert status == 403
    assert h["tracker"].get(call_id).agent.user == "agent2"  # nothing happened to it
    other = await login(h, "agent3")
    status, err = await get(h, f"/api/calls/{call_id}", other)
    assert status == 403 and err["message"] == "this is not your call"
    status, view = await get(h, f"/api/calls/{call_id}", await login(h, "agent2"))
    assert status == 200 and view["agent"]["user"] == "agent2"
    status, view = await get(h, f"/api/calls/{call_id}", await login(h, "admin"))
    assert status == 200
    status, err = await get(h, "/api/calls/no-such-call", other)
    assert status == 404
    _, team_call = await dial(h, "agent1", human(h, "+12025550148"))
    status, view = await get(h, f"/api/calls/{team_call}", sup)
    assert status == 200 and view["agent"]["user"] == "agent1"
    # The live call list shows the supervisor their team's calls, not another team's.
    status, calls = await get(h, "/api/calls", sup)
    assert status == 200
    listed = {c["call_id"] for c in calls}
    assert team_call in listed and call_id not in listed
    status, calls = await get(h, "/api/calls", await login(h, "admin"))
    assert {team_call, call_id} <= {c["call_id"] for c in calls}


# --------------------------------------------------------------------------- calls we did not place


async def other_ami_client_originate(h: Handles, channel: str, exten: str, caller_id: str) -> None:
    ami = h["settings"].ami
    reader, writer = await asyncio.open_connection("127.0.0.1", h["sim"].ami_port)
    try:
        await reader.readline()  # banner
        writer.write((f"Action: Login\r\nUsername: {ami.username}\r\nSecret: {ami.secret}\r\n"
                      "ActionID: l1\r\n\r\n").encode())
        writer.write((f"Action: Originate\r\nChannel: {channel}\r\nContext: from-cti\r\n"
                      f"Exten: {exten}\r\nPriority: 1\r\nAsync: true\r\n"
                      f"CallerID: {caller_id}\r\nActionID: other-1\r\n\r\n").encode())
        await writer.drain()
        async with asyncio.timeout(10):
            while b"Originate successfully queued" not in await reader.readline():
                pass
    finally:
        writer.close()


async def test_another_clients_originate_is_tracked_as_outbound(quiet: Handles) -> None:
    h = quiet
    await other_ami_client_originate(h, "PJSIP/1002", human(h, "+12025550149"),
                                     '"Other App" <5550999>')
    call = await until(lambda: next((c for c in h["tracker"].active_calls()
                                     if c.origin == "originate" and c.answered_at), None))
    assert (call.direction, call.caller_num, call.caller_name) == (
        "outbound", "5550999", "Other App")
    assert (call.agent.user, call.dialled) == ("agent2", "+12025550149")
    status, body = await post(h, f"/api/calls/{call.call_id}/hangup", await login(h, "agent2"))
    assert status == 200, body
    row = await interaction(h, call.call_id)
    assert (row.direction, row.agent_user_id) == ("outbound", await user_id(h, "agent2"))


async def test_desk_phone_call_is_outbound_and_answered_by_the_far_leg(quiet: Handles) -> None:
    h = quiet
    h["sim"].place_phone_call("1003", human(h, "+12025550150"))
    call = await until(lambda: next((c for c in h["tracker"].active_calls()
                                     if c.origin == "phone" and c.answered_at), None))
    assert (call.direction, call.caller_num, call.dialled) == ("outbound", "1003",
                                                               "+12025550150")
    assert call.agent.user == "agent3"
    carrier = next(leg for leg in call.legs if leg.device == "PJSIP/carrier")
    assert call.answered_at == carrier.answered_at  # the far leg's answer, not the phone's
    status, body = await post(h, f"/api/calls/{call.call_id}/hangup", await login(h, "agent3"))
    assert status == 200, body
    row = await interaction(h, call.call_id)
    assert (row.direction, row.phone) == ("outbound", "+12025550150")


# --------------------------------------------------------------------------- the agent's own state


async def test_agent_pauses_and_logs_out_after_the_current_call(quiet: Handles) -> None:
    h = quiet
    call = await inbound_answered(h, "+12025550103")
    me = call.agent.user
    auth = await login(h, me)
    engine = h["engine"]
    status, body = await post(h, "/api/acd/me/pause-after-call", auth, {"reason": "nap"})
    assert status == 400, body  # unknown reason codes are refused at once
    status, body = await post(h, "/api/acd/me/pause-after-call", auth, {"reason": "lunch"})
    assert status == 202 and body["status"] == "pause_pending", body
    assert str(engine.agent(me).state) == "on_call"
    status, body = await post(h, f"/api/calls/{call.call_id}/hangup", auth)
    assert status == 200, body
    await until(lambda: str(engine.agent(me).state) == "paused")
    assert engine.agent(me).pause_reason == "lunch"
    status, body = await post(h, "/api/acd/me/logout-after-call", auth)
    assert status == 200 and body["status"] == "logged_out", body
    assert str(engine.agent(me).state) == "logged_out"


async def test_a_callback_is_owned_by_the_agent_it_rings(quiet: Handles) -> None:
    h = quiet
    acd = h["acd"]
    for a in ("agent1", "agent2", "agent3", "agent4"):
        await until(lambda a=a: str(h["engine"].agent(a).state) in ("available", "paused"))
        acd.agent_pause(a, "break")
    number = human(h, "+12025550104")
    caller = await h["sim"].place_inbound_call(number, dtmf="1")  # "1": call me back
    await caller.wait(15)  # the caller hung up after the confirmation
    acd.agent_available("agent1")
    call = await until(lambda: next((c for c in h["tracker"].active_calls()
                                     if c.origin == "callback" and c.answered_at), None))
    assert (call.direction, call.dialled) == ("outbound", number)
    assert (call.agent.user, call.agent.device) == ("agent1", "PJSIP/1001")
    assert call.agent.channel.startswith("PJSIP/1001-")
    status, body = await post(h, f"/api/calls/{call.call_id}/hangup", await login(h, "agent1"))
    assert status == 200, body
    row = await interaction(h, call.call_id)
    assert (row.direction, row.phone, row.agent_user_id) == (
        "outbound", number, await user_id(h, "agent1"))
