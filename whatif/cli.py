"""`python run_server.py whatif --day YYYY-MM-DD [--queue Q] [--agents N] [--policy NAME ...]`:
replay a recorded day's arrivals under another roster, other skills or another routing policy,
and print the figures of whatif/simulation.py per policy beside the day's actual figures
(one JSON object, or CSV with one line per policy and one for the actual day).

Reads the same settings and database as the server (safe while it runs: SQLite WAL readers do
not block the writer): the day's queue events through crm_core (crm.history.events), the agents'
skills (crm.skills), the day's actual figures through reports (the inbound_summary report, the
definitions of docs/reports.md). What the extraction assumes: whatif/arrivals.py; what a replay
keeps and changes: whatif/replay.py.

Exit status: 0 done, 2 bad arguments, settings, database, or a day with nothing to replay.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from config import ConfigError
from config.acd import QueueSettings
from config.settings import Settings
from crm_core.errors import CrmError
from crm_core.service import Crm
from reports.cli import settings_and_database
from reports.dates import parse_time
from reports.errors import ReportError
from reports.service import report_tz, report_zone_name, run_report
from whatif.arrivals import KINDS, LATE_S, DayArrivals, extract
from whatif.errors import WhatIfError
from whatif.replay import (
    FIGURES,
    check_policies,
    figures,
    recorded_outcomes,
    recorded_roster,
    replay,
    resize,
    with_skills,
)
from whatif.simulation import POLICIES, AgentSpec

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SKILL = re.compile(r"^([a-z][a-z0-9_-]{0,31})=([1-5])$")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run_server.py whatif",
                                description="Replay a recorded day under another staffing or "
                                            "routing policy (one JSON object)")
    p.add_argument("--day", required=True, help="the recorded day, YYYY-MM-DD (report time zone)")
    p.add_argument("--queue", action="append", help="only this queue's calls (repeatable)")
    p.add_argument("--agents", type=int, help="this many agents instead of the day's: its "
                   "busiest ones, or the day's plus copies of them")
    p.add_argument("--skills", help="every agent serves exactly these queues at these levels, "
                   "e.g. support=3,sales=2")
    p.add_argument("--roster", type=Path, help='JSON file {"agent": {"queue": level}} '
                   "replacing the day's agents")
    p.add_argument("--policy", action="append",
                   help="replay under this policy (repeatable; default all: "
                        f"{', '.join(POLICIES)})")
    p.add_argument("--skill-speed", action="store_true",
                   help="rescale talk times by the answering agent's level (the simulation's "
                        "model) instead of keeping the recorded ones")
    p.add_argument("--seed", type=int, default=1, help="seed of the patience draws and ringall")
    p.add_argument("--format", choices=["json", "csv"], default="json")
    p.add_argument("--config", type=Path, help="TOML settings file")
    p.add_argument("--data-dir", type=Path, help="where the database lives")
    return p.parse_args(argv)


def _err(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        settings, db = settings_and_database(args.config, args.data_dir)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()

    def progress(msg: str) -> None:  # quiet unless the run takes more than a second
        if time.perf_counter() - started > 1.0:
            print(msg, file=sys.stderr, flush=True)

    try:
        check_policies(args.policy or [])
        if not _DAY.fullmatch(args.day.strip()):
            raise WhatIfError(f"--day: {args.day[:40]!r} is not a date; use YYYY-MM-DD")
        if not db.is_file():
            raise WhatIfError(f"no database at {db}; give --data-dir (or --config) of the server")
        result = asyncio.run(run(settings, db, args, progress))
    except (WhatIfError, ReportError) as exc:
        return _err(str(exc))
    except CrmError as exc:
        return _err(f"database {db}: {exc}")
    sys.stdout.write(to_csv(result) if args.format == "csv" else json.dumps(result) + "\n")
    return 0


def parse_skills(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in text.split(","):
        m = _SKILL.fullmatch(part.strip())
        if m is None:
            raise WhatIfError(f"--skills: {part.strip()[:40]!r} is not QUEUE=LEVEL (level 1..5), "
                              "e.g. support=3,sales=2")
        out[m[1]] = int(m[2])
    return out


def load_roster(path: Path) -> list[AgentSpec]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WhatIfError(f"--roster {path}: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise WhatIfError(f'--roster {path}: expected {{"agent": {{"queue": level}}}}')
    out = []
    for agent, levels in data.items():
        if not isinstance(levels, dict) or not all(
                isinstance(q, str) and type(v) is int and 1 <= v <= 5 for q, v in levels.items()):
            raise WhatIfError(f"--roster {path}: agent {str(agent)[:40]!r}: expected "
                              '{"queue": level 1..5}')
        out.append(AgentSpec(str(agent), dict(levels)))
    return out


async def _crm_skills(crm: Crm, agents: Sequence[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for agent in agents:
        uid = await crm.users.id_of(agent)
        if uid is not None:
            out[agent] = {s.skill: s.level for s in await crm.skills.for_user(uid)}
    return out


async def run(settings: Settings, db: Path, args: argparse.Namespace,
              progress: Callable[[str], None]) -> dict[str, Any]:
    tz = report_tz(settings)
    day = args.day.strip()
    start = parse_time(day, tz, name="day")
    end = parse_time(day, tz, end=True, name="day")
    crm = await Crm.open(db, settings.crm)
    try:
        progress("whatif: reading the event log")
        events = await crm.history.events(start, end + LATE_S, KINDS)
        day_arrivals = extract(events, start=start, end=end, queues=args.queue, seed=args.seed)
        if not day_arrivals.arrivals:
            where = f" in queue {', '.join(args.queue)}" if args.queue else ""
            raise WhatIfError(f"no calls entered on {day}{where} in the event log of {db}")
        recorded_agents = day_arrivals.agents
        crm_skills = await _crm_skills(crm, sorted(recorded_agents))
        actual = await run_report(crm, settings, "inbound_summary", start, end, interval="day",
                                  queues=args.queue)
    finally:
        await crm.close()
    configured = {q.name: q for q in settings.acd.queues}
    queues = {q: configured.get(q) for q in day_arrivals.queues}
    roster, source, recorded = _roster(args, day_arrivals, crm_skills, queues)
    t0 = time.perf_counter()
    policies = replay(day_arrivals.arrivals, roster, acd=settings.acd,
                      policies=args.policy or POLICIES, seed=args.seed,
                      skill_speed=args.skill_speed, recorded_levels=recorded, progress=progress)
    sl_s = {q: (s.service_level_s if s else 20.0) for q, s in queues.items()}
    line = next((r for r in actual if r["queue"] == ""), None)
    return {
        "whatif": "replay",
        "day": day,
        "timezone": report_zone_name(settings),
        "queues": day_arrivals.queues,
        "seed": args.seed,
        "arrivals": {
            "callers": len(day_arrivals.arrivals),
            "answered": sum(1 for a in day_arrivals.arrivals if a.outcome == "answered"),
            "abandoned": sum(1 for a in day_arrivals.arrivals if a.outcome == "abandoned"),
            "skipped": day_arrivals.skipped,
            "patience": ("abandoned: observed; answered: drawn past the wait from the day's "
                         "Kaplan-Meier patience estimate"),
        },
        "roster": {"source": source, "recorded_agents": len(recorded_agents),
                   "agents": len(roster)},
        "talk_time": ("recorded, rescaled by agent level (1.4 - 0.1 x level)"
                      if args.skill_speed else "recorded"),
        "actual": {
            # The report's figures (docs/reports.md: outcomes counted when they happened) ...
            "report": None if line is None else {
                k: line[k] for k in ("offered", "answered", "abandoned", "service_level",
                                     "asa_s", "aht_s", "abandon_rate")},
            # ... and the simulation's, over the calls that entered that day, from the log.
            "from_log": figures(recorded_outcomes(day_arrivals.arrivals), sl_s),
        },
        "policies": policies,
        "replay_s": round(time.perf_counter() - t0, 2),
    }


def _roster(args: argparse.Namespace, day: DayArrivals,
            crm_skills: Mapping[str, Mapping[str, int]],
            queues: Mapping[str, QueueSettings | None]
            ) -> tuple[list[AgentSpec], str, dict[str, dict[str, int]]]:
    """The roster to replay, where it comes from, and the recorded agents' levels."""
    qs = {q: s or QueueSettings(name=q, skills=[q]) for q, s in queues.items()}
    recorded = recorded_roster(day.agents, crm_skills, qs)
    if args.roster is not None:
        roster, source = load_roster(args.roster), "roster"
    else:
        roster, source = recorded, "recorded"
    if args.agents is not None:
        busiest = Counter(a.agent for a in day.arrivals if a.agent)
        roster, source = resize(roster, args.agents, busiest), f"{source}, resized"
    if args.skills:
        skills = parse_skills(args.skills)
        unknown = sorted(set(skills) - set(qs))
        if unknown:
            raise WhatIfError(f"--skills: no calls of queue {unknown[0]!r} that day; "
                              f"its queues: {', '.join(qs)}")
        roster, source = with_skills(roster, skills), f"{source}, skills {args.skills}"
    # Levels for queues the day does not have are dropped (the engine knows only the day's).
    return ([AgentSpec(a.agent_id, {q: v for q, v in a.skills.items() if q in qs})
             for a in roster], source, {a.agent_id: dict(a.skills) for a in recorded})


def to_csv(result: Mapping[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["policy", *FIGURES])
    w.writerow(["actual", *(result["actual"]["from_log"].get(f) for f in FIGURES)])
    for name, figs in result["policies"].items():
        w.writerow([name, *(figs.get(f) for f in FIGURES)])
    return buf.getvalue()
