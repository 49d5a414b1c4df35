"""Runs a named report over the CRM database: loads the rows (crm_core queries), computes the
report (pure modules), returns plain dicts for JSON, and CSV text.

    rows = await run_report(crm, settings, "inbound_summary", start, end, interval="day")

Reports: inbound_summary (per queue + overall), distributions (wait to answer, time to
abandon, talk, handle), agent_performance (per agent, or per team with by_team), leaderboard.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from config.settings import Settings
from crm_core.service import Crm
from reports.agents import agent_performance, leaderboard
from reports.errors import BadRequest
from reports.inbound import distributions, inbound_summary
from reports.periods import Periods, check_interval

REPORTS: tuple[str, ...] = ("inbound_summary", "distributions", "agent_performance",
                            "leaderboard")
MAX_RANGE_S = 400 * 86400.0


def report_tz(settings: Settings) -> tzinfo | None:
    name = settings.reports.timezone
    return ZoneInfo(name) if name else None


def check_range(start: float, end: float) -> None:
    if not end > start:
        raise BadRequest("the range is empty: 'to' must be after 'from'",
                         {"from": start, "to": end})
    if end - start > MAX_RANGE_S:
        raise BadRequest("the range is longer than 400 days; ask for less",
                         {"from": start, "to": end})


async def run_report(crm: Crm, settings: Settings, name: str, start: float, end: float, *,
                     interval: str = "day", queues: Sequence[str] | None = None,
                     agents: Sequence[str] | None = None, by_team: bool = False
                     ) -> list[dict[str, Any]]:
    if name not in REPORTS:
        raise BadRequest(f"unknown report {name!r}; reports: {', '.join(REPORTS)}",
                         {"report": name})
    check_range(start, end)
    iv = check_interval(interval)
    tz = report_tz(settings)
    h = crm.history
    if name == "inbound_summary":
        rows = await h.queue_intervals(start, end)
        return [asdict(r) for r in inbound_summary(rows, interval=iv, tz=tz, start=start,
                                                   end=end, queues=queues)]
    if name == "distributions":
        out = []
        for d in distributions(await h.histograms(start, end), start=start, end=end,
                               queues=queues):
            for lo, hi, n in d.bins:
                out.append({"queue": d.queue, "metric": d.metric, "from_s": lo, "to_s": hi,
                            "calls": n})
        return out
    if name == "leaderboard":
        iv = "total"
    bounds = Periods(iv, tz, start).bounds(start, end)
    teams = await h.agent_teams()
    perf = agent_performance(
        await h.agent_sums(bounds), await h.state_sums(bounds), interval=iv, tz=tz,
        start=start // 900 * 900, end=end, teams=teams, by_team=by_team, agents=agents,
        dispositions=await h.dispositions(start, end))
    if name == "leaderboard":
        perf = leaderboard(perf)
    return [asdict(r) for r in perf]


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
