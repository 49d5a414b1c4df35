"""Dial modes compared on one simulated outbound campaign, identical seeded traffic for each.

    python -m benchmarks.dialer --json [--quick] [--agents N --live-answer-rate P
        --machine-rate M --aht S --wrapup S --hours H --seed K]

A discrete-event simulation of one campaign. The k-th line dialled gets the k-th draw of one
seeded stream (outcome, ring time, answering-machine detection time, talk time), whatever the
mode, so every mode meets the same people in the same order.

Traffic: a person answers with probability P, a machine with M; of the rest 20% are busy (result
after 2-5 s) and the others ring out at 25 s (the minimum ring is 15 s). Answers come after 3-18 s
of ringing; AMD needs 1-2.5 s to call a person a person (3-4 s for a machine). A person then waits
for an agent; with none free within 2 s the abandon message plays and the call counts as
abandoned. Talk times are lognormal with mean AHT (sigma 0.6); wrap-up is fixed.
Every mode paces once per simulated second (one line per second per agent at most is no limit).

Modes:
- progressive: lines = idle agents - lines in flight (`acd.dialer.pacing`, mode progressive);
- ratio_2: lines = floor(2 x idle agents) - lines in flight (mode ratio, 2.0);
- adaptive_baseline: VICIdial-style ADAPT_HARD_LIMIT, re-implemented from its description
  (AST_VDadapt / AST_VDauto_dial): every 15 s the dial level is multiplied by
  (1 + d / a), d = one-minute mean of (waiting agents - waiting calls), a = one-minute mean of
  agents; kept in [1.0, 3.0]; halved when over 50% of the last minute's (> 20) calls dropped;
  forced to 1.0 when the day's drops exceed the target share of answers (after 50 calls). Lines =
  round(level x (ready + in call + wrap-up agents)) - (calls ringing, waiting or talking);
- predictive: this project's `acd.dialer.pacing.pace` (the function the server uses), fed with
  `acd.dialer.estimates.CampaignEstimates` (measured, prior-seeded) and the rolling windows of
  `acd.dialer.abandon.AbandonTracker`.

Reported per mode: abandon_rate (abandoned / live answers), occupancy ((talk + wrap-up) /
logged-in time), talk_min_per_agent_hour, calls_placed, live_answers, abandoned, max_wait_s (of
a person connected to an agent), max_abandon_rate_24h_window (the highest rate the 24 h window
showed after each abandon; the whole run fits in the window). One JSON object on stdout.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import random
import sys
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from acd.dialer.abandon import AbandonTracker
from acd.dialer.estimates import CampaignEstimates, Priors
from acd.dialer.pacing import BusyAgent, PacingConfig, PacingState, pace

MODES = ("progressive", "ratio_2", "adaptive_baseline", "predictive")
TARGET = 0.03
GRACE_S = 2.0
RING_TIMEOUT_S = 25.0


@dataclass(frozen=True)
class Params:
    agents: int = 50
    live_answer_rate: float = 0.25
    machine_rate: float = 0.15
    aht: float = 120.0
    wrapup: float = 10.0
    hours: float = 8.0
    seed: int = 1


@dataclass(frozen=True, slots=True)
class Draw:
    outcome: str  # human, machine, busy, no_answer
    result_s: float  # dial -> outcome known (human: detected by AMD)
    answer_s: float  # dial -> answered (human/machine), else result_s
    talk_s: float


class Traffic:
    """The k-th dial's fate, drawn lazily from one seeded stream (same for every mode)."""

    def __init__(self, p: Params) -> None:
        self._rng = random.Random(p.seed)
        self._p = p
        self._draws: list[Draw] = []
        sigma = 0.6
        self._mu = math.log(p.aht) - sigma * sigma / 2
        self._sigma = sigma

    def __getitem__(self, k: int) -> Draw:
        while len(self._draws) <= k:
            self._draws.append(self._draw())
        return self._draws[k]

    def _draw(self) -> Draw:
        r, p = self._rng, self._p
        u, ring, amd = r.random(), r.uniform(3.0, 18.0), r.uniform(1.0, 2.5)
        talk = r.lognormvariate(self._mu, self._sigma)
        busy = r.random() < 0.2
        if u < p.live_answer_rate:
            return Draw("human", ring + amd, ring, talk)
        if u < p.live_answer_rate + p.machine_rate:
            return Draw("machine", ring + amd + 1.5, ring, 0.0)
        if busy:
            t = 2.0 + 3.0 * (amd - 1.0) / 1.5
            return Draw("busy", t, t, 0.0)
        return Draw("no_answer", RING_TIMEOUT_S, RING_TIMEOUT_S, 0.0)


@dataclass
class Agent:
    phase: str = "idle"  # idle, talk, wrapup
    since: float = 0.0


@dataclass
class Result:
    calls_placed: int = 0
    live_answers: int = 0
    abandoned: int = 0
    busy_s: float = 0.0
    talk_s: float = 0.0
    max_wait_s: float = 0.0
    max_window_rate: float = 0.0
    window_violations: int = 0
    decisions: dict[str, int] = field(default_factory=dict)


class Sim:
    """One mode over the whole run."""

    def __init__(self, p: Params, traffic: Traffic, mode: str,
                 pacing: PacingConfig | None = None,
                 windows: tuple[tuple[str, float, float], ...] | None = None) -> None:
        self.p, self.traffic, self.mode = p, traffic, mode
        self.agents = [Agent() for _ in range(p.agents)]
        self.idle: deque[int] = deque(range(p.agents))
        self.events: list[tuple[float, int, str, int]] = []
        self.seq = 0
        self.k = 0  # next dial index
        self.ringing = 0
        self.waiting: deque[tuple[int, float]] = deque()  # (dial, detected at)
        self.waiting_ids: set[int] = set()
        self.talking = 0
        self.r = Result()
        self.tracker = AbandonTracker(windows) if windows else AbandonTracker()
        self.est = CampaignEstimates(Priors(live_rate=0.2, aht_s=120.0, wrapup_s=15.0))
        self.cfg = pacing or PacingConfig(mode="predictive")
        self.prog_cfg = PacingConfig(mode="progressive")
        self.ratio_cfg = PacingConfig(mode="ratio", ratio=2.0)
        # adaptive baseline
        self.level = 1.0
        self.samples: deque[tuple[int, int, int]] = deque(maxlen=60)  # ready, waiting, agents
        self.minute: deque[tuple[float, int]] = deque()  # (t, dropped 0/1) of finished answers
        self.day_calls = 0
        self.day_answers = 0
        self.day_drops = 0

    def push(self, t: float, kind: str, x: int) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, x))

    # -- call flow ------------------------------------------------------------------------
    def dial(self, t: float, n: int) -> None:
        for _ in range(n):
            d = self.traffic[self.k]
            self.push(t + d.result_s, "result", self.k)
            self.k += 1
            self.ringing += 1
            self.r.calls_placed += 1
            self.day_calls += 1

    def connect(self, t: float, dial: int, detected: float) -> None:
        a = self.idle.popleft()
        ag = self.agents[a]
        ag.phase, ag.since = "talk", t
        self.talking += 1
        self.r.max_wait_s = max(self.r.max_wait_s, t - detected)
        self.push(t + self.traffic[dial].talk_s, "talk_end", a)

    def on_result(self, t: float, dial: int) -> None:
        self.ringing -= 1
        d = self.traffic[dial]
        self.est.attempt(d.outcome, d.result_s if d.outcome == "human" else None)
        if d.outcome != "human":
            return
        self.r.live_answers += 1
        self.day_answers += 1
        if self.idle:
            self.tracker.live_answer(t)
            self.minute.append((t, 0))
            self.connect(t, dial, t)
        else:
            self.waiting.append((dial, t))
            self.waiting_ids.add(dial)
            self.push(t + GRACE_S, "grace_end", dial)

    def on_grace_end(self, t: float, dial: int) -> None:
        if dial not in self.waiting_ids:
            return
        self.waiting_ids.discard(dial)
        self.waiting = deque(w for w in self.waiting if w[0] != dial)
        self.r.abandoned += 1
        self.day_drops += 1
        self.minute.append((t, 1))
        self.tracker.abandon(t)
        rate = min(w.rate for w in self.tracker.snapshot(t)[:1])
        self.r.max_window_rate = max(self.r.max_window_rate, rate)
        if rate > TARGET + 1e-12:
            self.r.window_violations += 1

    def on_talk_end(self, t: float, a: int) -> None:
        ag = self.agents[a]
        self.talking -= 1
        self.r.busy_s += t - ag.since
        self.r.talk_s += t - ag.since
        self.est.talk(t - ag.since)
        ag.phase, ag.since = "wrapup", t
        self.push(t + self.p.wrapup, "wrap_end", a)

    def on_wrap_end(self, t: float, a: int) -> None:
        ag = self.agents[a]
        self.r.busy_s += t - ag.since
        self.est.wrapup(t - ag.since)
        ag.phase, ag.since = "idle", t
        self.idle.append(a)
        while self.waiting and self.idle:
            dial, detected = self.waiting.popleft()
            self.waiting_ids.discard(dial)
            self.tracker.live_answer(t)
            self.minute.append((t, 0))
            self.connect(t, dial, detected)

    # -- pacing ---------------------------------------------------------------------------
    def state(self, t: float) -> PacingState:
        busy = tuple(BusyAgent("talk" if a.phase == "talk" else "wrapup", t - a.since)
                     for a in self.agents if a.phase != "idle")
        return PacingState(idle_agents=len(self.idle), busy=busy, lines_ringing=self.ringing,
                           humans_waiting=len(self.waiting))

    def lines_now(self, t: float) -> int:
        if self.mode == "adaptive_baseline":
            working = self.p.agents  # nobody pauses in this simulation
            in_progress = self.ringing + len(self.waiting) + self.talking
            return max(0, round(self.level * working) - in_progress)
        cfg = {"progressive": self.prog_cfg, "ratio_2": self.ratio_cfg}.get(self.mode, self.cfg)
        st = self.state(t)
        stats = self.est.stats()
        lookahead = stats.answer_delay_s + RING_TIMEOUT_S + GRACE_S
        d = pace(cfg, st, stats, self.tracker.snapshot(t, lookahead))
        self.r.decisions[d.mode] = self.r.decisions.get(d.mode, 0) + 1
        return d.lines

    def adapt(self, t: float) -> None:
        """VICIdial-style dial level update, every 15 s (module docstring)."""
        if not self.samples:
            return
        n = len(self.samples)
        ready = sum(s[0] for s in self.samples) / n
        waiting = sum(s[1] for s in self.samples) / n
        agents = sum(s[2] for s in self.samples) / n
        diff = ready - waiting
        level = self.level * (1.0 + diff / agents) if agents and diff else self.level
        level = min(3.0, max(1.0, level))
        while self.minute and self.minute[0][0] < t - 60:
            self.minute.popleft()
        if len(self.minute) > 20 and sum(x for _, x in self.minute) / len(self.minute) > 0.5:
            level /= 2
        if self.day_calls > 50 and self.day_answers and self.day_drops / self.day_answers > TARGET:
            level = 1.0
        self.level = max(1.0, level)

    def run(self) -> dict[str, Any]:
        end = self.p.hours * 3600.0
        tick = 0.0
        while tick < end:
            while self.events and self.events[0][0] <= tick:
                t, _, kind, x = heapq.heappop(self.events)
                getattr(self, "on_" + kind)(t, x)
            if self.mode == "adaptive_baseline":
                self.samples.append((len(self.idle), len(self.waiting), self.p.agents))
                if int(tick) % 15 == 0 and tick > 0:
                    self.adapt(tick)
            self.dial(tick, self.lines_now(tick))
            tick += 1.0
        # Close the books at the end: count busy time up to `end`, let no new work start.
        for a in self.agents:
            if a.phase != "idle":
                self.r.busy_s += end - a.since
                if a.phase == "talk":
                    self.r.talk_s += end - a.since
        agent_s = self.p.agents * end
        r = self.r
        return {
            "abandon_rate": round(r.abandoned / r.live_answers, 5) if r.live_answers else 0.0,
            "occupancy": round(r.busy_s / agent_s, 5),
            "talk_min_per_agent_hour": round(r.talk_s / 60 / (agent_s / 3600), 3),
            "calls_placed": r.calls_placed,
            "live_answers": r.live_answers,
            "abandoned": r.abandoned,
            "max_wait_s": round(r.max_wait_s, 3),
            "max_abandon_rate_24h_window": round(r.max_window_rate, 5),
            **({"pacing_decisions": dict(sorted(r.decisions.items()))}
               if self.mode == "predictive" else {}),
            **({"final_dial_level": round(self.level, 3)}
               if self.mode == "adaptive_baseline" else {}),
        }


def run_modes(p: Params) -> dict[str, dict[str, Any]]:
    out = {}
    for mode in MODES:
        out[mode] = Sim(p, Traffic(p), mode).run()
    return out


def verdict(modes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    pred = modes["predictive"]
    rivals = [m for m in MODES if m != "predictive" and modes[m]["abandon_rate"] <= TARGET]
    return {
        "predictive_within_target": pred["abandon_rate"] <= TARGET,
        "baselines_within_target": rivals,
        "predictive_beats_them": all(pred["occupancy"] > modes[m]["occupancy"] for m in rivals),
    }


def run(p: Params, extra_seeds: int = 0) -> dict[str, Any]:
    t0 = time.perf_counter()
    modes = run_modes(p)
    out: dict[str, Any] = {"benchmark": "dialer", "params": asdict(p), "abandon_target": TARGET,
                           "modes": modes, "goal": verdict(modes)}
    if extra_seeds:
        seeds = {}
        for s in range(p.seed + 1, p.seed + 1 + extra_seeds):
            m = run_modes(Params(**{**asdict(p), "seed": s}))
            seeds[str(s)] = {"modes": {k: {f: v[f] for f in ("abandon_rate", "occupancy")}
                                       for k, v in m.items()}, "goal": verdict(m)}
        out["other_seeds"] = seeds
    out["elapsed_s"] = round(time.perf_counter() - t0, 2)
    out["cpus"] = os.cpu_count()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--json", action="store_true", help="print one JSON object (always on)")
    ap.add_argument("--quick", action="store_true", help="2 simulated hours, no extra seeds")
    ap.add_argument("--agents", type=int, default=Params.agents)
    ap.add_argument("--live-answer-rate", type=float, default=Params.live_answer_rate)
    ap.add_argument("--machine-rate", type=float, default=Params.machine_rate)
    ap.add_argument("--aht", type=float, default=Params.aht)
    ap.add_argument("--wrapup", type=float, default=Params.wrapup)
    ap.add_argument("--hours", type=float, default=None)
    ap.add_argument("--seed", type=int, default=Params.seed)
    ap.add_argument("--extra-seeds", type=int, default=None,
                    help="also run this many following seeds (default 2, 0 with --quick)")
    a = ap.parse_args(argv)
    if not 1 <= a.agents <= 2000:
        ap.error("--agents must be 1..2000")
    if not (0 < a.live_answer_rate <= 1 and 0 <= a.machine_rate <= 1
            and a.live_answer_rate + a.machine_rate <= 1):
        ap.error("--live-answer-rate in (0, 1], --machine-rate in [0, 1], their sum <= 1")
    if a.aht <= 0 or a.wrapup < 0:
        ap.error("--aht must be > 0 and --wrapup >= 0")
    hours = a.hours if a.hours is not None else (2.0 if a.quick else Params.hours)
    if not 0 < hours <= 24:
        ap.error("--hours must be in (0, 24]")
    extra = a.extra_seeds if a.extra_seeds is not None else (0 if a.quick else 2)
    p = Params(a.agents, a.live_answer_rate, a.machine_rate, a.aht, a.wrapup, hours, a.seed)
    print(f"simulating {MODES} for {hours} h ...", file=sys.stderr)
    print(json.dumps(run(p, extra)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
