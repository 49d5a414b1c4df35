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
stderr.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any

from whatif.simulation import (
    APP_QUEUE_STRATEGIES,
    POLICIES,
    SL_S,
    WRAPUP_S,
    Caller,
    Outcome,
    simulation,
    summarise,
)
from whatif.traffic import MEAN_BASE_HANDLE_S, MEAN_PATIENCE_S, SKILLS, make_agents, make_callers

LOADS = {"normal": 0.85, "overload": 1.10}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------- run


def run(*, quick: bool = False, seed: int = 1, agents: int | None = None,
        hours: float | None = None) -> dict[str, Any]:
    n_agents = agents or (30 if quick else 100)
    n_hours = hours or (1.5 if quick else 8.0)
    rng = random.Random(seed)
    specs = make_agents(n_agents, rng)
    days = {name: make_callers(specs, load, n_hours, random.Random(seed * 1000 + i))
            for i, (name, load) in enumerate(LOADS.items())}
    policies: dict[str, Any] = {}
    t0 = time.perf_counter()
    for name in POLICIES:
        by_load: dict[str, Any] = {}
        pooled: list[tuple[Caller, Outcome]] = []
        for load_name, callers in days.items():
            log(f"routing_quality: {name} / {load_name} ({len(callers)} callers)")
            outcomes = simulation(name, specs, callers, skills=SKILLS, seed=seed).run()
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


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--json", action="store_true", help="print one JSON object (the default)")
    p.add_argument("--quick", action="store_true", help="30 agents, 1.5 hours")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--agents", type=int)
    p.add_argument("--hours", type=float)
    a = p.parse_args(argv)
    print(json.dumps(run(quick=a.quick, seed=a.seed, agents=a.agents, hours=a.hours)))


if __name__ == "__main__":
    main()
