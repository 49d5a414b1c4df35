from __future__ import annotations

import pytest

from common.clock import ManualClock
from crm_core.errors import Conflict, InvalidPhoneNumber, NotFound, ValidationError
from crm_core.service import Crm

from .conftest import T0


async def test_customer_crud_and_validation(crm: Crm, clock: ManualClock) -> None:
    c = await crm.customers.create(kind="person", name="Ann")
    assert (c.stage, c.tier, c.created_at, c.updated_at) == ("prospect", "bronze", T0, T0)
    clock.advance(5)
    c2 = await crm.customers.update(c.id, stage="lead", notes="met at fair")
    assert (c2.stage, c2.notes, c2.updated_at, c2.created_at) == ("lead", "met at fair",
                                                                  T0 + 5, T0)
    with pytest.raises(ValidationError) as e:
        await crm.customers.update(c.id, stage="friend")
    assert e.value.field == "stage"
    with pytest.raises(ValidationError):
        await crm.customers.update(c.id, colour="red")
    with pytest.raises(ValidationError):
        await crm.customers.update(c.id, name=42)
    with pytest.raises(ValidationError):
        await crm.customers.create(kind="person")  # name is required
    with pytest.raises(ValidationError):
        await crm.customers.create(id=5, kind="person", name="x")
    with pytest.raises(ValidationError):
        await crm.customers.create(kind="person", name="x", company_id=c.id)  # not a company
    with pytest.raises(NotFound):
        await crm.customers.update(999, name="x")
    with pytest.raises(NotFound):
        await crm.customers.delete(999)
    assert await crm.customers.get(c.id) == c2  # failed calls changed nothing


async def test_contacts_belong_to_companies(crm: Crm) -> None:
    person = await crm.customers.create(kind="person", name="P")
    co = await crm.customers.create(kind="company", name="Co")
    with pytest.raises(ValidationError):
        await crm.contacts.create(company_id=person.id, name="x", role="CEO")
    k = await crm.contacts.create(company_id=co.id, name="Kim", role="CEO")
    ph = await crm.phones.create(customer_id=co.id, contact_id=k.id, e164="212 555 0100 x7")
    assert (ph.e164, ph.extension) == ("+12125550100", "7")
    with pytest.raises(ValidationError):
        await crm.phones.create(customer_id=person.id, contact_id=k.id, e164="+12125550101")
    with pytest.raises(InvalidPhoneNumber):
        await crm.phones.create(customer_id=co.id, e164="not a number")
    with pytest.raises(ValidationError):
        await crm.emails.create(customer_id=co.id, address="no-at-sign")
    assert (await crm.phones.search(e164="(212) 555-0100")).total == 1


async def test_users_teams_skills(crm: Crm) -> None:
    team = await crm.teams.create(name="Support")
    sup = await crm.users.create(username="sue", password_hash="argon2$x", role="supervisor",
                                 display_name="Sue", team_id=team.id, extension="1000")
    await crm.teams.update(team.id, supervisor_id=sup.id)
    a = await crm.users.create(username="al", password_hash="argon2$y", team_id=team.id,
                               extension="1001")
    assert (a.role, a.active) == ("agent", True)
    assert (await crm.users.by_username("al")).id == a.id
    with pytest.raises(Conflict):
        await crm.users.create(username="al", password_hash="z")
    with pytest.raises(ValidationError):
        await crm.users.create(username="x", password_hash="z", role="god")
    with pytest.raises(NotFound):
        await crm.users.by_username("nobody")
    skills = await crm.skills.set_skills(a.id, {"support": 4, "billing": 2})
    assert [(s.skill, s.level) for s in skills] == [("billing", 2), ("support", 4)]
    with pytest.raises(ValidationError):
        await crm.skills.set_skills(a.id, {"support": 6})
    assert [(s.skill, s.level) for s in await crm.skills.for_user(a.id)] == [("billing", 2),
                                                                           ("support", 4)]
    with pytest.raises(Conflict):
        await crm.skills.create(user_id=a.id, skill="support", level=1)
    await crm.users.update(a.id, active=False)
    assert (await crm.users.search(active=True)).total == 1
    await crm.users.delete(a.id)
    assert (await crm.skills.search(user_id=a.id)).total == 0


async def test_leads_due_skip_dnc_and_record_attempts(crm: Crm, clock: ManualClock) -> None:
    camp = await crm.campaigns.create(name="Renewals", status="active", queue="sales")
    other = await crm.campaigns.create(name="Other")
    lst = await crm.lead_lists.create(campaign_id=camp.id, name="L1")
    olst = await crm.lead_lists.create(campaign_id=other.id, name="L2")
    fresh = await crm.leads.create(list_id=lst.id, phone="212-555-0101",
                                   timezone="America/New_York")
    later = await crm.leads.create(list_id=lst.id, phone="212-555-0102", next_attempt=T0 + 60)
    blocked = await crm.leads.create(list_id=lst.id, phone="212-555-0103")
    await crm.leads.create(list_id=olst.id, phone="212-555-0104")
    await crm.dnc.create(phone="+1 212 555 0103", reason="asked")
    assert await crm.dnc.contains("(212) 555-0103")
    assert not await crm.dnc.contains("(212) 555-0101")
    assert [ld.id for ld in await crm.leads.due(camp.id)] == [fresh.id]
    clock.advance(60)
    assert [ld.id for ld in await crm.leads.due(camp.id)] == [fresh.id, later.id]
    upd = await crm.leads.record_attempt(fresh.id, "no answer", status="callback",
                                         next_attempt=T0 + 3600)
    assert (upd.attempts, upd.last_result, upd.status) == (1, "no answer", "callback")
    assert [ld.id for ld in await crm.leads.due(camp.id)] == [later.id]
    await crm.dnc.create(phone="212 555 0199", expires_at=T0 + 100)
    clock.advance(100)
    assert not await crm.dnc.contains("212 555 0199")
    with pytest.raises(Conflict):
        await crm.dnc.create(phone="+12125550103")
    with pytest.raises(ValidationError):
        await crm.leads.record_attempt(blocked.id, "x", status="bogus")


async def test_callbacks_due(crm: Crm) -> None:
    c = await crm.customers.create(kind="person", name="C")
    u = await crm.users.create(username="u", password_hash="h")
    a = await crm.callbacks.create(customer_id=c.id, phone="2125550100", due_at=T0 + 10,
                                   assigned_user_id=u.id)
    b = await crm.callbacks.create(phone="+442079460958", due_at=T0 + 5, kind="task")
    await crm.callbacks.create(customer_id=c.id, due_at=T0 + 1, status="done")
    await crm.callbacks.create(customer_id=c.id, due_at=T0 + 1000)
    assert a.phone == "+12125550100"
    assert [x.id for x in await crm.callbacks.due(T0 + 10)] == [b.id, a.id]
    assert [x.id for x in await crm.callbacks.due(T0 + 10, assigned_user_id=u.id)] == [a.id]
    with pytest.raises(ValidationError):
        await crm.callbacks.create(due_at=T0)


async def test_product_sku_unique_and_order_restricts_product_delete(crm: Crm) -> None:
    p = await crm.products.create(sku="X1", name="X", department="hw", price_cents=5)
    with pytest.raises(Conflict):
        await crm.products.create(sku="X1", name="Y", department="hw")
    c = await crm.customers.create(kind="person", name="C")
    await crm.orders.create_with_lines(customer_id=c.id, department="hw", lines=[(p.id, 1)])
    with pytest.raises(Conflict):
        await crm.products.delete(p.id)
    assert (await crm.products.get(p.id)).sku == "X1"


async def test_company_and_person_rules_on_update(crm: Crm) -> None:
    co = await crm.customers.create(kind="company", name="Co")
    p = await crm.customers.create(kind="person", name="P", company_id=co.id)
    with pytest.raises(ValidationError):
        await crm.customers.update(p.id, kind="company")  # would be a company with an employer
    with pytest.raises(ValidationError):
        await crm.customers.update(co.id, company_id=co.id)
    with pytest.raises(ValidationError):
        await crm.contacts.create(company_id=co.id, name="x", person_id=co.id)
    k = await crm.contacts.create(company_id=co.id, name="P", person_id=p.id, role="Buyer")
    assert k.person_id == p.id
    moved = await crm.customers.update(p.id, company_id=None, kind="person")
    assert moved.company_id is None


async def test_ids_and_integers_out_of_sqlite_range(crm: Crm) -> None:
    with pytest.raises(NotFound):
        await crm.customers.get(2**70)
    with pytest.raises(NotFound):
        await crm.customer_view(0)
    with pytest.raises(ValidationError):
        await crm.customers.get("1")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        await crm.products.create(sku="B", name="Big", department="hw", price_cents=2**64)
    with pytest.raises(ValidationError):
        await crm.customers.search(company_id=-(2**63) - 1)
    with pytest.raises(NotFound):
        await crm.tickets.update(2**63, status="closed")



async def test_user_id_of_caches_hits_and_retries_misses(crm: Crm) -> None:
    assert await crm.users.id_of(None) is None
    assert await crm.users.id_of("later") is None  # no such user yet: not cached
    u = await crm.users.create(username="later", password_hash="x" * 20, role="agent",
                               display_name="Later")
    assert await crm.users.id_of("later") == u.id
    await crm.users.update(u.id, display_name="Renamed display")
    assert await crm.users.id_of("later") == u.id
