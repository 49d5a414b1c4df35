"""How fast the historical reports read a month: the daily inbound summary and agent
performance over 30 days of history for 200 agents (~1.5 million calls).

    python -m benchmarks.reports --json [--quick] [--days N] [--agents N] [--calls-per-day N]
                                 [--db PATH]

`--db PATH` keeps the database there and reuses it when it exists (built by an earlier run with
the same options; `database_reused`): the build takes minutes at full size. Before timing, the
run does what the history writer does when the server starts (adopt the report zone; a database
built by an older version gets its per-day team rows summed then: `zone_adopt_s`).

Set-up (not timed): a seeded synthetic history is written day by day through the same path the
server uses (crm_core.history.append_sync with acd.history.interval_deltas): per answered call
the rows entered, answered, handled and three agent state changes (available -> on_call ->
wrap_up -> available); 5% more calls abandon; agents pause for breaks.

Timed, on the real report path (reports.service.run_report over crm_core's aiosqlite
connections): `inbound_summary_s` (daily per queue + overall, from the 15-minute queue rows)
and `agent_performance_s` (daily per agent, from the per-day agent rows);
`agent_performance_from_15min_rows_s` is the same report from the 15-minute agent rows
(summed by SQLite per day; the run checks both give the same rows).
Baseline, in the same run: the same two reports computed straight from the raw event log (read
day by day, aggregated in Python), i.e. what they would cost without the interval tables:
`baseline_inbound_summary_s`, `baseline_agent_performance_s`. `reports_equal` checks that both
ways give the same answered/abandoned/handled counts per day and queue, and the same handled
calls per day and agent. Goal: under 2 s for a 30-day range.

Also timed: `inbound_by_team_s` (the same daily summary by team, reports/teams.py: the answered
side from the per-day per-queue-and-agent rows, the unanswered side from the queue rows by the
queues' owners; the agents in four teams; `teams_equal` checks its all-teams line has the queue
report's answered/abandoned/handled per day), with its baseline
`inbound_by_team_from_15min_rows_s` (the same report from the 15-minute per-queue-and-agent
rows summed by SQLite per day; `teams_rollup_equal`: the two give the same rows),
`ivr_summary_s` (daily per queue, from the 15-minute IVR rows; every answered call passed the
IVR, a fifth more callers left it by self-service or by hanging up) and `outbound_summary_s`
(daily per campaign, from the `dialer_attempt` rows summed by SQLite per 15 minutes, campaign
and result with the CRM dispositions joined, `dialer_attempts` of them, a quarter of the
inbound volume, every 8th connected one with a CRM interaction, a third of those sales:
`outbound_conversions`; and the abandon rule's figures with the rolling 24 h / 30 day rates
from the dialer's per-minute counts through the live tracker's window code, 30 days before the
range included), with its baseline `baseline_outbound_summary_s` (the readable reference: every
raw attempt row and its call's disposition read, summed in Python by
reports.outbound.sums_from_attempts; `outbound_equal`: the same rows, floats to 12 significant
digits: sums of seconds added in another order differ in the last bits). `within_goal`: all four
30-day figures under 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict, replace
from datetime import UTC
from pathlib import Path
from typing import Any

from acd.history import interval_deltas, ivr_outcome_event
from config.reports import ReportsSettings
from config.settings import Settings
from crm_core import schema
from crm_core.dialer_store import AbandonCount, minute_of
from crm_core.history import (
    AGENT_COUNTERS,
    AgentInterval,
    HistoryEvent,
    StateInterval,
    adopt_zone_sync,
    append_sync,
    events_sync,
    local_day,
    queue_intervals_sync,
)
from crm_core.service import Crm
from reports.agents import agent_performance
from reports.inbound import inbound_summary, intervals_from_events
from reports.outbound import outbound_summary, sums_from_attempts
from reports.service import WINDOW_30D_S, run_report

DAY = 86400.0
EPOCH = 1_700_006_400.0  # a UTC midnight
QUEUES = ("support", "sales")
LIMITS = {"support": (20.0, 5.0), "sales": (20.0, 5.0)}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def generate_day(day: int, agents: int, calls: int, rng: random.Random) -> list[HistoryEvent]:
    ev: list[HistoryEvent] = []
    add = ev.append
    d0 = EPOCH + day * DAY
    per_agent = calls // agents
    n = 0
    for a in range(agents):
        agent = f"agent{a:03d}"
        t = d0 + 7 * 3600 + rng.uniform(0, 3 * 3600)
        add(HistoryEvent(t, "agent_state", agent=agent, state="available",
                         prev_state="logged_out"))
        since = t
        for k in range(per_agent):
            n += 1
            cid = f"d{day}-{n}"
            q = QUEUES[n & 1]
            number = f"+1555{rng.randrange(2_000_000):07d}"
            idle = rng.expovariate(1 / 12.0)
            wait = rng.expovariate(1 / 18.0)
            talk = rng.expovariate(1 / 85.0)
            wrap = 10.0
            t_ans = t + idle
            add(HistoryEvent(t_ans - wait, "entered", queue=q, call_id=cid, number=number))
            add(HistoryEvent(t_ans, "agent_state", agent=agent, state="on_call",
                             prev_state="available", dur_s=t_ans - since))
            add(HistoryEvent(t_ans, "answered", queue=q, agent=agent, call_id=cid,
                             number=number, wait_s=wait))
            t_end = t_ans + talk
            add(HistoryEvent(t_end, "agent_state", agent=agent, state="wrap_up",
                             prev_state="on_call", dur_s=talk))
            t_free = t_end + wrap
            add(HistoryEvent(t_free, "handled", queue=q, agent=agent, call_id=cid,
                             talk_s=talk, handle_s=talk + wrap))
            if k % 60 == 59:  # a break
                add(HistoryEvent(t_free, "agent_state", agent=agent, state="paused",
                                 reason="break", prev_state="wrap_up", dur_s=wrap))
                brk = rng.uniform(300, 900)
                add(HistoryEvent(t_free + brk, "agent_state", agent=agent, state="available",
                                 prev_state="paused", prev_reason="break", dur_s=brk))
                t = since = t_free + brk
            else:
                add(HistoryEvent(t_free, "agent_state", agent=agent, state="available",
                                 prev_state="wrap_up", dur_s=wrap))
                t = since = t_free
        add(HistoryEvent(t + 60, "agent_state", agent=agent, state="logged_out",
                         prev_state="available", dur_s=60.0))
    for e in [e for e in ev if e.kind == "entered"]:  # each answered caller: via the IVR
        add(ivr_outcome_event(at=e.at - 0.5, menu="main", queue=e.queue, outcome="queued",
                              path=("identify", "main", "to_agent"), seconds=25.0,
                              call_id=e.call_id, number=e.number))
    for i in range(calls // 5):  # served by the IVR, or gone from it
        served = rng.random() < 0.6
        add(ivr_outcome_event(
            at=d0 + rng.uniform(8 * 3600, 18 * 3600), menu="main", queue=QUEUES[i & 1],
            outcome="self_service" if served else "abandoned",
            path=("identify", "main", "goodbye") if served else ("identify", "main"),
            seconds=rng.uniform(5, 90)))
    for i in range(calls // 4):  # outbound attempts
        r = rng.random()
        result = ("connected" if r < 0.35 else "abandoned" if r < 0.36 else "machine"
                  if r < 0.5 else "busy" if r < 0.6 else "no_answer")
        add(HistoryEvent(d0 + rng.uniform(9 * 3600, 20 * 3600), "dialer_attempt",
                         queue=str(1 + i % 3), call_id=f"d{day}-o{i}", reason=result,
                         agent=f"agent{i % agents:03d}" if result == "connected" else "",
                         wait_s=rng.uniform(0.2, 2.0) if result == "connected" else None,
                         prev_state="lead"))
    for i in range(calls // 20):  # abandons
        at = d0 + rng.uniform(8 * 3600, 18 * 3600)
        wait = rng.expovariate(1 / 40.0)
        q = QUEUES[i & 1]
        add(HistoryEvent(at - wait, "entered", queue=q, call_id=f"d{day}-x{i}",
                         number=f"+1555{rng.randrange(2_000_000):07d}"))
        add(HistoryEvent(at, "abandoned", queue=q, call_id=f"d{day}-x{i}", wait_s=wait))
    ev.sort(key=lambda e: e.at)
    return ev


def build(path: Path, days: int, agents: int, calls_per_day: int, seed: int) -> int:
    rng = random.Random(seed)
    conn = sqlite3.connect(str(path), isolation_level=None)
    schema.configure(conn)
    schema.migrate(conn, 0.0)
    adopt_zone_sync(conn, "UTC", EPOCH)
    calls = 0
    for day in range(days):
        ev = generate_day(day, agents, calls_per_day, rng)
        calls += sum(1 for e in ev if e.kind == "entered")
        conn.execute("BEGIN")
        append_sync(conn, ev, interval_deltas(ev, LIMITS, day_of=lambda b: local_day(b, UTC),
                                              tz="UTC"), 3 * DAY)
        conn.execute("COMMIT")
        log(f"day {day + 1}/{days}: {len(ev)} rows")
    conn.close()
    return calls


def calls_logged(path: Path) -> int:
    """The calls of a kept database: its queue rows' `entered` (no overflows here)."""
    conn = sqlite3.connect(str(path))
    try:
        return int(sum(r.counters["entered"] for r in queue_intervals_sync(conn, 0.0, 1e12)))
    finally:
        conn.close()


def baseline(path: Path, start: float, end: float) -> tuple[float, float, list[Any], list[Any]]:
    """The same two reports straight from the raw rows, read a day at a time."""
    conn = sqlite3.connect(str(path))
    t0 = time.perf_counter()
    qrows = []
    d = start
    while d < end:
        ev = events_sync(conn, d, d + DAY, kinds=["entered", "answered", "abandoned", "handled",
                                                 "overflow", "callback", "rona", "transferred"])
        qrows += intervals_from_events(ev, LIMITS)
        d += DAY
    inbound = inbound_summary(qrows, interval="day", tz=UTC, start=start, end=end)
    t1 = time.perf_counter()
    arows: list[AgentInterval] = []
    srows: list[StateInterval] = []
    d = start
    while d < end:
        ev = events_sync(conn, d, d + DAY, kinds=["answered", "offered", "rona", "handled",
                                                 "transferred", "agent_state"])
        deltas = interval_deltas(ev, LIMITS)
        arows += [AgentInterval(b, a, {c: v.get(c, 0.0) for c in AGENT_COUNTERS})
                  for (b, a), v in deltas.agent.items()]
        srows += [StateInterval(b, a, s, r, v) for (b, a, s, r), v in deltas.state.items()]
        d += DAY
    agents = agent_performance(arows, srows, interval="day", tz=UTC, start=start, end=end)
    t2 = time.perf_counter()
    conn.close()
    return t1 - t0, t2 - t1, inbound, agents


async def _setup(crm: Crm, start: float, end: float, agents_n: int) -> None:
    """Teams, agents, campaigns and the dialer's abandon-rule counts of the same attempts (as
    DialerService saves them)."""
    teams = [await crm.teams.create(name=f"team{i}") for i in range(4)]
    for c in range(3):
        await crm.campaigns.create(name=f"campaign{c + 1}", queue="sales")
    rule: dict[tuple[int, float], list[int]] = {}
    for e in await crm.history.events(start, end, kinds=["dialer_attempt"]):
        if e.reason in ("connected", "abandoned"):
            n = rule.setdefault((int(e.queue), minute_of(e.at)), [0, 0])
            n[0] += 1
            n[1] += e.reason == "abandoned"
    await crm.dialer_state.add_counts([AbandonCount(c, m, n[0], n[1])
                                       for (c, m), n in sorted(rule.items())])
    for a in range(agents_n):
        await crm.users.create(username=f"agent{a:03d}", password_hash="x",
                               team_id=teams[a % 4].id)


async def _dispositions(crm: Crm, start: float, end: float) -> None:
    """A CRM interaction with the agent's disposition for every 8th connected attempt, a third
    of them sales (the conversions the outbound report joins in), unless they are there."""
    connected = [e for e in await crm.history.events(start, end, kinds=["dialer_attempt"])
                 if e.reason == "connected"][::8]
    if not connected or await crm.interactions.by_call_id(connected[0].call_id) is not None:
        return
    for i, e in enumerate(connected):
        await crm.log_call(e.call_id, direction="outbound", queue="sales", offered_at=e.at,
                           answered_at=e.at, ended_at=e.at + 90.0,
                           disposition="sale" if i % 3 == 0 else "no_interest")


async def timed(path: Path, start: float, end: float, agents_n: int, extra: dict[str, Any]
                ) -> tuple[float, float, float, list[Any], list[Any]]:
    settings = Settings(reports=ReportsSettings(
        timezone="UTC", queue_teams={"support": "team0", "sales": "team1"}))
    crm = await Crm.open(path, settings.crm)
    try:
        # What the history writer does when the server starts (a database an older version
        # built gets its per-day rows summed here: timed apart).
        t = time.perf_counter()
        await crm.history.adopt_zone("UTC", end)
        extra["zone_adopt_s"] = time.perf_counter() - t
        if not await crm.history.agent_teams():  # (a database kept with --db has them)
            await _setup(crm, start, end, agents_n)
        await _dispositions(crm, start, end)
        t0 = time.perf_counter()
        inbound = await run_report(crm, settings, "inbound_summary", start, end,
                                   interval="day")
        t1 = time.perf_counter()
        agents = await run_report(crm, settings, "agent_performance", start, end,
                                  interval="day")
        t2 = time.perf_counter()
        agents15 = await run_report(crm, settings, "agent_performance", start, end,
                                    interval="day", day_rollup=False)
        t3 = time.perf_counter()
        ivr = await run_report(crm, settings, "ivr_summary", start, end, interval="day")
        t4 = time.perf_counter()
        outbound = await run_report(crm, settings, "outbound_summary", start, end,
                                    interval="day")
        t5 = time.perf_counter()
        by_team = await run_report(crm, settings, "inbound_summary", start, end,
                                   interval="day", by_team=True)
        t6 = time.perf_counter()
        by_team15 = await run_report(crm, settings, "inbound_summary", start, end,
                                     interval="day", by_team=True, day_rollup=False)
        t7 = time.perf_counter()
        extra["baseline_outbound_summary_s"], reference = await outbound_reference(
            crm, settings, start, end)
    finally:
        await crm.close()
    if agents15 != agents:
        raise AssertionError("per-day rows and 15-minute rows disagree")
    extra["ivr_summary_s"], extra["outbound_summary_s"] = t4 - t3, t5 - t4
    extra["inbound_by_team_s"] = t6 - t5
    extra["inbound_by_team_from_15min_rows_s"] = t7 - t6
    extra["teams_rollup_equal"] = by_team == by_team15
    extra["outbound_equal"] = _rounded(outbound) == _rounded(reference)
    extra["team_rows"] = len(by_team)
    key = ("period", "answered", "abandoned", "handled")
    extra["teams_equal"] = (
        [tuple(r[k] for k in key) for r in by_team if r["team"] == ""]
        == [tuple(r[k] for k in key) for r in inbound if r["queue"] == ""])
    extra["ivr_calls"] = sum(r["calls"] for r in ivr if r["queue"] == "")
    extra["dialer_attempts"] = sum(r["attempts"] for r in outbound if r["group"] == "")
    extra["outbound_conversions"] = sum(r["conversions"] for r in outbound if r["group"] == "")
    extra["outbound_abandon_rate_30d_at_end"] = next(
        (r["abandon_rate_30d"] for r in reversed(outbound) if r["group"] == ""), None)
    return t1 - t0, t2 - t1, t3 - t2, inbound, agents


def _rounded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Sums of wait_s grouped differently differ in the last bits (avg_wait_s).
    return [{k: float(f"{v:.12g}") if isinstance(v, float) else v for k, v in r.items()}
            for r in rows]


async def outbound_reference(crm: Crm, settings: Settings, start: float, end: float
                             ) -> tuple[float, list[dict[str, Any]]]:
    """The daily outbound summary the readable way: every raw `dialer_attempt` row with its
    call's CRM disposition, summed in Python (reports.outbound.sums_from_attempts), the rule's
    counts as run_report reads them. Returns the seconds it took and the rows."""
    t = time.perf_counter()
    wanted = settings.reports.conversion_dispositions
    names = await crm.history.campaign_names()
    raw = await crm.history.events(start, end, kinds=["dialer_attempt"])
    dispositions = await crm.history.call_dispositions([e.call_id for e in raw if e.call_id])
    attempts = [(replace(e, queue=names.get(e.queue, e.queue)),
                 dispositions.get(e.call_id) in wanted) for e in raw]
    rule = [(names.get(str(c.campaign_id), str(c.campaign_id)), c.minute, c.live, c.abandoned)
            for c in await crm.dialer_state.counts_between(
                (start - WINDOW_30D_S) // 3600 * 3600, end)]
    rows = [asdict(r) for r in outbound_summary(
        sums_from_attempts(attempts), interval="day", tz=UTC, start=start, end=end, rule=rule)]
    return time.perf_counter() - t, rows


def run(*, quick: bool, days: int | None, agents: int | None, calls_per_day: int | None,
        seed: int, db: Path | None = None) -> dict[str, Any]:
    days = days or (3 if quick else 30)
    agents = agents or (50 if quick else 200)
    calls_per_day = calls_per_day or (12_000 if quick else 47_600)
    with tempfile.TemporaryDirectory() as tmp:
        path = db or Path(tmp) / "crm.sqlite3"
        reused = path.exists()
        t = time.perf_counter()
        if reused:
            calls = calls_logged(path)
        else:
            calls = build(path, days, agents, calls_per_day, seed)
        build_s = time.perf_counter() - t
        start, end = EPOCH, EPOCH + days * DAY
        extra: dict[str, Any] = {}
        inbound_s, agent_s, agent15_s, inbound, perf = asyncio.run(
            timed(path, start, end, agents, extra))
        b_inbound_s, b_agent_s, b_inbound, b_perf = baseline(path, start, end)
        size = path.stat().st_size
    equal = (
        [(r["period"], r["queue"], r["answered"], r["abandoned"], r["handled"])
         for r in inbound]
        == [(r.period, r.queue, r.answered, r.abandoned, r.handled) for r in b_inbound]
        and [(r["period"], r["agent"], r["handled"]) for r in perf]
        == [(r.period, r.agent, r.handled) for r in b_perf]
    )
    return {
        "benchmark": "reports", "quick": quick, "calls": calls, "days": days, "agents": agents,
        "inbound_summary_s": round(inbound_s, 4), "agent_performance_s": round(agent_s, 4),
        "agent_performance_from_15min_rows_s": round(agent15_s, 4),
        "baseline_inbound_summary_s": round(b_inbound_s, 4),
        "baseline_agent_performance_s": round(b_agent_s, 4),
        "speedup_inbound": round(b_inbound_s / inbound_s, 1) if inbound_s else None,
        "speedup_agent_performance": round(b_agent_s / agent_s, 1) if agent_s else None,
        "inbound_rows": len(inbound), "agent_rows": len(perf), "reports_equal": equal,
        "inbound_by_team_s": round(extra["inbound_by_team_s"], 4),
        "inbound_by_team_from_15min_rows_s": round(extra["inbound_by_team_from_15min_rows_s"],
                                                   4),
        "teams_rollup_equal": extra["teams_rollup_equal"],
        "team_rows": extra["team_rows"], "teams_equal": extra["teams_equal"],
        "ivr_summary_s": round(extra["ivr_summary_s"], 4),
        "outbound_summary_s": round(extra["outbound_summary_s"], 4),
        "baseline_outbound_summary_s": round(extra["baseline_outbound_summary_s"], 4),
        "outbound_equal": extra["outbound_equal"],
        "outbound_conversions": int(extra["outbound_conversions"]),
        "ivr_calls": int(extra["ivr_calls"]), "dialer_attempts": int(extra["dialer_attempts"]),
        "outbound_abandon_rate_30d_at_end": extra["outbound_abandon_rate_30d_at_end"],
        "goal_s": 2.0,
        "within_goal": max(inbound_s, agent_s, extra["inbound_by_team_s"],
                           extra["outbound_summary_s"]) < 2.0,
        "build_s": round(build_s, 1), "database_reused": reused,
        "zone_adopt_s": round(extra["zone_adopt_s"], 4), "database_mb": round(size / 1e6, 1),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--json", action="store_true", help="print one JSON object (the default)")
    p.add_argument("--quick", action="store_true", help="3 days, 50 agents, 36k calls")
    p.add_argument("--days", type=int)
    p.add_argument("--agents", type=int)
    p.add_argument("--calls-per-day", type=int)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--db", type=Path, help="keep the database built at this path; reuse it if "
                   "it exists (built by an earlier run with the same options)")
    a = p.parse_args(argv)
    print(json.dumps(run(quick=a.quick, days=a.days, agents=a.agents,
                         calls_per_day=a.calls_per_day, seed=a.seed, db=a.db)))


if __name__ == "__main__":
    main()
