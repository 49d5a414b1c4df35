"""Hostile input on the campaign REST routes (CSV import, run-state actions): a clear error,
nothing imported by a refused request, and a bad row costs only that row."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from acd.dialer.routes import dialer_routes
from agent_desktop.app import AUTH_KEY, create_app
from common.bus import Bus
from tests.acd.dialer.conftest import World
from tests.agent_desktop.conftest import PASSWORD_HASH, bearer, make_client, make_settings


@pytest.fixture
async def api(world: World) -> AsyncIterator[tuple[Any, dict[str, str]]]:
    sup = await world.crm.users.create(username="sam", password_hash=PASSWORD_HASH,
                                       role="supervisor")
    app = create_app(make_settings(), world.crm, Bus(), clock=world.wall,
                     extra_routes=dialer_routes(world.dialer, world.crm))
    h = bearer((await app[AUTH_KEY].issue_for(sup)).access_token)
    client = await make_client(app)
    try:
        yield client, h
    finally:
        await client.close()


async def leads_of(world: World, campaign_id: int) -> list[Any]:
    """Every lead of the campaign's lists."""
    lists = {lst.id for lst in (await world.crm.lead_lists.search(limit=100)).items
             if lst.campaign_id == campaign_id}
    return [ld for ld in (await world.crm.leads.search(limit=1000)).items
            if ld.list_id in lists]


@pytest.mark.parametrize("body", [
    {"csv": "phone\n+12125550300\n", "columns": {"phone": "phone"}, "extra": 1},
    {"csv": "", "columns": {"phone": "phone"}},
    {"csv": ["phone", "+12125550300"], "columns": {"phone": "phone"}},
    {"csv": "phone\n+12125550300\n", "columns": {"phone": ""}},
    {"csv": "phone\n+12125550300\n", "columns": {"phone": "p" * 201}},
    {"csv": "phone\n+12125550300\n", "columns": {"phone": "phone", "sql": "1; DROP TABLE"}},
    {"csv": "phone\n+12125550300\n", "columns": {"phone": "phone"}, "list_id": 0},
    {"csv": "phone\n+12125550300\n", "columns": {"phone": "phone"}, "list_id": "1 OR 1=1"},
    {"csv": "phone\n+12125550300\n", "columns": "phone"},
])
async def test_malformed_import_bodies_are_422_and_import_nothing(
        world: World, api: tuple[Any, dict[str, str]], body: dict[str, Any]) -> None:
    client, h = api
    before = await leads_of(world, world.campaign_id)
    r = await client.post(f"/api/campaigns/{world.campaign_id}/import", headers=h, json=body)
    assert r.status == 422, await r.text()
    assert "message" in await r.json()
    assert await leads_of(world, world.campaign_id) == before


async def test_a_list_of_another_campaign_or_none_is_refused(
        world: World, api: tuple[Any, dict[str, str]]) -> None:
    client, h = api
    other = await world.crm.campaigns.create(name="Other", queue="sales")
    theirs = await world.crm.lead_lists.create(campaign_id=other.id, name="theirs")
    body = {"csv": "phone\n+12125550301\n", "columns": {"phone": "phone"}}
    r = await client.post(f"/api/campaigns/{world.campaign_id}/import", headers=h,
                          json={**body, "list_id": theirs.id})
    assert r.status == 400 and "belongs to another campaign" in (await r.json())["message"]
    r = await client.post(f"/api/campaigns/{world.campaign_id}/import", headers=h,
                          json={**body, "list_id": 99_999})
    assert r.status == 404
    r = await client.post("/api/campaigns/99999/import", headers=h, json=body)
    assert r.status == 404
    assert await leads_of(world, other.id) == []
    assert "+12125550301" not in {ld.phone for ld in await leads_of(world, world.campaign_id)}


async def test_hostile_rows_cost_only_themselves(
        world: World, api: tuple[Any, dict[str, str]]) -> None:
    client, h = api
    csv_text = (
        "phone,name,tz\n"
        '"+1212555\r\n0302",CRLF in the number,\n'  # a quoted cell spanning lines
        "+12125550304,=HYPERLINK(\"http://x\"),America/New_York\n"
        "+12125550305,Mars,Mars/Olympus_Mons\n"
        "+12125550306," + "x" * 1001 + ",\n"
        "+12125550307,Zoë 王,Europe/London\n"
        "+19005550100,premium,\n"
    )
    r = await client.post(f"/api/campaigns/{world.campaign_id}/import", headers=h, json={
        "csv": csv_text, "columns": {"phone": "phone", "name": "name", "timezone": "tz"}})
    assert r.status == 200, await r.text()
    rep = await r.json()
    # (Issues name the file's line where the record ends: the quoted cell spans lines 2-3.)
    reasons = {i["row"]: i["reason"] for i in rep["issues"]}
    assert rep["imported"] == 3 and rep["invalid"] == 3, rep
    assert "control characters" in reasons[3]
    assert "unknown time zone" in reasons[5]
    assert "longer than" in reasons[6]
    # Issue values are shown escaped, never raw control characters.
    assert all("\r" not in i["value"] and "\x00" not in i["value"] for i in rep["issues"])
    stored = {ld.phone: ld for ld in await leads_of(world, world.campaign_id)}
    # Stored as given, as data: a formula-looking name is a name (exports must escape it).
    assert stored["+12125550304"].name == '=HYPERLINK("http://x")'
    assert (stored["+12125550307"].name, stored["+12125550307"].timezone) == (
        "Zoë 王", "Europe/London")
    # A premium-rate number is a valid number: imported, and the dial policy refuses it when
    # dialled (tests/acd/dialer/test_dial_policy_and_log.py), never dialled.
    assert "+19005550100" in stored


async def test_a_file_with_nul_bytes_is_refused_whole(
        world: World, api: tuple[Any, dict[str, str]]) -> None:
    client, h = api
    before = await leads_of(world, world.campaign_id)
    r = await client.post(f"/api/campaigns/{world.campaign_id}/import", headers=h, json={
        "csv": "phone\n+12125550310\n+12125550311\x00\n", "columns": {"phone": "phone"}})
    assert r.status == 422 and "NUL bytes" in (await r.json())["message"]
    assert await leads_of(world, world.campaign_id) == before


@pytest.mark.parametrize("path", [
    "/api/campaigns/1%0d%0a/start", "/api/campaigns/-1/start", "/api/campaigns/1e3/start",
    "/api/campaigns/99999999999999999999999/start",
])
async def test_hostile_campaign_ids_are_400_or_404(
        world: World, api: tuple[Any, dict[str, str]], path: str) -> None:
    client, h = api
    r = await client.post(path, headers=h)
    assert r.status in (400, 404), (path, r.status)
    assert (await world.crm.campaigns.get(world.campaign_id)).status == "draft"
