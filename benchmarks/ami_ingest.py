"""AMI ingest: bytes on a loopback socket -> cti.ami client -> cti.parse -> cti.calls.CallTracker.

    python -m benchmarks.ami_ingest --json [--quick]

The stream is every unsolicited event of the real Asterisk 22 captures (VarSet/Newexten noise
included), repeated with the uniqueids, linkedids, channel suffixes and bridge ids rewritten per
repetition so the repetitions are distinct calls. A separate process serves it over 127.0.0.1
(so the measured loop does not also pay for writing it); it answers Login/Ping and starts
streaming when it receives CoreShowChannels, which both clients send.

Measured in the same run, alternating:
- ours: AmiClient (AmiFramer + parse in data_received, one consumer task) with every typed event
  applied to a CallTracker; latency per event = perf_counter() after `tracker.apply` minus
  `client.arrival_time` (when the read that carried the event returned);
- baseline: panoramisk 1.4 `Manager` with its bare `AMIProtocol` (`Message.from_line`) and
  `dispatch` to one synchronous '*' callback that only counts: parse + dispatch, no tracking.

Throughput = event messages / (time from sending CoreShowChannels to the last event handled).
Prints exactly one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

TRANSCRIPTS = Path(os.environ.get(
    "CTI_TRANSCRIPTS_DIR",
    str(Path(__file__).resolve().parents[1] / "tests" / "data" / "ami-transcripts"),
))
TERM = b"\r\n\r\n"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
SKIP = ("login_failed", "login_failed_unknown_user", "login_events_off")

_UNIQUEID = re.compile(rb"\b(\d{10})\.(\d+)")
_BRIDGE = re.compile(rb"\b[0-9a-f]{8}-([0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b")
_CHAN_SUFFIX = re.compile(rb"-[0-9a-f]{8}(?=[;\r\n])")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the stream


def capture_events() -> list[bytes]:
    """Every live event of every capture, in capture order (list rows and replies excluded)."""
    out: list[bytes] = []
    for path in sorted(TRANSCRIPTS.glob("*.ami.raw")):
        if path.name.removesuffix(".ami.raw") in SKIP:
            continue
        raw = path.read_bytes()
        body = raw[raw.index(b"\r\n") + 2 :]
        for msg in body.split(TERM):
            if not msg.startswith(b"Event: "):
                continue
            if b"\r\nActionID: " in msg and not msg.startswith(b"Event: OriginateResponse"):
                continue  # rows of list actions (CoreShowChannel, QueueMember ...)
            out.append(msg + TERM)
    return out


def repetition(block: bytes, r: int) -> bytes:
    """The block with every call identity moved to repetition `r`."""
    block = _UNIQUEID.sub(lambda m: b"%d.%s" % (int(m[1]) + r * 1000, m[2]), block)
    block = _BRIDGE.sub(lambda m: b"%08x-%s" % (r, m[1]), block)
    return _CHAN_SUFFIX.sub(lambda m: b"-%04x%s" % (r & 0xFFFF, m[0][-4:]), block)


def build_stream(reps: int) -> bytes:
    block = b"".join(capture_events())
    return b"".join(repetition(block, r) for r in range(reps))


# ---------------------------------------------------------------- the server (child process)


def _serve(reps: int, paced_reps: int, rate: int, conn: Connection) -> None:
    """Child process: a flood listener (the whole stream as fast as TCP takes it) and a paced one
    (the first `paced_reps` repetitions at `rate` events/s, in 1 ms ticks)."""
    stream = build_stream(reps)
    per_tick = max(1, rate // 1000)
    paced_msgs = [m + TERM for m in build_stream(paced_reps).split(TERM) if m]
    paced = [b"".join(paced_msgs[i : i + per_tick]) for i in range(0, len(paced_msgs), per_tick)]
    del paced_msgs

    async def flood(writer: asyncio.StreamWriter) -> None:
        view = memoryview(stream)
        for i in range(0, len(stream), 65536):
            writer.write(view[i : i + 65536])
            await writer.drain()

    async def pace(writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        t_next = loop.time()
        for chunk in paced:
            writer.write(chunk)
            await writer.drain()
            t_next += 0.001
            delay = t_next - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)

    def handler(
        send_stream: Callable[[asyncio.StreamWriter], Awaitable[None]],
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(BANNER)
            buf = b""
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                buf += data
                *actions, buf = buf.split(TERM)
                for a in actions:
                    fields = dict(
                        ln.split(": ", 1) for ln in a.decode().split("\r\n") if ": " in ln
                    )
                    name = fields.get("Action", "").lower()
                    aid = fields.get("ActionID", "")
                    if name == "login":
                        writer.write(
                            f"Response: Success\r\nActionID: {aid}\r\n"
                            "Message: Authentication accepted\r\n\r\n".encode()
                        )
                    elif name == "coreshowchannels":
                        writer.write(
                            f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\n"
                            f"Message: Channels will follow\r\n\r\n"
                            f"Event: CoreShowChannelsComplete\r\nActionID: {aid}\r\n"
                            f"EventList: Complete\r\nListItems: 0\r\n\r\n".encode()
                        )
                        await send_stream(writer)
                    elif name == "ping":
                        writer.write(
                            f"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\n\r\n"
                            .encode()
                        )
                    elif name == "logoff":
                        writer.write(f"Response: Goodbye\r\nActionID: {aid}\r\n\r\n".encode())
                        await writer.drain()
                        writer.close()
                        return
                await writer.drain()
            writer.close()

        return handle

    async def main() -> None:
        fast = await asyncio.start_server(handler(flood), "127.0.0.1", 0)
        slow = await asyncio.start_server(handler(pace), "127.0.0.1", 0)
        conn.send((fast.sockets[0].getsockname()[1], slow.sockets[0].getsockname()[1]))
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # the parent says stop
        fast.close()
        slow.close()

    asyncio.run(main())


# ---------------------------------------------------------------- the two clients


async def run_ours(port: int, expected_events: int, total_messages: int) -> dict[str, Any]:
    from config.cti import AmiSettings
    from cti.ami import AmiClient
    from cti.calls import CallTracker
    from cti.events import AmiConnected, AmiResynced

    tracker = CallTracker()
    lat: list[float] = []
    done = asyncio.get_running_loop().create_future()
    count = 0
    updates = 0
    perf = time.perf_counter
    client: AmiClient

    def on_event(ev: Any) -> None:
        nonlocal count, updates
        if isinstance(ev, AmiResynced):
            tracker.reconcile(ev.channels, perf())
            return
        if isinstance(ev, AmiConnected):
            return
        now = perf()
        updates += len(tracker.apply(ev, now))
        lat.append(perf() - client.arrival_time)
        count += 1
        if count >= expected_events and not done.done():
            done.set_result(perf())

    settings = AmiSettings(
        host="127.0.0.1", port=port, ping_interval_s=30.0, ping_timeout_s=10.0,
        max_message_bytes=1 << 20, action_timeout_s=30.0,
    )
    client = AmiClient(settings, on_event=on_event)
    t0 = perf()  # login is cheap; CoreShowChannels goes out right after it and starts the stream
    await client.connect()
    t1 = await asyncio.wait_for(done, 300)
    elapsed = t1 - t0
    messages = client.counters.messages
    await client.close()
    lat.sort()
    return {
        "elapsed_s": elapsed,
        "events_per_s": total_messages / elapsed,
        "typed_events": count,
        "tracker_updates": updates,
        "messages_seen": messages,
        "p50_us": lat[len(lat) // 2] * 1e6,
        "p99_us": lat[int(len(lat) * 0.99)] * 1e6,
        "max_us": lat[-1] * 1e6,
    }


async def run_panoramisk(port: int, total_events: int) -> dict[str, Any]:
    import logging

    from panoramisk import Manager

    logging.getLogger("panoramisk").setLevel(logging.CRITICAL)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    count = 0
    perf = time.perf_counter

    def on_any(manager: Any, message: Any) -> None:
        nonlocal count
        count += 1
        if count >= total_events and not done.done():
            done.set_result(perf())

    manager = Manager(loop=loop, host="127.0.0.1", port=port, ping_delay=3600, ping_interval=3600)
    manager.register_event("*", on_any)
    await manager.connect()
    if manager.protocol is None:  # connection_made is a done-callback of the connect task
        await asyncio.sleep(0)
    assert manager.protocol is not None
    t0 = perf()
    manager.send_action({"Action": "CoreShowChannels"})
    t1 = await asyncio.wait_for(done, 300)
    manager.close()
    elapsed = t1 - t0
    return {"elapsed_s": elapsed, "events_per_s": total_events / elapsed, "dispatched": count}


# ---------------------------------------------------------------- driver


def count_stream(reps: int) -> tuple[int, int]:
    """(event messages, typed events parse() yields) in the whole stream."""
    from cti.framing import AmiFramer
    from cti.parse import parse

    one = repetition(b"".join(capture_events()), 0)
    msgs = AmiFramer(1 << 20, expect_banner=False).feed(one)
    typed = sum(1 for m in msgs if parse(m) is not None)
    return len(msgs) * reps, typed * reps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--json", action="store_true", help="print one JSON object (always on)")
    ap.add_argument("--quick", action="store_true", help="smaller stream, fewer runs")
    ap.add_argument("--reps", type=int, help="repetitions of the capture set (flood runs)")
    ap.add_argument("--runs", type=int, help="alternating flood runs of each client")
    ap.add_argument("--paced-rate", type=int, default=20_000, help="events/s of the paced run")
    args = ap.parse_args(argv)
    per_rep = len(capture_events())
    reps = args.reps or (60 if args.quick else 300)
    runs = args.runs or (2 if args.quick else 3)
    # The paced run lasts about 2 s (quick) or 5 s at the paced rate.
    paced_reps = max(1, round(args.paced_rate * (2 if args.quick else 5) / per_rep))
    total, typed = count_stream(reps)
    paced_total, paced_typed = count_stream(paced_reps)
    log(f"ami_ingest: {total} events ({per_rep} per repetition x {reps}), {typed} typed, "
        f"{runs} flood runs each; paced: {paced_total} events at {args.paced_rate}/s")

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=_serve, args=(reps, paced_reps, args.paced_rate, child), daemon=True
    )
    proc.start()
    flood_port, paced_port = parent.recv()
    ours: list[dict[str, Any]] = []
    base: list[dict[str, Any]] = []
    try:
        for i in range(runs):
            b = asyncio.run(run_panoramisk(flood_port, total))
            log(f"  flood run {i + 1}: panoramisk {b['events_per_s']:,.0f} ev/s")
            base.append(b)
            o = asyncio.run(run_ours(flood_port, typed, total))
            log(f"  flood run {i + 1}: ours {o['events_per_s']:,.0f} ev/s, "
                f"p99 {o['p99_us']:.0f} us")
            ours.append(o)
        paced = asyncio.run(run_ours(paced_port, paced_typed, paced_total))
        log(f"  paced run: ours p50 {paced['p50_us']:.0f} us, p99 {paced['p99_us']:.0f} us")
    finally:
        parent.send("stop")
        proc.join(10)
        if proc.is_alive():
            proc.kill()

    def med(rows: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(r[key] for r in rows))

    ours_eps = med(ours, "events_per_s")
    base_eps = med(base, "events_per_s")
    result = {
        "benchmark": "ami_ingest",
        "quick": args.quick,
        "events": total,
        "typed_events": typed,
        "runs": runs,
        "events_per_s": round(ours_eps),
        "event_p50_us": round(med(ours, "p50_us"), 1),
        "event_p99_us": round(med(ours, "p99_us"), 1),
        "event_max_us": round(med(ours, "max_us"), 1),
        "tracker_updates": ours[-1]["tracker_updates"],
        "panoramisk_events_per_s": round(base_eps),
        "ratio": round(ours_eps / base_eps, 3),
        "paced": {
            "rate_events_per_s": args.paced_rate,
            "events": paced_total,
            "event_p50_us": round(paced["p50_us"], 1),
            "event_p99_us": round(paced["p99_us"], 1),
            "event_max_us": round(paced["max_us"], 1),
        },
        "goal": {"ratio": 1.0, "events_per_s": 20_000},
        "meets_goal": ours_eps / base_eps >= 1.0 and ours_eps >= 20_000,
        "python": platform.python_version(),
        # Latency percentiles include scheduler preemption: other processes share the CPUs.
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
