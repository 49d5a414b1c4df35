"""The per-day queue-and-agent rows (cc_queue_agent_days, schema 22) behind the inbound figures
by team of whole days: kept by the same writes as the 15-minute rows (repeat marks included),
summed from the 15-minute rows once for a database migrated to them and again when the zone
changes, and read by run_report only when they are complete: the figures never change."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from acd.history import interval_deltas
from agent_desktop.passwords import hash_password
from common.clock import ManualClock
from config.settings import Settings
from crm_core import schema
from crm_core.history import adopt_zone_sync, append_sync, local_day, zone
from crm_core.service import Crm
from reports.service import run_report
from tests.reports.teamfixed import EVENTS, LIMITS, OWNERS, D, H, answered_call, day_rows_match

DAY = 86400.0
# Day 2: t1's number calls again (t1 and t11 become repeats in a later batch); a call on a
# third day.
LATER = [*answered_call("t12", "support", "n2", 30 * H, 5, 50, number="+1001"),
         *answered_call("t13", "sales", "s1", 50 * H, 12, 40)]
HISTORY = sorted(EVENTS + LATER, key=lambda e: e.at)
INTERVALS = ("day", "total", "hour", "15min")


def _settings(tz: str) -> Settings:
    return Settings.model_validate({
        "auth": {"jwt_secret": "s" * 48},
        "reports": {"timezone": tz, "queue_teams": OWNERS},
        "acd": {"queues": [{"name": q} for q in LIMITS]},
    })


def _log(conn: sqlite3.Connection, tz: str, *, days: bool = True) -> None:
    """The history in small batches, the way the writer logs it (per-day rows of zone tz)."""
    z = zone(tz)
    for i in range(0, len(HISTORY), 4):
        batch = HISTORY[i:i + 4]
        conn.execute("BEGIN")
        append_sync(conn, batch, interval_deltas(
            batch, LIMITS, day_of=(lambda b: local_day(b, z)) if days else None, tz=tz),
            3 * DAY)
        conn.execute("COMMIT")


def _database(path: Path, tz: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    schema.configure(conn)
    schema.migrate(conn, 0.0)
    assert adopt_zone_sync(conn, tz, D + 9 * DAY) == 0.0  # an empty log: complete
    _log(conn, tz)
    conn.close()


def _schema_21_database(path: Path) -> None:
    """Logged before migration 22, in zone UTC since the beginning (its per-day agent rows are
    left out: not read here)."""
    conn = sqlite3.connect(path, isolation_level=None)
    schema.configure(conn)
    schema.migrate(conn, 0.0, upto=21)
    conn.execute("INSERT INTO cc_rollups (tz, since, current) VALUES ('UTC', 0, 1)")
    _log(conn, "UTC", days=False)
    conn.close()


async def _users(crm: Crm) -> None:
    north = await crm.teams.create(name="north")
    south = await crm.teams.create(name="south")
    for name, team in [("n1", north.id), ("n2", north.id), ("s1", south.id), ("x1", None)]:
        await crm.users.create(username=name, password_hash=hash_password("pw-pw-pw-pw"),
                               role="agent", team_id=team)


async def _reports(crm: Crm, settings: Settings, start: float, end: float, *,
                   day_rollup: bool) -> dict[str, list[dict[str, Any]]]:
    return {iv: await run_report(crm, settings, "inbound_summary", start, end, interval=iv,
                                 by_team=True, day_rollup=day_rollup) for iv in INTERVALS}


@pytest.mark.parametrize("tz", ["UTC", "America/New_York"])
async def test_per_day_rows_give_the_same_figures_by_team(tmp_path: Path, tz: str) -> None:
    path = tmp_path / "crm.sqlite3"
    _database(path, tz)
    settings = _settings(tz)
    z = zone(tz)
    start, end = local_day(D, z), local_day(D + 4 * DAY, z)
    crm = await Crm.open(path, settings.crm, ManualClock(D))
    try:
        await _users(crm)
        assert await crm.db.scan(day_rows_match, tz)
        assert await crm.history.rollup_since(tz, queue_agents=True) == 0.0
        slow = await _reports(crm, settings, start, end, day_rollup=False)
        assert await _reports(crm, settings, start, end, day_rollup=True) == slow
        north = next(r for r in slow["total"] if r["team"] == "north")
        assert (north["answered"], north["first_call_resolution"]) == (6, 4 / 6)
        # Without the 15-minute per-agent rows, whole days still read right: from the day rows;
        # hours and quarters cannot, so they are read from the 15-minute rows (now gone).
        await crm.db.write(lambda c: c.execute("DELETE FROM cc_queue_agent_intervals"))
        fast = await _reports(crm, settings, start, end, day_rollup=True)
        assert {iv: fast[iv] == slow[iv] for iv in INTERVALS} == {
            "day": True, "total": True, "hour": False, "15min": False}
        # A range that does not start at a local midnight is read from the 15-minute rows.
        assert await run_report(crm, settings, "inbound_summary", start + H, end,
                                by_team=True) != slow["day"]
    finally:
        await crm.close()


async def test_a_migrated_database_sums_its_days_when_the_writer_adopts_the_zone(
        tmp_path: Path) -> None:
    path = tmp_path / "crm.sqlite3"
    _schema_21_database(path)
    settings = _settings("UTC")
    start, end = D, D + 4 * DAY
    crm = await Crm.open(path, settings.crm, ManualClock(D + 5 * DAY))
    try:
        await _users(crm)
        slow = await _reports(crm, settings, start, end, day_rollup=False)
        # Migrated, not yet summed: the report does not trust the (empty) day rows.
        assert await crm.history.rollup_since("UTC", queue_agents=True) is None
        assert await crm.history.rollup_since("UTC") == 0.0
        assert await _reports(crm, settings, start, end, day_rollup=True) == slow
        # The writer's start adopts the zone: the day rows are summed, once.
        assert await crm.history.adopt_zone("UTC", D + 6 * DAY) == 0.0
        assert await crm.db.scan(day_rows_match, "UTC")
        assert await crm.history.rollup_since("UTC", queue_agents=True) == 0.0
        # Another zone: its rows are summed in its days; the old zone's are no longer kept.
        ny = "America/New_York"
        assert await crm.history.adopt_zone(ny, D + 6 * DAY) == D + 6 * DAY
        assert await crm.db.scan(day_rows_match, ny)
        assert await crm.history.rollup_since("UTC", queue_agents=True) is None
        assert await crm.history.adopt_zone("UTC", D + 7 * DAY) == D + 7 * DAY
        assert await crm.db.scan(day_rows_match, "UTC")
        # Read from the day rows alone (the range is before `since`: the agent figures' day
        # rows are complete from there only, and the team figures follow the same rule).
        await crm.db.write(lambda c: c.execute("UPDATE cc_rollups SET since = 0"))
        await crm.db.write(lambda c: c.execute("DELETE FROM cc_queue_agent_intervals"))
        assert {iv: r == slow[iv] for iv, r in (await _reports(
            crm, settings, start, end, day_rollup=True)).items()} == {
            "day": True, "total": True, "hour": False, "15min": False}
    finally:
        await crm.close()
