"""An agent-owned campaign callback end to end through the PBX simulator: the dialer hands it to
the ACD, which rings its owner's phone first (while another agent is free and would be the
queue's pick), then the customer; the interaction, the callback row, the lead and the attempt
row name the owner. When the owner stays unavailable past [acd].owner_grace_s, the callback goes
to the queue's agents, and not before."""

from __future__ import annotations

import asyncio
from typing import Any

from acd.model import AgentState, NewCall, PlaceCallback
from cti.dialguard import DialAuditWriter, DialGuard
from tests.acd.dialer.conftest import StartStack
from tests.acd.test_service_e2e import settings_for_test

CUSTOMER = "+12125550150"
GRACE_S = 1.0  # engine seconds (real time; the simulator's seconds last 10 ms)


def grace_settings() -> Any:
    base = settings_for_test()
    return base.model_copy(update={"acd": base.acd.model_copy(update={"owner_grace_s": GRACE_S})})


async def owned_callback(s: Any, owner: str) -> tuple[int, Any, Any]:
    camp_id, list_id = await s.campaign({CUSTOMER: "human"}, name="Owned")
    lead = (await s.crm.leads.search(list_id=list_id)).items[0]
    await s.crm.leads.update(lead.id, status="callback", next_attempt=None)
    user = await s.crm.users.create(username=owner, password_hash="x", role="agent")
    cb = await s.crm.callbacks.create(phone=CUSTOMER, due_at=s.dialer.wall.now() - 1,
                                      campaign_id=camp_id, lead_id=lead.id,
                                      assigned_user_id=user.id)
    return camp_id, lead, cb


async def booked(s: Any, cb: Any, timeout: float = 30.0) -> None:
    """Until the dialer has booked the callback's outcome (its row, its attempt row)."""
    async with asyncio.timeout(timeout):
        while (await s.crm.callbacks.get(cb.id)).status == "pending" or not any(
                e.kind == "dialer_attempt" for e in s.history):
            await asyncio.sleep(0.02)


async def interaction(s: Any, call_id: str, timeout: float = 10.0) -> Any:
    """The call's CRM interaction once the call log wrote it (from the bus, asynchronously)."""
    async with asyncio.timeout(timeout):
        while (row := await s.crm.interactions.by_call_id(call_id)) is None \
                or row.ended_at is None:
            await asyncio.sleep(0.02)
    return row


def watch_engine(s: Any) -> list[tuple[str, float, list[Any]]]:
    """Every engine input (name, engine time, commands), as the event log sees them."""
    seen: list[tuple[str, float, list[Any]]] = []
    s.acd.observe_commands = lambda name, args, now, cmds: seen.append((name, now, list(cmds)))
    return seen


async def test_owned_callback_rings_its_owner_while_another_agent_is_free(
        sim_stack: StartStack) -> None:
    s = await sim_stack(fate={CUSTOMER: "human"}, seed=11, answer_delay_s=2.0)
    seen = watch_engine(s)
    # alice logs in first: the longest idle, the queue's pick for any call of "sales".
    s.acd.agent_login("alice", "1001", skills={"sales": 3})
    s.acd.agent_login("bob", "1002", skills={"sales": 3})
    camp_id, lead, cb = await owned_callback(s, "bob")
    assert s.engine.pick_agent(NewCall("probe", "sales"), s.acd.clock.now()) == "alice"
    # One dial guard with its audit for the dialer and the ACD, as server.py wires them.
    audit = DialAuditWriter(s.crm)
    await audit.start()
    s.dialer.guard = s.acd.dial_guard = DialGuard(s.settings.dialing, s.crm, audit=audit)
    try:
        await s.dialer.control(camp_id, "start")
        await booked(s, cb)
        await audit.flush()
        audited = (await s.crm.dial_audit.search()).items
    finally:
        await audit.stop()
    placed = [c for _, _, cmds in seen for c in cmds if isinstance(c, PlaceCallback)]
    assert [(p.agent_id, p.device, p.number) for p in placed] == [
        ("bob", "PJSIP/1002", CUSTOMER)]
    call_id = placed[0].call_id
    assert call_id.startswith(f"cb{camp_id}-{cb.id}-")
    assert s.engine.agent("alice").calls_today == 0  # alice was free and never offered it
    # The Originate rang bob's phone under the dialer's call id; the dialer dialled nothing.
    assert s.sim.tally().originates == 1
    row = await interaction(s, call_id)
    assert row.direction == "outbound" and row.answered_at is not None
    assert row.agent_user_id == await s.crm.users.id_of("bob")
    assert (await s.crm.callbacks.get(cb.id)).status == "done"
    got = await s.crm.leads.get(lead.id)
    assert (got.status, got.attempts, got.last_result) == ("contacted", 1, "connected")
    (attempt,) = [e for e in s.history if e.call_id == call_id]
    assert (attempt.prev_state, attempt.reason, attempt.agent) == ("callback", "connected", "bob")
    assert attempt.talk_s is not None and attempt.talk_s > 0
    # One dial, one audit row: the ACD's decision when it placed it, by bob's rules (the
    # dialer's check ahead of it, allowed, is not audited again).
    assert [(r.call_id, r.action, r.username, r.verdict, r.number) for r in audited] == [
        (call_id, "callback", "bob", "allowed", CUSTOMER)]


async def test_owned_callback_falls_back_to_the_queue_after_the_grace(
        sim_stack: StartStack) -> None:
    s = await sim_stack(fate={CUSTOMER: "human"}, seed=12, answer_delay_s=2.0,
                        settings=grace_settings())
    seen = watch_engine(s)
    s.acd.agent_login("alice", "1001", skills={"sales": 3})
    s.acd.agent_login("carol", "1002", skills={"sales": 3}, pause_reason="lunch")
    camp_id, lead, cb = await owned_callback(s, "carol")
    await s.dialer.control(camp_id, "start")

    await booked(s, cb)
    [(entered_at, entered)] = [(now, cmds) for name, now, cmds in seen
                               if name == "enqueue_callback"]
    assert not any(isinstance(c, PlaceCallback) for c in entered)  # carol is at lunch
    placed = [(now, c) for _, now, cmds in seen for c in cmds if isinstance(c, PlaceCallback)]
    assert [c.agent_id for _, c in placed] == ["alice"]
    placed_at, place = placed[0]
    # Offered to nobody else before its grace was over (engine time, not wall time).
    assert placed_at >= entered_at + GRACE_S
    assert s.engine.agent("carol").state is AgentState.PAUSED
    row = await interaction(s, place.call_id)
    assert row.agent_user_id == await s.crm.users.id_of("alice")
    assert (await s.crm.callbacks.get(cb.id)).status == "done"
    (attempt,) = [e for e in s.history if e.call_id == place.call_id]
    assert (attempt.reason, attempt.agent) == ("connected", "alice")
