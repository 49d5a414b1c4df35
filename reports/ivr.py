"""IVR reports: pure computations over the 15-minute IVR rows (cc_ivr_intervals).

- ivr_summary: per period and queue (and the all-queues line, queue ""), the callers who
  finished a menu and how: self-service, routed to a queue, transferred, callback, message,
  abandoned in the IVR, handed back (failed); self-service completion rate, IVR abandon rate and
  mean seconds in the menu. The same counts and formulas as the live queue statistics
  (acd/stats.py `ivr_*`, acd/metrics.py), which a test checks against each other.
- ivr_exits: where callers leave each menu: per menu, exit node and outcome, the calls, their
  share of the menu's calls and the mean seconds they spent in it; the most-left nodes first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import tzinfo

from acd import metrics
from crm_core.history import IvrInterval
from reports.periods import Interval, Periods

ALL = ""
OUTCOMES: tuple[str, ...] = ("self_service", "queued", "transferred", "callback", "message",
                             "abandoned", "failed")


@dataclass(frozen=True, slots=True)
class IvrRow:
    period: str
    period_start: float
    queue: str  # "" = all queues
    calls: int
    self_service: int
    queued: int
    transferred: int
    callback: int
    message: int
    abandoned: int
    failed: int  # handed back to the dialplan (the server could not serve the call)
    self_service_rate: float | None
    abandon_rate: float | None
    avg_seconds: float | None


@dataclass(frozen=True, slots=True)
class IvrExit:
    menu: str
    node: str
    outcome: str
    calls: int
    share: float | None  # of the menu's calls in the range
    avg_seconds: float | None


def _wanted(r: IvrInterval, start: float, end: float, menus: Sequence[str] | None,
            queues: Sequence[str] | None) -> bool:
    return start <= r.start < end and (not menus or r.menu in menus) and \
        (not queues or r.queue in queues)


def ivr_summary(rows: Iterable[IvrInterval], *, interval: Interval, tz: tzinfo | None,
                start: float, end: float, menus: Sequence[str] | None = None,
                queues: Sequence[str] | None = None) -> list[IvrRow]:
    periods = Periods(interval, tz, start)
    # (period, queue) -> outcome -> [calls, seconds]
    sums: dict[tuple[float, str], dict[str, list[float]]] = {}
    for r in rows:
        if not _wanted(r, start, end, menus, queues):
            continue
        p = periods.of(r.start)
        for key in ((p, r.queue), (p, ALL)):
            acc = sums.setdefault(key, {}).setdefault(r.outcome, [0.0, 0.0])
            acc[0] += r.calls
            acc[1] += r.seconds
    out = []
    for (p, q), by in sorted(sums.items()):
        n = {o: round(by.get(o, (0.0, 0.0))[0]) for o in OUTCOMES}
        # Outcomes this version does not know still count as IVR calls.
        calls = round(sum(v[0] for v in by.values()))
        seconds = sum(v[1] for v in by.values())
        out.append(IvrRow(
            period=periods.label(p), period_start=p, queue=q, calls=calls, **n,
            self_service_rate=metrics.self_service_rate(n["self_service"], calls),
            abandon_rate=metrics.ivr_abandon_rate(n["abandoned"], calls),
            avg_seconds=metrics.ratio(seconds, calls)))
    return out


def ivr_exits(rows: Iterable[IvrInterval], *, start: float, end: float,
              menus: Sequence[str] | None = None, queues: Sequence[str] | None = None
              ) -> list[IvrExit]:
    per_menu: dict[str, float] = {}
    sums: dict[tuple[str, str, str], list[float]] = {}
    for r in rows:
        if not _wanted(r, start, end, menus, queues):
            continue
        per_menu[r.menu] = per_menu.get(r.menu, 0.0) + r.calls
        acc = sums.setdefault((r.menu, r.node, r.outcome), [0.0, 0.0])
        acc[0] += r.calls
        acc[1] += r.seconds
    out = [IvrExit(menu=m, node=node, outcome=o, calls=round(c),
                   share=metrics.ratio(c, per_menu[m]), avg_seconds=metrics.ratio(s, c))
           for (m, node, o), (c, s) in sums.items()]
    out.sort(key=lambda e: (e.menu, -e.calls, e.node, e.outcome))
    return out
