"""A campaign end to end through the PBX simulator, blended with inbound traffic:
DialerService -> AMI Originate -> simulated callee (person / machine / busy / no answer /
invalid) -> AMD -> FastAGI `dialer` -> AcdService -> simulated agent phone; leads and CRM rows
updated. Simulated seconds last 10 ms (time_scale 0.01)."""

from __future__ import annotations

from typing import Any

from acd.model import Offer
from config.dialer import DialerSettings
from tests.acd.dialer.conftest import StartStack
from tests.acd.test_service_e2e import wait_for

FATE = {
    "+12125550101": "human", "+12125550102": "human", "+12125550103": "machine",
    "+12125550104": "busy", "+12125550105": "no_answer", "+12125550106": "invalid",
    "+12125550107": "human",
}


async def test_campaign_through_the_simulator_blended_with_inbound(sim_stack: StartStack) -> None:
    s = await sim_stack(fate=FATE, seed=5, answer_delay_s=2.0, ivr=True)
    crm, acd, engine, dialer, sim = s.crm, s.acd, s.engine, s.dialer, s.sim
    camp_id, list_id = await s.campaign(FATE, amd_action="message")
    acd.agent_login("alice", "1001", skills={"sales": 3, "support": 3})
    acd.agent_login("bob", "1002", skills={"sales": 3, "support": 3})
    await dialer.control(camp_id, "start")
    # Inbound traffic at the same time: the ACD serves both with the same agents.
    inbound = await sim.place_inbound_call("+12025550199", dtmf="2")  # menu 2: sales

    leads = await s.leads_booked(list_id)
    await inbound.wait(within=30)
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
    st = dialer.status(await crm.campaigns.get(camp_id))
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


async def test_an_inbound_caller_waits_while_the_lines_ring_for_their_agents(
        sim_stack: StartStack) -> None:
    # Two agents, two lines (each answered by a person after 100 simulated seconds) and an
    # inbound caller arriving while they ring: before agent claims the caller took an agent
    # counted for a line, and that line's person was abandoned.
    fate = {"+12125550101": "human", "+12125550102": "human"}
    s = await sim_stack(fate=fate, seed=7, answer_delay_s=100.0, ivr=True,
                        dialer_settings=DialerSettings(ring_timeout_s=120.0))
    seen: list[tuple[str, list[Any]]] = []
    callers: list[tuple[str, list[Any]]] = []  # (call id, what its enqueue did)

    def observe(name: str, args: Any, now: float, cmds: list[Any]) -> None:
        seen.append((name, list(cmds)))
        if name == "enqueue":
            callers.append((args[0].call_id, list(cmds)))

    s.acd.observe_commands = observe
    camp_id, list_id = await s.campaign(fate)
    s.acd.agent_login("alice", "1001", skills={"sales": 3, "support": 3})
    s.acd.agent_login("bob", "1002", skills={"sales": 1, "support": 3})
    await s.dialer.control(camp_id, "start")
    await wait_for(lambda: len(s.dialer.lines) == 2 and all(
        s.engine.claimed_agent(cid) is not None for cid in s.dialer.lines), timeout=10)
    held = {cid: s.engine.claimed_agent(cid) for cid in s.dialer.lines}
    assert sorted(held.values()) == ["alice", "bob"]  # bob too, whatever his sales level
    inbound = await s.sim.place_inbound_call("+12025550199", dtmf="2")  # menu 2: sales

    leads = await s.leads_booked(list_id)
    await inbound.wait(within=60)
    assert {p: ld.last_result for p, ld in leads.items()} == {p: "connected" for p in fate}
    st = s.dialer.status(await s.crm.campaigns.get(camp_id))
    assert st.abandon_rate["24h"] == {"live": 2, "abandoned": 0, "rate": 0.0}
    # The caller reached the queue while both agents, free, were held for the lines: it waited
    # (its enqueue offered nothing); each person went to the agent held for their line.
    [(caller, entered)] = [(cid, cmds) for cid, cmds in callers if cid not in held]
    assert not any(isinstance(c, Offer) for c in entered)
    assert next(i for i, (cid, _) in enumerate(callers) if cid == caller) == 0  # first in
    offers = [c for _, cmds in seen for c in cmds if isinstance(c, Offer)]
    assert {o.call_id: o.agent_id for o in offers if o.call_id in held} == held
    assert len(offers) == 3  # and the caller was answered once an agent was free


async def test_a_line_whose_agent_goes_on_a_break_while_it_rings_is_hung_up(
        sim_stack: StartStack) -> None:
    # One agent, one line ringing (answered only after 100 simulated seconds). The agent takes
    # a break: nobody else can be held for the line, so the dialer hangs it up through AMI
    # (Hangup by its uniqueid) before anyone answers: booked "cancelled", no abandon.
    fate = {"+12125550101": "human"}
    s = await sim_stack(fate=fate, seed=8, answer_delay_s=100.0, agents=("1001",),
                        dialer_settings=DialerSettings(ring_timeout_s=120.0))
    camp_id, list_id = await s.campaign(fate)
    s.acd.agent_login("alice", "1001", skills={"sales": 3})
    await s.dialer.control(camp_id, "start")
    await wait_for(lambda: len(s.dialer.lines) == 1 and all(
        s.engine.claimed_agent(cid) == "alice" for cid in s.dialer.lines), timeout=10)
    [call_id] = s.dialer.lines
    s.acd.agent_pause("alice", "break")
    await wait_for(lambda: call_id not in s.dialer.lines, timeout=10)
    lead = (await s.crm.leads.search(list_id=list_id)).items[0]
    assert (lead.status, lead.last_result, lead.attempts) == ("new", "cancelled", 0)
    st = s.dialer.status(await s.crm.campaigns.get(camp_id))
    assert st.results == {"cancelled": 1}
    assert st.abandon_rate["24h"] == {"live": 0, "abandoned": 0, "rate": 0.0}
    assert s.sim.tally().amd_results == {}  # nobody answered
