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

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from common.messages import CallHeld, CallUnheld
from cti.simulator.config import OutboundProfile
from cti.simulator.wire import Header
from tests.agent_desktop.demo_pages import (
    TIMEOUT_MS,
    DemoServer,
    demo_settings,
    free_port,
    known_caller,
    next_message,
    rest,
    sign_in,
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
        server.sim.config = dataclasses.replace(server.sim.config, outbound=OutboundProfile(
            p_human=1.0, p_machine=0.0, p_busy=0.0, p_no_answer=0.0, answer_delay_s=2.0,
            talk_time_s=30000.0))
        async with chromium() as browser:
            w = World(server, browser)
            server.sim.add_listener(w.on_sim_event)
            yield w
    finally:
        await server.shutdown()


async def desktop(w: World, user: str) -> Page:
    context = await w.browser.new_context(viewport={"width": 1400, "height": 1100})
    page = await sign_in(context, w.server.base + "/desktop", user)
    await expect(page.locator("#conn")).to_have_attribute("data-status", "online",
                                                         timeout=TIMEOUT_MS)
    return page


async def make_available(w: World, page: Page) -> None:
    state = page.locator("#agent-state")
    await expect(state).not_to_have_attribute("data-state", "none", timeout=TIMEOUT_MS)
    if await state.get_attribute("data-state") != "available":
        await page.click("#btn-ready")
    await expect(state).to_have_attribute("data-state", "available", timeout=TIMEOUT_MS)


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


async def wrap_up(page: Page) -> str:
    """Picks the first disposition code and saves; returns the code."""
    wrap = page.locator("#wrap-panel")
    await expect(wrap).to_be_visible(timeout=TIMEOUT_MS)
    code = (await page.locator("#wrap-disposition option").all_inner_texts())[1]
    await page.select_option("#wrap-disposition", code)
    await page.click("#wrap-save")
    await expect(wrap).to_be_hidden(timeout=TIMEOUT_MS)
    return code


async def test_click_to_dial_from_the_screen_pop_then_hold_and_resume(world: World) -> None:
    w, tracker = world, world.server.handles["tracker"]
    desk = await desktop(w, "agent1")
    await make_available(w, desk)
    _number, view, inbound = await take_inbound_call(w, desk)
    # An ACD-routed caller's line belongs to the ACD's FastAGI session: the server refuses hold
    # (409), so the page offers no hold button that can only fail.
    await expect(desk.locator("#btn-hold")).to_be_disabled()
    await desk.click("#btn-hangup")
    await wrap_up(desk)
    await expect(desk.locator("#call-none")).to_be_visible(timeout=TIMEOUT_MS)

    # Call the customer back from a number of theirs in the screen-pop.
    phone = view.phones[0].e164
    originates = w.server.sim.tally().originates
    await desk.locator(f'#pop-phones button.dial[data-number="{phone}"]').click()
    status = desk.locator("#call-status")
    await expect(status).to_have_attribute("data-status", "dialing", timeout=TIMEOUT_MS)
    call_id = await desk.evaluate("window.desktop.state.call.call_id")
    assert call_id != inbound
    await expect(status).to_have_attribute("data-status", "talking", timeout=TIMEOUT_MS)
    await expect(desk.locator("#call-number")).to_contain_text(phone[-4:])
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
    rows = await w.server.crm.interactions.search(call_id=call_id, limit=5)
    assert [(r.direction, r.phone, r.disposition) for r in rows.items] == [
        ("outbound", phone, code)]
    assert desk.errors == []  # type: ignore[attr-defined]
    await desk.context.close()
