"""The pacing on seeded simulated traffic (the benchmark's simulation, small runs).

The property: the predictive mode never lets the rolling abandon rate pass the 3% limit, checked
at every abandon, here with a 10-minute window (so that live answers age out during the run) and
with the regulatory 24 h window, over several seeds and campaign shapes.
"""

from __future__ import annotations

import pytest

from benchmarks.dialer import MODES, Params, Sim, Traffic, main, run


@pytest.mark.parametrize("params", [
    Params(agents=20, live_answer_rate=0.25, hours=1.0, seed=1),
    Params(agents=12, live_answer_rate=0.5, machine_rate=0.1, hours=1.0, seed=2),
    Params(agents=40, live_answer_rate=0.6, machine_rate=0.1, aht=60, wrapup=5, hours=0.5,
           seed=3),
    Params(agents=6, live_answer_rate=0.35, hours=1.0, seed=4),
])
@pytest.mark.parametrize("windows", [(("10m", 600.0, 10.0),), None])
def test_predictive_never_exceeds_the_limit_in_a_rolling_window(params, windows) -> None:  # type: ignore[no-untyped-def]
    sim = Sim(params, Traffic(params), "predictive", windows=windows)
    r = sim.run()
    assert sim.r.window_violations == 0
    assert r["max_abandon_rate_24h_window"] <= 0.03
    assert r["live_answers"] > 50  # the run did real work
    assert r["max_wait_s"] <= 2.0


def test_identical_traffic_for_every_mode() -> None:
    p = Params(agents=10, hours=0.2, seed=9)
    a, b = Traffic(p), Traffic(p)
    assert [b[k] for k in range(500)] == [a[k] for k in range(500)]


def test_predictive_keeps_agents_busier_than_progressive() -> None:
    p = Params(agents=30, hours=1.0, seed=5)
    prog = Sim(p, Traffic(p), "progressive").run()
    pred = Sim(p, Traffic(p), "predictive").run()
    assert prog["abandoned"] == 0  # a line per idle agent never abandons here
    assert pred["occupancy"] > prog["occupancy"] + 0.1
    assert pred["abandon_rate"] <= 0.03


def test_benchmark_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    r = run(Params(agents=10, hours=0.25, seed=1), extra_seeds=1)
    assert set(r["modes"]) == set(MODES)
    for m in r["modes"].values():
        assert 0 <= m["abandon_rate"] <= 1 and 0 <= m["occupancy"] <= 1
        assert m["calls_placed"] > 0 and m["talk_min_per_agent_hour"] >= 0
    assert "2" in r["other_seeds"]
    assert main(["--json", "--quick", "--agents", "5", "--hours", "0.1"]) == 0
    assert '"modes"' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--agents", "0"])
