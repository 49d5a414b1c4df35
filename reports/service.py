"""Runs a named report over the CRM database: loads the rows (crm_core queries), computes the
report (pure modules), returns plain dicts for JSON, and CSV text.

    rows = await run_report(crm, settings, "inbound_summary", start, end, interval="day")

Call-center reports (from the event log's 15-minute tables): inbound_summary (per queue +
overall, or per team with by_team), distributions (wait to answer, time to abandon, talk,
handle; per team with by_team), agent_performance (per agent, or per team with by_team),
leaderboard. Inbound figures by team follow reports/teams.py; `teams` keeps those teams' lines.
IVR reports (reports/ivr.py, from the IVR intervals): ivr_summary (per queue; `menus` filters),
ivr_exits (where callers leave).
Outbound reports (reports/outbound.py, from the dialer attempts): outbound_summary (per
campaign, agent or team: `by`; `campaigns` filters), outbound_hours (best hours to call). CRM
reports (reports/crm.py): pipeline, forecast, value_curve, not_contacted (`days`),
vip_open_tickets, ticket_sla, lead_conversion.
`agents` limits the agent reports to those agents (team scoping).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from datetime import tzinfo
from operator import attrgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.settings import Settings
from crm_core.history import local_day, zone
from crm_core.service import Crm
from reports import crm as crm_reports
from reports.agents import agent_performance, leaderboard
from reports.errors import BadRequest
from reports.inbound import (
    distributions,
    distributions_by_team,
    inbound_by_team,
    inbound_summary,
)
from reports.ivr import ivr_exits, ivr_summary
from reports.outbound import GROUPS, outbound_hours, outbound_summary
from reports.periods import Periods, check_interval

CALL_CENTER_REPORTS: tuple[str, ...] = ("inbound_summary", "distributions",
                                        "agent_performance", "leaderboard")
IVR_REPORTS: tuple[str, ...] = ("ivr_summary", "ivr_exits")
OUTBOUND_REPORTS: tuple[str, ...] = ("outbound_summary", "outbound_hours")
# Inbound reports with a per-team split (by_team or a `teams` filter: reports/teams.py).
INBOUND_TEAM_REPORTS: tuple[str, ...] = ("inbound_summary", "distributions")
# CRM reports with a per-team split (`by_team`: the team of the owning user).
CRM_TEAM_REPORTS: tuple[str, ...] = ("pipeline", "ticket_sla")
CRM_REPORTS: tuple[str, ...] = ("pipeline", "forecast", "value_curve", "not_contacted",
                                "vip_open_tickets", "ticket_sla", "lead_conversion")
REPORTS: tuple[str, ...] = CALL_CENTER_REPORTS + IVR_REPORTS + OUTBOUND_REPORTS + CRM_REPORTS
VIP_TIERS = ("platinum", "gold")
MAX_RANGE_S = 400 * 86400.0
WINDOW_30D_S = 30 * 86400.0


def report_tz(settings: Settings) -> tzinfo | None:
    return zone(settings.reports.timezone)


def report_zone_name(settings: Settings) -> str:
    """The IANA name of the zone reports cut days and hours in (the page labels its charts in
    it): [reports].timezone, else the server's local zone when its name can be found, else ""."""
    if settings.reports.timezone:
        return settings.reports.timezone
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    with contextlib.suppress(OSError):
        candidates.append(str(Path("/etc/localtime").resolve()).partition("zoneinfo/")[2])
    for name in candidates:
        if name and "/" in name or name == "UTC":
            try:
                ZoneInfo(name)
            except (ValueError, ZoneInfoNotFoundError):
                continue
            return name
    return ""


def check_range(start: float, end: float) -> None:
    if not end > start:
        raise BadRequest("the range is empty: 'to' must be after 'from'",
                         {"from": start, "to": end})
    if end - start > MAX_RANGE_S:
        raise BadRequest("the range is longer than 400 days; ask for less",
                         {"from": start, "to": end})


async def run_report(crm: Crm, settings: Settings, name: str, start: float, end: float, *,
                     interval: str = "day", queues: Sequence[str] | None = None,
                     agents: Sequence[str] | None = None, by_team: bool = False,
                     now: float = 0.0, days: float = 90.0, limit: int = 500,
                     day_rollup: bool = True, menus: Sequence[str] | None = None,
                     campaigns: Sequence[str] | None = None, by: str = "campaign",
                     teams: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """`now` (wall clock) is when open tickets are judged overdue and from when `days` of no
    contact count back. `day_rollup=False` reads agent figures and inbound figures by team
    from the 15-minute rows even for whole days (the benchmark compares the two; they hold the
    same sums)."""
    if name not in REPORTS:
        raise BadRequest(f"unknown report {name!r}; reports: {', '.join(REPORTS)}",
                         {"report": name})
    check_range(start, end)
    iv = check_interval(interval)
    tz = report_tz(settings)
    if name in CRM_REPORTS:
        return await _crm_report(crm, name, start, end, now=now, days=days, limit=limit,
                                 by_team=by_team)
    h = crm.history
    # The event log's tables hold whole quarter-hours: a range starting inside one includes it.
    start = start // 900 * 900
    owners = settings.reports.queue_teams
    if name == "inbound_summary":
        rows = await h.queue_intervals(start, end)
        if by_team or teams:
            bounds = Periods(iv, tz, start).bounds(start, end)
            zone_name = settings.reports.timezone
            since = (await h.rollup_since(zone_name, queue_agents=True) if day_rollup
                     else None)
            if since is not None and start >= since and _whole_days(bounds, tz):
                # The per-day rows hold the same sums, 96 times fewer of them.
                qa_rows = await h.queue_agent_day_sums(zone_name, bounds)
            else:
                qa_rows = await h.queue_agent_sums(bounds)
            return _dicts(inbound_by_team(
                rows, qa_rows, interval=iv, tz=tz, start=start,
                end=end, owners=owners, teams=await h.agent_teams(), queues=queues,
                only_teams=teams))
        return _dicts(inbound_summary(rows, interval=iv, tz=tz, start=start, end=end,
                                      queues=queues))
    if name in OUTBOUND_REPORTS:
        if by not in GROUPS:
            raise BadRequest(f"by must be one of {', '.join(GROUPS)}, not {by!r}", {"by": by})
        if by != "campaign":
            agents = _team_agents(agents, teams, await h.agent_teams())
        # Per campaign (and the best hours), the agents need not be told apart in SQL.
        raw = await h.dialer_sums(start, end, settings.reports.conversion_dispositions,
                                  by_agent=name == "outbound_summary" and by != "campaign")
        # The rows name campaigns by id; reports (and their filters) by name.
        names = await h.campaign_names()
        attempts = [replace(s, campaign=names.get(s.campaign, s.campaign)) for s in raw]
        if name == "outbound_hours":
            return _dicts(outbound_hours(attempts, tz=tz, start=start, end=end,
                                         campaigns=campaigns))
        rule: list[tuple[str, float, int, int]] = []
        if by == "campaign":
            # The abandon rule's counts, as the dialer saved them (its windows' own source),
            # from the hour holding the first window's left edge on.
            first_edge = (start - WINDOW_30D_S) // 3600 * 3600
            rule = [(names.get(str(c.campaign_id), str(c.campaign_id)), c.minute, c.live,
                     c.abandoned) for c in await crm.dialer_state.counts_between(first_edge, end)]
        return _dicts(outbound_summary(
            attempts, interval=iv, tz=tz, start=start, end=end, by=by,  # type: ignore[arg-type]
            campaigns=campaigns, agents=agents if by != "campaign" else None,
            teams=await h.agent_teams() if by == "team" else None, rule=rule))
    if name in IVR_REPORTS:
        irows = await h.ivr_intervals(start, end)
        if name == "ivr_summary":
            return _dicts(ivr_summary(irows, interval=iv, tz=tz, start=start, end=end,
                                      queues=queues, menus=menus))
        return _dicts(ivr_exits(irows, start=start, end=end, queues=queues, menus=menus))
    if name == "distributions":
        bins = await h.histograms(start, end)
        if by_team or teams:
            dists = distributions_by_team(
                bins, await h.agent_histograms(start, end), start=start, end=end,
                owners=owners, teams=await h.agent_teams(), queues=queues, only_teams=teams)
        else:
            dists = distributions(bins, start=start, end=end, queues=queues)
        out = []
        for d in dists:
            for lo, hi, n in d.bins:
                out.append({"queue": d.queue, "team": d.team, "metric": d.metric,
                            "from_s": lo, "to_s": hi, "calls": n})
        return out
    if name == "leaderboard":
        iv = "total"
    bounds = Periods(iv, tz, start).bounds(start, end)
    zone_name = settings.reports.timezone
    since = await h.rollup_since(zone_name) if day_rollup else None
    if (iv in ("day", "total") and since is not None and start >= since
            and start == local_day(start, tz) and end == local_day(end, tz)):
        # Whole local days: the per-day rows hold the same sums, 96 times fewer of them.
        arows = await h.agent_day_sums(zone_name, bounds)
        srows = await h.state_day_sums(zone_name, bounds)
    else:
        arows, srows = await h.agent_sums(bounds), await h.state_sums(bounds)
    team_of = await h.agent_teams()
    agents = _team_agents(agents, teams, team_of)
    perf = agent_performance(
        arows, srows, interval=iv, tz=tz,
        start=start, end=end, teams=team_of, by_team=by_team, agents=agents,
        dispositions=await h.dispositions(start, end))
    if name == "leaderboard":
        perf = leaderboard(perf)
    return _dicts(perf)


def _whole_days(bounds: Sequence[tuple[float, float]], tz: tzinfo | None) -> bool:
    """Every period starts and ends at a local midnight (days, or a total, of whole days):
    the per-day rows can answer."""
    return all(ps == local_day(ps, tz) and pe == local_day(pe, tz) for ps, pe in bounds)


def _team_agents(agents: Sequence[str] | None, teams: Sequence[str] | None,
                 team_of: Mapping[str, str]) -> Sequence[str] | None:
    """`agents` narrowed to the members of `teams` (when teams are asked for)."""
    if not teams:
        return agents
    keep = set(teams)
    members = {a for a, t in team_of.items() if t in keep}
    return sorted(members) if agents is None else [a for a in agents if a in members]


async def _crm_report(crm: Crm, name: str, start: float, end: float, *, now: float,
                      days: float, limit: int, by_team: bool = False) -> list[dict[str, Any]]:
    if not 0 < limit <= 10_000:
        raise BadRequest("limit must be 1..10000", {"limit": limit})
    if not 0 <= days <= 3650:
        raise BadRequest("days must be 0..3650", {"days": days})
    a = crm.analytics
    if name == "pipeline":
        if by_team:
            return crm_reports.pipeline_by_team(await a.pipeline_by_team())
        return crm_reports.pipeline(await a.pipeline())
    if name == "forecast":
        return crm_reports.forecast(await a.forecast(start, end))
    if name == "value_curve":
        return crm_reports.value_curve([r for _, r in await a.customer_revenue(start, end)])
    if name == "not_contacted":
        return crm_reports.not_contacted(await a.not_contacted(now - days * 86400.0, limit))
    if name == "vip_open_tickets":
        return crm_reports.vip_open_tickets(await a.vip_open_tickets(VIP_TIERS, limit))
    if name == "ticket_sla":
        if by_team:
            return crm_reports.ticket_sla_by_team(await a.ticket_teams(start, end), now)
        return crm_reports.ticket_sla(await a.tickets(start, end), now)
    return crm_reports.lead_conversion(await a.lead_funnel())


def _dicts(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Dataclass rows as plain dicts; shallow (dataclasses.asdict deep-copies: 0.35 s for a
    month of agent rows), with the nested mappings copied."""
    if not rows:
        return []
    names = [f.name for f in fields(rows[0])]
    maps = [n for n in names if isinstance(getattr(rows[0], n), Mapping)]
    values = attrgetter(*names)
    out = []
    for r in rows:
        d = dict(zip(names, values(r), strict=True))
        for n in maps:
            d[n] = dict(d[n])
        out.append(d)
    return out


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """One header line from the first row's keys; nested values (pause time by reason,
    dispositions) as compact JSON; None as an empty cell."""
    buf = io.StringIO()
    if not rows:
        return ""
    w = csv.writer(buf, lineterminator="\r\n")
    keys = list(rows[0])
    w.writerow(keys)
    for r in rows:
        w.writerow(["" if r.get(k) is None else
                    json.dumps(r[k], separators=(",", ":"), sort_keys=True)
                    if isinstance(r.get(k), dict | list) else _safe(r[k]) for k in keys])
    return buf.getvalue()


def _safe(v: Any) -> Any:
    # A cell starting with = + - @ is a formula to a spreadsheet (CSV injection): quote it.
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@"):
        return "'" + v
    return v
