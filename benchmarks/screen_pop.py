"""Screen-pops to many desktops: the whole server (PBX simulator, IVR, ACD, CRM, hub) in this
process, the websocket clients in a separate one.

    python -m benchmarks.screen_pop --json [--quick]

Workload: the server as `--demo` runs it (demo CRM of 2,000 customers; the simulator's Poisson
callers walk the IVR and queue; the simulator's phones answer and talk; time-scaled), with
`desktops` agents (1,000; 200 with --quick) logged in to the ACD, each with its desktop
connected to /ws on its own agent stream, and 20 wallboards (kiosk tokens: team and all-team
wallboards: queue statistics and agent rows). The clients run in a child process (asyncio,
aiohttp), as browsers would be elsewhere.

Timeline: phase A (every client reading; 10% of the desktops disconnect mid-phase and reconnect
with resume {stream, seq} a moment later), then phase B (5% of the desktops stop reading for
good: their send queues fill and the server drops them).

Measured:
- `p50_ms`/`p99_ms`: phase A, from the ACD's offer (the moment the server publishes the offer
  on its bus, stamped in this process) to the screen-pop frame parsed by that agent's client
  (the child process stamps it; both stamps are the machine's wall clock). Pops that reached a
  reconnecting desktop through replay are counted as delivered, not in the latency.
- `p99_ms_with_stuck`/`p50_ms_with_stuck`: the same in phase B, on the desktops still reading.
- `lost`: pops offered to a desktop that was connected (had its welcome) and reading (or
  reconnected) and never arrived, live, by replay, or in a snapshot. `desktops_connected`:
  desktops that got their welcome at all (`..._at_start`: before phase A). Stuck desktops are
  left out (they stopped reading by design):
  `stuck_dropped` is how many the server dropped (close 4000).
- baseline, same run: `baseline_p50_ms`/`baseline_p99_ms`, from the same offer stamp to the
  pop frame queued for the client inside the server (the CRM read and the pop's encoding,
  no websocket, no client): the floor the websocket fan-out adds to.
Why "from the offer": the hub pops at the ACD's offer, before the agent's phone rings, so the
AMI events of that call's agent leg (Newchannel/DialBegin) come after the pop has left.

The demo's supervisor gets extension 9999 here (the demo's 1099 is an agent's once there are
more than 98 agents) and demo passwords are hashed once (argon2 per user would take minutes).
One JSON object on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WALLBOARDS = 20
STUCK_FRACTION = 0.05
RECONNECT_FRACTION = 0.10
RECONNECT_AWAY_S = 3.0  # how long a reconnecting desktop is away (offers meanwhile: replayed)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 2)


# ------------------------------------------------------------------------------ client process


def client_process(conf: dict[str, Any], out: Any) -> None:
    try:
        out.put(asyncio.run(_clients(conf)))
    except BaseException as exc:  # the parent must hear about it rather than hang
        out.put({"error": repr(exc)})


async def _clients(conf: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    url: str = conf["url"]
    t_a, t_reconnect, t_b, t_end = (conf["t_a"], conf["t_reconnect"], conf["t_b"],
                                    conf["t_end"])
    pops: list[tuple[str, str, float, str]] = []  # agent, call_id, received, how
    disconnected: dict[str, tuple[float, float]] = {}
    welcomed: dict[str, float] = {}  # agent -> when its desktop first got its welcome
    frames = [0]
    closes: list[int] = []
    connector = aiohttp.TCPConnector(limit=0)
    connecting = asyncio.Semaphore(100)
    session = aiohttp.ClientSession(connector=connector)

    async def desktop(d: dict[str, Any]) -> None:
        agent = d["agent"]
        stream: str | None = None
        seq: int | None = None
        reconnected = False
        while True:
            async with connecting:  # desktops come up in waves, as a floor logs in
                ws = await session.ws_connect(url, autoclose=False, max_msg_size=0)
            auth: dict[str, Any] = {"op": "auth", "token": d["token"]}
            if stream is not None and seq is not None:
                auth["resume"] = {"stream": stream, "seq": seq}
            await ws.send_str(json.dumps(auth))
            while True:
                now = time.time()
                if d["stuck"] and now >= t_b:
                    await asyncio.sleep(max(0.0, t_end - now + 1.0))  # stop reading for good
                    await ws.close()
                    return
                if d["reconnect"] and not reconnected and now >= t_reconnect:
                    await ws.close()
                    gone = time.time()
                    await asyncio.sleep(RECONNECT_AWAY_S)
                    disconnected[agent] = (gone, time.time())
                    reconnected = True
                    break
                if now >= t_end + 2.0:
                    await ws.close()
                    return
                try:
                    msg = await ws.receive(timeout=0.25)
                except TimeoutError:
                    continue
                if msg.type != aiohttp.WSMsgType.TEXT:
                    closes.append(ws.close_code or 0)
                    return
                frames[0] += 1
                f = json.loads(msg.data)
                op = f["op"]
                if op == "event":
                    stream, seq = f["stream"], f["seq"]
                    if f["topic"] == "desktop.screen_pop":
                        # After a reconnect, replayed pops come first; the parent leaves
                        # offers made while this desktop was away out of the latency.
                        pops.append((agent, f["data"]["call_id"], time.time(),
                                     "replay" if reconnected else "live"))
                elif op in ("welcome", "snapshot"):
                    stream, seq = f["stream"], f["seq"]
                    if op == "welcome":
                        welcomed.setdefault(agent, time.time())
                    pop = f["data"].get("screen_pop") if op == "snapshot" else None
                    if pop:
                        pops.append((agent, pop["call_id"], time.time(), "snapshot"))

    async def wallboard(token: str) -> None:
        ws = await session.ws_connect(url, autoclose=False, max_msg_size=0)
        await ws.send_str(json.dumps({"op": "auth", "kiosk": token}))
        while time.time() < t_end + 2.0:
            try:
                msg = await ws.receive(timeout=0.5)
            except TimeoutError:
                continue
            if msg.type != aiohttp.WSMsgType.TEXT:
                closes.append(ws.close_code or 0)
                return
            frames[0] += 1
        await ws.close()

    tasks = [asyncio.create_task(desktop(d)) for d in conf["desktops"]]
    tasks += [asyncio.create_task(wallboard(k)) for k in conf["wallboards"]]
    await asyncio.sleep(max(0.0, t_a - time.time()))
    results = await asyncio.gather(*tasks, return_exceptions=True)
    await session.close()
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    return {"pops": pops, "disconnected": disconnected, "welcomed": welcomed,
            "frames": frames[0],
            "closes": closes, "errors": errors[:5], "error_count": len(errors)}


# ------------------------------------------------------------------------------ server side


async def _run(desktops: int, seed: int, phase_s: float) -> dict[str, Any]:
    import server
    from agent_desktop.app import AUTH_KEY
    from agent_desktop.hub.hub import TOPIC_SCREEN_POP, kiosk_hash
    from agent_desktop.hub.ws import KIOSK_PREFIX
    from agent_desktop.passwords import hash_password
    from common.logging import configure_logging
    from config.acd import AcdSettings
    from config.demo import DemoSettings
    from config.settings import Settings

    configure_logging("warning", "console")
    one_hash = hash_password(server.DEMO_PASSWORD)
    server.hash_password = lambda _password: one_hash  # type: ignore[attr-defined]
    server.DEMO_SUPERVISOR_EXTENSION = "9999"
    tmp = Path(tempfile.mkdtemp(prefix="screen-pop-"))
    # Load: every agent busy about a third of the time (answer 2 s + talk 4 s + wrap-up 2 s per
    # call); the simulator, IVR and ACD share this process's event loop with the hub.
    # At most 10 calls a second: the simulator walks every caller through the IVR in this
    # same process, and more than that starves the event loop on a 2-core machine.
    calls_per_minute = min(desktops * 60 / 24.0, 600.0)
    demo = DemoSettings.model_construct(  # more agents than the demo's own limit of 500
        **{**DemoSettings().model_dump(), "customers": 2000, "agents": desktops,
           "calls_per_minute": calls_per_minute, "mean_handle_s": 4.0,
           "mean_patience_s": 120.0, "time_scale": 1.0, "agent_return_s": 1.0,
           "campaign_leads": 0, "seed": seed})
    acd = AcdSettings().model_dump(mode="json")
    settings = Settings.model_validate({
        "server": {"port": 0, "data_dir": str(tmp), "summary_interval_s": 3600,
                   "log_level": "warning"},
        "fastagi": {"port": 0},
        "auth": {"jwt_secret": "bench-secret-" + "x" * 40, "access_ttl_s": 3600},
        "acd": {**acd, "queues": [{**q, "wrapup_s": 2.0} for q in acd["queues"]]},
        "desktop": {"ws_send_queue": 256, "ws_messages_per_s": 50, "ws_burst": 100},
        "demo": demo,
    })
    ready, stop = asyncio.Event(), asyncio.Event()
    handles: dict[str, Any] = {}
    started = time.perf_counter()
    task = asyncio.create_task(server.serve(settings, demo=True, ready=ready, stop=stop,
                                            handles=handles))
    await asyncio.wait_for(ready.wait(), 300)
    log(f"server up in {time.perf_counter() - started:.1f} s ({desktops} agents)")
    crm, app, hub, bus = handles["crm"], handles["app"], handles["hub"], handles["bus"]

    offered: dict[tuple[str, str], float] = {}
    queued: dict[tuple[str, str], float] = {}
    publish = bus.publish

    def stamped_publish(*args: Any) -> None:
        msg = args[-1]
        topic = args[0] if len(args) == 2 else getattr(msg, "TOPIC", "")
        if topic in ("call.offered", "acd.call.offered"):
            f = msg if isinstance(msg, dict) else {"agent_id": msg.agent_id,
                                                   "call_id": msg.call_id}
            offered[(str(f["agent_id"]), str(f["call_id"]))] = time.time()
        publish(*args)

    bus.publish = stamped_publish
    emit = hub.emit

    def stamped_emit(targets: Any, topic: str, data_json: str, ts: float | None = None) -> None:
        emit(targets, topic, data_json, ts)
        if topic == TOPIC_SCREEN_POP:
            d = json.loads(data_json)
            queued.setdefault((d["agent_id"], d["call_id"]), time.time())

    hub.emit = stamped_emit

    users = []
    for i in range(desktops):
        users.append(await crm.users.by_username(f"agent{i + 1}"))
    auth = app[AUTH_KEY]
    tokens = [(await auth.issue_for(u)).access_token for u in users]
    teams = sorted({u.team_id for u in users if u.team_id is not None})
    kiosks = []
    for i in range(WALLBOARDS):
        token = f"{KIOSK_PREFIX}bench-{i}-{random.random()}"
        team = None if i % 4 == 0 else teams[i % len(teams)]
        await crm.kiosk.create(kiosk_hash(token), team, f"tv {i}", None, time.time())
        kiosks.append(token)
    rng = random.Random(seed)
    order = list(range(desktops))
    rng.shuffle(order)
    n_stuck = max(1, round(desktops * STUCK_FRACTION))
    n_reconnect = max(1, round(desktops * RECONNECT_FRACTION))
    stuck = set(order[:n_stuck])
    reconnect = set(order[n_stuck:n_stuck + n_reconnect])
    now = time.time()
    t_a = now + 4.0  # connections settle
    conf = {
        "url": f"ws://127.0.0.1:{handles['http_port']}/ws",
        "desktops": [{"agent": u.username, "token": t, "stuck": i in stuck,
                      "reconnect": i in reconnect}
                     for i, (u, t) in enumerate(zip(users, tokens, strict=True))],
        "wallboards": kiosks,
        "t_a": t_a, "t_reconnect": t_a + phase_s / 2, "t_b": t_a + phase_s,
        "t_end": t_a + 2 * phase_s,
    }
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=client_process, args=(conf, out), daemon=True)
    proc.start()
    await asyncio.sleep(max(0.0, conf["t_end"] + 4.0 - time.time()))
    res = await asyncio.to_thread(out.get, True, 60)
    proc.join(10)
    dropped_slow = hub.counters.dropped_slow
    stop.set()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(task, 60)
    if "error" in res:
        raise RuntimeError(f"client process failed: {res['error']}")

    stuck_agents = {f"agent{i + 1}" for i in stuck}
    got: dict[tuple[str, str], tuple[float, str]] = {}
    for agent, call_id, at, how in res["pops"]:
        got.setdefault((agent, call_id), (at, how))
    disconnected = {a: tuple(v) for a, v in res["disconnected"].items()}
    welcomed: dict[str, float] = res["welcomed"]

    def window(t0: float, t1: float, stuck_ok: bool) -> tuple[list[float], int, int]:
        lat, lost, n = [], 0, 0
        for (agent, call_id), t in offered.items():
            if not t0 <= t < t1:
                continue
            # Only desktops that were connected when the call was offered are owed a pop.
            if welcomed.get(agent, float("inf")) > t:
                continue
            # A stuck desktop stops reading at t_b: what was offered just before may still
            # have been on its way; its offers before that are judged like everyone's.
            if agent in stuck_agents and (not stuck_ok or t >= conf["t_b"] - 2.0):
                continue
            n += 1
            r = got.get((agent, call_id))
            if r is None:
                lost += 1
                continue
            gone = disconnected.get(agent)
            if r[1] != "snapshot" and not (gone and gone[0] - 0.5 <= t <= gone[1] + 0.5):
                lat.append((r[0] - t) * 1000)
        return lat, lost, n

    lat_a, lost_a, n_a = window(conf["t_a"], conf["t_b"], True)
    lat_b, lost_b, n_b = window(conf["t_b"], conf["t_end"] - 1.0, False)
    base = [(queued[k] - t) * 1000 for k, t in offered.items()
            if conf["t_a"] <= t < conf["t_b"] and k in queued]
    replayed = sum(1 for (a, c), (_, how) in got.items()
                   if how == "snapshot" or (a in disconnected and how == "replay"
                                            and disconnected[a][0] - 0.5 <= offered.get(
                                                (a, c), 0.0) <= disconnected[a][1] + 0.5))
    return {
        "desktops": desktops,
        "wallboards": WALLBOARDS,
        "desktops_connected_at_start": sum(1 for t in welcomed.values() if t <= conf["t_a"]),
        "desktops_connected": len(welcomed),
        "screen_pops": n_a + n_b,
        "screen_pops_phase_a": n_a,
        "screen_pops_phase_b": n_b,
        "p50_ms": pct(lat_a, 0.50),
        "p99_ms": pct(lat_a, 0.99),
        "p50_ms_with_stuck": pct(lat_b, 0.50),
        "p99_ms_with_stuck": pct(lat_b, 0.99),
        "stuck_fraction": round(len(stuck) / desktops, 3),
        "stuck_dropped": dropped_slow,
        "reconnected": len(disconnected),
        "pops_by_replay_or_snapshot": replayed,
        "lost": lost_a + lost_b,
        "baseline_p50_ms": pct(base, 0.50),
        "baseline_p99_ms": pct(base, 0.99),
        "baseline": "offer -> pop frame queued in the server (CRM read + encode), same run",
        "latency_from": "ACD offer published on the bus (before the agent's phone rings)",
        "frames_received": res["frames"],
        "client_errors": res["error_count"],
        "phase_s": phase_s,
        "calls_per_minute": round(calls_per_minute, 1),
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "mean_pop_ms_server": round(statistics.fmean(hub.counters.pop_ms), 2)
        if hub.counters.pop_ms else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--json", action="store_true", help="print one JSON object (default)")
    ap.add_argument("--quick", action="store_true", help="200 desktops, shorter phases")
    ap.add_argument("--desktops", type=int, default=None)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    desktops = args.desktops or (200 if args.quick else 1000)
    phase_s = 10.0 if args.quick else 20.0
    result = asyncio.run(_run(desktops, args.seed, phase_s))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
