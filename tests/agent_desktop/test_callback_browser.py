"""Callbacks the ACD places, in Debian's chromium against the running demo server and its PBX
simulator: the owner's desktop gets the same offer and screen-pop as an inbound call (the
customer's record, the callback's note, its campaign), the call is answered, wrapped up, and the
CRM rows say so.

1. An agent-owned campaign callback comes due: the dialer hands it to the ACD, which rings its
   owner's phone first (acd.call.offered with the callback's context), then the customer; the
   agent records the campaign disposition; the callback row is done, the lead updated, the
   interaction carries the code.
2. A callback with no campaign, scheduled for the agent as the desktop's quick action does
   (POST /api/callbacks), is placed when due (acd/dialer/free_callbacks.py): the same offer and
   screen-pop with its note, the call, the queue's wrap-up form, and the callback row done.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from config.settings import Settings
from tests.agent_desktop.demo_pages import (
    TIMEOUT_MS,
    DemoServer,
    demo_settings,
    eventually,
    free_port,
    known_caller,
    open_desktop,
    people_answer_and_stay,
    rest,
)
from tests.browser import artifact, chromium

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOTE = "回电：确认续约报价 / confirm the renewal quote"


@dataclasses.dataclass
class World:
    server: DemoServer
    browser: Browser


def always_open(settings: Settings) -> Settings:
    """A calling window open at any hour of the machine (the customer's local time varies)."""
    dialer = settings.dialer.model_copy(update={"window_start": "00:00", "window_end": "23:59",
                                                "holidays": []})
    return settings.model_copy(update={"dialer": dialer})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    server = DemoServer(always_open(demo_settings(tmp_path_factory.mktemp("cb"), free_port())))
    await server.start()
    try:
        # Customers answer (people) and stay on the line until hung up.
        people_answer_and_stay(server)
        async with chromium() as browser:
            yield World(server, browser)
    finally:
        await server.shutdown()


async def test_an_owned_campaign_callback_pops_on_its_owners_desktop_and_is_disposed(
        world: World) -> None:
    w, crm = world, world.server.crm
    number, view = await known_caller(crm)
    campaign = await rest(w.server, "POST", "/api/campaigns", "supervisor", {
        "name": "续约 Renewals", "dial_mode": "preview", "queue": "support",
        "caller_id": "+12025550100", "max_attempts": 3})
    cid = campaign["id"]
    report = await rest(w.server, "POST", f"/api/campaigns/{cid}/import", "supervisor", {
        "csv": f"name,phone\nRenewal lead,{number}\n", "list_name": "cb",
        "columns": {"phone": "phone", "name": "name"}})
    assert report["imported"] == 1, report
    (lead,) = (await crm.leads.search(list_id=report["list_id"], limit=5)).items
    await crm.leads.update(lead.id, status="callback", next_attempt=None)
    desk = await open_desktop(w.browser, w.server.base, "agent1", ready=True)
    owner = await crm.users.by_username("agent1")
    cb = await crm.callbacks.create(phone=number, due_at=time.time() - 1, campaign_id=cid,
                                    lead_id=lead.id, customer_id=view.customer.id,
                                    assigned_user_id=owner.id, notes=NOTE)
    await rest(w.server, "POST", f"/api/campaigns/{cid}/start", "supervisor")

    # The offer and screen-pop, as for an inbound call: the customer's record, the callback's
    # note and campaign, before the agent answers.
    pop = desk.locator("#screen-pop")
    await expect(pop.locator("#pop-customer-name")).to_have_text(view.customer.name,
                                                                timeout=TIMEOUT_MS)
    await expect(pop.locator("#pop-cb-note")).to_have_text(NOTE)
    await expect(pop.locator("#pop-cb-campaign")).to_have_text("续约 Renewals")
    await expect(pop.locator("#pop-cb-owner")).to_have_text(owner.display_name or "agent1")
    call_id = str(await desk.evaluate("window.desktop.state.call.call_id"))
    assert call_id.startswith(f"cb{cid}-{cb.id}-")
    status = desk.locator("#call-status")
    await expect(status).to_have_attribute("data-status", "talking", timeout=TIMEOUT_MS)
    topics = [tp for tp, _seq, c in await desk.evaluate("window.desktop.state.recent")
              if c == call_id]
    assert topics.index("acd.call.offered") < topics.index("acd.call.answered"), topics
    await desk.screenshot(path=str(artifact("desktop-callback-offer.png")), full_page=True)
    call = w.server.handles["tracker"].get(call_id)
    assert (call.origin, call.dialled, call.agent.user) == ("callback", number, "agent1")

    # Hung up: the campaign's disposition form (it also updates the lead), not the generic one.
    await desk.click("#btn-hangup")
    await expect(desk.locator("#camp-dispo")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(desk.locator("#wrap-panel")).to_be_hidden()
    code = (await desk.locator("#camp-code option").all_inner_texts())[1]
    await desk.select_option("#camp-code", code)
    await desk.select_option("#camp-outcome", "done")
    await desk.fill("#camp-notes", "报价已确认 quote confirmed")
    await desk.click("#camp-dispo button[type=submit]")
    await expect(desk.locator("#camp-dispo")).to_be_hidden(timeout=TIMEOUT_MS)
    await expect(desk.locator("#call-none")).to_be_visible(timeout=TIMEOUT_MS)

    row: Any = await eventually(lambda: crm.callbacks.get(cb.id),
                                lambda got: got.status != "pending")
    assert row.status == "done"
    got = await crm.leads.get(lead.id)
    assert (got.status, got.attempts, got.last_result) == ("done", 1, code)
    rows = await crm.interactions.search(call_id=call_id, limit=5)
    assert [(r.direction, r.phone, r.disposition, r.notes, r.agent_user_id)
            for r in rows.items] == [("outbound", number, code, "报价已确认 quote confirmed",
                                      owner.id)]
    assert desk.errors == []  # type: ignore[attr-defined]
    await desk.context.close()


async def test_a_callback_scheduled_from_the_desktop_is_placed_to_its_owner_when_due(
        world: World) -> None:
    w, crm = world, world.server.crm
    number, view = await known_caller(crm)
    desk = await open_desktop(w.browser, w.server.base, "agent1", ready=True)
    owner = await crm.users.by_username("agent1")
    # What the screen-pop's "schedule callback" form posts (screenpop.js callbackForm).
    note = "周五前回电确认地址 / confirm the address"
    row = await rest(w.server, "POST", "/api/callbacks", "agent1", {
        "customer_id": view.customer.id, "phone": number, "due_at": time.time() - 1,
        "assigned_user_id": owner.id, "kind": "callback", "notes": note})
    pop = desk.locator("#screen-pop")
    await expect(pop.locator("#pop-cb-note")).to_have_text(note, timeout=TIMEOUT_MS)
    await expect(pop.locator("#pop-customer-name")).to_have_text(view.customer.name)
    assert await pop.locator("#pop-cb-campaign").count() == 0  # no campaign
    call_id = str(await desk.evaluate("window.desktop.state.call.call_id"))
    assert call_id.startswith(f"fcb-{row['id']}-")
    await expect(desk.locator("#call-status")).to_have_attribute("data-status", "talking",
                                                                 timeout=TIMEOUT_MS)
    await desk.click("#btn-hangup")
    wrap = desk.locator("#wrap-panel")
    await expect(wrap).to_be_visible(timeout=TIMEOUT_MS)
    await expect(desk.locator("#camp-dispo")).to_have_count(0)
    code = (await desk.locator("#wrap-disposition option").all_inner_texts())[1]
    await desk.select_option("#wrap-disposition", code)
    await desk.fill("#wrap-notes", "地址已确认")
    await desk.click("#wrap-save")
    await expect(wrap).to_be_hidden(timeout=TIMEOUT_MS)
    done: Any = await eventually(lambda: crm.callbacks.get(row["id"]),
                                 lambda got: got.status != "pending")
    assert done.status == "done"
    rows = await crm.interactions.search(call_id=call_id, limit=5)
    assert [(r.direction, r.phone, r.disposition, r.notes, r.agent_user_id)
            for r in rows.items] == [("outbound", number, code, "地址已确认", owner.id)]
    assert w.server.handles["tracker"].get(call_id) is None or \
        w.server.handles["tracker"].get(call_id).origin == "callback"
    assert desk.errors == []  # type: ignore[attr-defined]
    await desk.context.close()
