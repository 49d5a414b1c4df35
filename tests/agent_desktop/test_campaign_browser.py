"""The desktop's campaign panel (#12) in Debian's chromium against the running demo server: a
preview campaign end to end through the real PBX simulator, not synthetic events.

The agent opens the preview card (the lead, the campaign's script, the lead's local time), skips
one lead, dials the next (an Originate rings the agent's phone, then the lead, who answers), hangs
up and records a campaign disposition from the picker; then dials a third and marks it do-not-call.
Every step is checked in the CRM database: the lead's row (status, attempts, next attempt, last
result), the call's interaction, the campaign's do-not-call list and the event log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from acd.dialer.demo import daytime_zone
from tests.agent_desktop.demo_pages import (
    TIMEOUT_MS,
    DemoServer,
    demo_settings,
    eventually,
    free_port,
    people_answer_and_stay,
    rest,
    sign_in,
)
from tests.browser import artifact, chromium

pytestmark = pytest.mark.asyncio(loop_scope="module")

SCRIPT = "您好，我是续约团队。Hello, this is the renewals team: may I confirm your plan?"
LEADS = {"+12125550141": "Lead Skip", "+12125550142": "Lead Retry", "+12125550143": "Lead Dnc"}


@dataclasses.dataclass
class World:
    server: DemoServer
    browser: Browser
    campaign: dict[str, Any]
    zone: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    server = DemoServer(demo_settings(tmp_path_factory.mktemp("camp"), free_port()))
    await server.start()
    try:
        # The leads answer (people, not machines) and stay on the line until hung up.
        people_answer_and_stay(server)
        campaign = await rest(server, "POST", "/api/campaigns", "supervisor", {
            "name": "Preview renewals", "dial_mode": "preview", "queue": "support",
            "script": SCRIPT, "caller_id": "+12025550100", "max_attempts": 3})
        # Inside the calling window whatever the hour of the machine (as the demo campaign).
        zone = daytime_zone(time.time())
        rows = "".join(f"{name},{phone},{zone}\n" for phone, name in LEADS.items())
        report = await rest(server, "POST", f"/api/campaigns/{campaign['id']}/import",
                            "supervisor", {"csv": "name,phone,tz\n" + rows, "list_name": "test",
                                           "columns": {"phone": "phone", "name": "name",
                                                       "timezone": "tz"}})
        assert report["imported"] == len(LEADS), report
        await rest(server, "POST", f"/api/campaigns/{campaign['id']}/start", "supervisor")
        async with chromium() as browser:
            yield World(server, browser, campaign, zone)
    finally:
        await server.shutdown()


async def lead_row(w: World, phone: str) -> Any:
    found = await w.server.crm.leads.search(phone=phone, limit=5)
    (row,) = [x for x in found.items if x.phone == phone]
    return row


async def open_card(w: World, desk: Page) -> str:
    """Asks for the next lead; returns the number on its card."""
    await desk.click("#camp-next")
    card = desk.locator("#camp-card")
    await expect(card).to_be_visible(timeout=TIMEOUT_MS)
    phone = await desk.evaluate(
        "document.querySelector('#camp-card').dataset.phone")
    assert phone in LEADS
    await expect(card).to_contain_text(LEADS[phone])
    await expect(card.locator(".script")).to_have_text(SCRIPT)
    return str(phone)


async def dial_and_hang_up(w: World, desk: Page, phone: str, notes: str = "") -> str:
    """Dials the card's lead, talks (typing `notes` into the call's notes: Alt+N), hangs up
    (Alt+H); returns the call id."""
    originates = w.server.sim.tally().originates
    await desk.click("#camp-dial")
    status = desk.locator("#call-status")
    await expect(status).to_have_attribute("data-status", "talking", timeout=TIMEOUT_MS)
    call_id = str(await desk.evaluate("window.desktop.state.call.call_id"))
    assert call_id.startswith(f"pv{w.campaign['id']}-")
    await expect(desk.locator("#call-number")).to_contain_text(phone[-4:])
    # The caller pane shows whom the agent calls (not the last inbound caller): here nobody the
    # CRM knows yet, so the new-customer form with the lead's number.
    assert await w.server.crm.lookup_phone(phone) is None
    await expect(desk.locator("#new-phone")).to_have_value(phone, timeout=TIMEOUT_MS)
    assert w.server.sim.tally().originates == originates + 1  # the preview dial's Originate
    call = w.server.handles["tracker"].get(call_id)
    assert (call.dialled, call.agent.user) == (phone, "agent1")
    if notes:
        await desk.keyboard.press("Alt+N")
        await desk.keyboard.type(notes)
    await desk.keyboard.press("Alt+H")
    await expect(desk.locator("#camp-dispo")).to_be_visible(timeout=TIMEOUT_MS)
    # A dialer call is wrapped up in the campaign form only (it also updates the lead).
    await expect(desk.locator("#wrap-panel")).to_be_hidden()
    return call_id


async def test_a_preview_campaign_from_the_card_to_the_crm_rows(world: World) -> None:
    w = world
    cid = w.campaign["id"]
    context = await w.browser.new_context(viewport={"width": 1400, "height": 1100})
    desk = await sign_in(context, w.server.base + "/desktop", "agent1")
    await expect(desk.locator("#conn")).to_have_attribute("data-status", "online",
                                                         timeout=TIMEOUT_MS)
    panel = desk.locator("#campaign-panel")
    await expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    await desk.select_option("#camp-choose", str(cid))

    # The card: lead, script, and the lead's local time in their zone.
    before = dt.datetime.now(ZoneInfo(w.zone)).strftime("%H:%M")
    skipped = await open_card(w, desk)
    after = dt.datetime.now(ZoneInfo(w.zone)).strftime("%H:%M")
    local = desk.locator("#camp-local")
    await expect(local).to_contain_text(w.zone)
    shown = await local.inner_text()
    assert before in shown or after in shown, (shown, before, after)
    await desk.screenshot(path=str(artifact("desktop-campaign-preview.png")), full_page=True)

    # Skip: the lead comes back later, no attempt counted, nothing dialled.
    originates = w.server.sim.tally().originates
    await desk.click("#camp-skip")
    await expect(desk.locator("#camp-card")).to_be_hidden(timeout=TIMEOUT_MS)
    row = await lead_row(w, skipped)
    skip_s = w.server.settings.dialer.preview_skip_s
    assert (row.status, row.attempts) == ("new", 0)
    assert row.next_attempt is not None and row.next_attempt > time.time() + skip_s - 60
    assert w.server.sim.tally().originates == originates

    # Dial the next lead; after the call, "call again later" from the disposition picker.
    retried = await open_card(w, desk)
    assert retried != skipped
    call_id = await dial_and_hang_up(w, desk, retried)
    codes = await desk.locator("#camp-code option").all_inner_texts()
    code = codes[1]  # [0] is the empty choice
    await desk.select_option("#camp-code", code)
    await desk.select_option("#camp-outcome", "retry")
    await desk.fill("#camp-notes", "asked to call after payday")
    await desk.screenshot(path=str(artifact("desktop-campaign-disposition.png")), full_page=True)
    await desk.click("#camp-dispo button[type=submit]")
    await expect(desk.locator("#camp-dispo")).to_be_hidden(timeout=TIMEOUT_MS)
    await expect(desk.locator("#call-none")).to_be_visible(timeout=TIMEOUT_MS)
    row = await lead_row(w, retried)
    retry_s = w.server.settings.dialer.retry_delay_s.no_answer
    assert (row.attempts, row.last_result) == (1, code)
    assert row.status not in ("dnc", "done", "dialing")
    assert row.next_attempt is not None and row.next_attempt > time.time() + retry_s - 120
    rows = await w.server.crm.interactions.search(call_id=call_id, limit=5)
    assert [(r.direction, r.phone, r.disposition, r.notes) for r in rows.items] == [
        ("outbound", retried, code, "asked to call after payday")]

    # The third: do not call (this campaign's list); the dialer and the CRM both know it. The
    # call's notes carry over; what is picked survives a redraw (a language switch); Alt+W saves.
    dnc = await open_card(w, desk)
    assert dnc not in (skipped, retried)
    call_id = await dial_and_hang_up(w, desk, dnc, notes="不要再打 / asked not to be called")
    assert await desk.input_value("#camp-notes") == "不要再打 / asked not to be called"
    await desk.select_option("#camp-code", code)
    await desk.select_option("#camp-outcome", "dnc")
    await expect(desk.locator("#camp-scope")).to_be_visible()
    await desk.select_option("#camp-scope", "campaign")
    await desk.select_option(".lang-switch", "zh-CN")
    await expect(desk.locator("#camp-dispo label[for=camp-outcome]")).to_have_text("之后")
    assert [await desk.input_value(f"#camp-{f}") for f in ("code", "outcome", "scope")] == [
        code, "dnc", "campaign"]
    await desk.select_option(".lang-switch", "en")
    await desk.keyboard.press("Alt+W")
    await expect(desk.locator("#camp-dispo")).to_be_hidden(timeout=TIMEOUT_MS)
    row = await lead_row(w, dnc)
    assert (row.status, row.attempts, row.last_result) == ("dnc", 1, code)
    listed = await w.server.crm.campaign_dnc.active(cid)
    assert [e.phone for e in listed] == [dnc]
    assert not await w.server.crm.dnc.contains(dnc)  # the campaign's list, not the global one
    rows = await w.server.crm.interactions.search(call_id=call_id, limit=5)
    assert [(r.disposition, r.notes) for r in rows.items] == [
        (code, "不要再打 / asked not to be called")]
    # Nothing is left to preview: the skipped lead waits, the others are done or not due yet.
    await desk.click("#camp-next")
    await expect(desk.locator("#camp-preview")).to_contain_text("No lead to call now",
                                                                timeout=TIMEOUT_MS)
    # The event log has the two dispositions (what the outbound reports read).
    events = await eventually(
        lambda: w.server.crm.history.events(0.0, time.time() + 3600, ("dialer_disposition",)),
        lambda got: len(got) >= 2)
    assert sorted((e.number, e.state) for e in events) == sorted(
        [(retried, "retry"), (dnc, "dnc")])
    assert desk.errors == []  # type: ignore[attr-defined]
    await context.close()


async def test_a_supervisor_edits_a_campaigns_calling_rules(world: World) -> None:
    """The campaign panel's calling rules: what applies now (the campaign's or the default),
    edited in the form, seen in the API; a refused window changes nothing."""
    w = world
    cid = w.campaign["id"]
    context = await w.browser.new_context(viewport={"width": 1400, "height": 1400})
    page = await sign_in(context, w.server.base + "/desktop", "supervisor")
    rules = page.locator("#camp-rules")
    await expect(rules).to_be_visible(timeout=TIMEOUT_MS)
    await page.select_option("#rules-choose", str(cid))
    window = page.locator("#rules-effective tr[data-rule=window]")
    await expect(window).to_have_attribute("data-source", "default", timeout=TIMEOUT_MS)
    await expect(window.locator(".value")).to_have_text("08:00–21:00")

    await page.fill("#rules-start", "09:15")
    await page.fill("#rules-end", "17:45")
    await page.uncheck("#rules-days-default")
    await page.uncheck("#rules-day-sat")
    await page.uncheck("#rules-day-sun")
    await page.fill("#rules-retry-busy", "5")
    await page.click("#rules-form button[type=submit]")
    await expect(window).to_have_attribute("data-source", "campaign", timeout=TIMEOUT_MS)
    await expect(window.locator(".value")).to_have_text("09:15–17:45")
    await expect(page.locator("#rules-effective tr[data-rule=holidays]")).to_have_attribute(
        "data-source", "default")
    await page.screenshot(path=str(artifact("desktop-campaign-rules.png")), full_page=True)
    eff = await rest(w.server, "GET", f"/api/campaigns/{cid}/rules/effective", "supervisor")
    assert (eff["window_start"], eff["window_end"]) == ("09:15", "17:45")
    assert eff["days"] == ["mon", "tue", "wed", "thu", "fri"]
    assert eff["retry_delay_s"]["busy"] == 300.0
    assert {"holidays", "default_timezone", "retry_delay_s.no_answer"} <= set(
        eff["from_defaults"])
    assert "window_start" not in eff["from_defaults"]
    # The dialer applies them: the running service reads the same rules.
    camp = await w.server.crm.campaigns.get(cid)
    applied = w.server.handles["dialer"].effective(camp)
    assert (applied.window_start, applied.window_end) == ("09:15", "17:45")

    # A window ending before it starts: the server's message, nothing stored.
    await page.fill("#rules-end", "08:00")
    await page.click("#rules-form button[type=submit]")
    await expect(page.locator(".toast-error").last).to_contain_text("window_end",
                                                                   timeout=TIMEOUT_MS)
    again = await rest(w.server, "GET", f"/api/campaigns/{cid}/rules/effective", "supervisor")
    assert again == eff

    # The panel in Chinese; then every rule back to the default (the form left empty).
    await page.select_option(".lang-switch", "zh-CN")
    await expect(rules.locator("summary")).to_have_text("呼叫规则")
    await expect(page.locator("label[for=rules-zone]")).to_have_text("无法确定时区的号码所用时区")
    await page.select_option(".lang-switch", "en")
    await page.fill("#rules-start", "")
    await page.fill("#rules-end", "")
    await page.check("#rules-days-default")
    await page.fill("#rules-retry-busy", "")
    await page.click("#rules-form button[type=submit]")
    await expect(window).to_have_attribute("data-source", "default", timeout=TIMEOUT_MS)
    assert await w.server.crm.campaign_rules.get(cid) is None
    assert page.errors == []  # type: ignore[attr-defined]
    await context.close()
