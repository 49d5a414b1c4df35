"""What-if on identical traffic: this project's value-and-skill routing against app_queue-like
strategies.

    python -m benchmarks.routing_quality --json [--quick] [--seed K] [--agents N] [--hours H]

A discrete-event simulation, faster than real time. Every policy sees the same seeded day: the
same callers (arrival time, queue, tier, customer value, patience, base handle time) and the same
agents (skills and levels). Two load levels run: `normal` (offered load 85% of capacity) and
`overload` (110%): routing matters most when not everyone can be served at once.

Policies
- `project`: the real routing engine (acd.engine.AcdEngine) with the shipped defaults: tier
  priority with wait-time aging, best-skilled agents first for VIP tiers, escalation that widens
  the skill threshold over 0/10/20 s, longest-idle selection.
- `project_no_skill_hold`: the same engine with one escalation step at 0 s (any agent with the
  skill at once): tier priority and best-agent-first for VIPs remain, nobody is held back for a
  better-skilled agent. Comparing the two shows what the skill ladder costs or gains.
- app_queue-like strategies (Asterisk `Queue()`): callers are served first come, first served;
  an agent's skill level becomes a member penalty (penalty = 5 - level) and only the available
  members with the lowest penalty are tried, then the strategy picks among them:
  `ringall` (every such member rings; the first to pick up wins: uniform at random),
  `leastrecent` (longest since their last call ended), `fewestcalls` (fewest calls taken),
  `rrmemory` (round robin, remembering the last member used).

Model assumptions (the same for every policy, stated because they drive the results)
- Handle time = the caller's base handle time x (1.4 - 0.1 x the agent's level in the call's
  skill): a level-5 agent handles a call in 90% of the base time, a level-1 agent in 130%.
- Offers are answered at once (no ring time, no ring-no-answer); wrap-up 10 s after every call.
- Callers hang up after their patience (exponential, mean 120 s) if not answered by then.
- Customer value by tier (log-normal around a per-tier mean): the top 20% of callers (platinum and
  gold) carry about 80% of the value, as in the CRM's scoring.

Figures per policy (definitions as in acd/stats.py; waits run from the caller's arrival)
- `sl`: answered within 20 s / (answered + abandoned); `sl_top_tier`: the same for platinum and
  gold callers only; `asa_s`: mean wait of answered calls; `abandon_rate`: abandoned /
  (answered + abandoned); `value_weighted_wait_s`: sum(wait x value) / sum(value), where wait is
  the time to answer or to abandon; `aht_s`: mean handle time (skill fit shows here).

One JSON object on stdout (`policies`: pooled over both loads, each with `by_load`); progress on
stderr.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from acd.engine import AcdEngine
from acd.model import AgentLogin, CallRemoved, Command, NewCall, Offer
from config.acd import AcdSettings, EscalationStep, QueueSettings

SKILLS = ("tech", "billing", "sales")
SKILL_MIX = (0.5, 0.3, 0.2)  # share of callers (and of agents' primary skills) per skill
TIER_MIX = (("platinum", 0.05, 10_000.0), ("gold", 0.15, 3_000.0), ("silver", 0.30, 500.0),
            ("bronze", 0.30, 150.0), ("unknown", 0.20, 0.0))
TOP_TIERS = frozenset({"platinum", "gold"})
SL_S = 20.0
WRAPUP_S = 10.0
MEAN_BASE_HANDLE_S = 180.0
MEAN_PATIENCE_S = 120.0
LOADS = {"normal": 0.85, "overload": 1.10}
APP_QUEUE_STRATEGIES = ("ringall", "leastrecent", "fewestcalls", "rrmemory")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------- traffic


@dataclass(frozen=True, slots=True)
class Caller:
    call_id: str
    arrival: float
    skill: str
    tier: str
    value: float
    patience: float
    base_handle: float


@dataclass(frozen=True, slots=True)
class AgentSpec:
    agent_id: str
    skills: dict[str, int]


def handle_factor(level: int) -> float:
    return 1.4 - 0.1 * level


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


def make_callers(agents: list[AgentSpec], load: float, hours: float,
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
    means = {t_: m for t_, _, m in TIER_MIX}
    while True:
        t += rng.expovariate(rate)
        if t >= horizon:
            return out
        tier = rng.choices(tiers, weights=weights)[0]
        mean = means[tier]
        # Log-normal with sigma 0.5 around the tier mean (mu chosen so the mean is `mean`).
        value = rng.lognormvariate(math.log(mean) - 0.125, 0.5) if mean > 0 else 0.0
        out.append(Caller(
            call_id=f"c{len(out):06d}", arrival=t,
            skill=rng.choices(SKILLS, weights=SKILL_MIX)[0], tier=tier, value=value,
            patience=rng.expovariate(1.0 / MEAN_PATIENCE_S),
            base_handle=rng.expovariate(1.0 / MEAN_BASE_HANDLE_S) + 10.0,
        ))


# ------------------------------------------------------------------------------------- outcome


@dataclass(slots=True)
class Outcome:
    """What happened to one caller: answered after `wait`, or abandoned after `wait`."""

    answered: bool
    wait: float
    handle: float = 0.0


def summarise(done: list[tuple[Caller, Outcome]]) -> dict[str, Any]:
    """The figures of one or more runs (pairs of caller and outcome). The SL/ASA/abandon
    definitions are those of acd/stats.py."""

    def sl(sel: list[Outcome]) -> float | None:
        return sum(1 for o in sel if o.answered and o.wait <= SL_S) / len(sel) if sel else None

    answered = [o for _, o in done if o.answered]
    abandoned = [o for _, o in done if not o.answered]
    value_sum = sum(c.value for c, _ in done)
    return {
        "callers": len(done),
        "answered": len(answered),
        "abandoned": len(abandoned),
        "sl": sl([o for _, o in done]),
        "sl_top_tier": sl([o for c, o in done if c.tier in TOP_TIERS]),
        "asa_s": sum(o.wait for o in answered) / len(answered) if answered else None,
        "abandon_rate": len(abandoned) / len(done) if done else None,
        "value_weighted_wait_s": (sum(c.value * o.wait for c, o in done) / value_sum
                                  if value_sum > 0 else None),
        "aht_s": (sum(o.handle for o in answered) / len(answered) + WRAPUP_S
                  if answered else None),
    }


# -------------------------------------------------------------------------------- event driver


# Event kinds, ordered so that at equal times departures free agents before arrivals look.
_END, _WRAP, _ARRIVE, _ABANDON, _TICK = 0, 1, 2, 3, 4


class Simulation:
    """Runs one policy over one day. Subclasses decide who takes which call."""

    def __init__(self, agents: list[AgentSpec], callers: list[Caller], *,
                 handle_by_level: bool = True) -> None:
        # handle_by_level=False (whatif/: a recorded day's replay): a caller's base_handle is
        # the recorded talk time, kept whoever answers.
        self.handle_by_level = handle_by_level
        self.agents = {a.agent_id: a for a in agents}
        self.callers = {c.call_id: c for c in callers}
        self.outcomes: dict[str, Outcome] = {}
        self._events: list[tuple[float, int, int, str]] = []
        self._seq = 0
        for c in callers:
            self.push(c.arrival, _ARRIVE, c.call_id)
            self.push(c.arrival + c.patience, _ABANDON, c.call_id)

    def push(self, at: float, kind: int, key: str) -> None:
        self._seq += 1
        heapq.heappush(self._events, (at, kind, self._seq, key))

    def run(self) -> dict[str, Outcome]:
        while self._events:
            at, kind, _, key = heapq.heappop(self._events)
            if kind == _ARRIVE:
                self.arrive(self.callers[key], at)
            elif kind == _ABANDON:
                if key not in self.outcomes:
                    self.outcomes[key] = Outcome(False, at - self.callers[key].arrival)
                    self.abandon(key, at)
            elif kind == _END:
                self.end(key, at)
            elif kind == _WRAP:
                self.wrap_done(key, at)
            else:
                self.tick(at)
        return self.outcomes

    def answered(self, call_id: str, agent_id: str, now: float) -> None:
        c = self.callers[call_id]
        level = self.agents[agent_id].skills.get(c.skill, 1)
        handle = c.base_handle * handle_factor(level) if self.handle_by_level else c.base_handle
        self.outcomes[call_id] = Outcome(True, now - c.arrival, handle)
        self.push(now + handle, _END, call_id)

    # Policy hooks.
    def arrive(self, c: Caller, now: float) -> None:
        raise NotImplementedError

    def abandon(self, call_id: str, now: float) -> None:
        raise NotImplementedError

    def end(self, call_id: str, now: float) -> None:
        raise NotImplementedError

    def wrap_done(self, agent_id: str, now: float) -> None:
        raise NotImplementedError

    def tick(self, now: float) -> None:
        raise NotImplementedError


class ProjectSim(Simulation):
    """The real engine, driven input by input as acd/service.py drives it."""

    def __init__(self, agents: list[AgentSpec], callers: list[Caller], *,
                 hold_for_skill: bool = True, acd: AcdSettings | None = None,
                 handle_by_level: bool = True) -> None:
        super().__init__(agents, callers, handle_by_level=handle_by_level)
        # hold_for_skill=False: no escalation ladder (any skilled agent at once), so tier priority
        # and VIP best-agent choice are what remain of the policy.
        extra: dict[str, Any] = {} if hold_for_skill else {
            "escalation": [EscalationStep(after_s=0, min_skill_level=1)]}
        if acd is None:
            queues = [QueueSettings(name=s, skills=[s], wrapup_s=WRAPUP_S, max_wait_s=86_000,
                                    announce_every_s=0, service_level_s=SL_S, **extra)
                      for s in SKILLS]
            acd = AcdSettings(queues=queues)
        elif extra:  # a given configuration (whatif/): one queue per caller `skill`
            acd = acd.model_copy(update={"queues": [q.model_copy(update=extra)
                                                    for q in acd.queues]})
        self.engine = AcdEngine(acd)
        self.removed: list[CallRemoved] = []
        for a in agents:
            self.apply(self.engine.agent_login(AgentLogin(
                a.agent_id, f"PJSIP/{a.agent_id}", frozenset(a.skills), dict(a.skills)), 0.0), 0.0)
        # The engine times escalation steps and wrap-up itself; it only needs to be asked.
        horizon = max((c.arrival for c in callers), default=0.0) + 4 * 3600.0
        t = 1.0
        while t < horizon:
            self.push(t, _TICK, "")
            t += 1.0

    def apply(self, cmds: list[Command], now: float) -> None:
        work = list(cmds)
        while work:
            cmd = work.pop(0)
            if isinstance(cmd, Offer):
                if cmd.call_id in self.outcomes:
                    # Offered while catching up with the very instant the caller hung up: the
                    # same input retracts it (OfferRetracted follows).
                    continue
                self.answered(cmd.call_id, cmd.agent_id, now)
                work.extend(self.engine.offer_answered(cmd.call_id, now))
            elif isinstance(cmd, CallRemoved):
                self.removed.append(cmd)

    def arrive(self, c: Caller, now: float) -> None:
        self.apply(self.engine.enqueue(NewCall(c.call_id, c.skill, c.tier), now), now)

    def abandon(self, call_id: str, now: float) -> None:
        self.apply(self.engine.abandon(call_id, now), now)

    def end(self, call_id: str, now: float) -> None:
        self.apply(self.engine.call_ended(call_id, now), now)

    def wrap_done(self, agent_id: str, now: float) -> None:  # the engine's own timer does it
        pass

    def tick(self, now: float) -> None:
        self.apply(self.engine.tick(now), now)


@dataclass(slots=True)
class _Member:
    spec: AgentSpec
    busy: bool = False
    last_end: float = 0.0
    calls: int = 0
    order: int = 0


@dataclass(slots=True)
class _AqQueue:
    members: list[_Member] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # FIFO of call ids
    rr_last: int = -1


class AppQueueSim(Simulation):
    """app_queue-like: FIFO callers, penalties from skill levels, a member-choice strategy."""

    def __init__(self, agents: list[AgentSpec], callers: list[Caller], strategy: str,
                 seed: int, *, wrapup_s: Mapping[str, float] | None = None,
                 handle_by_level: bool = True) -> None:
        super().__init__(agents, callers, handle_by_level=handle_by_level)
        self.strategy = strategy
        self.rng = random.Random(seed)
        self.members = {a.agent_id: _Member(a) for a in agents}
        # wrapup_s (whatif/): the queues (caller skills) and each one's wrap-up seconds.
        self.wrapup_s: Mapping[str, float] = wrapup_s or dict.fromkeys(SKILLS, WRAPUP_S)
        self.queues = {s: _AqQueue() for s in self.wrapup_s}
        for a in agents:
            for s in a.skills:
                if s not in self.queues:
                    continue
                m = self.members[a.agent_id]
                q = self.queues[s]
                q.members.append(m)
        for q in self.queues.values():
            for i, m in enumerate(q.members):
                m.order = i  # rrmemory order is per queue; members are re-numbered per pick
        self.agent_of: dict[str, str] = {}

    def _choose(self, skill: str) -> _Member | None:
        q = self.queues[skill]
        free = [(i, m) for i, m in enumerate(q.members) if not m.busy]
        if not free:
            return None
        best = min(5 - m.spec.skills[skill] for _, m in free)
        cands = [(i, m) for i, m in free if 5 - m.spec.skills[skill] == best]
        if self.strategy == "ringall":
            i, m = self.rng.choice(cands)
        elif self.strategy == "leastrecent":
            i, m = min(cands, key=lambda im: (im[1].last_end, im[0]))
        elif self.strategy == "fewestcalls":
            i, m = min(cands, key=lambda im: (im[1].calls, im[0]))
        else:  # rrmemory: the next member after the last one used, wrapping
            after = [im for im in cands if im[0] > q.rr_last]
            i, m = (after or cands)[0]
        q.rr_last = i
        return m

    def _dispatch(self, now: float) -> None:
        # Oldest caller first across queues (equal queue weights); each takes the member its
        # queue's strategy chooses among the lowest-penalty free members.
        while True:
            heads = [(self.callers[q.waiting[0]].arrival, s) for s, q in self.queues.items()
                     if q.waiting]
            progressed = False
            for _, s in sorted(heads):
                q = self.queues[s]
                while q.waiting:
                    m = self._choose(s)
                    if m is None:
                        break
                    call_id = q.waiting.pop(0)
                    m.busy = True
                    m.calls += 1
                    self.agent_of[call_id] = m.spec.agent_id
                    self.answered(call_id, m.spec.agent_id, now)
                    progressed = True
                    break  # re-sort heads: another queue's caller may now be older
            if not progressed:
                return

    def arrive(self, c: Caller, now: float) -> None:
        self.queues[c.skill].waiting.append(c.call_id)
        self._dispatch(now)

    def abandon(self, call_id: str, now: float) -> None:
        self.queues[self.callers[call_id].skill].waiting.remove(call_id)

    def end(self, call_id: str, now: float) -> None:
        agent_id = self.agent_of.pop(call_id)
        self.members[agent_id].last_end = now
        self.push(now + self.wrapup_s[self.callers[call_id].skill], _WRAP, agent_id)

    def wrap_done(self, agent_id: str, now: float) -> None:
        self.members[agent_id].busy = False
        self._dispatch(now)

    def tick(self, now: float) -> None:
        pass


# ----------------------------------------------------------------------------------------- run


def run(*, quick: bool = False, seed: int = 1, agents: int | None = None,
        hours: float | None = None) -> dict[str, Any]:
    n_agents = agents or (30 if quick else 100)
    n_hours = hours or (1.5 if quick else 8.0)
    rng = random.Random(seed)
    specs = make_agents(n_agents, rng)
    days = {name: make_callers(specs, load, n_hours, random.Random(seed * 1000 + i))
            for i, (name, load) in enumerate(LOADS.items())}
    makers: dict[str, Callable[[list[Caller]], Simulation]] = {
        "project": lambda cs: ProjectSim(specs, cs),
        "project_no_skill_hold": lambda cs: ProjectSim(specs, cs, hold_for_skill=False),
        **{s: (lambda cs, s=s: AppQueueSim(specs, cs, s, seed))  # type: ignore[misc]
           for s in APP_QUEUE_STRATEGIES},
    }
    policies: dict[str, Any] = {}
    t0 = time.perf_counter()
    for name, make in makers.items():
        by_load: dict[str, Any] = {}
        pooled: list[tuple[Caller, Outcome]] = []
        for load_name, callers in days.items():
            log(f"routing_quality: {name} / {load_name} ({len(callers)} callers)")
            outcomes = make(callers).run()
            # Every caller ends answered or abandoned: patience timers always fire.
            done = [(c, outcomes[c.call_id]) for c in callers]
            pooled += done
            by_load[load_name] = summarise(done)
        policies[name] = {**summarise(pooled), "by_load": by_load}
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
