"""What-if on identical traffic: this project's value-and-skill routing against app_queue-like
strategies.

    python -m benchmarks.routing_quality --json [--quick] [--seed K] [--agents N] [--hours H]

Every policy sees the same seeded synthetic day (whatif/traffic.py: callers with arrival time,
queue, tier, customer value, patience and base handle time; agents with skills and levels),
simulated faster than real time by whatif/simulation.py, which describes the policies (`project`
and `project_no_skill_hold` run the real engine with the shipped defaults; ringall, leastrecent,
fewestcalls, rrmemory are app_queue-like, skill levels as member penalties), the model
assumptions (handle time by the answering agent's level, no ring time, wrap-up 10 s, patience
exponential with mean 120 s) and the figures (`sl`, `sl_top_tier`, `asa_s`, `abandon_rate`,
`value_weighted_wait_s`, `aht_s`). Two load levels run: `normal` (offered load 85% of capacity)
and `overload` (110%): routing matters most when not everyone can be served at once.

One JSON object on stdout (`policies`: pooled over both loads, each with `by_load`); progress on
stderr. `--holds 1,2` adds `project_hold_1s`, `project_hold_2s`: the engine with the shipped
ladder's level-3 step lasting that long (the shipped ladder: `hold_ladder`).

    python -m benchmarks.routing_quality --replay --json [--quick] [--seeds 1,2] [--holds 1,2]

Replayed days: what `run_server.py whatif` would say, against what happened. Each day (agents,
hours, load, seed) is generated as above and routed by the real engine with the shipped [acd]
defaults; the event log it would write (whatif/recording.py) is replayed under every policy as
`run_server.py whatif --skill-speed` replays a recorded day (arrivals and censored patience
extracted from the log). `replayed` holds those figures; `direct` the same callers simulated
under each policy with their true patience (what would have happened). Their difference is the
replay's error; the recorded policy (`project`) replays exactly as recorded. `mean` averages
each over the days; `project_minus_app_queue` compares the project's default with the best and
worst app_queue-like strategy, replayed and direct.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any

from config.acd import EscalationStep, QueueSettings
from whatif.recording import record, replay_recorded
from whatif.simulation import (
    APP_QUEUE_STRATEGIES,
    POLICIES,
    SL_S,
    WRAPUP_S,
    AgentSpec,
    Caller,
    Outcome,
    Simulation,
    default_settings,
    simulation,
    summarise,
)
from whatif.traffic import MEAN_BASE_HANDLE_S, MEAN_PATIENCE_S, SKILLS, make_agents, make_callers

LOADS = {"normal": 0.85, "overload": 1.10}
# Replayed days: (agents, hours) x loads x seeds.
REPLAY_DAYS = ((16, 4.0), (60, 8.0))
REPLAY_LOADS = (0.9, 1.0, 1.1)
REPLAY_SEEDS = (1, 2, 3, 4, 5)
REPLAY_DAYS_QUICK = ((16, 2.0),)
REPLAY_LOADS_QUICK = (0.9, 1.1)
REPLAY_SEEDS_QUICK = (1, 2, 3)
REPLAY_START = 1_772_438_400.0 + 8 * 3600.0  # 2026-03-02 08:00 UTC: a recorded day's wall time
REPLAY_FIGURES = ("sl", "sl_top_tier", "abandon_rate", "asa_s")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------- run


def hold_ladder(hold_s: float) -> list[EscalationStep]:
    """The shipped escalation ladder with its level-3 step lasting `hold_s` seconds."""
    shipped = QueueSettings(name="q").escalation
    return [shipped[0], shipped[1].model_copy(update={"after_s": hold_s}), *shipped[2:]]


def _hold_name(hold_s: float) -> str:
    return f"project_hold_{hold_s:g}s"


def _simulate(name: str, specs: list[AgentSpec], callers: list[Caller], seed: int,
              holds: dict[str, float]) -> Simulation:
    if name in holds:
        acd = default_settings(SKILLS, escalation=hold_ladder(holds[name]))
        return simulation("project", specs, callers, acd=acd, seed=seed)
    return simulation(name, specs, callers, skills=SKILLS, seed=seed)


def run(*, quick: bool = False, seed: int = 1, agents: int | None = None,
        hours: float | None = None, holds: tuple[float, ...] = ()) -> dict[str, Any]:
    n_agents = agents or (30 if quick else 100)
    n_hours = hours or (1.5 if quick else 8.0)
    rng = random.Random(seed)
    specs = make_agents(n_agents, rng)
    days = {name: make_callers(specs, load, n_hours, random.Random(seed * 1000 + i))
            for i, (name, load) in enumerate(LOADS.items())}
    policies: dict[str, Any] = {}
    t0 = time.perf_counter()
    variants = {_hold_name(h): h for h in holds}
    for name in (*POLICIES, *variants):
        by_load: dict[str, Any] = {}
        pooled: list[tuple[Caller, Outcome]] = []
        for load_name, callers in days.items():
            log(f"routing_quality: {name} / {load_name} ({len(callers)} callers)")
            outcomes = _simulate(name, specs, callers, seed, variants).run()
            # Every caller ends answered or abandoned: patience timers always fire.
            done = [(c, outcomes[c.call_id]) for c in callers]
            pooled += done
            by_load[load_name] = summarise(done).as_dict()
        policies[name] = {**summarise(pooled).as_dict(), "by_load": by_load}
    base = [p for n, p in policies.items() if n in APP_QUEUE_STRATEGIES]
    proj = policies["project"]
    return {
        "benchmark": "routing_quality",
        "quick": quick,
        "seed": seed,
        "agents": n_agents,
        "hours": n_hours,
        "loads": LOADS,
        "callers": {k: len(v) for k, v in days.items()},
        "policies": policies,
        "project_vs_best_app_queue": {
            "sl_top_tier": proj["sl_top_tier"] - max(p["sl_top_tier"] for p in base),
            "value_weighted_wait_s": (proj["value_weighted_wait_s"]
                                      - min(p["value_weighted_wait_s"] for p in base)),
            "abandon_rate": proj["abandon_rate"] - min(p["abandon_rate"] for p in base),
        },
        "model": {"handle_time": "base x (1.4 - 0.1 x level)", "ring_time_s": 0,
                  "wrapup_s": WRAPUP_S, "mean_patience_s": MEAN_PATIENCE_S,
                  "mean_base_handle_s": MEAN_BASE_HANDLE_S, "sl_s": SL_S},
        "wall_s": round(time.perf_counter() - t0, 2),
    }


def _figures(figs: dict[str, Any]) -> dict[str, Any]:
    return {k: figs[k] for k in REPLAY_FIGURES}


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def run_replay(*, quick: bool = False, seeds: tuple[int, ...] | None = None,
               holds: tuple[float, ...] = (),
               day_sizes: tuple[tuple[int, float], ...] | None = None,
               loads: tuple[float, ...] | None = None) -> dict[str, Any]:
    """Replayed days against what happened on them (the module docstring); `day_sizes`
    ((agents, hours), ...) and `loads` replace the defaults (tests)."""
    day_sizes = day_sizes or (REPLAY_DAYS_QUICK if quick else REPLAY_DAYS)
    loads = loads or (REPLAY_LOADS_QUICK if quick else REPLAY_LOADS)
    seeds = seeds or (REPLAY_SEEDS_QUICK if quick else REPLAY_SEEDS)
    variants = {_hold_name(h): h for h in holds}
    names = (*POLICIES, *variants)
    shipped = default_settings(SKILLS)
    runs: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for n_agents, n_hours in day_sizes:
        for load in loads:
            for seed in seeds:
                specs = make_agents(n_agents, random.Random(seed))
                callers = make_callers(specs, load, n_hours, random.Random(seed * 7 + 1))
                log(f"routing_quality --replay: {n_agents} agents, {n_hours:g} h, load {load:g},"
                    f" seed {seed} ({len(callers)} callers)")
                rec = record(specs, callers, shipped, start=REPLAY_START)
                _, replayed = replay_recorded(rec, specs, shipped, policies=POLICIES, seed=seed,
                                              skill_speed=True)
                for name, hold_s in variants.items():
                    acd = default_settings(SKILLS, escalation=hold_ladder(hold_s))
                    _, r = replay_recorded(rec, specs, acd, policies=["project"], seed=seed,
                                           skill_speed=True)
                    replayed[name] = r["project"]
                policies: dict[str, Any] = {}
                for name in names:
                    out = _simulate(name, specs, callers, seed, variants).run()
                    direct = summarise([(c, out[c.call_id]) for c in callers]).as_dict()
                    policies[name] = {"replayed": _figures(replayed[name]),
                                      "direct": _figures(direct)}
                runs.append({"agents": n_agents, "hours": n_hours, "load": load, "seed": seed,
                             "callers": len(callers), "policies": policies})
    mean = {name: {how: {k: _mean([r["policies"][name][how][k] for r in runs])
                         for k in REPLAY_FIGURES}
                   for how in ("replayed", "direct")}
            for name in names}

    def versus(how: str, figure: str) -> dict[str, float | None]:
        proj = mean["project"][how][figure]
        base = [mean[s][how][figure] for s in APP_QUEUE_STRATEGIES]
        vals = [b for b in base if b is not None]
        if proj is None or not vals:
            return {"best": None, "worst": None}
        return {"best": proj - max(vals), "worst": proj - min(vals)}

    return {
        "benchmark": "routing_quality",
        "mode": "replay",
        "quick": quick,
        "days": [{"agents": a, "hours": h} for a, h in day_sizes],
        "loads": list(loads),
        "seeds": list(seeds),
        "recorded_with": "project, the shipped [acd] defaults",
        "talk_time": "recorded, rescaled by agent level (whatif --skill-speed)",
        "holds": {name: hold_s for name, hold_s in variants.items()},
        "mean": mean,
        "project_minus_app_queue": {
            f"{how}_{figure}": versus(how, figure)
            for how in ("replayed", "direct") for figure in ("sl", "sl_top_tier")},
        "replay_error_sl": {
            name: _mean([abs(r["policies"][name]["replayed"]["sl"]
                             - r["policies"][name]["direct"]["sl"]) for r in runs])
            for name in names},
        "runs": runs,
        "wall_s": round(time.perf_counter() - t0, 2),
    }


def _numbers(text: str, kind: type[int] | type[float]) -> tuple[Any, ...]:
    try:
        return tuple(kind(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise SystemExit(f"error: {text!r} is not a comma-separated list of numbers") from None


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--json", action="store_true", help="print one JSON object (the default)")
    p.add_argument("--quick", action="store_true", help="30 agents, 1.5 hours")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--agents", type=int)
    p.add_argument("--hours", type=float)
    p.add_argument("--holds", default="", help="also the shipped ladder with its level-3 step "
                   "lasting these seconds, e.g. 1,2")
    p.add_argument("--replay", action="store_true", help="replayed days against what happened")
    p.add_argument("--seeds", default="", help="--replay: these seeds, e.g. 1,2,3")
    a = p.parse_args(argv)
    holds = _numbers(a.holds, float)
    if a.replay:
        print(json.dumps(run_replay(quick=a.quick, seeds=_numbers(a.seeds, int) or None,
                                    holds=holds)))
        return
    print(json.dumps(run(quick=a.quick, seed=a.seed, agents=a.agents, hours=a.hours,
                         holds=holds)))


if __name__ == "__main__":
    main()
