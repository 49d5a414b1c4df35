"""The running demo server the desktop's browser tests drive: PBX simulator, ACD, hub and CRM in
the test's event loop, on a free port, with the random demo traffic stopped so that the only
calls are the test's own. Shared by the desktop's browser test modules (one server per module).
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, BrowserContext, Page, expect

from common.bus import Subscription
from config.settings import Settings
from cti.simulator import PhoneBehaviour
from cti.simulator.config import OutboundProfile
from server import serve

TIMEOUT_MS = 30_000  # a guard against hanging, not a speed assertion
WAIT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_settings(data_dir: Path, port: int, *, agents: int = 1,
                  sections: dict[str, dict[str, Any]] | None = None, **demo: Any) -> Settings:
    """`sections`: more config sections (e.g. {"pages": {...}}), merged over these."""
    base: dict[str, Any] = {
        "server": {"port": port, "host": "127.0.0.1", "data_dir": str(data_dir),
                   "summary_interval_s": 60},
        "fastagi": {"port": 0},
        "auth": {"jwt_secret": "test-secret-0123456789-0123456789"},
        "pages": {"language": "en", "country": "US"},
        # Conversations last until hung up; no random calls, no demo campaign.
        "demo": {"customers": 300, "agents": agents, "calls_per_minute": 0.0001,
                 "mean_handle_s": 30000.0, "time_scale": 0.1, "agent_return_s": 0.5,
                 "campaign_leads": 0, **demo},
    }
    for name, values in (sections or {}).items():
        base[name] = {**base.get(name, {}), **values}
    return Settings.model_validate(base)


class DemoServer:
    """The demo server in this event loop; its desk phones answer after a short ring and talk
    until someone hangs up."""

    def __init__(self, settings: Settings, phones: tuple[str, ...] = ("1001",)) -> None:
        self.settings = settings
        self.phones = phones
        self.handles: dict[str, Any] = {}
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.settings.server.port}"

    @property
    def sim(self) -> Any:
        return self.handles["sim"]

    @property
    def crm(self) -> Any:
        return self.handles["crm"]

    async def start(self) -> None:
        ready, self.stop, self.handles = asyncio.Event(), asyncio.Event(), {}
        self.task = asyncio.create_task(serve(self.settings, demo=True, ready=ready,
                                              stop=self.stop, handles=self.handles))
        await asyncio.wait_for(ready.wait(), 60)
        await self.sim.stop_traffic()
        for ext in self.phones:
            # Answers within the ring timeout (simulated seconds, like the Dial's 15 s) and
            # talks until someone hangs up (5 min real at the least).
            self.sim.set_phone(ext, PhoneBehaviour(answer_delay_s=6.0, handle_time_s=30000.0))

    async def shutdown(self) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 30)

    def subscribe(self, prefix: str) -> Subscription:
        sub: Subscription = self.handles["bus"].subscribe(prefix)
        return sub


def people_answer_and_stay(server: DemoServer) -> None:
    """Every outside number the simulator's trunk dials is a person (not a machine) who answers
    after 2 s and stays on the line until hung up."""
    server.sim.config = dataclasses.replace(server.sim.config, outbound=OutboundProfile(
        p_human=1.0, p_machine=0.0, p_busy=0.0, p_no_answer=0.0, answer_delay_s=2.0,
        talk_time_s=30000.0))


async def next_message(sub: Subscription, match: Callable[[Any], bool]) -> Any:
    """The next bus message on `sub` that `match`es (waits for it; fails after WAIT_S)."""
    async def wait() -> Any:
        while True:
            env = await sub.get()
            if match(env.message):
                return env.message
    return await asyncio.wait_for(wait(), WAIT_S)


async def eventually(read: Callable[[], Awaitable[Any]], done: Callable[[Any], bool]) -> Any:
    """`read()` again until `done` says its result is what the test waits for: for rows that a
    background writer puts in the database, where there is no message to wait on."""
    async def wait() -> Any:
        while True:
            got = await read()
            if done(got):
                return got
            await asyncio.sleep(0.05)
    return await asyncio.wait_for(wait(), WAIT_S)


async def rest(srv: DemoServer, method: str, path: str, user: str, body: Any = None) -> Any:
    async with aiohttp.ClientSession() as http:
        async with http.post(srv.base + "/api/auth/login",
                             json={"username": user, "password": "demo"}) as r:
            token = (await r.json())["access_token"]
        async with http.request(method, srv.base + path, json=body,
                                headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status < 300, (path, r.status, await r.text())
            return await r.json() if r.content_type == "application/json" else None


async def known_caller(crm: Any) -> tuple[str, Any]:
    """A demo customer with open tickets and purchases whose number is theirs alone."""
    tickets = await crm.tickets.search(status="open", limit=200)
    for customer_id in dict.fromkeys(t.customer_id for t in tickets.items):
        view = await crm.customer_view(customer_id)
        if not (view.purchases_by_department and view.phones):
            continue
        number = view.phones[0].e164
        found = await crm.lookup_phone(number)
        if found is not None and not found.ambiguous:
            return number, view
    raise AssertionError("the demo data has no customer with tickets, orders and a phone")


async def sign_in(context: BrowserContext, url: str, user: str) -> Page:
    """A page signed in as `user`; `page.errors` collects script errors and CSP violations."""
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text
            else None)
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto(url)
    await page.fill("#login-username", user)
    await page.fill("#login-password", "demo")
    await page.click("#login-form button[type=submit]")
    return page


async def open_desktop(browser: Browser, base: str, user: str, *, ready: bool = False,
                       prepare: Callable[[BrowserContext], Awaitable[None]] | None = None,
                       timezone_id: str | None = None) -> Page:
    """`user`'s agent desktop in a fresh browser context, signed in, its websocket online;
    `ready`: and the agent available in the ACD. `prepare` runs on the new context before the
    page opens (routes, permissions, init scripts); `timezone_id`: the browser's own zone."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1100},
                                        timezone_id=timezone_id)
    if prepare is not None:
        await prepare(context)
    page = await sign_in(context, base + "/desktop", user)
    await expect(page.locator("#conn")).to_have_attribute("data-status", "online",
                                                         timeout=TIMEOUT_MS)
    if ready:
        await make_available(page)
    return page


async def make_available(page: Page) -> None:
    """The desktop's agent is available (pressed "Ready" if the ACD had them otherwise)."""
    state = page.locator("#agent-state")
    await expect(state).not_to_have_attribute("data-state", "none", timeout=TIMEOUT_MS)
    if await state.get_attribute("data-state") != "available":
        await page.click("#btn-ready")
    await expect(state).to_have_attribute("data-state", "available", timeout=TIMEOUT_MS)


async def wrap_up(page: Page) -> str:
    """Picks the first disposition code and saves; returns the code."""
    wrap = page.locator("#wrap-panel")
    await expect(wrap).to_be_visible(timeout=TIMEOUT_MS)
    code = (await page.locator("#wrap-disposition option").all_inner_texts())[1]
    await page.select_option("#wrap-disposition", code)
    await page.click("#wrap-save")
    await expect(wrap).to_be_hidden(timeout=TIMEOUT_MS)
    return code


async def focused(page: Page) -> str:
    """The focused element's id, else its tag and classes ("button.link.dial")."""
    return str(await page.evaluate("""() => {
      const el = document.activeElement;
      if (!el) return "";
      return el.id || [el.tagName.toLowerCase(), ...el.classList].join(".");
    }"""))


async def tab_to(page: Page, wanted: set[str], limit: int = 120) -> set[str]:
    """Presses Tab until every id in `wanted` had the focus (or `limit` presses); returns the ids
    that never did."""
    missing = set(wanted)
    for _ in range(limit):
        await page.keyboard.press("Tab")
        missing.discard(await focused(page))
        if not missing:
            break
    return missing
