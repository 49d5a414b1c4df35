"""The IVR's self-service facts: account numbers, language, PIN (hashed), latest ticket/order."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crm_core.errors import NotFound, ValidationError
from crm_core.selfservice import account_number, customer_id_of_account
from crm_core.service import Crm


def test_account_numbers_round_trip_and_catch_typos() -> None:
    for cid in (1, 42, 99999, 1234567):
        acct = account_number(cid)
        assert customer_id_of_account(acct) == cid
        wrong = acct[:-2] + str((int(acct[-2]) + 1) % 10) + acct[-1]
        assert customer_id_of_account(wrong) is None
    assert account_number(42) == "000422"
    assert customer_id_of_account("12a4") is None and customer_id_of_account("18") is None


async def test_pin_is_hashed_and_checked(crm: Crm, tmp_path: Path) -> None:
    c = await crm.customers.create(kind="person", name="Ann")
    assert not await crm.selfservice.check_pin(c.id, "1234")  # no PIN yet
    await crm.selfservice.set_pin(c.id, "4321")
    assert await crm.selfservice.check_pin(c.id, "4321")
    assert not await crm.selfservice.check_pin(c.id, "1234")
    assert not await crm.selfservice.check_pin(c.id, "4321\n")
    with pytest.raises(ValidationError):
        await crm.selfservice.set_pin(c.id, "12")
    with pytest.raises(NotFound):
        await crm.selfservice.set_pin(c.id + 1000, "1234")
    conn = sqlite3.connect(tmp_path / "crm.sqlite3")
    stored = conn.execute("SELECT pin_hash FROM customer_selfservice").fetchone()[0]
    conn.close()
    assert "4321" not in stored and stored.startswith("scrypt$")


async def test_facts_latest_open_ticket_and_last_order(crm: Crm) -> None:
    c = await crm.customers.create(kind="person", name="Bo")
    facts = await crm.selfservice.facts(c.id)
    assert facts.open_ticket_id is None and facts.last_order_id is None and facts.language == ""
    await crm.selfservice.set_language(c.id, "zh")
    t1 = await crm.tickets.create(customer_id=c.id, subject="first")
    t2 = await crm.tickets.create(customer_id=c.id, subject="second")
    await crm.tickets.update(t2.id, status="closed")
    p = await crm.products.create(sku="A1", name="Thing", department="tools", price_cents=1999)
    await crm.orders.create_with_lines(customer_id=c.id, department="tools", lines=[(p.id, 2)],
                                       ordered_at=100.0)
    o2 = await crm.orders.create_with_lines(customer_id=c.id, department="tools",
                                            lines=[(p.id, 1)], ordered_at=200.0)
    facts = await crm.selfservice.facts(c.id)
    assert facts.language == "zh"
    assert (facts.open_ticket_id, facts.open_ticket_status) == (t1.id, "open")
    assert (facts.last_order_id, facts.last_order_total_cents, facts.last_order_at) == \
        (o2.id, 1999, 200.0)
    with pytest.raises(ValidationError):
        await crm.selfservice.set_language(c.id, "zh'; DROP")
