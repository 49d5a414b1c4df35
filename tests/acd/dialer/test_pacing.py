"""The pacing function: each mode's rule, the back-offs, the hard budget, hostile inputs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.dialer.abandon import WindowCounts
from acd.dialer.errors import InvalidPacing
from acd.dialer.pacing import (
    BusyAgent,
    PacingConfig,
    PacingState,
    PacingStats,
    expected_abandon_share,
    free_probability,
    pace,
)

STATS = PacingStats(live_rate=0.25, answer_delay_s=12.0, aht_s=120.0, wrapup_s=10.0)
ROOMY = (WindowCounts("24h", 10_000, 0), WindowCounts("30d", 100_000, 0))


def busy(talk: int = 0, wrap: int = 0, wrap_elapsed: float = 9.0) -> tuple[BusyAgent, ...]:
    return (BusyAgent("talk", 30.0),) * talk + (BusyAgent("wrapup", wrap_elapsed),) * wrap


def test_progressive_dials_one_line_per_uncovered_idle_agent() -> None:
    cfg = PacingConfig(mode="progressive")
    assert pace(cfg, PacingState(5, busy(10), lines_ringing=2), STATS).lines == 3
    assert pace(cfg, PacingState(2, busy(10), lines_ringing=1, humans_waiting=1), STATS).lines == 0
    assert pace(cfg, PacingState(0, busy(10), lines_ringing=4), STATS).lines == 0


def test_ratio_dials_ratio_lines_per_idle_agent() -> None:
    cfg = PacingConfig(mode="ratio", ratio=2.0)
    d = pace(cfg, PacingState(3, busy(10), lines_ringing=1), STATS)
    assert (d.lines, d.mode, d.in_flight_after) == (5, "ratio", 6)


def test_preview_and_no_agents_dial_nothing() -> None:
    assert pace(PacingConfig(mode="preview"), PacingState(5), STATS).lines == 0
    assert pace(PacingConfig(), PacingState(0), STATS, ROOMY).lines == 0


def test_predictive_overdials_when_agents_are_about_to_free_and_budget_allows() -> None:
    state = PacingState(1, busy(talk=20, wrap=10), lines_ringing=0)
    d = pace(PacingConfig(), state, STATS, ROOMY)
    prog = pace(PacingConfig(mode="progressive"), state, STATS, ROOMY)
    assert d.mode == "predictive"
    assert d.lines > prog.lines + 10  # ten agents leave wrap-up within the horizon, q = 0.25
    assert d.expected_abandon_share <= 0.75 * 0.03 + 1e-9


def test_fresh_campaign_has_no_budget_and_dials_like_progressive() -> None:
    state = PacingState(2, busy(talk=20, wrap=10))
    fresh = (WindowCounts("24h", 0, 0), WindowCounts("30d", 0, 0))
    d = pace(PacingConfig(), state, STATS, fresh)
    assert d.mode == "predictive" and d.budget == 0 and d.lines == 2


def test_hard_budget_caps_worst_case_abandons() -> None:
    # 3% of 300 live = 9 allowed, 5 used: at most 4 lines beyond the idle agents.
    w = (WindowCounts("24h", 300, 5), WindowCounts("30d", 10_000, 5))
    d = pace(PacingConfig(backoff_fraction=1.0), PacingState(2, busy(talk=20, wrap=10)), STATS, w)
    assert d.budget == 4 and d.in_flight_after - 2 == 4


def test_backs_off_to_progressive_near_the_limit() -> None:
    state = PacingState(3, busy(talk=20, wrap=10), lines_ringing=1)
    near = (WindowCounts("24h", 1000, 26), WindowCounts("30d", 50_000, 100))  # 2.6% >= 2.55%
    d = pace(PacingConfig(), state, STATS, near)
    assert (d.mode, d.lines) == ("backoff:near-limit", 2)
    ok = (WindowCounts("24h", 1000, 20), WindowCounts("30d", 50_000, 100))
    assert pace(PacingConfig(), state, STATS, ok).mode == "predictive"


def test_backs_off_with_few_agents() -> None:
    d = pace(PacingConfig(min_agents=5), PacingState(1, busy(talk=3)), STATS, ROOMY)
    assert (d.mode, d.lines) == ("backoff:few-agents", 1)


def test_leads_available_and_line_cap_bound_the_answer() -> None:
    state = PacingState(10, busy(talk=20, wrap=10), leads_available=3)
    assert pace(PacingConfig(), state, STATS, ROOMY).lines == 3
    cfg = PacingConfig(max_lines_per_agent=1.0)
    d = pace(cfg, PacingState(10, busy(talk=20, wrap=10), lines_ringing=25), STATS, ROOMY)
    assert d.lines == 15  # 40 agents x 1.0 - 25 in flight


def test_free_probability_model() -> None:
    assert free_probability(BusyAgent("wrapup", 9.0), 14.0, STATS) == 1.0
    assert free_probability(BusyAgent("wrapup", 0.0), 5.0, STATS) == 0.0
    assert free_probability(BusyAgent("talk", 500.0), 5.0, STATS) == 0.0  # wrap-up alone is longer
    assert free_probability(BusyAgent("talk", 0.0), 70.0, STATS) == pytest.approx(
        1 - math.exp(-60 / 120))


def test_expected_share_grows_with_lines() -> None:
    shares = [expected_abandon_share(n, 0, 0.25, 5.0, 1.0) for n in range(0, 80, 4)]
    assert shares == sorted(shares) and shares[0] == 0.0 and shares[-1] > 0.5


@pytest.mark.parametrize("kw", [
    {"idle_agents": -1}, {"idle_agents": 1, "lines_ringing": -2},
    {"idle_agents": 1, "humans_waiting": -1}, {"idle_agents": 1, "leads_available": -1},
    {"idle_agents": 1, "busy": (BusyAgent("talk", -1.0),)},
    {"idle_agents": 1, "busy": (BusyAgent("talk", math.nan),)},
    {"idle_agents": 1, "busy": (BusyAgent("lunch", 1.0),)},  # type: ignore[arg-type]
])
def test_bad_state_is_refused(kw: dict[str, object]) -> None:
    with pytest.raises(InvalidPacing):
        PacingState(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("kw", [
    {"live_rate": -0.1}, {"live_rate": 1.5}, {"live_rate": math.nan}, {"aht_s": 0.0},
    {"answer_delay_s": math.inf}, {"wrapup_s": -1.0},
])
def test_bad_stats_are_refused(kw: dict[str, float]) -> None:
    base = {"live_rate": 0.2, "answer_delay_s": 10.0, "aht_s": 100.0, "wrapup_s": 5.0}
    with pytest.raises(InvalidPacing):
        PacingStats(**{**base, **kw})


@pytest.mark.parametrize("kw", [
    {"mode": "turbo"}, {"ratio": 0.5}, {"abandon_target": 2.0}, {"min_agents": 0},
    {"max_lines_per_agent": math.inf}, {"planning_fraction": -1.0},
])
def test_bad_config_is_refused(kw: dict[str, object]) -> None:
    with pytest.raises(InvalidPacing):
        PacingConfig(**kw)  # type: ignore[arg-type]


busy_agents = st.lists(st.builds(BusyAgent, st.sampled_from(["talk", "wrapup"]),
                                 st.floats(0, 5000)), max_size=120)
states = st.builds(PacingState, st.integers(0, 120), busy_agents.map(tuple),
                   st.integers(0, 400), st.integers(0, 30),
                   st.none() | st.integers(0, 1000))
stats = st.builds(PacingStats, st.floats(0, 1), st.floats(0, 60), st.floats(1, 3000),
                  st.floats(0, 600))
windows = st.lists(st.builds(WindowCounts, st.just("w"), st.integers(0, 100_000),
                             st.integers(0, 5_000)), max_size=3).map(tuple)
configs = st.builds(PacingConfig, st.sampled_from(["progressive", "ratio", "predictive"]),
                    st.floats(1, 10), st.floats(0, 0.2), st.floats(0, 1), st.floats(0, 1),
                    st.integers(1, 20), st.floats(1, 10))


@settings(max_examples=400, deadline=None)
@given(configs, states, stats, windows)
def test_never_negative_or_absurd_and_never_beyond_the_budget(cfg, state, s, ws) -> None:  # type: ignore[no-untyped-def]
    d = pace(cfg, state, s, ws)
    cap = max(0, math.floor(cfg.max_lines_per_agent * state.agents) - state.in_flight)
    if state.leads_available is not None:
        cap = min(cap, state.leads_available)
    assert 0 <= d.lines <= cap
    assert d.in_flight_after == state.in_flight + d.lines
    progressive = min(cap, max(0, state.idle_agents - state.in_flight))
    if cfg.mode != "ratio":
        assert d.lines >= progressive or state.agents == 0
    if cfg.mode == "predictive" and d.lines > progressive:
        # Worst case (every line live, only idle agents take them) fits every window's budget.
        worst = state.in_flight + d.lines - state.idle_agents
        assert all(worst <= w.budget(cfg.abandon_target) for w in ws)
        assert ws and state.agents >= cfg.min_agents
        assert all(w.rate < cfg.backoff_fraction * cfg.abandon_target for w in ws if w.live)


@settings(max_examples=200, deadline=None)
@given(states, stats, windows)
def test_near_the_limit_predictive_is_progressive(state, s, ws) -> None:  # type: ignore[no-untyped-def]
    cfg = PacingConfig()
    hot = ws + (WindowCounts("30d", 1000, 30),)  # 3.0%: past the back-off point
    assert pace(cfg, state, s, hot).lines == pace(PacingConfig(mode="progressive"), state, s).lines


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 60), st.integers(0, 5), st.floats(0.05, 0.95), st.integers(0, 10),
       st.lists(st.floats(0, 1), min_size=20, max_size=40))
def test_exact_share_agrees_with_brute_force(lines, waiting, q, idle, ps) -> None:  # type: ignore[no-untyped-def]
    from itertools import product

    from acd.dialer.pacing import _binomial_pmf, _shortfall_table, exact_abandon_share

    ps = ps[:6]  # brute force over every agent outcome
    table = _shortfall_table(idle, ps, waiting + lines)
    got = exact_abandon_share(lines, waiting, q, idle, ps, table)
    pmf_x = _binomial_pmf(lines, q)
    expect = 0.0
    for outcome in product((0, 1), repeat=len(ps)):
        pf = math.prod(p if o else 1 - p for p, o in zip(ps, outcome, strict=True))
        f = idle + sum(outcome)
        expect += pf * sum(v * max(0, waiting + x - f) for x, v in enumerate(pmf_x))
    mean_x = waiting + lines * q
    assert got == pytest.approx(expect / mean_x if mean_x else 0.0, abs=1e-9)


def test_binomial_pmf_does_not_underflow() -> None:
    from acd.dialer.pacing import _binomial_pmf

    pmf = _binomial_pmf(400, 0.97)
    assert math.fsum(pmf) == pytest.approx(1.0)
    assert _binomial_pmf(3, 0.5) == pytest.approx([0.125, 0.375, 0.375, 0.125])
