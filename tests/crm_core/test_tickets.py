from __future__ import annotations

import pytest

from common.clock import ManualClock
from config.crm import CrmSettings
from crm_core import sla
from crm_core.errors import ValidationError
from crm_core.service import Crm

from .conftest import T0

H = 3600.0


@pytest.mark.parametrize(("tier", "hours"), [("platinum", 4), ("gold", 8), ("silver", 24),
                                             ("bronze", 48)])
async def test_due_time_follows_the_customers_tier(crm: Crm, tier: str, hours: int) -> None:
    c = await crm.customers.create(kind="person", name="X", tier=tier)
    t = await crm.tickets.create(customer_id=c.id, subject="help")
    assert t.due_at == T0 + hours * H
    assert (t.status, t.escalated) == ("open", False)


def test_sla_unknown_tier_gets_most_lenient() -> None:
    assert sla.sla_due(0.0, "weird", CrmSettings().sla_hours) == 48 * H


async def test_overdue_open_tickets_escalate_once(crm: Crm, clock: ManualClock) -> None:
    c = await crm.customers.create(kind="person", name="X", tier="platinum")
    late = await crm.tickets.create(customer_id=c.id, subject="late", priority="low")
    done = await crm.tickets.create(customer_id=c.id, subject="done")
    await crm.tickets.update(done.id, status="resolved")
    clock.advance(4 * H)
    assert await crm.tickets.escalate_overdue() == ()  # due now, not yet over
    clock.advance(1)
    escalated = await crm.tickets.escalate_overdue()
    assert [t.id for t in escalated] == [late.id]
    t = escalated[0]
    assert (t.escalated, t.escalation_reason, t.priority) == (True, "overdue", "high")
    assert t.escalated_at == T0 + 4 * H + 1
    assert await crm.tickets.escalate_overdue() == ()
    fields = [h.field for h in await crm.tickets.history(late.id)]
    assert fields[0] == "created"
    assert {"escalated", "escalation_reason", "priority"} <= set(fields)


async def test_complaints_escalate_at_threshold(crm: Crm, settings: CrmSettings) -> None:
    c = await crm.customers.create(kind="person", name="Angry")
    other = await crm.customers.create(kind="person", name="Calm")
    await crm.tickets.create(customer_id=other.id, subject="c", category="complaint")
    ids = []
    for i in range(settings.escalate_after_complaints - 1):
        t = await crm.tickets.create(customer_id=c.id, subject=f"c{i}", category="complaint")
        ids.append(t.id)
        assert not t.escalated
    await crm.tickets.create(customer_id=c.id, subject="not a complaint")
    last = await crm.tickets.create(customer_id=c.id, subject="again", category="complaint")
    ids.append(last.id)
    for tid in ids:
        t = await crm.tickets.get(tid)
        assert t.escalated and t.escalation_reason == "3 open complaints"
    page = await crm.tickets.search(customer_id=c.id, escalated=False)
    assert [t.subject for t in page.items] == ["not a complaint"]
    assert not (await crm.tickets.search(customer_id=other.id)).items[0].escalated


async def test_update_records_history_with_user(crm: Crm, clock: ManualClock) -> None:
    c = await crm.customers.create(kind="person", name="X")
    u = await crm.users.create(username="sup", password_hash="h", role="supervisor")
    t = await crm.tickets.create(customer_id=c.id, subject="s")
    clock.advance(10)
    t2 = await crm.tickets.update(t.id, by_user_id=u.id, status="pending", owner_user_id=u.id)
    assert t2.updated_at == T0 + 10
    changes = [(h.field, h.old_value, h.new_value, h.user_id)
               for h in await crm.tickets.history(t.id)][1:]
    assert sorted(changes) == [("owner_user_id", None, str(u.id), u.id),
                               ("status", "open", "pending", u.id)]


async def test_ticket_validation(crm: Crm) -> None:
    c = await crm.customers.create(kind="person", name="X")
    with pytest.raises(ValidationError):
        await crm.tickets.create(customer_id=c.id, subject="s", priority="whenever")
    with pytest.raises(ValidationError):
        await crm.tickets.create(customer_id=999, subject="s")
    with pytest.raises(ValidationError):
        await crm.tickets.create(customer_id=c.id, subject="  ")
    t = await crm.tickets.create(customer_id=c.id, subject="s")
    with pytest.raises(ValidationError):
        await crm.tickets.update(t.id, customer_id=c.id)
    assert (await crm.tickets.search()).total == 1
