"""Randomised fault drills: the real server process against the PBX simulator, killed or stopped
while callers wait, ring and talk, then restarted; every call checked against what the PBX lived.

    python -m benchmarks.fault_drills --json [--quick] [--drills N] [--seed S]

One server process at a time runs `run_server.py` (JSON logs) on a fixed FastAGI port; the
simulator (in this process) runs the reference dialplan (config/asterisk/extensions.conf), so a
dead server means AGISTATUS=SUCCESS without CTI_RESULT=done, and Queue() takes the caller.
Each drill: a few callers arrive (some impatient), agents' phones answer after a random delay;
at a random moment the server gets SIGKILL (crash) or SIGTERM (stop), and a new process starts
on the same database. When every call of the drill has ended, its CRM record is judged:

- callers_hung_up: ended without reaching an agent, without hanging up themselves (must be 0);
- records_lost: no CRM record (must be 0);
- records_wrong: the record contradicts the PBX: answered or not, by which agent, ended or not,
  "abandoned" for a call that was answered (must be 0);
- records_outcome_unknown: the call ended while no server was running, so its record honestly
  says "unknown" (AMI has no history to ask); reported, not hidden;
- calls_unseen: calls that arrived and ended while no server was running (between the fault and
  the new process's AMI resync): no server can know of them (Asterisk's CDRs would); reported
  apart from records_lost, which counts every other call without a record;
- ivr_finished: callers the IVR served by its own rules and hung up (e.g. its after-hours
  message), with a record saying so; not faults;
- offers_after_stop: "offer" log lines of a SIGTERM'd process after its "shutting_down" line;
- stopped_line_missing: SIGTERM'd processes whose log does not end with "stopped".

One JSON object on stdout; progress on stderr. --quick runs 4 drills (under a minute: 6 took
59 s and 8 took 64 s on a quiet 2-core machine).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import random
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from config.settings import Settings
from crm_core.acd_store import AcdStore, AgentSessionRow
from crm_core.service import Crm
from cti.simulator import PbxSimulator, PhoneBehaviour, SimulatorConfig

ROOT = Path(__file__).resolve().parents[1]
AGENTS = ("1001", "1002", "1003", "1004")
SCALE = 0.05  # a simulated second lasts 50 ms
SECRET = "drill-secret"  # noqa: S105 (the simulator's AMI user, local only)
# The restarted server is a process that has already imported everything and waits for a line on
# stdin, as a supervisor with a warm standby would run it: the downtime measured is the server's
# own start (database, FastAGI, AMI login and resync), not the interpreter's imports, which on
# this shared machine take seconds and would only make more calls end unseen.
LAUNCHER = (
    "import sys, run_server, server\n"
    "print('standby_ready', flush=True)\n"
    "sys.stdin.readline()\n"
    "sys.exit(run_server.main(sys.argv[1:]))\n"
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Verdict:
    calls: int = 0
    callers_hung_up: int = 0
    records_lost: int = 0
    records_wrong: int = 0
    records_outcome_unknown: int = 0
    calls_unseen: int = 0
    ivr_finished: int = 0
    answered_by_acd: int = 0
    answered_by_fallback: int = 0
    abandoned: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, other: Verdict) -> None:
        for k in ("calls", "callers_hung_up", "records_lost", "records_wrong",
                  "records_outcome_unknown", "calls_unseen", "answered_by_acd",
                  "answered_by_fallback", "abandoned", "ivr_finished"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.problems.extend(other.problems)


class DrillEnv:
    """The simulator, the data directory and the server process of a drill run."""

    def __init__(self, workdir: Path, *, seed: int = 1) -> None:
        self.workdir = workdir
        self.seed = seed
        self.agi_port = free_port()
        self.sim = PbxSimulator(SimulatorConfig(
            agi_port=self.agi_port, time_scale=SCALE, agents=AGENTS, seed=seed,
            ami_secret=SECRET, dialplan_events=False, cdr_events=False,
            inbound_dialplan="cti", queues={"support": AGENTS},
            phone=PhoneBehaviour(answer_delay_s=4.0, handle_time_s=20.0),
            prompt_s=1.0, dtmf_delay_s=0.5,
        ))
        self.proc: asyncio.subprocess.Process | None = None
        self.standby: tuple[asyncio.subprocess.Process, Path] | None = None
        self.downtime_s: list[float] = []
        self.fault_at = 0.0
        self.fault_wall = 0.0
        self.blind: list[tuple[float, float]] = []  # (fault, resync) Unix times: no server saw
        self.runs = 0
        self.log_path = workdir / "server-0.log"
        self.users: dict[str, int] = {}  # extension -> CRM user id
        self.offers_after_stop = 0
        self.stopped_line_missing = 0
        self.server_starts = 0
        self.start_s: list[float] = []

    @property
    def db_path(self) -> Path:
        return self.workdir / "data" / "crm.sqlite3"

    def config_text(self) -> str:
        return "\n".join([
            "[server]", 'host = "127.0.0.1"', "port = 0", 'log_format = "json"',
            "summary_interval_s = 60.0", f'data_dir = "{self.workdir / "data"}"',
            "[ami]", 'host = "127.0.0.1"', f"port = {self.sim.ami_port}",
            f'secret = "{SECRET}"', "ping_interval_s = 1.0", "ping_timeout_s = 1.0",
            "reconnect_min_s = 0.05", "reconnect_max_s = 0.2",
            "[fastagi]", 'host = "127.0.0.1"', f"port = {self.agi_port}",
            "[auth]", 'jwt_secret = "drill-0123456789abcdef0123456789abcdef"',
            "[acd]", "[[acd.queues]]", 'name = "support"', 'skills = ["support"]',
            "wrapup_s = 0.0", "ring_timeout_s = 15.0", "announce_every_s = 0.0",
            "max_wait_s = 100000.0", "escalation = [{ after_s = 0, min_skill_level = 0 }]",
            "",
        ])

    async def setup(self) -> None:
        await self.sim.start()
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        (self.workdir / "server.toml").write_text(self.config_text())
        # Agents exist in the CRM and were logged in to the ACD before the first start: the
        # server restores their sessions (what a restart must do anyway).
        settings = Settings()
        crm = await Crm.open(self.db_path, settings.crm)
        try:
            store = AcdStore(crm.db)
            for i, ext in enumerate(AGENTS, 1):
                user = await crm.users.create(username=f"agent{i}", password_hash="x",
                                              role="agent", extension=ext)
                self.users[ext] = user.id
                await store.save_agent(AgentSessionRow(
                    agent_id=f"agent{i}", device=f"PJSIP/{ext}", queues=("support",),
                    skills={"support": 3}, pause_reason=None, updated_at=time.time()))
        finally:
            await crm.close()

    async def _spawn_standby(self) -> None:
        path = self.workdir / f"server-{self.runs}.log"
        self.runs += 1
        out = path.open("wb")
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", LAUNCHER, "--config", str(self.workdir / "server.toml"),
                stdin=asyncio.subprocess.PIPE, stdout=out, stderr=asyncio.subprocess.STDOUT,
                cwd=str(ROOT), env={**os.environ, "PYTHONUNBUFFERED": "1"})
        finally:
            out.close()
        self.standby = (proc, path)

    async def standby_ready(self) -> None:
        if self.standby is None:
            await self._spawn_standby()
        assert self.standby is not None
        async with asyncio.timeout(60):
            while "standby_ready" not in self.standby[1].read_text(errors="replace"):  # noqa: ASYNC110 (another process writes the file)
                await asyncio.sleep(0.02)

    async def start_server(self) -> None:
        if self.standby is None:
            await self._spawn_standby()
        assert self.standby is not None
        self.proc, self.log_path = self.standby
        self.standby = None
        started = time.perf_counter()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        await self.proc.stdin.drain()
        async with asyncio.timeout(60):
            while '"ami_resynced"' not in self.log_text():
                if self.proc.returncode is not None:
                    raise RuntimeError(f"server exited at start:\n{self.log_text()[-3000:]}")
                await asyncio.sleep(0.02)
        self.server_starts += 1
        self.start_s.append(time.perf_counter() - started)
        if self.fault_at:
            self.downtime_s.append(time.perf_counter() - self.fault_at)
            self.fault_at = 0.0
            self.blind.append((self.fault_wall, self.resynced_at()))
        await self._spawn_standby()  # imports while the drill runs

    def resynced_at(self) -> float:
        """Unix time of this process's first AMI resync (from its log line)."""
        for line in self.log_text().splitlines():
            if '"ami_resynced"' in line:
                stamp = json.loads(line)["timestamp"]
                return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        return time.time()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    async def fault(self, kind: str) -> None:
        proc = self.proc
        assert proc is not None
        self.fault_at = time.perf_counter()
        self.fault_wall = time.time()
        if kind == "kill9":
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            return
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            await proc.wait()
        self.check_stop_log(self.log_text())

    def check_stop_log(self, text: str) -> None:
        events = []
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                events.append(json.loads(line).get("event", ""))
        if "shutting_down" in events:
            after = events[events.index("shutting_down"):]
            self.offers_after_stop += sum(1 for e in after if e == "offer")
        if not events or events[-1] != "stopped":
            self.stopped_line_missing += 1

    async def close(self) -> None:
        if self.standby is not None:
            self.standby[0].kill()
            await self.standby[0].wait()
            self.standby = None
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(30):
                    await self.proc.wait()
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
        await self.sim.stop()

    # ------------------------------------------------------------------ judging

    def records(self, call_ids: list[str]) -> dict[str, tuple[Any, ...]]:
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)
        try:
            rows = conn.execute(
                "SELECT call_id, answered_at, ended_at, agent_user_id, disposition, notes,"
                " COUNT(*) OVER (PARTITION BY call_id) FROM interactions WHERE call_id IN"
                f" ({','.join('?' * len(call_ids))})", call_ids).fetchall()
        finally:
            conn.close()
        return {r[0]: r for r in rows}

    async def settle(self, call_ids: list[str], within: float = 10.0) -> dict[str, tuple[Any, ...]]:
        """The drill's records once every one has an end (or `within` seconds passed)."""
        deadline = time.monotonic() + within
        while True:
            recs = self.records(call_ids)
            if (all(c in recs and recs[c][2] is not None for c in call_ids)
                    or time.monotonic() > deadline):
                return recs
            await asyncio.sleep(0.05)

    def judge(self, call_ids: list[str], recs: dict[str, tuple[Any, ...]]) -> Verdict:
        v = Verdict(calls=len(call_ids))
        for cid in call_ids:
            t = self.sim.truth[cid]
            rec = recs.get(cid)
            ivr_done = rec is not None and str(rec[4] or "").startswith("ivr:") \
                and rec[4] not in ("ivr: abandoned", "ivr: handed back to the dialplan")
            if t.hung_up_unserved and ivr_done:
                # The IVR finished the call by its own rules (e.g. the after-hours message, or
                # self-service), then hung up: served, not a fault.
                v.ivr_finished += 1
            elif t.hung_up_unserved:
                v.callers_hung_up += 1
                v.problems.append(f"{cid}: hung up without an agent ({t})")
            if t.agent:
                if t.via_queue:
                    v.answered_by_fallback += 1
                else:
                    v.answered_by_acd += 1
            elif t.caller_left:
                v.abandoned += 1
            if rec is None and t.ended_at is not None and any(
                    a <= t.started and t.ended_at <= b for a, b in self.blind):
                v.calls_unseen += 1
                log(f"    {cid}: unseen (arrived and ended while no server ran); truth={t}")
                continue
            if rec is None:
                v.records_lost += 1
                v.problems.append(f"{cid}: no CRM record ({t})")
                continue
            _cid, answered_at, ended_at, agent_uid, disposition, notes, count = rec
            wrong = []
            if count != 1:
                wrong.append(f"{count} records")
            if ended_at is None:
                wrong.append("no end")
            if disposition == "unknown":
                v.records_outcome_unknown += 1
                log(f"    {cid}: outcome unknown (ended while no server ran); truth={t}")
                continue
            if t.agent:
                if answered_at is None:
                    wrong.append("answered call recorded unanswered")
                elif agent_uid != self.users.get(t.agent):
                    wrong.append(f"agent {agent_uid} != {self.users.get(t.agent)}")
                if disposition == "abandoned":
                    wrong.append("answered call recorded abandoned")
            else:
                if answered_at is not None:
                    wrong.append("unanswered call recorded answered")
                if t.caller_left and disposition not in ("abandoned", "ivr: abandoned"):
                    wrong.append(f"abandon recorded as {disposition!r}")
            if wrong:
                v.records_wrong += 1
                v.problems.append(f"{cid}: {', '.join(wrong)}; record={rec}; truth={t}")
        return v


async def run_drill(env: DrillEnv, rng: random.Random, kind: str, n: int = 0) -> Verdict:
    """One drill: callers arrive, the fault hits at a random moment, the server restarts."""
    await env.standby_ready()
    # Most callers go straight to the ACD (an IVR elsewhere chose the queue); some go through
    # the server's IVR menus first, so faults also hit callers who are still in a menu.
    script = "ivr" if rng.random() < 0.25 else "queue?queue=support"
    env.sim.config = dataclasses.replace(env.sim.config, agi_script=script)
    calls = []
    n_calls = rng.randint(4, 9)
    fault_at = rng.uniform(0.4, 3.0)  # real seconds after the first caller
    t0 = time.monotonic()
    for i in range(n_calls):
        ext = AGENTS[rng.randrange(len(AGENTS))]
        env.sim.set_phone(ext, PhoneBehaviour(answer_delay_s=rng.uniform(1.0, 8.0),
                                              handle_time_s=rng.uniform(20.0, 60.0)))
        patience = None if rng.random() < 0.7 else rng.uniform(5.0, 60.0)
        # "1": the IVR's first choice; straight in the ACD a "1" would ask for a callback.
        h = await env.sim.place_inbound_call(f"+1202555{rng.randrange(10000):04d}",
                                             dtmf="1" if script == "ivr" else "",
                                             patience_s=patience)
        calls.append(h.uniqueid)
        await asyncio.sleep(rng.uniform(0.0, 0.3))
        if i == 0:
            t0 = time.monotonic()
    await asyncio.sleep(max(0.0, fault_at - (time.monotonic() - t0)))
    await env.fault(kind)
    await asyncio.sleep(rng.uniform(0.0, 0.3))  # down for a moment (plus the start-up)
    await env.start_server()
    async with asyncio.timeout(120):
        while not all(env.sim.truth[c].ended for c in calls):  # noqa: ASYNC110 (polls the PBX's record)
            await asyncio.sleep(0.05)
    recs = await env.settle(calls)
    v = env.judge(calls, recs)
    log(f"drill {n:3d} {kind:6s} {script.split('?')[0]:5s}: {len(calls)} calls, "
        f"hung_up={v.callers_hung_up} "
        f"lost={v.records_lost} wrong={v.records_wrong} unknown={v.records_outcome_unknown} "
        f"unseen={v.calls_unseen}")
    for p in v.problems:
        log("    " + p)
    return v


async def run(drills: int, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    total = Verdict()
    kinds: Counter[str] = Counter()
    started = time.perf_counter()
    keep = os.environ.get("FAULT_DRILLS_KEEP")  # a directory: keep logs and database there
    with (contextlib.nullcontext(keep) if keep
          else tempfile.TemporaryDirectory(prefix="fault-drills-")) as tmp:
        env = DrillEnv(Path(tmp), seed=seed)
        await env.setup()
        try:
            await env.start_server()
            for n in range(drills):
                kind = "kill9" if rng.random() < 0.5 else "sigterm"
                kinds[kind] += 1
                total.add(await run_drill(env, rng, kind, n))
        finally:
            await env.close()
    return {
        "benchmark": "fault_drills",
        "drills": drills,
        "seed": seed,
        "faults": dict(kinds),
        "calls": total.calls,
        "callers_hung_up": total.callers_hung_up,
        "records_lost": total.records_lost,
        "records_wrong": total.records_wrong,
        "records_outcome_unknown": total.records_outcome_unknown,
        "calls_unseen": total.calls_unseen,
        "answered_by_acd": total.answered_by_acd,
        "answered_by_fallback": total.answered_by_fallback,
        "abandoned": total.abandoned,
        "ivr_finished": total.ivr_finished,
        "offers_after_stop": env.offers_after_stop,
        "stopped_line_missing": env.stopped_line_missing,
        "server_starts": env.server_starts,
        "server_start_s_mean": round(sum(env.start_s) / max(1, len(env.start_s)), 2),
        "downtime_s_mean": round(sum(env.downtime_s) / max(1, len(env.downtime_s)), 2),
        "downtime_s_max": round(max(env.downtime_s, default=0.0), 2),
        "restart": "warm standby process (imports done), started on the fault",
        "time_scale": SCALE,
        "seconds": round(time.perf_counter() - started, 1),
        "problems": total.problems[:20],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ap.add_argument("--quick", action="store_true", help="4 drills")
    ap.add_argument("--drills", type=int, default=None, help="number of drills (default 100)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    drills = args.drills if args.drills is not None else (4 if args.quick else 100)
    result = asyncio.run(run(drills, args.seed))
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")
    ok = result["callers_hung_up"] == result["records_lost"] == result["records_wrong"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
