"""CRM analytics: pure computations over crm_core.analytics rows.

Definitions:
- pipeline: opportunities by stage (count, amount, weighted = amount x probability); forecast:
  open opportunities' weighted amount by month of expected close (crm_core.sales).
- value curve (80/20): customers ranked by paid-order revenue in the range; for the top p% of
  customers (p = 10, 20, ... 100; top k = ceil(p% x customers)), their share of the revenue.
- not contacted: customers (stage "customer") without any interaction for N days, most
  valuable first (churn risk); high-value customers with open tickets: platinum and gold.
- ticket SLA: tickets created in the range; met = resolved or closed (first time, from the
  ticket history) by the due time; breached = resolved late, or still open past due at `now`;
  compliance = met / (met + breached); still open and not yet due counts in neither.
- by team (pipeline, ticket SLA with `by_team`): grouped by the team of the opportunity's or
  ticket's owner instead of by priority.
- lead conversion per campaign and source (lead list): contacted = status contacted, callback
  or done; converted = the lead's customer is now a customer; rates over all leads.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from acd import metrics
from crm_core.models import ForecastMonth

CONTACTED = frozenset({"contacted", "callback", "done"})
NO_TEAM = "(none)"


def pipeline(rows: Iterable[tuple[str, int, int, float]]) -> list[dict[str, Any]]:
    order = ["qualification", "proposal", "negotiation", "won", "lost"]
    by = {r[0]: r for r in rows}
    return [{"stage": s, "opportunities": by[s][1], "amount_cents": by[s][2],
             "weighted_cents": round(by[s][3])} for s in order if s in by]


def forecast(months: Iterable[ForecastMonth]) -> list[dict[str, Any]]:
    return [{"month": m.month, "weighted_cents": m.weighted_cents,
             "opportunities": m.opportunities} for m in months]


def value_curve(revenues: Sequence[int]) -> list[dict[str, Any]]:
    ranked = sorted(revenues, reverse=True)
    total = sum(ranked)
    n = len(ranked)
    out = []
    for p in range(10, 101, 10):
        k = math.ceil(n * p / 100) if n else 0
        top = sum(ranked[:k])
        out.append({"top_customers_pct": p, "customers": k, "revenue_cents": top,
                    "revenue_share": metrics.ratio(top, total)})
    return out


def not_contacted(rows: Iterable[tuple[int, str, str, float, float | None]]
                  ) -> list[dict[str, Any]]:
    return [{"customer_id": r[0], "name": r[1], "tier": r[2], "value_score": r[3],
             "last_contact": r[4]} for r in rows]


def vip_open_tickets(rows: Iterable[tuple[int, str, str, float, int, int, float]]
                     ) -> list[dict[str, Any]]:
    return [{"customer_id": r[0], "name": r[1], "tier": r[2], "value_score": r[3],
             "open_tickets": r[4], "escalated": r[5], "earliest_due": r[6]} for r in rows]


def ticket_sla(rows: Iterable[tuple[str, str, str, float, float, float | None, int,
                                    float | None]], now: float) -> list[dict[str, Any]]:
    """One line per priority, then the overall line (priority "")."""
    order = ["urgent", "high", "normal", "low", ""]
    acc = _sla_sums(((r[0], r) for r in rows), now)
    return [{"priority": key, **_sla_figures(acc[key])}
            for key in sorted(acc, key=lambda k: order.index(k) if k in order else len(order))]


def ticket_sla_by_team(rows: Iterable[tuple[str, str, str, str, float, float, float | None,
                                            int, float | None]], now: float
                       ) -> list[dict[str, Any]]:
    """One line per team of the tickets' owners ("(none)": unowned, or an owner without a
    team), then the overall line (team "")."""
    acc = _sla_sums(((r[0] or NO_TEAM, r[1:]) for r in rows), now)
    return [{"team": key, **_sla_figures(acc[key])}
            for key in sorted(acc, key=lambda k: (k == "", k))]


def _sla_sums(rows: Iterable[tuple[str, tuple[Any, ...]]], now: float
              ) -> dict[str, dict[str, float]]:
    acc: dict[str, dict[str, float]] = {}
    for group, (_prio, _cat, _status, created, due, resolved, escalated, _esc_at) in rows:
        for key in (group, ""):
            a = acc.setdefault(key, dict.fromkeys(
                ("created", "resolved", "met", "breached", "escalated", "resolve_s"), 0.0))
            a["created"] += 1
            a["escalated"] += escalated
            if resolved is not None:
                a["resolved"] += 1
                a["resolve_s"] += resolved - created
                a["met" if resolved <= due else "breached"] += 1
            elif now > due:
                a["breached"] += 1
    return acc


def _sla_figures(a: dict[str, float]) -> dict[str, Any]:
    return {
        "created": int(a["created"]), "resolved": int(a["resolved"]),
        "met": int(a["met"]), "breached": int(a["breached"]),
        "compliance": metrics.ratio(a["met"], a["met"] + a["breached"]),
        "escalated": int(a["escalated"]),
        "escalation_rate": metrics.ratio(a["escalated"], a["created"]),
        "avg_resolution_h": None if not a["resolved"]
        else a["resolve_s"] / a["resolved"] / 3600.0,
    }


def pipeline_by_team(rows: Iterable[tuple[str, str, int, int, float]]) -> list[dict[str, Any]]:
    """Per team of the opportunities' owners ("(none)" without one) and stage."""
    order = ["qualification", "proposal", "negotiation", "won", "lost"]
    out = [{"team": team or NO_TEAM, "stage": stage, "opportunities": n, "amount_cents": amount,
            "weighted_cents": round(weighted)} for team, stage, n, amount, weighted in rows]
    out.sort(key=lambda r: (str(r["team"]), order.index(str(r["stage"]))
                            if r["stage"] in order else len(order)))
    return out


def lead_conversion(rows: Iterable[tuple[str, str, str, int, int, int]]
                    ) -> list[dict[str, Any]]:
    """Per (campaign, source) and per campaign (source "")."""
    acc: dict[tuple[str, str], list[int]] = {}
    for campaign, source, status, leads, attempts, converted in rows:
        for key in ((campaign, source), (campaign, "")):
            a = acc.setdefault(key, [0, 0, 0, 0])
            a[0] += leads
            a[1] += attempts
            a[2] += leads if status in CONTACTED else 0
            a[3] += converted
    return [{"campaign": c, "source": s, "leads": a[0], "attempts": a[1], "contacted": a[2],
             "converted": a[3], "contact_rate": metrics.ratio(a[2], a[0]),
             "conversion_rate": metrics.ratio(a[3], a[0])}
            for (c, s), a in sorted(acc.items())]
