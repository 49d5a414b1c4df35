"""The supervisor wallboard in Debian's chromium (playwright) against one running demo server for
the whole module: campaign tiles, the server-kept trend of the day, the configured thresholds on
a kiosk TV, and the supervisor's actions on an agent (listen / whisper / barge, force pause and
log-out, skills).

The demo server runs one agent (agent1, team Support, the supervisor's team), the demo's
progressive campaign (whose leads are all on a calling holiday, so it is active but never dials
and cannot take the agent), and no random inbound traffic: every call is the test's own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from agent_desktop.wallboard_trend import TrendBook
from common.messages import CallMonitorStarted, DialerAttemptOutcome, DialerCampaignStats
from config.settings import Settings
from cti.simulator import PhoneBehaviour
from server import DEMO_SUPERVISOR_EXTENSION
from tests.agent_desktop.demo_pages import DemoServer as Server
from tests.agent_desktop.demo_pages import free_port, rest, sign_in
from tests.browser import artifact, chromium

pytestmark = pytest.mark.asyncio(loop_scope="module")

TIMEOUT_MS = 30_000
AGENT = "agent1"
AGENT_EXT = "1001"


def far_from_midnight() -> str:
    """The centre's zone for this module: one where local midnight is hours away (UTC and
    Shanghai are 8 h apart, so one of them is), so that "today" on the board (the trend, the
    campaigns' counts) is one day for the whole module, whatever the hour of the run."""
    for zone in ("UTC", "Asia/Shanghai"):
        local = datetime.now(ZoneInfo(zone))
        if 1 <= local.hour <= 22:
            return zone
    raise AssertionError("unreachable: UTC and Asia/Shanghai are 8 hours apart")


def wallboard_settings(tmp_path: Path, port: int) -> Settings:
    today = datetime.now(UTC).date()
    return Settings.model_validate({
        "server": {"port": port, "host": "127.0.0.1", "data_dir": str(tmp_path),
                   "summary_interval_s": 60},
        "fastagi": {"port": 0},
        "auth": {"jwt_secret": "test-secret-0123456789-0123456789"},
        "pages": {"language": "en", "country": "US", "timezone": far_from_midnight()},
        "demo": {"customers": 60, "agents": 1, "calls_per_minute": 0.0001,
                 "mean_handle_s": 30000.0, "time_scale": 0.1, "agent_return_s": 0.5,
                 "campaign_leads": 5},
        # Every lead's local date is a holiday (a day either side covers every zone): the
        # campaign is active and shows, but never dials.
        "dialer": {"holidays": [str(today + timedelta(days=d)) for d in (-1, 0, 1)]},
        # Support callers need the support skill (no "any agent" step): the skills test.
        "acd": {"queues": [
            {"name": "support", "skills": ["support"],
             "escalation": [{"after_s": 0, "min_skill_level": 1}]},
            {"name": "sales", "skills": ["sales"]}]},
        "wallboard": {"queues": {"support": {"waiting_warn": 1, "waiting_alarm": 2}}},
    })


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    srv = Server(wallboard_settings(tmp_path_factory.mktemp("wallboard"), free_port()))
    await srv.start()
    sim = srv.handles["sim"]
    sim.set_phone(DEMO_SUPERVISOR_EXTENSION, PhoneBehaviour(answer_delay_s=1.0,
                                                            handle_time_s=30000.0))
    try:
        yield srv
    finally:
        await srv.shutdown()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


async def open_board(browser: Browser, server: Server) -> Page:
    ctx = await browser.new_context(viewport={"width": 1500, "height": 1100})
    board = await sign_in(ctx, server.base + "/wallboard", "supervisor")
    await expect(board.locator("#conn")).to_have_attribute("data-status", "online",
                                                           timeout=TIMEOUT_MS)
    return board


async def open_tv(browser: Browser, server: Server, *, clock: bool = False) -> Page:
    """A kiosk TV (720p); `clock`: with playwright's clock installed (the test moves it)."""
    team = (await rest(server, "GET", "/api/me", "supervisor"))["team_id"]
    kiosk = await rest(server, "POST", "/api/wallboard/kiosk-tokens", "supervisor",
                       {"label": "floor TV", "team_id": team})
    tv = await (await browser.new_context(viewport={"width": 1280, "height": 720})).new_page()
    if clock:
        await tv.clock.install()
    errors: list[str] = []
    tv.on("pageerror", lambda e: errors.append(str(e)))
    tv.errors = errors  # type: ignore[attr-defined]
    await tv.goto(server.base + kiosk["url"])
    await expect(tv.locator("#conn")).to_have_attribute("data-status", "online",
                                                        timeout=TIMEOUT_MS)
    return tv


async def agent_state(server: Server) -> str:
    me = await rest(server, "GET", "/api/acd/me", AGENT)
    return str(me["state"])


async def until(pred: Any, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.02)


# ------------------------------------------------------------------ campaigns (issue 12)


async def test_campaign_tiles_follow_the_dialer(server: Server, browser: Browser) -> None:
    board = await open_board(browser, server)
    tv = await open_tv(browser, server)
    crm, bus = server.handles["crm"], server.handles["bus"]
    campaign = (await crm.campaigns.search(name="Demo renewals", limit=1)).items[0]
    for page in (board, tv):
        tile = page.locator(f'#campaign-tiles article[data-campaign="{campaign.id}"]')
        await expect(tile).to_have_attribute("data-status", "active", timeout=TIMEOUT_MS)
        await expect(tile.locator("h2")).to_contain_text("Demo renewals")
        await expect(tile.locator(".run-state")).to_have_text("Running")
        await expect(tile.locator('[data-metric="mode"] .v')).to_have_text("Progressive")
        await expect(tile.locator('[data-metric="agents"] .v')).to_have_text("1")
    # Outcomes as the dialer publishes them: today's attempts and contacts move on both.
    for lead, result in ((1, "connected"), (2, "busy"), (3, "abandoned")):
        bus.publish(DialerAttemptOutcome(campaign.id, lead, result))
    for page in (board, tv):
        await expect(page.locator(f'#campaign-{campaign.id} .cp-today')).to_have_text(
            "Today: 3 attempts, 2 contacts", timeout=TIMEOUT_MS)
    # The abandon rule's rolling rates against the 3 % target: red above it.
    bus.publish(DialerCampaignStats(
        at=time.time(), campaign_id=campaign.id, name=campaign.name, status="active",
        dial_mode="progressive", dial_level=1.0, pacing="progressive", lines_in_progress=0,
        humans_waiting=0, unknown_outcome=0, calls_placed=3, live_24h=20, abandoned_24h=1,
        rate_24h=0.05, live_30d=20, abandoned_30d=1, rate_30d=0.05))
    tile = tv.locator(f"#campaign-{campaign.id}")
    await expect(tile.locator('[data-metric="ab24"]')).to_have_class("metric bad",
                                                                   timeout=TIMEOUT_MS)
    await expect(tile.locator('[data-metric="ab24"] .v')).to_have_text("5%")
    await expect(tile).to_have_attribute("data-level", "bad")
    await rest(server, "POST", f"/api/campaigns/{campaign.id}/pause", "supervisor")
    for page in (board, tv):
        await expect(page.locator(f"#campaign-{campaign.id}")).to_have_attribute(
            "data-status", "paused", timeout=TIMEOUT_MS)
    await expect(tile.locator(".run-state")).to_have_text("Paused")
    artifact("wallboard-campaigns-kiosk.png").write_bytes(await tv.screenshot())
    for page in (board, tv):
        assert page.errors == [], page.errors  # type: ignore[attr-defined]
        await page.context.close()


async def test_campaign_tiles_sort_chinese_names_by_pinyin(server: Server,
                                                          browser: Browser) -> None:
    """Campaign names sort as the agent tables do (i18n.js nameCollator: zh-CN, pinyin), not
    by the browser's own locale, where Han characters fall in code point order."""
    names = ["张氏回访 Zhang", "李氏续约 Li"]  # 张 (zhang, U+5F20) < 李 (li, U+674E) by code point
    ids = []
    for name in names:
        made = await rest(server, "POST", "/api/campaigns", "supervisor", {
            "name": name, "dial_mode": "preview", "queue": "support",
            "caller_id": "+12025550100", "max_attempts": 3})
        ids.append(made["id"])
        # Loaded by the dialer (started), then paused: a tile for each.
        await rest(server, "POST", f"/api/campaigns/{made['id']}/start", "supervisor")
        await rest(server, "POST", f"/api/campaigns/{made['id']}/pause", "supervisor")
    board = await open_board(browser, server)
    tiles = board.locator("#campaign-tiles article")
    for cid in ids:
        await expect(board.locator(f"#campaign-{cid}")).to_have_attribute(
            "data-status", "paused", timeout=TIMEOUT_MS)
    shown = [int(c) for c in await tiles.evaluate_all("(ts) => ts.map((t) => t.dataset.campaign)")]
    assert [c for c in shown if c in ids] == [ids[1], ids[0]]  # 李 (li) before 张 (zhang)
    assert board.errors == [], board.errors  # type: ignore[attr-defined]
    await board.context.close()


async def test_a_kiosk_tv_pages_through_what_does_not_fit_on_its_screen(
        server: Server, browser: Browser) -> None:
    """Nobody scrolls a TV: a board taller than the screen shows the next screenful every
    15 s and then the top again (the page's timers run on playwright's clock here)."""
    tv = await open_tv(browser, server, clock=True)
    await expect(tv.locator("#agent-table")).to_be_attached(timeout=TIMEOUT_MS)
    height, view = await tv.evaluate(
        "() => [document.scrollingElement.scrollHeight, window.innerHeight]")
    assert height > view, "the board fits a 720p screen: nothing to page through"
    tops = [await tv.evaluate("() => window.scrollY")]
    for _ in range(height // (view - 80) + 2):
        await tv.clock.run_for(15_000)
        tops.append(await tv.evaluate("() => window.scrollY"))
    assert tops[0] == 0 and tops[1] > 0, tops
    back = tops.index(0, 1)  # back at the top after the last screenful
    assert tops[:back] == sorted(tops[:back]) and tops[back - 1] + view >= height - 4, tops
    artifact("wallboard-kiosk-paged.png").write_bytes(await tv.screenshot())
    assert tv.errors == [], tv.errors  # type: ignore[attr-defined]
    await tv.context.close()


# ------------------------------------------------------------------ trend and thresholds


async def test_a_fresh_wallboard_shows_the_day_so_far_and_the_configured_colours(
        server: Server, browser: Browser) -> None:
    await rest(server, "POST", "/api/acd/me/pause", AGENT, {"reason": "break"})
    # The morning, as the hub's trend would have kept it: three minutes before the page opens.
    hub = server.handles["hub"]
    now = time.time()
    minute = now - now % 60
    past = [minute - 180, minute - 120, minute - 60]
    book = TrendBook(hub.board.trend.zone)
    assert len({_day(book, t) for t in [*past, now]}) == 1  # (far_from_midnight)
    for t, waiting in zip(past, (7, 3, 5), strict=True):
        book.observe(t + 1, [_Row("ALL", waiting, 0.5), _Row("support", waiting, 0.5)])
    hub.board.trend = book  # what a server that ran since the morning holds

    opened = time.time()
    board = await open_board(browser, server)
    await until_js(board,
                   "() => window.wallboard.chart && window.wallboard.chart.data[0].length >= 3")
    xs, waiting = await board.evaluate(
        "[window.wallboard.chart.data[0], window.wallboard.chart.data[1]]")
    assert xs[:3] == past and all(x < opened for x in xs[:3])
    assert waiting[:3] == [7, 3, 5]

    # The kiosk TV colours with the server's thresholds: support waiting amber at 1, red at 2
    # ([wallboard.queues.support]); the line over all queues keeps the section's 5 / 10.
    tv = await open_tv(browser, server)
    sim = server.handles["sim"]
    calls = [await sim.place_inbound_call(caller=f"+1202555013{i}", dtmf="10", patience_s=None)
             for i in range(2)]
    tv_waiting = tv.locator('#tile-support [data-metric="waiting"]')
    await expect(tv_waiting.locator(".v")).to_have_text("2", timeout=TIMEOUT_MS)
    await expect(tv_waiting).to_have_class("metric bad")
    await expect(tv.locator('#tile-ALL [data-metric="waiting"]')).to_have_class("metric ok")
    board_waiting = board.locator('#tile-support [data-metric="waiting"]')
    await expect(board_waiting).to_have_class("metric bad", timeout=TIMEOUT_MS)
    # The supervisor raises the bar for their own view; the TV keeps the server's.
    await board.click("#th-edit")
    await board.select_option("#th-queue", "support")
    await board.fill("#th-waiting-warn", "3")
    await board.fill("#th-waiting-alarm", "6")
    await board.click("#th-save")
    await expect(board_waiting).to_have_class("metric ok")
    await expect(tv_waiting).to_have_class("metric bad")
    sim.hangup_caller(calls[0].channel)
    await expect(tv_waiting.locator(".v")).to_have_text("1", timeout=TIMEOUT_MS)
    await expect(tv_waiting).to_have_class("metric warn")
    artifact("wallboard-trend-thresholds.png").write_bytes(await board.screenshot(full_page=True))
    artifact("wallboard-kiosk-thresholds.png").write_bytes(await tv.screenshot())
    sim.hangup_caller(calls[1].channel)
    await expect(tv_waiting.locator(".v")).to_have_text("0", timeout=TIMEOUT_MS)
    await board.click("#th-edit")  # back to the server's values (kept in this browser)
    await board.select_option("#th-queue", "support")
    await board.click("#th-reset")
    for page in (board, tv):
        assert page.errors == [], page.errors  # type: ignore[attr-defined]
        await page.context.close()


# ------------------------------------------------------------------ supervisor actions


async def test_supervisor_actions_reach_the_pbx_the_acd_and_the_crm(
        server: Server, browser: Browser) -> None:
    sim, bus, crm = server.handles["sim"], server.handles["bus"], server.handles["crm"]
    acd = server.handles["acd"]
    # What reaches the simulator's AMI door, action by action.
    seen: list[Any] = []
    door = sim.handle_action

    async def record(session: Any, action: Any) -> None:
        seen.append(action)
        await door(session, action)

    sim.handle_action = record
    try:
        await _supervisor_actions(server, browser, sim, bus, crm, acd, seen)
    finally:
        del sim.handle_action  # the class's own again


async def _supervisor_actions(server: Server, browser: Browser, sim: Any, bus: Any, crm: Any,
                              acd: Any, seen: list[Any]) -> None:
    if await agent_state(server) != "available":  # paused by the test before, if it ran
        await rest(server, "POST", "/api/acd/me/available", AGENT)
    board = await open_board(browser, server)
    row = board.locator(f'#agent-table tr[data-agent="{AGENT}"]')
    await expect(row).to_have_attribute("data-state", "available", timeout=TIMEOUT_MS)

    # Listen, whisper, barge: one ChanSpy Originate each, ringing the supervisor's phone first.
    monitors = bus.subscribe(CallMonitorStarted.TOPIC)
    call = await sim.place_inbound_call(caller="+12025550142", dtmf="10", patience_s=None)
    await expect(row).to_have_attribute("data-state", "on_call", timeout=TIMEOUT_MS)
    # A board opened during the call shows it too (its offer came before the page).
    late = await open_board(browser, server)
    late_row = late.locator(f'#agent-table tr[data-agent="{AGENT}"]')
    await expect(late_row.locator("td.call")).to_contain_text("(202) 555-0142",
                                                              timeout=TIMEOUT_MS)
    await expect(late.locator(f'#call-table tr[data-call="{call.uniqueid}"]')).to_contain_text(
        "support")
    assert late.errors == [], late.errors  # type: ignore[attr-defined]
    await late.context.close()
    for mode, options in (("listen", "qE"), ("whisper", "qwE"), ("barge", "qBE")):
        before = len(seen)
        await row.locator(f'button[data-action="{mode}"]').click()
        await until(lambda: any(a.name == "Originate" for a in seen[before:]))
        spy = next(a for a in seen[before:] if a.name == "Originate")
        assert (spy.get("Channel"), spy.get("Application"), spy.get("Data")) == (
            f"PJSIP/{DEMO_SUPERVISOR_EXTENSION}", "ChanSpy", f"PJSIP/{AGENT_EXT},{options}")
        if mode == "listen":
            # The supervisor's phone answered and the PBX started spying on the agent's call.
            started = (await asyncio.wait_for(monitors.get(), 20)).message
            assert started.call.call_id == call.uniqueid
    monitors.close()
    await expect(board.locator(".toast-ok").last).to_contain_text("Barge", timeout=TIMEOUT_MS)
    sim.hangup_caller(call.channel)
    await expect(row).to_have_attribute("data-state", "wrap_up", timeout=TIMEOUT_MS)
    await rest(server, "POST", "/api/acd/me/end-wrapup", AGENT)
    await expect(row).to_have_attribute("data-state", "available", timeout=TIMEOUT_MS)

    # Skills: without the support skill the agent is not offered a support call ...
    await rest(server, "PUT", f"/api/agents/{AGENT}/skills", "supervisor",
               {"skills": {"sales": 4}})
    waiting = board.locator('#tile-support [data-metric="waiting"] .v')
    call = await sim.place_inbound_call(caller="+12025550143", dtmf="10", patience_s=None)
    await expect(waiting).to_have_text("1", timeout=TIMEOUT_MS)
    assert await agent_state(server) == "available"
    # ... and once the supervisor gives it from the wallboard, the waiting call is routed to it.
    await row.locator('button[data-action="skills"]').click()
    await expect(board.locator("#skills-input")).to_have_value("sales:4", timeout=TIMEOUT_MS)
    await board.fill("#skills-input", "sales:4, support:2")
    await board.click('#skills-dialog button[value="ok"]')
    await expect(board.locator(".toast-ok").last).to_contain_text("saved", timeout=TIMEOUT_MS)
    await expect(row).to_have_attribute("data-state", "on_call", timeout=TIMEOUT_MS)
    assert acd.engine.agent(AGENT).call_id == call.uniqueid
    assert dict(acd.engine.agent(AGENT).skills) == {"sales": 4, "support": 2}
    user = await crm.users.by_username(AGENT)
    assert {s.skill: s.level for s in await crm.skills.for_user(user.id)} == {
        "sales": 4, "support": 2}
    sim.hangup_caller(call.channel)
    await expect(row).to_have_attribute("data-state", "wrap_up", timeout=TIMEOUT_MS)
    await rest(server, "POST", "/api/acd/me/end-wrapup", AGENT)
    await expect(row).to_have_attribute("data-state", "available", timeout=TIMEOUT_MS)

    # Force pause with a reason, then force log-out: the agent's own view says so.
    await board.select_option("#force-reason", "lunch")
    await row.locator('button[data-action="pause"]').click()
    await expect(row).to_have_attribute("data-state", "paused", timeout=TIMEOUT_MS)
    me = await rest(server, "GET", "/api/acd/me", AGENT)
    assert (me["state"], me["pause_reason"]) == ("paused", "lunch")
    await row.locator('button[data-action="logout"]').click()
    await expect(row).to_have_attribute("data-state", "logged_out", timeout=TIMEOUT_MS)
    assert await agent_state(server) == "logged_out"
    artifact("wallboard-supervisor-actions.png").write_bytes(
        await board.screenshot(full_page=True))
    assert board.errors == [], board.errors  # type: ignore[attr-defined]
    await board.context.close()


class _Row:
    def __init__(self, queue: str, waiting: int, service_level: float | None) -> None:
        self.queue, self.waiting, self.service_level = queue, waiting, service_level


def _day(book: TrendBook, t: float) -> str:
    from agent_desktop.wallboard_trend import local_day

    return local_day(t, book.zone)


async def until_js(page: Page, predicate: str) -> None:
    """Wait until `predicate` (an arrow function's source) returns true in the page. Never an
    expression string: playwright evaluates those with eval on every poll after the first, which
    the page's CSP (no unsafe-eval) refuses, so a wait whose first check was false always failed."""
    assert predicate.lstrip().startswith(("(", "function")), "pass a function, not an expression"
    await page.wait_for_function(predicate, timeout=TIMEOUT_MS)
