"""End to end through real sockets: the simulator's callers press DTMF keys into the shipped
menu (config/ivr/main.toml) over FastAGI -> IvrService -> CRM / AcdService -> agent phones.

Simulator at time_scale 0.01: a 5 s menu timeout lasts 50 ms. The IVR's wall clock is manual,
so business hours are decided by the test, not by when it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from acd.engine import AcdEngine
from acd.service import AcdService
from common.bus import Bus, Subscription
from common.clock import ManualClock, MonotonicClock
from common.messages import AcdCallOffered, AcdCallQueued, IvrEnded
from config.acd import AcdSettings, EscalationStep, QueueSettings
from config.cti import FastAgiSettings
from config.menus import IvrSettings
from config.settings import Settings
from crm_core.selfservice import account_number
from crm_core.service import Crm
from cti.ami import AmiClient
from cti.call_feed import CallFeed
from cti.calls import CallTracker
from cti.fastagi import FastAgiServer
from cti.simulator import PbxSimulator, PhoneBehaviour, SimulatorConfig
from ivr.registry import MenuRegistry
from ivr.service import IvrService

SCALE = 0.01
NY = ZoneInfo("America/New_York")
OPEN = dt.datetime(2027, 3, 9, 14, 0, tzinfo=NY).timestamp()  # a Tuesday afternoon
CLOSED = dt.datetime(2027, 3, 9, 3, 0, tzinfo=NY).timestamp()  # 03:00: closed
SHIPPED = Path(__file__).resolve().parents[2] / "config" / "ivr" / "main.toml"


def settings_for_test(menus: list[str] | None = None) -> Settings:
    def queue(name: str) -> QueueSettings:
        return QueueSettings(name=name, skills=[name], wrapup_s=0.0, ring_timeout_s=15.0,
                             announce_every_s=0.0,
                             escalation=[EscalationStep(after_s=0, min_skill_level=1)])

    return Settings(acd=AcdSettings(queues=[queue("support"), queue("sales")]),
                    fastagi=FastAgiSettings(port=0), ivr=IvrSettings(menus=menus or []))


@dataclass
class Stack:
    crm: Crm
    bus: Bus
    engine: AcdEngine
    acd: AcdService
    ivr: IvrService
    sim: PbxSimulator
    wall: ManualClock
    commands: list[str]

    def login(self, *agents: tuple[str, str]) -> None:
        for agent, ext in agents:
            self.acd.agent_login(agent, ext, skills={"support": 3, "sales": 3})

    def played(self) -> list[str]:
        return [c for c in self.commands if c.startswith(("STREAM FILE", "SAY", "GET DATA"))]


@contextlib.asynccontextmanager
async def stack(tmp_path: Path, *, now: float = OPEN, menus: list[str] | None = None
                ) -> AsyncIterator[Stack]:
    settings = settings_for_test(menus)
    crm = await Crm.open(tmp_path / "crm.sqlite3", settings.crm)
    bus = Bus()
    engine = AcdEngine(settings.acd)
    fastagi = FastAgiServer(settings.fastagi)
    await fastagi.start()
    sim = PbxSimulator(SimulatorConfig(
        agi_port=fastagi.port, time_scale=SCALE, agents=("1001", "1002"), seed=5,
        phone=PhoneBehaviour(answer_delay_s=1.0, handle_time_s=5.0),
        dialplan_events=False, cdr_events=False, inbound_dialplan="cti"))
    await sim.start()
    commands: list[str] = []
    sim.add_listener(lambda headers: commands.extend(
        v for k, v in headers if k == "Command" and ("Event", "AGIExecStart") in headers))
    feed = CallFeed(CallTracker(), MonotonicClock())  # as server.py wires it
    ami = AmiClient(settings.ami.model_copy(update={"port": sim.ami_port}),
                    on_event=feed.on_event)
    acd = AcdService(engine, settings=settings, bus=bus, crm=crm, ami=ami, poll_ms=20,
                     tick_s=0.02)
    acd.read_calls_from(feed)
    wall = ManualClock(now)
    ivr = IvrService(MenuRegistry(settings), settings=settings, crm=crm, acd=acd, bus=bus,
                     wall=wall)
    fastagi.route("ivr", ivr.handle)
    await acd.start()
    await ami.start()
    await asyncio.wait_for(ami.wait_ready(), 5)
    try:
        yield Stack(crm, bus, engine, acd, ivr, sim, wall, commands)
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


async def next_message(sub: Subscription, timeout: float = 10.0) -> Any:
    env = await asyncio.wait_for(sub.get(), timeout)
    return env.message


async def customer(s: Stack, phone: str | None, *, tier: str = "bronze", ticket: bool = False,
                   pin: str = "", language: str = "") -> int:
    c = await s.crm.customers.create(kind="person", name="Test Caller", tier=tier)
    if phone:
        await s.crm.phones.create(customer_id=c.id, e164=phone)
    if ticket:
        await s.crm.tickets.create(customer_id=c.id, subject="Broken widget")
    if pin:
        await s.crm.selfservice.set_pin(c.id, pin)
    if language:
        await s.crm.selfservice.set_language(c.id, language)
    return int(c.id)


async def interaction_of(s: Stack, call_id: str) -> Any:
    async with asyncio.timeout(10):
        while (row := await s.crm.interactions.by_call_id(call_id)) is None:
            await asyncio.sleep(0.02)
    return row


async def test_known_caller_reaches_the_queue_with_priority_and_ivr_path(tmp_path: Path) -> None:
    async with stack(tmp_path) as s:
        cid = await customer(s, "+12025550301", tier="platinum")
        s.login(("alice", "1001"), ("bob", "1002"))  # two agents: the wait is short
        queued = s.bus.subscribe(AcdCallQueued.TOPIC)
        offered = s.bus.subscribe(AcdCallOffered.TOPIC)
        # "." = the caller lets the language menu time out once, then 1 (English), 0 (agent).
        h = await s.sim.place_inbound_call("+12025550301", dtmf=".10")
        msg = await next_message(queued)
        assert (msg.queue, msg.tier, msg.customer_id) == ("support", "platinum", cid)
        assert list(msg.ivr.path) == ["identify", "open_check", "language_known",
                                      "choose_language", "english", "main", "wait_check",
                                      "to_agent"]
        assert [list(d) for d in msg.ivr.digits] == [["choose_language", "1"], ["main", "0"]]
        # Asked twice: the "." let the first WAIT FOR DIGIT time out; the keys interrupt prompts.
        assert sum(c.startswith("STREAM FILE en/for-english-press-1") for c in s.commands) == 2
        assert sum(c.startswith("WAIT FOR DIGIT") for c in s.commands) == 1
        pop = await next_message(offered)  # the screen-pop carries the customer and the path
        assert pop.customer_id == cid and pop.ivr.menu == "main"
        await h.wait(within=20)
        assert sum(s.sim.tally().agent_answered.values()) == 1
        row = await interaction_of(s, h.uniqueid)
        assert row.customer_id == cid and row.answered_at is not None
        assert "path identify>open_check>" in row.notes and "digits choose_language=1 main=0" \
            in row.notes and "s in IVR; queued" in row.notes
        assert s.ivr.stats.outcomes["queued"] == 1


async def test_unknown_caller_is_identified_by_account_number(tmp_path: Path) -> None:
    async with stack(tmp_path) as s:
        cid = await customer(s, None, tier="gold")
        s.login(("alice", "1001"), ("bob", "1002"))
        queued = s.bus.subscribe(AcdCallQueued.TOPIC)
        acct = account_number(cid)
        h = await s.sim.place_inbound_call("+12025550302", dtmf="123#" + acct + "#10")
        msg = await next_message(queued)
        assert (msg.tier, msg.customer_id) == ("gold", cid)
        assert list(msg.ivr.path)[:5] == ["identify", "ask_account", "find_account",
                                          "open_check", "language_known"]
        # The first try (123) was refused before any lookup; both attempts are recorded.
        assert [list(d) for d in msg.ivr.digits][:2] == [["ask_account", "123"],
                                                         ["ask_account", acct]]
        assert "en/invalid-account-number" in " ".join(s.played())
        await h.wait(within=20)


async def test_shared_caller_id_asks_for_the_account_number(tmp_path: Path) -> None:
    async with stack(tmp_path) as s:
        first = await customer(s, "+12025550314", tier="platinum")
        second = await customer(s, "+12025550314", tier="silver")  # the same family line
        s.login(("alice", "1001"), ("bob", "1002"))
        queued = s.bus.subscribe(AcdCallQueued.TOPIC)
        h = await s.sim.place_inbound_call("+12025550314",
                                           dtmf=account_number(second) + "#10")
        msg = await next_message(queued)
        assert (msg.customer_id, msg.tier) == (second, "silver") and first != second
        assert list(msg.ivr.path)[:3] == ["identify", "ask_account", "find_account"]
        await h.wait(within=20)


async def test_self_service_ticket_status_never_reaches_an_agent(tmp_path: Path) -> None:
    async with stack(tmp_path) as s:
        cid = await customer(s, "+12025550303", ticket=True)
        ticket = (await s.crm.selfservice.facts(cid)).open_ticket_id
        s.login(("alice", "1001"), ("bob", "1002"))
        ended = s.bus.subscribe(IvrEnded.TOPIC)
        h = await s.sim.place_inbound_call("+12025550303", dtmf="119")  # English, ticket, bye
        msg = await next_message(ended)
        assert msg.outcome == "self_service" and msg.node == "goodbye"
        await h.wait(within=20)
        assert s.sim.tally().agent_answered == {} and s.engine.calls() == ()
        played = s.played()
        assert f"SAY DIGITS {ticket} \"\"" in played
        assert "STREAM FILE en/ticket-status-open \"\"" in played
        row = await interaction_of(s, h.uniqueid)
        assert row.disposition == "ivr: self-service" and row.customer_id == cid
        assert "ticket_status>anything_else>goodbye" in row.notes


async def test_order_status_with_pin_speaks_the_amount_and_masks_the_pin(tmp_path: Path
                                                                         ) -> None:
    async with stack(tmp_path) as s:
        cid = await customer(s, "+12025550304", pin="4321")
        p = await s.crm.products.create(sku="W1", name="Widget", department="tools",
                                        price_cents=12345)
        await s.crm.orders.create_with_lines(customer_id=cid, department="tools",
                                             lines=[(p.id, 1)], ordered_at=1_790_000_000.0)
        h = await s.sim.place_inbound_call("+12025550304", dtmf="12" + "4321#" + "9")
        await h.wait(within=20)
        played = s.played()
        assert "STREAM FILE en/order-status-paid \"\"" in played
        assert 'SAY NUMBER 123 ""' in played and 'SAY NUMBER 45 ""' in played
        assert 'SAY DATE 1790000000 ""' in played
        row = await interaction_of(s, h.uniqueid)
        assert "order_pin=****" in row.notes and "4321" not in row.notes
        assert row.disposition == "ivr: self-service"


async def test_callback_request_when_the_wait_is_long(tmp_path: Path) -> None:
    async with stack(tmp_path) as s:
        await customer(s, "+12025550305")
        ended = s.bus.subscribe(IvrEnded.TOPIC)
        # Nobody staffs the queue: the wait is long, so the callback is offered; 1 takes it.
        h = await s.sim.place_inbound_call("+12025550305", dtmf="101")
        msg = await next_message(ended)
        assert msg.outcome == "callback"
        await h.wait(within=20)
        [call] = s.engine.calls()
        assert (str(call.state), call.number, call.queue) == \
            ("callback_waiting", "+12025550305", "support")
        assert "STREAM FILE en/callback-confirmed \"\"" in s.played()
        row = await interaction_of(s, h.uniqueid)
        assert row.disposition == "callback requested"
        s.login(("alice", "1001"))  # an agent frees up: the ACD calls the customer back
        await wait_for(lambda: s.sim.tally().originates >= 1)


async def test_hang_up_mid_menu_ends_cleanly_and_is_recorded(tmp_path: Path) -> None:
    async with stack(tmp_path) as s:
        await customer(s, "+12025550306")
        ended = s.bus.subscribe(IvrEnded.TOPIC)
        h = await s.sim.place_inbound_call("+12025550306", dtmf="1!")  # English, then gone
        msg = await next_message(ended)
        assert (msg.outcome, msg.node) == ("abandoned", "main")
        await h.wait(within=20)
        row = await interaction_of(s, h.uniqueid)
        assert row.disposition == "ivr: abandoned" and "hung up at main" in row.notes
        assert s.engine.calls() == () and s.ivr.stats.outcomes["abandoned"] == 1
        assert s.ivr.stats.fallbacks == 0


async def test_after_hours_caller_leaves_a_message_that_becomes_a_task(tmp_path: Path) -> None:
    # The shipped menu as it is: its office hours and holidays (--demo opens it around the
    # clock; this stack loads it as a real server would).
    async with stack(tmp_path, now=OPEN) as s:
        office = s.ivr.registry.menus["main"].hours["office"]
        assert office.is_open(OPEN) and not office.is_open(CLOSED)
        christmas = dt.datetime(2027, 12, 24, 14, 0, tzinfo=NY).timestamp()  # a Friday
        assert not office.is_open(christmas)  # a holiday
        s.wall.t = CLOSED
        cid = await customer(s, "+12025550307")
        h = await s.sim.place_inbound_call("+12025550307", dtmf="1")
        await h.wait(within=20)
        played = s.played()
        assert any(c.startswith("STREAM FILE en/closed-message") for c in played)
        assert any(c.startswith("RECORD FILE cti-messages/") for c in s.commands)
        tasks = (await s.crm.callbacks.search(limit=10)).items
        assert len(tasks) == 1 and tasks[0].kind == "task" and tasks[0].customer_id == cid
        assert tasks[0].phone == "+12025550307" and "Voice message" in tasks[0].notes
        assert s.engine.calls() == () and s.sim.tally().agent_answered == {}
        row = await interaction_of(s, h.uniqueid)
        assert row.disposition == "ivr: message left"


async def test_chinese_and_english_paths(tmp_path: Path) -> None:
    async with stack(tmp_path) as s:
        await customer(s, "+12025550308")
        await customer(s, "+12025550309", language="zh")
        s.login(("alice", "1001"), ("bob", "1002"))
        h = await s.sim.place_inbound_call("+12025550308", dtmf="20")  # chooses Chinese
        await h.wait(within=20)
        zh_choice = list(s.commands)
        assert 'SET VARIABLE CHANNEL(language) "zh"' in zh_choice
        # "2" interrupts the first language prompt (escape digits 1 and 2).
        assert any(c.startswith("STREAM FILE en/for-english-press-1 \"12\"") for c in zh_choice)
        assert any(c.startswith("STREAM FILE zh/main-menu") for c in zh_choice)
        s.commands.clear()
        h = await s.sim.place_inbound_call("+12025550309", dtmf="0")  # CRM language zh
        await h.wait(within=20)
        assert 'SET VARIABLE CHANNEL(language) "zh"' in s.commands
        assert not any("for-chinese-press-2" in c for c in s.commands)  # not asked
        assert any(c.startswith("STREAM FILE zh/main-menu") for c in s.commands)
        s.commands.clear()
        h = await s.sim.place_inbound_call("+12025550308", dtmf="10")  # chooses English
        await h.wait(within=20)
        assert any(c.startswith("STREAM FILE en/main-menu") for c in s.commands)
        assert not any("zh/" in c for c in s.commands)


async def test_reload_during_a_call_keeps_its_version(tmp_path: Path) -> None:
    menu = tmp_path / "main.toml"
    v1 = ('[menu]\nname = "main"\nstart = "a"\n[nodes.a]\ntype = "menu"\nprompts = ["m"]\n'
          'options = { "1" = "q" }\ntimeout_s = 2\nretries = 10\n'
          '[nodes.q]\ntype = "route"\nqueue = "support"\n')
    menu.write_text(v1)
    async with stack(tmp_path, menus=[str(menu)]) as s:
        queued = s.bus.subscribe(AcdCallQueued.TOPIC)
        first = await s.sim.place_inbound_call("+12025550310", dtmf="")  # waits in the menu
        await wait_for(lambda: s.ivr.active == 1)
        menu.write_text(v1.replace('queue = "support"', 'queue = "sales"'))
        res = s.ivr.reload()
        assert res.ok and res.version == 2
        menu.write_text("broken = [")
        assert not s.ivr.reload().ok  # refused; version 2 keeps running
        s.sim.channels[first.channel].dtmf.append("1")
        msg = await next_message(queued)
        assert (msg.call_id, msg.queue, msg.ivr.version) == \
            (first.uniqueid, "support", 1)
        second = await s.sim.place_inbound_call("+12025550311", dtmf="1")
        msg = await next_message(queued)
        assert (msg.call_id, msg.queue, msg.ivr.version) == \
            (second.uniqueid, "sales", 2)
        for h in (first, second):
            s.sim.hangup_caller(h.channel)
            await h.wait(within=20)


async def test_no_such_menu_hands_the_call_back_to_the_dialplan(tmp_path: Path) -> None:
    async with stack(tmp_path) as s:
        s.ivr.registry.settings = s.ivr.registry.settings.model_copy(update={
            "ivr": IvrSettings(menu="missing")})
        h = await s.sim.place_inbound_call("+12025550312", dtmf="")
        await h.wait(within=30)
        assert s.ivr.stats.fallbacks == 1
        # The documented dialplan queued it with Queue(): the simulator's members answered.
        assert sum(s.sim.tally().agent_answered.values()) == 1


async def test_callers_in_a_menu_at_shutdown_go_back_to_the_dialplan(tmp_path: Path) -> None:
    menu = tmp_path / "main.toml"
    menu.write_text('[menu]\nname = "main"\nstart = "a"\n[nodes.a]\ntype = "menu"\n'
                    'prompts = ["m"]\noptions = { "1" = "q" }\ntimeout_s = 2\nretries = 10\n'
                    '[nodes.q]\ntype = "route"\nqueue = "support"\n')
    async with stack(tmp_path, menus=[str(menu)]) as s:
        h = await s.sim.place_inbound_call("+12025550313", dtmf="")
        await wait_for(lambda: s.ivr.active == 1)
        await s.ivr.stop(grace_s=5)
        assert s.ivr.active == 0 and s.ivr.stats.fallbacks == 1
        await h.wait(within=30)
        assert sum(s.sim.tally().agent_answered.values()) == 1  # Queue() in the dialplan
        row = await interaction_of(s, h.uniqueid)
        assert row.disposition == "ivr: handed back to the dialplan"


async def test_no_callback_to_a_caller_id_the_dial_policy_refuses(tmp_path: Path) -> None:
    # A spoofed one-ring-scam caller ID (+1 809, the Dominican Republic) asks for a callback:
    # the IVR cannot confirm one, so nothing is queued to dial it back.
    async with stack(tmp_path) as s:
        await customer(s, "+18095551234")
        ended = s.bus.subscribe(IvrEnded.TOPIC)
        h = await s.sim.place_inbound_call("+18095551234", dtmf="101")
        msg = await next_message(ended)
        assert msg.outcome != "callback"
        assert "STREAM FILE en/callback-confirmed \"\"" not in s.played()
        assert all(str(c.state) != "callback_waiting" for c in s.engine.calls())
        for channel in list(s.sim.channels):  # the caller waits for an agent; let it go
            s.sim.hangup_caller(channel)
        await h.wait(within=20)


async def test_a_callback_node_may_go_to_the_callers_last_agent_first(tmp_path: Path) -> None:
    # The shipped menu's callback node with agent = "last": the caller last talked with bob, so
    # the callback waits for bob ([acd].owner_grace_s) although alice is free first.
    menu = tmp_path / "main.toml"
    shipped = SHIPPED.read_text()
    node = '[nodes.callback]\ntype = "callback"\n'
    assert node in shipped
    menu.write_text(shipped.replace(node, node + 'agent = "last"\n'))
    async with stack(tmp_path, menus=[str(menu)]) as s:
        cid = await customer(s, "+12025550306")
        bob = await s.crm.users.create(username="bob", password_hash="x", role="agent")
        await s.crm.users.create(username="alice", password_hash="x", role="agent")
        await s.crm.log_call("earlier-call", customer_id=cid, agent_user_id=bob.id,
                             offered_at=OPEN - 86_400, ended_at=OPEN - 86_000)
        placed: list[str] = []
        s.acd.observe_commands = lambda name, args, now, cmds: placed.extend(
            c.agent_id for c in cmds if type(c).__name__ == "PlaceCallback")
        ended = s.bus.subscribe(IvrEnded.TOPIC)
        h = await s.sim.place_inbound_call("+12025550306", dtmf="101")  # nobody logged in
        assert (await next_message(ended)).outcome == "callback"
        await h.wait(within=20)
        [call] = s.engine.calls()
        assert (str(call.state), call.required_agent) == ("callback_waiting", "bob")
        s.login(("alice", "1001"))  # free, and the queue's pick for anyone's call: not this one
        assert s.engine.agent("alice").call_id is None
        assert s.engine.calls()[0].agent_id is None
        s.login(("bob", "1002"))
        await wait_for(lambda: s.sim.tally().originates >= 1)
        assert placed == ["bob"]
