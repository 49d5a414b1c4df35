"""/ws over a real server: replay and resume, slow clients, limits, screen-pops, commands,
kiosk wallboards, the published schemas and the metrics."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from acd.stats import AgentStateStats, PeriodStats, QueueReport
from agent_desktop.hub.schema import topic_schema
from common.messages import IvrContext

from .world import (
    T0,
    World,
    agent_state,
    connect,
    ended,
    login_ws,
    make_world,
    offered,
    queued,
    world_settings,
)


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async for world in make_world(tmp_path):
        yield world


async def events_for(c: Any, n: int) -> list[dict[str, Any]]:
    out = []
    while len(out) < n:
        f = await c.next()
        if f["op"] == "event":
            out.append(f)
    return out


async def test_replay_after_reconnect_inside_the_buffer(w: World) -> None:
    c = await login_ws(w, "ann")
    snap = await c.until(lambda f: f["op"] == "snapshot")
    w.bus.publish(ended("a1"))
    first = (await events_for(c, 1))[0]
    assert first["seq"] == snap["seq"] + 1
    await c.close()
    for i in range(3):  # missed while away (the buffer holds 8)
        w.bus.publish(ended(f"m{i}"))
    await asyncio.sleep(0.05)
    again = await login_ws(w, "ann", resume={"stream": first["stream"], "seq": first["seq"]})
    welcome = await again.next()
    assert welcome["op"] == "welcome" and welcome["resumed"] is True
    assert welcome["seq"] == first["seq"]  # where the client was; the missed events follow
    missed = await events_for(again, 3)
    assert [f["data"]["call_id"] for f in missed] == ["m0", "m1", "m2"]
    assert [f["seq"] for f in missed] == [first["seq"] + 1, first["seq"] + 2, first["seq"] + 3]
    assert not [f for f in again.frames if f["op"] == "snapshot"]
    w.bus.publish(ended("live"))
    live = (await events_for(again, 1))[0]
    assert live["data"]["call_id"] == "live" and live["seq"] == first["seq"] + 4
    await again.close()


async def test_resume_beyond_the_buffer_gets_a_gap_snapshot_with_the_screen_pop(
        w: World) -> None:
    c = await login_ws(w, "ann")
    snap = await c.until(lambda f: f["op"] == "snapshot")
    await c.close()
    w.bus.publish(offered("pop1", "ann", "+12125550100"))
    for i in range(20):  # far more than the 8 kept
        w.bus.publish(agent_state("ann"))
    await _until(lambda: w.hub.counters.screen_pops >= 1)
    again = await login_ws(w, "ann", resume={"stream": snap["stream"], "seq": snap["seq"]})
    welcome = await again.next()
    assert welcome["resumed"] is False
    gap = await again.next()
    assert gap["op"] == "snapshot" and gap["reason"] == "gap"
    assert gap["seq"] == welcome["seq"] > snap["seq"]
    # The screen-pop that scrolled out of the buffer is in the snapshot: not lost.
    assert gap["data"]["call"]["call_id"] == "pop1"
    assert gap["data"]["screen_pop"]["call_id"] == "pop1"
    await again.close()


async def test_resume_with_a_seq_from_another_server_life_is_a_gap(w: World) -> None:
    c = await login_ws(w, "ann", resume={"stream": f"agent:{w.users['ann'].id}", "seq": 41})
    assert (await c.next())["resumed"] is False
    assert (await c.next())["reason"] == "gap"
    await c.close()


async def _until(pred: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.01)


async def test_a_client_that_stops_reading_is_dropped_and_others_keep_receiving(
        tmp_path: Path) -> None:
    # A tiny send queue and big frames: the stuck peer's TCP buffers fill, then its queue.
    async for w in make_world(tmp_path, world_settings(ws_send_queue=8,
                                                       ws_replay_events=4)):
        stuck = await _raw_stuck_client(w, await w.token("sue"))
        good = await login_ws(w, "sue")
        await good.until(lambda f: f["op"] == "snapshot")
        big = "x" * 60_000
        got: set[str] = set()

        async def read_all() -> None:
            while "q199" not in got:
                f = await good.next()
                if f["op"] == "event":
                    got.add(f["data"]["call_id"])

        reader = asyncio.create_task(read_all())
        for i in range(200):
            w.bus.publish(queued(f"q{i}", number=big))  # a big frame (not a real number)
            await asyncio.sleep(0.002)  # a busy floor, not one burst bigger than any queue
        await _until(lambda: w.hub.counters.dropped_slow >= 1)
        await asyncio.wait_for(reader, 20)
        assert got >= {f"q{i}" for i in range(200)}  # the reader missed nothing
        assert w.hub.client_count() == 1  # only the reader is left
        metrics = await _get(w, "/metrics")
        assert "cti_ws_dropped_slow_total 1.0" in metrics
        assert 'cti_ws_clients{role="supervisor"} 1.0' in metrics
        stuck.close()
        await good.close()


async def _raw_stuck_client(w: World, token: str) -> socket.socket:
    """A websocket client that authenticates and then never reads again (tiny receive buffer)."""
    import base64
    import os

    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", w.server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{w.server.port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
    payload = json.dumps({"op": "auth", "token": token}).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    header = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big") if len(payload) > 125 \
        else bytes([0x81, 0x80 | len(payload)])
    s.sendall(header + mask + masked)
    await _until(lambda: w.hub.client_count() >= 1)
    return s


async def _get(w: World, path: str, token: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as s, s.get(w.http + path, headers=headers) as r:
        return await r.text()


async def test_oversized_message_closes_1009(w: World) -> None:
    c = await login_ws(w, "ann")
    await c.until(lambda f: f["op"] == "snapshot")
    await c.send({"op": "ping", "pad": "x" * 5000})
    code, _ = await c.closed()
    assert code == 1009
    await c.close()


async def test_message_rate_limit_closes_4429(w: World) -> None:
    c = await login_ws(w, "ann")  # burst 10, 5 per second
    await c.until(lambda f: f["op"] == "snapshot")
    for _ in range(12):
        await c.send({"op": "ping"})
    code, reason = await c.closed()
    assert code == 4429 and "too many" in reason
    await c.close()


async def test_malformed_message_gets_an_error_and_the_socket_stays(w: World) -> None:
    c = await login_ws(w, "ann")
    await c.until(lambda f: f["op"] == "snapshot")
    for bad in ("{", "[1]", json.dumps({"op": "dance"}),
                json.dumps({"op": "command", "id": "x\r\n", "name": "agent.state"})):
        await c.send(bad)
        err = await c.until(lambda f: f["op"] == "error")
        assert err["code"] == "bad_message" and err["message"]
    await c.send({"op": "ping"})
    assert (await c.next())["op"] == "pong"
    await c.close()


# ---------------------------------------------------------------------------- screen-pops


async def _rich_customer(w: World) -> int:
    crm = w.crm
    co = await crm.customers.create(kind="company", name="Granite Foods LLC")
    ann = await crm.customers.create(kind="person", name="张伟", company_id=co.id,
                                     stage="customer", tier="gold")
    await crm.phones.create(customer_id=ann.id, e164="+12125550100", label="mobile")
    hw = await crm.products.create(sku="HW-1", name="Router", department="hardware",
                                   price_cents=10_000)
    await crm.orders.create_with_lines(customer_id=ann.id, department="hardware",
                                       lines=[(hw.id, 2)])
    await crm.tickets.create(customer_id=ann.id, subject="Router dead", category="technical")
    await crm.opportunities.create(customer_id=ann.id, name="Upgrade", amount_cents=500_000,
                                   probability=0.5, expected_close=T0 + 86400)
    await crm.callbacks.create(customer_id=ann.id, phone="+12125550100", due_at=T0 + 3600)
    await crm.log_call("old-call", direction="inbound", customer_id=ann.id, offered_at=T0 - 60)
    return ann.id


async def test_screen_pop_of_a_known_caller_at_offer_time(w: World) -> None:
    cid = await _rich_customer(w)
    c = await login_ws(w, "ann")
    await c.until(lambda f: f["op"] == "snapshot")
    w.bus.publish(offered("k1", "ann", "+12125550100", ivr=IvrContext(
        menu="main", version=3, path=("welcome", "lang", "account"),
        digits=(("lang", "1"), ("account", "4111111111111111"), ("pin", "****")),
        language="zh", seconds=14.2)))
    offer = await c.until(lambda f: f.get("topic") == "acd.call.offered")
    pop = await c.until(lambda f: f.get("topic") == "desktop.screen_pop")
    assert pop["seq"] == offer["seq"] + 1
    d = pop["data"]
    assert d["status"] == "known" and d["call_id"] == "k1" and d["queue"] == "support"
    assert d["caller_number"] == "+12125550100" and d["waited_s"] == 12.5
    cust = d["customer"]
    assert cust["customer"]["id"] == cid and cust["customer"]["name"] == "张伟"
    stored = await w.crm.customers.get(cid)
    assert (cust["customer"]["tier"], cust["customer"]["value_score"]) == \
        (stored.tier, stored.value_score)
    assert cust["company"]["name"] == "Granite Foods LLC"
    assert [t["subject"] for t in cust["open_tickets"]] == ["Router dead"]
    assert cust["open_tickets"][0]["due_at"] is not None  # SLA due time
    assert cust["purchases_by_department"] == [
        {"department": "hardware", "orders": 1, "total_cents": 20_000}]
    assert [o["name"] for o in cust["open_opportunities"]] == ["Upgrade"]
    assert len(cust["pending_callbacks"]) == 1
    assert [i["call_id"] for i in cust["last_interactions"]] == ["old-call"]
    assert d["ivr"] == {"menu": "main", "path": ["welcome", "lang", "account"],
                        "digits": {"lang": "1", "account": "************1111", "pin": "****"},
                        "language": "zh", "seconds": 14.2}
    assert "4111111111111111" not in json.dumps(c.frames)
    await c.close()


async def test_screen_pop_of_an_unknown_caller_and_a_shared_number(w: World) -> None:
    for name in ("Li Na", "Li Wei"):
        cust = await w.crm.customers.create(kind="person", name=name)
        await w.crm.phones.create(customer_id=cust.id, e164="+12125550177")
    c = await login_ws(w, "ann")
    await c.until(lambda f: f["op"] == "snapshot")
    w.bus.publish(offered("u1", "ann", "+12025559999"))
    pop = (await c.until(lambda f: f.get("topic") == "desktop.screen_pop"))["data"]
    assert (pop["status"], pop["customer"], pop["matches"], pop["ivr"]) == \
        ("unknown", None, [], None)
    assert pop["caller_number"] == "+12025559999"
    w.bus.publish(offered("s1", "ann", "+12125550177"))
    pop = (await c.until(lambda f: f.get("topic") == "desktop.screen_pop"))["data"]
    assert pop["status"] == "ambiguous" and pop["customer"] is None
    assert sorted(m["name"] for m in pop["matches"]) == ["Li Na", "Li Wei"]
    w.bus.publish(offered("g1", "ann", "anonymous\r\nX: y"))
    pop = (await c.until(lambda f: f.get("topic") == "desktop.screen_pop"))["data"]
    assert pop["status"] == "unknown" and pop["error"] is None
    await c.close()


# ---------------------------------------------------------------------------- commands


async def command(c: Any, cid: str, **args: Any) -> dict[str, Any]:
    await c.send({"op": "command", "id": cid, "name": "agent.state", "args": args})
    return await c.until(lambda f: f["op"] == "result" and f["id"] == cid)


async def test_agent_state_commands_run_the_rest_rules(w: World) -> None:
    c = await login_ws(w, "ann")
    await c.until(lambda f: f["op"] == "snapshot")
    r = await command(c, "c1", state="paused", reason="lunch")
    assert r["ok"] and r["status"] == 200 and r["body"]["state"] == "paused"
    assert w.service.engine.agent("ann").pause_reason == "lunch"
    r = await command(c, "c2", state="paused", reason="nap")  # not a configured reason
    assert (r["ok"], r["status"], r["error"]["code"]) == (False, 400, "bad_request")
    r = await command(c, "c3", state="available")
    assert r["ok"] and r["body"]["state"] == "available"
    r = await command(c, "c4", state="wrap_up_end")  # not in wrap-up: the REST 409
    assert (r["ok"], r["status"]) == (False, 409)
    r = await command(c, "c5", state="paused")  # no reason
    assert (r["status"], r["error"]["code"]) == (422, "validation_failed")
    r = await command(c, "c6", state="sleeping")
    assert r["status"] == 422
    await c.send({"op": "command", "id": "c7", "name": "agent.dance", "args": {}})
    r = await c.until(lambda f: f["op"] == "result" and f["id"] == "c7")
    assert (r["status"], r["error"]["code"]) == (404, "not_found")
    await c.close()


async def test_an_agent_cannot_change_another_agent(w: World) -> None:
    c = await login_ws(w, "ann")
    await c.until(lambda f: f["op"] == "snapshot")
    for i, args in enumerate(({"state": "paused", "reason": "lunch", "agent_id": "amy"},
                              {"state": "logged_out", "agent_id": "amy"},
                              {"state": "available", "agent_id": "amy"})):
        r = await command(c, f"x{i}", **args)
        assert (r["ok"], r["status"]) == (False, 403)
    assert str(w.service.engine.agent("amy").state) == "available"
    await c.close()


async def test_a_supervisor_acts_on_own_team_only(w: World) -> None:
    sue = await login_ws(w, "sue")
    await sue.until(lambda f: f["op"] == "snapshot")
    r = await command(sue, "p1", state="paused", reason="training", agent_id="amy")
    assert r["ok"] and r["body"]["state"] == "paused"
    r = await command(sue, "p2", state="paused", reason="training", agent_id="bob")
    assert (r["ok"], r["status"]) == (False, 403)
    assert str(w.service.engine.agent("bob").state) == "available"
    r = await command(sue, "p3", state="available", agent_id="amy")
    assert r["status"] == 403  # REST has no "make another agent available" either
    await sue.close()


# ---------------------------------------------------------------------------- kiosk, stats


def _report(queue: str, waiting: int) -> QueueReport:
    p = PeriodStats(entered=10, answered=8, answered_within_sl=6, abandoned=2,
                    abandoned_short=0, overflowed_out=0, handled=8, callbacks_requested=0,
                    transferred=0, service_level=0.6, service_level_excl_short=0.6,
                    asa_s=12.0, aht_s=180.0, abandon_rate=0.2, avg_time_to_abandon_s=30.0)
    from acd.model import AgentState

    return QueueReport(queue=queue, waiting=waiting, longest_wait_s=42.0, window=p, today=p,
                       agents=(AgentStateStats(AgentState.AVAILABLE, 2, 10.0, 8.0),),
                       staffed=2, arrival_rate_per_h=40.0, agents_needed=3)


async def test_kiosk_wallboard_is_read_only_and_has_no_customer_data(w: World) -> None:
    sue_token = await w.token("sue")
    async with aiohttp.ClientSession() as s:
        auth = {"Authorization": f"Bearer {sue_token}"}
        async with s.post(w.http + "/api/wallboard/kiosk-tokens", headers=auth,
                          json={"team_id": w.teams["blue"]}) as r:
            assert r.status == 403  # another team's
        async with s.post(w.http + "/api/wallboard/kiosk-tokens", headers=auth,
                          json={"team_id": w.teams["red"], "label": "floor TV"}) as r:
            assert r.status == 201
            minted = await r.json()
        async with s.get(w.http + "/api/wallboard/kiosk-tokens", headers=auth) as r:
            listed = await r.json()
        assert [t["id"] for t in listed] == [minted["id"]]
        assert minted["token"] not in json.dumps(listed)
    row = await w.crm.db.point_read(
        lambda conn: conn.execute("SELECT token_hash FROM kiosk_tokens").fetchone())
    assert row[0] != minted["token"] and len(row[0]) == 64  # only the hash is stored

    k = await connect(w)
    await k.send({"op": "auth", "kiosk": minted["token"]})
    welcome = await k.next()
    assert welcome["stream"] == f"wallboard:{w.teams['red']}"
    assert welcome["user"]["role"] == "kiosk"
    snap = await k.next()
    assert {a["agent_id"] for a in snap["data"]["agents"]} == {"ann", "amy"}
    w.bus.publish(offered("cx", "ann", "+12125550100"))
    w.bus.publish(agent_state("ann"))
    w.acd.reports = [_report("support", 3)]
    w.hub.publish_stats()
    stats = await k.until(lambda f: f.get("topic") == "acd.queue.stats")
    assert stats["data"]["waiting"] == 3 and stats["data"]["erlang_agents_needed"] == 3
    w.hub.publish_stats()  # unchanged: nothing new
    w.acd.reports = [_report("support", 4)]
    w.hub.publish_stats()  # changed, but within the second: held back
    await asyncio.sleep(0.05)
    topics = [f.get("topic") for f in k.frames if f["op"] == "event"]
    assert topics.count("acd.queue.stats") == 1
    assert set(topics) <= {"desktop.agent_row", "acd.queue.stats"}
    assert "+12125550100" not in json.dumps(k.frames)
    await k.send({"op": "command", "id": "k1", "name": "agent.state",
                  "args": {"state": "paused", "reason": "lunch", "agent_id": "ann"}})
    r = await k.until(lambda f: f["op"] == "result")
    assert (r["ok"], r["status"]) == (False, 403)

    async with aiohttp.ClientSession() as s, s.delete(
            f"{w.http}/api/wallboard/kiosk-tokens/{minted['id']}",
            headers={"Authorization": f"Bearer {sue_token}"}) as r:
        assert r.status == 204
    code, reason = await k.closed()
    assert code == 4403 and "revoked" in reason
    await k.close()
    k2 = await connect(w)
    await k2.send({"op": "auth", "kiosk": minted["token"]})
    assert (await k2.closed())[0] == 4401
    await k2.close()


async def test_message_schemas_are_in_the_openapi_document(w: World) -> None:
    doc = json.loads(await _get(w, "/api/openapi.json"))
    assert "WsServerFrame" in doc["components"]["schemas"]
    topics = doc["x-websocket-topics"]
    assert {"desktop.screen_pop", "acd.queue.stats", "desktop.agent_row",
            "acd.call.offered"} <= set(topics)
    pop = topic_schema(doc, "desktop.screen_pop")
    assert {"call_id", "status", "customer", "matches", "ivr", "waited_s"} <= \
        set(pop["properties"])
    assert topic_schema(doc, "acd.queue.stats")["properties"]["erlang_agents_needed"]
    assert doc["paths"]["/ws"]["get"]["security"] == []
    from openapi_spec_validator import validate

    validate(doc)


async def test_agent_streams_keep_a_smaller_replay_buffer(w: World) -> None:
    # One agent stream per agent who ever connected lives as long as the process: its cap is
    # [desktop].ws_agent_replay_bytes; team, wallboard and all streams keep ws_replay_bytes.
    c = await login_ws(w, "ann")
    await c.until(lambda f: f["op"] == "snapshot")
    s = await login_ws(w, "sue")
    await s.until(lambda f: f["op"] == "snapshot")
    agent_cap, other_cap = w.hub.settings.ws_agent_replay_bytes, w.hub.settings.ws_replay_bytes
    assert agent_cap < other_cap
    assert w.hub.logs[f"agent:{w.users['ann'].id}"].max_bytes == agent_cap
    assert w.hub.logs[f"team:{w.teams['red']}"].max_bytes == other_cap
