"""Customer search latency at scale, the way a Chinese-speaking agent types.

    python -m benchmarks.crm_search --json [--quick]

Builds 1,000,000 demo customers (100,000 with --quick; about half with Chinese names, one in six
of those in traditional characters), then times `Crm.customers.search(q)` (the path behind
`GET /api/customers?q=`: first page of 50 plus the total) for query kinds drawn from the data:

    cjk1         one CJK character (a surname, or any character of a personal name)
    cjk2         two CJK characters of a personal name
    cjk3         three CJK characters of a personal name
    pinyin       a name's full pinyin ("zhangwei", "zhang wei", "zhang1 wei3")
    initials     a name's pinyin initials ("zw")
    traditional  a simplified name typed in traditional characters (張偉 for 张伟)
    latin2       two letters of a Latin name

Baseline, in the same run on the same file: the same search as a plain scan
(crm_core.search_query.scan_customers: LIKE over every normalised name, no term or trigram
index), for the first --scan-queries queries of each kind; `same_results` says whether the
scan found the same total and the same first page (ids, in order) for each of them.

The built file is cached (keyed by size, seed and the source of the generator and the index) in
the system temp directory, or where --db says; --rebuild forces a new build. Prints one JSON
object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import opencc

from config.crm import CrmSettings
from crm_core import demo_data, schema, search_index, search_query, search_text
from crm_core.demo_data import build_demo_database
from crm_core.service import Crm

GOAL_P99_MS = 20.0
KINDS = ("cjk1", "cjk2", "cjk3", "pinyin", "initials", "traditional", "latin2")


def _pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def _cache_path(customers: int, seed: int) -> Path:
    h = hashlib.sha256()
    for mod in (demo_data, schema, search_index, search_text):
        h.update(Path(str(mod.__file__)).read_bytes())
    name = f"crm-search-{customers}-{seed}-{h.hexdigest()[:12]}.sqlite3"
    return Path(tempfile.gettempdir()) / "callcenter-bench" / name


def _queries(path: Path, n: int, rng: random.Random) -> dict[str, list[str]]:
    """n queries per kind, drawn from the names in the file."""
    conn = sqlite3.connect(str(path))
    try:
        top = int(conn.execute("SELECT MAX(id) FROM customers").fetchone()[0])
        zh: list[tuple[str, str]] = []
        latin: list[str] = []
        while len(zh) < 6 * n or len(latin) < n:
            ids = [rng.randint(1, top) for _ in range(500)]
            for name, kind in conn.execute(
                    f"SELECT name, kind FROM customers WHERE id IN ({','.join('?' * len(ids))})",
                    ids):
                if any(search_text.is_cjk(ch) for ch in name):
                    zh.append((name, kind))
                elif kind == "person":
                    latin.append(name)
    finally:
        conn.close()
    s2t = opencc.OpenCC("s2t.json")
    people = [search_text.fold(nm) for nm, kind in zh if kind == "person"]
    out: dict[str, list[str]] = {k: [] for k in KINDS}
    for folded in people:
        if len(out["cjk1"]) < n:
            out["cjk1"].append(folded[0] if rng.random() < 0.5 else rng.choice(folded))
        if len(out["cjk2"]) < n and len(folded) >= 2:
            i = rng.randrange(len(folded) - 1)
            out["cjk2"].append(folded[i:i + 2])
        if len(out["traditional"]) < n and 2 <= len(folded) <= 3:
            trad = s2t.convert(folded)
            if trad != folded:
                out["traditional"].append(trad)
        syl = search_text.syllables(folded, True)
        if len(out["pinyin"]) < n and len(syl) >= 2:
            style = len(out["pinyin"]) % 3
            out["pinyin"].append(
                "".join(syl) if style == 0 else " ".join(syl) if style == 1
                else " ".join(f"{s}{rng.randint(1, 4)}" for s in syl))
        if len(out["initials"]) < n and len(syl) >= 2:
            out["initials"].append("".join(s[0] for s in syl))
        if len(out["cjk3"]) < n and len(folded) >= 3:
            i = rng.randrange(len(folded) - 2)
            out["cjk3"].append(folded[i:i + 3])
    for name in latin:
        if len(out["latin2"]) >= n:
            break
        words = [w for w in name.lower().split() if len(w) >= 2]
        w = rng.choice(words)
        i = rng.randrange(len(w) - 1)
        out["latin2"].append(w[i:i + 2])
    short = [k for k, v in out.items() if len(v) < n]
    if short:
        raise RuntimeError(f"could not draw {n} queries for {short}: is the demo data Chinese?")
    return out


async def _measure(path: Path, queries: dict[str, list[str]], scan_n: int
                   ) -> dict[str, dict[str, object]]:
    crm = await Crm.open(path, CrmSettings())
    bare = sqlite3.connect(str(path))
    schema.configure(bare)
    region = crm.settings.default_region
    clock = time.perf_counter_ns
    result: dict[str, dict[str, object]] = {}
    try:
        for qs in queries.values():  # warm the page cache and statement caches
            for q in qs[:10]:
                await crm.customers.search(q)
        for kind, qs in queries.items():
            print(f"[bench] {kind}: {len(qs)} searches, {min(scan_n, len(qs))} scans",
                  file=sys.stderr, flush=True)
            fast: list[float] = []
            scan: list[float] = []
            same = True
            totals: list[int] = []
            for i, q in enumerate(qs):
                t0 = clock()
                page = await crm.customers.search(q)
                t1 = clock()
                fast.append((t1 - t0) / 1e6)
                totals.append(page.total)
                if i < scan_n:
                    plan = search_query.plan_search(q, region)
                    t2 = clock()
                    bare.execute("BEGIN")
                    total, ids = search_query.scan_customers(bare, plan, page.limit, 0)
                    bare.execute("COMMIT")
                    t3 = clock()
                    scan.append((t3 - t2) / 1e6)
                    if (total, ids) != (page.total, [c.id for c in page.items]):
                        same = False
                        print(f"[bench] {kind} {q!r}: search {page.total} vs scan {total}",
                              file=sys.stderr, flush=True)
            result[kind] = {
                "p50_ms": round(_pct(fast, 0.5), 2),
                "p99_ms": round(_pct(fast, 0.99), 2),
                "scan_p50_ms": round(_pct(scan, 0.5), 1),
                "scan_p99_ms": round(_pct(scan, 0.99), 1),
                "same_results": same,
                "median_matches": int(_pct([float(t) for t in totals], 0.5)),
                "max_matches": max(totals),
                "examples": qs[:3],
            }
    finally:
        bare.close()
        await crm.close()
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--json", action="store_true", help="print one JSON object (always on)")
    p.add_argument("--quick", action="store_true", help="100,000 customers instead of 1,000,000")
    p.add_argument("--customers", type=int, help="override the number of customers")
    p.add_argument("--queries", type=int, default=200, help="timed searches per kind")
    p.add_argument("--scan-queries", type=int, help="scans per kind (default 30, 10 at 1M)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--db", type=Path, help="where to keep (and reuse) the built file")
    p.add_argument("--rebuild", action="store_true", help="build even if the file exists")
    args = p.parse_args(argv)
    customers = args.customers or (100_000 if args.quick else 1_000_000)
    scan_n = args.scan_queries or (30 if customers <= 200_000 else 10)
    path = args.db or _cache_path(customers, args.seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if args.rebuild:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    reused = path.exists()
    t0 = time.perf_counter()
    if not reused:
        tmp = path.with_suffix(".building")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
        build_demo_database(tmp, customers=customers, seed=args.seed, progress=sys.stderr)
        tmp.rename(path)
    build_s = time.perf_counter() - t0
    conn = sqlite3.connect(str(path))
    try:
        have = int(conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0])
        chinese = int(conn.execute(
            "SELECT COUNT(*) FROM customer_search WHERE pinyin <> ''").fetchone()[0])
    finally:
        conn.close()
    if have != customers:
        raise SystemExit(f"{path} holds {have} customers, not {customers}")
    queries = _queries(path, args.queries, random.Random(args.seed))
    kinds = asyncio.run(_measure(path, queries, scan_n))
    result: dict[str, object] = {
        "benchmark": "crm_search",
        "customers": customers,
        "chinese_names": chinese,
        "db_mb": round(path.stat().st_size / 1e6, 1),
        "build_s": None if reused else round(build_s, 1),
        "reused_db": reused,
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "queries_per_kind": args.queries,
        "scans_per_kind": scan_n,
        "kinds": kinds,
        "goal_p99_ms": GOAL_P99_MS,
        "goal_met": all(float(str(k["p99_ms"])) < GOAL_P99_MS for k in kinds.values()),
        "all_same_results": all(bool(k["same_results"]) for k in kinds.values()),
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
