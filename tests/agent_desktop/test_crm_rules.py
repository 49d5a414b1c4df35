"""Rules over the CRM routes from issue 7: one user per extension, configured dispositions,
ambiguous phone lookups, bounded error bodies, wording, HEAD, and the README's role table."""
# ruff: noqa: F811  (the `world` fixture is imported from test_crm_api and used as a parameter)

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from agent_desktop.app import ROUTES_KEY, create_app
from agent_desktop.errors import MAX_MESSAGE_CHARS, ApiError, BadRequest, bounded, clip
from common.bus import Bus
from common.clock import ManualClock
from config.settings import Settings
from crm_core.service import Crm
from tests.agent_desktop.conftest import make_client
from tests.agent_desktop.test_crm_api import World, new_customer, world  # noqa: F401
from tests.agent_desktop.test_http_auth import assert_error

REPO = Path(__file__).resolve().parents[2]


# ---- an extension belongs to one user ----------------------------------------------------------

async def test_duplicate_extension_is_a_clear_409_on_create_and_patch(world: World) -> None:
    resp = await world.post("root", "/api/users", {"username": "carl", "password": "pass-word-1",
                                                   "extension": "1001"})
    assert resp.status == 201, await resp.text()
    err = await assert_error(
        await world.post("root", "/api/users", {"username": "dora", "password": "pass-word-1",
                                                "extension": "1001"}), 409, "conflict")
    assert err["message"].startswith("extension 1001 already belongs to another user")  # type: ignore[union-attr]
    assert err["details"] == {"field": "extension", "extension": "1001"}
    err = await assert_error(await world.patch("root", f"/api/users/{world.ids['bob']}",
                                               {"extension": "1001"}), 409, "conflict")
    assert (await world.crm.users.get(world.ids["bob"])).extension is None
    users = await world.crm.users.search(limit=50, extension="1001")
    assert [u.username for u in users.items] == ["carl"]


# ---- dispositions ------------------------------------------------------------------------------

@pytest.fixture
async def queued_world(tmp_path: Path, clock: ManualClock) -> Any:
    """The world's users, with per-queue disposition codes configured for "sales"."""
    from agent_desktop.app import AUTH_KEY
    from tests.agent_desktop.conftest import PASSWORD_HASH, SECRET, bearer

    settings = Settings.model_validate({
        "auth": {"jwt_secret": SECRET},
        "acd": {"disposition_codes": ["resolved", "follow-up"],
                "queues": [{"name": "support", "skills": ["support"]},
                           {"name": "sales", "skills": ["sales"],
                            "disposition_codes": ["sale", "no-sale"]}]},
    })
    crm = await Crm.open(tmp_path / "crm.sqlite3", settings.crm, clock=clock)
    alice = await crm.users.create(username="alice", password_hash=PASSWORD_HASH, role="agent")
    app = create_app(settings, crm, Bus(), clock=clock)
    pair = await app[AUTH_KEY].issue_for(alice)
    client = await make_client(app)
    yield World(client, crm, {"alice": alice.id}, {"alice": bearer(pair.access_token)})
    await client.close()
    await crm.close()


async def test_dispositions_must_be_configured_codes(queued_world: World) -> None:
    w = queued_world
    ok = await w.post("alice", "/api/interactions", {"kind": "call", "customer_id": None,
                                                     "queue": "support",
                                                     "disposition": "resolved"})
    assert ok.status == 201, await ok.text()
    err = await assert_error(await w.post("alice", "/api/interactions",
                                          {"kind": "call", "customer_id": None,
                                           "disposition": "whatever I like"}),
                             422, "validation_failed")
    assert err["details"]["allowed"] == ["resolved", "follow-up"]  # type: ignore[index]
    # A queue with its own list: only those.
    await assert_error(await w.post("alice", "/api/interactions",
                                    {"kind": "call", "customer_id": None, "queue": "sales",
                                     "disposition": "resolved"}),
                       422, "validation_failed")
    sale = await w.post("alice", "/api/interactions",
                        {"kind": "call", "customer_id": None, "queue": "sales",
                         "disposition": "sale"})
    assert sale.status == 201, await sale.text()
    sale_id = (await sale.json())["id"]
    # PATCH checks against the stored row's queue.
    await assert_error(await w.patch("alice", f"/api/interactions/{sale_id}",
                                     {"disposition": "follow-up"}), 422, "validation_failed")
    resp = await w.patch("alice", f"/api/interactions/{sale_id}", {"disposition": "no-sale"})
    assert resp.status == 200, await resp.text()
    resp = await w.patch("alice", f"/api/interactions/{sale_id}", {"notes": "free text here"})
    assert resp.status == 200, await resp.text()
    assert (await w.crm.interactions.get(sale_id)).disposition == "no-sale"
    # A huge hostile value is refused and only quoted in part.
    resp = await w.post("alice", "/api/interactions",
                        {"kind": "call", "customer_id": None, "disposition": "z" * 10_000})
    err = await assert_error(resp, 422, "validation_failed")
    assert len(json.dumps(err)) < 2000


def test_disposition_config_names_the_bad_code() -> None:
    from config.errors import ConfigError
    from config.loader import load_settings

    with pytest.raises(ConfigError) as exc:
        load_settings(None, environ={"CTI_ACD__DISPOSITION_CODES": '["Sale!"]'})
    assert "acd.disposition_codes" in str(exc.value)


# ---- phone lookup ambiguity --------------------------------------------------------------------

async def test_lookup_of_a_shared_number_lists_every_customer(world: World) -> None:
    a = await new_customer(world, "Ann Shared")
    b = await new_customer(world, "Ben Shared")
    only = await new_customer(world, "Cy Alone")
    for cust, number in ((a, "+14155550150"), (b, "+1 (415) 555-0150"), (only, "+14155550151")):
        resp = await world.post("alice", "/api/phones", {"customer_id": cust["id"], "e164": number})
        assert resp.status == 201, await resp.text()
    body = await (await world.get("bob", "/api/lookup", params={"phone": "4155550150"})).json()
    assert body["ambiguous"] is True
    assert body["matches_total"] == 2
    assert [(m["customer_id"], m["name"]) for m in body["matches"]] == [
        (a["id"], "Ann Shared"), (b["id"], "Ben Shared")]
    # Backward compatible: the best match's view is still at the top level.
    assert body["customer"]["id"] == a["id"]
    assert body["matched_phone"]["e164"] == "+14155550150"
    single = await (await world.get("bob", "/api/lookup", params={"phone": "4155550151"})).json()
    assert (single["ambiguous"], single["matches_total"]) == (False, 1)
    assert single["customer"]["id"] == only["id"]
    doc = await (await world.client.get("/api/openapi.json")).json()
    schema = doc["paths"]["/api/lookup"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/PhoneLookup"}
    assert {"ambiguous", "matches", "customer"} <= set(
        doc["components"]["schemas"]["PhoneLookup"]["properties"])


# ---- error bodies are bounded ------------------------------------------------------------------

def test_error_bodies_are_bounded_whoever_builds_them() -> None:
    huge = "a" * 900_000
    err = BadRequest(f"pause reason {huge!r} is not one of ['break', 'lunch']",
                     {"value": huge, "list": [huge] * 1000, huge: {"deep": [[[[[[[[huge]]]]]]]]}})
    body = json.dumps(err.body())
    assert len(body) < 8000
    assert err.message.startswith("pause reason 'aaa")
    assert err.message.endswith("is not one of ['break', 'lunch']")  # the useful tail survives
    assert "characters cut" in err.message and len(err.message) <= MAX_MESSAGE_CHARS + 40
    # Changed after construction: still bounded when rendered.
    err.message = huge
    err.details = {"x": huge}
    assert len(json.dumps(err.body())) < 2000
    assert clip("short") == "short"
    assert bounded({"n": 1, "ok": True, "none": None}) == {"n": 1, "ok": True, "none": None}
    assert isinstance(ApiError("x").details, dict)


async def test_a_huge_query_value_is_not_echoed_whole(world: World) -> None:
    resp = await world.get("alice", "/api/customers", params={"order_by": "q" * 7000})
    err = await assert_error(resp, 422, "validation_failed")
    assert len(json.dumps(err)) < 2000


# ---- wording ----------------------------------------------------------------------------------

async def test_messages_read_as_english(world: World) -> None:
    err = await assert_error(await world.get("alice", "/api/customers", params={"limit": "x"}),
                             422, "validation_failed")
    assert err["message"] == "query parameter 'limit' must be an integer"
    # Route templates, not aiohttp's regular expressions.
    err = await assert_error(await world.delete("alice", "/api/customers/1"), 403, "forbidden")
    assert err["message"] == "role 'agent' may not use DELETE /api/customers/{id}"
    # "this user belongs to another team", not "this users row".
    err = await assert_error(await world.patch("sam", f"/api/users/{world.ids['bob']}",
                                               {"display_name": "B"}), 403, "forbidden")
    assert "users row" not in str(err["message"])
    assert str(err["message"]).startswith("this user belongs to another team")
    alice_ticket = await world.post("root", "/api/tickets", {
        "customer_id": (await new_customer(world, "T"))["id"], "subject": "s",
        "owner_user_id": world.ids["bob"]})
    tid = (await alice_ticket.json())["id"]
    err = await assert_error(await world.patch("alice", f"/api/tickets/{tid}", {"subject": "x"}),
                             403, "forbidden")
    assert str(err["message"]).startswith("this ticket is not yours")


async def test_refresh_with_an_access_token_says_a_refresh_token(bare_client: TestClient) -> None:
    from tests.agent_desktop.conftest import login

    tokens = await login(bare_client, "alice")
    resp = await bare_client.post("/api/auth/refresh",
                                  json={"refresh_token": tokens["access_token"]})
    err = await assert_error(resp, 401, "unauthorized")
    assert err["details"] == {"reason": "not a refresh token"}


async def test_head_healthz_is_200_like_get(bare_client: TestClient) -> None:
    head = await bare_client.head("/healthz")
    assert head.status == 200
    assert await head.read() == b""
    assert (await bare_client.get("/healthz")).status == 200
    # Every GET route answers HEAD (authenticated ones still need the token).
    assert (await bare_client.head("/api/me")).status == 401


# ---- the README's role table is the policy -----------------------------------------------------

_WHO = {"agents": "agent", "agent": "agent", "supervisor": "supervisor",
        "supervisors": "supervisor", "admin": "admin", "admins": "admin"}


def _readme_rows() -> list[tuple[list[tuple[str, str]], str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("area", "---"):
            continue
        endpoints = re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[^` ?]*)", cells[1])
        if endpoints:
            rows.append((endpoints, cells[2]))
    return rows


def _roles(who: str) -> frozenset[str] | None:
    who = re.sub(r"\([^)]*\)", "", who).lower()
    if "by role" in who:
        return None
    if who.strip() == "public":
        return frozenset()
    if who.strip() == "all":
        return frozenset({"agent", "supervisor", "admin"})
    return frozenset(_WHO[w] for w in re.findall(r"[a-z]+", who) if w in _WHO)


async def test_readme_role_table_agrees_with_the_routes(world: World) -> None:
    from acd.routes import acd_routes

    specs = {(s.method, s.template): s.roles for s in world.client.app[ROUTES_KEY]}
    specs.update({(s.method, s.template): s.roles
                  for s in acd_routes(_NoAcd(), world.crm)})  # type: ignore[arg-type]
    checked = 0
    for endpoints, who in _readme_rows():
        expected = _roles(who)
        if expected is None:
            continue
        for method, path in endpoints:
            template = re.sub(r"\{[^}]*\}", "{}", path)
            found = [roles for (m, p), roles in specs.items()
                     if m == method and re.sub(r"\{[^}]*\}", "{}", p) == template]
            if not found:
                continue  # another package's route (calls): not built in this app
            assert found[0] == expected, (method, path, who)
            checked += 1
    assert checked >= 10
    assert specs[("POST", "/api/values/recompute")] == {"admin"}


class _NoAcd:
    """Just enough of an AcdService for acd_routes to declare its routes."""

    class settings:  # noqa: N801
        class acd:  # noqa: N801
            queues: tuple[object, ...] = ()
