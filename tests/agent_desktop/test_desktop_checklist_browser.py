"""Items of the desktop's checklist (issue 10) in Debian's chromium against the running demo
server, one server for the module (one agent, desk phone 1001; outside numbers answer and stay on
the line):

- a placed call the hub says nothing about is read once over REST after [pages]
  placed_call_check_s (here 1 s; a minute by default), and shown as that read found it;
- every control is reachable with Tab in each call state, shows a focus ring and has a name;
- an offer to a background tab raises a notification and rings;
- a time the agent types (a callback's due time) is read in the user's zone ([pages].timezone),
  not in the browser's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, Route, WebSocketRoute, expect

from cti.simulator.config import PhoneBehaviour
from tests.agent_desktop.demo_pages import (
    TIMEOUT_MS,
    WAIT_S,
    DemoServer,
    demo_settings,
    focused,
    free_port,
    known_caller,
    make_available,
    open_desktop,
    people_answer_and_stay,
    wrap_up,
)
from tests.browser import artifact, chromium

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHECK_S = 1.0  # [pages].placed_call_check_s for this module
USER_ZONE = "Asia/Shanghai"  # [pages].timezone
BROWSER_ZONE = "America/New_York"


@dataclasses.dataclass
class World:
    server: DemoServer
    browser: Browser


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    data: Path = tmp_path_factory.mktemp("checklist")
    server = DemoServer(demo_settings(data, free_port(), sections={
        # The users' zone; the test browsers run in another one (BROWSER_ZONE).
        "pages": {"placed_call_check_s": CHECK_S, "timezone": USER_ZONE},
        # A phone that does not answer rings on (the ringing state is looked at unhurried).
        "acd": {"queues": [{"name": "support", "skills": ["support"], "ring_timeout_s": 3000},
                           {"name": "sales", "skills": ["sales"]}]}}))
    await server.start()
    try:
        people_answer_and_stay(server)
        async with chromium() as browser:
            yield World(server, browser)
    finally:
        await server.shutdown()


class Withhold:
    """Sits between the page and /ws: the hub's pbx.call.* frames about calls to `number` (all
    but pbx.call.ended) reach the page renamed `test.withheld`, same stream and sequence number,
    so the page neither acts on them nor sees a gap to resume from."""

    def __init__(self, number: str) -> None:
        self.number = number
        self.withheld: list[str] = []

    def about_number(self, data: dict[str, Any]) -> bool:
        call = data.get("call") or {}
        return self.number in (data.get("dialled"), call.get("dialled"))

    def rewrite(self, message: str | bytes) -> str | bytes:
        if isinstance(message, bytes):
            return message
        frame = json.loads(message)
        topic = str(frame.get("topic", ""))
        if (frame.get("op") == "event" and topic.startswith("pbx.call.")
                and topic != "pbx.call.ended" and self.about_number(frame.get("data") or {})):
            self.withheld.append(topic)
            frame["topic"] = "test.withheld"
            return json.dumps(frame)
        return message

    async def install(self, context: BrowserContext) -> None:
        def route(ws: WebSocketRoute) -> None:
            server = ws.connect_to_server()
            server.on_message(lambda message: ws.send(self.rewrite(message)))

        await context.route_web_socket(re.compile(r"/ws$"), route)


async def test_a_placed_call_nothing_is_pushed_about_is_read_once_and_shown_as_read(
        world: World) -> None:
    w, tracker = world, world.server.handles["tracker"]
    _caller, view = await known_caller(w.server.crm)
    number = view.phones[0].e164
    withhold = Withhold(number)
    desk = await open_desktop(w.browser, w.server.base, "agent1", ready=True,
                              prepare=withhold.install)
    # The one read is held until the PBX has the customer on the line, so that what it finds
    # (answered) differs from what the page shows without it (dialling).
    reads: list[str] = []
    call_ids: list[str] = []

    async def hold_read(route: Route) -> None:
        request = route.request
        if request.method == "GET" and not request.url.endswith("/mine"):
            reads.append(request.url.split("/api/calls/", 1)[1])

            def answered() -> bool:
                call = tracker.get(call_ids[0]) if call_ids else None
                return call is not None and call.answered_at is not None

            async with asyncio.timeout(WAIT_S):
                while not answered():
                    await asyncio.sleep(0.02)
        await route.continue_()

    await desk.route(re.compile(r"/api/calls/[^/?]+$"), hold_read)

    await desk.fill("#dial-number", number)
    await desk.press("#dial-number", "Enter")
    status = desk.locator("#call-status")
    await expect(status).to_have_attribute("data-status", "dialing", timeout=TIMEOUT_MS)
    call_id = str(await desk.evaluate("window.desktop.state.call.call_id"))
    call_ids.append(call_id)
    # Nothing about the call reaches the page; after placed_call_check_s it reads the call
    # once and shows what it read: the customer answered.
    await expect(status).to_have_attribute("data-status", "talking", timeout=TIMEOUT_MS)
    assert reads == [call_id], reads
    assert "pbx.call.dialling" in withhold.withheld and "pbx.call.answered" in withhold.withheld
    recent = await desk.evaluate("window.desktop.state.recent")
    assert [tp for tp, _seq, cid in recent if cid == call_id and tp.startswith("pbx.")] == []
    await expect(desk.locator("#call-number")).to_contain_text(number[-4:])
    await asyncio.sleep(CHECK_S * 2)  # (no second read: the check runs once per call)
    assert reads == [call_id], reads
    await desk.screenshot(path=str(artifact("desktop-placed-call-read-once.png")),
                          full_page=True)

    # Its end is pushed as usual: wrap-up, on the call's own interaction.
    await desk.click("#btn-hangup")
    code = await wrap_up(desk)
    rows = await w.server.crm.interactions.search(call_id=call_id, limit=5)
    assert [(r.direction, r.phone, r.disposition) for r in rows.items] == [
        ("outbound", number, code)]
    assert reads == [call_id], reads
    assert desk.errors == []  # type: ignore[attr-defined]
    await desk.context.close()


# ------------------------------------------------------------------ keyboard and names

TABBABLE = """() => {
  const sel = 'a[href], button, input, select, textarea, summary, [tabindex]';
  const out = [];
  for (const el of document.querySelectorAll(sel)) {
    if (el.disabled || el.closest('[hidden], [inert]') || el.tabIndex < 0) continue;
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!box.width || !box.height || style.visibility !== 'visible') continue;
    el.dataset.audit = String(out.length);
    out.push(el.id || [el.tagName.toLowerCase(), ...el.classList].join('.')
             + (el.dataset.number ? `[${el.dataset.number}]` : ''));
  }
  return out;
}"""

FOCUS_RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2)
    || style.boxShadow !== 'none';
  return { audit: el.dataset.audit ?? null, ring,
           what: el.id || [el.tagName.toLowerCase(), ...el.classList].join('.') };
}"""


async def focused_name(page: Page) -> str:
    """The accessible name chromium computes for the focused element (what a screen reader
    says)."""
    cdp = await page.context.new_cdp_session(page)
    try:
        found = await cdp.send("Runtime.evaluate", {"expression": "document.activeElement"})
        node = await cdp.send("DOM.describeNode", {"objectId": found["result"]["objectId"]})
        tree = await cdp.send("Accessibility.getPartialAXTree", {
            "backendNodeId": node["node"]["backendNodeId"], "fetchRelatives": False})
        return str(((tree["nodes"] or [{}])[0].get("name") or {}).get("value") or "")
    finally:
        await cdp.detach()


async def keyboard_audit(page: Page) -> dict[str, list[str]]:
    """Tabs through the whole page once. Returns the problems by kind: controls Tab never
    reached, and reached ones without a visible focus ring or an accessible name."""
    controls = await page.evaluate(TABBABLE)
    await page.evaluate("() => document.activeElement?.blur()")
    reached: set[str] = set()
    problems: dict[str, list[str]] = {"unreached": [], "no_ring": [], "no_name": []}
    for _ in range(len(controls) + 3):
        await page.keyboard.press("Tab")
        info = await page.evaluate(FOCUS_RING)
        if info is None or info["audit"] in reached:
            continue
        reached.add(info["audit"])
        if not info["ring"]:
            problems["no_ring"].append(info["what"])
        if not (await focused_name(page)).strip():
            problems["no_name"].append(info["what"])
    problems["unreached"] = [c for i, c in enumerate(controls) if str(i) not in reached]
    return problems


NO_PROBLEMS: dict[str, list[str]] = {"unreached": [], "no_ring": [], "no_name": []}


async def test_every_control_is_reachable_by_tab_with_a_focus_ring_and_a_name_in_each_state(
        world: World) -> None:
    w = world
    desk = await open_desktop(w.browser, w.server.base, "agent1", ready=True)
    status = desk.locator("#call-status")
    assert await keyboard_audit(desk) == NO_PROBLEMS, "no call"

    # Ringing (the desk phone does not answer): Answer is a control now; Alt+H ends it.
    number, view = await known_caller(w.server.crm)
    w.server.sim.set_phone("1001", PhoneBehaviour(answers=False))
    await w.server.sim.place_inbound_call(caller=number, caller_name="Test Caller", dtmf="10",
                                          patience_s=None)
    await expect(status).to_have_attribute("data-status", "ringing", timeout=TIMEOUT_MS)
    await expect(desk.locator("#pop-customer-name")).to_have_text(view.customer.name,
                                                                  timeout=TIMEOUT_MS)
    assert await keyboard_audit(desk) == NO_PROBLEMS, "ringing"
    # The skip link takes the focus to the caller's record, which says what it is and shows
    # where the focus went.
    await desk.locator("a.skip").focus()
    await desk.keyboard.press("Enter")
    assert await focused(desk) == "screen-pop"
    assert await focused_name(desk) == "Caller"  # its heading
    assert (await desk.evaluate(FOCUS_RING))["ring"], "the caller's record shows no focus"
    # On a desk phone an offer is answered or let ring on the phone: Hang up has nothing to
    # do (the server refuses it: not the agent's call until answered), so it is not offered.
    await expect(desk.locator("#btn-hangup")).to_be_disabled()
    await desk.keyboard.press("Alt+H")
    await expect(status).to_have_attribute("data-status", "ringing")
    assert await desk.locator(".toast-error").count() == 0
    # The caller gives up while it rings: the offer leaves the desktop (the agent's stream
    # says only that the agent is available again).
    call_id = await desk.evaluate("window.desktop.state.call.call_id")
    w.server.sim.hangup_caller(w.server.handles["tracker"].get(call_id).legs[0].channel)
    await expect(desk.locator("#call-none")).to_be_visible(timeout=TIMEOUT_MS)

    # Talking, with the caller's record (its numbers, quick actions) beside the call.
    w.server.sim.set_phone("1001", PhoneBehaviour(answer_delay_s=2.0, handle_time_s=30000.0))
    await make_available(desk)
    await w.server.sim.place_inbound_call(caller=number, caller_name="Test Caller", dtmf="10",
                                          patience_s=None)
    await expect(status).to_have_attribute("data-status", "talking", timeout=TIMEOUT_MS)
    await expect(desk.locator("#pop-customer-name")).to_have_text(view.customer.name,
                                                                  timeout=TIMEOUT_MS)
    assert await keyboard_audit(desk) == NO_PROBLEMS, "talking"
    await desk.screenshot(path=str(artifact("desktop-keyboard-audit-talking.png")),
                          full_page=True)

    # Wrap-up: the disposition form.
    await desk.keyboard.press("Alt+H")
    await expect(desk.locator("#wrap-panel")).to_be_visible(timeout=TIMEOUT_MS)
    assert await keyboard_audit(desk) == NO_PROBLEMS, "wrap-up"
    await wrap_up(desk)
    assert desk.errors == []  # type: ignore[attr-defined]
    await desk.context.close()


# ------------------------------------------------------------------ background tab

# Before the page's scripts: notifications and the ring's oscillators are counted, and the tab's
# visibility is the test's to set (a headless page is always "visible").
BACKGROUND_TAB = """
window.__notes = [];
window.__oscillators = 0;
window.__hidden = false;
Object.defineProperty(Document.prototype, "hidden", { get: () => window.__hidden });
Object.defineProperty(Document.prototype, "visibilityState",
                      { get: () => (window.__hidden ? "hidden" : "visible") });
const RealNotification = window.Notification;
window.Notification = class extends RealNotification {
  constructor(title, options) {
    super(title, options);
    window.__notes.push({ title, tag: options?.tag, note: this });
  }
};
const realOscillator = AudioContext.prototype.createOscillator;
AudioContext.prototype.createOscillator = function () {
  window.__oscillators += 1;
  return realOscillator.call(this);
};
"""


async def test_an_offer_to_a_background_tab_notifies_and_rings(world: World) -> None:
    w = world

    async def background_tab(context: BrowserContext) -> None:
        await context.grant_permissions(["notifications"], origin=w.server.base)
        await context.add_init_script(BACKGROUND_TAB)

    desk = await open_desktop(w.browser, w.server.base, "agent1", ready=True,
                              prepare=background_tab)
    await desk.keyboard.press("Shift")  # any key: the page may play sound from now on
    await desk.evaluate("""() => { window.__hidden = true;
                                   document.dispatchEvent(new Event("visibilitychange")); }""")
    w.server.sim.set_phone("1001", PhoneBehaviour(answer_delay_s=6.0, handle_time_s=30000.0))
    number, view = await known_caller(w.server.crm)
    await w.server.sim.place_inbound_call(caller=number, caller_name="Test Caller", dtmf="10",
                                          patience_s=None)
    await desk.wait_for_function("() => window.__notes.length > 0 && window.__oscillators > 0",
                                 timeout=TIMEOUT_MS)
    notes = await desk.evaluate("() => window.__notes.map((n) => [n.title, n.tag])")
    shown = await desk.evaluate(f"() => (async () => (await import('/static/i18n.js'))"
                                f".fmtPhone({json.dumps(number)}))()")
    assert notes == [[f"Incoming call from {shown}", "cc-offer"]]
    # The notification's click brings the agent to the caller's record.
    await desk.evaluate("() => window.__notes[0].note.onclick()")
    assert await focused(desk) == "screen-pop"
    await expect(desk.locator("#pop-customer-name")).to_have_text(view.customer.name,
                                                                  timeout=TIMEOUT_MS)
    await expect(desk.locator("#call-status")).to_have_attribute("data-status", "talking",
                                                                 timeout=TIMEOUT_MS)
    await desk.evaluate("""() => { window.__hidden = false;
                                   document.dispatchEvent(new Event("visibilitychange")); }""")
    await desk.keyboard.press("Alt+H")
    await wrap_up(desk)
    # In a visible tab the offer is on screen: no notification.
    await w.server.sim.place_inbound_call(caller=number, caller_name="Test Caller", dtmf="10",
                                          patience_s=None)
    await expect(desk.locator("#call-status")).to_have_attribute("data-status", "talking",
                                                                 timeout=TIMEOUT_MS)
    assert await desk.evaluate("() => window.__notes.length") == 1
    await desk.keyboard.press("Alt+H")
    await wrap_up(desk)
    assert desk.errors == []  # type: ignore[attr-defined]
    await desk.context.close()


# ------------------------------------------------------------------ the user's time zone

ZONE_PROBE = """() => import("/static/i18n.js").then((m) => {
  m.setUserLocale({ timezone: "America/New_York", country: "US" });
  const out = {
    // 2026-03-08: New York's clocks go from 02:00 to 03:00 (EST -5 -> EDT -4).
    before: m.fromLocalInput("2026-03-08T01:30"), after: m.fromLocalInput("2026-03-08T03:30"),
    back: m.toLocalInput(m.fromLocalInput("2026-11-01T12:00")),
    bad: Number.isNaN(m.fromLocalInput("soon")),
  };
  m.setUserLocale({ timezone: "Asia/Shanghai", country: "US" });
  return out;
})"""


async def test_a_callback_time_typed_on_the_desktop_is_in_the_users_zone(world: World) -> None:
    """The page shows times in [pages].timezone; a time typed into it is read in that zone
    too (the browser's own zone, New York here, would put the callback 13 hours off)."""
    w = world
    desk = await open_desktop(w.browser, w.server.base, "agent1", ready=True,
                              timezone_id=BROWSER_ZONE)
    assert await desk.evaluate(ZONE_PROBE) == {
        "before": datetime(2026, 3, 8, 6, 30, tzinfo=UTC).timestamp(),
        "after": datetime(2026, 3, 8, 7, 30, tzinfo=UTC).timestamp(),
        "back": "2026-11-01T12:00", "bad": True}
    number, view = await known_caller(w.server.crm)
    await w.server.sim.place_inbound_call(caller=number, caller_name="Test Caller", dtmf="10",
                                          patience_s=None)
    await expect(desk.locator("#pop-customer-name")).to_have_text(view.customer.name,
                                                                  timeout=TIMEOUT_MS)
    await desk.click("#qa-callback")
    # Its default, an hour from now, is written in the user's zone.
    default = datetime.fromisoformat(await desk.input_value("#qa-cb-due")).replace(
        tzinfo=ZoneInfo(USER_ZONE))
    assert abs(default.timestamp() - (time.time() + 3600)) < 120
    await desk.fill("#qa-cb-due", "2026-12-01T10:00")
    await desk.fill("#qa-cb-notes", "时区测试 / zone test")
    await desk.click("#qa-callback-form button[type=submit]")
    await expect(desk.locator("#qa-callback-form")).to_have_count(0, timeout=TIMEOUT_MS)
    made = await w.server.crm.callbacks.search(customer_id=view.customer.id, limit=50)
    (row,) = [cb for cb in made.items if cb.notes == "时区测试 / zone test"]
    assert row.due_at == datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo(USER_ZONE)).timestamp()
    await expect(desk.locator("#call-status")).to_have_attribute("data-status", "talking",
                                                                 timeout=TIMEOUT_MS)
    await desk.keyboard.press("Alt+H")
    await wrap_up(desk)
    assert desk.errors == []  # type: ignore[attr-defined]
    await desk.context.close()
