"""Callbacks with no campaign end to end through the PBX simulator (acd/dialer/free_callbacks*):
a due one owned by an agent rings that agent's phone first (while another agent is the queue's
pick), then the customer; its owner's desktop feed gets the offer with the callback's note, the
call is answered and ends, and the CRM rows say so. Unowned ones go to the configured queue; one
on the do-not-call list, one outside its calling window and one not yet due are not dialled; a
callback the customer does not answer is missed and never placed again."""

from __future__ import annotations

import asyncio
from typing import Any

from acd.dialer.free_callbacks_service import FreeCallbacks
from acd.model import PlaceCallback
from common.clock import ManualClock
from common.messages import AcdCallAnswered, AcdCallEnded, AcdCallOffered, CallDialling
from tests.acd.dialer.conftest import NOON_NY, StartStack
from tests.acd.dialer.test_owned_callback_sim import interaction, watch_engine
from tests.acd.test_service_e2e import settings_for_test

CUSTOMER = "+12125550160"  # New York: noon, inside the window
BUSY = "+12125550161"
LISTED = "+12125550162"  # on the global do-not-call list
SYDNEY = "+61291234567"  # 02:00 in Sydney at noon in New York: outside the window


def sales_first() -> Any:
    base = settings_for_test()
    return base.model_copy(update={"acd": base.acd.model_copy(
        update={"free_callback_queue": "sales", "free_callback_tick_s": 0.05})})


async def started(s: Any) -> FreeCallbacks:
    free = FreeCallbacks(crm=s.crm, acd=s.acd, settings=s.settings, dnc=s.dialer.dnc,
                         wall=ManualClock(NOON_NY),
                         busy_phones=lambda: {ln.phone for ln in s.dialer.lines.values()})
    await free.start()
    return free


async def row_is(s: Any, cb_id: int, status: str, timeout: float = 30.0) -> Any:
    async with asyncio.timeout(timeout):
        while (row := await s.crm.callbacks.get(cb_id)).status != status:
            await asyncio.sleep(0.02)
    return row


async def test_an_owned_free_callback_rings_its_owner_and_is_done(
        sim_stack: StartStack) -> None:
    s = await sim_stack(fate={CUSTOMER: "human"}, seed=21, answer_delay_s=2.0,
                        settings=sales_first())
    seen = watch_engine(s)
    offers = s.bus.subscribe("acd.call.")
    dialling = s.bus.subscribe(CallDialling.TOPIC)
    s.acd.agent_login("alice", "1001", skills={"sales": 3})  # the queue's pick for anyone
    s.acd.agent_login("bob", "1002", skills={"sales": 3})
    bob = await s.crm.users.create(username="bob", password_hash="x", role="agent")
    customer = await s.crm.customers.create(kind="person", name="李娜")
    await s.crm.phones.create(customer_id=customer.id, e164=CUSTOMER)
    cb = await s.crm.callbacks.create(phone=CUSTOMER, due_at=NOON_NY - 5, customer_id=customer.id,
                                      assigned_user_id=bob.id, notes="回电：发票 / invoice")
    free = await started(s)
    try:
        row = await row_is(s, cb.id, "done")
    finally:
        await free.stop()
    placed = [c for _, _, cmds in seen for c in cmds if isinstance(c, PlaceCallback)]
    assert [(p.agent_id, p.number, p.queue) for p in placed] == [("bob", CUSTOMER, "sales")]
    call_id = placed[0].call_id
    assert call_id.startswith(f"fcb-{cb.id}-")
    assert s.sim.tally().originates == 1
    assert row.due_at == cb.due_at  # only the status moved
    # What bob's desktop is sent: the offer with the callback's note, then the call.
    got: list[Any] = []
    while not offers.queue.empty():
        got.append(offers.get_nowait().message)
    (offer,) = [m for m in got if isinstance(m, AcdCallOffered)]
    assert (offer.call_id, offer.agent_id, offer.number, offer.customer_id) == (
        call_id, "bob", CUSTOMER, customer.id)
    assert offer.callback is not None and offer.callback.callback_id == cb.id
    assert (offer.callback.note, offer.callback.owner, offer.callback.campaign_id) == (
        "回电：发票 / invoice", "bob", None)
    kinds = [type(m) for m in got if getattr(m, "call_id", "") == call_id]
    assert kinds.index(AcdCallOffered) < kinds.index(AcdCallAnswered) \
        < kinds.index(AcdCallEnded)
    assert dialling.get_nowait().message.user == "bob"
    inter = await interaction(s, call_id)
    assert inter.direction == "outbound" and inter.answered_at is not None
    assert inter.agent_user_id == bob.id and inter.customer_id == customer.id
    assert s.engine.agent("alice").calls_today == 0


async def test_unowned_ones_go_to_the_queue_and_the_rules_hold(sim_stack: StartStack) -> None:
    s = await sim_stack(fate={CUSTOMER: "human", BUSY: "busy", LISTED: "human",
                              SYDNEY: "human"},
                        seed=22, answer_delay_s=2.0, settings=sales_first())
    seen = watch_engine(s)
    s.acd.agent_login("alice", "1001", skills={"sales": 3})
    await s.crm.dnc.create(phone=LISTED, reason="asked")  # through the CRM, after the dialer
    make = s.crm.callbacks.create
    ok = await make(phone=CUSTOMER, due_at=NOON_NY - 30)
    busy = await make(phone=BUSY, due_at=NOON_NY - 20)
    listed = await make(phone=LISTED, due_at=NOON_NY - 10)
    night = await make(phone=SYDNEY, due_at=NOON_NY - 10)
    later = await make(phone="+12125550163", due_at=NOON_NY + 3600)
    task = await make(phone="+12125550164", due_at=NOON_NY - 10, kind="task")
    free = await started(s)
    try:
        await row_is(s, ok.id, "done")
        await row_is(s, busy.id, "missed")
        await row_is(s, listed.id, "cancelled")
        async with asyncio.timeout(10):
            while (await s.crm.callbacks.get(night.id)).due_at == night.due_at:
                await asyncio.sleep(0.02)
        for _ in range(5):  # more ticks: nothing is placed again
            await free.tick()
    finally:
        await free.stop()
    placed = [c for _, _, cmds in seen for c in cmds if isinstance(c, PlaceCallback)]
    assert sorted(p.number for p in placed) == sorted([CUSTOMER, BUSY])
    assert {p.agent_id for p in placed} == {"alice"} and {p.queue for p in placed} == {"sales"}
    assert s.sim.tally().originates == 2
    moved = await s.crm.callbacks.get(night.id)
    assert moved.status == "pending" and moved.due_at > NOON_NY  # when Sydney's window opens
    for untouched in (later, task):
        assert (await s.crm.callbacks.get(untouched.id)).status == "pending"
