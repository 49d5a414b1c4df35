"""What an agent does during a call, in Debian's chromium (playwright) against the running demo
server and its PBX simulator: a blind transfer to another agent (two desktops), click-to-dial
from a number in the screen-pop, hold and resume, and the main controls by keyboard alone.

Each step is checked where it lands, not only on the page: the AMI actions as the simulator
carried them out (its Originate count, MusicOnHoldStart/Stop on the customer's channel), the
call tracker's view of the call (owner, origin, hold), the bus messages, and the CRM rows.

One server for the module (two agents: agent2 stays paused, so the ACD routes every test call to
agent1; a transfer rings agent2's phone directly).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from common.messages import CallHeld, CallUnheld
from cti.simulator.config import PhoneBehaviour
from cti.simulator.wire import Header
from tests.agent_desktop.demo_pages import (
    TIMEOUT_MS,
    DemoServer,
    demo_settings,
    eventually,
    focused,
    free_port,
    known_caller,
    make_available,
    next_message,
    open_desktop,
    people_answer_and_stay,
    rest,
    tab_to,
    wrap_up,
)
from tests.browser import artifact, chromium

pytestmark = pytest.mark.asyncio(loop_scope="module")


class World:
    def __init__(self, server: DemoServer, browser: Browser) -> None:
        self.server = server
        self.browser = browser
        self.ami_events: list[dict[str, str]] = []  # what the simulator emitted, in order

    def on_sim_event(self, headers: list[Header]) -> None:
        self.ami_events.append(dict(headers))

    def moh(self, event: str, channels: set[str]) -> list[dict[str, str]]:
        return [e for e in self.ami_events
                if e.get("Event") == event and e.get("Channel") in channels]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    data: Path = tmp_path_factory.mktemp("desk")
    server = DemoServer(demo_settings(data, free_port(), agents=2), phones=("1001", "1002"))
    await server.start()
    try:
        await rest(server, "POST", "/api/acd/me/pause", "agent2", {"reason": "break"})
        # Every outside number the trunk dials is a person who answers and stays on the line.
        people_answer_and_stay(server)
        async with chromium() as browser:
            w = World(server, browser)
            server.sim.add_listener(w.on_sim_event)
            yield w
    finally:
        await server.shutdown()


async def take_inbound_call(w: World, page: Page) -> tuple[str, Any, str]:
    """A known customer calls; agent1's desk phone answers. (number, customer view, call id)"""
    number, view = await known_caller(w.server.crm)
    await w.server.sim.place_inbound_call(caller=number, caller_name="Test Caller", dtmf="10",
                                          patience_s=None)
    await expect(page.locator("#pop-customer-name")).to_have_text(view.customer.name,
                                                                  timeout=TIMEOUT_MS)
    await expect(page.locator("#call-status")).to_have_attribute("data-status", "talking",
                                                                 timeout=TIMEOUT_MS)
    call_id = await page.evaluate("window.desktop.state.call.call_id")
    return number, view, call_id


async def until_true(pred: Any, within: float = TIMEOUT_MS / 1000) -> None:
    async with asyncio.timeout(within):
        while not pred():
            await asyncio.sleep(0.02)


async def test_click_to_dial_from_the_screen_pop_then_hold_and_resume(world: World) -> None:
    w, tracker = world, world.server.handles["tracker"]
    desk = await open_desktop(w.browser, w.server.base, "agent1")
    await make_available(desk)
    _number, view, inbound = await take_inbound_call(w, desk)
    # An ACD-routed caller is held by the ACD's own FastAGI session (acd/hold.py): the same
    # button, the same held state from the caller's MusicOnHoldStart.
    acd_hold = desk.locator("#btn-hold")
    await expect(acd_hold).to_be_enabled()
    await acd_hold.click()
    await expect(desk.locator("#call-status")).to_have_attribute("data-status", "held",
                                                                 timeout=TIMEOUT_MS)
    await expect(acd_hold).to_have_attribute("aria-pressed", "true")
    await until_true(lambda: any(leg.on_hold for leg in tracker.get(inbound).legs
                                 if leg.ended_at is None))
    await acd_hold.click()  # resume
    await expect(desk.locator("#call-status")).to_have_attribute("data-status", "talking",
                                                                 timeout=TIMEOUT_MS)
    await until_true(lambda: not any(leg.on_hold for leg in tracker.get(inbound).legs
                                     if leg.ended_at is None))
    await desk.click("#btn-hangup")
    await wrap_up(desk)
    await expect(desk.locator("#call-none")).to_be_visible(timeout=TIMEOUT_MS)

    # Call the customer back from a number of theirs in the screen-pop. The call is followed
    # by the hub's pushes alone (pbx.call.dialling, answered, ended): the page never asks
    # the server about it.
    reads: list[str] = []
    desk.on("request", lambda r: reads.append(r.url.split("/api/calls", 1)[1])
            if r.method == "GET" and "/api/calls" in r.url else None)
    phone = view.phones[0].e164
    originates = w.server.sim.tally().originates
    await desk.locator(f'#pop-phones button.dial[data-number="{phone}"]').click()
    status = desk.locator("#call-status")
    await expect(status).to_have_attribute("data-status", "dialing", timeout=TIMEOUT_MS)
    call_id = await desk.evaluate("window.desktop.state.call.call_id")
    assert call_id != inbound
    await expect(status).to_have_attribute("data-status", "talking", timeout=TIMEOUT_MS)
    recent = await desk.evaluate("window.desktop.state.recent")
    mine = [topic for topic, _seq, cid in recent if cid == call_id]
    assert mine[:2] == ["pbx.call.dialling", "pbx.call.answered"], mine
    assert reads == [], reads  # no polling
    await expect(desk.locator("#call-number")).to_contain_text(phone[-4:])
    await expect(desk.locator("#pop-customer-name")).to_have_text(view.customer.name)
    assert w.server.sim.tally().originates == originates + 1
    call = tracker.get(call_id)
    assert (call.origin, call.dialled, call.agent.user) == ("click_to_dial", phone, "agent1")

    # Hold: the simulator moves the customer to music on hold; the tracker and the page agree.
    held = w.server.subscribe(CallHeld.TOPIC)
    unheld = w.server.subscribe(CallUnheld.TOPIC)
    hold = desk.locator("#btn-hold")
    await expect(hold).to_be_enabled()
    await hold.click()
    await expect(status).to_have_attribute("data-status", "held", timeout=TIMEOUT_MS)
    await expect(desk.locator("#call-hold-timer")).to_contain_text("on hold")
    await expect(hold).to_have_attribute("aria-pressed", "true")
    msg = await next_message(held, lambda m: m.call_id == call_id)
    call = tracker.get(call_id)
    customer = {leg.channel for leg in call.legs if leg.channel != call.agent.channel}
    assert w.moh("MusicOnHoldStart", customer), "the simulator never put the customer on hold"
    assert any(leg.on_hold for leg in msg.call.legs)
    await desk.screenshot(path=str(artifact("desktop-call-held.png")), full_page=True)
    # Reloaded mid-call: the hub's snapshot knows only the ACD's calls; the page finds this one
    # among the agent's live calls and shows it as it is (held).
    await desk.reload()
    await expect(status).to_have_attribute("data-status", "held", timeout=TIMEOUT_MS)
    assert await desk.evaluate("window.desktop.state.call.call_id") == call_id
    await expect(hold).to_have_attribute("aria-pressed", "true")
    assert reads == ["/mine"], reads  # one read to recover it, then pushes again

    await hold.click()  # resume
    await expect(status).to_have_attribute("data-status", "talking", timeout=TIMEOUT_MS)
    await expect(desk.locator("#call-hold-timer")).to_contain_text("held")
    await next_message(unheld, lambda m: m.call_id == call_id)
    assert w.moh("MusicOnHoldStop", customer)
    assert not any(leg.on_hold for leg in tracker.get(call_id).legs if leg.ended_at is None)
    held.close()
    unheld.close()

    # Hung up from the page: wrapped up like any call, on the click-to-dial's own interaction.
    await desk.click("#btn-hangup")
    code = await wrap_up(desk)
    assert reads == ["/mine"], reads
    rows = await w.server.crm.interactions.search(call_id=call_id, limit=5)
    assert [(r.direction, r.phone, r.disposition) for r in rows.items] == [
        ("outbound", phone, code)]
    assert desk.errors == []  # type: ignore[attr-defined]
    await desk.context.close()


async def test_the_main_controls_work_from_the_keyboard_alone(world: World) -> None:
    w = world
    desk = await open_desktop(w.browser, w.server.base, "agent1")
    state = desk.locator("#agent-state")
    await make_available(desk)
    await desk.keyboard.press("Alt+P")  # pause, with the reason picked in the menu
    reason = await desk.input_value("#pause-reason")
    await expect(state).to_have_attribute("data-state", "paused", timeout=TIMEOUT_MS)
    await expect(state).to_contain_text(reason)
    assert w.server.handles["engine"].agent("agent1").state == "paused"
    # The state controls are reachable with Tab (and work with Enter).
    assert await tab_to(desk, {"btn-ready", "pause-reason", "btn-acd-logout"}) == set()
    await desk.focus("#btn-ready")
    await desk.keyboard.press("Enter")
    await expect(state).to_have_attribute("data-state", "available", timeout=TIMEOUT_MS)
    await desk.keyboard.press("Alt+P")
    await expect(state).to_have_attribute("data-state", "paused", timeout=TIMEOUT_MS)
    await desk.keyboard.press("Alt+R")
    await expect(state).to_have_attribute("data-state", "available", timeout=TIMEOUT_MS)

    # A call rings: Alt+A answers (on a desk phone the page says where to answer). The phone
    # rings longer than usual (4.5-13.5 simulated s of the Dial's 15; 0.45 s real at the least)
    # so that the key lands while it rings.
    w.server.sim.set_phone("1001", PhoneBehaviour(answer_delay_s=9.0, handle_time_s=30000.0))
    offered = await desk.evaluate("window.desktop.state.queues.get('support').offered_today")
    number, view = await known_caller(w.server.crm)
    ringing = asyncio.ensure_future(desk.wait_for_selector(
        '#call-status[data-status="ringing"]', timeout=TIMEOUT_MS))
    await w.server.sim.place_inbound_call(caller=number, caller_name="Test Caller", dtmf="10",
                                          patience_s=None)
    await ringing
    await desk.keyboard.press("Alt+A")
    w.server.sim.set_phone("1001", PhoneBehaviour(answer_delay_s=6.0, handle_time_s=30000.0))
    status = desk.locator("#call-status")
    await expect(desk.locator(".toast")).to_contain_text(["Answer on your desk phone"],
                                                         timeout=TIMEOUT_MS)
    await expect(status).to_have_attribute("data-status", "talking", timeout=TIMEOUT_MS)
    call_id = await desk.evaluate("window.desktop.state.call.call_id")
    # The queue's live figures follow (the hub's desktop.queue_stats value frames).
    # (A function, not an expression string: playwright evals a string, which the page's CSP
    # forbids as soon as the first check is false.)
    await desk.wait_for_function(
        "(before) => window.desktop.state.queues.get('support').offered_today > before",
        arg=offered, timeout=TIMEOUT_MS)
    # Every call control and the caller's numbers in the screen-pop are reachable with Tab.
    await desk.focus("#btn-ready")
    pop_numbers = await desk.locator("#pop-phones button.dial").count()
    assert pop_numbers >= 1
    assert await tab_to(desk, {"btn-hangup", "transfer-to", "btn-transfer", "call-notes",
                               "dial-number", "button.link.dial"}) == set()

    # Notes (Alt+N), typed while talking; Alt+H hangs up even from inside the notes.
    await desk.keyboard.press("Alt+N")
    assert await focused(desk) == "call-notes"
    await desk.keyboard.type("键盘备注 / typed, no mouse")
    await desk.keyboard.press("Alt+H")
    wrap = desk.locator("#wrap-panel")
    await expect(wrap).to_be_visible(timeout=TIMEOUT_MS)
    await expect(state).to_have_attribute("data-state", "wrap_up", timeout=TIMEOUT_MS)
    # Alt+W before a disposition is picked takes the focus to the disposition (it is required);
    # the arrow keys pick one, and Alt+W saves and ends the wrap-up.
    await desk.keyboard.press("Alt+W")
    assert await focused(desk) == "wrap-disposition"
    assert await desk.input_value("#wrap-notes") == "键盘备注 / typed, no mouse"
    await desk.keyboard.press("ArrowDown")
    code = await desk.input_value("#wrap-disposition")
    assert code
    await desk.keyboard.press("Alt+W")
    await expect(wrap).to_be_hidden(timeout=TIMEOUT_MS)
    await expect(state).to_have_attribute("data-state", "available", timeout=TIMEOUT_MS)
    rows = await w.server.crm.interactions.search(call_id=call_id, limit=5)
    assert [(r.disposition, r.notes) for r in rows.items] == [
        (code, "键盘备注 / typed, no mouse")]
    assert rows.items[0].customer_id == view.customer.id
    await desk.keyboard.press("Alt+P")
    await expect(state).to_have_attribute("data-state", "paused", timeout=TIMEOUT_MS)
    await desk.screenshot(path=str(artifact("desktop-keyboard-paused.png")), full_page=True)
    assert desk.errors == []  # type: ignore[attr-defined]
    await desk.context.close()


async def test_a_blind_transfer_moves_the_call_to_the_other_agents_desktop(world: World) -> None:
    w, tracker = world, world.server.handles["tracker"]
    # agent1 is shown to agent2 by display name (a CJK one here), not by login name.
    agent1 = await w.server.crm.users.by_username("agent1")
    await rest(w.server, "PATCH", f"/api/users/{agent1.id}", "admin", {"display_name": "王芳"})
    desk1 = await open_desktop(w.browser, w.server.base, "agent1")
    # agent2 is paused: the ACD routes nothing to them.
    desk2 = await open_desktop(w.browser, w.server.base, "agent2")
    await expect(desk2.locator("#agent-state")).to_have_attribute("data-state", "paused",
                                                                  timeout=TIMEOUT_MS)
    await make_available(desk1)
    answered_1002 = w.server.sim.tally().agent_answered.get("1002", 0)
    moves = w.server.subscribe("pbx.call.")
    number, view, call_id = await take_inbound_call(w, desk1)

    await desk1.fill("#transfer-to", "1002")  # agent2's extension
    await desk1.press("#transfer-to", "Enter")
    # agent1's desktop: the call is gone, with a note saying where; its wrap-up stays.
    note = desk1.locator("#call-note")
    await expect(note).to_contain_text("transferred to 1002", timeout=TIMEOUT_MS)
    await expect(desk1.locator("#call-none")).to_be_visible()
    await expect(desk1.locator("#wrap-panel")).to_be_visible(timeout=TIMEOUT_MS)

    # The PBX rang agent2's phone, which answered: the tracker gives the call to agent2.
    def agent2_talks(m: Any) -> bool:
        call = tracker.get(call_id)
        return (getattr(m, "call_id", "") == call_id and call.agent is not None
                and call.agent.user == "agent2"
                and any(leg.answered_at is not None for leg in call.legs
                        if leg.channel == call.agent.channel))

    await next_message(moves, agent2_talks)
    moves.close()
    assert tracker.get(call_id).transfers[-1].target == "1002"
    assert w.server.sim.tally().agent_answered.get("1002", 0) == answered_1002 + 1

    # agent2's desktop: the call, from agent1, with the caller's screen-pop.
    status2 = desk2.locator("#call-status")
    await expect(status2).to_have_attribute("data-status", "talking", timeout=TIMEOUT_MS)
    assert await desk2.evaluate("window.desktop.state.call.call_id") == call_id
    await expect(desk2.locator("#call-number")).to_contain_text(number[-4:])
    await expect(desk2.locator("#call-transferred-in")).to_have_text("Transferred to you by 王芳")
    await expect(desk2.locator("#pop-customer-name")).to_have_text(view.customer.name,
                                                                   timeout=TIMEOUT_MS)
    await desk2.screenshot(path=str(artifact("desktop-transferred-in.png")), full_page=True)
    await desk1.screenshot(path=str(artifact("desktop-transferred-away.png")), full_page=True)

    # agent1 wraps up their part; agent2 (no ACD session holds the line any more) may hold.
    code = await wrap_up(desk1)
    hold2 = desk2.locator("#btn-hold")
    await expect(hold2).to_be_enabled()
    await hold2.click()
    await expect(status2).to_have_attribute("data-status", "held", timeout=TIMEOUT_MS)
    assert any(leg.on_hold for leg in tracker.get(call_id).legs)
    await hold2.click()
    await expect(status2).to_have_attribute("data-status", "talking", timeout=TIMEOUT_MS)

    # agent2 hangs up: the end reaches their desktop, which wraps the call up too.
    await desk2.click("#btn-hangup")
    code2 = await wrap_up(desk2)
    rows = await w.server.crm.interactions.search(call_id=call_id, limit=5)
    assert [r.disposition for r in rows.items] == [code2]  # the call's last word is agent2's
    del code
    segments = await eventually(lambda: w.server.crm.call_segments(call_id),
                                lambda got: len(got) == 2)
    assert [(s.agent, s.transfer_target) for s in segments] == [("agent1", "1002"),
                                                                  ("agent2", None)]
    for page in (desk1, desk2):
        assert page.errors == []  # type: ignore[attr-defined]
        await page.context.close()
