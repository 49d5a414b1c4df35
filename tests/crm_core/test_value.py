from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.crm import CrmSettings, TierCutoffs, ValueWeights
from crm_core import value
from crm_core.demo_data import build_demo_database

from .conftest import T0

FRACTIONS = TierCutoffs()
scores_st = st.lists(
    st.tuples(st.integers(1, 10_000), st.floats(0, 100, allow_nan=False)),
    min_size=0, max_size=300, unique_by=lambda t: t[0],
)


@given(scores_st)
@settings(max_examples=200, deadline=None)
def test_tiers_are_monotone_in_score(scores: list[tuple[int, float]]) -> None:
    tiering = value.assign_tiers(scores, FRACTIONS)
    for a_id, a in scores:
        for b_id, b in scores:
            if a > b:
                assert value.tier_rank(tiering.tiers[a_id]) <= value.tier_rank(tiering.tiers[b_id])


@given(scores_st)
@settings(max_examples=200, deadline=None)
def test_tier_sizes_follow_fractions(scores: list[tuple[int, float]]) -> None:
    n = len(scores)
    tiers = value.assign_tiers(scores, FRACTIONS).tiers
    counts = {t: sum(1 for v in tiers.values() if v == t) for t in value.TIER_ORDER}
    assert sum(counts.values()) == n
    assert abs(counts["platinum"] - n * 0.05) <= 1
    assert abs(counts["platinum"] + counts["gold"] - n * 0.20) <= 1
    assert abs(counts["platinum"] + counts["gold"] + counts["silver"] - n * 0.50) <= 1


@given(scores_st, st.floats(0, 100, allow_nan=False))
@settings(max_examples=200, deadline=None)
def test_cutoffs_reproduce_the_ranked_tiers(scores: list[tuple[int, float]], probe: float) -> None:
    tiering = value.assign_tiers(scores, FRACTIONS)
    for cid, s in scores:
        # tier_for_score may only be kinder than rank for ties at a boundary.
        by_cut = value.tier_rank(value.tier_for_score(s, tiering.cutoffs))
        assert by_cut <= value.tier_rank(tiering.tiers[cid])
    higher = value.tier_for_score(probe + 1, tiering.cutoffs)
    assert value.tier_rank(higher) <= value.tier_rank(value.tier_for_score(probe, tiering.cutoffs))


inputs_st = st.builds(
    value.ValueInputs,
    customer_id=st.integers(1, 100),
    revenue_12m=st.floats(0, 1e9, allow_nan=False),
    orders_12m=st.integers(0, 500),
    tenure_days=st.floats(0, 5000, allow_nan=False),
    open_pipeline=st.floats(0, 1e9, allow_nan=False),
)


@given(inputs_st, st.floats(0, 1e9, allow_nan=False))
@settings(max_examples=200, deadline=None)
def test_more_revenue_never_lowers_the_score(inp: value.ValueInputs, extra: float) -> None:
    scales = value.Scales(1e9, 500, 5000, 1e9)
    w = ValueWeights()
    richer = value.ValueInputs(inp.customer_id, inp.revenue_12m + extra, inp.orders_12m,
                               inp.tenure_days, inp.open_pipeline)
    assert 0.0 <= value.score(inp, scales, w) <= value.score(richer, scales, w) <= 100.0


def test_score_components_and_weights() -> None:
    scales = value.Scales(revenue=1000.0, orders=10, tenure=100.0, pipeline=500.0)
    top = value.ValueInputs(1, 1000.0, 10, 100.0, 500.0)
    assert value.score(top, scales, ValueWeights()) == pytest.approx(100.0)
    nothing = value.ValueInputs(2, 0.0, 0, 0.0, 0.0)
    assert value.score(nothing, scales, ValueWeights()) == 0.0
    only_tenure = ValueWeights(revenue_12m=0, frequency_12m=0, tenure=1, open_pipeline=0)
    half = value.ValueInputs(3, 0.0, 0, 50.0, 0.0)
    assert value.score(half, scales, only_tenure) == pytest.approx(50.0)
    zero = ValueWeights(revenue_12m=0, frequency_12m=0, tenure=0, open_pipeline=0)
    assert value.score(top, scales, zero) == 0.0


def test_empty_tier_has_infinite_cutoff() -> None:
    tiering = value.assign_tiers([(1, 5.0)], FRACTIONS)
    assert tiering.cutoffs.platinum == math.inf
    assert tiering.cutoffs.gold == math.inf
    # One customer: 5% and 20% round to nobody, 50% rounds to one.
    assert tiering.tiers == {1: "silver"}
    assert value.tier_for_score(1e6, tiering.cutoffs) == "silver"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite3"
    build_demo_database(path, customers=3000, seed=11, now=T0, settings=CrmSettings(),
                        progress=None)
    return path


def test_demo_top_20_percent_by_value_are_gold_or_better(demo_db: Path) -> None:
    conn = sqlite3.connect(demo_db)
    rows = conn.execute("SELECT id, value_score, tier FROM customers"
                        " ORDER BY value_score DESC, id").fetchall()
    conn.close()
    n = len(rows)
    assert n == 3000
    top = rows[: n // 5]
    assert all(t in ("platinum", "gold") for _, _, t in top)
    premium = sum(1 for _, _, t in rows if t in ("platinum", "gold"))
    assert abs(premium - n * 0.20) <= 1
    assert abs(sum(1 for _, _, t in rows if t == "platinum") - n * 0.05) <= 1
    # Scores spread out (the Pareto revenue spread must not collapse everyone to one value).
    assert len({s for _, s, _ in rows}) > n // 2


def test_demo_tickets_follow_their_customers_sla(demo_db: Path) -> None:
    conn = sqlite3.connect(demo_db)
    rows = conn.execute("SELECT c.tier, t.due_at - t.created_at FROM tickets t"
                        " JOIN customers c ON c.id = t.customer_id").fetchall()
    conn.close()
    hours = CrmSettings().sla_hours
    assert len(rows) > 50
    assert {tier for tier, _ in rows} >= {"gold", "silver", "bronze"}
    for tier, span in rows:
        assert span == pytest.approx(hours[tier] * 3600.0)


def test_demo_data_is_deterministic(tmp_path: Path) -> None:
    dumps = []
    for name in ("a", "b"):
        path = tmp_path / f"{name}.sqlite3"
        build_demo_database(path, customers=200, seed=5, now=T0, progress=None)
        conn = sqlite3.connect(path)
        dumps.append([
            conn.execute("SELECT * FROM customers ORDER BY id").fetchall(),
            conn.execute("SELECT * FROM phones ORDER BY id").fetchall(),
            conn.execute("SELECT * FROM orders ORDER BY id").fetchall(),
        ])
        conn.close()
    assert dumps[0] == dumps[1]
    assert len(dumps[0][2]) > 0


def test_ensure_demo_database_builds_once_and_opens(tmp_path: Path) -> None:
    from crm_core.demo_data import ensure_demo_database

    path = tmp_path / "demo.sqlite3"
    first = ensure_demo_database(path, customers=50, seed=1, now=T0, progress=None)
    assert first is not None and first.customers == 50
    assert ensure_demo_database(path, customers=50, seed=1, now=T0, progress=None) is None
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM customers").fetchone() == (50,)
    assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] >= 2
    conn.close()


def test_demo_agents_are_well_formed() -> None:
    from crm_core.demo_data import demo_agents

    agents = demo_agents(12)
    assert agents == demo_agents(12)
    assert len({a.username for a in agents}) == len({a.extension for a in agents}) == 12
    assert {a.team for a in agents} == {"Support", "Sales", "Billing"}
    for a in agents:
        assert a.skills and all(1 <= lvl <= 5 for _, lvl in a.skills)
        assert a.role == "agent" and a.display_name


async def test_screen_pop_over_demo_data(demo_db: Path) -> None:
    from common.clock import ManualClock
    from crm_core.demo_data import phone_for_index
    from crm_core.service import Crm

    crm = await Crm.open(demo_db, CrmSettings(), clock=ManualClock(T0))
    try:
        e164, _ = phone_for_index(0)
        national = e164[2:]
        v = await crm.lookup_by_phone(f"({national[:3]}) {national[3:6]}-{national[6:]}")
        assert v is not None and v.customer.id == 1
        assert await crm.tier_for_phone(e164) == v.customer.tier
        busiest = await crm.db.call(lambda c: c.execute(
            "SELECT customer_id FROM interactions GROUP BY customer_id"
            " ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0])
        view = await crm.customer_view(busiest)
        assert len(view.last_interactions) == min(10, len(view.last_interactions))
        times = [i.created_at for i in view.last_interactions]
        assert times == sorted(times, reverse=True) and len(times) >= 5
        assert sum(d.total_cents for d in view.purchases_by_department) >= 0
    finally:
        await crm.close()


def test_every_demo_team_has_an_agent_for_the_first_escalation_step() -> None:
    from config.acd import AcdSettings
    from crm_core.demo_data import demo_agents

    first_step = AcdSettings().queues[0].escalation[0].min_skill_level
    agents = demo_agents(8)
    for queue in ("support", "sales"):
        levels = [dict(a.skills).get(queue, 0) for a in agents]
        assert max(levels) >= first_step, (queue, levels)
