"""Customer value: a score from four components and tiers by rank. Pure: no SQL, no clock.

Each component is normalised to 0..1 against the population's maximum (kept from the last full
recompute, so an incremental rescore is on the same scale). Revenue, frequency and pipeline are
log-scaled because their spread is Pareto-like: on a linear scale a handful of whales would push
everyone else to ~0. The score is the weighted mean of the components, times 100.

Tiers are by rank, not by score thresholds chosen in advance: the top `platinum` fraction is
platinum, the next `gold` fraction gold, and so on. The scores at the tier boundaries are the
cut-offs, used to tier a single customer between full recomputes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from config.crm import TierCutoffs, ValueWeights

TIER_ORDER = ("platinum", "gold", "silver", "bronze")
_DAY = 86400.0


@dataclass(frozen=True, slots=True)
class ValueInputs:
    customer_id: int
    revenue_12m: float  # cents, orders not cancelled, last 365 days
    orders_12m: int
    tenure_days: float
    open_pipeline: float  # cents, sum of amount x probability of open opportunities


@dataclass(frozen=True, slots=True)
class Scales:
    revenue: float
    orders: float
    tenure: float
    pipeline: float


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Lowest score of each tier at the last full recompute (inf when the tier was empty)."""

    platinum: float
    gold: float
    silver: float


@dataclass(frozen=True, slots=True)
class Tiering:
    tiers: dict[int, str]  # customer_id -> tier
    cutoffs: Cutoffs


def tenure_days(created_at: float, now: float) -> float:
    return max(0.0, (now - created_at) / _DAY)


def scales_for(inputs: Iterable[ValueInputs]) -> Scales:
    r = o = t = p = 0.0
    for i in inputs:
        r = max(r, i.revenue_12m)
        o = max(o, float(i.orders_12m))
        t = max(t, i.tenure_days)
        p = max(p, i.open_pipeline)
    return Scales(r, o, t, p)


def _log_norm(x: float, top: float) -> float:
    if top <= 0 or x <= 0:
        return 0.0
    return min(1.0, math.log1p(x) / math.log1p(top))


def _lin_norm(x: float, top: float) -> float:
    if top <= 0 or x <= 0:
        return 0.0
    return min(1.0, x / top)


def score(inputs: ValueInputs, scales: Scales, weights: ValueWeights) -> float:
    """0..100; 0 when every weight is 0."""
    parts = (
        (weights.revenue_12m, _log_norm(inputs.revenue_12m, scales.revenue)),
        (weights.frequency_12m, _log_norm(float(inputs.orders_12m), scales.orders)),
        (weights.tenure, _lin_norm(inputs.tenure_days, scales.tenure)),
        (weights.open_pipeline, _log_norm(inputs.open_pipeline, scales.pipeline)),
    )
    total_w = sum(w for w, _ in parts)
    if total_w <= 0:
        return 0.0
    # Rounded so scores stored as REAL and recomputed later compare equal.
    return round(100.0 * sum(w * c for w, c in parts) / total_w, 9)


def tier_sizes(n: int, fractions: TierCutoffs) -> tuple[int, int, int]:
    """Cumulative counts (platinum, platinum+gold, platinum+gold+silver) for n customers."""

    def cum(f: float) -> int:
        return min(n, math.floor(n * f + 0.5))

    p = cum(fractions.platinum)
    g = max(p, cum(fractions.platinum + fractions.gold))
    s = max(g, cum(fractions.platinum + fractions.gold + fractions.silver))
    return p, g, s


def assign_tiers(scores: Sequence[tuple[int, float]], fractions: TierCutoffs) -> Tiering:
    """Tier (customer_id, score) pairs by rank; ties in score are broken by lower id first."""
    ranked = sorted(scores, key=lambda cs: (-cs[1], cs[0]))
    p, g, s = tier_sizes(len(ranked), fractions)
    tiers: dict[int, str] = {}
    for rank, (cid, _) in enumerate(ranked):
        tiers[cid] = (
            "platinum" if rank < p else "gold" if rank < g else "silver" if rank < s else "bronze"
        )

    def lowest(count: int) -> float:
        return ranked[count - 1][1] if count > 0 else math.inf

    cut = Cutoffs(lowest(p), lowest(g) if g > p else math.inf, lowest(s) if s > g else math.inf)
    return Tiering(tiers, cut)


def tier_for_score(value: float, cutoffs: Cutoffs) -> str:
    if value >= cutoffs.platinum:
        return "platinum"
    if value >= cutoffs.gold:
        return "gold"
    if value >= cutoffs.silver:
        return "silver"
    return "bronze"


def tier_rank(tier: str) -> int:
    """0 for platinum .. 3 for bronze (4 for anything else, e.g. "unknown")."""
    return TIER_ORDER.index(tier) if tier in TIER_ORDER else len(TIER_ORDER)
