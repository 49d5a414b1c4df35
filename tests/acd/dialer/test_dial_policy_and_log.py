"""Dialer Originates go through the toll-fraud dial policy and its audit (cti/dialguard.py), and
every attempt is a `dialer_attempt` row of the event log (layout in crm_core/history.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from acd.dialer.service import DialerService
from acd.history import HistoryDeriver
from acd.history_writer import HistoryWriter
from common.clock import ManualClock
from config.cti import DialingSettings
from config.dialer import DialerSettings
from config.reports import ReportsSettings
from crm_core.history import HistoryEvent
from crm_core.lead_import import LeadColumns
from crm_core.service import Crm
from cti.dialguard import DialAuditWriter, DialGuard
from cti.events import OriginateResult
from tests.acd.dialer.conftest import (
    NOON_NY,
    Agent,
    FakeAcd,
    FakeAmi,
    FakeEngine,
    FakeSession,
    World,
    settle,
)
from tests.agent_desktop.conftest import make_settings

# +1 809 is the Dominican Republic (a NANP country outside the US and Canada), +44 909 is premium
# rate in the UK: both are refused by the default [dialing] policy.
DOMINICAN = "+18095550123"
PREMIUM = "+449098765432"


async def test_refused_numbers_are_never_dialled_and_every_attempt_is_audited(
        tmp_path: Path) -> None:
    wall = ManualClock(NOON_NY)
    crm = await Crm.open(tmp_path / "crm.sqlite3", make_settings().crm, clock=wall)
    audit = DialAuditWriter(crm)
    await audit.start()
    try:
        camp = await crm.campaigns.create(name="Policy", queue="sales", caller_id="+12125550000",
                                          dial_mode="progressive")
        lst = await crm.lead_lists.create(campaign_id=camp.id, name="L")
        rep = await crm.lead_import.import_csv(
            lst.id, f"phone\n{DOMINICAN}\n{PREMIUM}\n+12125550101\n",
            LeadColumns(phone="phone"))
        assert rep.imported == 3
        ami = FakeAmi()
        rows: list[HistoryEvent] = []
        acd = FakeAcd(FakeEngine([Agent("a1"), Agent("a2"), Agent("a3")]))
        dialer = DialerService(crm=crm, acd=acd, ami=ami, dialing=DialingSettings(), wall=wall,
                               tick_s=3600, history=rows.append,
                               guard=DialGuard(DialingSettings(), crm, audit=audit, wall=wall))
        await dialer.control(camp.id, "start")
        await dialer.tick()
        # Only the US number reached AMI; the two others were refused by the policy.
        assert [a.get("Channel") for a in ami.sent] == ["PJSIP/+12125550101@carrier"]
        leads = {ld.phone: ld for ld in (await crm.leads.search(list_id=lst.id)).items}
        assert (leads[DOMINICAN].status, leads[DOMINICAN].last_result,
                leads[DOMINICAN].attempts) == ("failed", "refused:country_not_allowed", 0)
        assert (leads[PREMIUM].status, leads[PREMIUM].last_result) == (
            "failed", "refused:number_type_not_allowed")
        # A failed lead is never picked again.
        await dialer.tick()
        assert len(ami.sent) == 1
        await audit.flush()
        audited = (await crm.dial_audit.search(action="campaign")).items
        got = sorted((r.number, r.verdict, r.reason, r.username) for r in audited)
        assert got == [
            ("+12125550101", "allowed", "allowed", f"campaign:{camp.id}"),
            (DOMINICAN, "refused", "country_not_allowed", f"campaign:{camp.id}"),
            (PREMIUM, "refused", "number_type_not_allowed", f"campaign:{camp.id}"),
        ]
        allowed = next(r for r in audited if r.verdict == "allowed")
        assert allowed.call_id == ami.sent[0].action_id.removeprefix("orig-")
        refused = sorted((r.number, r.reason, r.prev_reason, r.state, r.detail, r.queue)
                         for r in rows)
        assert refused == [
            (DOMINICAN, "refused", "country_not_allowed", "failed",
             str(leads[DOMINICAN].id), str(camp.id)),
            (PREMIUM, "refused", "number_type_not_allowed", "failed",
             str(leads[PREMIUM].id), str(camp.id)),
        ]
        st = dialer.status(await crm.campaigns.get(camp.id))
        assert st.results == {"refused": 2}
        await dialer.stop()
    finally:
        await audit.stop()
        await crm.close()


async def test_a_tightened_policy_refuses_what_was_imported(world: World) -> None:
    # The policy is read at dial time: a lead imported while its country was allowed is
    # refused once [dialing] no longer allows it.
    world.dialer.guard = DialGuard(DialingSettings(allowed_countries=["GB"]), world.crm)
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    assert world.ami.sent == []
    failed = (await world.crm.leads.search(status="failed")).items
    assert {ld.last_result for ld in failed} == {"refused:country_not_allowed"}


async def test_attempt_rows_for_the_event_log(world: World) -> None:
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    busy, ans = world.ami.sent
    world.wall.t = NOON_NY + 7
    world.dialer.on_cti_event(OriginateResult(busy.action_id, False, 5, "", "", "", "", "", ""))
    await settle(world.dialer)
    world.wall.t = NOON_NY + 12
    world.dialer.on_cti_event(OriginateResult(ans.action_id, True, 4, "x", "", "", "", "", ""))
    call_id = ans.action_id.removeprefix("orig-")
    # The ACD connects the person and logs the call as it does (agent, answer and end times).
    agent = await world.crm.users.create(username="alice", password_hash="x", role="agent")

    async def connect(session: object, **kw: object) -> str:
        await world.crm.log_call(call_id, direction="outbound", phone="+12125550102",
                                 queue="sales", agent_user_id=agent.id,
                                 offered_at=NOON_NY + 13, answered_at=NOON_NY + 14.5,
                                 ended_at=NOON_NY + 74.5)
        world.wall.t = NOON_NY + 75
        return "answered"

    world.acd.queue_call = connect  # type: ignore[assignment,method-assign]
    world.wall.t = NOON_NY + 13
    await world.dialer.handle_dialer(FakeSession(call_id, "HUMAN"))  # type: ignore[arg-type]
    by_number = {e.number: e for e in world.history}
    b = by_number["+12125550101"]
    assert (b.kind, b.reason, b.state, b.prev_state, b.dur_s, b.wait_s, b.talk_s, b.agent) == (
        "dialer_attempt", "busy", "new", "lead", 7.0, None, None, "")
    assert b.queue == str(world.campaign_id) and b.at == NOON_NY + 7
    c = by_number["+12125550102"]
    assert (c.reason, c.state, c.dur_s, c.wait_s, c.talk_s, c.agent, c.call_id) == (
        "connected", "contacted", 12.0, 1.5, 60.0, "alice", call_id)
    lead = (await world.crm.leads.search(phone="+12125550102")).items[0]
    assert c.detail == str(lead.id)


async def test_abandon_row_carries_the_wait(world: World) -> None:
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    call_id = world.ami.sent[0].action_id.removeprefix("orig-")

    async def nobody(session: object, **kw: object) -> str:
        world.wall.t += 2.0  # the 2 s deadline passes with no agent
        return "timed_out"

    world.acd.queue_call = nobody  # type: ignore[assignment,method-assign]
    await world.dialer.handle_dialer(FakeSession(call_id, "HUMAN"))  # type: ignore[arg-type]
    (row,) = world.history
    assert (row.reason, row.state, row.wait_s, row.agent) == ("abandoned", "new", 2.0, "")


async def test_attempt_rows_reach_the_durable_event_log(world: World) -> None:
    """Through the server's writer (acd/history_writer.py) into cc_events, where reports read."""
    deriver = HistoryDeriver(lambda t: t)
    writer = HistoryWriter(world.crm.history, deriver, limits={}, settings=ReportsSettings(),
                           now=lambda: NOON_NY)
    world.dialer.history = deriver.record
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    busy = world.ami.sent[0]
    world.dialer.on_cti_event(OriginateResult(busy.action_id, False, 5, "", "", "", "", "", ""))
    await settle(world.dialer)
    assert await writer.flush() == 1
    (row,) = await world.crm.history.events(NOON_NY - 1, NOON_NY + 1, kinds=["dialer_attempt"])
    assert (row.queue, row.reason, row.number, row.state) == (
        str(world.campaign_id), "busy", "+12125550101", "new")


async def test_configured_holiday_and_unplaceable_numbers(world: World) -> None:
    # [dialer] values decide: today (in New York) is a holiday -> nothing is dialled.
    today = dt.datetime.fromtimestamp(NOON_NY, ZoneInfo("America/New_York")).date()
    world.dialer.settings = DialerSettings(holidays=[today.isoformat()])
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    assert world.ami.sent == []
    # A number phonenumbers cannot place, with no default zone: failed, never guessed.
    world.dialer.settings = DialerSettings()
    lst = await world.crm.lead_lists.create(campaign_id=world.campaign_id, name="intl")
    await world.crm.leads.create(list_id=lst.id, phone="+80012345678")
    for lead in (await world.crm.leads.search(status="new", limit=50)).items:
        if lead.phone != "+80012345678":
            await world.crm.leads.update(lead.id, status="done")
    await world.dialer.tick()
    assert world.ami.sent == []
    (lead,) = (await world.crm.leads.search(phone="+80012345678")).items
    assert (lead.status, lead.last_result) == ("failed", "no-timezone")
