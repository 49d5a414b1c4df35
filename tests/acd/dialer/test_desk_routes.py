"""Agents' dispositions of dialer calls and preview dialling, over HTTP (acd/dialer/desk.py):
ownership and roles, lead/interaction/callback/DNC rows written, the dial path and its audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from acd.dialer.routes import dialer_routes
from agent_desktop.app import AUTH_KEY, create_app
from common.bus import Bus
from common.messages import BusMessage, DialerDisposition
from config.cti import DialingSettings
from crm_core.models import User
from cti.dialguard import DialAuditWriter, DialGuard
from cti.events import ChannelHungUp, ChannelInfo, DialEnd, OriginateResult
from tests.acd.dialer.conftest import NOON_NY, FakeSession, World, settle
from tests.agent_desktop.conftest import PASSWORD_HASH, bearer, make_client, make_settings


@dataclass
class Http:
    client: TestClient
    h: dict[str, dict[str, str]]  # username -> auth headers
    users: dict[str, User]


@pytest.fixture
async def http(world: World) -> AsyncIterator[Http]:
    users = {
        "al": await world.crm.users.create(username="al", password_hash=PASSWORD_HASH,
                                           role="agent", extension="1001"),
        "bo": await world.crm.users.create(username="bo", password_hash=PASSWORD_HASH,
                                           role="agent", extension="1002"),
        "sam": await world.crm.users.create(username="sam", password_hash=PASSWORD_HASH,
                                            role="supervisor"),
    }
    app = create_app(make_settings(), world.crm, Bus(), clock=world.wall,
                     extra_routes=dialer_routes(world.dialer, world.crm, make_settings()))
    h = {n: bearer((await app[AUTH_KEY].issue_for(u)).access_token) for n, u in users.items()}
    client = await make_client(app)
    try:
        yield Http(client, h, users)
    finally:
        await client.close()


async def connected_call(world: World, agent: User, phone: str = "+12125550101") -> str:
    """A lead's call answered by a person and talked through by `agent` (as the ACD logs it)."""
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    action = next(a for a in world.ami.sent if a.get("Channel") == f"PJSIP/{phone}@carrier")
    call_id: str = action.action_id.removeprefix("orig-")
    world.dialer.on_cti_event(OriginateResult(action.action_id, True, 4, "x", "", "", "", "", ""))

    async def connect(session: object, **kw: object) -> str:
        await world.crm.log_call(call_id, direction="outbound", phone=phone, queue="sales",
                                 agent_user_id=agent.id, offered_at=NOON_NY,
                                 answered_at=NOON_NY + 1, ended_at=NOON_NY + 61)
        return "answered"

    world.acd.queue_call = connect  # type: ignore[assignment,method-assign]
    await world.dialer.handle_dialer(FakeSession(call_id, "HUMAN"))  # type: ignore[arg-type]
    return call_id


async def dispose(http: Http, world: World, who: str, **body: Any) -> Any:
    return await http.client.post(f"/api/campaigns/{world.campaign_id}/dispositions",
                                  headers=http.h[who], json=body)


async def test_the_agent_who_talked_records_the_disposition(world: World, http: Http) -> None:
    call_id = await connected_call(world, http.users["al"])
    published: list[BusMessage] = []
    world.dialer.publish = published.append
    r = await dispose(http, world, "bo", call_id=call_id, disposition="sale")
    assert r.status == 403, await r.text()
    r = await dispose(http, world, "al", call_id=call_id, disposition="sold-it")
    assert r.status == 422 and "not a configured code" in (await r.json())["message"]
    r = await dispose(http, world, "al", call_id="12345.6", disposition="sale")
    assert r.status == 422
    r = await dispose(http, world, "al", call_id=call_id, disposition="sale", notes="3 years")
    assert r.status == 200, await r.text()
    body = await r.json()
    assert (body["lead_status"], body["outcome"], body["dnc"]) == ("done", "done", None)
    lead = await world.crm.leads.get(body["lead_id"])
    assert (lead.status, lead.last_result) == ("done", "sale")
    it = await world.crm.interactions.by_call_id(call_id)
    assert it is not None and (it.disposition, it.notes) == ("sale", "3 years")
    (row,) = [e for e in world.history if e.kind == "dialer_disposition"]
    assert (row.reason, row.state, row.agent, row.detail) == ("sale", "done", "al",
                                                              str(lead.id))
    assert DialerDisposition(world.campaign_id, call_id, lead.id, "sale", "done",
                             "al") in published
    # A finished lead takes no second disposition.
    r = await dispose(http, world, "sam", call_id=call_id, disposition="other", outcome="retry")
    assert r.status == 409


async def test_callback_disposition_schedules_an_owned_callback(world: World,
                                                                http: Http) -> None:
    call_id = await connected_call(world, http.users["al"])
    r = await dispose(http, world, "al", call_id=call_id, disposition="callback-scheduled",
                      outcome="callback")
    assert r.status == 422  # no time given
    r = await dispose(http, world, "al", call_id=call_id, disposition="callback-scheduled",
                      outcome="callback", callback_at=NOON_NY + 3600)
    assert r.status == 200, await r.text()
    body = await r.json()
    cb = await world.crm.callbacks.get(body["callback_id"])
    assert (cb.campaign_id, cb.lead_id, cb.assigned_user_id, cb.due_at, cb.phone) == (
        world.campaign_id, body["lead_id"], http.users["al"].id, NOON_NY + 3600,
        "+12125550101")
    assert (await world.crm.leads.get(body["lead_id"])).status == "callback"
    # The lead is dialled through its callback only.
    due = await world.crm.leads.due(world.campaign_id, limit=100)
    assert body["lead_id"] not in {ld.id for ld in due}


@pytest.mark.parametrize("scope", ["campaign", "global"])
async def test_dnc_disposition_adds_the_number(world: World, http: Http, scope: str) -> None:
    call_id = await connected_call(world, http.users["al"])
    r = await dispose(http, world, "sam", call_id=call_id, disposition="not-interested",
                      outcome="dnc", dnc_scope=scope)
    assert r.status == 200, await r.text()
    assert (await r.json())["dnc"] == scope
    if scope == "campaign":
        rows = await world.crm.campaign_dnc.active(world.campaign_id)
        assert [e.phone for e in rows] == ["+12125550101"]
        assert world.dialer.dnc.blocks("+12125550101", world.campaign_id, NOON_NY)
        assert not world.dialer.dnc.blocks("+12125550101", world.campaign_id + 1, NOON_NY)
    else:
        assert await world.crm.dnc.contains("+12125550101")
        assert world.dialer.dnc.blocks("+12125550101", None, NOON_NY)
    lead = (await world.crm.leads.search(phone="+12125550101")).items[0]
    assert lead.status == "dnc"


@pytest.fixture
async def audit(world: World) -> AsyncIterator[DialAuditWriter]:
    writer = DialAuditWriter(world.crm)
    await writer.start()
    world.dialer.guard = DialGuard(DialingSettings(), world.crm, audit=writer, wall=world.wall)
    try:
        yield writer
    finally:
        await writer.stop()


async def preview_world(world: World) -> None:
    await world.crm.campaigns.update(world.campaign_id, dial_mode="preview",
                                     script="Hi, {name}!")
    await world.dialer.control(world.campaign_id, "start")


async def test_preview_next_dial_skip(world: World, http: Http,
                                      audit: DialAuditWriter) -> None:
    await preview_world(world)
    await world.dialer.tick()
    assert world.ami.sent == []  # preview: the pacing dials nothing
    base = f"/api/campaigns/{world.campaign_id}/preview"
    r = await http.client.post(f"{base}/next", headers=http.h["al"])
    assert r.status == 200, await r.text()
    card = await r.json()
    assert (card["phone"], card["script"]) == ("+12125550101", "Hi, {name}!")
    again = await (await http.client.post(f"{base}/next", headers=http.h["al"])).json()
    assert again["lead_id"] == card["lead_id"]  # the same card while held
    other = await (await http.client.post(f"{base}/next", headers=http.h["bo"])).json()
    assert other["lead_id"] != card["lead_id"]
    r = await http.client.post(f"{base}/{card['lead_id']}/dial", headers=http.h["bo"])
    assert r.status == 409  # held for al
    r = await http.client.post(f"{base}/{card['lead_id']}/dial", headers=http.h["al"])
    assert r.status == 200, await r.text()
    call_id = (await r.json())["call_id"]
    (action,) = world.ami.sent
    assert (action.get("Channel"), action.get("Exten"), action.get("Context")) == (
        "PJSIP/1001", "+12125550101", "from-cti")
    assert action.action_id == f"orig-{call_id}"
    await audit.flush()
    audited = (await world.crm.dial_audit.search(action="campaign")).items
    assert [(a.username, a.call_id, a.verdict) for a in audited] == [("al", call_id, "allowed")]
    r = await http.client.post(f"{base}/{other['lead_id']}/skip", headers=http.h["bo"])
    assert r.status == 204
    skipped = await world.crm.leads.get(other["lead_id"])
    assert (skipped.attempts, skipped.next_attempt) == (0, NOON_NY + 900)
    r = await http.client.post(f"{base}/{other['lead_id']}/skip", headers=http.h["bo"])
    assert r.status == 409  # no longer held


def chan(uniqueid: str, name: str = "PJSIP/1001-00000001") -> ChannelInfo:
    return ChannelInfo(name, uniqueid, uniqueid, 6, "Up", "", "", "", "", "from-cti", "")


async def test_preview_outcomes_follow_the_customer_leg(world: World, http: Http) -> None:
    await preview_world(world)
    base = f"/api/campaigns/{world.campaign_id}/preview"
    calls = []
    for _ in range(3):
        card = await (await http.client.post(f"{base}/next", headers=http.h["al"])).json()
        r = await http.client.post(f"{base}/{card['lead_id']}/dial", headers=http.h["al"])
        calls.append(((await r.json())["call_id"], card["lead_id"]))
    (talked, l1), (busy, l2), (unanswered, l3) = calls
    world.wall.t = NOON_NY + 10
    world.dialer.on_cti_event(DialEnd(chan(talked), chan(talked, "PJSIP/carrier-1"), "ANSWER"))
    world.dialer.on_cti_event(DialEnd(chan(busy), chan(busy, "PJSIP/carrier-2"), "BUSY"))
    world.dialer.on_cti_event(OriginateResult(f"orig-{unanswered}", False, 3, "", "", "", "",
                                              "", ""))
    world.wall.t = NOON_NY + 70
    world.dialer.on_cti_event(ChannelHungUp(chan(talked), 16, "Normal Clearing"))
    await settle(world.dialer)
    got = {ld: await world.crm.leads.get(ld) for ld in (l1, l2, l3)}
    assert (got[l1].status, got[l1].attempts, got[l1].last_result) == ("contacted", 1,
                                                                       "connected")
    assert (got[l2].status, got[l2].last_result) == ("new", "busy")
    assert (got[l3].status, got[l3].attempts) == ("new", 0)  # the agent never picked up
    (row,) = [e for e in world.history if e.call_id == talked]
    assert (row.prev_state, row.agent, row.talk_s, row.dur_s) == ("preview", "al", 60.0, 10.0)
    st = world.dialer.status(await world.crm.campaigns.get(world.campaign_id))
    assert st.abandon_rate["24h"] == {"live": 1, "abandoned": 0, "rate": 0.0}


async def test_preview_needs_an_active_preview_campaign(world: World, http: Http) -> None:
    await world.dialer.control(world.campaign_id, "start")  # progressive
    r = await http.client.post(f"/api/campaigns/{world.campaign_id}/preview/next",
                               headers=http.h["al"])
    assert r.status == 409 and "preview" in (await r.json())["message"]
    r = await http.client.post(f"/api/campaigns/{world.campaign_id}/preview/x/dial",
                               headers=http.h["al"])
    assert r.status == 400


async def test_preview_follows_the_campaigns_own_window(world: World, http: Http) -> None:
    # A card taken at 12:00 in New York under the campaign's 11:30-12:01 window, dialled at
    # 12:01:30, still held for the agent: refused (the window closed meanwhile); no card is
    # given until the window opens again, the next day at 11:30.
    await preview_world(world)
    sup = {"window_start": "11:30", "window_end": "12:01"}
    r = await http.client.put(f"/api/campaigns/{world.campaign_id}/rules",
                              headers=http.h["sam"], json=sup)
    assert r.status == 200, await r.text()
    base = f"/api/campaigns/{world.campaign_id}/preview"
    r = await http.client.post(f"{base}/next", headers=http.h["al"])
    card = await r.json()
    assert r.status == 200, card
    world.wall.t = NOON_NY + 90
    r = await http.client.post(f"{base}/{card['lead_id']}/dial", headers=http.h["al"])
    body = await r.json()
    assert r.status == 409, body
    assert body["details"].get("reason") == "window", body
    assert world.ami.sent == []
    r = await http.client.post(f"{base}/next", headers=http.h["al"])
    assert r.status == 204  # nothing inside the campaign's window now
    lead = await world.crm.leads.get(card["lead_id"])
    assert (lead.status, lead.attempts) == ("new", 0)
    assert lead.next_attempt == NOON_NY + 86_400 - 1800  # tomorrow 11:30 in New York


async def test_a_retry_disposition_waits_the_campaigns_own_no_answer_delay(
        world: World, http: Http) -> None:
    r = await http.client.patch(f"/api/campaigns/{world.campaign_id}/rules",
                                headers=http.h["sam"], json={"retry_delay_s": {"no_answer": 900}})
    assert r.status == 200, await r.text()
    call_id = await connected_call(world, http.users["al"])
    r = await dispose(http, world, "al", call_id=call_id, disposition="sale", outcome="retry")
    assert r.status == 200, await r.text()
    body = await r.json()
    assert (body["lead_status"], body["next_attempt"]) == ("new", NOON_NY + 900)  # not 7200
