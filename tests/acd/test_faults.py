"""Server faults and restarts, through the PBX simulator running the reference dialplan.

The server runs in this process through `server.serve()`; setting its `stop` event is what its
SIGTERM handler does, so a stop here is the SIGTERM path. A restart is a second `serve()` on the
same database and FastAGI port. `kill -9` needs a real process: see test_kill9 at the end (it uses
the fault-drill harness of benchmarks/fault_drills.py).

In each: every caller reaches an agent or the fallback Queue(), and every call has exactly one
CRM record that says what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import structlog

from config.settings import Settings
from crm_core.acd_store import AcdStore, AgentSessionRow
from crm_core.service import Crm
from cti.simulator import PbxSimulator, PhoneBehaviour, SimulatorConfig
from server import serve

SCALE = 0.01
AGENTS = ("1001", "1002")
ACD = "queue?queue=support"  # straight to the ACD (an IVR elsewhere chose the queue)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(tmp: Path, ami_port: int, agi_port: int, ring_timeout_s: float) -> Settings:
    return Settings.model_validate({
        "server": {"port": 0, "data_dir": str(tmp), "summary_interval_s": 60.0},
        "ami": {"port": ami_port, "reconnect_min_s": 0.05, "reconnect_max_s": 0.2},
        "fastagi": {"port": agi_port},
        "auth": {"jwt_secret": "test-0123456789abcdef0123456789abcdef"},
        "acd": {"queues": [{"name": "support", "skills": ["support"], "wrapup_s": 0.0,
                            "ring_timeout_s": ring_timeout_s, "announce_every_s": 0.0,
                            "escalation": [{"after_s": 0, "min_skill_level": 0}]}]},
    })


async def seed(settings: Settings, logged_in: tuple[str, ...]) -> dict[str, int]:
    """Agents exist in the CRM; `logged_in` were in the ACD before the first start."""
    crm = await Crm.open(Path(settings.server.data_dir) / settings.crm.database, settings.crm)
    users = {}
    try:
        for i, ext in enumerate(AGENTS, 1):
            user = await crm.users.create(username=f"agent{i}", password_hash="x",
                                          role="agent", extension=ext)
            users[ext] = user.id
            if ext in logged_in:
                await AcdStore(crm.db).save_agent(AgentSessionRow(
                    f"agent{i}", f"PJSIP/{ext}", ("support",), {"support": 3}, None, time.time()))
    finally:
        await crm.close()
    return users


@contextlib.asynccontextmanager
async def server(settings: Settings) -> AsyncIterator[dict[str, Any]]:
    """A running server; leaving the block stops it as SIGTERM does and waits for the end."""
    ready, stop = asyncio.Event(), asyncio.Event()
    handles: dict[str, Any] = {}
    task = asyncio.create_task(serve(settings, ready=ready, stop=stop, handles=handles))
    done, _ = await asyncio.wait({task, asyncio.ensure_future(ready.wait())}, timeout=30,
                                 return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    await wait_for(lambda: handles["ami"].state.value == "connected")
    try:
        yield handles
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def wait_for(predicate: Any, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def record(settings: Settings, call_id: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(Path(settings.server.data_dir) / settings.crm.database)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(
            "SELECT * FROM interactions WHERE call_id = ?", (call_id,))]
    finally:
        conn.close()


def events_of(sim: PbxSimulator) -> list[dict[str, str]]:
    seen: list[dict[str, str]] = []
    sim.add_listener(lambda headers: seen.append(dict(headers)))
    return seen


async def test_sigterm_while_ringing_hangs_up_the_leg_and_queue_takes_the_caller(
        tmp_path: Path) -> None:
    """The agent's phone rings (it would ring for 600 simulated seconds): stopping hangs up the
    leg over AMI at once, the caller goes to Queue(), nothing is offered after stop began and
    the last line is "stopped". The restarted server follows the caller in Queue(), where the
    other agent answers: one record, answered by that agent, counted as the fallback's."""
    agi_port = free_port()
    sim = PbxSimulator(SimulatorConfig(
        agi_port=agi_port, time_scale=SCALE, agents=AGENTS, inbound_dialplan="cti", agi_script=ACD,
        dialplan_events=False, cdr_events=False, queues={"support": AGENTS},
        phone=PhoneBehaviour(answer_delay_s=1.0, handle_time_s=100.0)))
    await sim.start()
    sim.set_phone("1001", PhoneBehaviour(answers=False))
    seen = events_of(sim)
    settings = settings_for(tmp_path, sim.ami_port, agi_port, ring_timeout_s=600.0)
    users = await seed(settings, logged_in=("1001",))
    try:
        with structlog.testing.capture_logs() as logs:
            async with server(settings):
                call = await sim.place_inbound_call("+12025550142")
                await wait_for(lambda: any(e.get("Event") == "DialBegin"
                                           and e.get("DestChannel", "").startswith("PJSIP/1001")
                                           for e in seen))
        names = [e["event"] for e in logs]
        assert names[-1] == "stopped"
        assert "offer" not in names[names.index("acd_draining"):]
        assert any(e["event"] == "offer" and e["call_id"] == call.uniqueid
                   and e["agent_id"] == "agent1" for e in logs)
        # The ringing leg was hung up by the server (AMI Hangup), not by the ring timeout.
        leg = next(e["DestChannel"] for e in seen if e.get("Event") == "DialBegin")
        assert any(e.get("Event") == "SoftHangupRequest" and e.get("Channel") == leg
                   for e in seen)
        await wait_for(lambda: sim.truth[call.uniqueid].fell_back)
        [rec] = record(settings, call.uniqueid)
        assert rec["ended_at"] is None and "handed back" in rec["notes"]

        async with server(settings) as h:
            await wait_for(lambda: sim.truth[call.uniqueid].agent != "")
            assert sim.truth[call.uniqueid].via_queue
            sim.hangup_caller(call.channel)
            await wait_for(lambda: sim.truth[call.uniqueid].ended)
            await wait_for(lambda: record(settings, call.uniqueid)[0]["ended_at"] is not None)
            today = next(r for r in h["acd"].report() if r.queue == "support").today
            assert today.entered == 1  # restored from before the restart
            assert (today.answered, today.answered_by_fallback, today.abandoned) == (1, 1, 0)
        [rec] = record(settings, call.uniqueid)
        assert rec["answered_at"] is not None
        assert rec["agent_user_id"] == users[sim.truth[call.uniqueid].agent]
        assert rec["disposition"] is None
        assert not sim.truth[call.uniqueid].hung_up_unserved
    finally:
        await sim.stop()


async def test_sigterm_while_talking_then_restart_adopts_the_call(tmp_path: Path) -> None:
    """At stop the conversation's record is written (answered, agent, no end); the restarted
    server adopts the call from the AMI resync, keeps its agent out of routing while it lasts,
    and closes the same record when it ends. The agent's login survived the restart."""
    agi_port = free_port()
    sim = PbxSimulator(SimulatorConfig(
        agi_port=agi_port, time_scale=SCALE, agents=AGENTS, inbound_dialplan="cti", agi_script=ACD,
        dialplan_events=False, cdr_events=False, queues={"support": AGENTS},
        phone=PhoneBehaviour(answer_delay_s=0.5, handle_time_s=100_000.0)))
    await sim.start()
    settings = settings_for(tmp_path, sim.ami_port, agi_port, ring_timeout_s=15.0)
    users = await seed(settings, logged_in=("1001",))
    try:
        async with server(settings):
            call = await sim.place_inbound_call("+12025550143")
            await wait_for(lambda: sim.truth[call.uniqueid].agent == "1001")
            await wait_for(lambda: bool(record(settings, call.uniqueid))
                           and record(settings, call.uniqueid)[0]["answered_at"] is not None)
        [rec] = record(settings, call.uniqueid)
        assert rec["agent_user_id"] == users["1001"] and rec["ended_at"] is None
        assert not sim.truth[call.uniqueid].ended  # Asterisk kept the conversation

        with structlog.testing.capture_logs() as logs:
            async with server(settings) as h:
                await wait_for(lambda: h["acd"].engine.agent("agent1").state == "paused")
                assert call.uniqueid in h["acd"].continuity.follower
                sim.hangup_caller(call.channel)
                await wait_for(lambda: record(settings, call.uniqueid)[0]["ended_at"]
                               is not None)
                await wait_for(lambda: h["acd"].engine.agent("agent1").state == "available")
        assert any(e["event"] == "acd_restored" and e["agents"] == 1 for e in logs)
        [rec] = record(settings, call.uniqueid)
        assert rec["agent_user_id"] == users["1001"] and rec["answered_at"] is not None
        assert rec["ended_at"] >= rec["answered_at"] and rec["disposition"] is None
        assert not sim.truth[call.uniqueid].fell_back
    finally:
        await sim.stop()


async def test_kill9_with_callers_waiting_and_ringing(tmp_path: Path) -> None:
    """A real server process is killed (SIGKILL) while two callers ring agents and others wait;
    a new process starts on the same database. Nobody is hung up on: ringing callers reach their
    agent (or Queue() after the ring timeout), waiting ones reach Queue(). Every call has exactly
    one record, right about who answered."""
    from benchmarks.fault_drills import DrillEnv

    env = DrillEnv(tmp_path, seed=5)
    env.sim.config = dataclasses.replace(env.sim.config, agi_script=ACD)
    await env.setup()
    seen = events_of(env.sim)
    try:
        await env.start_server()
        for ext in ("1001", "1002", "1003", "1004"):
            env.sim.set_phone(ext, PhoneBehaviour(answer_delay_s=6.0, handle_time_s=30.0))
        await env.standby_ready()
        calls = [(await env.sim.place_inbound_call(f"+1202555014{i}")).uniqueid
                 for i in range(6)]
        await wait_for(lambda: sum(e.get("Event") == "DialBegin" for e in seen) >= 2)
        await env.fault("kill9")
        before = list(seen)
        rang = {e["DestChannel"] for e in before if e.get("Event") == "DialBegin"}
        answered = {e["DestChannel"] for e in before
                    if e.get("Event") == "DialEnd" and e.get("DialStatus") == "ANSWER"}
        assert rang - answered  # phones were ringing when the process died
        await env.start_server()
        await wait_for(lambda: all(env.sim.truth[c].ended for c in calls), timeout=60)
        verdict = env.judge(calls, await env.settle(calls))
        assert verdict.problems == []
        assert (verdict.callers_hung_up, verdict.records_lost, verdict.records_wrong) == (0, 0, 0)
        assert verdict.records_outcome_unknown == 0
        assert any(env.sim.truth[c].fell_back for c in calls)  # the waiting ones
        assert all(env.sim.truth[c].agent for c in calls)  # nobody was impatient
    finally:
        await env.close()


async def test_a_caller_who_arrived_while_no_server_ran_is_adopted(tmp_path: Path) -> None:
    """FastAGI unreachable: AGISTATUS=FAILURE and Queue() takes the caller. The server that
    starts meanwhile finds the caller in Queue() and records the call with its real outcome."""
    agi_port = free_port()
    sim = PbxSimulator(SimulatorConfig(
        agi_port=agi_port, time_scale=SCALE, agents=AGENTS, inbound_dialplan="cti", agi_script=ACD,
        dialplan_events=False, cdr_events=False, queues={"support": AGENTS},
        phone=PhoneBehaviour(answer_delay_s=1.0, handle_time_s=100_000.0)))
    await sim.start()
    for ext in AGENTS:  # nobody answers yet: the caller waits in Queue()
        sim.set_phone(ext, PhoneBehaviour(answers=False))
    settings = settings_for(tmp_path, sim.ami_port, agi_port, ring_timeout_s=15.0)
    users = await seed(settings, logged_in=AGENTS)
    try:
        call = await sim.place_inbound_call("+12025550144")
        await wait_for(lambda: sim.truth[call.uniqueid].fell_back)
        async with server(settings) as h:
            await wait_for(lambda: call.uniqueid in h["acd"].continuity.follower)
            sim.set_phone("1002", PhoneBehaviour(answer_delay_s=1.0, handle_time_s=100_000.0))
            await wait_for(lambda: sim.truth[call.uniqueid].agent == "1002")
            sim.hangup_caller(call.channel)
            await wait_for(lambda: bool(record(settings, call.uniqueid))
                           and record(settings, call.uniqueid)[0]["ended_at"] is not None)
        [rec] = record(settings, call.uniqueid)
        assert rec["answered_at"] is not None and rec["agent_user_id"] == users["1002"]
        assert rec["disposition"] is None and "without this server" in rec["notes"]
    finally:
        await sim.stop()


async def test_a_call_killed_in_the_ivr_is_adopted_with_the_queue_asterisk_reports(
        tmp_path: Path) -> None:
    """The lab's kill -9 mid-IVR: the IVR's open record (no queue yet) is all the server left;
    the caller then fell back to Queue(support) and 1002 answered. The restarted server adopts
    the call with the queue from the resync (CoreShowChannel ApplicationData) and records the
    answer as estimated (AMI tells no answer time at a resync: acd.follow.answer_estimate)."""
    from acd.continuity import ANSWER_ESTIMATED

    agi_port = free_port()
    sim = PbxSimulator(SimulatorConfig(
        agi_port=agi_port, time_scale=SCALE, agents=AGENTS, inbound_dialplan="cti", agi_script=ACD,
        dialplan_events=False, cdr_events=False, queues={"support": AGENTS},
        phone=PhoneBehaviour(answers=False)))
    await sim.start()
    sim.set_phone("1002", PhoneBehaviour(answer_delay_s=0.0, handle_time_s=100_000.0))
    settings = settings_for(tmp_path, sim.ami_port, agi_port, ring_timeout_s=15.0)
    users = await seed(settings, logged_in=())
    try:
        call = await sim.place_inbound_call("+12025550145")
        await wait_for(lambda: sim.truth[call.uniqueid].agent == "1002")
        crm = await Crm.open(Path(settings.server.data_dir) / settings.crm.database, settings.crm)
        try:  # what ivr/service.py's _opened writes when the caller enters the IVR
            await crm.log_call(call.uniqueid, direction="inbound", phone="+12025550145",
                               offered_at=time.time() - 1.0)
        finally:
            await crm.close()
        async with server(settings) as h:
            await wait_for(lambda: call.uniqueid in h["acd"].continuity.follower)
            await wait_for(lambda: record(settings, call.uniqueid)[0]["answered_at"] is not None)
            sim.hangup_caller(call.channel)
            await wait_for(lambda: record(settings, call.uniqueid)[0]["ended_at"] is not None)
        [rec] = record(settings, call.uniqueid)
        assert rec["queue"] == "support" and rec["agent_user_id"] == users["1002"]
        assert rec["disposition"] is None
        assert ANSWER_ESTIMATED in rec["notes"] and "Queue(support)" in rec["notes"]
    finally:
        await sim.stop()
