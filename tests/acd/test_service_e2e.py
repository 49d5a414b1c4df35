"""End to end through real sockets: PBX simulator (AMI + FastAGI client) -> FastAGI server ->
AcdService -> AcdEngine -> AGI EXEC Dial -> simulated agent phone; AMI events back; CRM rows.

The simulator runs at time_scale 0.01 (a simulated second lasts 10 ms), so ring timeouts and talk
times are short in real time while the numbers in the AGI/AMI traffic stay realistic.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from acd.engine import AcdEngine
from acd.service import AcdService
from common.bus import Bus
from common.clock import MonotonicClock
from common.messages import AcdCallOffered, AcdCallQueued, AcdCallRemoved
from config.acd import AcdSettings, EscalationStep, QueueSettings
from config.cti import FastAgiSettings
from config.menus import IvrSettings
from config.settings import Settings
from crm_core.service import Crm
from cti.ami import AmiClient
from cti.call_feed import CallFeed
from cti.calls import CallTracker
from cti.fastagi import FastAgiServer
from cti.simulator import OutboundProfile, PbxSimulator, PhoneBehaviour, SimulatorConfig
from ivr.registry import MenuRegistry
from ivr.service import IvrService

SCALE = 0.01
MENU = Path(__file__).resolve().parents[1] / "data" / "ivr" / "acd_flow.toml"


def settings_for_test() -> Settings:
    def queue(name: str) -> QueueSettings:
        return QueueSettings(name=name, skills=[name], wrapup_s=0.0, ring_timeout_s=15.0,
                             announce_every_s=0.0,
                             escalation=[EscalationStep(after_s=0, min_skill_level=1)])

    return Settings(
        acd=AcdSettings(queues=[queue("support"), queue("sales")]),
        fastagi=FastAgiSettings(port=0),
        ivr=IvrSettings(menus=[str(MENU)]),
    )


@dataclass
class Stack:
    settings: Settings
    crm: Crm
    bus: Bus
    engine: AcdEngine
    acd: AcdService
    sim: PbxSimulator
    ami: AmiClient

    def login(self, agent: str, ext: str, skills: dict[str, int] | None = None) -> None:
        self.acd.agent_login(agent, ext, skills=skills or {"support": 3, "sales": 3})


@contextlib.asynccontextmanager
async def running_stack(tmp_path: Path, *, agents: tuple[str, ...] = ("1001", "1002"),
                        phone: PhoneBehaviour | None = None,
                        settings: Settings | None = None,
                        outbound: OutboundProfile | None = None) -> AsyncIterator[Stack]:
    settings = settings or settings_for_test()
    crm = await Crm.open(tmp_path / "crm.sqlite3", settings.crm)
    bus = Bus()
    engine = AcdEngine(settings.acd)
    fastagi = FastAgiServer(settings.fastagi)
    await fastagi.start()
    sim = PbxSimulator(SimulatorConfig(
        agi_port=fastagi.port, time_scale=SCALE, agents=agents, seed=3,
        phone=phone or PhoneBehaviour(answer_delay_s=1.0, handle_time_s=5.0),
        dialplan_events=False, cdr_events=False, inbound_dialplan="cti",
        outbound=outbound or OutboundProfile(),
    ))
    await sim.start()
    feed = CallFeed(CallTracker(), MonotonicClock())  # as server.py wires it
    ami = AmiClient(settings.ami.model_copy(update={"port": sim.ami_port}),
                    on_event=feed.on_event)
    acd = AcdService(engine, settings=settings, bus=bus, crm=crm, ami=ami,
                     poll_ms=20, tick_s=0.02)
    acd.read_calls_from(feed)
    ivr = IvrService(MenuRegistry(settings), settings=settings, crm=crm, acd=acd, bus=bus)
    fastagi.route("ivr", ivr.handle)
    await acd.start()
    await ami.start()
    await asyncio.wait_for(ami.wait_ready(), 5)
    try:
        yield Stack(settings, crm, bus, engine, acd, sim, ami)
    finally:
        await sim.stop()
        await ami.close()
        await acd.stop()
        await fastagi.stop()
        await crm.close()


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def overall(stack: Stack, queue: str = "") -> Any:
    return next(r for r in stack.acd.report() if r.queue == queue)


async def test_calls_are_answered_by_agents_and_statistics_match(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as s:
        s.login("alice", "1001")
        s.login("bob", "1002")
        handles = [await s.sim.place_inbound_call(f"+1202555000{i}", dtmf="1") for i in range(4)]
        for h in handles:
            await h.wait(within=20)
        await wait_for(lambda: overall(s).window.answered == 4)

        truth = s.sim.tally()
        assert (truth.offered, truth.answered, truth.abandoned) == (4, 4, 0)
        support = overall(s, "support").window
        assert (support.entered, support.answered, support.abandoned) == (4, 4, 0)
        assert sum(truth.agent_answered.values()) == 4
        assert set(truth.agent_answered) <= {"1001", "1002"}
        # Nobody is left holding a call.
        await wait_for(lambda: all(a.call_id is None for a in s.engine.agents()))

        # Every call is in the CRM as an answered inbound interaction of queue support.
        await wait_for(lambda: s.acd._callers == {})
        page = await s.crm.interactions.search(limit=50)
        rows = [i for i in page.items if i.call_id in {h.uniqueid for h in handles}]
        assert len(rows) == 4
        assert {r.queue for r in rows} == {"support"}
        assert all(r.answered_at is not None and r.direction == "inbound" for r in rows)


async def test_menu_digit_chooses_the_queue(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as s:
        s.login("alice", "1001", {"sales": 2})
        h = await s.sim.place_inbound_call("+12025550100", dtmf="2")
        await h.wait(within=20)
        await wait_for(lambda: overall(s, "sales").window.answered == 1)
        assert overall(s, "support").window.entered == 0


async def test_caller_who_gives_up_is_counted_as_abandoned(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as s:
        # No agent logged in: the caller waits in the queue, then hangs up. (A patience timer
        # would run from the answer and could expire in the IVR on a loaded machine.)
        h = await s.sim.place_inbound_call("+12025550101", dtmf="1")
        await wait_for(lambda: len(s.engine.calls()) == 1)
        s.sim.hangup_caller(h.channel)
        await h.wait(within=20)
        await wait_for(lambda: overall(s).window.abandoned == 1)
        assert s.sim.tally().abandoned == 1
        assert overall(s).window.answered == 0
        assert s.engine.calls() == ()
        await wait_for(lambda: s.acd._callers == {})
        page = await s.crm.interactions.search(limit=10)
        row = next(i for i in page.items if i.call_id == h.uniqueid)
        assert row.answered_at is None
        assert row.disposition == "abandoned"


async def test_ring_no_answer_pauses_the_agent_and_reoffers_the_call(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as s:
        s.sim.set_phone("1001", PhoneBehaviour(answers=False))
        s.login("alice", "1001")  # logged in first: longest idle, offered first
        s.login("bob", "1002")
        h = await s.sim.place_inbound_call("+12025550102", dtmf="1")
        await h.wait(within=20)
        await wait_for(lambda: overall(s).window.answered == 1)
        alice = s.engine.agent("alice")
        assert (str(alice.state), alice.pause_reason) == ("paused", "missed-call")
        assert s.sim.tally().agent_ring_no_answer.get("1001", 0) >= 1
        assert s.sim.tally().agent_answered == {"1002": 1}


async def test_valuable_caller_is_served_before_an_earlier_ordinary_one(tmp_path: Path) -> None:
    async with running_stack(tmp_path, agents=("1001",)) as s:
        vip = await s.crm.customers.create(kind="person", name="Vera Important", tier="platinum")
        await s.crm.phones.create(customer_id=vip.id, e164="+12025550199")
        offers = s.bus.subscribe(AcdCallOffered.TOPIC)
        queued = s.bus.subscribe(AcdCallQueued.TOPIC)
        first = await s.sim.place_inbound_call("+12025550103", dtmf="1")   # unknown caller
        await wait_for(lambda: len(s.engine.calls()) == 1)
        second = await s.sim.place_inbound_call("+12025550199", dtmf="1")  # platinum customer
        await wait_for(lambda: len(s.engine.calls()) == 2)
        tiers = {e.message.call_id: e.message.tier
                 for e in [queued.get_nowait(), queued.get_nowait()]}
        assert tiers == {first.uniqueid: "unknown", second.uniqueid: "platinum"}

        s.login("alice", "1001")
        await wait_for(lambda: not offers.queue.empty())
        assert offers.get_nowait().message.call_id == second.uniqueid
        for h in (first, second):
            await h.wait(within=20)
        assert s.sim.tally().answered == 2


async def test_unregistered_phone_makes_the_agent_unroutable(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as s:
        s.login("alice", "1001")
        s.sim.register_phone("1001", registered=False)
        await wait_for(lambda: not s.engine.agent("alice").routable)
        h = await s.sim.place_inbound_call("+12025550104", dtmf="1", patience_s=2.0)
        await h.wait(within=20)
        assert s.sim.tally().agent_answered == {}
        s.sim.register_phone("1001", registered=True)
        await wait_for(lambda: s.engine.agent("alice").routable)


@pytest.mark.parametrize("digit", ["9", ""])
async def test_invalid_or_no_menu_choice_goes_to_the_first_queue(tmp_path: Path,
                                                                 digit: str) -> None:
    async with running_stack(tmp_path) as s:
        s.login("alice", "1001")
        h = await s.sim.place_inbound_call("+12025550105", dtmf=digit)
        await h.wait(within=30)
        await wait_for(lambda: overall(s, "support").window.answered == 1)


async def test_callback_keeps_the_place_and_calls_the_customer_back(tmp_path: Path) -> None:
    human = OutboundProfile(forced={"+12025550106": "human"})
    async with running_stack(tmp_path, outbound=human) as s:
        removed = s.bus.subscribe(AcdCallRemoved.TOPIC)
        # Menu digit 1 (support), then 1 again while waiting: "call me back".
        h = await s.sim.place_inbound_call("+12025550106", dtmf="11")
        await h.wait(within=20)  # the caller's line is closed once the callback is taken
        await wait_for(lambda: s.engine.calls() != () and
                       str(s.engine.calls()[0].state) == "callback_waiting")
        assert s.engine.calls()[0].number == "+12025550106"
        s.login("alice", "1001")  # an agent frees up: the engine dials the customer back
        await wait_for(lambda: s.sim.tally().originates >= 1)
        await wait_for(lambda: not removed.queue.empty(), timeout=20)
        env = removed.get_nowait().message
        assert env.call_id == h.uniqueid
        assert env.agent_id == "alice"
        assert env.reason == "completed"
        await wait_for(lambda: s.engine.agent("alice").call_id is None, timeout=20)
        assert overall(s).window.callbacks_requested == 1


async def test_waiting_caller_hears_position_and_may_take_a_callback(tmp_path: Path) -> None:
    base = settings_for_test()
    queues = [q.model_copy(update={"announce_every_s": 0.3}) for q in base.acd.queues]
    settings = base.model_copy(update={"acd": base.acd.model_copy(update={"queues": queues})})
    async with running_stack(tmp_path, settings=settings) as s:
        agi_commands: list[str] = []
        s.sim.add_listener(lambda headers: agi_commands.extend(
            v for k, v in headers if k == "Command" and ("Event", "AGIExecStart") in headers))
        h = await s.sim.place_inbound_call("+12025550107", dtmf="1")  # no agent logged in
        await wait_for(lambda: any("cti-press-1-for-callback" in c for c in agi_commands))
        assert any("queue-youarenext" in c for c in agi_commands)
        assert any(c.startswith("SET MUSIC") for c in agi_commands)
        s.sim.hangup_caller(h.channel)
        await h.wait(within=20)
        await wait_for(lambda: overall(s).window.abandoned == 1)


async def test_callers_waiting_at_shutdown_go_to_the_dialplan_queue(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as s:
        h = await s.sim.place_inbound_call("+12025550108", dtmf="1")  # nobody logged in
        await wait_for(lambda: len(s.engine.calls()) == 1)
        await s.acd.stop()
        # The documented dialplan sends the handed-back caller to Asterisk's Queue(): the
        # simulator's built-in queue rings its members instead of hanging the caller up.
        await wait_for(lambda: s.sim.tally().agent_answered != {}, timeout=20)
        await h.wait(within=20)
        assert s.sim.tally().abandoned == 0


async def test_callback_the_customer_does_not_answer_is_kept_as_a_crm_task(
        tmp_path: Path) -> None:
    nobody = OutboundProfile(forced={"+12025550109": "no_answer"})
    async with running_stack(tmp_path, outbound=nobody) as s:
        removed = s.bus.subscribe(AcdCallRemoved.TOPIC)
        h = await s.sim.place_inbound_call("+12025550109", dtmf="11")
        await h.wait(within=20)
        await wait_for(lambda: s.engine.calls() != ())
        s.login("alice", "1001")
        await wait_for(lambda: not removed.queue.empty(), timeout=30)
        assert removed.get_nowait().message.reason == "abandoned"
        async with asyncio.timeout(10):  # the task is written just after the removal
            while not (tasks := [c for c in (await s.crm.callbacks.search(limit=10)).items
                                 if c.phone == "+12025550109"]):
                await asyncio.sleep(0.02)
        assert len(tasks) == 1 and tasks[0].status == "pending"
        assert tasks[0].kind == "task"  # for a person: never placed again automatically
        assert "did not answer" in tasks[0].notes
        await wait_for(lambda: s.engine.agent("alice").call_id is None, timeout=20)
