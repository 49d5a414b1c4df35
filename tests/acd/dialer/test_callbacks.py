"""Scheduled callbacks (the CRM `callbacks` table) go before leads: an agent-owned one is handed
to the ACD (which rings its agent first), an "anyone" one is dialled at once; outcomes close the
callback row."""

from __future__ import annotations

import datetime as dt
from typing import Any

from acd.dialer.rules import parse_rules
from acd.model import AgentState
from acd.scheduled import CallbackDone
from cti.events import OriginateResult
from tests.acd.dialer.conftest import NOON_NY, FakeSession, World, settle


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


async def owned_callback(world: World, phone: str = "+12125550150", *, lead: bool = True,
                         due: float = NOON_NY - 1) -> tuple[Any, Any]:
    ann = await world.crm.users.create(username="a3", password_hash="x", role="agent")
    ld = (await world.crm.leads.search(phone="+12125550105")).items[0] if lead else None
    if ld is not None:
        phone = ld.phone
        await world.crm.leads.update(ld.id, status="callback")
    cb = await world.crm.callbacks.create(phone=phone, due_at=due, campaign_id=world.campaign_id,
                                          assigned_user_id=ann.id,
                                          lead_id=ld.id if ld is not None else None)
    return cb, ld


async def test_an_owned_callback_goes_to_the_acd_for_its_agent(world: World) -> None:
    cb, lead = await owned_callback(world)
    for a in world.acd.engine.agents_:  # every agent busy: no line to dial...
        a.state = AgentState.ON_CALL
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    assert world.ami.sent == []  # ...and the dialer dials nothing itself
    [(call_id, (req, _))] = world.acd.scheduled.items()
    assert call_id.startswith(f"cb{world.campaign_id}-{cb.id}-")
    assert (req.queue, req.number, req.required_agent, req.grace_s) == (
        "sales", lead.phone, "a3", None)
    assert (req.caller_id_num, req.caller_id_name) == ("+12125550000", "Renewals")
    assert dict(req.variables) == {"CAMPAIGN_ID": str(world.campaign_id),
                                   "LEAD_ID": str(lead.id)}
    # The lead keeps its status (its line keeps it out of the hopper): nothing is left
    # "dialing" if the server dies while the callback waits for its agent.
    assert (await world.crm.leads.get(lead.id)).status == "callback"
    st = world.dialer.status(await world.crm.campaigns.get(world.campaign_id))
    assert (st.lines_in_progress, st.calls_placed) == (0, 1)
    await world.dialer.tick()  # handed once, not again while it waits
    assert len(world.acd.scheduled) == 1 and world.ami.sent == []
    # Its agent talked to the customer for 95 s.
    world.acd.finish_callback(call_id, CallbackDone(call_id, "connected", "a3", talk_s=95.0))
    await settle(world.dialer)
    assert (await world.crm.callbacks.get(cb.id)).status == "done"
    got = await world.crm.leads.get(lead.id)
    assert (got.status, got.attempts, got.last_result) == ("contacted", 1, "connected")
    (row,) = [e for e in world.history if e.call_id == call_id]
    assert (row.prev_state, row.reason, row.agent, row.wait_s, row.talk_s) == (
        "callback", "connected", "a3", 0.0, 95.0)
    counts = world.dialer.runs[world.campaign_id].tracker.snapshot(NOON_NY)
    assert [(w.live, w.abandoned) for w in counts] == [(1, 0), (1, 0)]


async def test_an_owned_callback_the_customer_does_not_answer_is_missed(world: World) -> None:
    cb, lead = await owned_callback(world)
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    call_id = next(iter(world.acd.scheduled))
    await world.dialer.tick()  # two free agents: leads are dialled, never the callback's lead
    assert world.ami.sent and lead.phone not in " ".join(channels(world))
    world.acd.finish_callback(call_id, CallbackDone(call_id, "not_connected", "a3",
                                                    dial_status="BUSY"))
    await settle(world.dialer)
    assert (await world.crm.callbacks.get(cb.id)).status == "missed"
    got = await world.crm.leads.get(lead.id)
    assert (got.status, got.last_result, got.next_attempt) == ("new", "busy", NOON_NY + 600)
    assert call_id not in world.dialer.lines


async def test_an_owned_callback_is_withdrawn_when_the_window_closes(world: World) -> None:
    cb, lead = await owned_callback(world, lead=True)
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    call_id = next(iter(world.acd.scheduled))
    placed = world.dialer.runs[world.campaign_id].placed  # the callback and two leads
    world.wall.advance(9 * 3600)  # 21:00 in New York: the window is closed
    await world.dialer.tick()
    await settle(world.dialer)
    assert world.acd.scheduled == {} and call_id not in world.dialer.lines
    row = await world.crm.callbacks.get(cb.id)
    assert (row.status, row.due_at) == ("pending", NOON_NY + 20 * 3600)  # 08:00 tomorrow
    assert (await world.crm.leads.get(lead.id)).status == "callback"
    assert world.dialer.runs[world.campaign_id].placed == placed - 1  # never attempted


async def test_an_owned_callback_is_withdrawn_when_its_number_goes_on_a_dnc_list(
        world: World) -> None:
    cb, _ = await owned_callback(world, "+12125550150", lead=False)
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    call_id = next(iter(world.acd.scheduled))
    world.acd.placing.add(call_id)  # being placed: left to finish
    world.dialer.dnc.add("+12125550150", campaign_id=world.campaign_id)
    await world.dialer.tick()
    assert call_id in world.acd.scheduled
    world.acd.placing.clear()
    await world.dialer.tick()
    await settle(world.dialer)
    assert world.acd.scheduled == {}
    assert (await world.crm.callbacks.get(cb.id)).status == "cancelled"


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


async def test_a_tick_while_an_outcome_is_written_does_not_dial_the_callback_again(
        world: World) -> None:
    cb = await world.crm.callbacks.create(phone="+12125550160", due_at=NOON_NY - 5,
                                          campaign_id=world.campaign_id)
    owned, _ = await owned_callback(world)
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    assert channels(world).count("PJSIP/+12125550160@carrier") == 1
    real_update = world.crm.callbacks.update

    async def update_after_a_tick(callback_id: int, **changes: Any) -> Any:
        await world.dialer.tick()  # the dialer's loop runs while the outcome is written
        return await real_update(callback_id, **changes)

    world.crm.callbacks.update = update_after_a_tick  # type: ignore[method-assign]
    world.dialer.on_cti_event(OriginateResult(world.ami.sent[0].action_id, False, 5, "", "", "",
                                              "", "", ""))
    [owned_call] = list(world.acd.scheduled)
    world.acd.finish_callback(owned_call, CallbackDone(owned_call, "not_connected", "a3",
                                                       dial_status="NOANSWER"))
    await settle(world.dialer)
    world.crm.callbacks.update = real_update  # type: ignore[method-assign]
    assert channels(world).count("PJSIP/+12125550160@carrier") == 1
    assert world.acd.scheduled == {}  # the owned one was not handed over again either
    assert (await world.crm.callbacks.get(cb.id)).status == "missed"
    assert (await world.crm.callbacks.get(owned.id)).status == "missed"


async def test_an_owned_callback_is_withdrawn_when_its_campaigns_own_rules_close(
        world: World) -> None:
    # Noon in New York is inside [dialer]'s window; the campaign then makes today one of its
    # holidays: the callback still waiting for its agent is taken back, due on the campaign's
    # next calling day (its window: 10:00-16:00, Monday to Friday) at its opening.
    cb, _ = await owned_callback(world, lead=True)
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    call_id = next(iter(world.acd.scheduled))
    camp = await world.crm.campaigns.get(world.campaign_id)
    world.dialer.rules_changed(camp, parse_rules({
        "window_start": "10:00", "window_end": "16:00",
        "days": ["mon", "tue", "wed", "thu", "fri"], "holidays": ["2026-07-15", "2026-07-16"]}))
    await world.dialer.tick()
    await settle(world.dialer)
    assert world.acd.scheduled == {} and call_id not in world.dialer.lines
    row = await world.crm.callbacks.get(cb.id)
    friday_10 = dt.datetime(2026, 7, 17, 14, 0, tzinfo=dt.UTC).timestamp()
    assert (row.status, row.due_at) == ("pending", friday_10)


async def test_a_callback_an_earlier_process_left_mid_call_is_missed_not_redialled(
        world: World) -> None:
    # Both kinds of campaign callback: one for anyone (the dialer dials it) and one owned
    # (the ACD places it). An earlier process placed each (its interaction is in the CRM) and
    # died before writing the outcome: the rows are still pending.
    lead = (await world.crm.leads.search(phone="+12125550110")).items[0]
    await world.crm.leads.update(lead.id, status="callback")
    anyone = await world.crm.callbacks.create(phone=lead.phone, due_at=NOON_NY - 60,
                                              campaign_id=world.campaign_id, lead_id=lead.id)
    owned, _ = await owned_callback(world)
    for cb in (anyone, owned):
        await world.crm.interactions.create(kind="call", direction="outbound", phone=cb.phone,
                                            call_id=f"cb{world.campaign_id}-{cb.id}-3",
                                            answered_at=NOON_NY - 300)
    fresh = await world.crm.callbacks.create(phone="+12125550199", due_at=NOON_NY - 30,
                                             campaign_id=world.campaign_id)
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    assert (await world.crm.callbacks.get(anyone.id)).status == "missed"
    assert (await world.crm.callbacks.get(owned.id)).status == "missed"
    assert world.acd.scheduled == {}  # the owned one is not handed to the ACD
    dialled = channels(world)
    assert "PJSIP/+12125550199@carrier" in dialled  # the fresh one is dialled
    assert f"PJSIP/{lead.phone}@carrier" not in dialled
    assert (await world.crm.callbacks.get(fresh.id)).status == "pending"  # being dialled
