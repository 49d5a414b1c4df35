"""The CRM routes against a real temporary SQLite CRM."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from agent_desktop.app import AUTH_KEY, create_app
from common.bus import Bus
from common.clock import ManualClock
from config.acd import AcdSettings
from crm_core.service import Crm
from tests.agent_desktop.conftest import PASSWORD_HASH, bearer, make_client, make_settings
from tests.agent_desktop.test_http_auth import assert_error
from tests.agent_desktop.test_openapi import check_document


@dataclasses.dataclass
class World:
    client: TestClient
    crm: Crm
    ids: dict[str, int]
    headers: dict[str, dict[str, str]]

    async def get(self, who: str, path: str, **kw: Any) -> Any:
        return await self.client.get(path, headers=self.headers[who], **kw)

    async def post(self, who: str, path: str, body: object) -> Any:
        return await self.client.post(path, headers=self.headers[who], json=body)

    async def patch(self, who: str, path: str, body: object) -> Any:
        return await self.client.patch(path, headers=self.headers[who], json=body)

    async def put(self, who: str, path: str, body: object) -> Any:
        return await self.client.put(path, headers=self.headers[who], json=body)

    async def delete(self, who: str, path: str) -> Any:
        return await self.client.delete(path, headers=self.headers[who])


@pytest.fixture
async def world(tmp_path: Path, clock: ManualClock) -> AsyncIterator[World]:
    # "billing" is a skill no default queue routes by: known only through extra_skills.
    settings = make_settings().model_copy(
        update={"acd": AcdSettings(extra_skills=["billing"])})
    crm = await Crm.open(tmp_path / "crm.sqlite3", settings.crm, clock=clock)
    try:
        north = await crm.teams.create(name="north")
        south = await crm.teams.create(name="south")
        ids = {"north": north.id, "south": south.id}
        for name, role, team in (("alice", "agent", north.id), ("bob", "agent", south.id),
                                 ("sam", "supervisor", north.id), ("root", "admin", None)):
            u = await crm.users.create(username=name, password_hash=PASSWORD_HASH, role=role,
                                       team_id=team)
            ids[name] = u.id
        app = create_app(settings, crm, Bus(), clock=clock)
        headers = {}
        for name in ("alice", "bob", "sam", "root"):
            pair = await app[AUTH_KEY].issue_for(await crm.users.get(ids[name]))
            headers[name] = bearer(pair.access_token)
        headers["anon"] = {}
        client = await make_client(app)
        try:
            yield World(client, crm, ids, headers)
        finally:
            await client.close()
    finally:
        await crm.close()


async def new_customer(w: World, name: str, who: str = "alice", **extra: object) -> dict[str, Any]:
    resp = await w.post(who, "/api/customers", {"kind": "person", "name": name, **extra})
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def test_login_against_the_crm_user_table(world: World) -> None:
    resp = await world.client.post("/api/auth/login",
                                   json={"username": "sam", "password": "correct horse battery"})
    assert resp.status == 200
    me = await world.client.get("/api/me", headers=bearer((await resp.json())["access_token"]))
    assert (await me.json())["team_id"] == world.ids["north"]


async def test_unauthenticated_crm_routes_are_401(world: World) -> None:
    for path in ("/api/customers", "/api/customers/1", "/api/lookup?phone=5555550123",
                 "/api/users", "/api/forecast"):
        await assert_error(await world.get("anon", path), 401, "unauthorized")
    await assert_error(await world.post("anon", "/api/customers", {"kind": "person",
                                                                   "name": "x"}),
                       401, "unauthorized")
    resp = await world.client.get("/api/customers", headers={"Authorization": "Bearer x.y.z"})
    await assert_error(resp, 401, "unauthorized")


async def test_customer_crud_round_trip(world: World) -> None:
    created = await new_customer(world, "Ada Lovelace", notes="first")
    cid = created["id"]
    assert created["name"] == "Ada Lovelace" and created["stage"] == "prospect"
    got = await (await world.get("alice", f"/api/customers/{cid}")).json()
    assert got == created
    resp = await world.patch("alice", f"/api/customers/{cid}", {"stage": "customer",
                                                                "notes": "second"})
    assert resp.status == 200
    assert (await world.crm.customers.get(cid)).notes == "second"  # the row in the DB
    # Agents may not delete customers; supervisors may.
    await assert_error(await world.delete("alice", f"/api/customers/{cid}"), 403, "forbidden")
    assert (await world.crm.customers.get(cid)).name == "Ada Lovelace"
    resp = await world.delete("sam", f"/api/customers/{cid}")
    assert resp.status == 204
    await assert_error(await world.get("alice", f"/api/customers/{cid}"), 404, "not_found")


async def test_validation_and_missing_rows(world: World) -> None:
    resp = await world.post("alice", "/api/customers", {"kind": "alien", "name": "x"})
    body = await assert_error(resp, 422, "validation_failed")
    assert body["details"]["fields"][0]["loc"] == ["kind"]
    resp = await world.post("alice", "/api/customers", {"kind": "person", "name": "x",
                                                        "value_score": 99.0})
    await assert_error(resp, 422, "validation_failed")  # server-owned field
    resp = await world.patch("alice", "/api/customers/1", {})
    await assert_error(resp, 422, "validation_failed")
    await assert_error(await world.get("alice", "/api/customers/424242"), 404, "not_found")
    await assert_error(await world.get("alice", "/api/customers/99999999999999999999999"),
                       404, "not_found")
    await assert_error(await world.get("alice", "/api/customers/abc"), 404, "not_found")
    resp = await world.post("alice", "/api/phones", {"customer_id": 424242, "e164": "x"})
    assert resp.status in (404, 409, 422)
    await assert_error(resp, resp.status, {404: "not_found", 409: "conflict",
                                           422: "validation_failed"}[resp.status])


async def test_pagination(world: World) -> None:
    for i in range(7):
        await new_customer(world, f"Page Person {i}")
    resp = await world.get("alice", "/api/customers?q=Page+Person&limit=3&offset=3&order_by=name")
    body = await resp.json()
    assert (body["total"], body["limit"], body["offset"]) == (7, 3, 3)
    assert [c["name"] for c in body["items"]] == [f"Page Person {i}" for i in (3, 4, 5)]
    last = await (await world.get("alice", "/api/customers?q=Page+Person&offset=6")).json()
    assert len(last["items"]) == 1 and last["limit"] == 50
    for bad in ("limit=0", "limit=201", "offset=-1", "limit=abc", "desc=maybe"):
        await assert_error(await world.get("alice", f"/api/customers?{bad}"),
                           422, "validation_failed")
    await assert_error(await world.get("alice", "/api/customers?order_by=name;DROP"),
                       422, "validation_failed")


NASTY = [
    "Robert'); DROP TABLE customers;--",
    "x' OR '1'='1",
    '50% off "deals"',
    "under_score",
    "back\\slash",
]


async def test_sql_metacharacters_are_data(world: World) -> None:
    for name in NASTY:
        await new_customer(world, name)
    await new_customer(world, "Plain Name")
    for name in NASTY:
        body = await (await world.get("alice", "/api/customers", params={"q": name})).json()
        assert [c["name"] for c in body["items"]] == [name], name
    for term, expected in (("%", ['50% off "deals"']), ("_", ["under_score"]),
                           ("' OR '1'='1", ["x' OR '1'='1"]), ("'--", []), ("\\", ["back\\slash"])):
        body = await (await world.get("alice", "/api/customers", params={"q": term})).json()
        assert sorted(c["name"] for c in body["items"]) == expected, term
    # Filters are bound too: an injection attempt is just a value that matches nothing (or 422).
    resp = await world.get("alice", "/api/customers", params={"stage": "lead' OR 1=1 --"})
    await assert_error(resp, 422, "validation_failed")
    resp = await world.get("alice", "/api/customers", params={"company_id": "1 OR 1=1"})
    await assert_error(resp, 422, "validation_failed")
    page = await world.crm.customers.search(limit=100)
    assert page.total == len(NASTY) + 1  # the table is intact


async def test_tickets_agents_change_only_their_own(world: World) -> None:
    c = await new_customer(world, "Ticket Holder")
    resp = await world.post("alice", "/api/tickets", {"customer_id": c["id"], "subject": "Broken"})
    assert resp.status == 201
    mine = await resp.json()
    assert mine["owner_user_id"] == world.ids["alice"]  # defaults to the creator
    resp = await world.post("alice", "/api/tickets", {"customer_id": c["id"], "subject": "x",
                                                      "owner_user_id": world.ids["bob"]})
    await assert_error(resp, 403, "forbidden")
    resp = await world.post("sam", "/api/tickets", {"customer_id": c["id"], "subject": "Bob's",
                                                    "owner_user_id": world.ids["bob"]})
    bobs = await resp.json()
    resp = await world.patch("alice", f"/api/tickets/{mine['id']}", {"status": "pending"})
    assert resp.status == 200 and (await resp.json())["status"] == "pending"
    resp = await world.patch("alice", f"/api/tickets/{bobs['id']}", {"status": "closed"})
    await assert_error(resp, 403, "forbidden")
    assert (await world.crm.tickets.get(bobs["id"])).status == "open"
    resp = await world.patch("sam", f"/api/tickets/{bobs['id']}", {"status": "resolved"})
    assert resp.status == 200
    history = await (await world.get("alice", f"/api/tickets/{mine['id']}/history")).json()
    assert any(h["field"] == "status" and h["new_value"] == "pending"
               and h["user_id"] == world.ids["alice"] for h in history)
    await assert_error(await world.delete("alice", f"/api/tickets/{mine['id']}"), 403,
                       "forbidden")


async def test_interactions_are_recorded_as_the_agent(world: World) -> None:
    c = await new_customer(world, "Caller")
    resp = await world.post("alice", "/api/interactions", {"customer_id": c["id"], "kind": "note",
                                                           "notes": "called back"})
    assert resp.status == 201
    row = await resp.json()
    assert row["agent_user_id"] == world.ids["alice"]
    resp = await world.post("alice", "/api/interactions", {"customer_id": c["id"], "kind": "note",
                                                           "agent_user_id": world.ids["bob"]})
    await assert_error(resp, 403, "forbidden")
    listed = await (await world.get("bob", f"/api/interactions?customer_id={c['id']}")).json()
    assert [i["notes"] for i in listed["items"]] == ["called back"]


async def test_users_team_scope_and_no_role_escalation(world: World) -> None:
    ids = world.ids
    listed = await (await world.get("alice", "/api/users")).json()
    assert sorted(u["username"] for u in listed["items"]) == ["alice", "sam"]
    assert all("password_hash" not in u for u in listed["items"])
    await assert_error(await world.get("alice", f"/api/users/{ids['bob']}"), 404, "not_found")
    assert (await world.get("root", f"/api/users/{ids['bob']}")).status == 200
    await assert_error(await world.post("alice", "/api/users", {"username": "eve",
                                                                "password": "12345678"}),
                       403, "forbidden")
    # Supervisor: agents in their own team only.
    resp = await world.post("sam", "/api/users", {"username": "carol", "password": "pass-word-1",
                                                  "team_id": ids["north"]})
    assert resp.status == 201
    carol = await resp.json()
    assert "password_hash" not in carol and "password" not in carol
    stored = await world.crm.users.get(carol["id"])
    assert stored.password_hash.startswith("$argon2id$")
    for body in ({"username": "dan", "password": "pass-word-1", "team_id": ids["south"]},
                 {"username": "dan", "password": "pass-word-1", "team_id": ids["north"],
                  "role": "admin"},
                 {"username": "dan", "password": "pass-word-1"}):
        await assert_error(await world.post("sam", "/api/users", body), 403, "forbidden")
    await assert_error(await world.patch("sam", f"/api/users/{ids['alice']}", {"role": "admin"}),
                       403, "forbidden")
    await assert_error(await world.patch("sam", f"/api/users/{ids['bob']}", {"active": False}),
                       403, "forbidden")
    await assert_error(await world.patch("sam", f"/api/users/{ids['alice']}",
                                         {"team_id": ids["south"]}), 403, "forbidden")
    assert (await world.crm.users.get(ids["alice"])).team_id == ids["north"]
    resp = await world.patch("sam", f"/api/users/{ids['alice']}", {"display_name": "Alice A."})
    assert resp.status == 200
    # The new user can log in with the password the supervisor set.
    resp = await world.client.post("/api/auth/login",
                                   json={"username": "carol", "password": "pass-word-1"})
    assert resp.status == 200
    # Deactivation takes effect on the next request.
    assert (await world.patch("sam", f"/api/users/{ids['alice']}", {"active": False})).status \
        == 200
    await assert_error(await world.get("alice", "/api/me"), 401, "unauthorized")
    # Username clash is a 409, not a 500.
    resp = await world.post("root", "/api/users", {"username": "bob", "password": "pass-word-1"})
    await assert_error(resp, 409, "conflict")


async def test_skills_managed_by_the_team_supervisor(world: World) -> None:
    ids = world.ids
    resp = await world.put("sam", f"/api/users/{ids['alice']}/skills",
                           {"skills": {"billing": 3, "sales": 1}})
    assert resp.status == 200
    skills = await (await world.get("alice", f"/api/users/{ids['alice']}/skills")).json()
    assert sorted((s["skill"], s["level"]) for s in skills) == [("billing", 3), ("sales", 1)]
    await assert_error(await world.put("sam", f"/api/users/{ids['bob']}/skills",
                                       {"skills": {"billing": 3}}), 403, "forbidden")
    await assert_error(await world.put("alice", f"/api/users/{ids['alice']}/skills",
                                       {"skills": {"billing": 5}}), 403, "forbidden")
    await assert_error(await world.put("sam", f"/api/users/{ids['alice']}/skills",
                                       {"skills": {"billing": 9}}), 422, "validation_failed")
    assert (await world.put("root", f"/api/users/{ids['bob']}/skills",
                            {"skills": {"support": 2}})).status == 200
    await assert_error(await world.get("alice", "/api/skills"), 400, "bad_request")
    page = await (await world.get("root", "/api/skills?skill=support")).json()
    assert [s["user_id"] for s in page["items"]] == [ids["bob"]]


async def test_lookup_and_screen_pop_view(world: World) -> None:
    c = await new_customer(world, "Pop Star")
    resp = await world.post("alice", "/api/phones", {"customer_id": c["id"],
                                                     "e164": "(415) 555-0133"})
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["e164"] == "+14155550133"
    view = await (await world.get("bob", "/api/lookup", params={"phone": "+1 415 555 0133"})).json()
    assert view["customer"]["id"] == c["id"]
    assert view["matched_phone"]["e164"] == "+14155550133"
    await assert_error(await world.get("bob", "/api/lookup", params={"phone": "+14155550199"}),
                       404, "not_found")
    await assert_error(await world.get("bob", "/api/lookup", params={"phone": "not a number"}),
                       422, "validation_failed")
    await assert_error(await world.get("bob", "/api/lookup"), 400, "bad_request")
    view = await (await world.get("bob", f"/api/customers/{c['id']}/view")).json()
    assert view["customer"]["name"] == "Pop Star" and len(view["phones"]) == 1


async def test_forecast_is_for_supervisors(world: World) -> None:
    c = await new_customer(world, "Buyer")
    resp = await world.post("alice", "/api/opportunities", {
        "customer_id": c["id"], "name": "Big deal", "amount_cents": 100_000,
        "probability": 0.5, "expected_close": 1_700_000_000.0 + 30 * 86400})
    assert resp.status == 201, await resp.text()
    await assert_error(await world.get("alice", "/api/forecast"), 403, "forbidden")
    months = await (await world.get("sam", "/api/forecast")).json()
    assert sum(m["weighted_cents"] for m in months) == 50_000


async def test_orders_with_lines(world: World) -> None:
    c = await new_customer(world, "Shopper")
    await assert_error(await world.post("alice", "/api/products", {
        "sku": "W-1", "name": "Widget", "department": "hardware", "price_cents": 250}),
        403, "forbidden")
    resp = await world.post("root", "/api/products", {"sku": "W-1", "name": "Widget",
                                                      "department": "hardware",
                                                      "price_cents": 250})
    product = await resp.json()
    resp = await world.post("alice", "/api/orders", {"customer_id": c["id"],
                                                     "department": "hardware",
                                                     "lines": [{"product_id": product["id"],
                                                                "quantity": 4}]})
    assert resp.status == 201, await resp.text()
    order = await resp.json()
    assert order["total_cents"] == 1000
    lines = await (await world.get("alice", f"/api/orders/{order['id']}/lines")).json()
    assert [(ln["product_id"], ln["quantity"]) for ln in lines] == [(product["id"], 4)]


async def test_dnc_agents_add_only_admins_remove(world: World) -> None:
    resp = await world.post("alice", "/api/dnc", {"phone": "415-555-0177", "reason": "asked"})
    assert resp.status == 201, await resp.text()
    entry = await resp.json()
    assert await world.crm.dnc.contains("+14155550177")
    await assert_error(await world.delete("alice", f"/api/dnc/{entry['id']}"), 403, "forbidden")
    await assert_error(await world.delete("sam", f"/api/dnc/{entry['id']}"), 403, "forbidden")
    assert (await world.delete("root", f"/api/dnc/{entry['id']}")).status == 204
    assert not await world.crm.dnc.contains("+14155550177")
    resp = await world.patch("root", f"/api/dnc/{entry['id']}", {"reason": "x"})
    await assert_error(resp, 405, "method_not_allowed")


async def test_callbacks_and_campaigns(world: World) -> None:
    c = await new_customer(world, "Call Me")
    resp = await world.post("alice", "/api/callbacks", {"customer_id": c["id"],
                                                        "phone": "+14155550100",
                                                        "due_at": 1_700_000_600.0})
    assert resp.status == 201, await resp.text()
    cb = await resp.json()
    assert cb["assigned_user_id"] == world.ids["alice"]
    await assert_error(await world.patch("bob", f"/api/callbacks/{cb['id']}", {"status": "done"}),
                       403, "forbidden")
    assert (await world.patch("alice", f"/api/callbacks/{cb['id']}",
                              {"status": "done"})).status == 200
    await assert_error(await world.post("alice", "/api/campaigns", {"name": "Spring"}),
                       403, "forbidden")
    resp = await world.post("sam", "/api/campaigns", {"name": "Spring"})
    assert resp.status == 201
    listed = await (await world.get("alice", "/api/campaigns")).json()
    assert [x["name"] for x in listed["items"]] == ["Spring"]


async def test_openapi_document_with_the_crm(world: World) -> None:
    doc = await check_document(world.client)
    paths = doc["paths"]
    for name in ("customers", "contacts", "phones", "tickets", "products", "orders",
                 "opportunities", "campaigns", "leads", "dnc", "callbacks", "interactions",
                 "users", "teams", "skills"):
        assert f"/api/{name}" in paths, name  # type: ignore[operator]
    assert "/api/customers/{id}/view" in paths  # type: ignore[operator]
    user_schema = doc["components"]["schemas"]["User"]  # type: ignore[index]
    assert "password_hash" not in user_schema["properties"]
    delete = paths["/api/customers/{id}"]["delete"]  # type: ignore[index]
    assert delete["x-roles"] == ["admin", "supervisor"]


async def test_password_change_ends_sessions_and_refresh_rereads_role(world: World) -> None:
    ids = world.ids
    resp = await world.client.post("/api/auth/login",
                                   json={"username": "alice", "password": "correct horse battery"})
    tokens = await resp.json()
    assert (await world.get("alice", "/api/me")).status == 200
    assert (await world.patch("sam", f"/api/users/{ids['alice']}",
                              {"password": "a-new-password"})).status == 200
    await assert_error(await world.get("alice", "/api/me"), 401, "unauthorized")
    resp = await world.client.post("/api/auth/refresh",
                                   json={"refresh_token": tokens["refresh_token"]})
    await assert_error(resp, 401, "unauthorized")
    # Role changes: a refresh issues tokens with the stored role, not the old claim.
    resp = await world.client.post("/api/auth/login",
                                   json={"username": "alice", "password": "a-new-password"})
    tokens = await resp.json()
    assert tokens["role"] == "agent"
    assert (await world.patch("root", f"/api/users/{ids['alice']}",
                              {"role": "supervisor"})).status == 200
    resp = await world.client.post("/api/auth/refresh",
                                   json={"refresh_token": tokens["refresh_token"]})
    assert (await resp.json())["role"] == "supervisor"


async def test_openapi_id_parameters_are_integers(world: World) -> None:
    doc = await (await world.client.get("/api/openapi.json")).json()
    params = doc["paths"]["/api/customers/{id}"]["get"]["parameters"]
    assert params == [{"name": "id", "in": "path", "required": True,
                       "schema": {"type": "integer", "minimum": 0}}]
    listing = {p["name"] for p in doc["paths"]["/api/customers"]["get"]["parameters"]}
    assert {"q", "limit", "offset", "stage", "tier"} <= listing


async def test_healthz_checks_the_crm(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    resp = await world.get("anon", "/healthz")
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "ok"
    assert body["checks"]["crm"].startswith("ok (schema ")

    async def broken() -> int:
        raise OSError("disk gone")

    monkeypatch.setattr(world.crm, "schema_version", broken)
    resp = await world.get("anon", "/healthz")
    body = await resp.json()
    assert resp.status == 503 and body["status"] == "degraded"
    assert body["checks"]["crm"] == "failed: OSError"


async def test_text_search_on_other_entities(world: World) -> None:
    c = await new_customer(world, "Searcher")
    for subject in ("Printer on fire", "Login broken"):
        await world.post("alice", "/api/tickets", {"customer_id": c["id"], "subject": subject})
    body = await (await world.get("alice", "/api/tickets", params={"q": "fire"})).json()
    assert [t["subject"] for t in body["items"]] == ["Printer on fire"] and body["total"] == 1


async def test_every_route_is_guarded_by_known_roles(world: World) -> None:
    from agent_desktop.app import ROUTES_KEY
    from agent_desktop.policy import ROLES

    public = set()
    for spec in world.client.app[ROUTES_KEY]:
        assert spec.roles <= set(ROLES), spec.path
        if spec.public:
            public.add((spec.method, spec.path))
    assert public == {("GET", "/healthz"), ("GET", "/metrics"), ("GET", "/api/openapi.json"),
                      ("POST", "/api/auth/login"), ("POST", "/api/auth/refresh"),
                      ("GET", "/vendor/{name}"), ("GET", "/static/{name}"), ("GET", "/"),
                      ("GET", "/desktop"), ("GET", "/wallboard")}


async def test_unknown_query_parameters_are_422_and_named(world: World) -> None:
    await new_customer(world, "Query Person", stage="lead")
    for path, bad in (("/api/customers", "bogus"), ("/api/customers", "limt"),
                      ("/api/tickets", "owner"),
                      ("/api/users", "password_hash"), ("/api/skills", "usr_id"),
                      ("/api/lookup?phone=5550100", "extra"), ("/api/forecast", "sinse")):
        sep = "&" if "?" in path else "?"
        resp = await world.get("root", f"{path}{sep}{bad}=1")
        body = await assert_error(resp, 422, "validation_failed")
        assert repr(bad) in str(body["message"]), path
        assert body["details"]["fields"] == [  # type: ignore[index]
            {"loc": ["query", bad], "msg": "unknown query parameter", "type": "extra_forbidden"}]
    resp = await world.get("alice", "/api/customers?zeta=1&alpha=2&limit=5")
    body = await assert_error(resp, 422, "validation_failed")
    fields = body["details"]["fields"]  # type: ignore[index]
    assert [f["loc"][1] for f in fields] == ["alpha", "zeta"]
    assert "limit" in body["details"]["allowed"]  # type: ignore[index]
    # Unauthenticated callers learn nothing about the parameters: 401 comes first.
    await assert_error(await world.get("anon", "/api/customers?bogus=1"), 401, "unauthorized")
    # Every documented parameter still works.
    resp = await world.get("alice", "/api/customers?q=Query&stage=lead&kind=person&limit=5"
                                    "&offset=0&order_by=name&desc=true")
    page = await resp.json()
    assert resp.status == 200 and [c["name"] for c in page["items"]] == ["Query Person"]
    resp = await world.get("sam", f"/api/users?q=alice&role=agent&team_id={world.ids['north']}"
                                  "&active=true&limit=5")
    assert resp.status == 200 and (await resp.json())["total"] == 1
    resp = await world.get("root", "/api/skills?user_id=1&skill=x&level=1&limit=5&desc=false")
    assert resp.status == 200


async def test_the_agent_a_call_was_transferred_to_may_record_its_outcome(world: World) -> None:
    from crm_core.segments import CallSegment

    c = await new_customer(world, "Caller")
    # The interaction names bob, who was offered the call; he transferred it to alice.
    row = await world.crm.interactions.create(customer_id=c["id"], kind="call",
                                              agent_user_id=world.ids["bob"], call_id="1700.1")
    other = await world.crm.interactions.create(customer_id=c["id"], kind="call",
                                                agent_user_id=world.ids["bob"], call_id="1700.2")
    await assert_error(await world.patch("alice", f"/api/interactions/{row.id}",
                                         {"disposition": "resolved"}), 403, "forbidden")
    await world.crm.log_call_segments("1700.1", [
        CallSegment("1700.1", 0, world.ids["bob"], "bob", "PJSIP/1002", 1.0, 5.0, 4.0,
                    "transfer", "blind", "1001"),
        CallSegment("1700.1", 1, world.ids["alice"], "alice", "PJSIP/1001", 5.0, 9.0, 4.0)])
    resp = await world.patch("alice", f"/api/interactions/{row.id}", {"disposition": "resolved"})
    assert resp.status == 200, await resp.text()
    assert (await world.crm.interactions.get(row.id)).disposition == "resolved"
    # Only the calls she talked on.
    await assert_error(await world.patch("alice", f"/api/interactions/{other.id}",
                                         {"disposition": "resolved"}), 403, "forbidden")
    assert (await world.crm.interactions.get(other.id)).disposition is None
