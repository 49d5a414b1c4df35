"""Routing hot path of acd.engine against a naive scan of the same policy, in the same run.

    python -m benchmarks.acd_routing --json [--quick]

Workload: 50 skills over 10 queues (5 premium: skill level >= 3 needed for the whole run;
5 general: level >= 1), 2,000 agents (60% senior, levels 3-5; 40% junior, levels 1-2, each in 2
queues), 10,000 callers waiting in the premium queues with mixed tiers, every senior whose skills
fit a waiting call on a call, the juniors available (not eligible for any waiting call: the engine
is stable). Selection policies rotate over the queues.

Each round times, as full engine inputs (index upkeep and command building included):
  (b) agent becomes available: a senior's wrap-up ends -> it must get the best of ~10,000 calls;
      a junior's wrap-up ends -> nothing it may take is waiting;
  (a) call arrives: a premium call (no eligible agent free -> it waits) and a general call (picked
      among ~800 available juniors under the queue's policy).
The reference (engine.reference_pick_call / reference_pick_agent: scan every call / agent with the
policy spelled out) runs on the same state right before each sampled decision, and every sampled
pick must match. Announcements are off so that a decision's latency is routing only.
One JSON object on stdout; progress on stderr.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from acd.engine import AcdEngine
from acd.model import AgentLogin, Command, NewCall, Offer
from config.acd import AcdSettings, EscalationStep, QueueSettings

N_SKILLS = 50
N_QUEUES = 10
POLICIES = ["longest_idle", "best_skill", "fewest_calls", "round_robin"]
TIER_MIX = [("platinum", 0.05), ("gold", 0.15), ("silver", 0.30), ("bronze", 0.30),
            ("unknown", 0.20)]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build_settings() -> AcdSettings:
    queues = []
    for i in range(N_QUEUES):
        premium = i < N_QUEUES // 2
        steps = ([EscalationStep(after_s=0, min_skill_level=3),
                  EscalationStep(after_s=36_000, min_skill_level=1)] if premium
                 else [EscalationStep(after_s=0, min_skill_level=1)])
        queues.append(QueueSettings(
            name=f"q{i}", skills=[f"s{5 * i + k:02d}" for k in range(5)], escalation=steps,
            max_wait_s=86_000, wrapup_s=30, announce_every_s=0,
            selection=POLICIES[i % len(POLICIES)],  # type: ignore[arg-type]
        ))
    return AcdSettings(queues=queues)


def pick_tier(rng: random.Random) -> str:
    return rng.choices([t for t, _ in TIER_MIX], weights=[w for _, w in TIER_MIX])[0]


class Bench:
    def __init__(self, n_calls: int, n_agents: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.settings = build_settings()
        self.e = AcdEngine(self.settings)
        self.now = 0.0
        self.n = 0
        self.n_calls, self.n_agents = n_calls, n_agents
        self.on_call: dict[str, str] = {}  # senior agent -> call
        self.seniors: list[str] = []

    def tick(self) -> float:
        self.now += 0.001
        return self.now

    def new_call(self, premium: bool) -> NewCall:
        self.n += 1
        q = self.rng.randrange(N_QUEUES // 2) + (0 if premium else N_QUEUES // 2)
        qs = self.settings.queues[q]
        k = 2 if self.rng.random() < 0.2 else 1
        return NewCall(f"c{self.n}", qs.name, pick_tier(self.rng),
                       frozenset(self.rng.sample(qs.skills, k)))

    def answer_offers(self, cmds: list[Command]) -> int:
        n = 0
        for c in cmds:
            if isinstance(c, Offer):
                self.e.offer_answered(c.call_id, self.tick())
                self.on_call[c.agent_id] = c.call_id
                n += 1
        return n

    def agent(self, i: int, senior: bool) -> AgentLogin:
        queues = self.rng.sample([q.name for q in self.settings.queues], 2)
        skills: dict[str, int] = {}
        for qn in queues:
            qs = next(q for q in self.settings.queues if q.name == qn)
            for s in self.rng.sample(qs.skills, 4):
                skills[s] = self.rng.randint(3, 5) if senior else self.rng.randint(1, 2)
        aid = f"a{i:04d}"
        return AgentLogin(aid, f"PJSIP/{aid}", frozenset(queues), skills)

    def setup(self) -> None:
        n_senior = int(self.n_agents * 0.6)
        for i in range(n_senior):
            self.answer_offers(self.e.agent_login(self.agent(i, True), self.tick()))
        waiting = 0
        while waiting < self.n_calls:
            if not self.answer_offers(self.e.enqueue(self.new_call(premium=True), self.tick())):
                waiting += 1
        # Juniors log in once every caller is queued: available, too junior for premium calls.
        for i in range(n_senior, self.n_agents):
            self.answer_offers(self.e.agent_login(self.agent(i, False), self.tick()))


def percentile(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def run(quick: bool, seed: int, rounds: int | None, ref_every: int) -> dict[str, Any]:
    n_calls, n_agents = 10_000, 2_000
    rounds = rounds if rounds is not None else (1_000 if quick else 4_000)
    b = Bench(n_calls, n_agents, seed)
    t0 = time.perf_counter()
    b.setup()
    e = b.e
    waiting0 = sum(1 for c in e.calls() if c.state.value == "waiting")
    log(f"setup: {waiting0} waiting, {len(b.on_call)} seniors on calls, "
        f"{time.perf_counter() - t0:.1f}s")

    lat: dict[str, list[float]] = {"agent_available": [], "call_arrival": []}
    wall: list[float] = []
    ref_lat: list[float] = []
    mismatches: list[dict[str, Any]] = []
    sampled = 0
    decisions = 0
    offers_made = 0

    fast_lat: list[float] = []
    # Whole-input latencies split by whether the reference scan ran right before (it walks every
    # call and agent, so the engine's data is no longer in the CPU caches) or not.
    after_ref: list[float] = []
    no_ref: list[float] = []
    # Garbage collections that ran inside a timed input: (count, seconds) per generation.
    gc_in: list[list[float]] = [[0, 0.0], [0, 0.0], [0, 0.0]]
    gc_state = {"timing": False, "t0": 0.0}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if not gc_state["timing"]:
            return
        if phase == "start":
            gc_state["t0"] = time.perf_counter()
        else:
            g = gc_in[info["generation"]]
            g[0] += 1
            g[1] += time.perf_counter() - gc_state["t0"]

    gc.callbacks.append(on_gc)

    def decide(path: str, do: Callable[[], list[Command]],
               ref: Callable[[], str | None] | None, fast: Callable[[], str | None],
               picked: Callable[[Offer], str]) -> Offer | None:
        nonlocal sampled, decisions, offers_made
        expected: str | None = None
        dry: str | None = None
        if ref is not None:
            # Like for like: the engine's indexed pick (dry run) and the reference scan, on the
            # same state, right before the real input.
            f0 = time.thread_time_ns()
            dry = fast()
            fast_lat.append((time.thread_time_ns() - f0) / 1000)
            r0 = time.thread_time_ns()
            expected = ref()
            ref_lat.append((time.thread_time_ns() - r0) / 1000)
        # CPU time of this thread: on a shared box, time spent preempted by other processes is
        # not the engine's. Wall-clock percentiles are reported beside it.
        gc_state["timing"] = True
        w0 = time.perf_counter_ns()
        s0 = time.thread_time_ns()
        cmds = do()
        took = (time.thread_time_ns() - s0) / 1000
        wall.append((time.perf_counter_ns() - w0) / 1000)
        gc_state["timing"] = False
        lat[path].append(took)
        (after_ref if ref is not None else no_ref).append(took)
        decisions += 1
        offers = [c for c in cmds if isinstance(c, Offer)]
        offer = offers[0] if offers else None
        offers_made += len(offers)
        if ref is not None:
            sampled += 1
            got = picked(offer) if offer is not None else None
            if not got == dry == expected:
                mismatches.append({"path": path, "reference": expected, "dry_run": dry,
                                   "engine": got})
        return offer

    rng = b.rng
    for r in range(rounds):
        sample = r % ref_every == 0
        # (b) a senior frees up and must take the best waiting call.
        agent = rng.choice(list(b.on_call))
        e.call_ended(b.on_call.pop(agent), b.tick())
        now = b.tick()
        offer = decide("agent_available", partial(e.agent_end_wrapup, agent, now),
                       partial(e.reference_pick_call, agent, now) if sample else None,
                       partial(e.pick_call, agent), lambda o: o.call_id)
        if offer is not None:
            e.offer_answered(offer.call_id, b.tick())
            b.on_call[offer.agent_id] = offer.call_id
        # (a) a premium call arrives: nobody eligible is free, it waits.
        nc = b.new_call(premium=True)
        now = b.tick()
        offer = decide("call_arrival", partial(e.enqueue, nc, now),
                       partial(e.reference_pick_agent, nc, now) if sample else None,
                       partial(e.pick_agent, nc, now), lambda o: o.agent_id)
        if offer is not None:
            e.offer_answered(offer.call_id, b.tick())
            b.on_call[offer.agent_id] = offer.call_id
        # (a) a general call arrives: picked among the available juniors.
        gc_ = b.new_call(premium=False)
        now = b.tick()
        offer = decide("call_arrival", partial(e.enqueue, gc_, now),
                       partial(e.reference_pick_agent, gc_, now) if sample else None,
                       partial(e.pick_agent, gc_, now), lambda o: o.agent_id)
        if offer is not None:
            junior = offer.agent_id
            e.offer_answered(offer.call_id, b.tick())
            e.call_ended(offer.call_id, b.tick())
            now = b.tick()
            # (b) the junior frees up: nothing it may take is waiting.
            decide("agent_available", partial(e.agent_end_wrapup, junior, now),
                   partial(e.reference_pick_call, junior, now) if sample else None,
                   partial(e.pick_call, junior), lambda o: o.call_id)
        if r % 500 == 0:
            log(f"round {r}/{rounds}")

    gc.callbacks.remove(on_gc)
    all_lat = lat["agent_available"] + lat["call_arrival"]
    total_s = sum(all_lat) / 1e6
    ref_total_s = sum(ref_lat) / 1e6
    dps = decisions / total_s
    ref_dps = len(ref_lat) / ref_total_s if ref_lat else 0.0
    fast_dps = len(fast_lat) / (sum(fast_lat) / 1e6) if fast_lat else 0.0
    waiting_end = sum(1 for c in e.calls() if c.state.value == "waiting")

    def summary(xs: list[float]) -> dict[str, float]:
        return {"n": len(xs), "p50_us": round(percentile(xs, 50), 2),
                "p99_us": round(percentile(xs, 99), 2), "max_us": round(max(xs), 2),
                "mean_us": round(statistics.fmean(xs), 2)}

    return {
        "benchmark": "acd_routing",
        "quick": quick,
        "seed": seed,
        "calls": waiting0,
        "calls_waiting_at_end": waiting_end,
        "agents": n_agents,
        "skills": N_SKILLS,
        "queues": N_QUEUES,
        "decisions": decisions,
        "offers_made": offers_made,
        "decisions_per_s": round(dps, 1),
        "p50_us": round(percentile(all_lat, 50), 2),
        "p99_us": round(percentile(all_lat, 99), 2),
        "max_us": round(max(all_lat), 2),
        "per_path": {k: summary(v) for k, v in lat.items()},
        # The same whole inputs, split by whether the reference scan ran right before them.
        "whole_input_after_reference": summary(after_ref) if after_ref else None,
        "whole_input_other_rounds": summary(no_ref) if no_ref else None,
        "gc_in_timed_inputs": {f"gen{i}": {"n": int(n), "ms": round(t * 1000, 2)}
                               for i, (n, t) in enumerate(gc_in)},
        "latency_clock": "thread CPU time (time.thread_time_ns)",
        "wall_p50_us": round(percentile(wall, 50), 2),
        "wall_p99_us": round(percentile(wall, 99), 2),
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "reference_decisions_per_s": round(ref_dps, 1),
        "reference_p50_us": round(percentile(ref_lat, 50), 2),
        "reference_p99_us": round(percentile(ref_lat, 99), 2),
        "reference_decisions_sampled": sampled,
        "reference_sample_every_round": ref_every,
        "indexed_pick_decisions_per_s": round(fast_dps, 1),
        "indexed_pick_p50_us": round(percentile(fast_lat, 50), 2),
        "indexed_pick_p99_us": round(percentile(fast_lat, 99), 2),
        # Like for like: indexed pick vs reference scan, same decisions, same state.
        "speedup": round(fast_dps / ref_dps, 1) if ref_dps else None,
        # Whole engine input (pick + state changes + commands) vs the reference's pick alone.
        "speedup_whole_input": round(dps / ref_dps, 1) if ref_dps else None,
        "same_picks": not mismatches and sampled > 0,
        "mismatches": len(mismatches),
        "mismatch_examples": mismatches[:5],
        "measured": "decisions_per_s, p50_us, p99_us: whole engine inputs (agent_end_wrapup, "
                    "enqueue); reference_* and indexed_pick_*: the pick alone",
        "announcements": "off",
        "gc": "enabled, default thresholds (max_us includes collections)",
        "python": platform.python_version(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--json", action="store_true", help="print one JSON object (always on)")
    ap.add_argument("--quick", action="store_true", help="fewer rounds, under a minute")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--ref-every", type=int, default=4,
                    help="run the reference on every Nth round (1 = all)")
    args = ap.parse_args()
    result = run(args.quick, args.seed, args.rounds, max(1, args.ref_every))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
