"""Outbound campaign reports: pure computations over the event log's `dialer_attempt` rows.

- outbound_summary: per period and campaign (or agent, or team; "" = all), the attempts (numbers
  the dial policy refused are counted apart: they were never dialled) and what became of them:
  live answers (a person picked up: connected to an agent, or abandoned because no agent came
  within the limit), answering machines, busy, no answer, other (invalid numbers, failures);
  conversions (connected calls whose CRM disposition is one of
  [reports].conversion_dispositions); contact and conversion rates; mean time to a live agent.
- the abandon rule's figures, per campaign and for all campaigns (by=campaign; a figure of a
  campaign, not of an agent): the period's live answers and abandons as the dialer counted
  them (rule_live, rule_abandoned) and their abandon_rate, and the rate of the 24 hours and of
  the 30 days ending at the period's end. They come from the dialer's own per-minute counts
  (crm_core/dialer_store.py) through the live tracker's window code (acd/dialer/abandon.py
  windows_at), so they are what the wallboard showed at that moment (docs/reports.md); the
  attempt columns (live, abandoned...) count the attempts' outcomes from the event log, when
  each attempt ended.
- outbound_hours: per campaign and local hour of the day, attempts, contact and conversion
  rates, ranked: the best hours to call.

Formulas: acd/metrics.py (contact_rate, conversion_rate, outbound_abandon_rate).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from typing import Literal

from acd import metrics
from acd.dialer.abandon import windows_at
from crm_core.history import DialerSum, HistoryEvent, bucket
from reports.periods import Interval, Periods

ALL = ""
NONE = "(none)"  # by agent / team: attempts no agent took (machines, no answer, abandons...)
GroupBy = Literal["campaign", "agent", "team"]
GROUPS: tuple[str, ...] = ("campaign", "agent", "team")
_NAMED = ("machine", "busy", "no_answer")
REFUSED = "refused"

Attempt = tuple[HistoryEvent, bool]  # a raw row, and whether its call converted
# The dialer's abandon-rule counts of one minute: (campaign, minute start, live, abandoned)
RuleCount = tuple[str, float, int, int]


@dataclass(frozen=True, slots=True)
class OutboundRow:
    period: str
    period_start: float
    group: str  # the campaign, agent or team ("" = all; "(none)" = no agent / no team)
    attempts: int
    live: int  # a person answered: connected + abandoned
    connected: int
    abandoned: int
    machine: int
    busy: int
    no_answer: int
    other: int  # invalid numbers, failures
    refused: int  # the dial policy refused the number: not dialled, not an attempt
    conversions: int
    contact_rate: float | None
    conversion_rate: float | None
    # The abandon rule (by=campaign; None on agent and team lines): the dialer's counts.
    rule_live: int | None  # live answers in the period, abandons included
    rule_abandoned: int | None
    abandon_rate: float | None  # rule_abandoned / rule_live
    abandon_rate_24h: float | None  # the 24 h ending at the period's end, as shown live
    abandon_rate_30d: float | None  # the 30 days ending at the period's end, as shown live
    avg_wait_s: float | None  # to a live agent, over connected calls


@dataclass(frozen=True, slots=True)
class HourRow:
    campaign: str
    hour: int  # local hour of the day, 0-23
    attempts: int
    live: int
    conversions: int
    contact_rate: float | None
    conversion_rate: float | None
    rank: int  # 1 = the best hour of the campaign (contact rate, then conversions)


def sums_from_attempts(attempts: Iterable[Attempt]) -> list[DialerSum]:
    """The 15-minute sums of raw rows (what crm_core's dialer_sums_sync reads from SQLite):
    for tests and cross-checks."""
    acc: dict[tuple[float, str, str, str], list[float]] = {}
    for e, converted in attempts:
        key = (bucket(e.at), e.queue, e.agent, e.reason)
        a = acc.setdefault(key, [0, 0.0, 0])
        a[0] += 1
        a[1] += e.wait_s or 0.0
        a[2] += 1 if converted else 0
    return [DialerSum(b, c, ag, r, int(a[0]), a[1], int(a[2]))
            for (b, c, ag, r), a in sorted(acc.items())]


def _group(s: DialerSum, by: GroupBy, teams: Mapping[str, str]) -> str:
    if by == "campaign":
        return s.campaign
    if by == "agent":
        return s.agent or NONE
    return teams.get(s.agent, NONE) if s.agent else NONE


def outbound_summary(sums: Sequence[DialerSum], *, interval: Interval, tz: tzinfo | None,
                     start: float, end: float, by: GroupBy = "campaign",
                     campaigns: Sequence[str] | None = None,
                     agents: Sequence[str] | None = None,
                     teams: Mapping[str, str] | None = None,
                     rule: Iterable[RuleCount] = ()) -> list[OutboundRow]:
    """Rows for [start, end). `rule`: the dialer's per-minute abandon counts, from 30 days (and
    an hour) before `start` on, for the rolling windows (by=campaign only)."""
    teams = teams or {}
    periods = Periods(interval, tz, start)
    ends = dict(periods.bounds(start, end))
    wanted_c = set(campaigns) if campaigns else None
    wanted_a = set(agents) if agents is not None else None
    counts: dict[tuple[float, str], dict[str, float]] = {}
    for s in sums:
        if wanted_c is not None and s.campaign not in wanted_c:
            continue
        if wanted_a is not None and s.agent not in wanted_a:
            continue
        g = _group(s, by, teams)
        result, n = s.result, s.attempts
        if not start <= s.start < end:
            continue
        p = periods.of(s.start)
        for key in ((p, g), (p, ALL)):
            c = counts.setdefault(key, {})
            if result == REFUSED:
                c["refused"] = c.get("refused", 0) + n
                continue
            c["attempts"] = c.get("attempts", 0) + n
            if result in metrics.CONNECTED_RESULTS:
                c["connected"] = c.get("connected", 0) + n
                c["wait_s"] = c.get("wait_s", 0.0) + s.wait_s
                c["conversions"] = c.get("conversions", 0) + s.conversions
            elif result == "abandoned":
                c["abandoned"] = c.get("abandoned", 0) + n
            elif result in _NAMED:
                c[result] = c.get(result, 0) + n
            else:
                c["other"] = c.get("other", 0) + n
    # The rule's figures: per campaign and for all of them, per period and at each period's end.
    minutes: list[tuple[Hashable, float, int, int]] = []
    period_rule: dict[tuple[float, str], list[int]] = {}
    if by == "campaign":
        for campaign, minute, n_live, n_ab in rule:
            if wanted_c is not None and campaign not in wanted_c:
                continue
            minutes += [(campaign, minute, n_live, n_ab), (ALL, minute, n_live, n_ab)]
            if start <= minute < end:
                p = periods.of(bucket(minute))
                for key in ((p, campaign), (p, ALL)):
                    acc = period_rule.setdefault(key, [0, 0])
                    acc[0] += n_live
                    acc[1] += n_ab
                    counts.setdefault(key, {})
    shown = windows_at(minutes, [ends.get(p, end) for p, _ in counts])

    def window(g: str, until: float, which: int) -> float | None:
        w = shown.get((g, until))
        return w[which].report_rate if w is not None else None

    out = []
    for (p, g), c in sorted(counts.items()):
        connected, abandoned = int(c.get("connected", 0)), int(c.get("abandoned", 0))
        live = connected + abandoned
        attempts_n = int(c.get("attempts", 0))
        conv = int(c.get("conversions", 0))
        pe = ends.get(p, end)
        rule_n = period_rule.get((p, g), [0, 0]) if by == "campaign" else None
        out.append(OutboundRow(
            period=periods.label(p), period_start=p, group=g, attempts=attempts_n, live=live,
            connected=connected, abandoned=abandoned, machine=int(c.get("machine", 0)),
            busy=int(c.get("busy", 0)), no_answer=int(c.get("no_answer", 0)),
            other=int(c.get("other", 0)), refused=int(c.get("refused", 0)), conversions=conv,
            contact_rate=metrics.contact_rate(live, attempts_n),
            conversion_rate=metrics.conversion_rate(conv, connected),
            rule_live=rule_n[0] if rule_n else None,
            rule_abandoned=rule_n[1] if rule_n else None,
            abandon_rate=metrics.outbound_abandon_rate(rule_n[1], rule_n[0]) if rule_n else None,
            abandon_rate_24h=window(g, pe, 0) if by == "campaign" else None,
            abandon_rate_30d=window(g, pe, 1) if by == "campaign" else None,
            avg_wait_s=metrics.ratio(c.get("wait_s", 0.0), connected)))
    return out


def outbound_hours(sums: Sequence[DialerSum], *, tz: tzinfo | None, start: float,
                   end: float, campaigns: Sequence[str] | None = None) -> list[HourRow]:
    wanted = set(campaigns) if campaigns else None
    acc: dict[tuple[str, int], list[int]] = {}  # -> [attempts, live, connected, conversions]
    hour_of: dict[float, int] = {}
    for s in sums:
        if not start <= s.start < end or (wanted is not None and s.campaign not in wanted) \
                or s.result == REFUSED:
            continue
        h = hour_of.get(s.start)
        if h is None:  # (hours of a zone with a 15/30/45-minute offset still align)
            h = hour_of[s.start] = datetime.fromtimestamp(s.start, tz).hour
        for c in (s.campaign, ALL):
            a = acc.setdefault((c, h), [0, 0, 0, 0])
            a[0] += s.attempts
            if s.result in metrics.LIVE_RESULTS:
                a[1] += s.attempts
            if s.result in metrics.CONNECTED_RESULTS:
                a[2] += s.attempts
                a[3] += s.conversions
    rows = [HourRow(campaign=c, hour=h, attempts=n, live=live, conversions=conv,
                    contact_rate=metrics.contact_rate(live, n),
                    conversion_rate=metrics.conversion_rate(conv, connected), rank=0)
            for (c, h), (n, live, connected, conv) in acc.items()]
    ranked: list[HourRow] = []
    for c in sorted({r.campaign for r in rows}):
        mine = sorted((r for r in rows if r.campaign == c),
                      key=lambda r: (-(r.contact_rate or 0.0), -r.conversions, r.hour))
        ranked.extend(replace(r, rank=i) for i, r in enumerate(mine, 1))
    ranked.sort(key=lambda r: (r.campaign, r.hour))
    return ranked
