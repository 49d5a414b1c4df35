"""Inbound figures by team against hand-computed expectations (tests/reports/teamfixed.py):
the answering agent's team, the queue owner's for unanswered calls, "(none)" otherwise; through
the pure report, the database, run_report, the HTTP API (a supervisor sees their own team), the
CLI, and the one-time rebuild of the per-agent rows for a database logged before them."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from acd.history import HistoryDeriver, interval_deltas
from acd.history_writer import HistoryWriter
from agent_desktop.app import create_app
from agent_desktop.passwords import hash_password
from common.bus import Bus
from common.clock import ManualClock
from config.reports import ReportsSettings
from config.settings import Settings
from crm_core import schema
from crm_core.history import (
    agent_histograms_sync,
    append_sync,
    histograms_sync,
    queue_agent_sums_sync,
    queue_intervals_sync,
)
from crm_core.service import Crm
from reports.inbound import distributions_by_team, inbound_by_team, inbound_summary
from reports.periods import Periods
from reports.routes import report_routes
from reports.service import run_report
from run_server import main as run_server_main
from tests.reports.teamfixed import (
    EVENTS,
    LIMITS,
    OWNERS,
    TEAMS,
    D,
    H,
    answered_call,
    day_rows_match,
)

DAY = 86400.0
PW = "pw-pw-pw-pw"  # noqa: S105 (test users)
SETTINGS = Settings.model_validate({
    "auth": {"jwt_secret": "s" * 48},
    "reports": {"timezone": "UTC", "queue_teams": OWNERS},
    "acd": {"queues": [{"name": q} for q in LIMITS]},
})


def _conn() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    schema.configure(conn)
    schema.migrate(conn, 0.0)
    for i in range(0, len(EVENTS), 9):  # in batches, like the writer
        batch = EVENTS[i:i + 9]
        conn.execute("BEGIN")
        append_sync(conn, batch, interval_deltas(batch, LIMITS), 3 * DAY)
        conn.execute("COMMIT")
    return conn


@pytest.fixture(scope="module")
def conn() -> sqlite3.Connection:
    return _conn()


def _by_team(conn: sqlite3.Connection, interval: str = "day", **kw: Any
             ) -> dict[tuple[str, str], Any]:
    end = D + 2 * DAY
    bounds = Periods(interval, UTC, D).bounds(D, end)  # type: ignore[arg-type]
    rows = inbound_by_team(queue_intervals_sync(conn, D, end), queue_agent_sums_sync(conn, bounds),
                           interval=interval, tz=UTC, start=D, end=end,  # type: ignore[arg-type]
                           owners=OWNERS, teams=TEAMS, **kw)
    return {(r.period, r.team): r for r in rows}


def test_day_one_by_team_by_hand(conn: sqlite3.Connection) -> None:
    s = _by_team(conn)
    north, south, none, all_ = (s["2023-11-15", t] for t in ("north", "south", "(none)", ""))
    assert (north.offered, north.answered, north.answered_within_sl, north.abandoned,
            north.abandoned_short, north.overflowed_out, north.handled) == (6, 4, 2, 2, 1, 0, 4)
    assert north.service_level == pytest.approx(2 / 6)
    assert north.service_level_excl_short == pytest.approx(2 / 5)
    assert (north.asa_s, north.aht_s, north.avg_time_to_abandon_s) == (28.75, 155.0, 24.0)
    assert north.abandon_rate == pytest.approx(2 / 6)
    assert (north.transferred, north.transfer_rate, north.first_call_resolution) == (0, 0.0, 0.75)
    # A south agent answered (and transferred) a call of north's queue; a south-owned call
    # overflowed to north's queue counts for south as an overflow; s1's ring-no-answer is south's.
    assert (south.offered, south.answered, south.abandoned, south.overflowed_out,
            south.transferred, south.rona) == (2, 1, 0, 1, 1, 1)
    assert (south.service_level, south.asa_s, south.aht_s, south.transfer_rate,
            south.first_call_resolution) == (0.0, 30.0, 280.0, 1.0, 1.0)
    # x1 (no team) on billing (no owner)
    assert (none.offered, none.answered, none.abandoned, none.abandoned_short) == (2, 1, 1, 1)
    assert (none.service_level, none.service_level_excl_short, none.aht_s) == (0.5, 1.0, 120.0)
    assert (all_.offered, all_.answered, all_.answered_within_sl, all_.abandoned,
            all_.overflowed_out) == (10, 6, 3, 3, 1)
    assert all_.service_level == pytest.approx(3 / 9)
    assert {r.queue for r in s.values()} == {""}


def test_calls_over_midnight_count_on_the_day_of_their_outcome(conn: sqlite3.Connection
                                                               ) -> None:
    s = _by_team(conn)
    assert {t for (p, t) in s if p == "2023-11-16"} == {"", "north", "south"}
    n2, s2 = s["2023-11-16", "north"], s["2023-11-16", "south"]
    assert (n2.answered, n2.answered_within_sl, n2.aht_s, n2.abandoned) == (1, 1, 120.0, 0)
    assert (s2.answered, s2.abandoned, s2.abandoned_short, s2.offered) == (0, 1, 1, 1)


def test_all_teams_line_keeps_the_queue_reports_outcomes(conn: sqlite3.Connection) -> None:
    """Every call's outcome counts for exactly one team: summed over the teams, the outcomes
    and their ratios are the all-queues line's (only `offered` is counted differently)."""
    end = D + 2 * DAY
    queue_all = {r.period: r for r in inbound_summary(
        queue_intervals_sync(conn, D, end), interval="day", tz=UTC, start=D, end=end)
        if r.queue == ""}
    teams = _by_team(conn)
    for period, q in queue_all.items():
        t = teams[period, ""]
        for name in ("answered", "answered_within_sl", "abandoned", "abandoned_short",
                     "overflowed_out", "handled", "transferred", "rona", "callbacks",
                     "service_level", "asa_s", "aht_s", "abandon_rate", "first_call_resolution"):
            assert getattr(t, name) == getattr(q, name), (period, name)
        parts = [r for (p, team), r in teams.items() if p == period and team]
        assert sum(r.offered for r in parts) == t.offered


def test_team_and_queue_filters(conn: sqlite3.Connection) -> None:
    s = _by_team(conn, interval="total", only_teams=["south"])
    assert set(s) == {("total", ""), ("total", "south")}
    assert s["total", ""].answered == 1 and s["total", ""].abandoned == 1  # t2; t9
    s = _by_team(conn, interval="total", queues=["sales"])
    # sales: t5's overflow and t9's abandon (south, the owner), t10 answered by n1 (north)
    assert (s["total", "south"].overflowed_out, s["total", "south"].abandoned,
            s["total", "south"].rona) == (1, 1, 1)
    assert (s["total", "north"].answered, s["total", "north"].asa_s) == (1, 25.0)


def test_distributions_by_team(conn: sqlite3.Connection) -> None:
    end = D + 2 * DAY
    dists = {(d.team, d.metric): d for d in distributions_by_team(
        histograms_sync(conn, D, end), agent_histograms_sync(conn, D, end), start=D, end=end,
        owners=OWNERS, teams=TEAMS)}
    def counts(team: str, metric: str) -> dict[float, int]:
        return {lo: n for lo, _, n in dists[team, metric].bins if n}
    assert counts("north", "wait_abandoned") == {0: 1, 45: 1}  # t3 (3 s), t4 (45 s)
    assert counts("south", "wait_abandoned") == {0: 1}  # t9
    # north answered t1 (15 s), t5 (70), t10 (25), t11 (5), t8 (15)
    assert counts("north", "wait_answered") == {15: 2, 60: 1, 20: 1, 5: 1}
    assert counts("south", "wait_answered") == {30: 1}
    assert counts("(none)", "handle") == {120: 1}
    assert sum(counts("", "wait_answered").values()) == 7


# ------------------------------------------------------------- database, API, CLI, rebuild


async def _seed(path: Path) -> None:
    crm = await Crm.open(path / SETTINGS.crm.database, SETTINGS.crm, ManualClock(D))
    try:
        await crm.history.append(EVENTS, interval_deltas(EVENTS, LIMITS), 3 * DAY)
        await _users(crm)
    finally:
        await crm.close()


async def _users(crm: Crm) -> None:
    north = await crm.teams.create(name="north")
    south = await crm.teams.create(name="south")
    pw = hash_password(PW)
    for name, role, team in [("n1", "agent", north.id), ("n2", "agent", north.id),
                             ("s1", "agent", south.id), ("x1", "agent", None),
                             ("sup", "supervisor", south.id), ("boss", "admin", None)]:
        await crm.users.create(username=name, password_hash=pw, role=role, team_id=team)


@pytest.fixture
async def data_dir(tmp_path: Path) -> Path:
    await _seed(tmp_path)
    return tmp_path


def _key(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["period"], r["team"]): r for r in rows}


async def test_run_report_api_and_supervisor_scope(data_dir: Path) -> None:
    crm = await Crm.open(data_dir / SETTINGS.crm.database, SETTINGS.crm, ManualClock(D + DAY))
    app = create_app(SETTINGS, crm, Bus(), clock=ManualClock(D + DAY),
                     extra_routes=report_routes(SETTINGS, crm))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        rows = _key(await run_report(crm, SETTINGS, "inbound_summary", D, D + 2 * DAY,
                                     by_team=True))
        assert (rows["2023-11-15", "north"]["answered"], rows["2023-11-15", "north"]["offered"],
                rows["2023-11-15", "south"]["transferred"]) == (4, 6, 1)
        headers = {}
        for user in ("boss", "sup"):
            r = await client.post("/api/auth/login", json={"username": user, "password": PW})
            headers[user] = {"Authorization": f"Bearer {(await r.json())['access_token']}"}
        q = "from=2023-11-15&to=2023-11-15&interval=total&by_team=1"
        r = await client.get(f"/api/reports/inbound_summary?{q}", headers=headers["boss"])
        assert r.status == 200
        assert {row["team"] for row in (await r.json())["rows"]} == {"", "north", "south",
                                                                     "(none)"}
        r = await client.get(f"/api/reports/inbound_summary?{q}&team=north&format=csv",
                             headers=headers["boss"])
        table = list(csv.DictReader(io.StringIO(await r.text())))
        assert [(t["team"], t["answered"], t["asa_s"]) for t in table] == [
            ("", "4", "28.75"), ("north", "4", "28.75")]
        # The supervisor of south sees south's line only.
        r = await client.get(f"/api/reports/inbound_summary?{q}", headers=headers["sup"])
        assert [row["team"] for row in (await r.json())["rows"]] == ["south"]
        r = await client.get(f"/api/reports/distributions?{q}", headers=headers["sup"])
        assert {row["team"] for row in (await r.json())["rows"]} == {"south"}
    finally:
        await client.close()
        await crm.close()


async def test_cli_writes_figures_by_team(data_dir: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    cfg = data_dir / "teams.toml"
    cfg.write_text('[reports]\ntimezone = "UTC"\nqueue_teams = {support = "north", '
                   'sales = "south"}\n', encoding="utf-8")
    base = ["report", "inbound_summary", "--from", "2023-11-15", "--to", "2023-11-15",
            "--config", str(cfg), "--data-dir", str(data_dir), "--by-team"]
    assert await asyncio.to_thread(run_server_main, [*base, "--format", "csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["team"], r["offered"], r["answered"], r["abandoned"]) for r in table] == [
        ("", "10", "6", "3"), ("(none)", "2", "1", "1"), ("north", "6", "4", "2"),
        ("south", "2", "1", "0")]
    assert await asyncio.to_thread(run_server_main, [*base, "--team", "south",
                                                     "--format", "json"]) == 0
    assert [r["team"] for r in json.loads(capsys.readouterr().out)] == ["", "south"]


async def test_bad_queue_teams_config_names_the_key(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[reports]\nqueue_teams = {"Support Line" = "north"}\n', encoding="utf-8")
    rc = await asyncio.to_thread(run_server_main, [
        "report", "inbound_summary", "--from", "2023-11-15", "--to", "2023-11-15",
        "--config", str(cfg), "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "queue_teams" in err and "'Support Line' is not a queue name" in err


# A call after the upgrade from +1001 again: it marks t11 (logged before) as repeated while the
# rebuild has not read t11 yet; the mark must be counted once.
AFTER = answered_call("t12", "support", "n2", 30 * H, 5, 50, number="+1001")


def _old_database(path: Path) -> None:
    """The fixed history logged at schema 18: events and queue rows, no per-agent rows."""
    old = sqlite3.connect(path, isolation_level=None)
    schema.configure(old)
    schema.migrate(old, 0.0, upto=18)
    logged = _conn()  # the same log and queue rows, repeat marks included, row for row
    for table in ("cc_events", "cc_queue_intervals", "cc_queue_histograms"):
        cols = [r[1] for r in logged.execute(f"PRAGMA table_info({table})")]
        old.executemany(f"INSERT INTO {table} ({', '.join(cols)}) "  # noqa: S608
                        f"VALUES ({', '.join('?' * len(cols))})",
                        logged.execute(f"SELECT {', '.join(cols)} FROM {table}"))  # noqa: S608
    assert old.execute("SELECT COUNT(*) FROM cc_events WHERE repeated = 1").fetchone() == (1,)
    old.close()


async def _expected(tmp_path: Path) -> list[dict[str, Any]]:
    """The same history (and the call after) logged at today's schema."""
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    await _seed(fresh)
    crm = await Crm.open(fresh / SETTINGS.crm.database, SETTINGS.crm, ManualClock(D))
    try:
        await crm.history.append(AFTER, interval_deltas(AFTER, LIMITS), 3 * DAY)
        return await run_report(crm, SETTINGS, "inbound_summary", D, D + 2 * DAY, by_team=True)
    finally:
        await crm.close()


async def test_a_database_logged_before_the_team_rows_is_rebuilt_once(tmp_path: Path) -> None:
    """Opening a schema-18 database marks its rows for the rebuild; the rebuild (in chunks,
    with new rows logged meanwhile) gives the figures logging them today would have."""
    path = tmp_path / SETTINGS.crm.database
    _old_database(path)
    crm = await Crm.open(path, SETTINGS.crm, ManualClock(D + 2 * DAY))
    try:
        assert await crm.history.backfill_pending("queue_agents") is not None
        await crm.history.append(AFTER, interval_deltas(AFTER, LIMITS), 3 * DAY)
        writer = HistoryWriter(crm.history, HistoryDeriver(lambda t: t),
                               limits=LIMITS, settings=ReportsSettings(), now=lambda: D)
        assert await writer.backfill_queue_agents(chunk=7) == sum(
            e.kind in ("answered", "handled", "transferred", "rona") for e in EVENTS)
        assert await crm.history.backfill_pending("queue_agents") is None
        assert await writer.backfill_queue_agents() == 0  # once
        await _users(crm)
        rebuilt = await run_report(crm, SETTINGS, "inbound_summary", D, D + 2 * DAY,
                                   by_team=True)
    finally:
        await crm.close()
    expected = await _expected(tmp_path)
    assert rebuilt == expected and len(rebuilt) == 7
    north = next(r for r in rebuilt if r["period"] == "2023-11-15" and r["team"] == "north")
    assert north["first_call_resolution"] == 0.5  # t1 and t11 both repeated


async def test_the_writer_rebuilds_in_the_background_when_it_starts(tmp_path: Path) -> None:
    path = tmp_path / SETTINGS.crm.database
    _old_database(path)
    crm = await Crm.open(path, SETTINGS.crm, ManualClock(D + 2 * DAY))
    try:
        writer = HistoryWriter(crm.history, HistoryDeriver(lambda t: t), limits=LIMITS,
                               settings=ReportsSettings(timezone="UTC"), now=lambda: D + 2 * DAY)
        await writer.start()
        for _ in range(500):
            if await crm.history.backfill_pending("queue_agents") is None:
                break
            await asyncio.sleep(0.01)
        await writer.stop()
        assert await crm.history.backfill_pending("queue_agents") is None
        # The rebuilt rows went to the per-day rows of the writer's zone as well.
        assert await crm.db.scan(day_rows_match, "UTC")
        await crm.history.append(AFTER, interval_deltas(AFTER, LIMITS), 3 * DAY)
        await _users(crm)
        assert await run_report(crm, SETTINGS, "inbound_summary", D, D + 2 * DAY,
                                by_team=True) == await _expected(tmp_path)
    finally:
        await crm.close()
