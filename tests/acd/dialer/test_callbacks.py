"""Scheduled callbacks (the CRM `callbacks` table) go before leads: an agent-owned one when its
agent is free, an "anyone" one at once; outcomes close the callback row."""

from __future__ import annotations

from acd.model import AgentState
from cti.events import OriginateResult
from tests.acd.dialer.conftest import NOON_NY, Agent, FakeSession, World, settle


def channels(world: World) -> list[str]:
    return [a.get("Channel") for a in world.ami.sent]


async def test_due_callbacks_go_before_leads(world: World) -> None:
    lead = (await world.crm.leads.search(phone="+12125550110")).items[0]
    await world.crm.leads.update(lead.id, status="callback")
    cb = await world.crm.callbacks.create(phone="+12125550110", due_at=NOON_NY - 60,
                                          campaign_id=world.campaign_id, lead_id=lead.id)
    later = await world.crm.callbacks.create(phone="+12125550199", due_at=NOON_NY + 600,
                                             campaign_id=world.campaign_id)
    other = await world.crm.campaigns.create(name="Other", queue="sales")
    await world.crm.callbacks.create(phone="+12125550198", due_at=NOON_NY - 60,
                                     campaign_id=other.id)
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    # Two idle agents: the due callback first, then the first lead; not the later callback,
    # not another campaign's.
    assert channels(world) == ["PJSIP/+12125550110@carrier", "PJSIP/+12125550101@carrier"]
    assert (await world.crm.leads.get(lead.id)).status == "dialing"
    # The lead with the pending callback is not picked again as a lead.
    call_id = world.ami.sent[0].action_id.removeprefix("orig-")
    assert call_id.startswith(f"cb{world.campaign_id}-{cb.id}-")
    world.dialer.on_cti_event(OriginateResult(world.ami.sent[0].action_id, True, 4, "x", "", "",
                                              "", "", ""))
    await world.dialer.handle_dialer(FakeSession(call_id, "HUMAN"))  # type: ignore[arg-type]
    assert (await world.crm.callbacks.get(cb.id)).status == "done"
    assert (await world.crm.callbacks.get(later.id)).status == "pending"
    got = await world.crm.leads.get(lead.id)
    assert (got.status, got.attempts, got.last_result) == ("contacted", 1, "connected")
    (row,) = [e for e in world.history if e.call_id == call_id]
    assert (row.prev_state, row.reason, row.detail) == ("callback", "connected", str(lead.id))


async def test_an_owned_callback_waits_for_its_agent(world: World) -> None:
    ann = await world.crm.users.create(username="a3", password_hash="x", role="agent")
    cb = await world.crm.callbacks.create(phone="+12125550150", due_at=NOON_NY - 1,
                                          campaign_id=world.campaign_id,
                                          assigned_user_id=ann.id)
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()  # a3 is on a call: its callback waits, leads go
    assert "PJSIP/+12125550150@carrier" not in channels(world)
    assert (await world.crm.callbacks.get(cb.id)).status == "pending"
    world.acd.engine.agents_.append(Agent("a4"))
    a3 = next(a for a in world.acd.engine.agents_ if a.agent_id == "a3")
    a3.state = AgentState.AVAILABLE
    await world.dialer.tick()
    assert "PJSIP/+12125550150@carrier" in channels(world)


async def test_a_callback_that_does_not_connect_is_missed_and_its_lead_retried(
        world: World) -> None:
    lead = (await world.crm.leads.search(phone="+12125550105")).items[0]
    cb = await world.crm.callbacks.create(phone=lead.phone, due_at=NOON_NY,
                                          campaign_id=world.campaign_id, lead_id=lead.id)
    bare = await world.crm.callbacks.create(phone="+12125550177", due_at=NOON_NY,
                                            campaign_id=world.campaign_id)
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    assert channels(world)[:2] == ["PJSIP/+12125550105@carrier", "PJSIP/+12125550177@carrier"]
    for a in world.ami.sent[:2]:
        world.dialer.on_cti_event(OriginateResult(a.action_id, False, 5, "", "", "", "", "", ""))
    await settle(world.dialer)
    assert (await world.crm.callbacks.get(cb.id)).status == "missed"
    assert (await world.crm.callbacks.get(bare.id)).status == "missed"
    got = await world.crm.leads.get(lead.id)
    assert (got.status, got.last_result, got.next_attempt) == ("new", "busy", NOON_NY + 600)


async def test_a_callback_to_a_dnc_number_is_cancelled(world: World) -> None:
    world.dialer.dnc.add("+12125550166")
    cb = await world.crm.callbacks.create(phone="+12125550166", due_at=NOON_NY,
                                          campaign_id=world.campaign_id)
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    assert "PJSIP/+12125550166@carrier" not in channels(world)
    assert (await world.crm.callbacks.get(cb.id)).status == "cancelled"
