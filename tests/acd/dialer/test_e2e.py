"""A campaign end to end through the PBX simulator, blended with inbound traffic:
DialerService -> AMI Originate -> simulated callee (person / machine / busy / no answer /
invalid) -> AMD -> FastAGI `dialer` -> AcdService -> simulated agent phone; leads and CRM rows
updated. Simulated seconds last 10 ms (time_scale 0.01)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from acd.dialer.service import DialerService
from acd.engine import AcdEngine
from acd.service import AcdService
from common.bus import Bus
from common.clock import ManualClock, MonotonicClock
from crm_core.lead_import import LeadColumns
from crm_core.service import Crm
from cti.ami import AmiClient
from cti.call_feed import CallFeed
from cti.calls import CallTracker
from cti.fastagi import FastAgiServer
from cti.simulator import OutboundProfile, PbxSimulator, PhoneBehaviour, SimulatorConfig
from ivr.registry import MenuRegistry
from ivr.service import IvrService
from tests.acd.test_service_e2e import SCALE, settings_for_test, wait_for

NOON_NY = dt.datetime(2026, 7, 15, 16, 0, tzinfo=dt.UTC).timestamp()
FATE = {
    "+12125550101": "human", "+12125550102": "human", "+12125550103": "machine",
    "+12125550104": "busy", "+12125550105": "no_answer", "+12125550106": "invalid",
    "+12125550107": "human",
}


async def test_campaign_through_the_simulator_blended_with_inbound(tmp_path: Path) -> None:
    settings = settings_for_test()
    crm = await Crm.open(tmp_path / "crm.sqlite3", settings.crm)
    bus = Bus()
    engine = AcdEngine(settings.acd)
    fastagi = FastAgiServer(settings.fastagi)
    await fastagi.start()
    sim = PbxSimulator(SimulatorConfig(
        agi_port=fastagi.port, time_scale=SCALE, agents=("1001", "1002"), seed=5,
        phone=PhoneBehaviour(answer_delay_s=0.5, handle_time_s=5.0),
        dialplan_events=False, cdr_events=False, inbound_dialplan="cti",
        outbound=OutboundProfile(forced=FATE, answer_delay_s=2.0, talk_time_s=60.0)))
    await sim.start()
    feed = CallFeed(CallTracker(), MonotonicClock())  # as server.py wires it
    ami = AmiClient(settings.ami.model_copy(update={"port": sim.ami_port}),
                    on_event=feed.on_event)
    acd = AcdService(engine, settings=settings, bus=bus, crm=crm, ami=ami, poll_ms=20,
                     tick_s=0.02)
    dialer = DialerService(crm=crm, acd=acd, ami=ami, dialing=settings.dialing,
                           wall=ManualClock(NOON_NY), tick_s=0.05)
    acd.read_calls_from(feed)
    feed.event_sinks.append(dialer.on_cti_event)
    ivr = IvrService(MenuRegistry(settings), settings=settings, crm=crm, acd=acd, bus=bus)
    fastagi.route("ivr", ivr.handle)
    fastagi.route("dialer", dialer.handle_dialer)
    try:
        await acd.start()
        await ami.start()
        await asyncio.wait_for(ami.wait_ready(), 5)
        camp = await crm.campaigns.create(name="E2E", queue="sales", dial_mode="progressive",
                                          caller_id="+12125550000", amd_action="message")
        lst = await crm.lead_lists.create(campaign_id=camp.id, name="L")
        rows = "\n".join(FATE)
        await crm.lead_import.import_csv(lst.id, "phone\n" + rows + "\n",
                                         LeadColumns(phone="phone"))
        acd.agent_login("alice", "1001", skills={"sales": 3, "support": 3})
        acd.agent_login("bob", "1002", skills={"sales": 3, "support": 3})
        await dialer.start()
        await dialer.control(camp.id, "start")
        # Inbound traffic at the same time: the ACD serves both with the same agents.
        inbound = await sim.place_inbound_call("+12025550199", dtmf="2")  # menu 2: sales

        async def all_booked() -> bool:
            leads = (await crm.leads.search(list_id=lst.id, limit=50)).items
            return all(ld.last_result is not None for ld in leads) and not dialer.lines

        async with asyncio.timeout(60):
            while not await all_booked():
                await asyncio.sleep(0.05)
        await inbound.wait(within=30)
        leads = {ld.phone: ld for ld in (await crm.leads.search(list_id=lst.id, limit=50)).items}
        got = {p: (ld.status, ld.last_result) for p, ld in leads.items()}
        assert got == {
            "+12125550101": ("contacted", "connected"),
            "+12125550102": ("contacted", "connected"),
            "+12125550103": ("new", "machine"),
            "+12125550104": ("new", "busy"),
            "+12125550105": ("new", "no_answer"),
            "+12125550106": ("failed", "invalid"),
            "+12125550107": ("contacted", "connected"),
        }
        assert all(ld.attempts == 1 for ld in leads.values())
        st = dialer.status(await crm.campaigns.get(camp.id))
        # Progressive with the ACD reserving an agent per line: nobody was abandoned.
        assert st.abandon_rate["24h"] == {"live": 3, "abandoned": 0, "rate": 0.0}
        assert sim.tally().amd_results == {"HUMAN": 3, "MACHINE": 1}
        # The connected outbound calls and the inbound call were all answered by the agents.
        await wait_for(lambda: engine.agent("alice").call_id is None
                       and engine.agent("bob").call_id is None, timeout=30)
        report = next(r for r in acd.report() if r.queue == "sales")
        assert report.today.answered >= 4
        interactions = (await crm.interactions.search(limit=50)).items
        assert len(interactions) >= 4
        # The ACD logs the calls it connected; the dialer's are outbound, not inbound.
        connected = {"+12125550101", "+12125550102", "+12125550107"}
        dialled = [i for i in interactions if i.phone in connected and i.answered_at]
        assert dialled and {i.direction for i in dialled} == {"outbound"}
    finally:
        await dialer.stop()
        await ivr.stop()
        await sim.stop()
        await ami.close()
        await acd.stop()
        await fastagi.stop()
        await crm.close()
