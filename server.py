"""Assembles the server from its parts and runs it until SIGINT/SIGTERM.

Start-up order (shutdown is the reverse, through one AsyncExitStack):

    IVR menus (validated) -> data dir -> CRM (SQLite; demo data on first --demo) -> users -> bus
    -> routing engine + ACD service + IVR (SIGHUP reloads the menus)
    -> FastAGI server (Asterisk hands calls here: /ivr runs a menu, /queue queues directly)
    -> [demo: PBX simulator] -> AMI client (events -> call tracker -> bus, ACD)
    -> HTTP API -> [demo: agents log in, traffic starts] -> live summary in the log
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from acd.call_log import CallLog
from acd.continuity import AcdContinuity
from acd.dialer.demo import pause_demo_campaigns, start_demo_campaign
from acd.dialer.free_callbacks_service import FreeCallbacks
from acd.dialer.metrics import DialerCollector
from acd.dialer.routes import dialer_routes
from acd.dialer.service import DialerService
from acd.engine import AcdEngine
from acd.errors import StateConflict
from acd.history import HistoryDeriver
from acd.history_writer import HistoryWriter, queue_limits
from acd.routes import acd_routes
from acd.service import AcdService
from acd.stats import QueueReport
from agent_desktop.app import METRICS_KEY, create_app
from agent_desktop.audit_routes import audit_routes
from agent_desktop.callcenter_metrics import CallCenterCollector, routing_latency_histogram
from agent_desktop.hub.setup import build_hub, hub_routes, install_hub
from agent_desktop.passwords import hash_password
from agent_desktop.softphone_routes import softphone_routes
from common.bus import Bus
from common.clock import EpochMonotonicClock
from common.heap import HeapKeeper
from common.logging import configure_logging
from common.messages import CrmTicketEscalated
from config.settings import Settings
from crm_core.demo_data import demo_agents, ensure_demo_database, iter_demo_numbers
from crm_core.errors import CrmError, NotFound
from crm_core.service import Crm
from cti.ami import AmiClient, AmiState, connection_message
from cti.call_feed import CallFeed
from cti.calls import CallTracker
from cti.dialguard import DialAuditWriter, DialGuard
from cti.directory_sync import follow_users
from cti.events import CtiEvent
from cti.fastagi import FastAgiServer
from cti.ownership import DeviceDirectory
from cti.routes import cti_routes
from ivr.errors import MenuConfigError
from ivr.registry import MenuRegistry
from ivr.routes import ivr_routes
from ivr.service import IvrService
from reports.routes import report_routes

log = structlog.get_logger("server")

DEMO_PASSWORD = "demo"  # noqa: S105 (documented demo credential, --demo only)
DEMO_SUPERVISOR_EXTENSION = "1099"
DEMO_PIN = "1234"  # noqa: S105 (the demo customers' telephone PIN, --demo only)
# What demo callers press in config/ivr/main.toml ("." = nothing this time, "!" = hang up):
# English + agent, ticket status, Chinese, last order with the PIN, a timeout, a hang-up.
DEMO_DTMF_SCRIPTS = ("10", "10", "10", "1191", "20", "2191", "12" + DEMO_PIN + "9", "1.0", "1!")


def run(settings: Settings, *, demo: bool = False) -> int:
    configure_logging(settings.server.log_level, settings.server.log_format)
    try:
        asyncio.run(serve(settings, demo=demo))
    except KeyboardInterrupt:
        pass
    except StartupError as exc:
        log.error("startup_failed", error=str(exc))
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


class StartupError(Exception):
    pass


async def serve(settings: Settings, *, demo: bool = False,
                ready: asyncio.Event | None = None,
                stop: asyncio.Event | None = None,
                handles: dict[str, Any] | None = None) -> None:
    """Run until `stop` is set (or a signal arrives). `ready` and `handles` are for tests."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    handles = handles if handles is not None else {}

    async with contextlib.AsyncExitStack() as stack:
        try:
            menus = MenuRegistry(settings, demo=demo)
        except MenuConfigError as exc:
            raise StartupError(str(exc)) from exc
        db_path = _prepare_data_dir(settings)
        if demo:
            # Built once; a restart keeps what the demo users changed.
            stats = await asyncio.to_thread(
                ensure_demo_database, db_path, customers=settings.demo.customers,
                seed=settings.demo.seed, settings=settings.crm, progress=None)
            if stats is not None:
                log.info("demo_data_built", customers=stats.customers, orders=stats.orders,
                         seconds=round(stats.seconds, 1))
        try:
            crm = await Crm.open(db_path, settings.crm)
        except CrmError as exc:
            raise StartupError(f"{exc}. Fix: check the file (restore a backup) or point "
                               f"--data-dir elsewhere") from exc
        stack.push_async_callback(crm.close)
        await _ensure_users(crm, settings, demo)

        bus = Bus()
        # Epoch seconds that never step back: routing timers and the times on the bus.
        clock = EpochMonotonicClock()
        engine = AcdEngine(settings.acd)
        # Who is on each call: the agent logged in on a device, else the user whose extension
        # it is (kept current from the CRM).
        directory = DeviceDirectory(logins=engine.agent_on_device)
        tracker = CallTracker(user_for=directory.user_for)
        users_task = asyncio.create_task(follow_users(
            crm, directory, settings.dialing.agent_device_template, bus.subscribe("crm.user.")))
        stack.callback(users_task.cancel)

        fastagi = FastAgiServer(settings.fastagi)
        ami_settings = settings.ami
        sim = None
        if demo:
            from cti.simulator import PbxSimulator, PhoneBehaviour, SimulatorConfig

            # FastAGI first (port 0 in tests), so the simulator knows where to send callers.
            await _start_fastagi(fastagi, settings)
            stack.push_async_callback(fastagi.stop)
            agents = demo_agents(settings.demo.agents)
            sim = PbxSimulator(SimulatorConfig(
                ami_port=settings.demo.ami_port, ami_username=ami_settings.username,
                ami_secret=ami_settings.secret, agi_host=settings.fastagi.host,
                agi_port=fastagi.port,
                # The agents' phones, and the supervisor's (listen/whisper/barge, click-to-dial).
                agents=(*(a.extension for a in agents), DEMO_SUPERVISOR_EXTENSION),
                seed=settings.demo.seed, dialplan_events=False, inbound_dialplan="cti",
                phone=PhoneBehaviour(answer_delay_s=2.0,
                                     handle_time_s=settings.demo.mean_handle_s),
                time_scale=settings.demo.time_scale,
            ))
            await sim.start()
            stack.push_async_callback(sim.stop)
            ami_settings = ami_settings.model_copy(update={"host": "127.0.0.1",
                                                           "port": sim.ami_port})

        # AMI events -> the call tracker -> its updates to the bus, the ACD and the call log,
        # in that order, each at once; then the raw event to the sinks that need it.
        feed = CallFeed(tracker, clock)
        feed.update_sinks.append(bus.publish)

        def link_changed(ev: CtiEvent) -> None:
            link = connection_message(ev)
            if link is not None:
                bus.publish(link)
                log.info("ami_" + type(ev).__name__.removeprefix("Ami").lower())

        feed.event_sinks.append(link_changed)
        ami = AmiClient(ami_settings, on_event=feed.on_event, clock=clock)
        # Every dial, transfer and callback is decided and audited here (cti/dialguard.py).
        dial_audit = DialAuditWriter(crm)
        await dial_audit.start()
        stack.push_async_callback(dial_audit.stop)
        dial_guard = DialGuard(settings.dialing, crm, audit=dial_audit, clock=clock)
        acd = AcdService(engine, settings=settings, bus=bus, crm=crm, ami=ami, clock=clock,
                         dial_guard=dial_guard)
        dialer = DialerService(crm=crm, acd=acd, ami=ami, dialing=settings.dialing, clock=clock,
                               settings=settings.dialer, publish=bus.publish, guard=dial_guard)
        acd.claim_lost_listeners.append(dialer.on_claim_lost)  # its line's agent left

        acd.read_calls_from(feed)  # the tracker's updates and call ids (the Linkedid)
        dialer.before_originate = feed.expect_originate  # its calls are the dialer's
        call_log = CallLog(crm, engine.stats, clock=clock, wall=acd.wall, queue_of=acd.queue_of)
        # At once, after the ACD: transfers are counted while the ACD still knows the queue.
        feed.update_sinks.append(call_log.on_update)
        feed.event_sinks.append(dialer.on_cti_event)
        call_log_task = asyncio.create_task(call_log.run(bus.subscribe("pbx.call.")),
                                            name="call-log")
        stack.callback(call_log_task.cancel)
        AcdContinuity(acd, crm)  # records, logins and statistics across faults and restarts
        ivr = IvrService(menus, settings=settings, crm=crm, acd=acd, bus=bus)
        fastagi.route("ivr", ivr.handle)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            # SIGHUP: reload the menus (an invalid set is refused; the old one keeps running).
            loop.add_signal_handler(signal.SIGHUP, ivr.reload)
            stack.callback(loop.remove_signal_handler, signal.SIGHUP)
        fastagi.route("queue", acd.handle_queue)
        fastagi.route("dialer", dialer.handle_dialer)
        if not demo:
            await _start_fastagi(fastagi, settings)
            stack.push_async_callback(fastagi.stop)
        wall = acd.wall
        history = HistoryWriter(
            crm.history, HistoryDeriver(lambda t: t + (wall.now() - clock.now())),
            limits=queue_limits(settings.acd), settings=settings.reports, now=clock.now,
            bus=bus)
        acd.observe_commands = history.deriver.observe
        dialer.history = history.deriver.record  # dialer_attempt rows (crm_core/history.py)
        ivr.history = history.deriver  # IVR outcomes into the event log
        await history.start()
        stack.push_async_callback(history.stop)  # after acd.stop: its last events are flushed
        await acd.start()
        stack.push_async_callback(acd.stop)
        stack.push_async_callback(ivr.stop)  # runs first: menu callers go back to the dialplan
        await dialer.start()
        stack.push_async_callback(dialer.stop)  # before acd.stop: no new lines while draining
        # Due callbacks of no campaign, through the ACD (acd/dialer/free_callbacks.py).
        free_callbacks = FreeCallbacks(
            crm=crm, acd=acd, settings=settings, dnc=dialer.dnc, wall=acd.wall,
            busy_phones=dialer.phones_calling)
        dialer.other_phones = free_callbacks.book.phones  # and the reverse
        await free_callbacks.start()
        stack.push_async_callback(free_callbacks.stop)
        await ami.start()
        stack.push_async_callback(ami.close)
        # Runs first at shutdown, while AMI is up: ringing agent legs are hung up over AMI.
        stack.push_async_callback(acd.drain)

        routes = [*acd_routes(acd, crm), *ivr_routes(ivr), *report_routes(settings, crm),
                  *dialer_routes(dialer, crm, settings),
                  *cti_routes(settings, crm, ami, tracker, fastagi, clock, directory=directory,
                              publish=feed.publish, in_acd_session=acd.holds_channel,
                              guard=dial_guard, queue_of=acd.queue_of,
                              acd_hold=acd.hold_call, announce=bus.publish),
                  *audit_routes(crm), *softphone_routes(settings.softphone, crm),
                  *hub_routes(crm)]

        def ami_health() -> tuple[bool, str]:
            state = ami.state
            return state is AmiState.CONNECTED, state.value

        app = create_app(settings, crm, bus, extra_routes=routes,
                         health_checks={"ami": ami_health})
        # The desktops' websocket hub (/ws): a bus subscriber like any other.
        hub = build_hub(settings, crm, acd, campaigns=dialer.statuses)
        install_hub(app, hub, acd, crm)
        await hub.start(bus)
        stack.push_async_callback(hub.stop)
        registry = app[METRICS_KEY]
        acd.observe_routing = routing_latency_histogram(registry).observe
        registry.register(DialerCollector(dialer.statuses))
        registry.register(CallCenterCollector(
            acd.report, ami_counters=lambda: ami.counters,
            ami_connected=lambda: ami.state is AmiState.CONNECTED))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        # A floor of desktops reconnects at once after a restart: a deeper accept queue than
        # the default 128 spares them SYN retries (1 s, 3 s, 7 s...).
        site = web.TCPSite(runner, settings.server.host, settings.server.port, backlog=1024)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(f"cannot listen for HTTP on {settings.server.host}:"
                               f"{settings.server.port}: {exc.strerror}. Fix: stop what uses "
                               f"the port, or use --port") from exc
        http_port = _bound_port(runner)
        log.info("listening", http=f"http://{settings.server.host}:{http_port}",
                 fastagi=f"{settings.fastagi.host}:{fastagi.port}",
                 ami=f"{ami_settings.host}:{ami_settings.port}", demo=demo)

        if demo and sim is not None:
            if not settings.demo.campaign_leads:
                await pause_demo_campaigns(crm, dialer)  # (before its agents log in)
            await _start_demo(settings, sim, acd, crm, stack)
            if settings.demo.campaign_leads:
                await start_demo_campaign(crm, dialer, queue=settings.acd.queues[-1].name,
                                          now=acd.wall.now(), leads=settings.demo.campaign_leads)
        summary = asyncio.create_task(_summaries(acd, settings.server.summary_interval_s))
        stack.callback(summary.cancel)
        escalations = asyncio.create_task(_escalate_tickets(crm, bus))
        stack.callback(escalations.cancel)

        # Everything built so far lives as long as the process: moving it out of the garbage
        # collector's reach keeps full collections (tens of ms) out of routing decisions; so
        # do the periodic passes for what comes later (desktops' sockets): common/heap.py.
        heap = HeapKeeper(settings.server.gc_freeze_interval_s,
                          settings.server.gc_full_interval_s)
        heap.settle()
        heap_task = asyncio.create_task(heap.run(), name="heap")
        stack.callback(heap_task.cancel)
        handles.update(crm=crm, bus=bus, engine=engine, acd=acd, history=history, ivr=ivr,
                       ami=ami, fastagi=fastagi,
                       tracker=tracker, sim=sim, http_port=http_port, app=app,
                       call_log=call_log, directory=directory, dial_audit=dial_audit, hub=hub,
                       dialer=dialer, heap=heap)
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("shutting_down")
    log.info("stopped")


async def _start_fastagi(fastagi: FastAgiServer, settings: Settings) -> None:
    try:
        await fastagi.start()
    except OSError as exc:
        raise StartupError(
            f"cannot listen for FastAGI on {settings.fastagi.host}:{settings.fastagi.port}: "
            f"{exc.strerror}. Fix: stop what uses the port, or set [fastagi].port "
            f"(CTI_FASTAGI__PORT)") from exc


def _prepare_data_dir(settings: Settings) -> Path:
    """The database path; the directory is created. Fails early with a clear message."""
    data_dir = Path(settings.server.data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"cannot create data directory {data_dir}: {exc.strerror}") from exc
    return data_dir / settings.crm.database


def _bound_port(runner: web.AppRunner) -> int:
    for addr in runner.addresses:
        if isinstance(addr, tuple) and len(addr) >= 2:
            return int(addr[1])
    return 0


async def _ensure_users(crm: Crm, settings: Settings, demo: bool) -> None:
    """First-run users: the configured bootstrap admin; in the demo, agents and a supervisor."""
    async def ensure(username: str, password: str, role: str, **fields: Any) -> Any:
        try:
            return await crm.users.by_username(username)
        except NotFound:
            return await crm.users.create(username=username, password_hash=hash_password(password),
                                          role=role, **fields)

    auth = settings.auth
    if auth.bootstrap_admin_password:
        await ensure(auth.bootstrap_admin_user, auth.bootstrap_admin_password, "admin",
                     display_name="Administrator")
    if not demo:
        return
    await ensure("admin", DEMO_PASSWORD, "admin", display_name="Demo Admin")
    teams: dict[str, int] = {}
    for agent in demo_agents(settings.demo.agents):
        if agent.team not in teams:
            found = await crm.teams.search(name=agent.team, limit=1)
            if found.items:
                teams[agent.team] = found.items[0].id
            else:
                teams[agent.team] = (await crm.teams.create(name=agent.team)).id
        user = await ensure(agent.username, DEMO_PASSWORD, "agent",
                            display_name=agent.display_name, extension=agent.extension,
                            team_id=teams[agent.team])
        await crm.skills.set_skills(user.id, dict(agent.skills))
    first_team = next(iter(teams.values()), None)
    await ensure("supervisor", DEMO_PASSWORD, "supervisor", display_name="Demo Supervisor",
                 team_id=first_team, extension=DEMO_SUPERVISOR_EXTENSION)


async def _start_demo(settings: Settings, sim: Any, acd: AcdService, crm: Crm,
                      stack: contextlib.AsyncExitStack) -> None:
    from cti.simulator import PhoneBehaviour, TrafficConfig

    agents = demo_agents(settings.demo.agents)
    for agent in agents:
        with contextlib.suppress(StateConflict):  # restored from before a restart
            acd.agent_login(agent.username, agent.extension, skills=dict(agent.skills))
    # One agent's phone rings unanswered now and then, so ring-no-answer shows in the demo.
    if len(agents) > 2:
        sim.set_phone(agents[-1].extension, PhoneBehaviour(
            answers=False, handle_time_s=settings.demo.mean_handle_s))
    rng = random.Random(settings.demo.seed)
    known = list(iter_demo_numbers(min(settings.demo.customers, 2000)))
    callers = tuple(rng.sample(known, min(len(known), 400))) + tuple(
        f"+1202555{9000 + i:04d}" for i in range(20))  # a few callers the CRM does not know
    await _demo_self_service(crm, callers[:40])
    sim.start_traffic(TrafficConfig(
        rate_per_minute=settings.demo.calls_per_minute, callers=callers,
        dtmf_choices=DEMO_DTMF_SCRIPTS, mean_patience_s=settings.demo.mean_patience_s,
    ))
    stack.push_async_callback(sim.stop_traffic)
    # Simulated people: an agent paused for a missed call comes back after a short while.
    task = asyncio.create_task(_demo_agents_return(acd, settings.demo.agent_return_s))
    stack.callback(task.cancel)
    log.info("demo_started", agents=len(agents), calls_per_minute=settings.demo.calls_per_minute,
             login="agent1..agentN / supervisor / admin, password 'demo'")


async def _demo_self_service(crm: Crm, numbers: tuple[str, ...]) -> None:
    """Some demo callers get the demo PIN (order status by phone) and every fifth prefers
    Chinese, so the IVR's PIN and language paths show in the demo."""
    for i, number in enumerate(numbers):
        try:
            view = await crm.lookup_by_phone(number)
            if view is None:
                continue
            await crm.selfservice.set_pin(view.customer.id, DEMO_PIN)
            if i % 5 == 4:
                await crm.selfservice.set_language(view.customer.id, "zh")
        except CrmError:
            log.warning("demo_self_service_skipped", number=number)


async def _demo_agents_return(acd: AcdService, after_s: float) -> None:
    while True:
        await asyncio.sleep(min(2.0, max(after_s, 0.05)))
        now = acd.clock.now()
        for a in acd.engine.agents():
            if a.state == "paused" and a.pause_reason == "missed-call" \
                    and now - a.state_since >= after_s:
                with contextlib.suppress(Exception):
                    acd.agent_available(a.agent_id)


async def _escalate_tickets(crm: Crm, bus: Bus, every_s: float = 60.0) -> None:
    """Tickets past their SLA due time are escalated once a minute (and announced)."""
    while True:
        try:
            escalated = await crm.tickets.escalate_overdue()
            for ticket in escalated:
                bus.publish(CrmTicketEscalated(ticket.id, ticket.customer_id))
            if escalated:
                log.info("tickets_escalated", count=len(escalated),
                         ids=[t.id for t in escalated[:20]])
        except Exception:  # the next round retries; a CRM hiccup must not stop the server
            log.exception("ticket_escalation_failed")
        await asyncio.sleep(every_s)


def format_summary(r: QueueReport) -> str:
    w = r.window
    sl = f"{w.service_level:.0%}" if w.service_level is not None else "-"
    ab = f"{w.abandon_rate:.0%}" if w.abandon_rate is not None else "-"
    states = " ".join(f"{s.state}={s.count}" for s in r.agents if s.count)
    needed = r.agents_needed if r.agents_needed is not None else "-"
    return (f"queue={r.queue} waiting={r.waiting} longest={r.longest_wait_s:.0f}s "
            f"offered={w.entered} answered={w.answered} abandoned={w.abandoned} SL={sl} "
            f"abandon={ab} agents[{states or 'none'}] needed={needed}")


async def _summaries(acd: AcdService, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        started = time.perf_counter()
        for r in acd.report():
            log.info("queue_summary", line=format_summary(r))
        log.debug("summary_took_ms", ms=round((time.perf_counter() - started) * 1000, 2))
