from __future__ import annotations

import pytest

from common.clock import ManualClock
from crm_core.errors import InvalidPhoneNumber, NotFound
from crm_core.service import Crm

from .conftest import DAY, T0


async def _rich_customer(crm: Crm, clock: ManualClock) -> tuple[int, int]:
    co = await crm.customers.create(kind="company", name="Granite Foods LLC")
    ann = await crm.customers.create(kind="person", name="Ann Okafor", company_id=co.id,
                                     stage="customer")
    await crm.contacts.create(company_id=co.id, name="Ann Okafor", role="Purchasing",
                              person_id=ann.id)
    await crm.phones.create(customer_id=ann.id, e164="(212) 555-0100", label="mobile")
    await crm.phones.create(customer_id=ann.id, e164="212 555 0111 x42", label="desk")
    await crm.emails.create(customer_id=ann.id, address="ann@granite.example")
    hw = await crm.products.create(sku="HW-1", name="Router", department="hardware",
                                   price_cents=10_000)
    sw = await crm.products.create(sku="SW-1", name="Licence", department="software",
                                   price_cents=2_500)
    await crm.orders.create_with_lines(customer_id=ann.id, department="hardware",
                                       lines=[(hw.id, 2)])
    await crm.orders.create_with_lines(customer_id=ann.id, department="hardware",
                                       lines=[(hw.id, 1)])
    await crm.orders.create_with_lines(customer_id=ann.id, department="software",
                                       lines=[(sw.id, 4)])
    cancelled = await crm.orders.create_with_lines(customer_id=ann.id, department="software",
                                                   lines=[(sw.id, 100)])
    await crm.orders.update(cancelled.id, status="cancelled")
    await crm.tickets.create(customer_id=ann.id, subject="Router dead", category="technical")
    closed = await crm.tickets.create(customer_id=ann.id, subject="Old", category="billing")
    await crm.tickets.update(closed.id, status="closed")
    await crm.opportunities.create(customer_id=ann.id, name="Upgrade", amount_cents=500_000,
                                   probability=0.5, expected_close=T0 + 30 * DAY)
    await crm.opportunities.create(customer_id=ann.id, name="Done deal", stage="won",
                                   amount_cents=1, probability=1.0)
    for i in range(12):
        clock.advance(60)
        await crm.log_call(f"call-{i}", direction="inbound", customer_id=ann.id,
                           offered_at=clock.now(), answered_at=clock.now() + 5)
    await crm.callbacks.create(customer_id=ann.id, phone="2125550100", due_at=T0 + DAY)
    await crm.callbacks.create(customer_id=ann.id, phone="2125550100", due_at=T0 + 2 * DAY,
                               status="done")
    return co.id, ann.id


async def test_customer_view_holds_the_whole_screen_pop(crm: Crm, clock: ManualClock) -> None:
    co_id, ann_id = await _rich_customer(crm, clock)
    v = await crm.customer_view(ann_id)
    assert v.customer.name == "Ann Okafor"
    assert v.company is not None and v.company.id == co_id
    assert [c.role for c in v.contacts] == ["Purchasing"]
    assert [(p.e164, p.extension) for p in v.phones] == [("+12125550100", ""),
                                                          ("+12125550111", "42")]
    assert [e.address for e in v.emails] == ["ann@granite.example"]
    depts = {d.department: (d.orders, d.total_cents) for d in v.purchases_by_department}
    assert depts == {"hardware": (2, 30_000), "software": (1, 10_000)}  # cancelled left out
    assert [t.subject for t in v.open_tickets] == ["Router dead"]
    assert [o.name for o in v.open_opportunities] == ["Upgrade"]
    assert [i.call_id for i in v.last_interactions] == [f"call-{i}" for i in range(11, 1, -1)]
    assert [c.due_at for c in v.pending_callbacks] == [T0 + DAY]
    assert v.tier == v.customer.tier and v.value_score == v.customer.value_score
    assert v.matched_phone is None


async def test_lookup_by_phone_finds_customer_in_any_spelling(crm: Crm,
                                                              clock: ManualClock) -> None:
    _, ann_id = await _rich_customer(crm, clock)
    for spelled in ("+12125550100", "(212) 555-0100", "1-212-555-0100", "00 1 212 555 0100"):
        v = await crm.lookup_by_phone(spelled)
        assert v is not None and v.customer.id == ann_id
        assert v.matched_phone is not None and v.matched_phone.e164 == "+12125550100"
    v = await crm.lookup_by_phone("212 555 0111 ext. 42")
    assert v is not None and v.matched_phone is not None
    assert v.matched_phone.extension == "42"
    assert await crm.lookup_by_phone("+1 212 555 0199") is None
    with pytest.raises(InvalidPhoneNumber):
        await crm.lookup_by_phone("anonymous")


async def test_company_view_lists_its_contacts(crm: Crm, clock: ManualClock) -> None:
    co_id, _ = await _rich_customer(crm, clock)
    await crm.contacts.create(company_id=co_id, name="Bo Diaz", role="CEO")
    v = await crm.customer_view(co_id)
    assert [c.name for c in v.contacts] == ["Ann Okafor", "Bo Diaz"]
    assert v.company is None


async def test_customer_view_of_unknown_id(crm: Crm) -> None:
    with pytest.raises(NotFound):
        await crm.customer_view(999)


async def test_tier_for_phone(crm: Crm, clock: ManualClock) -> None:
    _, ann_id = await _rich_customer(crm, clock)
    await crm.customers.update(ann_id, tier="gold")
    assert await crm.tier_for_phone("212-555-0100") == "gold"
    assert await crm.tier_for_phone("+1 212 555 0199") == "unknown"
    assert await crm.tier_for_phone("anonymous") == "unknown"
    assert await crm.tier_for_phone("") == "unknown"


async def test_log_call_upserts_by_linkedid(crm: Crm) -> None:
    ann = await crm.customers.create(kind="person", name="Ann")
    await crm.phones.create(customer_id=ann.id, e164="+12125550100")
    agent = await crm.users.create(username="a1", password_hash="h", role="agent")
    first = await crm.log_call("1718000000.42", direction="inbound", phone="(212) 555-0100",
                               queue="support", offered_at=100.0)
    assert first.customer_id == ann.id  # identified by caller ID
    assert first.phone == "+12125550100" and first.wait_s is None
    second = await crm.log_call("1718000000.42", agent_user_id=agent.id, answered_at=130.0)
    third = await crm.log_call("1718000000.42", ended_at=400.0, disposition="resolved",
                               notes="reset router")
    assert first.id == second.id == third.id
    assert (third.queue, third.agent_user_id, third.direction) == ("support", agent.id,
                                                                   "inbound")
    assert (third.wait_s, third.talk_s) == (30.0, 270.0)
    assert third.disposition == "resolved" and third.notes == "reset router"
    page = await crm.interactions.search(call_id="1718000000.42")
    assert page.total == 1
    unanswered = await crm.log_call("x.1", direction="inbound", offered_at=10.0, ended_at=25.0)
    assert (unanswered.wait_s, unanswered.talk_s, unanswered.customer_id) == (15.0, None, None)


async def test_log_call_rejects_bad_input_and_writes_nothing(crm: Crm) -> None:
    from crm_core.errors import Conflict, ValidationError

    with pytest.raises(ValidationError):
        await crm.log_call("", direction="inbound")
    with pytest.raises(ValidationError):
        await crm.log_call("c1", direction="sideways")
    with pytest.raises(Conflict):
        await crm.log_call("c1", direction="inbound", agent_user_id=777)
    assert (await crm.interactions.search()).total == 0


async def test_screen_pop_is_one_thread_hop(crm: Crm, clock: ManualClock,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _, ann_id = await _rich_customer(crm, clock)
    raw = crm.db._conn
    hops = 0
    real = raw._execute

    async def counting(fn, *a, **kw):  # type: ignore[no-untyped-def]
        nonlocal hops
        hops += 1
        return await real(fn, *a, **kw)

    monkeypatch.setattr(raw, "_execute", counting)
    per_read = 0 if crm.settings.inline_reads else 1
    await crm.customer_view(ann_id)
    assert hops == per_read
    await crm.lookup_by_phone("212 555 0100")
    assert hops == 2 * per_read
    await crm.tier_for_phone("212 555 0100")
    assert hops == 3 * per_read
    await crm.customers.update(ann_id, notes="x")  # writes always go to the worker thread
    assert hops == 3 * per_read + 1


async def test_a_long_scan_does_not_hold_up_writes_or_screen_pops(crm: Crm) -> None:
    import asyncio
    import threading

    ann = await crm.customers.create(kind="person", name="Ann")
    gate = threading.Event()
    started = threading.Event()

    def slow_scan(conn):  # type: ignore[no-untyped-def]
        started.set()
        gate.wait(30)  # stands in for a search reading a million rows
        return conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0]

    scan = asyncio.ensure_future(crm.db.scan(slow_scan))
    try:
        await asyncio.to_thread(started.wait, 30)
        # Both finish while the scan is still parked; a shared queue would wait for the gate.
        logged = await asyncio.wait_for(
            crm.log_call("l1", direction="inbound", customer_id=ann.id), 20)
        view = await asyncio.wait_for(crm.customer_view(ann.id), 20)
        assert not scan.done()
        assert view.last_interactions[0].id == logged.id
    finally:
        gate.set()
    assert await scan == 1
