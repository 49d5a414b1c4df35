"""Extraction of a day's arrivals from a hand-made event log in a temporary CRM database: which
calls count, their queue, tier, wait, patience (observed or censored draw), talk and handle."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime
from pathlib import Path

import pytest

from acd.history import interval_deltas
from common.clock import ManualClock
from config.crm import CrmSettings
from crm_core.history import HistoryEvent as E
from crm_core.service import Crm
from whatif.arrivals import KINDS, LATE_S, TIER_VALUES, Patience, extract

D = datetime(2026, 3, 2, tzinfo=UTC).timestamp()  # the day
H = 3600.0

ROWS = [
    # the day before: not this day's arrival, even though it ends inside the day
    E(D - 60, "entered", queue="support", call_id="old", detail="gold"),
    E(D + 10, "abandoned", queue="support", call_id="old", wait_s=70.0),
    # answered, ended, wrap-up ended
    E(D + 9 * H, "entered", queue="support", call_id="a1", detail="gold", number="+3312"),
    E(D + 9 * H + 1, "offered", queue="support", agent="alice", call_id="a1"),
    E(D + 9 * H + 12, "answered", queue="support", agent="alice", call_id="a1", wait_s=12.0),
    E(D + 9 * H + 112, "ended", queue="support", agent="alice", call_id="a1", wait_s=12.0,
      talk_s=100.0),
    E(D + 9 * H + 122, "handled", queue="support", agent="alice", call_id="a1", talk_s=100.0,
      handle_s=110.0),
    # abandoned after 30 s and after 50 s: the day's observed patience
    E(D + 10 * H, "entered", queue="support", call_id="b1", detail="bronze"),
    E(D + 10 * H + 30, "abandoned", queue="support", call_id="b1", wait_s=30.0),
    E(D + 10 * H + 5, "entered", queue="sales", call_id="b2", detail=""),
    E(D + 10 * H + 55, "abandoned", queue="sales", call_id="b2", wait_s=50.0),
    # overflowed from support to sales, answered there after 80 s (longer than any abandon)
    E(D + 11 * H, "entered", queue="support", call_id="o1", detail="platinum"),
    E(D + 11 * H + 40, "overflow", queue="support", call_id="o1", reason="sales"),
    E(D + 11 * H + 40, "entered", queue="sales", call_id="o1", detail="overflow"),
    E(D + 11 * H + 80, "answered", queue="sales", agent="bob", call_id="o1", wait_s=80.0),
    E(D + 11 * H + 200, "ended", queue="sales", agent="bob", call_id="o1", wait_s=80.0,
      talk_s=120.0),
    # left for a callback; handed back to Queue(); still waiting; answered and still talking
    E(D + 12 * H, "entered", queue="support", call_id="cb", detail="silver"),
    E(D + 12 * H + 20, "callback", queue="support", call_id="cb"),
    E(D + 12 * H + 1, "entered", queue="support", call_id="hb", detail="silver"),
    E(D + 12 * H + 9, "handed_back", queue="support", call_id="hb", wait_s=8.0),
    E(D + 13 * H, "entered", queue="support", call_id="w", detail="silver"),
    E(D + 13 * H + 1, "entered", queue="support", call_id="t", detail="silver"),
    E(D + 13 * H + 3, "answered", queue="support", agent="alice", call_id="t", wait_s=2.0),
    # entered at 23:59:50, answered after midnight: this day's arrival
    E(D + 24 * H - 10, "entered", queue="support", call_id="late", detail="gold"),
    E(D + 24 * H + 5, "answered", queue="support", agent="bob", call_id="late", wait_s=15.0),
    E(D + 24 * H + 65, "ended", queue="support", agent="bob", call_id="late", talk_s=60.0),
    # the next day's call
    E(D + 24 * H + 100, "entered", queue="support", call_id="next", detail="gold"),
]


async def _events(tmp_path: Path) -> list[E]:
    crm = await Crm.open(tmp_path / "crm.sqlite3", CrmSettings(), ManualClock(D))
    try:
        await crm.history.append(ROWS, interval_deltas(ROWS, {}), 0.0)
        return await crm.history.events(D, D + 24 * H + LATE_S, KINDS)
    finally:
        await crm.close()


async def test_a_days_arrivals_from_the_event_log(tmp_path: Path) -> None:
    day = extract(await _events(tmp_path), start=D, end=D + 24 * H, seed=3)
    by_id = {a.call_id: a for a in day.arrivals}
    assert [a.call_id for a in day.arrivals] == ["a1", "b1", "b2", "o1", "late"]
    assert day.skipped == {"callback": 1, "handed_back": 1, "no_outcome": 1, "unfinished": 1}
    a1 = by_id["a1"]
    assert (a1.at, a1.queue, a1.tier, a1.value, a1.outcome, a1.wait_s, a1.talk_s, a1.handle_s,
            a1.agent) == (D + 9 * H, "support", "gold", TIER_VALUES["gold"], "answered", 12.0,
                          100.0, 110.0, "alice")
    # censored: drawn from the day's patience past the wait (a day this small: the
    # exponential tail, test_patience_is_kaplan_meier_over_the_days_waits has the rest)
    assert a1.patience_censored and a1.patience_s > 12.0
    b1, b2 = by_id["b1"], by_id["b2"]
    assert (b1.outcome, b1.patience_s, b1.patience_censored) == ("abandoned", 30.0, False)
    assert (b2.queue, b2.tier, b2.value, b2.patience_s) == ("sales", "unknown", 0.0, 50.0)
    # an abandoned call's talk time, had it been answered: one of its queue's answered calls'
    assert b1.talk_drawn and b1.talk_s in (100.0, 60.0)
    assert (b2.talk_drawn, b2.talk_s) == (True, 120.0)
    assert not a1.talk_drawn
    o1 = by_id["o1"]  # counted where it was answered; its wait beats every abandon: tail draw
    assert (o1.at, o1.queue, o1.tier, o1.wait_s, o1.talk_s, o1.handle_s) == (
        D + 11 * H, "sales", "platinum", 80.0, 120.0, None)
    assert o1.patience_s > 80.0
    late = by_id["late"]
    assert (late.at, late.outcome, late.wait_s, late.talk_s) == (D + 24 * H - 10, "answered",
                                                                 15.0, 60.0)
    assert day.queues == ["sales", "support"]
    assert day.agents == {"alice": {"support"}, "bob": {"sales", "support"}}


async def test_queue_filter_and_seeded_draws(tmp_path: Path) -> None:
    events = await _events(tmp_path)
    sales = extract(events, start=D, end=D + 24 * H, queues=["sales"], seed=3)
    assert [a.call_id for a in sales.arrivals] == ["b2", "o1"] and sales.skipped == {}
    draws = {extract(events, start=D, end=D + 24 * H, seed=s).arrivals[0].patience_s
             for s in range(20)}
    assert len(draws) == 20 and min(draws) > 12.0  # seeded, never shorter than the wait
    again = extract(events, start=D, end=D + 24 * H, seed=3)
    assert again == extract(events, start=D, end=D + 24 * H, seed=3)


def test_patience_is_kaplan_meier_over_the_days_waits() -> None:
    # 40 callers answered after 10 s, 20 abandoned at 30 s, 10 at 50 s, 30 answered after 80 s.
    # At 30 s 60 callers still wait and 20 abandon: S = 2/3; at 50 s 40 wait, 10 abandon:
    # S = 2/3 x 3/4 = 1/2. Past that, an exponential tail with mean (sum of waits / abandons).
    m = Patience.estimate([30.0] * 20 + [50.0] * 10, [10.0] * 40 + [80.0] * 30)
    assert m.times == (30.0, 50.0) and m.survival == pytest.approx((2 / 3, 1 / 2))
    assert m.tail_mean_s == pytest.approx((400 + 600 + 500 + 2400) / 30)
    rng = random.Random(1)
    draws = [m.draw_beyond(10.0, rng) for _ in range(6000)]
    # past a wait of 10: 30 with probability 1/3, 50 with 1/6, the tail past 50 with 1/2
    assert all(d in (30.0, 50.0) or d > 50.0 for d in draws)
    assert sum(d == 30.0 for d in draws) / 6000 == pytest.approx(1 / 3, abs=0.02)
    assert sum(d == 50.0 for d in draws) / 6000 == pytest.approx(1 / 6, abs=0.02)
    draws = [m.draw_beyond(30.0, rng) for _ in range(4000)]  # past 30: 50 with 1/4, else tail
    assert sum(d == 50.0 for d in draws) / 4000 == pytest.approx(1 / 4, abs=0.02)
    assert min(draws) == 50.0
    tail = [m.draw_beyond(80.0, rng) for _ in range(4000)]  # past the estimate: the tail
    assert min(tail) > 80.0
    assert statistics.mean(tail) - 80.0 == pytest.approx(m.tail_mean_s, rel=0.1)
    # where fewer than MIN_AT_RISK callers still wait, the estimate stops
    cut = Patience.estimate([30.0] * 20 + [50.0] * 10 + [90.0] * 5, [10.0] * 40 + [80.0] * 30)
    assert cut.times == (30.0, 50.0)
    none = Patience.estimate([], [5.0, 10.0])  # no abandons: the default mean past the wait
    assert none.times == () and none.draw_beyond(10.0, rng) > 10.0


def test_patience_draws_recover_censored_patience() -> None:
    # Callers with exponential patience (mean 120 s) and waits (mean 40 s): those answered
    # have a patience longer than their wait, which the log does not show. Their drawn patience
    # has the true mean; the day's abandons alone (the impatient callers) say less than half.
    rng = random.Random(1)
    calls = [(rng.expovariate(1 / 40), rng.expovariate(1 / 120)) for _ in range(6000)]
    abandoned = [p for w, p in calls if p <= w]
    answered = [(w, p) for w, p in calls if p > w]
    m = Patience.estimate(abandoned, [w for w, _ in answered])
    draws = [m.draw_beyond(w, rng) for w, _ in answered]
    true_mean = statistics.mean(p for _, p in answered)
    assert statistics.mean(draws) == pytest.approx(true_mean, rel=0.05)
    assert all(d > w for d, (w, _) in zip(draws, answered, strict=True))
    assert statistics.mean(abandoned) < 0.5 * true_mean
