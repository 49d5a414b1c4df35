"""REST for a campaign's own calling rules: GET/PUT/PATCH /rules, GET /rules/effective; hostile
input is a 422 naming the field, stores nothing, and changes nothing the dialer applies; only
supervisors and admins; the dialer applies what is saved at its next tick."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from acd.dialer.routes import dialer_routes
from agent_desktop.app import AUTH_KEY, create_app
from common.bus import Bus
from config.dialer import DialerSettings
from crm_core.campaign_rules import CampaignRulesRow
from tests.acd.dialer.conftest import NOON_NY, World
from tests.agent_desktop.conftest import PASSWORD_HASH, bearer, make_client, make_settings
from tests.agent_desktop.test_openapi import check_document


@dataclass
class Api:
    client: TestClient[Any, Any]
    sup: dict[str, str]
    agent: dict[str, str]
    world: World

    async def call(self, method: str, path: str, body: Any = None, *,
                   as_agent: bool = False) -> tuple[int, Any]:
        kw: dict[str, Any] = {"headers": self.agent if as_agent else self.sup}
        if body is not None:
            kw["data"] = body if isinstance(body, str | bytes) else json.dumps(body)
            kw["headers"] = {**kw["headers"], "Content-Type": "application/json"}
        r = await self.client.request(method, path, **kw)
        text = await r.text()
        return r.status, (json.loads(text) if text else None)


@pytest.fixture
async def api(world: World) -> AsyncIterator[Api]:
    world.dialer.settings = DialerSettings(holidays=["2026-12-25"], default_timezone="UTC")
    sup = await world.crm.users.create(username="sam", password_hash=PASSWORD_HASH,
                                       role="supervisor")
    agent = await world.crm.users.create(username="al", password_hash=PASSWORD_HASH,
                                         role="agent")
    app = create_app(make_settings(), world.crm, Bus(), clock=world.wall,
                     extra_routes=dialer_routes(world.dialer, world.crm))
    h = bearer((await app[AUTH_KEY].issue_for(sup)).access_token)
    ha = bearer((await app[AUTH_KEY].issue_for(agent)).access_token)
    client = await make_client(app)
    try:
        yield Api(client, h, ha, world)
    finally:
        await client.close()


async def test_show_set_patch_and_effective(api: Api) -> None:
    cid = api.world.campaign_id
    base = f"/api/campaigns/{cid}/rules"
    status, body = await api.call("GET", base)
    assert status == 200, body
    assert body["own"] == {"window_start": None, "window_end": None, "days": None,
                           "holidays": None, "default_timezone": None, "retry_delay_s": {}}
    assert body["max_attempts"] == 3
    eff = body["effective"]
    assert (eff["window_start"], eff["window_end"], eff["holidays"], eff["default_timezone"]) \
        == ("08:00", "21:00", ["2026-12-25"], "UTC")
    assert len(eff["from_defaults"]) == 10

    status, body = await api.call("PUT", base, {
        "window_start": "09:00", "window_end": "17:30", "days": ["mon", "tue", "wed"],
        "holidays": [], "default_timezone": "Asia/Shanghai",
        "retry_delay_s": {"busy": 300, "no_answer": 3600.5}, "max_attempts": 7})
    assert status == 200, body
    assert body["own"] == {"window_start": "09:00", "window_end": "17:30",
                           "days": ["mon", "tue", "wed"], "holidays": [],
                           "default_timezone": "Asia/Shanghai",
                           "retry_delay_s": {"busy": 300.0, "no_answer": 3600.5}}
    assert body["max_attempts"] == 7
    assert (await api.world.crm.campaigns.get(cid)).max_attempts == 7
    row = await api.world.crm.campaign_rules.get(cid)
    assert row is not None and (row.window_start, row.holidays) == ("09:00", ())

    status, eff = await api.call("GET", base + "/effective")
    assert status == 200
    assert eff == {
        "campaign_id": cid, "window_start": "09:00", "window_end": "17:30",
        "days": ["mon", "tue", "wed"], "holidays": [], "default_timezone": "Asia/Shanghai",
        "retry_delay_s": {"busy": 300.0, "no_answer": 3600.5, "machine": 72000.0,
                          "abandoned": 3600.0, "failed": 900.0},
        "max_attempts": 7,
        "from_defaults": ["retry_delay_s.machine", "retry_delay_s.abandoned",
                          "retry_delay_s.failed"]}

    # PATCH: only what it names; null goes back to the default.
    status, body = await api.call("PATCH", base, {"holidays": None,
                                                  "retry_delay_s": {"busy": None, "failed": 60}})
    assert status == 200, body
    assert body["own"]["window_start"] == "09:00" and body["own"]["holidays"] is None
    assert body["own"]["retry_delay_s"] == {"no_answer": 3600.5, "failed": 60.0}
    assert body["effective"]["holidays"] == ["2026-12-25"]
    assert "holidays" in body["effective"]["from_defaults"]
    assert "retry_delay_s.busy" in body["effective"]["from_defaults"]

    # PUT {}: every rule back to the defaults, no row left.
    status, body = await api.call("PUT", base, {})
    assert status == 200 and len(body["effective"]["from_defaults"]) == 10
    assert await api.world.crm.campaign_rules.get(cid) is None
    assert body["max_attempts"] == 7  # the campaign's own column, left as it was


HOSTILE: list[tuple[Any, str]] = [
    ({"window_start": "21:00", "window_end": "08:00"}, "window_end"),
    ({"window_start": "08:00", "window_end": None}, "window_end"),
    ({"window_start": "08:00\r\nX-Injected: 1", "window_end": "21:00"}, "window_start"),
    ({"window_start": "8", "window_end": "21:00"}, "window_start"),
    ({"days": ["mon", "funday"]}, "days"),
    ({"holidays": ["2026-13-01"]}, "holidays"),
    ({"holidays": ["<script>alert(1)</script>"]}, "holidays"),
    ({"default_timezone": "Not/AZone"}, "default_timezone"),
    ({"default_timezone": "../../../etc/localtime"}, "default_timezone"),
    ({"retry_delay_s": {"busy": 0}}, "retry_delay_s"),
    ({"retry_delay_s": {"busy": -1}}, "retry_delay_s"),
    ({"retry_delay_s": {"busy": 1e12}}, "retry_delay_s"),
    ({"retry_delay_s": {"busy": "600"}}, "retry_delay_s"),
    ({"retry_delay_s": {"busy": True}}, "retry_delay_s"),
    ({"retry_delay_s": {"hangup": 60}}, "retry_delay_s"),
    ({"retry_delay_s": {"connected": 60}}, "retry_delay_s"),
    ({"max_attempts": 0}, "max_attempts"),
    ({"max_attempts": "5"}, "max_attempts"),
    ({"calling_window": "08-21"}, "calling_window"),
    ({"days": "mon"}, "days"),
    ({"holidays": ["2026-01-01"] * 1001}, "holidays"),
    ({"default_timezone": "A" * 5000}, "default_timezone"),
]


async def test_hostile_rules_are_422_naming_the_field_and_change_nothing(api: Api) -> None:
    cid = api.world.campaign_id
    base = f"/api/campaigns/{cid}/rules"
    status, _ = await api.call("PUT", base, {"window_start": "10:00", "window_end": "18:00",
                                             "retry_delay_s": {"busy": 120}})
    assert status == 200
    before = await api.world.crm.campaign_rules.get(cid)
    for body, field in HOSTILE:
        for method in ("PUT", "PATCH"):
            status, err = await api.call(method, base, body)
            assert status == 422, (method, body, err)
            locs = [f["loc"] for f in err["details"]["fields"]]
            assert any(field in loc for loc in locs), (method, body, err)
            assert "\r" not in err["message"] and "\n" not in err["message"]
    assert await api.world.crm.campaign_rules.get(cid) == before
    assert (await api.world.crm.campaigns.get(cid)).max_attempts == 3
    status, eff = await api.call("GET", base + "/effective")
    assert (eff["window_start"], eff["retry_delay_s"]["busy"]) == ("10:00", 120.0)


async def test_roles_ids_and_bad_bodies(api: Api) -> None:
    cid = api.world.campaign_id
    for method, suffix in (("GET", ""), ("PUT", ""), ("PATCH", ""), ("GET", "/effective")):
        status, _ = await api.call(method, f"/api/campaigns/{cid}/rules{suffix}",
                                   {} if method != "GET" else None, as_agent=True)
        assert status == 403, (method, suffix)
    assert (await api.call("GET", "/api/campaigns/999/rules"))[0] == 404
    assert (await api.call("PUT", "/api/campaigns/999/rules", {"days": ["mon"]}))[0] == 404
    assert (await api.call("GET", "/api/campaigns/999/rules/effective"))[0] == 404
    assert (await api.call("GET", "/api/campaigns/x1/rules"))[0] == 400
    assert (await api.call("PUT", f"/api/campaigns/{cid}/rules", "not json"))[0] == 400
    assert (await api.call("PUT", f"/api/campaigns/{cid}/rules", [1, 2]))[0] == 422
    doc = await check_document(api.client)
    paths: Any = doc["paths"]
    assert {"get", "put", "patch"} <= set(paths["/api/campaigns/{campaign_id}/rules"])
    assert "/api/campaigns/{campaign_id}/rules/effective" in paths


async def test_saved_rules_reach_the_next_tick(api: Api) -> None:
    # Noon in New York (the world's clock): the default window is open, a 14:00-21:00 one not.
    w = api.world
    cid = w.campaign_id
    status, _ = await api.call("PUT", f"/api/campaigns/{cid}/rules",
                               {"window_start": "14:00", "window_end": "21:00"})
    assert status == 200
    await w.dialer.control(cid, "start")
    await w.dialer.tick()
    assert w.ami.sent == []
    two_pm = dt.datetime(2026, 7, 15, 18, 0, tzinfo=dt.UTC).timestamp()
    leads = (await w.crm.leads.search(status="new", limit=50)).items
    assert len(leads) == 10 and {ld.next_attempt for ld in leads} == {two_pm}
    # The default window, but today is one of the campaign's own holidays ([dialer] has
    # only 2026-12-25): nothing is dialled, the leads wait for tomorrow 08:00.
    status, _ = await api.call("PATCH", f"/api/campaigns/{cid}/rules",
                               {"window_start": None, "window_end": None,
                                "holidays": ["2026-07-15"]})
    assert status == 200
    for ld in leads:
        await w.crm.leads.update(ld.id, next_attempt=None)
    await w.dialer.tick()
    assert w.ami.sent == []
    tomorrow_8am = dt.datetime(2026, 7, 16, 12, 0, tzinfo=dt.UTC).timestamp()
    leads = (await w.crm.leads.search(status="new", limit=50)).items
    assert {ld.next_attempt for ld in leads} == {tomorrow_8am}
    # Back to the defaults, the leads due again: the same instant dials.
    status, _ = await api.call("PATCH", f"/api/campaigns/{cid}/rules", {"holidays": None})
    assert status == 200
    for ld in leads:
        await w.crm.leads.update(ld.id, next_attempt=None)
    assert w.wall.now() == NOON_NY
    await w.dialer.tick()
    assert len(w.ami.sent) == 2


async def test_stored_rules_the_dialer_cannot_apply_stop_the_campaign_until_replaced(
        api: Api) -> None:
    # A row written around the API (the repository checks shapes, not the tz database): the
    # campaign is not dialled under the defaults instead; GET says why; a PUT repairs it.
    w = api.world
    cid = w.campaign_id
    await w.crm.campaign_rules.put(CampaignRulesRow(cid, default_timezone="Mars/Olympus"))
    await w.dialer.control(cid, "start")
    await w.dialer.tick()
    assert w.ami.sent == []
    for path in (f"/api/campaigns/{cid}/rules", f"/api/campaigns/{cid}/rules/effective"):
        status, err = await api.call("GET", path)
        assert status == 409 and err["details"]["field"] == "default_timezone", err
    status, body = await api.call("PUT", f"/api/campaigns/{cid}/rules",
                                  {"default_timezone": "America/New_York"})
    assert status == 200, body
    await w.dialer.tick()
    assert len(w.ami.sent) == 2


# ------------------------------------------------------------------ concurrent writers

async def test_concurrent_patches_each_keep_their_change(api: Api,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    base = f"/api/campaigns/{api.world.campaign_id}/rules"
    db = api.world.crm.db
    write = db.write

    async def slow_write(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.02)  # a slow disk: the requests overlap for sure
        return await write(*args, **kwargs)

    monkeypatch.setattr(db, "write", slow_write)
    outcomes = ["busy", "no_answer", "machine", "abandoned", "failed"]
    # Five PATCHes at once, each setting one outcome's delay: all five are stored. (Before,
    # each read the stored rules, then wrote them back with its change: later writers
    # dropped the earlier ones' changes.)
    results = await asyncio.gather(*(
        api.call("PATCH", base, {"retry_delay_s": {o: 60.0 * (i + 1)}})
        for i, o in enumerate(outcomes)))
    assert [s for s, _ in results] == [200] * 5
    status, body = await api.call("GET", base)
    assert body["own"]["retry_delay_s"] == {o: 60.0 * (i + 1) for i, o in enumerate(outcomes)}
    assert body["version"] == 5


async def test_if_match_refuses_a_write_over_someone_elses(api: Api) -> None:
    base = f"/api/campaigns/{api.world.campaign_id}/rules"
    r = await api.client.get(base, headers=api.sup)
    assert r.headers["ETag"] == '"0"' and (await r.json())["version"] == 0
    headers = {**api.sup, "Content-Type": "application/json"}
    # Two desks edit what they both read (no rules): the first write wins...
    r1 = await api.client.patch(base, data=json.dumps({"days": ["mon"]}),
                                headers={**headers, "If-Match": '"0"'})
    assert r1.status == 200 and r1.headers["ETag"] == '"1"'
    # ...the second is told, and nothing of it is stored.
    r2 = await api.client.put(base, data=json.dumps({"days": ["tue"]}),
                              headers={**headers, "If-Match": '"0"'})
    assert r2.status == 412
    err = await r2.json()
    assert err["error_id"] == "precondition_failed"
    assert err["details"] == {"expected": 0, "current": 1}
    status, body = await api.call("GET", base)
    assert body["own"]["days"] == ["mon"] and body["version"] == 1
    # With the current ETag it goes through; "*" is unconditional.
    r3 = await api.client.patch(base, data=json.dumps({"days": ["tue"]}),
                                headers={**headers, "If-Match": '"1"'})
    assert r3.status == 200 and r3.headers["ETag"] == '"2"'
    r4 = await api.client.patch(base, data=json.dumps({"days": ["wed"]}),
                                headers={**headers, "If-Match": "*"})
    assert r4.status == 200
    for bad in ("1", 'W/"3"', '"x"', '"1", "2"', '"' + "9" * 30 + '"', "\"-1\""):
        r = await api.client.patch(base, data=json.dumps({"days": ["thu"]}),
                                   headers={**headers, "If-Match": bad})
        assert r.status == 400, bad
    status, body = await api.call("GET", base)
    assert body["own"]["days"] == ["wed"]


async def test_rules_written_around_the_api_apply_within_a_tick(api: Api,
                                                                tmp_path: Path) -> None:
    world = api.world
    await world.dialer.control(world.campaign_id, "start")
    # Another process writes the campaign's window straight into the database (closed at
    # noon in New York): the running dialer sees it at its next tick, without a REST save.
    other = sqlite3.connect(tmp_path / "crm.sqlite3", isolation_level=None)
    try:
        other.execute("PRAGMA busy_timeout = 5000")
        other.execute("INSERT INTO campaign_rules (campaign_id, window_start, window_end)"
                      " VALUES (?, '18:00', '20:00')", (world.campaign_id,))
    finally:
        other.close()
    await world.dialer.tick()
    assert world.ami.sent == []  # nothing dialled outside the new window
    c = await world.crm.campaigns.get(world.campaign_id)
    assert world.dialer.effective(c).window.start.hour == 18
    status, body = await api.call("GET", f"/api/campaigns/{world.campaign_id}/rules/effective")
    assert body["window_start"] == "18:00"
    # (the leads wait for 18:00, as for any closed window)
    assert {ld.next_attempt for ld in (await world.crm.leads.search(limit=50)).items} == \
        {NOON_NY + 6 * 3600}
    # Removed the same way: the [dialer] defaults again at the next tick.
    other = sqlite3.connect(tmp_path / "crm.sqlite3", isolation_level=None)
    try:
        other.execute("DELETE FROM campaign_rules WHERE campaign_id = ?", (world.campaign_id,))
    finally:
        other.close()
    await world.dialer.tick()
    assert world.dialer.effective(c).window.start.hour == 8
