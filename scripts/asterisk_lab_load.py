#!/usr/bin/env python3
"""Load on the Asterisk lab (scripts/asterisk_lab.sh): many concurrent inbound calls through
`[from-carrier]`, the IVR (with DTMF) and the ACD's queue to many agents, then checks of what
the server made of them. Run with the project's venv (aiohttp), Asterisk and the server up:

    python scripts/asterisk_lab_load.py --calls 300 --concurrency 50 --agents 48 \
        --server-pid PID --password-admin PASS

Callers: AMI `Originate` of `PJSIP/15551230000@labload` into `[lab-load-caller]` (the lab's own
context, `asterisk_lab.sh config`): Asterisk calls itself over SIP, so each caller arrives as a
real `PJSIP/carrier-...` channel in `[from-carrier]`, keys "0" (RFC 4733) through the menus,
waits, talks and hangs up after `LAB_STAY` seconds (some callers give up in the queue).
Agents: desk phones 2001.. as PJSIP endpoints, served by a few pjsua processes with eight
accounts each, auto-answering; a pjsua hangs its calls up after its `--duration` (agents of
different processes talk for different times). The driver creates the agents' users (skill
support) and some customers (the callers' numbers) over REST, logs the agents in to the ACD,
follows the admin's websocket stream `all`, and at the end prints one JSON object: calls placed,
peak concurrency, per-call event counts on the bus (acd.call.* as the hub forwards them), one CRM
interaction per call with the agent and times, agents' states, Asterisk's channel count, the
ACD's routing latency (`cti_acd_routing_input_seconds` from /metrics) and the server's CPU.
Exit status 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

LAB = Path(os.environ.get("ASTERISK_LAB", str(Path.home() / "asterisk-lab")))
DID = "15551230000"
ACCOUNTS_PER_PHONE = 7  # PJSUA_MAX_ACC is 8, and pjsua adds a local account
EXT_BASE = 2000


# ---- AMI (a minimal client of its own: Originate and the channel count) -------------------

class Ami:
    def __init__(self, host: str, port: int, user: str, secret: str) -> None:
        self.addr = (host, port)
        self.user, self.secret = user, secret
        self.live: set[str] = set()          # our caller legs (PJSIP/labload-...) now up
        self.carrier: dict[str, float] = {}  # Linkedid of each PJSIP/carrier-... -> first seen
        self.peak = 0
        self.responses: dict[str, dict[str, str]] = {}
        self.originate_failed = 0

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(*self.addr)
        await self.reader.readline()  # banner
        self.send({"Action": "Login", "Username": self.user, "Secret": self.secret,
                   "Events": "call", "ActionID": "login"})
        self.task = asyncio.create_task(self._read())

    def send(self, fields: dict[str, str]) -> None:
        self.writer.write("".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode() + b"\r\n")

    async def _read(self) -> None:
        msg: dict[str, str] = {}
        while line := await self.reader.readline():
            text = line.decode(errors="replace").rstrip("\r\n")
            if text:
                k, _, v = text.partition(": ")
                msg.setdefault(k, v)
                continue
            self._on(msg)
            msg = {}

    def _on(self, m: dict[str, str]) -> None:
        ev, chan = m.get("Event", ""), m.get("Channel", "")
        if ev == "Newchannel" and chan.startswith("PJSIP/labload-"):
            self.live.add(chan)
            self.peak = max(self.peak, len(self.live))
        elif ev == "Newchannel" and chan.startswith("PJSIP/carrier-"):
            self.carrier.setdefault(m.get("Linkedid", ""), time.time())
        elif ev == "Hangup":
            self.live.discard(chan)
        elif ev == "OriginateResponse" and m.get("ActionID", "").startswith("load-") \
                and m.get("Response") != "Success":
            self.originate_failed += 1
        elif "ActionID" in m and "Response" in m:
            self.responses[m["ActionID"]] = m


def asterisk_cli(cmd: str) -> str:
    etc = LAB / "prefix" / "etc" / "asterisk" / "asterisk.conf"
    args = [str(LAB / "prefix" / "sbin" / "asterisk"), "-C", str(etc), "-rx", cmd]
    return subprocess.run(args, capture_output=True, text=True, timeout=30,  # noqa: S603
                          check=False).stdout


# ---- agents' phones ------------------------------------------------------------------------

def start_phones(agents: int, talks: list[int]) -> list[subprocess.Popen[bytes]]:
    """ceil(agents / 8) pjsua processes; process i hangs its calls up after talks[i % len]."""
    procs = []
    logdir = LAB / "phones"
    logdir.mkdir(parents=True, exist_ok=True)
    for i, first in enumerate(range(1, agents + 1, ACCOUNTS_PER_PHONE)):
        exts = [EXT_BASE + n for n in range(first, min(first + ACCOUNTS_PER_PHONE, agents + 1))]
        args = [str(LAB / "bin" / "pjsua"), "--null-audio", "--no-tcp", "--no-vad", "--no-tones",
                "--ip-addr=127.0.0.1", "--bound-addr=127.0.0.1", f"--local-port={15100 + i}",
                f"--rtp-port={33000 + 100 * i}", f"--max-calls={2 * len(exts)}",
                "--auto-answer=200", f"--duration={talks[i % len(talks)]}", "--log-level=3",
                "--app-log-level=3", "--add-codec=PCMU", "--no-stderr"]
        for j, ext in enumerate(exts):
            if j:
                args.append("--next-account")
            args += [f"--id=sip:{ext}@127.0.0.1", "--registrar=sip:127.0.0.1:15060",
                     "--reg-timeout=600"]
        out = (logdir / f"load-agents-{i}.log").open("wb")
        procs.append(subprocess.Popen(args, stdin=subprocess.PIPE, stdout=out,  # noqa: S603
                                      stderr=subprocess.STDOUT))
    return procs


def stop_phones(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            try:
                assert p.stdin is not None
                p.stdin.write(b"q\n")
                p.stdin.flush()
                p.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                p.terminate()
                p.wait(timeout=5)


# ---- REST ------------------------------------------------------------------------------------

class Rest:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.s, self.base, self.token = session, base.rstrip("/"), ""

    async def login(self, user: str, password: str) -> Rest:
        out = await self.call("POST", "/api/auth/login", {"username": user, "password": password})
        self.token = out["access_token"]
        return self

    async def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = ()) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.s.request(method, self.base + path, json=body, headers=headers) as r:
            raw = await r.text()
            if r.status >= 400 and r.status not in ok:
                raise RuntimeError(f"{method} {path}: {r.status} {raw[:300]}")
            return json.loads(raw) if raw else None


async def setup(admin: Rest, agents: int, password: str, known: list[str]) -> None:
    users = {u["username"]: u for u in (await admin.call("GET", "/api/users?limit=200"))["items"]}
    for n in range(1, agents + 1):
        name = f"load{n:02d}"
        if name in users:
            continue
        u = await admin.call("POST", "/api/users", {
            "username": name, "password": password, "display_name": f"Load agent {n}",
            "extension": str(EXT_BASE + n)})
        await admin.call("POST", "/api/skills", {"user_id": u["id"], "skill": "support",
                                                  "level": 3 if n % 3 == 0 else 1})
    have = {p["e164"] for p in (await admin.call("GET", "/api/phones?limit=200"))["items"]}
    for i, num in enumerate(known):
        if num in have:
            continue
        c = await admin.call("POST", "/api/customers",
                             {"kind": "person", "name": f"Load caller {i}"})
        await admin.call("POST", "/api/phones", {"customer_id": c["id"], "e164": num})


async def follow_ws(session: aiohttp.ClientSession, base: str, token: str,
                    events: list[dict[str, Any]], stop: asyncio.Event) -> None:
    ws_url = base.replace("http://", "ws://") + "/ws"
    async with session.ws_connect(ws_url, heartbeat=15) as ws:
        await ws.send_json({"op": "auth", "token": token, "stream": "all"})
        while not stop.is_set():
            try:
                msg = await asyncio.wait_for(ws.receive(), 1.0)
            except TimeoutError:
                continue
            if msg.type != aiohttp.WSMsgType.TEXT:
                events.append({"op": "closed", "type": str(msg.type)})
                return
            frame = json.loads(msg.data)
            if frame.get("op") == "event":
                events.append({"topic": frame["topic"], "ts": frame["ts"], "data": frame["data"]})
            elif frame.get("op") not in ("welcome", "snapshot", "pong"):
                events.append({"op": frame.get("op")})


def routing_hist(text: str) -> dict[str, float]:
    """cti_acd_routing_input_seconds buckets (cumulative), sum and count from /metrics."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("cti_acd_routing_input_seconds"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def quantile_from(before: dict[str, float], after: dict[str, float], q: float) -> float | None:
    buckets = []
    for k, v in after.items():
        if "_bucket" in k:
            le = k.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), v - before.get(k, 0.0)))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    if not total:
        return None
    for le, n in buckets:
        if n >= q * total:
            return le
    return None


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- the run ---------------------------------------------------------------------------------

async def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    numbers = [f"+1212555{n:04d}" for n in range(100, 100 + args.numbers)]
    known = numbers[: args.numbers // 2]
    report: dict[str, Any] = {"params": {k: v for k, v in vars(args).items()
                                         if k not in ("password_admin", "ami_secret")}}
    async with aiohttp.ClientSession() as session:
        admin = await Rest(session, args.base).login("admin", args.password_admin)
        await setup(admin, args.agents, args.agent_password, known)
        for n in range(args.agents + 1, 100):  # agents of an earlier, larger run: their phones
            await admin.call("POST", f"/api/agents/load{n:02d}/logout", ok=(404, 409))  # are gone
        talks = [int(t) for t in args.talk.split(",")]
        phones = start_phones(args.agents, talks)
        try:
            for _ in range(60):
                await asyncio.sleep(1)
                contacts = asterisk_cli("pjsip show contacts").count("/sip:20")
                if contacts >= args.agents:
                    break
            report["registered"] = contacts
            dead = [i for i, ph in enumerate(phones) if ph.poll() is not None]
            if dead:
                raise RuntimeError(f"pjsua processes {dead} exited (LAB/phones/load-agents-N.log)")
            agents = {}
            for n in range(1, args.agents + 1):
                a = await Rest(session, args.base).login(f"load{n:02d}", args.agent_password)
                await a.call("POST", "/api/acd/me/login", {"extension": str(EXT_BASE + n)},
                             ok=(409,))
                await a.call("POST", "/api/acd/me/available", ok=(409,))
                agents[f"load{n:02d}"] = a
            events: list[dict[str, Any]] = []
            stop = asyncio.Event()
            ws_task = asyncio.create_task(follow_ws(session, args.base, admin.token, events, stop))
            ami = Ami("127.0.0.1", args.ami_port, "cti", args.ami_secret)
            await ami.connect()
            async with session.get(args.base + "/metrics") as r:
                hist0 = routing_hist(await r.text())
            ast_pid = int((LAB / "asterisk.pid").read_text())
            cpu0, t0 = cpu_seconds(args.server_pid), time.time()
            ast0 = cpu_seconds(ast_pid)
            samples = []
            placed = 0
            stays = collections.Counter()
            while placed < args.calls:
                if len(ami.live) < args.concurrency:
                    r = rng.random()
                    # who the caller is: gives up early, hangs up in the talk, or stays until
                    # the agent's phone hangs up
                    # (keys: 0.5 s each; the menus take a few of them before the queue)
                    early = r < args.abandon_share
                    keys = rng.randint(2, 16) if early else 16
                    stay = (rng.randint(0, 10) if early
                            else rng.randint(20, 45) if r < args.abandon_share + 0.25 else 600)
                    stays["early" if early else "mid" if stay < 600 else "agent_ends"] += 1
                    ami.send({"Action": "Originate", "ActionID": f"load-{placed}",
                              "Channel": f"PJSIP/{DID}@labload", "Context": "lab-load-caller",
                              "Exten": "s", "Priority": "1", "Async": "true", "Timeout": "30000",
                              "CallerID": f"<{rng.choice(numbers)}>",
                              "Variable": f"LAB_ID={placed},LAB_KEY=0,LAB_KEYS={keys},"
                                          f"LAB_STAY={stay}"})
                    placed += 1
                    await asyncio.sleep(args.gap)
                else:
                    await asyncio.sleep(0.2)
                if placed % 10 == 0:
                    samples.append((round(time.time() - t0, 1), len(ami.live)))
            report["placed"] = placed
            report["caller_kinds"] = dict(stays)
            for _ in range(900):
                await asyncio.sleep(1)
                if not ami.live:
                    break
            t_end = time.time()
            cpu1 = cpu_seconds(args.server_pid)
            report["asterisk_cpu_share"] = round(
                (cpu_seconds(ast_pid) - ast0) / (time.time() - t0), 3)
            async with session.get(args.base + "/metrics") as r:
                hist1 = routing_hist(await r.text())
            await asyncio.sleep(args.settle)
            stop.set()
            await ws_task
            report.update(await check(args, admin, agents, ami, events))
            report["duration_s"] = round(t_end - t0, 1)
            report["peak_concurrent_callers"] = ami.peak
            report["concurrency_samples"] = samples[:: max(1, len(samples) // 20)]
            report["server_cpu_s"] = round(cpu1 - cpu0, 2)
            report["server_cpu_share"] = round((cpu1 - cpu0) / (t_end - t0), 3)
            n_routing = hist1.get("cti_acd_routing_input_seconds_count", 0) - hist0.get(
                "cti_acd_routing_input_seconds_count", 0)
            s_routing = hist1.get("cti_acd_routing_input_seconds_sum", 0) - hist0.get(
                "cti_acd_routing_input_seconds_sum", 0)
            report["acd_routing_inputs"] = int(n_routing)
            report["acd_routing_mean_ms"] = (round(1000 * s_routing / n_routing, 3)
                                             if n_routing else None)
            report["acd_routing_p50_le_ms"] = _ms(quantile_from(hist0, hist1, 0.5))
            report["acd_routing_p99_le_ms"] = _ms(quantile_from(hist0, hist1, 0.99))
        finally:
            stop_phones(phones)
    return report


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 3)


async def check(args: argparse.Namespace, admin: Rest, agents: dict[str, Rest], ami: Ami,
                events: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    calls = sorted(ami.carrier)
    out["calls_arrived"] = len(calls)
    out["originate_failed"] = ami.originate_failed
    per: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    ts: dict[tuple[str, str], float] = {}
    agent_of: dict[str, str] = {}
    for e in events:
        if "topic" not in e:
            continue
        cid = e["data"].get("call_id", "")
        per[cid][e["topic"]] += 1
        ts.setdefault((cid, e["topic"]), e["ts"])
        if e["topic"] == "acd.call.answered" and e["data"].get("agent_id"):
            agent_of[cid] = e["data"]["agent_id"]
    out["ws_frames"] = len(events)
    out["ws_other"] = [e for e in events if "topic" not in e][:5]
    out["topics"] = dict(collections.Counter(e["topic"] for e in events if "topic" in e))
    usernames = {u["id"]: u["username"]
                 for u in (await admin.call("GET", "/api/users?limit=200"))["items"]}
    problems: list[str] = []
    talk: list[float] = []
    outcome = collections.Counter()
    interactions = 0
    for cid in calls:
        c = per.get(cid, collections.Counter())
        acd = {k: v for k, v in c.items() if k.startswith("acd.call.")}
        rows = (await admin.call("GET", f"/api/interactions?call_id={cid}&limit=5"))["items"]
        interactions += len(rows)
        if c["acd.call.answered"]:
            outcome["answered"] += 1
            if c["acd.call.answered"] != 1 or c["acd.call.ended"] != 1 or c["acd.call.offered"] < 1:
                problems.append(f"{cid}: {acd}")
            if len(rows) != 1:
                problems.append(f"{cid}: {len(rows)} interactions")
                continue
            row = rows[0]
            bus_ans, bus_end = ts[(cid, "acd.call.answered")], ts[(cid, "acd.call.ended")]
            ans, end = row.get("answered_at"), row.get("ended_at")
            if ans is None or end is None or abs(ans - bus_ans) > 2 or abs(end - bus_end) > 2:
                problems.append(f"{cid}: interaction answered/ended {ans}/{end}, "
                                f"bus {bus_ans}/{bus_end}")
            talk.append(end - ans if ans is not None and end is not None else 0.0)
            out.setdefault("_agents_checked", 0)
            out["_agents_checked"] += 1
            row_agent = usernames.get(row.get("agent_user_id"))
            if row_agent != agent_of.get(cid):
                problems.append(f"{cid}: interaction agent {row_agent} vs bus {agent_of.get(cid)}")
        elif c["acd.call.queued"]:
            outcome["abandoned_in_queue" if c["acd.call.abandoned"] else "queued_not_answered"] += 1
            if c["acd.call.abandoned"] != 1 or len(rows) != 1:
                problems.append(f"{cid}: {acd} interactions={len(rows)}")
        else:
            outcome["ended_before_queue"] += 1
    out["outcomes"] = dict(outcome)
    out["talk_s_mean"] = round(sum(talk) / len(talk), 1) if talk else None
    out["interactions"] = interactions
    states = collections.Counter()
    for a in agents.values():
        st = await a.call("GET", "/api/acd/me")
        states[st["state"]] += 1
    out["agent_states_after"] = dict(states)
    if set(states) - {"available"}:
        problems.append(f"agents not available at the end: {dict(states)}")
    live = await admin.call("GET", "/api/calls")
    out["server_live_calls_after"] = len(live)
    chans = asterisk_cli("core show channels count")
    out["asterisk_channels_after"] = chans.strip().splitlines()
    if "0 active channels" not in chans:
        problems.append("Asterisk still has channels")
    out["problems"] = problems[:40]
    out["problem_count"] = len(problems)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", default="http://127.0.0.1:18180")
    p.add_argument("--ami-port", type=int, default=15038)
    p.add_argument("--ami-secret", default=os.environ.get("CTI_AMI__SECRET", "lab-secret"))
    p.add_argument("--password-admin", required=True)
    p.add_argument("--agent-password", default="load-agent-pass")
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--agents", type=int, default=48)
    p.add_argument("--calls", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=50, help="callers up at once, at most")
    p.add_argument("--gap", type=float, default=0.25, help="seconds between two Originates")
    p.add_argument("--talk", default="15,20,25,30,35,40", help="pjsua --duration per process")
    p.add_argument("--numbers", type=int, default=200, help="distinct caller numbers (half known)")
    p.add_argument("--abandon-share", type=float, default=0.1)
    p.add_argument("--settle", type=float, default=15.0,
                   help="wait after the last hang-up (wrap-up)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    report = asyncio.run(run(args))
    print(json.dumps(report, default=str))
    sys.exit(0 if report.get("problem_count") == 0 else 1)


if __name__ == "__main__":
    main()
