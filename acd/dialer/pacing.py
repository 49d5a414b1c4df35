"""How many lines to dial now: the pure pacing function.

`pace(config, state, stats, windows)` -> `PacingDecision`. No clock, no I/O: the adapter (and the
benchmark's simulation) pass the live state in and dial what comes out.

Modes
-----
- ``progressive``: one line per available agent: dial ``idle - lines in flight`` (never below 0).
  An idle agent is reserved for every line, so a live answer always finds an agent.
- ``ratio``: ``ratio`` lines per available agent: ``floor(ratio x idle) - lines in flight``.
- ``predictive``: the model below, with the abandon-rate target as a hard constraint.
- ``preview``: nothing is dialled automatically (the agent dials from the desktop).

The predictive model
--------------------
Let ``H`` be the horizon within which a line dialled now is answered by a person and must be
bridged: the measured mean time to a live answer (ring + answering-machine detection) plus the
2 s grace before the abandon message. Over that horizon:

* Free agents ``F = idle + sum_i B(p_i)``: each busy agent is free in time with probability
  ``p_i``. An agent in wrap-up with ``r`` seconds left is counted free when ``r <= H``. An agent
  talking is modelled with exponential talk time of the measured mean (memoryless, so elapsed talk
  time does not matter): free when talk and wrap-up both end within ``H``, ``p = 1 - exp(-(H -
  wrapup) / aht)`` (0 when the wrap-up alone is longer than ``H``).
* Live answers ``X = waiting + Binomial(k + n, q)``: people already answered and waiting for an
  agent, plus the ``k`` lines ringing and the ``n`` new lines, each answered by a person with the
  measured live-answer rate ``q`` (a conservative figure for lines that already rang a while).
* Abandons ``D = (X - F)+``. Up to `EXACT_UP_TO_AGENTS` agents, ``E[D]`` is computed exactly:
  the Poisson-binomial distribution of ``F`` by convolution, then ``E[(x - F)+]`` tabulated for
  every ``x`` and summed against the binomial law of ``X``. For larger teams both sums are
  approximated as normal variables (Lyapunov CLT), and ``E[D]`` is the normal partial expectation
  ``mu Phi(mu/s) + s phi(mu/s)`` with ``mu = E[X] - E[F]``, ``s^2 = Var X + Var F``.

The largest ``n`` whose expected abandon share ``E[D] / E[X]`` stays within the planning target
(``planning_fraction x target``) is found by bisection (the share grows with ``n``).

Then the hard constraint. Whatever the luck, at most ``(lines in flight + waiting + n) - idle``
of the calls now in progress can be abandoned (each idle agent takes one). The rolling windows
(24 h and 30 days) each give a budget: abandons still allowed so that ``abandoned <= target x
live`` stays true in that window (`WindowCounts.budget`, counting only live answers that stay in
the window for the horizon). ``n`` is capped so that this worst case fits the smallest budget, so
the abandon rate of a window never crosses the target through the dialler's own decisions
(agents leaving mid-call, or live answers ageing out of a window while traffic stops, are outside
its control). Early in a fresh campaign the budget is 0 and predictive dials like progressive;
it earns room to over-dial as live answers accumulate.

Back-off to progressive: when fewer than ``min_agents`` agents work the campaign (the normal
approximation and the law of large numbers it relies on do not hold), or when the measured rate
of any window reaches ``backoff_fraction x target``.

In every mode the result is clamped to ``[0, max_lines - lines in flight]`` and to the leads
available, so a dialler never dials a negative or absurd number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from acd.dialer.abandon import WindowCounts
from acd.dialer.errors import InvalidPacing

PacingMode = Literal["preview", "progressive", "ratio", "predictive"]
PACING_MODES: tuple[str, ...] = ("preview", "progressive", "ratio", "predictive")
AgentPhase = Literal["talk", "wrapup"]


@dataclass(frozen=True, slots=True)
class PacingConfig:
    mode: PacingMode = "predictive"
    ratio: float = 2.0  # lines per available agent in "ratio" mode
    abandon_target: float = 0.03  # abandoned / live answers, per rolling window
    planning_fraction: float = 0.75  # the model plans for this share of the target
    backoff_fraction: float = 0.85  # measured rate at which predictive falls back to progressive
    min_agents: int = 5  # fewer agents than this: progressive
    max_lines_per_agent: float = 6.0  # trunk/sanity cap on lines in flight per working agent
    grace_s: float = 2.0  # time a person may wait for an agent before the abandon message

    def __post_init__(self) -> None:
        if self.mode not in PACING_MODES:
            raise InvalidPacing(f"mode must be one of {', '.join(PACING_MODES)}, got {self.mode!r}")
        _finite("ratio", self.ratio, lo=1.0, hi=10.0)
        _finite("abandon_target", self.abandon_target, lo=0.0, hi=1.0)
        _finite("planning_fraction", self.planning_fraction, lo=0.0, hi=1.0)
        _finite("backoff_fraction", self.backoff_fraction, lo=0.0, hi=1.0)
        _finite("max_lines_per_agent", self.max_lines_per_agent, lo=1.0, hi=50.0)
        _finite("grace_s", self.grace_s, lo=0.0, hi=60.0)
        if self.min_agents < 1:
            raise InvalidPacing(f"min_agents must be >= 1, got {self.min_agents}")


@dataclass(frozen=True, slots=True)
class BusyAgent:
    """An agent working the campaign who is on a call or wrapping one up."""

    phase: AgentPhase
    elapsed_s: float  # time already spent in this phase


@dataclass(frozen=True, slots=True)
class PacingState:
    idle_agents: int  # logged in, available, not reserved for a call
    busy: tuple[BusyAgent, ...] = ()
    lines_ringing: int = 0  # dialled, outcome not known yet (AMD running counts here)
    humans_waiting: int = 0  # answered by a person, no agent yet
    leads_available: int | None = None  # None: plenty

    def __post_init__(self) -> None:
        for name in ("idle_agents", "lines_ringing", "humans_waiting"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise InvalidPacing(f"{name} must be an int >= 0, got {v!r}")
        if self.leads_available is not None and self.leads_available < 0:
            raise InvalidPacing(f"leads_available must be >= 0, got {self.leads_available}")
        for b in self.busy:
            _finite("busy agent elapsed_s", b.elapsed_s, lo=0.0, hi=math.inf)
            if b.phase not in ("talk", "wrapup"):
                raise InvalidPacing(f"busy agent phase must be talk or wrapup, got {b.phase!r}")

    @property
    def in_flight(self) -> int:
        return self.lines_ringing + self.humans_waiting

    @property
    def agents(self) -> int:
        return self.idle_agents + len(self.busy)


@dataclass(frozen=True, slots=True)
class PacingStats:
    """Measured (or prior) campaign statistics."""

    live_rate: float  # share of dialled lines answered by a person
    answer_delay_s: float  # mean time from dialling to a detected live answer
    aht_s: float  # mean talk time
    wrapup_s: float  # mean wrap-up time

    def __post_init__(self) -> None:
        _finite("live_rate", self.live_rate, lo=0.0, hi=1.0)
        _finite("answer_delay_s", self.answer_delay_s, lo=0.0, hi=600.0)
        _finite("aht_s", self.aht_s, lo=1.0, hi=36_000.0)
        _finite("wrapup_s", self.wrapup_s, lo=0.0, hi=36_000.0)


@dataclass(frozen=True, slots=True)
class PacingDecision:
    lines: int  # new lines to dial now
    mode: str  # what decided: progressive, ratio, predictive, preview, or backoff:<why>
    in_flight_after: int
    dial_level: float  # lines in flight after dialling per working agent
    expected_abandon_share: float  # model's E[abandons]/E[live answers] (0 outside predictive)
    budget: int | None  # worst-case abandons allowed by the tightest window (predictive only)


def _finite(name: str, v: float, *, lo: float, hi: float) -> None:
    if not isinstance(v, int | float) or not math.isfinite(v) or not lo <= v <= hi:
        raise InvalidPacing(f"{name} must be a finite number in [{lo}, {hi}], got {v!r}")


def free_probability(agent: BusyAgent, horizon_s: float, stats: PacingStats) -> float:
    """Probability that a busy agent is free within `horizon_s` (see the module docstring)."""
    if agent.phase == "wrapup":
        return 1.0 if stats.wrapup_s - agent.elapsed_s <= horizon_s else 0.0
    room = horizon_s - stats.wrapup_s
    return 0.0 if room <= 0 else 1.0 - math.exp(-room / stats.aht_s)


def _partial_expectation(mu: float, sd: float) -> float:
    """E[max(Y, 0)] for Y ~ Normal(mu, sd^2)."""
    if sd <= 1e-12:
        return max(mu, 0.0)
    z = mu / sd
    cdf = 0.5 * math.erfc(-z / math.sqrt(2.0))
    pdf = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return mu * cdf + sd * pdf


def expected_abandon_share(lines: int, waiting: int, live_rate: float,
                           free_mean: float, free_var: float) -> float:
    """Model share E[(X - F)+] / E[X] for `lines` lines in flight (module docstring)."""
    mean_x = waiting + lines * live_rate
    if mean_x <= 0:
        return 0.0
    var_x = lines * live_rate * (1.0 - live_rate)
    return _partial_expectation(mean_x - free_mean, math.sqrt(var_x + free_var)) / mean_x


# Up to this many agents the abandon share is computed exactly (the sums' distributions by
# convolution); above it the normal approximation is accurate and much cheaper.
EXACT_UP_TO_AGENTS = 40


def _binomial_pmf(n: int, p: float) -> list[float]:
    if p <= 0.0 or n == 0:
        return [1.0] + [0.0] * n
    if p >= 1.0:
        return [0.0] * n + [1.0]
    # Log space: (1 - p) ** n underflows for long lines and high rates.
    lp, lq, ln = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    return [math.exp(ln - math.lgamma(x + 1) - math.lgamma(n - x + 1) + x * lp + (n - x) * lq)
            for x in range(n + 1)]


def _shortfall_table(idle: int, ps: Sequence[float], up_to: int) -> list[float]:
    """G(x) = E[(x - F)+] for x = 0..up_to, F = idle + sum of Bernoulli(p_i)."""
    pmf = [1.0]
    for p in ps:  # Poisson-binomial by convolution
        nxt = [0.0] * (len(pmf) + 1)
        for f, v in enumerate(pmf):
            nxt[f] += v * (1.0 - p)
            nxt[f + 1] += v * p
        pmf = nxt
    g = [0.0] * (up_to + 1)
    cdf = 0.0  # P(F <= x - 1)
    for x in range(1, up_to + 1):
        f = x - 1 - idle
        if 0 <= f < len(pmf):
            cdf += pmf[f]
        g[x] = g[x - 1] + cdf
    return g


def exact_abandon_share(lines: int, waiting: int, live_rate: float, idle: int,
                        ps: Sequence[float], table: list[float]) -> float:
    """E[(X - F)+] / E[X] from the exact distributions (`table` from `_shortfall_table`)."""
    mean_x = waiting + lines * live_rate
    if mean_x <= 0:
        return 0.0
    pmf = _binomial_pmf(lines, live_rate)
    return math.fsum(v * table[waiting + x] for x, v in enumerate(pmf)) / mean_x


def pace(config: PacingConfig, state: PacingState, stats: PacingStats,
         windows: Sequence[WindowCounts] = ()) -> PacingDecision:
    """Lines to dial now (see the module docstring for the model)."""
    agents = state.agents
    k = state.in_flight
    cap = math.floor(config.max_lines_per_agent * agents) - k
    if state.leads_available is not None:
        cap = min(cap, state.leads_available)
    cap = max(0, cap)
    progressive = min(cap, max(0, state.idle_agents - k))

    def decide(n: int, mode: str, share: float = 0.0, budget: int | None = None
               ) -> PacingDecision:
        n = max(0, min(cap, n))
        return PacingDecision(n, mode, k + n, (k + n) / agents if agents else 0.0, share, budget)

    if config.mode == "preview" or agents == 0:
        return decide(0, config.mode)
    if config.mode == "progressive":
        return decide(progressive, "progressive")
    if config.mode == "ratio":
        return decide(math.floor(config.ratio * state.idle_agents) - k, "ratio")

    target = config.abandon_target
    if agents < config.min_agents:
        return decide(progressive, "backoff:few-agents")
    if any(w.live and w.rate >= config.backoff_fraction * target for w in windows) or any(
            not w.live and w.abandoned for w in windows):
        return decide(progressive, "backoff:near-limit")
    if stats.live_rate <= 0.0:
        return decide(progressive, "backoff:no-live-answers")

    horizon = stats.answer_delay_s + config.grace_s
    ps = [free_probability(b, horizon, stats) for b in state.busy]
    free_mean = state.idle_agents + sum(ps)
    free_var = sum(p * (1.0 - p) for p in ps)
    plan = config.planning_fraction * target
    q = stats.live_rate

    if agents <= EXACT_UP_TO_AGENTS:
        table = _shortfall_table(state.idle_agents, ps, state.humans_waiting + state.lines_ringing
                                 + cap)

        def share(n: int) -> float:
            return exact_abandon_share(state.lines_ringing + n, state.humans_waiting, q,
                                       state.idle_agents, ps, table)
    else:
        def share(n: int) -> float:
            return expected_abandon_share(state.lines_ringing + n, state.humans_waiting, q,
                                          free_mean, free_var)

    # Largest n in [progressive, cap] whose expected share fits the plan (monotone in n).
    lo, hi = progressive, cap
    if share(lo) > plan:
        hi = lo
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if share(mid) <= plan:
            lo = mid
        else:
            hi = mid - 1
    n = lo
    budget = min((w.budget(target) for w in windows), default=0)
    hard = budget + state.idle_agents - k  # worst case (k + n - idle) must fit the budget
    n = max(progressive, min(n, hard))
    return decide(n, "predictive", share(max(0, min(cap, n))), budget)
