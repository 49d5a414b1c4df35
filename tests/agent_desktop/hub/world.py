"""A real aiohttp server with the hub, a real CRM (SQLite in tmp_path) and the real auth service;
the ACD is a small stand-in whose agents and queues a test sets. Bus messages are published as
the ACD publishes them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from acd.agent_actions import AgentActions
from acd.engine import AcdEngine
from acd.model import AgentLogin, AgentSnapshot
from acd.stats import QueueReport
from agent_desktop.app import AUTH_KEY, create_app
from agent_desktop.hub.commands import Commands
from agent_desktop.hub.hub import CrmUserDirectory, Hub
from agent_desktop.hub.setup import hub_routes
from agent_desktop.hub.ws import install_hub
from common.bus import Bus
from common.clock import ManualClock
from config.crm import CrmSettings
from config.settings import Settings
from crm_core.service import Crm
from tests.agent_desktop.conftest import PASSWORD_HASH, SECRET

T0 = 1_790_000_000.0


class FakeService:
    """The part of acd.service.AcdService that AgentActions and the hub read, over a real
    routing engine (no AMI, no FastAGI)."""

    def __init__(self, settings: Settings, clock: ManualClock) -> None:
        self.settings = settings
        self.engine = AcdEngine(settings.acd)
        self.clock = clock
        self.wall = clock

    def _feed(self, method: Any, *args: Any) -> None:
        method(*args, self.clock.now())

    def agent_login(self, agent_id: str, extension: str) -> None:
        self._feed(self.engine.agent_login, AgentLogin(
            agent_id, f"PJSIP/{extension}", frozenset(q.name for q in self.settings.acd.queues)))

    def agent_available(self, agent_id: str) -> None:
        self._feed(self.engine.agent_available, agent_id)

    def agent_pause(self, agent_id: str, reason: str) -> None:
        self._feed(self.engine.agent_pause, agent_id, reason)

    def agent_end_wrapup(self, agent_id: str) -> None:
        self._feed(self.engine.agent_end_wrapup, agent_id)

    def request_logout(self, agent_id: str) -> bool:
        self._feed(self.engine.agent_logout, agent_id)
        return True

    def request_pause(self, agent_id: str, reason: str) -> bool:
        self._feed(self.engine.agent_pause, agent_id, reason)
        return True


class FakeAcdView:
    def __init__(self, service: FakeService) -> None:
        self.service = service
        self.reports: list[QueueReport] = []

    def agents(self) -> tuple[AgentSnapshot, ...]:
        return tuple(self.service.engine.agents())

    def agent(self, agent_id: str) -> AgentSnapshot | None:
        try:
            return self.service.engine.agent(agent_id)
        except Exception:
            return None

    def report(self) -> list[QueueReport]:
        return self.reports

    def wall_offset(self) -> float:
        return 0.0

    def waited_s(self, call_id: str) -> float | None:
        return 12.5


@dataclass
class World:
    crm: Crm
    bus: Bus
    hub: Hub
    clock: ManualClock
    server: TestServer
    service: FakeService
    acd: FakeAcdView
    users: dict[str, Any] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)
    app: web.Application | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/ws"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def token(self, username: str) -> str:
        assert self.app is not None
        pair = await self.app[AUTH_KEY].issue_for(self.users[username])
        return pair.access_token


def world_settings(**desktop: Any) -> Settings:
    base: dict[str, Any] = {"ws_auth_timeout_s": 5.0, "ws_send_queue": 16,
                            "ws_replay_events": 8, "ws_messages_per_s": 5.0, "ws_burst": 10,
                            "ws_max_message_bytes": 2048}
    base.update(desktop)
    return Settings.model_validate({"auth": {"jwt_secret": SECRET}, "desktop": base})


async def make_world(tmp_path: Path, settings: Settings | None = None
                     ) -> AsyncIterator[World]:
    settings = settings or world_settings()
    clock = ManualClock(T0)
    crm = await Crm.open(tmp_path / "crm.sqlite3", CrmSettings(), clock=clock)
    bus = Bus()
    service = FakeService(settings, clock)
    acd = FakeAcdView(service)
    hub = Hub(settings.desktop, acd=acd, crm=crm, users=CrmUserDirectory(crm), wall=clock,
              stats_interval_s=3600)
    app = create_app(settings, crm, bus, clock=clock, extra_routes=hub_routes(crm))
    install_hub(app, hub, Commands(AgentActions(service, crm)), poll_s=0.05)  # type: ignore[arg-type]
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    w = World(crm, bus, hub, clock, server, service, acd, app=app)
    for team in ("red", "blue"):
        w.teams[team] = (await crm.teams.create(name=team)).id
    people = [("ann", "agent", "red", "1001"), ("amy", "agent", "red", "1002"),
              ("bob", "agent", "blue", "1003"), ("sue", "supervisor", "red", "1090"),
              ("sam", "supervisor", "blue", "1091"), ("root", "admin", None, None)]
    for name, role, team, ext in people:
        w.users[name] = await crm.users.create(
            username=name, password_hash=PASSWORD_HASH, role=role, display_name=name.title(),
            team_id=w.teams[team] if team else None, extension=ext)
    for name in ("ann", "amy", "bob"):
        service.agent_login(name, w.users[name].extension)
    await hub.start(bus)
    try:
        yield w
    finally:
        await hub.stop()
        await server.close()
        await crm.close()



class Ws:
    """A websocket client that keeps every frame it received."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse
                 ) -> None:
        self.session = session
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    async def send(self, obj: Any) -> None:
        await self.ws.send_str(obj if isinstance(obj, str) else json.dumps(obj))

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"{msg.type.name} {self.ws.close_code} {msg.extra!r}")
        frame: dict[str, Any] = json.loads(msg.data)
        self.frames.append(frame)
        return frame

    async def until(self, pred: Any, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                f = await self.next(timeout)
                if pred(f):
                    return f

    async def closed(self, timeout: float = 5.0) -> tuple[int | None, str]:
        """Read until the server closes; (close code, reason)."""
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.ws.receive()
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self.frames.append(json.loads(msg.data))
                    continue
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                                aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    return self.ws.close_code, str(msg.extra or "")

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


async def connect(w: World, *, origin: str | None = None, cookies: dict[str, str] | None = None
                  ) -> Ws:
    session = aiohttp.ClientSession(cookies=cookies)
    headers = {"Origin": origin} if origin else {}
    ws = await session.ws_connect(w.url, headers=headers, autoclose=False)
    return Ws(session, ws)


async def login_ws(w: World, username: str, **auth: Any) -> Ws:
    c = await connect(w)
    await c.send({"op": "auth", "token": await w.token(username), **auth})
    return c


# ------------------------------------------------------------------ bus messages as the ACD sends


def offered(call: str, agent: str, number: str = "", customer_id: int | None = None,
            ivr: Any = None) -> Any:
    from common.messages import AcdCallOffered

    return AcdCallOffered(call_id=call, channel=f"PJSIP/trunk-{call}", agent_id=agent,
                          queue="support", number=number, tier="gold",
                          customer_id=customer_id, ivr=ivr)


def ended(call: str, agent: str = "ann") -> Any:
    from common.messages import AcdCallEnded

    return AcdCallEnded(call_id=call, channel=f"PJSIP/trunk-{call}", agent_id=agent)


def queued(call: str, number: str = "") -> Any:
    from common.messages import AcdCallQueued

    return AcdCallQueued(call_id=call, channel=f"PJSIP/trunk-{call}", queue="support",
                         tier="gold", number=number)


def agent_state(agent: str, old: str = "available", new: str = "reserved") -> Any:
    from acd.model import AgentState
    from common.messages import AcdAgentState

    return AcdAgentState(agent_id=agent, old=AgentState(old), new=AgentState(new), reason=None)
