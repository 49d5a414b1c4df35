"""Screen-pop latency of the CRM at scale.

    python -m benchmarks.crm_lookup --json [--quick]

Builds 1,000,000 demo customers (100,000 with --quick) in a temporary file, then measures
through the real async facade (crm_core.service.Crm): lookup_by_phone (normalise + phone row +
whole CustomerView), customer_view by id, and tier_for_phone; with the default settings
(keys lookup_*, view_*, tier_*: point reads inline on the loop thread) and with
CrmSettings(inline_reads=False) (keys hop_*: each read one hop to aiosqlite's worker thread).
Baselines measured in the same run on the same file: a bare sqlite3 indexed
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


_PHONE_SQL = "SELECT id, customer_id, e164, extension, label FROM phones WHERE e164 = ?"


async def _measure(path: Path, customers: int, phones: int, n: int, rng: random.Random
                   ) -> dict[str, object]:
    """Every variant runs once per iteration, interleaved, so a burst of load from elsewhere
    on the machine lands on all of them alike instead of on whichever phase was running."""
    default = await Crm.open(path, CrmSettings())
    hop = await Crm.open(path, CrmSettings(inline_reads=False))
    raw = await aiosqlite.connect(str(path))
    bare = sqlite3.connect(str(path))
    samples: dict[str, list[int]] = {k: [] for k in (
        "lookup", "view", "tier", "hop_lookup", "hop_view", "hop_tier", "aiosqlite", "sqlite")}
    try:
        warm = [phone_for_index(rng.randrange(phones))[0] for _ in range(max(50, n // 10))]
        for x in warm:  # page cache, statement caches, phonenumbers metadata
            await default.lookup_by_phone(x)
            await hop.lookup_by_phone(x)
        misses = sum([await default.lookup_by_phone(x) is None for x in warm[:50]])
        if misses:
            raise RuntimeError(f"{misses} of 50 demo numbers not found: the build is wrong")
        print(f"[bench] timing {n} iterations x {len(samples)} variants", file=sys.stderr,
              flush=True)
        clock = time.perf_counter_ns
        for _ in range(n):
            e164 = phone_for_index(rng.randrange(phones))[0]
            spelled = _human(e164, rng)
            cid = rng.randint(1, customers)
            for pre, crm in (("", default), ("hop_", hop)):
                t0 = clock()
                await crm.lookup_by_phone(spelled)
                t1 = clock()
                await crm.customer_view(cid)
                t2 = clock()
                await crm.tier_for_phone(spelled)
                t3 = clock()
                samples[pre + "lookup"].append(t1 - t0)
                samples[pre + "view"].append(t2 - t1)
                samples[pre + "tier"].append(t3 - t2)
            t0 = clock()
            cur = await raw.execute(_PHONE_SQL, (e164,))
            await cur.fetchone()
            t1 = clock()
            bare.execute(_PHONE_SQL, (e164,)).fetchone()
            t2 = clock()
            samples["aiosqlite"].append(t1 - t0)
            samples["sqlite"].append(t2 - t1)
        sample = await default.lookup_by_phone(warm[0])
        assert sample is not None
    finally:
        bare.close()
        await raw.close()
        await hop.close()
        await default.close()
    out: dict[str, object] = {}
    for k, v in samples.items():
        out.update(_summary(k, v))
    out["sample_view_interactions"] = len(sample.last_interactions)
    return out


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
    p.add_argument("--lookups", type=int, default=3000, help="timed iterations")
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
        "goal_p99_us": GOAL_P99_US,
        "lookup_goal_met": float(str(measured["lookup_p99_us"])) < GOAL_P99_US,
        "view_goal_met": float(str(measured["view_p99_us"])) < GOAL_P99_US,
        "hop_lookup_goal_met": float(str(measured["hop_lookup_p99_us"])) < GOAL_P99_US,
        "hop_view_goal_met": float(str(measured["hop_view_p99_us"])) < GOAL_P99_US,
        "lookup_p99_over_sqlite_p99": round(
            float(str(measured["lookup_p99_us"]))
            / max(float(str(measured["sqlite_p99_us"])), 0.1), 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
