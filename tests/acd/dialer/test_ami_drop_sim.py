"""An AMI drop in the middle of a campaign, against the PBX simulator: the simulator closes the
AMI connection while the dialer's lines ring (their OriginateResponse events are lost with it).
The calls go on on the PBX; the dialer never re-sends an Originate, keeps those leads out of the
hopper until the resync (CoreShowChannels) tells which calls exist, and every lead ends booked
once. Simulated seconds last 10 ms (time_scale 0.01)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from config.dialer import DialerSettings
from cti.ami import AmiClient, AmiState
from cti.errors import OriginateOutcomeUnknown
from cti.events import AmiResynced, ChannelCreated, CtiEvent
from cti.simulator import PbxSimulator
from tests.acd.dialer.conftest import StartStack

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


async def test_ami_drop_mid_campaign_against_the_simulator(sim_stack: StartStack) -> None:
    resyncs: list[AmiResynced] = []
    created: set[str] = set()

    def tap(ev: CtiEvent) -> None:
        if isinstance(ev, AmiResynced):
            resyncs.append(ev)
        if isinstance(ev, ChannelCreated):
            created.add(ev.chan.uniqueid)

    counting: list[CountingAmi] = []

    def wrap(ami: AmiClient) -> CountingAmi:
        counting.append(CountingAmi(ami))
        return counting[0]

    s = await sim_stack(fate=FATE, seed=9, answer_delay_s=100.0,
                        dialer_settings=DialerSettings(ring_timeout_s=280.0),
                        ami_reconnect_s=(0.1, 0.3), wrap_ami=wrap, taps=(tap,))
    dialer, ami, (originates,) = s.dialer, s.ami, (c.originates for c in counting)
    camp_id, list_id = await s.campaign(FATE, name="Drop")
    s.acd.agent_login("alice", "1001", skills={"sales": 3})
    s.acd.agent_login("bob", "1002", skills={"sales": 3})
    await dialer.control(camp_id, "start")
    # Two agents: two lines ring (both Originates taken, both channels up). Cut AMI now.
    async with asyncio.timeout(10):
        while sum(originates.values()) < 2 or not {
                ln.call_id for ln in dialer.lines.values()} <= created:
            await asyncio.sleep(0.005)
    ringing = {ln.phone for ln in dialer.lines.values()}
    assert len(ringing) == 2
    resyncs.clear()
    assert drop_ami_connections(s.sim) == 1
    async with asyncio.timeout(10):
        while not resyncs:
            await asyncio.sleep(0.01)
    # The ringing calls were found alive on the PBX: their outcome will come.
    alive = {ch.chan.uniqueid for ch in resyncs[-1].channels}
    assert {ln.call_id for ln in dialer.lines.values()} <= alive
    assert ami.state is AmiState.CONNECTED

    leads = await s.leads_booked(list_id)
    got = {p: (ld.status, ld.last_result, ld.attempts) for p, ld in leads.items()}
    assert got == {
        "+12125550201": ("contacted", "connected", 1),
        "+12125550202": ("new", "no_answer", 1),
        "+12125550203": ("contacted", "connected", 1),
        "+12125550204": ("new", "busy", 1),
    }
    # Each number reached the PBX exactly once: nothing re-sent across the drop.
    assert originates == Counter({f"PJSIP/{p}@carrier": 1 for p in FATE})
