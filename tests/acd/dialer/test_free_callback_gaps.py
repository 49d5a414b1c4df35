"""Callbacks with no campaign beside the dialer (acd/dialer/free_callbacks*.py, service.py):
a campaign never dials a number while a free callback to it is in flight, nor the reverse
mid-tick; a row without a phone takes its customer's primary number or is missed with a reason
a person reads; a placement is recorded on the row before its Originate, so a process that died
while it rang (no interaction yet) leaves a row the next process marks missed, not dialled
again. Real CRM; the ACD fake records what it is handed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acd.dialer.dnc import DncList
from acd.dialer.free_callbacks import REASON_TEXT
from acd.dialer.free_callbacks_service import FreeCallbacks
from common.clock import ManualClock
from crm_core.service import Crm
from tests.acd.dialer.conftest import NOON_NY, RecordingAcd, World
from tests.agent_desktop.conftest import make_settings

LEAD = "+12125550101"  # the world's first lead


def free_for(world: World) -> FreeCallbacks:
    return FreeCallbacks(crm=world.crm, acd=world.acd, settings=make_settings(),
                         dnc=world.dialer.dnc, wall=world.wall,
                         busy_phones=world.dialer.phones_calling)


def dialled(world: World) -> list[str]:
    return [a.get("Channel") for a in world.ami.sent if a.name == "Originate"]


async def test_a_campaign_does_not_dial_a_number_a_free_callback_is_calling(
        world: World) -> None:
    free = free_for(world)
    world.dialer.other_phones = free.book.phones  # as server.py wires it
    await world.crm.callbacks.create(phone=LEAD, due_at=NOON_NY - 60)
    await free.tick()
    assert [r.number for r, _ in world.acd.scheduled.values()] == [LEAD]
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    # Two lines (two free agents), neither to the number the free callback is calling.
    assert len(dialled(world)) == 2 and not any(LEAD in ch for ch in dialled(world))
    lead = (await world.crm.leads.search(phone=LEAD)).items[0]
    assert lead.status == "new" and lead.attempts == 0  # still due: dialled once it is free
    await free.stop()


async def test_a_number_picked_by_the_campaign_is_not_given_to_a_free_callback_mid_tick(
        world: World) -> None:
    free = free_for(world)
    world.dialer.other_phones = free.book.phones
    await world.crm.callbacks.create(phone=LEAD, due_at=NOON_NY - 60)
    authorize = world.dialer.guard.authorize

    async def slow_authorize(*args: Any, **kwargs: Any) -> Any:
        await free.tick()  # the free callbacks' tick runs while the dialer awaits
        return await authorize(*args, **kwargs)

    world.dialer.guard.authorize = slow_authorize  # type: ignore[method-assign]
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    assert any(LEAD in ch for ch in dialled(world))
    assert world.acd.scheduled == {}  # not handed to the ACD while the campaign dials it
    await free.stop()


async def test_a_row_without_a_phone_takes_its_customers_primary_number_or_says_why(
        tmp_path: Path) -> None:
    wall = ManualClock(NOON_NY)
    settings = make_settings()
    crm = await Crm.open(tmp_path / "crm.sqlite3", settings.crm, clock=wall)
    try:
        firm = await crm.customers.create(kind="company", name="ACME")
        person = await crm.contacts.create(company_id=firm.id, name="Wile")
        await crm.phones.create(customer_id=firm.id, e164="+12125550188",
                                contact_id=person.id)  # a contact's: not the firm's own
        await crm.phones.create(customer_id=firm.id, e164="+12125550187 x12")
        await crm.phones.create(customer_id=firm.id, e164="+12125550186")  # own, no extension
        nobody = await crm.customers.create(kind="person", name="No Phone")
        filled = await crm.callbacks.create(customer_id=firm.id, due_at=NOON_NY - 60)
        empty = await crm.callbacks.create(customer_id=nobody.id, due_at=NOON_NY - 60)
        acd = RecordingAcd()
        free = FreeCallbacks(crm=crm, acd=acd, settings=settings, dnc=DncList(), wall=wall)
        await free.tick()
        assert [r.number for r in acd.requests] == ["+12125550186"]
        row = await crm.callbacks.get(filled.id)
        assert (row.status, row.phone) == ("pending", "+12125550186")  # what is called, kept
        row = await crm.callbacks.get(empty.id)
        assert (row.status, row.reason) == ("missed", REASON_TEXT["no-phone"])
        await free.tick()
        assert len(acd.requests) == 1  # nothing twice, nothing more
        await free.stop()
    finally:
        await crm.close()


async def test_a_callback_ringing_when_its_process_died_is_not_dialled_again(
        tmp_path: Path) -> None:
    wall = ManualClock(NOON_NY)
    settings = make_settings()
    path = tmp_path / "crm.sqlite3"
    crm = await Crm.open(path, settings.crm, clock=wall)
    try:
        cb = await crm.callbacks.create(phone="+12125550171", due_at=NOON_NY - 600)
        first = RecordingAcd()
        free = FreeCallbacks(crm=crm, acd=first, settings=settings, dnc=DncList(), wall=wall)
        await free.tick()
        [request] = first.requests
        # The ACD is about to Originate: the placement is recorded on the row first.
        assert request.before_dial is not None
        await request.before_dial(request.call_id)
        assert (await crm.callbacks.get(cb.id)).placed_call_id == request.call_id
        # The process dies while the customer's phone rings: no outcome, no interaction.
        assert await crm.interactions.by_call_id(request.call_id) is None
    finally:
        await crm.close()
    crm = await Crm.open(path, settings.crm, clock=wall)  # the next process
    try:
        again = RecordingAcd()
        free = FreeCallbacks(crm=crm, acd=again, settings=settings, dnc=DncList(), wall=wall)
        await free.tick()
        assert again.requests == []
        row = await crm.callbacks.get(cb.id)
        assert (row.status, row.reason) == ("missed", REASON_TEXT["outcome-unknown"])
        await free.stop()
    finally:
        await crm.close()


async def test_a_campaign_callback_line_records_its_placement_before_the_originate(
        world: World) -> None:
    cb = await world.crm.callbacks.create(phone="+12125550199", due_at=NOON_NY - 60,
                                          campaign_id=world.campaign_id)
    sent_when_recorded: list[int] = []
    update = world.crm.callbacks.update

    async def spy(cb_id: int, **changes: Any) -> Any:
        if "placed_call_id" in changes:
            sent_when_recorded.append(len(world.ami.sent))
        return await update(cb_id, **changes)

    world.crm.callbacks.update = spy  # type: ignore[method-assign]
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    first = world.ami.sent[0]
    assert first.get("Exten") == "12125550199"  # the callback goes first
    assert sent_when_recorded == [0]  # recorded while nothing was sent yet
    row = await world.crm.callbacks.get(cb.id)
    assert row.placed_call_id == first.action_id.removeprefix("orig-")
