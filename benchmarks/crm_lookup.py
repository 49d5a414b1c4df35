"""Screen-pop latency of the CRM at scale.

    python -m benchmarks.crm_lookup --json [--quick]

Builds 1,000,000 demo customers (100,000 with --quick) in a temporary file, then measures
through the real async facade (crm_core.service.Crm): lookup_by_phone (normalise + phone row +
whole CustomerView), customer_view by id, and tier_for_phone; first with reads on aiosqlite's
worker thread (the default, keys lookup_*, view_*, tier_*), then with CrmSettings.inline_reads
(keys inline_*). Baselines measured in the same run on the same file: a bare sqlite3 indexed
SELECT of the phone row (sqlite_*, the floor any lookup pays) and the same SELECT the textbook
aiosqlite way (aiosqlite_*, the cost of thread hops alone). Prints one JSON object on stdout;
progress goes to stderr. loadavg_1m is in the output because on a shared machine the hop tail
depends on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosqlite

from config.crm import CrmSettings
from crm_core.demo_data import build_demo_database, phone_for_index
from crm_core.service import Crm

GOAL_P99_US = 2000.0


def _pct(samples_ns: list[int], q: float) -> float:
    s = sorted(samples_ns)
    idx = min(len(s) - 1, max(0, round(q * (len(s) - 1))))
    return s[idx] / 1000.0


def _summary(name: str, samples_ns: list[int]) -> dict[str, float]:
    return {
        f"{name}_p50_us": round(_pct(samples_ns, 0.50), 1),
        f"{name}_p99_us": round(_pct(samples_ns, 0.99), 1),
        f"{name}_mean_us": round(statistics.fmean(samples_ns) / 1000.0, 1),
    }


def _human(e164: str, rng: random.Random) -> str:
    # Caller IDs arrive in several spellings; normalisation is part of the measured path.
    national = e164[2:]
    return rng.choice((
        e164,
        f"({national[:3]}) {national[3:6]}-{national[6:]}",
        f"1{national}",
        national,
    ))


async def _time_async(fn: Callable[[object], Awaitable[object]], args: list[object]
                      ) -> list[int]:
    out = []
    for a in args:
        t0 = time.perf_counter_ns()
        await fn(a)
        out.append(time.perf_counter_ns() - t0)
    return out


async def _measure(path: Path, customers: int, phones: int, n: int, rng: random.Random,
                   inline: bool = False) -> dict[str, object]:
    settings = CrmSettings(inline_reads=inline)
    crm = await Crm.open(path, settings)
    try:
        numbers = [_human(phone_for_index(rng.randrange(phones))[0], rng) for _ in range(n)]
        ids: list[object] = [rng.randint(1, customers) for _ in range(n)]
        # Warm the page cache and statement cache on a separate sample.
        for x in numbers[: n // 10]:
            await crm.lookup_by_phone(x)
        misses = 0
        for x in numbers[:50]:
            if await crm.lookup_by_phone(x) is None:
                misses += 1
        if misses:
            raise RuntimeError(f"{misses} of 50 demo numbers not found: the build is wrong")
        print(f"[bench] timing {n} lookups", file=sys.stderr, flush=True)
        lookup = await _time_async(crm.lookup_by_phone, list(numbers))  # type: ignore[arg-type]
        view = await _time_async(crm.customer_view, ids)  # type: ignore[arg-type]
        tier = await _time_async(crm.tier_for_phone, list(numbers))  # type: ignore[arg-type]
        sample = await crm.lookup_by_phone(numbers[0])
        assert sample is not None
        sizes = {
            "sample_view_interactions": len(sample.last_interactions),
            "sample_view_phones": len(sample.phones),
        }
    finally:
        await crm.close()
    pre = "inline_" if inline else ""
    out: dict[str, object] = {**_summary(f"{pre}lookup", lookup), **_summary(f"{pre}view", view),
                              **_summary(f"{pre}tier", tier)}
    return out if inline else {**out, **sizes}


async def _measure_aiosqlite(path: Path, phones: int, n: int, rng: random.Random
                             ) -> dict[str, float]:
    """The textbook aiosqlite way to read only the phone row: execute + fetchone (two hops)."""
    numbers = [phone_for_index(rng.randrange(phones))[0] for _ in range(n)]
    sql = "SELECT id, customer_id, e164, extension, label FROM phones WHERE e164 = ?"
    async with aiosqlite.connect(str(path)) as conn:
        for x in numbers[: n // 10]:
            await (await conn.execute(sql, (x,))).fetchone()
        out = []
        for x in numbers:
            t0 = time.perf_counter_ns()
            cur = await conn.execute(sql, (x,))
            await cur.fetchone()
            out.append(time.perf_counter_ns() - t0)
    return _summary("aiosqlite", out)


def _measure_sqlite(path: Path, phones: int, n: int, rng: random.Random) -> dict[str, float]:
    conn = sqlite3.connect(str(path))
    try:
        numbers = [phone_for_index(rng.randrange(phones))[0] for _ in range(n)]
        sql = "SELECT id, customer_id, e164, extension, label FROM phones WHERE e164 = ?"
        for x in numbers[: n // 10]:
            conn.execute(sql, (x,)).fetchone()
        out = []
        for x in numbers:
            t0 = time.perf_counter_ns()
            conn.execute(sql, (x,)).fetchone()
            out.append(time.perf_counter_ns() - t0)
    finally:
        conn.close()
    return _summary("sqlite", out)


def _counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(str(path))
    try:
        return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                for t in ("customers", "phones", "orders", "interactions")}
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--json", action="store_true", help="print one JSON object (always on)")
    p.add_argument("--quick", action="store_true", help="100,000 customers instead of 1,000,000")
    p.add_argument("--customers", type=int, help="override the number of customers")
    p.add_argument("--lookups", type=int, default=3000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--db", type=Path,
                   help="keep the built file here and reuse it on later runs (skips the build)")
    args = p.parse_args(argv)
    customers = args.customers or (100_000 if args.quick else 1_000_000)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        path = args.db or Path(tmp) / "crm.sqlite3"
        t0 = time.perf_counter()
        reused = path.exists()
        if reused:
            counts = _counts(path)
            if counts["customers"] != customers:
                raise SystemExit(f"{path} holds {counts['customers']} customers, not {customers}")
        else:
            stats = build_demo_database(path, customers=customers, seed=args.seed,
                                        progress=sys.stderr)
            counts = {"customers": stats.customers, "phones": stats.phones,
                      "orders": stats.orders, "interactions": stats.interactions}
        build_s = time.perf_counter() - t0
        measured = asyncio.run(_measure(path, customers, counts["phones"], args.lookups, rng))
        inline = asyncio.run(_measure(path, customers, counts["phones"], args.lookups, rng,
                                      inline=True))
        hop_baseline = asyncio.run(_measure_aiosqlite(path, counts["phones"], args.lookups, rng))
        baseline = _measure_sqlite(path, counts["phones"], args.lookups, rng)
        size_mb = round(path.stat().st_size / 1e6, 1)
    result: dict[str, object] = {
        "benchmark": "crm_lookup",
        **counts,
        "db_mb": size_mb,
        "build_s": None if reused else round(build_s, 2),
        "reused_db": reused,
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "lookups": args.lookups,
        **measured,
        **inline,
        **hop_baseline,
        **baseline,
        "goal_p99_us": GOAL_P99_US,
        "lookup_goal_met": float(str(measured["lookup_p99_us"])) < GOAL_P99_US,
        "view_goal_met": float(str(measured["view_p99_us"])) < GOAL_P99_US,
        "inline_lookup_goal_met": float(str(inline["inline_lookup_p99_us"])) < GOAL_P99_US,
        "inline_view_goal_met": float(str(inline["inline_view_p99_us"])) < GOAL_P99_US,
        "lookup_p99_over_sqlite_p99": round(
            float(str(measured["lookup_p99_us"])) / max(baseline["sqlite_p99_us"], 0.1), 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
