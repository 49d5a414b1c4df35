"""The agent desktop and the wallboard in Debian's chromium (playwright) against the running demo
server: PBX simulator, ACD, hub and CRM, driven like an agent and a supervisor would.

One call, followed end to end: an agent logs in and goes available; a known customer calls; the
screen-pop shows their name, open tickets and purchases; the simulated desk phone answers; the
agent hangs up and wraps up with a disposition that lands on the call's CRM interaction. The
supervisor's wallboard and a kiosk wallboard watch the same call. A second test restarts the
server under an open desktop, which reconnects and resyncs by itself.

Random demo traffic is kept out of the way (one call per thousands of minutes, stopped once the
server is up), so the only call is the test's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import expect

from config.settings import Settings
from tests.agent_desktop.demo_pages import (  # Server & co: the wallboard's test uses them too
    TIMEOUT_MS,
    free_port,
    known_caller,
    rest,
    sign_in,
)
from tests.agent_desktop.demo_pages import DemoServer as Server
from tests.agent_desktop.demo_pages import demo_settings as _demo_settings
from tests.browser import artifact, chromium

__all__ = ["TIMEOUT_MS", "Server", "free_port", "known_caller", "rest", "sign_in"]


def page_settings(tmp_path: Path, port: int) -> Settings:
    # One agent, so the test's call is agent1's; conversations last until hung up.
    return _demo_settings(tmp_path, port, agents=1)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    srv = Server(page_settings(tmp_path, free_port()))
    await srv.start()
    try:
        yield srv
    finally:
        if srv.task is not None and not srv.task.done():
            await srv.shutdown()


LOCALE_PROBE = """import("/static/i18n.js").then((m) => {
  m.setUserLocale({ timezone: "Asia/Shanghai", country: "US" });
  const out = {
    sorted: m.sortByName([{ name: "张伟" }, { name: "王伟" }, { name: "Anna" }, { name: "李娜" }])
      .map((x) => x.name),
    cn_for_cn: m.fmtPhone("+8613800138000", "CN"), cn_for_us: m.fmtPhone("+8613800138000", "US"),
    us_for_us: m.fmtPhone("+12025550100", "US"),
    shanghai: m.fmtTime(Date.UTC(2026, 0, 1, 0, 0) / 1000, { date: false }),
  };
  m.setUserLocale({ timezone: "UTC", country: "US" });
  return out;
})"""


def save_screenshot(name: str, png: bytes) -> None:
    artifact(name).write_bytes(png)


async def test_agent_takes_a_call_from_pop_to_disposition_and_the_wallboard_follows(
        server: Server) -> None:
    crm = server.handles["crm"]
    number, view = await known_caller(crm)
    await rest(server, "POST", "/api/acd/me/pause", "agent1", {"reason": "break"})
    team = (await rest(server, "GET", "/api/me", "supervisor"))["team_id"]
    kiosk = await rest(server, "POST", "/api/wallboard/kiosk-tokens", "supervisor",
                       {"label": "floor TV", "team_id": team})

    async with chromium() as browser:
        agent_ctx = await browser.new_context(viewport={"width": 1400, "height": 1100})
        sup_ctx = await browser.new_context(viewport={"width": 1500, "height": 1000})
        tv_ctx = await browser.new_context(viewport={"width": 1280, "height": 720})
        desk = await sign_in(agent_ctx, server.base + "/", "agent1")
        await desk.wait_for_url("**/desktop")
        board = await sign_in(sup_ctx, server.base + "/wallboard", "supervisor")
        tv = await tv_ctx.new_page()
        await tv.goto(server.base + kiosk["url"])

        # Chinese names sort by pinyin; numbers and times follow the user's country and zone.
        assert await desk.evaluate(LOCALE_PROBE) == {
            "sorted": ["李娜", "王伟", "张伟", "Anna"],  # CLDR zh: Han (by pinyin) before Latin
            "cn_for_cn": "138 0013 8000", "cn_for_us": "+86 138 0013 8000",
            "us_for_us": "(202) 555-0100", "shanghai": "08:00"}

        state = desk.locator("#agent-state")
        await expect(state).to_have_attribute("data-state", "paused", timeout=TIMEOUT_MS)
        await expect(desk.locator("#conn")).to_have_attribute("data-status", "online",
                                                              timeout=TIMEOUT_MS)
        await desk.keyboard.press("Alt+R")  # the "ready" shortcut
        await expect(state).to_have_attribute("data-state", "available", timeout=TIMEOUT_MS)

        row = board.locator('#agent-table tr[data-agent="agent1"]')
        await expect(row).to_have_attribute("data-state", "available", timeout=TIMEOUT_MS)
        all_tile = board.locator("#tile-ALL")
        await expect(all_tile).to_be_visible(timeout=TIMEOUT_MS)
        offered_before = await all_tile.locator(".today").inner_text()
        await expect(tv.locator("#tile-ALL")).to_be_visible(timeout=TIMEOUT_MS)
        assert await tv.locator("#agent-table button").count() == 0  # a kiosk has no actions

        sim = server.handles["sim"]
        await sim.place_inbound_call(caller=number, caller_name="Test Caller", dtmf="10",
                                     patience_s=None)

        # The screen-pop: that customer, their open tickets and purchases.
        await expect(desk.locator("#pop-customer-name")).to_have_text(view.customer.name,
                                                                      timeout=TIMEOUT_MS)
        tickets = desk.locator("#pop-tickets")
        for ticket in view.open_tickets:
            await expect(tickets).to_contain_text(ticket.subject)
        purchases = desk.locator("#pop-purchases")
        for dept in view.purchases_by_department:
            await expect(purchases).to_contain_text(dept.department)

        # The desk phone answers; the supervisor sees the call on the agent's row.
        await expect(desk.locator("#call-status")).to_have_attribute("data-status", "talking",
                                                                     timeout=TIMEOUT_MS)
        call_id = await desk.evaluate("window.desktop.state.call.call_id")
        await expect(row).to_have_attribute("data-state", "on_call", timeout=TIMEOUT_MS)
        await expect(board.locator(f'#call-table tr[data-call="{call_id}"]')).to_be_visible(
            timeout=TIMEOUT_MS)
        desk_png = await desk.screenshot(full_page=True)
        save_screenshot("desktop-on-call.png", desk_png)

        # A quick action during the call: a ticket for this customer, shown in the pop at once.
        await desk.click("#qa-ticket")
        await desk.fill("#qa-ticket-subject", "回电确认 / confirm by phone")
        await desk.click("#qa-ticket-form button[type=submit]")
        await expect(tickets).to_contain_text("回电确认 / confirm by phone", timeout=TIMEOUT_MS)
        made = await crm.tickets.search(customer_id=view.customer.id, status="open", limit=50)
        assert "回电确认 / confirm by phone" in [t.subject for t in made.items]
        # The supervisor listens in: their phone is called into the agent's call.
        await row.locator('button[data-action="listen"]').click()
        await expect(board.locator(".toast-ok")).to_contain_text("Listen", timeout=TIMEOUT_MS)

        # Hang up from the page, then wrap up with a disposition and notes.
        await desk.fill("#call-notes", "客户询问订单 / asked about an order")
        await desk.keyboard.press("Alt+H")
        wrap = desk.locator("#wrap-panel")
        await expect(wrap).to_be_visible(timeout=TIMEOUT_MS)
        codes = await desk.locator("#wrap-disposition option").all_inner_texts()
        code = codes[1]  # [0] is the empty choice
        await desk.select_option("#wrap-disposition", code)
        await desk.click("#wrap-save")
        await expect(wrap).to_be_hidden(timeout=TIMEOUT_MS)

        rows = await crm.interactions.search(call_id=call_id, limit=5)
        assert [(r.disposition, r.notes) for r in rows.items] == [
            (code, "客户询问订单 / asked about an order")]
        assert rows.items[0].customer_id == view.customer.id

        # The wallboard's figures moved with the call.
        today = all_tile.locator(".today")
        await expect(today).not_to_have_text(offered_before, timeout=TIMEOUT_MS)
        await expect(today).to_contain_text("1 answered", timeout=TIMEOUT_MS)
        await expect(all_tile.locator('[data-metric="sl"] .v')).not_to_have_text("–",
                                                                            timeout=TIMEOUT_MS)
        await expect(board.locator(f'#call-table tr[data-call="{call_id}"]')).to_have_count(
            0, timeout=TIMEOUT_MS)
        # An unknown caller: the "new customer" form, pre-filled with the number, creates them.
        await expect(state).to_have_attribute("data-state", "available", timeout=TIMEOUT_MS)
        stranger = "+12025550199"
        assert await crm.lookup_phone(stranger) is None
        await sim.place_inbound_call(caller=stranger, dtmf="10", patience_s=None)
        form = desk.locator("#new-customer")
        await expect(form).to_be_visible(timeout=TIMEOUT_MS)
        assert await desk.input_value("#new-phone") == stranger
        await desk.fill("#new-name", "测试客户")
        await form.locator("button[type=submit]").click()
        await expect(desk.locator("#pop-customer-name")).to_have_text("测试客户",
                                                                      timeout=TIMEOUT_MS)
        found = await crm.lookup_phone(stranger)
        assert found is not None and found.customer.name == "测试客户"
        await expect(desk.locator("#call-status")).to_have_attribute("data-status", "talking",
                                                                     timeout=TIMEOUT_MS)
        await desk.keyboard.press("Alt+H")
        await expect(wrap).to_be_visible(timeout=TIMEOUT_MS)
        await desk.select_option("#wrap-disposition", code)
        await desk.keyboard.press("Alt+W")  # saves the wrap-up form
        await expect(wrap).to_be_hidden(timeout=TIMEOUT_MS)

        # A number several customers share: the agent chooses the caller.
        await expect(state).to_have_attribute("data-state", "available", timeout=TIMEOUT_MS)
        shared = "+12025550177"
        for name in ("Alice Zhang", "王芳"):
            customer = await crm.customers.create(kind="person", name=name)
            await crm.phones.create(customer_id=customer.id, e164=shared)
        await sim.place_inbound_call(caller=shared, dtmf="10", patience_s=None)
        chooser = desk.locator("#pop-chooser button")
        await expect(chooser).to_have_count(2, timeout=TIMEOUT_MS)
        assert [n.split(" ")[0] for n in await chooser.all_inner_texts()] == ["王芳", "Alice"]
        await chooser.filter(has_text="Alice Zhang").click()
        await expect(desk.locator("#pop-customer-name")).to_have_text("Alice Zhang",
                                                                      timeout=TIMEOUT_MS)
        await expect(desk.locator("#call-status")).to_have_attribute("data-status", "talking",
                                                                     timeout=TIMEOUT_MS)
        await desk.keyboard.press("Alt+H")
        await expect(wrap).to_be_visible(timeout=TIMEOUT_MS)
        await desk.select_option("#wrap-disposition", code)
        await desk.keyboard.press("Alt+W")
        await expect(wrap).to_be_hidden(timeout=TIMEOUT_MS)

        # The supervisor pauses the agent from the wallboard; the desktop shows it, in Chinese
        # once the agent switches the language.
        await expect(row).to_have_attribute("data-state", "available", timeout=TIMEOUT_MS)
        await board.select_option("#force-reason", "lunch")
        await row.locator('button[data-action="pause"]').click()
        await expect(state).to_have_attribute("data-state", "paused", timeout=TIMEOUT_MS)
        await desk.select_option(".lang-switch", "zh-CN")
        await expect(state).to_contain_text("暂停 · lunch")
        board_png = await board.screenshot(full_page=True)
        save_screenshot("wallboard.png", board_png)
        save_screenshot("wallboard-kiosk.png", await tv.screenshot())
        for page in (desk, board):
            assert page.errors == [], page.errors  # type: ignore[attr-defined]


async def test_desktop_reconnects_and_resyncs_after_a_server_restart(server: Server) -> None:
    async with chromium() as browser:
        context = await browser.new_context()
        desk = await sign_in(context, server.base + "/desktop", "agent1")
        conn = desk.locator("#conn")
        await expect(conn).to_have_attribute("data-status", "online", timeout=TIMEOUT_MS)
        await expect(desk.locator("#agent-state")).to_have_attribute(
            "data-state", "available", timeout=TIMEOUT_MS)

        await server.shutdown()
        await expect(conn).to_have_attribute("data-status", "offline", timeout=TIMEOUT_MS)
        await server.start()
        # Paused while the page was disconnected: the snapshot after the reconnect says so.
        await rest(server, "POST", "/api/acd/me/pause", "agent1", {"reason": "lunch"})
        await expect(conn).to_have_attribute("data-status", "online", timeout=TIMEOUT_MS)
        await expect(desk.locator("#agent-state")).to_have_attribute(
            "data-state", "paused", timeout=TIMEOUT_MS)
        await expect(desk.locator("#gap-notice")).to_be_visible(timeout=TIMEOUT_MS)
        assert await desk.evaluate("window.desktop.hub.stats.connects") >= 2
        assert desk.errors == []  # type: ignore[attr-defined]
