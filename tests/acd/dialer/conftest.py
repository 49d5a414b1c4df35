"""What the dialer's tests share:

- `world`: the adapter alone, with a real CRM (SQLite in tmp_path), fake ACD/AMI/AGI and a
  wall clock at noon in New York;
- `sim_stack`: the whole outbound path against the PBX simulator, wired as server.py wires it
  (AMI -> CallFeed -> bus, ACD, call log, dialer; FastAGI `dialer`, and `ivr` on request): a
  factory, `await sim_stack(fate=..., ...)`, torn down after the test. Simulated seconds last
  10 ms (time_scale 0.01)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from acd.call_log import CallLog
from acd.claims import ClaimTerms, can_hold
from acd.dialer.service import DialerService
from acd.engine import AcdEngine
from acd.model import AgentState, DeviceState
from acd.scheduled import CallbackDone, CallbackRequest, CallbackSink
from acd.service import AcdService
from common.bus import Bus
from common.clock import ManualClock, MonotonicClock
from config.cti import DialingSettings
from config.dialer import DialerSettings
from config.settings import Settings
from crm_core.history import HistoryEvent
from crm_core.lead_import import LeadColumns
from crm_core.service import Crm
from cti.ami import AmiClient
from cti.call_feed import CallFeed
from cti.calls import CallTracker
from cti.events import CtiEvent
from cti.fastagi import FastAgiServer
from cti.simulator import OutboundProfile, PbxSimulator, PhoneBehaviour, SimulatorConfig
from ivr.registry import MenuRegistry
from ivr.service import IvrService
from tests.acd.test_service_e2e import SCALE, settings_for_test
from tests.agent_desktop.conftest import make_settings

NOON_NY = dt.datetime(2026, 7, 15, 16, 0, tzinfo=dt.UTC).timestamp()  # Wednesday 12:00 EDT


@dataclass
class Agent:
    agent_id: str
    state: AgentState = AgentState.AVAILABLE
    routable: bool = True
    queues: frozenset[str] = frozenset({"sales"})
    state_since: float = 0.0
    device_state: DeviceState = DeviceState.NOT_INUSE
    claimed_by: str | None = None  # held for a dialer line (acd/claims.py): not routable
    skills: dict[str, int] = field(default_factory=dict)


@dataclass
class FakeEngine:
    agents_: list[Agent]

    def agents(self) -> list[Agent]:
        return self.agents_

    def claim_terms(self, queue: str, now: float) -> ClaimTerms:
        return ClaimTerms(queue, frozenset(), 1)  # (any agent of the queue)


@dataclass
class FakeAcd:
    engine: FakeEngine
    clock: ManualClock = field(default_factory=lambda: ManualClock(100.0))
    outcome: str = "answered"
    calls: list[dict[str, Any]] = field(default_factory=list)

    # Queue -> (window service level, target): what report() and settings show the dialer.
    service_levels: dict[str, tuple[float | None, float]] = field(default_factory=dict)
    # Scheduled callbacks handed over (agent-owned campaign callbacks): request, on_done.
    scheduled: dict[str, tuple[CallbackRequest, CallbackSink]] = field(default_factory=dict)
    placing: set[str] = field(default_factory=set)  # being placed: no longer withdrawable
    # Agent claims as the engine makes them (the first free agent of the queue), in order.
    claims: list[tuple[str, str, str, float]] = field(default_factory=list)  # id, queue, pool,
    released: list[str] = field(default_factory=list)  # hold_s; and the claims released

    def claim_agent(self, claim_id: str, *, queue: str, pool: str, hold_s: float,
                    tier: str = "unknown") -> str | None:
        self.claims.append((claim_id, queue, pool, hold_s))
        for a in self.engine.agents_:
            if a.claimed_by == claim_id:
                return a.agent_id
        for a in self.engine.agents_:
            if a.state is AgentState.AVAILABLE and a.routable \
                    and can_hold(a, self.engine.claim_terms(queue, 0.0)):
                a.claimed_by, a.routable = claim_id, False
                return a.agent_id
        return None

    def release_claim(self, claim_id: str) -> None:
        self.released.append(claim_id)
        for a in self.engine.agents_:
            if a.claimed_by == claim_id:
                a.claimed_by, a.routable = None, True

    # Set by a test to keep an answered call talking: queue_call returns when the call ends.
    talking: asyncio.Event | None = None

    async def queue_call(self, session: Any, **kw: Any) -> str:
        on_answered = kw.pop("on_answered", None)
        self.calls.append(kw)
        if self.outcome == "answered" and on_answered is not None:
            on_answered()
            if self.talking is not None:
                await self.talking.wait()
        return self.outcome

    @property
    def settings(self) -> Any:
        return SimpleNamespace(acd=SimpleNamespace(queues=[
            SimpleNamespace(name=q, service_level_target=t)
            for q, (_, t) in self.service_levels.items()]))

    def report(self) -> list[Any]:
        return [SimpleNamespace(queue=q, overall=False,
                                window=SimpleNamespace(service_level=sl))
                for q, (sl, _) in self.service_levels.items()]

    def schedule_callback(self, request: CallbackRequest, on_done: CallbackSink) -> None:
        self.scheduled[request.call_id] = (request, on_done)

    def withdraw_callback(self, call_id: str, why: str) -> bool:
        if call_id in self.placing or call_id not in self.scheduled:
            return False
        _, on_done = self.scheduled.pop(call_id)
        on_done(CallbackDone(call_id, "withdrawn", None, why=why))
        return True

    def finish_callback(self, call_id: str, done: CallbackDone) -> None:
        _, on_done = self.scheduled.pop(call_id)
        on_done(done)


class RecordingAcd:
    """An ACD that only records the callbacks handed to it (it never places or withdraws)."""

    def __init__(self) -> None:
        self.requests: list[CallbackRequest] = []

    def schedule_callback(self, request: CallbackRequest, on_done: CallbackSink) -> None:
        self.requests.append(request)

    def withdraw_callback(self, call_id: str, why: str) -> bool:
        return False


class FakeAmi:
    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.fail: Exception | None = None

    async def send(self, action: Any) -> None:
        self.sent.append(action)
        if self.fail is not None:
            raise self.fail


class FakeSession:
    def __init__(self, uniqueid: str, amd: str) -> None:
        self.uniqueid = uniqueid
        self.args = {"campaign": "1", "lead": "1"}
        self.amd = amd
        self.played: list[str] = []
        self.hung_up = False

    async def get_variable(self, name: str) -> str | None:
        return self.amd if name == "AMDSTATUS" else None

    async def stream_file(self, name: str, escape_digits: str = "") -> None:
        self.played.append(name)

    async def hangup(self) -> None:
        self.hung_up = True


@dataclass
class World:
    crm: Crm
    dialer: DialerService
    acd: FakeAcd
    ami: FakeAmi
    campaign_id: int
    wall: ManualClock
    history: list[HistoryEvent]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    wall = ManualClock(NOON_NY)
    crm = await Crm.open(tmp_path / "crm.sqlite3", make_settings().crm, clock=wall)
    camp = await crm.campaigns.create(name="Renewals", queue="sales", dial_mode="progressive",
                                      caller_id="+12125550000", max_attempts=3)
    lst = await crm.lead_lists.create(campaign_id=camp.id, name="L")
    rows = "\n".join(f"+1212555{i:04d}" for i in range(101, 111))
    await crm.lead_import.import_csv(lst.id, "phone\n" + rows + "\n", LeadColumns(phone="phone"))
    acd = FakeAcd(FakeEngine([Agent("a1"), Agent("a2"), Agent("a3", AgentState.ON_CALL)]))
    ami = FakeAmi()
    rows_out: list[HistoryEvent] = []
    dialer = DialerService(crm=crm, acd=acd, ami=ami, dialing=DialingSettings(), wall=wall,
                           tick_s=3600, history=rows_out.append)
    try:
        yield World(crm, dialer, acd, ami, camp.id, wall, rows_out)
    finally:
        await dialer.stop()
        await crm.close()


async def settle(d: DialerService) -> None:
    for _ in range(5):
        await asyncio.sleep(0)
    if d._tasks:
        await asyncio.gather(*d._tasks)




# ------------------------------------------------------------------ the simulator stack


@dataclass
class SimStack:
    settings: Settings
    crm: Crm
    bus: Bus
    engine: AcdEngine
    acd: AcdService
    sim: PbxSimulator
    ami: AmiClient
    dialer: DialerService
    feed: CallFeed
    history: list[HistoryEvent]

    async def campaign(self, fate: dict[str, str], *, name: str = "E2E", queue: str = "sales",
                       **kw: Any) -> tuple[int, int]:
        """A campaign dialling `fate`'s numbers: (campaign id, lead list id)."""
        kw.setdefault("dial_mode", "progressive")
        kw.setdefault("caller_id", "+12125550000")
        camp = await self.crm.campaigns.create(name=name, queue=queue, **kw)
        lst = await self.crm.lead_lists.create(campaign_id=camp.id, name="L")
        if fate:
            await self.crm.lead_import.import_csv(lst.id, "phone\n" + "\n".join(fate) + "\n",
                                                  LeadColumns(phone="phone"))
        return camp.id, lst.id

    async def leads_booked(self, list_id: int, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until every lead of the list has a result and no line is open; by phone."""
        async with asyncio.timeout(timeout):
            while True:
                leads = (await self.crm.leads.search(list_id=list_id, limit=50)).items
                if all(ld.last_result is not None for ld in leads) and not self.dialer.lines:
                    return {ld.phone: ld for ld in leads}
                await asyncio.sleep(0.05)


StartStack = Callable[..., Awaitable[SimStack]]


@pytest.fixture
async def sim_stack(tmp_path: Path) -> AsyncIterator[StartStack]:
    """`await sim_stack(fate=..., seed=..., answer_delay_s=..., ...)`: the stack, started."""
    started: list[Callable[[], Awaitable[None]]] = []

    async def start(*, fate: dict[str, str], seed: int, answer_delay_s: float,
                    talk_time_s: float = 60.0, settings: Settings | None = None,
                    dialer_settings: DialerSettings | None = None, ivr: bool = False,
                    agents: tuple[str, ...] = ("1001", "1002"),
                    ami_reconnect_s: tuple[float, float] | None = None,
                    wrap_ami: Callable[[AmiClient], Any] | None = None,
                    taps: tuple[Callable[[CtiEvent], None], ...] = ()) -> SimStack:
        settings = settings or settings_for_test()
        crm = await Crm.open(tmp_path / "crm.sqlite3", settings.crm)
        bus = Bus()
        engine = AcdEngine(settings.acd)
        fastagi = FastAgiServer(settings.fastagi)
        await fastagi.start()
        sim = PbxSimulator(SimulatorConfig(
            agi_port=fastagi.port, time_scale=SCALE, agents=agents, seed=seed,
            phone=PhoneBehaviour(answer_delay_s=0.5, handle_time_s=5.0),
            dialplan_events=False, cdr_events=False, inbound_dialplan="cti",
            outbound=OutboundProfile(forced=fate, answer_delay_s=answer_delay_s,
                                     talk_time_s=talk_time_s)))
        await sim.start()
        # As server.py wires it: the tracker's updates to the bus, the ACD and the call log;
        # raw events to the ACD (device states) and the dialer.
        feed = CallFeed(CallTracker(), MonotonicClock())
        feed.update_sinks.append(bus.publish)
        ami_settings = settings.ami.model_copy(update={"port": sim.ami_port})
        if ami_reconnect_s is not None:
            ami_settings = ami_settings.model_copy(update={
                "reconnect_min_s": ami_reconnect_s[0], "reconnect_max_s": ami_reconnect_s[1]})
        ami = AmiClient(ami_settings, on_event=feed.on_event)
        acd = AcdService(engine, settings=settings, bus=bus, crm=crm, ami=ami, poll_ms=20,
                         tick_s=0.02)
        acd.read_calls_from(feed)
        call_log = CallLog(crm, engine.stats, clock=acd.clock, wall=acd.wall,
                           queue_of=acd.queue_of)
        feed.update_sinks.append(call_log.on_update)
        history: list[HistoryEvent] = []
        dialer = DialerService(crm=crm, acd=acd,
                               ami=wrap_ami(ami) if wrap_ami is not None else ami,
                               dialing=settings.dialing, settings=dialer_settings,
                               wall=ManualClock(NOON_NY), tick_s=0.05, history=history.append)
        dialer.before_originate = feed.expect_originate  # as server.py
        feed.event_sinks.append(dialer.on_cti_event)
        acd.claim_lost_listeners.append(dialer.on_claim_lost)
        feed.event_sinks.extend(taps)
        fastagi.route("dialer", dialer.handle_dialer)
        ivr_service = None
        if ivr:
            ivr_service = IvrService(MenuRegistry(settings), settings=settings, crm=crm, acd=acd,
                                     bus=bus)
            fastagi.route("ivr", ivr_service.handle)
        call_log_task = asyncio.create_task(call_log.run(bus.subscribe("pbx.call.")))

        async def stop() -> None:
            await dialer.stop()
            if ivr_service is not None:
                await ivr_service.stop()
            await sim.stop()
            await ami.close()
            await acd.stop()
            call_log_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await call_log_task
            await fastagi.stop()
            await crm.close()

        started.append(stop)
        await acd.start()
        await ami.start()
        await asyncio.wait_for(ami.wait_ready(), 5)
        await dialer.start()
        return SimStack(settings, crm, bus, engine, acd, sim, ami, dialer, feed, history)

    try:
        yield start
    finally:
        for stop in started:
            await stop()
