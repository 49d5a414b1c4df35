"""An AMI drop in the middle of a campaign, against the PBX simulator: the simulator closes the
AMI connection while the dialer's lines ring (their OriginateResponse events are lost with it).
The calls go on on the PBX; the dialer never re-sends an Originate, keeps those leads out of the
hopper until the resync (CoreShowChannels) tells which calls exist, and every lead ends booked
once. Simulated seconds last 10 ms (time_scale 0.01)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

from acd.dialer.service import DialerService
from acd.engine import AcdEngine
from acd.service import AcdService
from common.bus import Bus
from common.clock import ManualClock
from config.dialer import DialerSettings
from crm_core.lead_import import LeadColumns
from crm_core.service import Crm
from cti.ami import AmiClient, AmiState
from cti.errors import OriginateOutcomeUnknown
from cti.events import AmiResynced, ChannelCreated
from cti.fastagi import FastAgiServer
from cti.simulator import OutboundProfile, PbxSimulator, PhoneBehaviour, SimulatorConfig
from tests.acd.test_service_e2e import SCALE, settings_for_test

NOON_NY = dt.datetime(2026, 7, 15, 16, 0, tzinfo=dt.UTC).timestamp()
# Long rings (people answer after 50-150 simulated seconds = 0.5-1.5 s here; no answer rings the
# 280 s ring timeout) so the drop lands while the first lines ring.
FATE = {"+12125550201": "human", "+12125550202": "no_answer", "+12125550203": "human",
        "+12125550204": "busy"}


class CountingAmi:
    """The real AMI client, counting the Originates that reached the PBX (or may have)."""

    def __init__(self, ami: AmiClient) -> None:
        self.ami = ami
        self.originates: Counter[str] = Counter()

    async def send(self, action: Any) -> Any:
        try:
            result = await self.ami.send(action)
        except OriginateOutcomeUnknown:
            self.originates[action.get("Channel")] += 1
            raise
        if action.name == "Originate":
            self.originates[action.get("Channel")] += 1
        return result


def drop_ami_connections(sim: PbxSimulator) -> int:
    """The PBX side cuts every AMI connection at once (a network cut, an Asterisk reload)."""
    sessions = list(sim._ami.sessions)
    for s in sessions:
        s.writer.transport.abort()
    return len(sessions)


async def test_ami_drop_mid_campaign_against_the_simulator(tmp_path: Path) -> None:
    settings = settings_for_test()
    crm = await Crm.open(tmp_path / "crm.sqlite3", settings.crm)
    engine = AcdEngine(settings.acd)
    fastagi = FastAgiServer(settings.fastagi)
    await fastagi.start()
    sim = PbxSimulator(SimulatorConfig(
        agi_port=fastagi.port, time_scale=SCALE, agents=("1001", "1002"), seed=9,
        phone=PhoneBehaviour(answer_delay_s=0.5, handle_time_s=5.0),
        dialplan_events=False, cdr_events=False, inbound_dialplan="cti",
        outbound=OutboundProfile(forced=FATE, answer_delay_s=100.0, talk_time_s=60.0)))
    await sim.start()
    holder: dict[str, Any] = {}
    resyncs: list[AmiResynced] = []
    created: set[str] = set()

    def on_event(ev: object) -> None:
        if isinstance(ev, AmiResynced):
            resyncs.append(ev)
        if isinstance(ev, ChannelCreated):
            created.add(ev.chan.uniqueid)
        holder["acd"].on_cti_event(ev)
        holder["dialer"].on_cti_event(ev)

    ami = AmiClient(settings.ami.model_copy(update={"port": sim.ami_port,
                                                    "reconnect_min_s": 0.1,
                                                    "reconnect_max_s": 0.3}),
                    on_event=on_event)
    counting = CountingAmi(ami)
    acd = AcdService(engine, settings=settings, bus=Bus(), crm=crm, ami=ami, poll_ms=20,
                     tick_s=0.02)
    dialer = DialerService(crm=crm, acd=acd, ami=counting, dialing=settings.dialing,
                           settings=DialerSettings(ring_timeout_s=280.0),
                           wall=ManualClock(NOON_NY), tick_s=0.05)
    holder.update(acd=acd, dialer=dialer)
    fastagi.route("dialer", dialer.handle_dialer)
    try:
        await acd.start()
        await ami.start()
        await asyncio.wait_for(ami.wait_ready(), 5)
        camp = await crm.campaigns.create(name="Drop", queue="sales", dial_mode="progressive",
                                          caller_id="+12125550000")
        lst = await crm.lead_lists.create(campaign_id=camp.id, name="L")
        await crm.lead_import.import_csv(lst.id, "phone\n" + "\n".join(FATE) + "\n",
                                         LeadColumns(phone="phone"))
        acd.agent_login("alice", "1001", skills={"sales": 3})
        acd.agent_login("bob", "1002", skills={"sales": 3})
        await dialer.start()
        await dialer.control(camp.id, "start")
        # Two agents: two lines ring (both Originates taken, both channels up). Cut AMI now.
        async with asyncio.timeout(10):
            while sum(counting.originates.values()) < 2 or not {
                    ln.call_id for ln in dialer.lines.values()} <= created:
                await asyncio.sleep(0.005)
        ringing = {ln.phone for ln in dialer.lines.values()}
        assert len(ringing) == 2
        resyncs.clear()
        assert drop_ami_connections(sim) == 1
        async with asyncio.timeout(10):
            while not resyncs:
                await asyncio.sleep(0.01)
        # The ringing calls were found alive on the PBX: their outcome will come.
        alive = {ch.chan.uniqueid for ch in resyncs[-1].channels}
        assert {ln.call_id for ln in dialer.lines.values()} <= alive
        assert ami.state is AmiState.CONNECTED

        async def all_booked() -> bool:
            leads = (await crm.leads.search(list_id=lst.id, limit=50)).items
            return all(ld.last_result is not None for ld in leads) and not dialer.lines

        async with asyncio.timeout(60):
            while not await all_booked():
                await asyncio.sleep(0.05)
        leads = {ld.phone: ld for ld in (await crm.leads.search(list_id=lst.id, limit=50)).items}
        got = {p: (ld.status, ld.last_result, ld.attempts) for p, ld in leads.items()}
        assert got == {
            "+12125550201": ("contacted", "connected", 1),
            "+12125550202": ("new", "no_answer", 1),
            "+12125550203": ("contacted", "connected", 1),
            "+12125550204": ("new", "busy", 1),
        }
        # Each number reached the PBX exactly once: nothing re-sent across the drop.
        assert counting.originates == Counter({f"PJSIP/{p}@carrier": 1 for p in FATE})
    finally:
        await dialer.stop()
        await sim.stop()
        await ami.close()
        await acd.stop()
        await fastagi.stop()
        await crm.close()
