"""The routing simulation (whatif/simulation.py, on whatif/traffic.py's synthetic days):
identical traffic for every policy, figures that agree with the engine's own statistics, and
app_queue-like strategies that behave as app_queue's do; benchmarks.routing_quality runs it."""

from __future__ import annotations

import random

import pytest

from benchmarks.routing_quality import run
from whatif.simulation import (
    APP_QUEUE_STRATEGIES,
    POLICIES,
    AgentSpec,
    AppQueueSim,
    Caller,
    ProjectSim,
    simulation,
    summarise,
)
from whatif.traffic import SKILLS, make_agents, make_callers


def _caller(i: int, at: float, skill: str = "tech", tier: str = "silver",
            patience: float = 1_000.0, handle: float = 100.0) -> Caller:
    return Caller(f"c{i}", at, skill, tier, 1.0, patience, handle)


def test_small_run_is_deterministic_and_conserves_callers() -> None:
    a = run(quick=True, seed=3, agents=12, hours=0.5)
    b = run(quick=True, seed=3, agents=12, hours=0.5)
    a.pop("wall_s"), b.pop("wall_s")
    assert a == b
    total = sum(a["callers"].values())
    assert total > 0
    assert set(a["policies"]) == {"project", "project_no_skill_hold", *APP_QUEUE_STRATEGIES}
    for p in a["policies"].values():
        assert p["callers"] == total
        assert p["answered"] + p["abandoned"] == total
        for key in ("sl", "sl_top_tier", "asa_s", "abandon_rate", "value_weighted_wait_s"):
            assert p[key] is not None and p[key] >= 0


def test_project_figures_equal_the_engine_statistics() -> None:
    rng = random.Random(5)
    agents = make_agents(10, rng)
    callers = make_callers(agents, 1.1, 0.5, random.Random(6))
    sim = ProjectSim(agents, callers, skills=SKILLS)
    outcomes = sim.run()
    done = [(c, outcomes[c.call_id]) for c in callers]
    mine = summarise(done)
    end = max(c.arrival for c in callers) + 4 * 3600.0
    overall = [r for r in sim.engine.report(end, 0.0) if r.queue == ""][0].today
    assert overall.answered == mine.answered
    assert overall.abandoned == mine.abandoned
    assert overall.service_level == pytest.approx(mine.sl)
    assert overall.asa_s == pytest.approx(mine.asa_s)
    assert overall.abandon_rate == pytest.approx(mine.abandon_rate)


def test_app_queue_tries_lowest_penalty_first_then_strategy() -> None:
    agents = [AgentSpec("a0", {"tech": 2}), AgentSpec("a1", {"tech": 5}),
              AgentSpec("a2", {"tech": 5})]
    for strategy in APP_QUEUE_STRATEGIES:
        sim = AppQueueSim(agents, [_caller(0, 1.0)], strategy, seed=1, skills=SKILLS)
        sim.run()
        # Penalty 0 (level 5) members only; a0 (penalty 3) is never tried while they are free.
        assert sim.members["a0"].calls == 0, strategy
        assert sim.members["a1"].calls + sim.members["a2"].calls == 1


def test_leastrecent_and_rrmemory_rotate_and_callers_are_fifo() -> None:
    agents = [AgentSpec("a0", {"tech": 5}), AgentSpec("a1", {"tech": 5})]
    # Three callers arrive together; both agents busy; the third waits for the first free agent.
    callers = [_caller(0, 1.0, handle=50), _caller(1, 1.1, handle=10), _caller(2, 1.2)]
    for strategy in ("leastrecent", "rrmemory"):
        sim = AppQueueSim(agents, callers, strategy, seed=1, skills=SKILLS)
        out = sim.run()
        assert out["c0"].answered and out["c1"].answered and out["c2"].answered
        # c2 waits for a1 (free after its 10 s call + 10 s wrap-up), not for a0.
        assert out["c2"].wait == pytest.approx(1.1 + 10 * (1.4 - 0.5) + 10 - 1.2)


def test_impatient_callers_abandon_in_every_policy() -> None:
    agents = [AgentSpec("a0", {"tech": 3})]
    callers = [_caller(0, 1.0, handle=500), _caller(1, 2.0, patience=5.0)]
    for sim in (ProjectSim(agents, callers, skills=SKILLS),
                AppQueueSim(agents, callers, "ringall", seed=1, skills=SKILLS)):
        out = sim.run()
        assert out["c0"].answered
        assert not out["c1"].answered and out["c1"].wait == pytest.approx(5.0)


def test_every_policy_by_name_and_a_day_without_queues_is_refused() -> None:
    agents = [AgentSpec("a0", {"tech": 3})]
    callers = [_caller(0, 1.0), _caller(1, 2.0)]
    for policy in POLICIES:
        out = simulation(policy, agents, callers, skills=SKILLS).run()
        assert out["c0"].answered and out["c0"].wait == 0.0, policy
        assert set(out) == {"c0", "c1"}
    with pytest.raises(ValueError, match="unknown app_queue strategy 'fifo'"):
        simulation("fifo", agents, callers, skills=SKILLS)
    with pytest.raises(ValueError, match="needs the"):
        simulation("project", agents, callers)
    with pytest.raises(ValueError, match="needs the"):
        simulation("rrmemory", agents, callers)


def test_replayed_days_against_what_happened() -> None:
    from benchmarks.routing_quality import run_replay

    r = run_replay(seeds=(2,), holds=(2.0,), day_sizes=((6, 0.5),), loads=(1.0,))
    assert r["mode"] == "replay" and r["holds"] == {"project_hold_2s": 2.0}
    (day,) = r["runs"]
    assert set(day["policies"]) == {*POLICIES, "project_hold_2s"}
    # The recorded policy replays exactly as it happened; the others come out of the replay's
    # model (extracted arrivals and patience), not out of the callers' true patience.
    proj = day["policies"]["project"]
    assert proj["replayed"]["sl"] == proj["direct"]["sl"]
    assert proj["replayed"]["abandon_rate"] == proj["direct"]["abandon_rate"]
    assert r["replay_error_sl"]["project"] == 0.0
    for p in day["policies"].values():
        for how in ("replayed", "direct"):
            assert 0.0 <= p[how]["sl"] <= 1.0 and 0.0 <= p[how]["abandon_rate"] <= 1.0
    assert r["mean"]["rrmemory"]["direct"]["sl"] == day["policies"]["rrmemory"]["direct"]["sl"]
    best = max(day["policies"][s]["direct"]["sl"] for s in APP_QUEUE_STRATEGIES)
    assert r["project_minus_app_queue"]["direct_sl"]["best"] == pytest.approx(
        proj["direct"]["sl"] - best)
