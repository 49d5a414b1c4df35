"""The dialer adapter with a real CRM and fake ACD/AMI/AGI: pacing -> Originate, outcomes ->
leads, the AGI `dialer` script, and an AMI drop in the middle of a campaign (never re-sent,
reconciled from the resync). Also the REST routes over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from acd.dialer.routes import dialer_routes
from agent_desktop.app import AUTH_KEY, create_app
from common.bus import Bus
from crm_core.campaign_rules import CampaignRulesRow
from crm_core.lead_import import LeadColumns
from cti.errors import AgiHangup, AmiConnectionError, OriginateOutcomeUnknown
from cti.events import AmiResynced, ChannelInfo, ChannelSnapshot, OriginateResult
from tests.acd.dialer.conftest import NOON_NY, Agent, FakeSession, World, settle
from tests.agent_desktop.conftest import PASSWORD_HASH, bearer, make_client, make_settings
from tests.agent_desktop.test_openapi import check_document


async def test_progressive_tick_originates_one_line_per_idle_agent(world: World) -> None:
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    assert len(world.ami.sent) == 2  # two idle agents
    a = world.ami.sent[0]
    assert a.name == "Originate" and a.get("Context") == "cti-dialer"
    assert a.get("Channel") == "PJSIP/+12125550101@carrier"
    assert a.get("CallerID") == '"Renewals" <+12125550000>'
    dialing = (await world.crm.leads.search(status="dialing")).items
    assert {ld.phone for ld in dialing} == {"+12125550101", "+12125550102"}
    await world.dialer.tick()  # lines in flight cover the idle agents: nothing more
    assert len(world.ami.sent) == 2
    st = world.dialer.status(await world.crm.campaigns.get(world.campaign_id))
    assert (st.lines_in_progress, st.calls_placed, st.pacing) == (2, 2, "progressive")


async def test_outcomes_update_leads_with_retries(world: World) -> None:
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    busy, ans = world.ami.sent
    # Each line was dialled for an agent the ACD holds for it (acd/claims.py).
    ids = [a.action_id.removeprefix("orig-") for a in world.ami.sent]
    assert [(k, q, p) for k, q, p, _ in world.acd.claims] == [
        (i, "sales", f"campaign:{world.campaign_id}") for i in ids]
    assert [a.claimed_by for a in world.acd.engine.agents_] == [*ids, None]
    world.dialer.on_cti_event(OriginateResult(busy.action_id, False, 5, "", "", "", "", "", ""))
    await settle(world.dialer)
    assert world.acd.released == [ids[0]]  # busy: its agent is free again
    lead = (await world.crm.leads.search(phone="+12125550101")).items[0]
    assert (lead.status, lead.attempts, lead.last_result) == ("new", 1, "busy")
    assert lead.next_attempt == NOON_NY + 600
    # The answered one reaches the AGI script as a person; the ACD connects it.
    world.dialer.on_cti_event(OriginateResult(ans.action_id, True, 4, "x", "", "", "", "", ""))
    call_id = ans.action_id.removeprefix("orig-")
    s = FakeSession(call_id, "HUMAN")
    await world.dialer.handle_dialer(s)  # type: ignore[arg-type]
    assert world.acd.calls == [{"queue": "sales", "number": "+12125550102", "tier": "platinum",
                                "max_wait_s": 2.0, "direction": "outbound", "claim": call_id,
                                "claim_pool": f"campaign:{world.campaign_id}"}]
    lead = (await world.crm.leads.search(phone="+12125550102")).items[0]
    assert (lead.status, lead.attempts, lead.last_result) == ("contacted", 1, "connected")
    st = world.dialer.status(await world.crm.campaigns.get(world.campaign_id))
    assert st.abandon_rate["24h"] == {"live": 1, "abandoned": 0, "rate": 0.0}
    assert st.results == {"busy": 1, "connected": 1}


async def test_a_live_answer_counts_when_the_agent_answers_not_when_the_call_ends(
        world: World) -> None:
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    ans = world.ami.sent[0]
    world.dialer.on_cti_event(OriginateResult(ans.action_id, True, 4, "x", "", "", "", "", ""))
    world.acd.talking = asyncio.Event()
    s = FakeSession(ans.action_id.removeprefix("orig-"), "HUMAN")
    call = asyncio.create_task(world.dialer.handle_dialer(s))  # type: ignore[arg-type]
    while not world.acd.calls:
        await asyncio.sleep(0)
    rate = (await status(world)).abandon_rate["24h"]
    assert rate == {"live": 1, "abandoned": 0, "rate": 0.0}  # the customer is still talking
    world.acd.talking.set()
    await call
    assert (await status(world)).abandon_rate["24h"] == {"live": 1, "abandoned": 0, "rate": 0.0}


async def status(world: World) -> Any:
    return world.dialer.status(await world.crm.campaigns.get(world.campaign_id))


async def test_no_agent_within_two_seconds_plays_the_abandon_message(world: World) -> None:
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    world.acd.outcome = "timed_out"
    call_id = world.ami.sent[0].action_id.removeprefix("orig-")
    s = FakeSession(call_id, "HUMAN")
    await world.dialer.handle_dialer(s)  # type: ignore[arg-type]
    assert s.played == ["cti-dialer-abandon"] and s.hung_up
    st = world.dialer.status(await world.crm.campaigns.get(world.campaign_id))
    assert st.abandon_rate["24h"] == {"live": 1, "abandoned": 1, "rate": 1.0}
    lead = (await world.crm.leads.search(phone="+12125550101")).items[0]
    assert (lead.status, lead.last_result, lead.next_attempt) == ("new", "abandoned",
                                                                 NOON_NY + 3600)


async def test_machine_gets_the_message_or_a_hangup_per_campaign(world: World) -> None:
    await world.crm.campaigns.update(world.campaign_id, amd_action="message")
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    call_id = world.ami.sent[0].action_id.removeprefix("orig-")
    s = FakeSession(call_id, "MACHINE")
    await world.dialer.handle_dialer(s)  # type: ignore[arg-type]
    assert s.played == ["cti-dialer-machine"] and s.hung_up and world.acd.calls == []
    lead = (await world.crm.leads.search(phone="+12125550101")).items[0]
    assert (lead.last_result, lead.next_attempt) == ("machine", NOON_NY + 72_000)


async def test_person_hanging_up_while_waiting_is_an_abandon(world: World) -> None:
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()

    async def gone(session: Any, **kw: Any) -> str:
        raise AgiHangup("caller hung up")

    world.acd.queue_call = gone  # type: ignore[method-assign]
    call_id = world.ami.sent[0].action_id.removeprefix("orig-")
    await world.dialer.handle_dialer(FakeSession(call_id, "HUMAN"))  # type: ignore[arg-type]
    st = world.dialer.status(await world.crm.campaigns.get(world.campaign_id))
    assert st.abandon_rate["24h"]["abandoned"] == 1


async def test_ami_drop_mid_campaign_never_resends_and_reconciles(world: World) -> None:
    await world.dialer.control(world.campaign_id, "start")
    world.ami.fail = OriginateOutcomeUnknown("orig-x", "x")
    await world.dialer.tick()
    assert len(world.ami.sent) == 2
    unknown = [a.action_id.removeprefix("orig-") for a in world.ami.sent]
    # Ticks while the outcome is unknown: those leads are never dialled again.
    world.ami.fail = AmiConnectionError("not connected")
    for _ in range(3):
        await world.dialer.tick()
    phones = [a.get("Channel") for a in world.ami.sent]
    assert phones.count("PJSIP/+12125550101@carrier") == 1
    assert phones.count("PJSIP/+12125550102@carrier") == 1
    # Refused sends (AMI down) cost no attempt and leave the lead as it was.
    refused = (await world.crm.leads.search(phone="+12125550103")).items[0]
    assert (refused.status, refused.attempts) == ("new", 0)
    st = world.dialer.status(await world.crm.campaigns.get(world.campaign_id))
    assert st.unknown_outcome == 2
    # The resync shows the first call alive; the second never happened.
    chan = ChannelInfo("PJSIP/carrier-1", unknown[0], unknown[0], 6, "Up", "", "", "", "",
                       "cti-dialer", "12125550101")
    world.dialer.on_cti_event(AmiResynced((ChannelSnapshot(chan, "AGI", "", 3, "", ""),)))
    await settle(world.dialer)
    first = (await world.crm.leads.search(phone="+12125550101")).items[0]
    second = (await world.crm.leads.search(phone="+12125550102")).items[0]
    assert first.status == "dialing"  # its call is live: the AGI will book it
    assert (second.status, second.attempts, second.last_result) == ("new", 1, "failed")
    assert world.dialer.status(await world.crm.campaigns.get(world.campaign_id)
                               ).unknown_outcome == 0


async def test_dnc_and_calling_window_are_honoured(world: World) -> None:
    await world.crm.dnc.create(phone="+12125550101")
    await world.crm.campaign_dnc.create(campaign_id=world.campaign_id, phone="+12125550102")
    world.dialer.dnc.add("+12125550101")
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    assert [a.get("Channel") for a in world.ami.sent] == [
        "PJSIP/+12125550103@carrier", "PJSIP/+12125550104@carrier"]
    # At 6:00 in New York nothing is dialled and the leads wait for 8:00.
    world.wall.t = dt.datetime(2026, 7, 15, 10, 0, tzinfo=dt.UTC).timestamp()
    world.ami.sent.clear()
    for call_id in world.dialer.lines:  # (they ended: their agents are free)
        world.acd.release_claim(call_id)
    world.dialer.lines.clear()
    await world.dialer.tick()
    assert world.ami.sent == []
    lead = (await world.crm.leads.search(phone="+12125550105")).items[0]
    assert lead.next_attempt == dt.datetime(2026, 7, 15, 12, 0, tzinfo=dt.UTC).timestamp()


async def test_paused_campaign_does_not_dial(world: World) -> None:
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.control(world.campaign_id, "pause")
    await world.dialer.tick()
    assert world.ami.sent == []


async def test_rest_import_control_status(world: World, tmp_path: Path) -> None:
    settings = make_settings()
    sup = await world.crm.users.create(username="sam", password_hash=PASSWORD_HASH,
                                       role="supervisor")
    agent = await world.crm.users.create(username="al", password_hash=PASSWORD_HASH,
                                         role="agent")
    app = create_app(settings, world.crm, Bus(), clock=world.wall,
                     extra_routes=dialer_routes(world.dialer, world.crm))
    h = bearer((await app[AUTH_KEY].issue_for(sup)).access_token)
    ha = bearer((await app[AUTH_KEY].issue_for(agent)).access_token)
    client = await make_client(app)
    try:
        r = await client.post("/api/campaigns", headers=h, json={
            "name": "Spring", "queue": "sales", "dial_mode": "predictive"})
        assert r.status == 201, await r.text()
        cid = (await r.json())["id"]
        csv_text = "Name,Tel\nAnn,212 555 0201\nBob,nope\nCy,(212) 555-0201\n"
        r = await client.post(f"/api/campaigns/{cid}/import", headers=h, json={
            "csv": csv_text, "columns": {"phone": "Tel", "name": "Name"}, "list_name": "web"})
        assert r.status == 200, await r.text()
        rep = await r.json()
        assert (rep["imported"], rep["invalid"], rep["duplicates"]) == (1, 1, 1)
        r = await client.post(f"/api/campaigns/{cid}/import", headers=h, json={
            "csv": csv_text, "columns": {"phone": "Phone"}})
        assert r.status == 422 and "no column 'Phone'" in (await r.json())["message"]
        r = await client.post(f"/api/campaigns/{cid}/start", headers=ha)
        assert r.status == 403
        r = await client.post(f"/api/campaigns/{cid}/pause", headers=h)
        assert r.status == 409
        r = await client.post(f"/api/campaigns/{cid}/start", headers=h)
        assert r.status == 200
        body = await r.json()
        assert body["status"] == "active" and body["dial_mode"] == "predictive"
        r = await client.get(f"/api/campaigns/{cid}/status", headers=h)
        body = await r.json()
        assert set(body["abandon_rate"]) == {"24h", "30d"}
        assert {"dial_level", "lines_in_progress", "humans_waiting"} <= set(body)
        r = await client.post(f"/api/campaigns/{cid}/stop", headers=h)
        assert (await r.json())["status"] == "finished"
        r = await client.post(f"/api/campaigns/{cid}/start", headers=h)
        assert r.status == 409
        r = await client.get("/api/campaigns/abc/status", headers=h)
        assert r.status == 400
        r = await client.get("/api/campaigns/999/status", headers=h)
        assert r.status == 404
        doc = await check_document(client)  # valid OpenAPI 3.1 with the dialer routes
        assert "/api/campaigns/{campaign_id}/import" in doc["paths"]  # type: ignore[operator]
    finally:
        await client.close()


async def test_campaigns_sharing_a_queue_share_its_agents_by_priority(world: World) -> None:
    # Two idle agents on "sales", two progressive campaigns on it: two lines in all, both for
    # the higher-priority campaign; the other dials only when lines free up.
    low = world.campaign_id
    await world.crm.campaigns.update(low, priority=1)
    high = await world.crm.campaigns.create(name="Urgent", queue="sales", priority=5,
                                            caller_id="+12125550000")
    lst = await world.crm.lead_lists.create(campaign_id=high.id, name="U")
    await world.crm.lead_import.import_csv(lst.id, "phone\n+12125550401\n+12125550402\n"
                                           "+12125550403\n", LeadColumns(phone="phone"))
    await world.dialer.control(low, "start")
    await world.dialer.control(high.id, "start")
    await world.dialer.tick()
    assert sorted(a.get("Channel") for a in world.ami.sent) == [
        "PJSIP/+12125550401@carrier", "PJSIP/+12125550402@carrier"]
    await world.dialer.tick()
    assert len(world.ami.sent) == 2  # still two lines ringing for two agents
    for a in world.ami.sent:  # both busy: the lines are over
        world.dialer.on_cti_event(OriginateResult(a.action_id, False, 5, "", "", "", "", "", ""))
    await settle(world.dialer)
    await world.crm.campaigns.update(high.id, priority=0)  # now the other one goes first
    await world.dialer._load(await world.crm.campaigns.get(high.id))
    await world.dialer.tick()
    assert [a.get("Channel") for a in world.ami.sent[2:]] == [
        "PJSIP/+12125550101@carrier", "PJSIP/+12125550102@carrier"]


async def test_leads_left_dialing_by_a_previous_process_are_booked_failed_at_start(
        world: World) -> None:
    leads = (await world.crm.leads.search(limit=3)).items
    await world.crm.leads.update(leads[0].id, status="dialing", attempts=1)
    await world.crm.leads.update(leads[1].id, status="dialing", attempts=4)
    await world.dialer.start()
    a, b, c = [await world.crm.leads.get(ld.id) for ld in leads]
    # Never re-dialled at once (the call may still be up): retried after the failed delay.
    assert (a.status, a.attempts, a.last_result, a.next_attempt) == (
        "new", 2, "failed", NOON_NY + 900)
    assert (b.status, b.attempts, b.last_result) == ("failed", 5, "failed")  # the 5th attempt
    assert (c.status, c.attempts) == (leads[2].status, leads[2].attempts)  # untouched
    assert world.ami.sent == []
    # Each recovered lead has its attempt row, as every attempt does (the reports count it).
    rows = sorted((e for e in world.history if e.kind == "dialer_attempt"),
                  key=lambda e: int(e.detail))
    assert [(e.queue, e.detail, e.reason, e.state, e.prev_state, e.prev_reason, e.call_id,
             e.number) for e in rows] == [
        (str(world.campaign_id), str(a.id), "failed", "new", "lead", "recovered",
         f"rc-{a.id}-2", a.phone),
        (str(world.campaign_id), str(b.id), "failed", "failed", "lead", "recovered",
         f"rc-{b.id}-5", b.phone)]
    assert all(e.at == NOON_NY for e in rows)


async def test_leads_left_dialing_are_retried_after_their_campaigns_own_failed_delay(
        world: World) -> None:
    await world.crm.campaign_rules.put(CampaignRulesRow(world.campaign_id,
                                                        retry_delay_s={"failed": 120.0}))
    (lead,) = (await world.crm.leads.search(limit=1)).items
    await world.crm.leads.update(lead.id, status="dialing", attempts=1)
    await world.dialer.start()
    got = await world.crm.leads.get(lead.id)
    assert (got.status, got.attempts, got.next_attempt) == ("new", 2, NOON_NY + 120)


async def test_campaigns_of_equal_priority_on_a_queue_take_turns_at_its_free_agent(
        world: World) -> None:
    # One free agent, two progressive campaigns of the same priority on its queue: each line
    # holds the agent, so the first paced would take it every time; they take turns.
    world.acd.engine.agents_[:] = [Agent("a1")]
    other = await world.crm.campaigns.create(name="Other", queue="sales",
                                             caller_id="+12125550000")
    lst = await world.crm.lead_lists.create(campaign_id=other.id, name="O")
    await world.crm.lead_import.import_csv(lst.id, "phone\n+12125550401\n+12125550402\n",
                                           LeadColumns(phone="phone"))
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.control(other.id, "start")
    dialled = []
    for _ in range(4):
        world.ami.sent.clear()
        await world.dialer.tick()
        (a,) = world.ami.sent
        dialled.append(world.dialer.lines[a.action_id.removeprefix("orig-")].campaign_id)
        world.dialer.on_cti_event(OriginateResult(a.action_id, False, 5, "", "", "", "", "", ""))
        await settle(world.dialer)  # busy: the agent is free again
        world.wall.t += 1.0
    assert dialled == [world.campaign_id, other.id, world.campaign_id, other.id]
