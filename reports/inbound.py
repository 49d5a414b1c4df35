"""Inbound summary and distributions: pure computations over the 15-minute queue rows.

Per queue (and overall, key ""), per period (15 min / hour / day / total): offered (calls that
entered the queue, overflow-ins included), answered, abandoned, short abandons, service level
with and without short abandons, ASA, AHT, abandon rate, average time to abandon, transfer rate,
first-call resolution, RONA, overflows out, callbacks. Formulas: acd/metrics.py (the same the
live wallboard uses). A call counts where its outcome happened: answered/abandoned in the
interval of the answer/abandon, handled (AHT) when its wrap-up ended.

By team (inbound_by_team, distributions_by_team): one line per team instead of per queue, the
call attributed as reports/teams.py defines (the answering agent's team, else the queue's owner).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo

from acd import metrics
from acd.history import HISTOGRAMS, Limits, interval_deltas
from crm_core.history import (
    QUEUE_AGENT_COUNTERS,
    QUEUE_COUNTERS,
    AgentHistogramBin,
    HistogramBin,
    HistoryEvent,
    QueueAgentInterval,
    QueueInterval,
)
from reports.periods import Interval, Periods
from reports.teams import OWNER_COUNTERS, OWNER_HISTOGRAMS, agent_team, owner_team, team_offered

ALL = ""


@dataclass(frozen=True, slots=True)
class InboundRow:
    period: str
    period_start: float
    queue: str  # "" = all queues (and every line by team)
    team: str  # by team: the team ("" = all teams, "(none)"); else ""
    offered: int
    answered: int
    answered_within_sl: int
    abandoned: int
    abandoned_short: int
    overflowed_out: int
    handled: int
    callbacks: int
    rona: int
    transferred: int
    service_level: float | None
    service_level_excl_short: float | None
    asa_s: float | None
    aht_s: float | None
    abandon_rate: float | None
    avg_time_to_abandon_s: float | None
    transfer_rate: float | None
    first_call_resolution: float | None


def _row(period: str, start: float, queue: str, s: Mapping[str, float], team: str = ""
         ) -> InboundRow:
    answered, abandoned = round(s["answered"]), round(s["abandoned"])
    handled = round(s["handled"])
    f = metrics.queue_figures(
        answered=answered, answered_within_sl=s["answered_sl"], abandoned=abandoned,
        abandoned_short=round(s["abandoned_short"]), handled=handled,
        wait_answered_s=s["wait_answered_s"], wait_abandoned_s=s["wait_abandoned_s"],
        handle_s=s["handle_s"])
    return InboundRow(
        period=period, period_start=start, queue=queue, team=team, offered=round(s["entered"]),
        answered=answered, answered_within_sl=round(s["answered_sl"]), abandoned=abandoned,
        abandoned_short=round(s["abandoned_short"]), overflowed_out=round(s["overflowed_out"]),
        handled=handled, callbacks=round(s["callbacks"]), rona=round(s["rona"]),
        transferred=round(s["transferred"]),
        service_level=f.service_level, service_level_excl_short=f.service_level_excl_short,
        asa_s=f.asa_s, aht_s=f.aht_s, abandon_rate=f.abandon_rate,
        avg_time_to_abandon_s=f.avg_time_to_abandon_s,
        transfer_rate=metrics.transfer_rate(s["transferred"], answered),
        first_call_resolution=metrics.first_call_resolution(answered, s["repeated"]),
    )


def inbound_summary(rows: Iterable[QueueInterval], *, interval: Interval, tz: tzinfo | None,
                    start: float, end: float, queues: Sequence[str] | None = None
                    ) -> list[InboundRow]:
    """Rows whose 15 minutes start in [start, end), grouped by period and queue; each period
    also gets the all-queues line (queue "")."""
    periods = Periods(interval, tz, start)
    wanted = set(queues) if queues else None
    sums: dict[tuple[float, str], list[float]] = {}
    n = len(QUEUE_COUNTERS)
    for r in rows:
        if r.start < start or r.start >= end or (wanted is not None and r.queue not in wanted):
            continue
        p = periods.of(r.start)
        vals = [float(r.counters[c]) for c in QUEUE_COUNTERS]
        for key in ((p, r.queue), (p, ALL)):
            acc = sums.get(key)
            if acc is None:
                sums[key] = list(vals)
            else:
                for i in range(n):
                    acc[i] += vals[i]
    out = []
    for (p, q), acc in sorted(sums.items()):
        out.append(_row(periods.label(p), p, q, dict(zip(QUEUE_COUNTERS, acc, strict=True))))
    return out


def inbound_by_team(rows: Iterable[QueueInterval], agent_rows: Iterable[QueueAgentInterval], *,
                    interval: Interval, tz: tzinfo | None, start: float, end: float,
                    owners: Mapping[str, str], teams: Mapping[str, str],
                    queues: Sequence[str] | None = None,
                    only_teams: Sequence[str] | None = None) -> list[InboundRow]:
    """One line per period and team (and the all-teams line, team ""): the answered side from
    the per-agent queue rows by the agent's team (`teams`: username -> team), the unanswered
    side from the queue rows by the queue's owner (`owners`: queue -> team). `only_teams`:
    just these teams' lines (the all-teams line then sums them)."""
    periods = Periods(interval, tz, start)
    wanted_q = set(queues) if queues else None
    wanted_t = set(only_teams) if only_teams else None
    sums: dict[tuple[float, str], dict[str, float]] = {}

    def acc(p: float, team: str) -> dict[str, float] | None:
        if wanted_t is not None and team not in wanted_t:
            return None
        row = sums.get((p, team))
        if row is None:
            row = sums[(p, team)] = dict.fromkeys(QUEUE_COUNTERS, 0.0)
        return row

    for a in agent_rows:
        if a.start < start or a.start >= end or (wanted_q is not None and a.queue not in wanted_q):
            continue
        row = acc(periods.of(a.start), agent_team(a.agent, teams))
        if row is not None:
            for c in QUEUE_AGENT_COUNTERS:
                row[c] += a.counters[c]
    for r in rows:
        if r.start < start or r.start >= end or (wanted_q is not None and r.queue not in wanted_q):
            continue
        if not any(r.counters[c] for c in OWNER_COUNTERS):
            continue
        row = acc(periods.of(r.start), owner_team(r.queue, owners))
        if row is not None:
            for c in OWNER_COUNTERS:
                row[c] += r.counters[c]
    totals: dict[float, dict[str, float]] = {}
    for (p, _), row in sums.items():
        tot = totals.setdefault(p, dict.fromkeys(QUEUE_COUNTERS, 0.0))
        for c in QUEUE_COUNTERS:
            tot[c] += row[c]
    for p, tot in totals.items():
        sums[(p, ALL)] = tot
    out = []
    for (p, team), row in sorted(sums.items()):
        row["entered"] = team_offered(row["answered"], row["abandoned"], row["overflowed_out"])
        out.append(_row(periods.label(p), p, ALL, row, team=team))
    return out


def intervals_from_events(events: Sequence[HistoryEvent], limits: Limits,
                          repeated_calls: set[str] | None = None) -> list[QueueInterval]:
    """The same 15-minute rows, computed straight from raw event rows (no aggregate table):
    the benchmark's baseline and a cross-check of the aggregate."""
    d = interval_deltas(events, limits)
    if repeated_calls:
        for e in events:
            if e.kind == "answered" and e.call_id in repeated_calls:
                row = d.queue.setdefault((e.at // 900 * 900, e.queue), {})
                row["repeated"] = row.get("repeated", 0.0) + 1
    return [QueueInterval(b, q, {c: v.get(c, 0.0) for c in QUEUE_COUNTERS})
            for (b, q), v in sorted(d.queue.items())]


@dataclass(frozen=True, slots=True)
class Distribution:
    queue: str  # "" = all queues (and every line by team)
    metric: str  # wait_answered / wait_abandoned (time to abandon) / talk / handle
    bins: tuple[tuple[float, float | None, int], ...]  # (from s, to s or None = open, count)
    team: str = ""  # by team: the team ("" = all teams)


def distributions_by_team(bins: Iterable[HistogramBin], agent_bins: Iterable[AgentHistogramBin],
                          *, start: float, end: float, owners: Mapping[str, str],
                          teams: Mapping[str, str], queues: Sequence[str] | None = None,
                          only_teams: Sequence[str] | None = None) -> list[Distribution]:
    """Per team (reports/teams.py): wait to answer, talk and handle time by the answering
    agent's team (`agent_bins`, already summed over the range); time to abandon by the queue's
    owner (`bins`, the queue histograms)."""
    wanted_q = set(queues) if queues else None
    wanted_t = set(only_teams) if only_teams else None
    counts: dict[tuple[str, str], list[int]] = {}

    def add(team: str, metric: str, i: int, n: int) -> None:
        edges = HISTOGRAMS.get(metric)
        if edges is None or not 0 <= i < len(edges) or (
                wanted_t is not None and team not in wanted_t):
            return
        for key in ((team, metric), (ALL, metric)):
            counts.setdefault(key, [0] * len(edges))[i] += n

    for a in agent_bins:
        if a.metric not in OWNER_HISTOGRAMS and (wanted_q is None or a.queue in wanted_q):
            add(agent_team(a.agent, teams), a.metric, a.bin, a.n)
    for b in bins:
        if b.start < start or b.start >= end or b.metric not in OWNER_HISTOGRAMS or (
                wanted_q is not None and b.queue not in wanted_q):
            continue
        add(owner_team(b.queue, owners), b.metric, b.bin, b.n)
    out = []
    for (t, m), acc in sorted(counts.items()):
        edges = HISTOGRAMS[m]
        out.append(Distribution(ALL, m, tuple(
            (edges[i], edges[i + 1] if i + 1 < len(edges) else None, acc[i])
            for i in range(len(edges))), team=t))
    return out


def distributions(bins: Iterable[HistogramBin], *, start: float, end: float,
                  queues: Sequence[str] | None = None) -> list[Distribution]:
    wanted = set(queues) if queues else None
    counts: dict[tuple[str, str], list[int]] = {}
    for b in bins:
        if b.start < start or b.start >= end or (wanted is not None and b.queue not in wanted):
            continue
        edges = HISTOGRAMS.get(b.metric)
        if edges is None or not 0 <= b.bin < len(edges):
            continue
        for key in ((b.queue, b.metric), (ALL, b.metric)):
            acc = counts.setdefault(key, [0] * len(edges))
            acc[b.bin] += b.n
    out = []
    for (q, m), acc in sorted(counts.items()):
        edges = HISTOGRAMS[m]
        out.append(Distribution(q, m, tuple(
            (edges[i], edges[i + 1] if i + 1 < len(edges) else None, acc[i])
            for i in range(len(edges)))))
    return out
