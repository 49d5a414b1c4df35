from __future__ import annotations

import pytest

from common.clock import ManualClock
from crm_core.errors import NotFound, ValidationError
from crm_core.models import ForecastMonth
from crm_core.service import Crm

from .conftest import DAY

JAN = 1_767_225_600.0  # 2026-01-01T00:00:00Z
FEB = 1_769_904_000.0  # 2026-02-01T00:00:00Z


async def test_forecast_sums_amount_times_probability_per_month(crm: Crm) -> None:
    c = await crm.customers.create(kind="company", name="Acme")
    await crm.opportunities.create(customer_id=c.id, name="a", amount_cents=100_000,
                                   probability=0.5, expected_close=JAN + DAY)
    await crm.opportunities.create(customer_id=c.id, name="b", amount_cents=30_000,
                                   probability=0.1, expected_close=FEB - 1)
    await crm.opportunities.create(customer_id=c.id, name="c", amount_cents=80_000,
                                   probability=0.25, expected_close=FEB)
    await crm.opportunities.create(customer_id=c.id, name="won", stage="won",
                                   amount_cents=1_000_000, probability=1.0,
                                   expected_close=JAN)
    await crm.opportunities.create(customer_id=c.id, name="lost", stage="lost",
                                   amount_cents=1_000_000, probability=0.0,
                                   expected_close=JAN)
    assert await crm.opportunities.forecast() == (
        ForecastMonth("2026-01", 53_000, 2), ForecastMonth("2026-02", 20_000, 1))
    assert await crm.opportunities.forecast(since=FEB) == (ForecastMonth("2026-02", 20_000, 1),)
    assert await crm.opportunities.forecast(until=JAN) == ()


async def test_opportunity_validation(crm: Crm) -> None:
    c = await crm.customers.create(kind="company", name="Acme")
    with pytest.raises(ValidationError):
        await crm.opportunities.create(customer_id=c.id, name="x", probability=1.5)
    with pytest.raises(ValidationError):
        await crm.opportunities.create(customer_id=c.id, name="x", stage="dreaming")
    with pytest.raises(ValidationError):
        await crm.opportunities.create(customer_id=c.id, name="x", amount_cents=-1)


async def test_order_total_is_sum_of_lines(crm: Crm) -> None:
    c = await crm.customers.create(kind="person", name="Ann")
    p = await crm.products.create(sku="P", name="P", department="hardware", price_cents=1234)
    o = await crm.orders.create_with_lines(customer_id=c.id, department="hardware",
                                           lines=[(p.id, 2)])
    assert o.total_cents == 2468
    o = await crm.orders.add_line(o.id, p.id, 1, unit_price_cents=1000)
    assert o.total_cents == 3468
    assert [(ln.quantity, ln.unit_price_cents) for ln in await crm.orders.lines(o.id)] == [
        (2, 1234), (1, 1000)]
    with pytest.raises(NotFound):
        await crm.orders.create_with_lines(customer_id=c.id, department="hardware",
                                           lines=[(p.id, 1), (999, 1)])
    with pytest.raises(ValidationError):
        await crm.orders.add_line(o.id, p.id, 0)
    assert (await crm.orders.search(customer_id=c.id)).total == 1  # the failed one left nothing


async def test_order_change_rescores_only_that_customer(crm: Crm, clock: ManualClock) -> None:
    p = await crm.products.create(sku="P", name="P", department="hardware", price_cents=100)
    customers = []
    for i in range(20):
        c = await crm.customers.create(kind="person", name=f"C{i}")
        customers.append(c)
        for _ in range(i % 5):
            await crm.orders.create_with_lines(customer_id=c.id, department="hardware",
                                               lines=[(p.id, 1 + i)])
    full = await crm.recompute_values()
    assert full.customers == 20
    before = {c.id: await crm.customers.get(c.id) for c in customers}
    poor = customers[0]  # no orders: score from tenure only, tier bronze
    assert before[poor.id].tier == "bronze"
    clock.advance(DAY)
    for _ in range(4):  # as many orders as the best customer, and more revenue
        await crm.orders.create_with_lines(customer_id=poor.id, department="hardware",
                                           lines=[(p.id, 100)])
    after = await crm.customers.get(poor.id)
    assert after.value_score > before[poor.id].value_score
    assert after.tier == "platinum"  # above the stored platinum cut-off
    for c in customers[1:]:
        assert await crm.customers.get(c.id) == before[c.id]
    # Cancelling the order takes the revenue away again.
    for order in (await crm.orders.search(customer_id=poor.id)).items:
        await crm.orders.update(order.id, status="cancelled")
    assert (await crm.customers.get(poor.id)).tier == "bronze"


async def test_rescore_without_full_recompute_runs_one(crm: Crm) -> None:
    c = await crm.customers.create(kind="person", name="Solo")
    d = await crm.customers.create(kind="person", name="Other")
    full = await crm.recompute_values()
    await crm.db.call(lambda conn: conn.execute("DELETE FROM value_state"))
    assert (full.customers, full.platinum_min, full.gold_min) == (2, None, None)  # empty tiers
    assert full.silver_min == 0.0
    rescored = await crm.rescore_customer(c.id)
    # Equal scores: the tie goes to the lower id; two customers -> top 50% is one silver.
    assert rescored.tier == "silver"
    state = await crm.db.call(lambda conn: conn.execute(
        "SELECT customers FROM value_state").fetchone())
    assert state == (2,)
    assert (await crm.customers.get(d.id)).tier == "bronze"
