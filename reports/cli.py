"""`python run_server.py report NAME --from DATE --to DATE [--format csv|json]`: one report to
stdout (or --output FILE), for cron jobs. Reads the same settings and database as the server
(safe while it runs: SQLite WAL readers do not block the writer).

Exit status: 0 done, 2 bad arguments, settings or database (the message says which and why).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from config import ConfigError, load_settings
from config.settings import Settings
from crm_core.errors import CrmError
from crm_core.service import Crm
from reports.dates import parse_time
from reports.errors import ReportError
from reports.outbound import GROUPS
from reports.periods import INTERVALS
from reports.service import REPORTS, report_tz, run_report, to_csv


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run_server.py report",
                                description="Write one historical report (CSV or JSON)")
    p.add_argument("name", choices=REPORTS)
    p.add_argument("--from", dest="start", required=True,
                   help="first day (YYYY-MM-DD), date-time or Unix seconds")
    p.add_argument("--to", dest="end", required=True,
                   help="last day, included (YYYY-MM-DD), or an exclusive date-time")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument("--interval", choices=INTERVALS, default="day")
    p.add_argument("--queue", action="append", help="only this queue (repeatable)")
    p.add_argument("--agent", action="append", help="only this agent (repeatable)")
    p.add_argument("--team", action="append",
                   help="only this team's lines (by team) or agents (repeatable)")
    p.add_argument("--menu", action="append", help="IVR reports: only this menu (repeatable)")
    p.add_argument("--campaign", action="append",
                   help="outbound reports: only this campaign (repeatable)")
    p.add_argument("--by", choices=GROUPS, default="campaign",
                   help="outbound_summary: one row per campaign, agent or team")
    p.add_argument("--by-team", action="store_true",
                   help="inbound_summary, distributions, agent reports, pipeline, ticket_sla: "
                        "one row per team")
    p.add_argument("--days", type=float, default=90.0,
                   help="not_contacted: no contact for this many days")
    p.add_argument("--limit", type=int, default=500, help="CRM lists: at most this many rows")
    p.add_argument("--config", type=Path, help="TOML settings file")
    p.add_argument("--data-dir", type=Path, help="where the database lives")
    p.add_argument("--output", type=Path, help="write here instead of stdout")
    return p.parse_args(argv)


def settings_and_database(config: Path | None, data_dir: Path | None) -> tuple[Settings, Path]:
    """A command-line run's settings (`--config`) and the server's CRM database in `data_dir`
    (`--data-dir`, else the settings' own); ConfigError names the file, the key and the fix."""
    settings = load_settings(config)
    return settings, (data_dir or Path(settings.server.data_dir)) / settings.crm.database


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        settings, db = settings_and_database(args.config, args.data_dir)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if not db.is_file():
        print(f"error: no database at {db}; give --data-dir (or --config) of the server",
              file=sys.stderr)
        return 2
    try:
        text = asyncio.run(_run(settings, db, args))
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except CrmError as exc:
        print(f"error: database {db}: {exc}", file=sys.stderr)
        return 2
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8", newline="")
    else:
        sys.stdout.write(text)
    return 0


async def _run(settings: Settings, db: Path, args: argparse.Namespace) -> str:
    tz = report_tz(settings)
    start = parse_time(args.start, tz, name="from")
    end = parse_time(args.end, tz, end=True, name="to")
    crm = await Crm.open(db, settings.crm)
    try:
        rows = await run_report(crm, settings, args.name, start, end, interval=args.interval,
                                queues=args.queue, agents=args.agent, by_team=args.by_team,
                                now=time.time(), days=args.days, limit=args.limit,
                                menus=args.menu, campaigns=args.campaign, by=args.by,
                                teams=args.team)
    finally:
        await crm.close()
    if args.format == "json":
        return json.dumps(rows) + "\n"
    return to_csv(rows)
