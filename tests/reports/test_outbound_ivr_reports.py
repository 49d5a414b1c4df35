"""Outbound campaign and IVR reports against hand-computed figures on tests/reports/seeded.py's
history, through the database, the pure reports, the CLI and the HTTP API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from agent_desktop.app import create_app
from common.bus import Bus
from common.clock import ManualClock
from config.settings import Settings
from crm_core.service import Crm
from reports.routes import report_routes
from reports.service import run_report
from run_server import main as run_server_main
from tests.reports.seeded import DAY, PASSWORD, D, seed

UTC_SETTINGS = Settings.model_validate({"reports": {"timezone": "UTC"}})


@pytest.fixture
async def data_dir(tmp_path: Path) -> Path:
    await seed(tmp_path)
    (tmp_path / "utc.toml").write_text('[reports]\ntimezone = "UTC"\n', encoding="utf-8")
    return tmp_path


async def report(data_dir: Path, name: str, start: float = D, end: float = D + DAY,
                 **kw: Any) -> list[dict[str, Any]]:
    crm = await Crm.open(data_dir / UTC_SETTINGS.crm.database, UTC_SETTINGS.crm)
    try:
        return await run_report(crm, UTC_SETTINGS, name, start, end, **kw)
    finally:
        await crm.close()


async def test_outbound_summary_by_hand(data_dir: Path) -> None:
    rows = {r["group"]: r for r in await report(data_dir, "outbound_summary")}
    assert set(rows) == {"", "spring", "winter"}
    s = rows["spring"]
    assert (s["period"], s["attempts"], s["live"], s["connected"], s["abandoned"], s["machine"],
            s["busy"], s["no_answer"], s["other"], s["conversions"]) == \
        ("2023-11-15", 8, 4, 3, 1, 1, 1, 1, 1, 2)
    assert (s["contact_rate"], s["abandon_rate"]) == (0.5, 0.25)
    assert s["conversion_rate"] == pytest.approx(2 / 3) and s["avg_wait_s"] == pytest.approx(1.5)
    # The 24 h ending at the day's end hold day D only; the 30 days also the older attempts
    # (two abandons and a connected call, ten days before): (1 + 2) / (4 + 3).
    assert s["abandon_rate_24h"] == 0.25 and s["abandon_rate_30d"] == pytest.approx(3 / 7)
    w = rows["winter"]
    assert (w["attempts"], w["connected"], w["conversions"], w["abandon_rate_30d"],
            w["refused"]) == (1, 1, 1, 0.0, 1)
    total = rows[""]
    assert (total["attempts"], total["live"], total["conversions"]) == (9, 5, 3)
    assert total["abandon_rate_30d"] == pytest.approx(3 / 8)
    assert total["avg_wait_s"] == pytest.approx(1.25)


async def test_outbound_hourly_rows_and_a_range_without_attempts(data_dir: Path) -> None:
    rows = await report(data_dir, "outbound_summary", interval="hour", campaigns=["spring"])
    by_hour = {(r["period"], r["group"]): r["attempts"] for r in rows}
    assert by_hour == {("2023-11-15T09:00", "spring"): 4, ("2023-11-15T09:00", ""): 4,
                       ("2023-11-15T10:00", "spring"): 3, ("2023-11-15T10:00", ""): 3,
                       ("2023-11-15T14:00", "spring"): 1, ("2023-11-15T14:00", ""): 1}
    # The 24 h window ends at each hour's end: at 10:00 the abandon of 09:20 is in it.
    nine = next(r for r in rows if r["period"] == "2023-11-15T09:00" and r["group"])
    assert nine["abandon_rate_24h"] == pytest.approx(1 / 3)
    assert await report(data_dir, "outbound_summary", D + 2 * DAY, D + 3 * DAY) == []


async def test_best_hours_to_call(data_dir: Path) -> None:
    rows = [r for r in await report(data_dir, "outbound_hours") if r["campaign"] == "spring"]
    assert [(r["hour"], r["attempts"], r["live"], r["contact_rate"], r["rank"]) for r in rows] \
        == [(9, 4, 3, 0.75, 2), (10, 3, 0, 0.0, 3), (14, 1, 1, 1.0, 1)]
    assert rows[0]["conversion_rate"] == 0.5  # one sale of the two connected calls at 9


async def test_outbound_by_agent_and_by_team(data_dir: Path) -> None:
    agents = {r["group"]: r for r in await report(data_dir, "outbound_summary", by="agent")}
    assert {g: (r["attempts"], r["conversions"]) for g, r in agents.items()} == {
        "alice": (2, 2), "bob": (1, 0), "carol": (1, 1), "(none)": (5, 0), "": (9, 3)}
    teams = {r["group"]: r for r in await report(data_dir, "outbound_summary", by="team")}
    assert {g: (r["attempts"], r["connected"]) for g, r in teams.items()} == {
        "north": (3, 3), "south": (1, 1), "(none)": (5, 0), "": (9, 4)}
    # Abandon rates are a campaign's figures: none on agent or team lines.
    assert all(r["abandon_rate_24h"] is None and r["rule_live"] is None for r in teams.values())
    # team= keeps those teams' agents (the all line then sums them).
    south = {r["group"]: r for r in await report(data_dir, "outbound_summary", by="team",
                                                 teams=["south"])}
    assert {g: (r["attempts"], r["conversions"]) for g, r in south.items()} == {
        "south": (1, 1), "": (1, 1)}


async def test_ivr_summary_and_where_callers_leave(data_dir: Path) -> None:
    rows = {r["queue"]: r for r in await report(data_dir, "ivr_summary")}
    sup, sales, total = rows["support"], rows["sales"], rows[""]
    assert (sup["calls"], sup["self_service"], sup["abandoned"], sup["queued"]) == (3, 1, 1, 1)
    assert sup["self_service_rate"] == pytest.approx(1 / 3) and sup["avg_seconds"] == 24.0
    assert (sales["calls"], sales["abandoned"], sales["queued"], sales["avg_seconds"]) == \
        (2, 1, 1, 19.0)
    assert (total["calls"], total["self_service_rate"], total["abandon_rate"]) == (5, 0.2, 0.4)
    exits = await report(data_dir, "ivr_exits")
    assert [(e["node"], e["outcome"], e["calls"], e["share"], e["avg_seconds"]) for e in exits] \
        == [("main", "abandoned", 2, 0.4, 10.0), ("to_agent", "queued", 2, 0.4, 25.0),
            ("goodbye", "self_service", 1, 0.2, 40.0)]
    only_sales = await report(data_dir, "ivr_exits", queues=["sales"])
    assert [(e["node"], e["calls"], e["share"]) for e in only_sales] == [
        ("main", 1, 0.5), ("to_agent", 1, 0.5)]
    assert await report(data_dir, "ivr_summary", menus=["other"]) == []


async def test_cli_writes_the_outbound_and_ivr_reports(
        data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--from", "2023-11-15", "--to", "2023-11-15", "--config",
            str(data_dir / "utc.toml"), "--data-dir", str(data_dir)]
    out = data_dir / "out.csv"
    rc = await asyncio.to_thread(run_server_main, ["report", "outbound_summary", *base,
                                                   "--campaign", "spring", "--output",
                                                   str(out)])
    assert rc == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("period,period_start,group,attempts,live,connected,abandoned")
    assert lines[1].startswith("2023-11-15,1700006400.0,,8,4,3,1,")
    assert lines[2].startswith("2023-11-15,1700006400.0,spring,8,4,3,1,")
    rc = await asyncio.to_thread(run_server_main, ["report", "ivr_exits", *base,
                                                   "--format", "json"])
    assert rc == 0 and json.loads(capsys.readouterr().out)[0]["node"] == "main"
    with pytest.raises(SystemExit) as exit_:  # argparse: not one of the choices
        run_server_main(["report", "outbound_summary", *base, "--by", "queue"])
    assert exit_.value.code == 2 and "invalid choice" in capsys.readouterr().err


async def test_api_outbound_json_csv_and_team_scope(data_dir: Path) -> None:
    from aiohttp.test_utils import TestClient, TestServer
    settings = Settings.model_validate({"auth": {"jwt_secret": "s" * 48},
                                        "reports": {"timezone": "UTC"}})
    crm = await Crm.open(data_dir / settings.crm.database, settings.crm, ManualClock(D + DAY))
    app = create_app(settings, crm, Bus(), clock=ManualClock(D + DAY),
                     extra_routes=report_routes(settings, crm))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()

    async def token(user: str) -> dict[str, str]:
        r = await client.post("/api/auth/login", json={"username": user, "password": PASSWORD})
        assert r.status == 200, await r.text()
        return {"Authorization": f"Bearer {(await r.json())['access_token']}"}

    try:
        boss, sup, agent = [await token(u) for u in ("boss", "sup", "alice")]
        q = "from=2023-11-15&to=2023-11-15&interval=total"
        r = await client.get(f"/api/reports/outbound_summary?{q}&campaign=winter", headers=boss)
        assert r.status == 200
        body = await r.json()
        assert [(row["group"], row["attempts"]) for row in body["rows"]] == [
            ("", 1), ("winter", 1)]
        r = await client.get(f"/api/reports/outbound_hours?{q}&format=csv", headers=boss)
        assert r.status == 200 and r.content_type == "text/csv"
        assert (await r.text()).splitlines()[0] == \
            "campaign,hour,attempts,live,conversions,contact_rate,conversion_rate,rank"
        # The supervisor of team north sees its agents only, and may not ask for carol's.
        r = await client.get(f"/api/reports/outbound_summary?{q}&by=agent", headers=sup)
        assert {row["group"] for row in (await r.json())["rows"]} == {"", "alice", "bob"}
        r = await client.get(f"/api/reports/outbound_summary?{q}&by=agent&agent=carol",
                             headers=sup)
        assert r.status == 403
        r = await client.get(f"/api/reports/ivr_summary?{q}&menu=main", headers=sup)
        assert r.status == 200 and len((await r.json())["rows"]) == 3
        r = await client.get(f"/api/reports/ivr_summary?{q}", headers=agent)
        assert r.status == 403
        r = await client.get(f"/api/reports/outbound_summary?{q}&by=queue", headers=boss)
        assert r.status == 400 and "by must be one of" in (await r.json())["message"]
    finally:
        await client.close()
        await crm.close()
