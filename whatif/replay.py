"""Replays a day's arrivals (whatif/arrivals.py) through the discrete-event routing simulation
(whatif/simulation.py, which benchmarks/routing_quality.py runs on synthetic days), under another
roster, other skills or another routing policy, and computes the simulation's figures. Pure: no
I/O; the simulation runs faster than real time.

`project` and `project_no_skill_hold` drive the real engine (acd.engine.AcdEngine) with the
configured [acd] settings (tier weights, aging, the queues' escalation ladders, selection,
wrap-up, service level); the app_queue-like strategies are whatif/simulation.py's. What a replay
changes from the recorded day, and what it keeps:
- each queue of the day is a simulated queue whose one skill is the queue itself: an agent's
  level in it is their CRM level in the queue's configured skills (the lowest of them), or
  DEFAULT_LEVEL when the CRM has none; overflows, callbacks and announcements are not replayed
  (max_wait_s is lifted), and a call waits in the queue where its outcome happened;
- a caller keeps their arrival time, tier, value, patience and recorded talk time whoever answers
  (handle time = talk + the queue's configured wrap-up); with `skill_speed`, the simulation's
  model instead: the talk time is rescaled from the recorded agent's level in the queue to the
  answering agent's (talk x (1.4 - 0.1 x new level) / (1.4 - 0.1 x recorded level)), so that a
  policy that matches skills better gets the credit the benchmark gives it (without it, every
  policy inherits the recorded day's skill fit); offers are answered at once (no ring time, no
  ring-no-answer);
- the roster is logged in all day: login hours and pauses are not replayed.

Figures (per policy, the names of whatif/simulation.py): `sl` answered within the queue's
service_level_s / (answered + abandoned) (acd/metrics.py), `sl_top_tier` the same for platinum
and gold callers, `asa_s`, `abandon_rate`, `value_weighted_wait_s` (sum of wait x value / sum of
value; the wait runs to the answer or the abandon), `aht_s` (talk + wrap-up).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from acd import metrics
from config.acd import AcdSettings, QueueSettings
from whatif.arrivals import Arrival
from whatif.errors import WhatIfError
from whatif.simulation import POLICIES, TOP_TIERS, AgentSpec, Caller, handle_factor, simulation

DEFAULT_LEVEL = 3
FIGURES: tuple[str, ...] = ("callers", "answered", "abandoned", "sl", "sl_top_tier", "asa_s",
                            "abandon_rate", "value_weighted_wait_s", "aht_s")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One caller's fate, from the log (actual) or from a replay."""

    queue: str
    tier: str
    value: float
    answered: bool
    wait_s: float
    handle_s: float | None = None


def check_policies(names: Sequence[str]) -> list[str]:
    bad = [n for n in names if n not in POLICIES]
    if bad:
        raise WhatIfError(f"unknown policy {bad[0]!r}; use one of {', '.join(POLICIES)}")
    return list(dict.fromkeys(names))


def figures(done: Sequence[Outcome], sl_s: Mapping[str, float]) -> dict[str, Any]:
    """The simulation's figures over these outcomes, each queue with its own service level."""

    def sl(sel: list[Outcome]) -> float | None:
        hits = sum(1 for o in sel if o.answered
                   and metrics.within_service_level(o.wait_s, sl_s.get(o.queue, 20.0)))
        return metrics.ratio(hits, len(sel))

    answered = [o for o in done if o.answered]
    handled = [o.handle_s for o in answered if o.handle_s is not None]
    value_sum = sum(o.value for o in done)
    return {
        "callers": len(done),
        "answered": len(answered),
        "abandoned": len(done) - len(answered),
        "sl": sl(list(done)),
        "sl_top_tier": sl([o for o in done if o.tier in TOP_TIERS]),
        "asa_s": metrics.asa(sum(o.wait_s for o in answered), len(answered)),
        "abandon_rate": metrics.abandon_rate(len(answered), len(done) - len(answered)),
        "value_weighted_wait_s": (sum(o.value * o.wait_s for o in done) / value_sum
                                  if value_sum > 0 else None),
        "aht_s": metrics.aht(sum(handled), len(handled)),
    }


def recorded_outcomes(arrivals: Sequence[Arrival]) -> list[Outcome]:
    return [Outcome(a.queue, a.tier, a.value, a.outcome == "answered", a.wait_s, a.handle_s)
            for a in arrivals]


# ----------------------------------------------------------------------------------- roster


def recorded_roster(answered_in: Mapping[str, set[str]],
                    crm_skills: Mapping[str, Mapping[str, int]],
                    queues: Mapping[str, QueueSettings]) -> list[AgentSpec]:
    """The day's agents (those who answered calls), each a member of the queues they answered
    in, and of any other replayed queue whose configured skills their CRM skills cover; levels
    from the CRM (DEFAULT_LEVEL where it has none). Ordered busiest first is the caller's job."""
    out = []
    for agent in sorted(answered_in):
        mine = crm_skills.get(agent, {})
        levels: dict[str, int] = {}
        for q, qs in queues.items():
            need = qs.skills or [q]
            have = [mine[s] for s in need if s in mine]
            if len(have) == len(need):
                levels[q] = min(have)
            elif q in answered_in[agent]:
                levels[q] = min(have) if have else DEFAULT_LEVEL
        out.append(AgentSpec(agent, levels))
    return out


def resize(roster: Sequence[AgentSpec], n: int, busiest: Mapping[str, int]) -> list[AgentSpec]:
    """`n` agents: the `n` busiest of the roster, or the roster plus copies of its agents (in
    busiest-first order, named agent+1, agent+2 ...) until there are `n`."""
    if n < 1:
        raise WhatIfError(f"--agents must be at least 1, not {n}")
    if not roster:
        raise WhatIfError("no agents answered calls that day: give a --roster")
    ranked = sorted(roster, key=lambda a: (-busiest.get(a.agent_id, 0), a.agent_id))
    if n <= len(ranked):
        return ranked[:n]
    out = list(ranked)
    k = 0
    while len(out) < n:
        base = ranked[k % len(ranked)]
        out.append(AgentSpec(f"{base.agent_id}+{k // len(ranked) + 1}", dict(base.skills)))
        k += 1
    return out


def with_skills(roster: Sequence[AgentSpec], skills: Mapping[str, int]) -> list[AgentSpec]:
    """Every agent with exactly these queue levels (cross-training, or a narrower roster)."""
    return [AgentSpec(a.agent_id, dict(skills)) for a in roster]


# ----------------------------------------------------------------------------------- replay


def _sim_settings(acd: AcdSettings, queues: Mapping[str, QueueSettings]) -> AcdSettings:
    sim = [q.model_copy(update={"skills": [name], "max_wait_s": 86_000.0, "overflow_to": "",
                                "announce_every_s": 0.0})
           for name, q in queues.items()]
    return acd.model_copy(update={"queues": sim})


def replay(arrivals: Sequence[Arrival], roster: Sequence[AgentSpec], *, acd: AcdSettings,
           policies: Sequence[str], seed: int = 1, skill_speed: bool = False,
           recorded_levels: Mapping[str, Mapping[str, int]] | None = None,
           progress: Callable[[str], None] | None = None) -> dict[str, dict[str, Any]]:
    """Policy name -> figures of the day's arrivals replayed under that policy and roster.
    `recorded_levels` (agent -> queue -> level, the recorded roster's) with `skill_speed`."""
    if not arrivals:
        raise WhatIfError("no arrivals to replay")
    configured = {q.name: q for q in acd.queues}
    names = sorted({a.queue for a in arrivals})
    queues = {n: configured.get(n) or QueueSettings(name=n, skills=[n]) for n in names}
    unserved = [n for n in names if not any(n in a.skills for a in roster)]
    if unserved:
        raise WhatIfError(f"no agent of the roster serves queue {unserved[0]!r}; give --skills "
                          "or a --roster that does")
    # Engine time starts just before the first arrival, on a whole second of the wall clock
    # (the engine's timers run on the simulation's one-second ticks).
    origin = math.floor(min(a.at for a in arrivals)) - 1.0
    levels = recorded_levels or {}

    def base(a: Arrival) -> float:
        if not skill_speed:
            return a.talk_s
        return a.talk_s / handle_factor(levels.get(a.agent, {}).get(a.queue, DEFAULT_LEVEL))

    callers = [Caller(call_id=a.call_id, arrival=a.at - origin, skill=a.queue, tier=a.tier,
                      value=a.value, patience=a.patience_s, base_handle=base(a))
               for a in arrivals]
    wrapup = {n: q.wrapup_s for n, q in queues.items()}
    sl_s = {n: q.service_level_s for n, q in queues.items()}
    sim_acd = _sim_settings(acd, queues)
    agents = list(roster)
    out: dict[str, dict[str, Any]] = {}
    for name in check_policies(policies):
        if progress is not None:
            progress(f"whatif: {name} ({len(callers)} callers, {len(agents)} agents)")
        res = simulation(name, agents, callers, acd=sim_acd, seed=seed, wrapup_s=wrapup,
                         handle_by_level=skill_speed).run()
        done = [Outcome(c.skill, c.tier, c.value, res[c.call_id].answered, res[c.call_id].wait,
                        res[c.call_id].handle + wrapup[c.skill] if res[c.call_id].answered
                        else None)
                for c in callers]
        out[name] = figures(done, sl_s)
    return out
