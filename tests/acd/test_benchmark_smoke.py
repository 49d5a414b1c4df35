"""The routing benchmark runs, and its indexed picks agree with the reference scan."""

from __future__ import annotations

from benchmarks.acd_routing import run


def test_benchmark_small_run_agrees_with_reference() -> None:
    r = run(quick=True, seed=7, rounds=15, ref_every=1)
    assert r["same_picks"] is True and r["mismatches"] == 0
    assert r["calls"] == 10_000 and r["agents"] == 2_000 and r["skills"] == 50
    assert r["reference_decisions_sampled"] == r["decisions"] > 0
    assert r["offers_made"] >= 15  # every freed senior found a waiting call
    for key in ("decisions_per_s", "p50_us", "p99_us", "reference_decisions_per_s", "speedup"):
        assert r[key] > 0
