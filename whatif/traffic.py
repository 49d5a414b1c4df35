"""A synthetic contact-center day for the routing simulation (whatif/simulation.py): agents with
skills and levels, and callers with arrival time, queue, tier, customer value, patience and base
handle time. Pure: every draw comes from the random.Random passed in, so a seed gives one day.

The model (stated because it drives every result computed on such a day):
- Three skills, one queue each (SKILLS), in the shares SKILL_MIX of callers and of agents'
  primary skills. An agent has a primary skill at level 1..5 and, half of them, a second skill at
  level 1..3.
- Callers arrive as a Poisson process whose rate makes `load` the offered load (1.0: as many
  calls as the agents can handle at their mean primary level, wrap-up included).
- Customer value by tier (log-normal with sigma 0.5 around a per-tier mean): the top 20% of
  callers (platinum and gold) carry about 80% of the value, as in the CRM's scoring.
- Patience: exponential, mean MEAN_PATIENCE_S. Base handle time: 10 s + exponential with mean
  MEAN_BASE_HANDLE_S (whatif/simulation.py scales it by the answering agent's level).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from whatif.simulation import WRAPUP_S, AgentSpec, Caller, handle_factor

SKILLS: tuple[str, ...] = ("tech", "billing", "sales")
SKILL_MIX: tuple[float, ...] = (0.5, 0.3, 0.2)  # share of callers (and agents' primary skills)
# (tier, share of callers, mean customer value)
TIER_MIX: tuple[tuple[str, float, float], ...] = (
    ("platinum", 0.05, 10_000.0), ("gold", 0.15, 3_000.0), ("silver", 0.30, 500.0),
    ("bronze", 0.30, 150.0), ("unknown", 0.20, 0.0))
# Customer value by tier: the tier means above.
TIER_VALUES: dict[str, float] = {tier: mean for tier, _, mean in TIER_MIX}
MEAN_BASE_HANDLE_S = 180.0
MEAN_PATIENCE_S = 120.0


def make_agents(n: int, rng: random.Random) -> list[AgentSpec]:
    out = []
    for i in range(n):
        primary = rng.choices(SKILLS, weights=SKILL_MIX)[0]
        skills = {primary: rng.randint(1, 5)}
        if rng.random() < 0.5:
            other = rng.choice([s for s in SKILLS if s != primary])
            skills[other] = rng.randint(1, 3)
        out.append(AgentSpec(f"a{i:04d}", skills))
    return out


def make_callers(agents: Sequence[AgentSpec], load: float, hours: float,
                 rng: random.Random) -> list[Caller]:
    # Capacity in calls/s: each agent handles one call per (handle + wrap-up); the handle factor
    # is taken at the agents' mean primary level so that `load` is roughly the offered load.
    mean_level = sum(max(a.skills.values()) for a in agents) / len(agents)
    per_call = MEAN_BASE_HANDLE_S * handle_factor(round(mean_level)) + WRAPUP_S
    rate = load * len(agents) / per_call
    out: list[Caller] = []
    t = 0.0
    horizon = hours * 3600.0
    tiers = [t_ for t_, _, _ in TIER_MIX]
    weights = [w for _, w, _ in TIER_MIX]
    while True:
        t += rng.expovariate(rate)
        if t >= horizon:
            return out
        tier = rng.choices(tiers, weights=weights)[0]
        mean = TIER_VALUES[tier]
        # Log-normal with sigma 0.5 around the tier mean (mu chosen so the mean is `mean`).
        value = rng.lognormvariate(math.log(mean) - 0.125, 0.5) if mean > 0 else 0.0
        out.append(Caller(
            call_id=f"c{len(out):06d}", arrival=t,
            skill=rng.choices(SKILLS, weights=SKILL_MIX)[0], tier=tier, value=value,
            patience=rng.expovariate(1.0 / MEAN_PATIENCE_S),
            base_handle=rng.expovariate(1.0 / MEAN_BASE_HANDLE_S) + 10.0,
        ))
