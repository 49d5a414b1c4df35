"""benchmarks.ivr on a handful of callers: it runs, every call finishes, figures are present."""

from __future__ import annotations

from benchmarks.ivr import _main


async def test_small_run() -> None:
    out = await _main(24, seed=3, scale=0.005, customers=100, ramp_s=0.1)
    assert out["callers"] == 24 and out["errors"] == 0 and out["unfinished"] == 0
    assert out["steps"] > 24 and 0 < out["p50_ms"] <= out["p99_ms"] <= out["max_ms"]
    assert sum(out["outcomes"].values()) == 24
    assert out["outcomes"].get("self_service", 0) > 0
    assert out["baseline_bare_agi"]["errors"] == 0
