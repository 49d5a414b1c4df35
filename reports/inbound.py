"""Inbound summary and distributions: pure computations over the 15-minute queue rows.

Per queue (and overall, key ""), per period (15 min / hour / day / total): offered (calls that
entered the queue, overflow-ins included), answered, abandoned, short abandons, service level
with and without short abandons, ASA, AHT, abandon rate, average time to abandon, transfer rate,
first-call resolution, RONA, overflows out, callbacks. Formulas: acd/metrics.py (the same the
live wallboard uses). A call counts where its outcome happened: answered/abandoned in the
interval of the answer/abandon, handled (AHT) when its wrap-up ended.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo

from acd import metrics
from acd.history import HISTOGRAMS, Limits, interval_deltas
from crm_core.history import QUEUE_COUNTERS, HistogramBin, HistoryEvent, QueueInterval
from reports.periods import Interval, Periods

ALL = ""


@dataclass(frozen=True, slots=True)
class InboundRow:
    period: str
    period_start: float
    queue: str  # "" = all queues
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


def _row(period: str, start: float, queue: str, s: Mapping[str, float]) -> InboundRow:
    answered, abandoned = round(s["answered"]), round(s["abandoned"])
    handled = round(s["handled"])
    f = metrics.queue_figures(
        answered=answered, answered_within_sl=s["answered_sl"], abandoned=abandoned,
        abandoned_short=round(s["abandoned_short"]), handled=handled,
        wait_answered_s=s["wait_answered_s"], wait_abandoned_s=s["wait_abandoned_s"],
        handle_s=s["handle_s"])
    return InboundRow(
        period=period, period_start=start, queue=queue, offered=round(s["entered"]),
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
    queue: str  # "" = all queues
    metric: str  # wait_answered / wait_abandoned (time to abandon) / talk / handle
    bins: tuple[tuple[float, float | None, int], ...]  # (from s, to s or None = open, count)


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
