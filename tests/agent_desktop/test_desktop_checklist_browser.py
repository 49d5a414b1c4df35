"""Items of the desktop's checklist (issue 10) in Debian's chromium against the running demo
server, one server for the module (one agent, desk phone 1001; outside numbers answer and stay on
the line):

- a placed call the hub says nothing about is read once over REST after [pages]
  placed_call_check_s (here 1 s; a minute by default), and shown as that read found it;
- every control is reachable with Tab in each call state, shows a focus ring and has a name;
- an offer to a background tab raises a notification and rings.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Route, WebSocketRoute, expect

from cti.simulator.config import OutboundProfile
from tests.agent_desktop.demo_pages import (
    TIMEOUT_MS,
    WAIT_S,
    DemoServer,
    demo_settings,
    free_port,
    known_caller,
    open_desktop,
    wrap_up,
)
from tests.browser import artifact, chromium

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHECK_S = 1.0  # [pages].placed_call_check_s for this module


@dataclasses.dataclass
class World:
    server: DemoServer
    browser: Browser


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    data: Path = tmp_path_factory.mktemp("checklist")
    server = DemoServer(demo_settings(data, free_port(),
                                      pages={"placed_call_check_s": CHECK_S}))
    await server.start()
    try:
        server.sim.config = dataclasses.replace(server.sim.config, outbound=OutboundProfile(
            p_human=1.0, p_machine=0.0, p_busy=0.0, p_no_answer=0.0, answer_delay_s=2.0,
            talk_time_s=30000.0))
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
