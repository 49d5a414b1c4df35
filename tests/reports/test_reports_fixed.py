"""Report figures against hand-computed expectations on tests/reports/fixed.py's history
(calls over midnight, abandons under and at the short-abandon threshold, a transfer, a repeat
call), through the database, the pure reports, the CLI and the HTTP API."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from acd.history import interval_deltas
from agent_desktop.app import create_app
from agent_desktop.passwords import hash_password
from common.bus import Bus
from common.clock import ManualClock
from config.settings import Settings
from crm_core.history import (
    adopt_zone_sync,
    agent_intervals_sync,
    histograms_sync,
    local_day,
    queue_intervals_sync,
    state_intervals_sync,
)
from crm_core.service import Crm
from reports.agents import agent_performance, leaderboard
from reports.inbound import distributions, inbound_summary
from reports.routes import report_routes
from reports.service import run_report
from run_server import main as run_server_main
from tests.reports.fixed import EVENTS, LIMITS, D
from tests.reports.simday import persist

DAY = 86400.0


@pytest.fixture(scope="module")
def conn() -> Any:
    conn = persist([], Settings().acd)
    conn.execute("BEGIN")
    from crm_core.history import append_sync
    append_sync(conn, EVENTS, interval_deltas(EVENTS, LIMITS), 3 * DAY)
    conn.execute("COMMIT")
    return conn


def _summary(conn: Any, interval: str = "day") -> dict[tuple[str, str], Any]:
    rows = queue_intervals_sync(conn, D, D + 2 * DAY)
    return {(r.period, r.queue): r for r in inbound_summary(
        rows, interval=interval, tz=UTC, start=D, end=D + 2 * DAY)}  # type: ignore[arg-type]


def test_daily_inbound_summary_by_hand(conn: Any) -> None:
    s = _summary(conn)
    sup = s["2023-11-15", "support"]
    # c1, c2, c3, c6 and c5 (entered at 23:59:50) were offered on day 1
    assert (sup.offered, sup.answered, sup.abandoned, sup.abandoned_short) == (5, 1, 3, 1)
    assert sup.service_level == pytest.approx(1 / 4)  # c1 within 20 s of 1 + 3
    assert sup.service_level_excl_short == pytest.approx(1 / 3)  # c2 (3 s) dropped
    assert (sup.asa_s, sup.aht_s, sup.abandon_rate) == (10, 110, 0.75)
    assert sup.avg_time_to_abandon_s == pytest.approx((3 + 5 + 40) / 3)
    assert sup.first_call_resolution == 0.0  # c1's number called again (c5) within 3 days
    sales = s["2023-11-15", "sales"]
    assert (sales.answered, sales.service_level, sales.transferred) == (1, 0.0, 1)
    assert (sales.transfer_rate, sales.aht_s, sales.first_call_resolution) == (1.0, 175, 1.0)
    all1 = s["2023-11-15", ""]
    assert (all1.offered, all1.answered, all1.abandoned) == (6, 2, 3)
    assert (all1.service_level, all1.asa_s, all1.aht_s) == (0.2, 17.5, 142.5)
    day2 = s["2023-11-16", "support"]  # the call over midnight is answered on day 2
    assert (day2.offered, day2.answered, day2.service_level, day2.asa_s) == (0, 1, 0.0, 30)
    assert (day2.aht_s, day2.first_call_resolution) == (290, 1.0)


def test_hourly_and_total_intervals(conn: Any) -> None:
    h = _summary(conn, "hour")
    assert h["2023-11-15T01:00", "support"].answered == 1
    assert h["2023-11-15T02:00", "support"].abandoned == 3
    assert h["2023-11-15T23:00", "support"].offered == 1
    t = _summary(conn, "total")
    (tot,) = [r for (p, q), r in t.items() if q == ""]
    assert (tot.offered, tot.answered, tot.abandoned, tot.handled) == (6, 3, 3, 3)


def test_time_to_abandon_and_wait_distributions(conn: Any) -> None:
    d = {(x.queue, x.metric): x for x in distributions(histograms_sync(conn, D, D + 2 * DAY),
                                                        start=D, end=D + 2 * DAY)}
    tta = {(lo, hi): n for lo, hi, n in d["support", "wait_abandoned"].bins if n}
    assert tta == {(0, 5): 1, (5, 10): 1, (30, 45): 1}
    waits = {(lo, hi): n for lo, hi, n in d["", "wait_answered"].bins if n}
    assert waits == {(10, 15): 1, (20, 30): 1, (30, 45): 1}


def test_agent_performance_by_hand(conn: Any) -> None:
    rows = agent_performance(agent_intervals_sync(conn, D, D + DAY),
                             state_intervals_sync(conn, D, D + DAY), interval="day", tz=UTC,
                             start=D, end=D + DAY, teams={"a1": "blue", "a2": "red"},
                             dispositions=[("a1", "sale", 1)])
    a1 = next(r for r in rows if r.agent == "a1")
    assert (a1.answered, a1.handled, a1.aht_s, a1.team) == (1, 1, 110, "blue")
    # a1's second login (23:55, day 1) runs over midnight: 300 s of it count on day 1
    assert a1.login_s == 610 + 100 + 10 + 1280 + 1800 + 1200 + 300
    assert (a1.available_s, a1.busy_s, a1.paused_s) == (610 + 1280 + 1200 + 300, 110, 1800)
    assert a1.pause_by_reason == {"lunch": 1800}
    assert a1.occupancy == pytest.approx(110 / 3500)
    assert a1.first_call_resolution == 0.0 and a1.dispositions == {}  # not for "day" rows
    a2 = next(r for r in rows if r.agent == "a2")
    assert (a2.transferred, a2.aht_s, a2.login_s, a2.occupancy) == (1, 175, 0, None)
    board = leaderboard(agent_performance(
        agent_intervals_sync(conn, D, D + 2 * DAY), state_intervals_sync(conn, D, D + 2 * DAY),
        interval="total", tz=UTC, start=D, end=D + 2 * DAY, dispositions=[("a1", "sale", 1)]))
    assert [(r.rank, r.agent, r.handled) for r in board] == [(1, "a1", 2), (2, "a2", 1)]
    assert board[0].dispositions == {"sale": 1}


# ------------------------------------------------------------------------ CLI and HTTP API


@pytest.fixture
async def data_dir(tmp_path: Path) -> Path:
    settings = Settings()
    crm = await Crm.open(tmp_path / settings.crm.database, settings.crm, ManualClock(D))
    assert await crm.history.adopt_zone("UTC", D + 5 * DAY) == 0.0  # empty log: complete
    await crm.history.append(EVENTS, interval_deltas(
        EVENTS, LIMITS, day_of=lambda b: local_day(b, UTC), tz="UTC"), 3 * DAY)
    team = await crm.teams.create(name="blue")
    other = await crm.teams.create(name="red")
    pw = hash_password("pw-pw-pw-pw")
    for name, role, t in [("a1", "agent", team.id), ("a2", "agent", other.id),
                          ("sup", "supervisor", team.id), ("boss", "admin", None)]:
        await crm.users.create(username=name, password_hash=pw, role=role, team_id=t)
    await crm.close()
    (tmp_path / "utc.toml").write_text('[reports]\ntimezone = "UTC"\n', encoding="utf-8")
    return tmp_path


async def test_cli_writes_csv_and_json(data_dir: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    import asyncio
    out = data_dir / "day.csv"
    args = ["report", "inbound_summary", "--from", "2023-11-15", "--to", "2023-11-16",
            "--config", str(data_dir / "utc.toml"), "--data-dir", str(data_dir)]
    rc = await asyncio.to_thread(run_server_main, [*args, "--output", str(out)])
    assert rc == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("period,period_start,queue,team,offered,answered")
    assert lines[1].startswith("2023-11-15,1700006400.0,,,6,2,")  # the overall line first
    rc = await asyncio.to_thread(run_server_main, [*args, "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert rc == 0 and {(r["period"], r["queue"]) for r in rows} >= {("2023-11-16", "support")}


async def test_cli_refuses_bad_input_with_a_clear_message(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio
    base = ["--config", str(data_dir / "utc.toml"), "--data-dir", str(data_dir)]
    rc = await asyncio.to_thread(run_server_main, ["report", "inbound_summary", "--from",
                                                   "15/11/2023\r\n", "--to", "2023-11-16",
                                                   *base])
    assert rc == 2 and "is not a date; use YYYY-MM-DD" in capsys.readouterr().err
    rc = await asyncio.to_thread(run_server_main, ["report", "inbound_summary", "--from",
                                                   "2023-11-16", "--to", "2023-11-14", *base])
    assert rc == 2 and "'to' must be after 'from'" in capsys.readouterr().err
    rc = await asyncio.to_thread(run_server_main, [
        "report", "leaderboard", "--from", "2023-11-15", "--to", "2023-11-16",
        "--config", str(data_dir / "utc.toml"), "--data-dir", str(data_dir / "nowhere")])
    assert rc == 2 and "no database at" in capsys.readouterr().err


async def _client(data_dir: Path) -> tuple[Any, Crm]:
    from aiohttp.test_utils import TestClient, TestServer
    settings = Settings.model_validate({"auth": {"jwt_secret": "s" * 48},
                                        "reports": {"timezone": "UTC"}})
    crm = await Crm.open(data_dir / settings.crm.database, settings.crm, ManualClock(D + DAY))
    app = create_app(settings, crm, Bus(), clock=ManualClock(D + DAY),
                     extra_routes=report_routes(settings, crm))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client, crm


async def _token(client: Any, user: str) -> dict[str, str]:
    r = await client.post("/api/auth/login", json={"username": user, "password": "pw-pw-pw-pw"})
    assert r.status == 200, await r.text()
    return {"Authorization": f"Bearer {(await r.json())['access_token']}"}


async def test_api_json_csv_roles_and_team_scope(data_dir: Path) -> None:
    client, crm = await _client(data_dir)
    try:
        q = "from=2023-11-15&to=2023-11-16&interval=total"
        boss, sup, agent = [await _token(client, u) for u in ("boss", "sup", "a1")]
        r = await client.get(f"/api/reports/agent_performance?{q}", headers=boss)
        assert r.status == 200
        assert {row["agent"] for row in (await r.json())["rows"]} == {"a1", "a2"}
        # the supervisor of team blue sees a1 only, and may not ask for a2
        r = await client.get(f"/api/reports/agent_performance?{q}", headers=sup)
        assert [row["agent"] for row in (await r.json())["rows"]] == ["a1"]
        r = await client.get(f"/api/reports/leaderboard?{q}&agent=a2", headers=sup)
        assert r.status == 403
        r = await client.get(f"/api/reports/inbound_summary?{q}", headers=agent)
        assert r.status == 403
        r = await client.get(f"/api/reports/inbound_summary?{q}&format=csv", headers=sup)
        assert r.status == 200 and r.content_type == "text/csv"
        assert (await r.text()).splitlines()[1].startswith("total,1700006400.0,,,6,3,")
        day = "from=2023-11-15&to=2023-11-16"
        for bad in ("from=yesterday&to=2023-11-16", f"{day}&interval=week", f"{q}&format=xls",
                    f"{day}&limit=lots"):
            r = await client.get(f"/api/reports/inbound_summary?{bad}", headers=boss)
            assert r.status == 400 and "error_id" in await r.json()
        r = await client.get(f"/api/reports/nonsense?{q}", headers=boss)
        assert r.status == 400
    finally:
        await client.close()
        await crm.close()


async def test_per_day_rows_give_the_same_agent_figures(data_dir: Path) -> None:
    settings = Settings.model_validate({"reports": {"timezone": "UTC"}})
    crm = await Crm.open(data_dir / settings.crm.database, settings.crm, ManualClock(D))
    try:
        slow = {iv: await run_report(crm, settings, "agent_performance", D, D + 2 * DAY,
                                     interval=iv, day_rollup=False) for iv in ("day", "total")}
        # Without the 15-minute agent rows, whole days still read right: from the day rows.
        await crm.db.write(lambda c: c.execute("DELETE FROM cc_agent_state_intervals"))
        await crm.db.write(lambda c: c.execute("DELETE FROM cc_agent_intervals"))
        for interval in ("day", "total"):
            fast = await run_report(crm, settings, "agent_performance", D, D + 2 * DAY,
                                    interval=interval)
            assert fast == slow[interval] and len(fast) >= 2
        a1 = next(r for r in fast if r["agent"] == "a1")
        assert (a1["handled"], a1["first_call_resolution"], a1["paused_s"]) == (2, 0.5, 1800)
    finally:
        await crm.close()


def test_a_new_zone_counts_its_days_from_the_next_midnight(conn: Any) -> None:
    conn.execute("BEGIN")
    try:
        assert adopt_zone_sync(conn, "UTC", D + 9 * DAY) == D + 9 * DAY  # the log has rows
        assert adopt_zone_sync(conn, "UTC", D + 10 * DAY) == D + 9 * DAY  # still current
        assert adopt_zone_sync(conn, "", D + 11 * DAY) == D + 11 * DAY
        assert adopt_zone_sync(conn, "UTC", D + 12 * DAY) == D + 12 * DAY  # back: from now on
        assert conn.execute("SELECT tz FROM cc_rollups WHERE current = 1").fetchall() == [
            ("UTC",)]
    finally:
        conn.execute("ROLLBACK")
