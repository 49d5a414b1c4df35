"""The CRM pipeline and ticket SLA split by the team of the owning user (by_team), through
run_report and the API; a supervisor gets their own team's lines only."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from agent_desktop.app import create_app
from common.bus import Bus
from common.clock import ManualClock
from config.settings import Settings
from crm_core.service import Crm
from reports.routes import report_routes
from reports.service import run_report
from tests.reports.seeded import DAY, PASSWORD, D, seed

H = 3600.0
SETTINGS = Settings.model_validate({"auth": {"jwt_secret": "s" * 48},
                                    "reports": {"timezone": "UTC"}})


@pytest.fixture
async def data_dir(tmp_path: Path) -> Path:
    await seed(tmp_path)
    crm = await Crm.open(tmp_path / SETTINGS.crm.database, SETTINGS.crm, ManualClock(D))
    try:
        alice = await crm.users.by_username("alice")  # team north
        carol = await crm.users.by_username("carol")  # team south
        c = await crm.customers.create(kind="person", name="Owner Test", stage="customer")
        for owner, stage, amount in [(alice.id, "proposal", 10_000), (alice.id, "won", 500),
                                     (carol.id, "proposal", 2_000), (None, "lost", 300)]:
            await crm.opportunities.create(customer_id=c.id, name="Deal", stage=stage,
                                           amount_cents=amount, probability=0.5,
                                           owner_user_id=owner)
        # north: one resolved in time; south: one still open past its due time
        t1 = await crm.tickets.create(customer_id=c.id, subject="A", priority="high",
                                      owner_user_id=alice.id)
        await crm.tickets.create(customer_id=c.id, subject="B", priority="high",
                                 owner_user_id=carol.id)
        crm.clock.t = D + 1 * H  # type: ignore[attr-defined]
        await crm.tickets.update(t1.id, status="resolved")
    finally:
        await crm.close()
    return tmp_path


async def test_pipeline_and_ticket_sla_by_team(data_dir: Path) -> None:
    crm = await Crm.open(data_dir / SETTINGS.crm.database, SETTINGS.crm, ManualClock(D + DAY))
    try:
        pipe = await run_report(crm, SETTINGS, "pipeline", D, D + DAY, by_team=True)
        assert [(r["team"], r["stage"], r["opportunities"], r["amount_cents"],
                 r["weighted_cents"]) for r in pipe] == [
            ("(none)", "lost", 1, 300, 150), ("north", "proposal", 1, 10_000, 5_000),
            ("north", "won", 1, 500, 250), ("south", "proposal", 1, 2_000, 1_000)]
        sla = {r["team"]: r for r in await run_report(
            crm, SETTINGS, "ticket_sla", D, D + DAY, by_team=True, now=D + 30 * DAY)}
        assert set(sla) == {"", "north", "south"}
        assert (sla["north"]["met"], sla["north"]["breached"], sla["north"]["compliance"]) == \
            (1, 0, 1.0)
        assert (sla["south"]["met"], sla["south"]["breached"], sla["south"]["compliance"]) == \
            (0, 1, 0.0)
        assert (sla[""]["created"], sla[""]["compliance"]) == (2, 0.5)
        # Without by_team: the lines by priority, as before.
        plain = await run_report(crm, SETTINGS, "ticket_sla", D, D + DAY, now=D + 30 * DAY)
        assert [r["priority"] for r in plain] == ["high", ""]
    finally:
        await crm.close()


async def test_a_supervisor_sees_their_own_teams_lines(data_dir: Path) -> None:
    crm = await Crm.open(data_dir / SETTINGS.crm.database, SETTINGS.crm, ManualClock(D + DAY))
    app = create_app(SETTINGS, crm, Bus(), clock=ManualClock(D + DAY),
                     extra_routes=report_routes(SETTINGS, crm))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        tokens = {}
        for user in ("sup", "boss"):
            r = await client.post("/api/auth/login",
                                  json={"username": user, "password": PASSWORD})
            tokens[user] = {"Authorization": f"Bearer {(await r.json())['access_token']}"}
        q = "from=2023-11-15&to=2023-11-15&by_team=1"
        r = await client.get(f"/api/reports/pipeline?{q}", headers=tokens["sup"])
        assert r.status == 200
        assert {row["team"] for row in (await r.json())["rows"]} == {"north"}
        r = await client.get(f"/api/reports/ticket_sla?{q}", headers=tokens["sup"])
        assert [row["team"] for row in (await r.json())["rows"]] == ["north"]
        r = await client.get(f"/api/reports/pipeline?{q}", headers=tokens["boss"])
        assert {row["team"] for row in (await r.json())["rows"]} == {"north", "south",
                                                                     "(none)"}
    finally:
        await client.close()
        await crm.close()
