"""Hostile input (deeply nested JSON, huge tokens), upstream error statuses and /healthz checks."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable, Mapping

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from agent_desktop.app import create_app
from agent_desktop.errors import BadRequest
from agent_desktop.jsonio import MAX_JSON_DEPTH, parse_json
from agent_desktop.system_routes import system_routes
from common.bus import Bus
from common.clock import ManualClock
from tests.agent_desktop.conftest import FakeUsers, bearer, login, make_client, make_settings
from tests.agent_desktop.extra_routes import sample_routes
from tests.agent_desktop.test_http_auth import assert_error

StatusCheck = Callable[[], tuple[bool, str]]


async def client_for(clock: ManualClock, users: FakeUsers,
                     health_checks: Mapping[str, StatusCheck] | None = None) -> TestClient:
    # Default body limit (1 MiB): the nested bodies below must reach the JSON decoder.
    app = create_app(make_settings(), None, Bus(), clock=clock, users=users,
                     extra_routes=sample_routes(), health_checks=health_checks)
    return await make_client(app)


@pytest.fixture
async def client(clock: ManualClock, users: FakeUsers) -> AsyncIterator[TestClient]:
    c = await client_for(clock, users)
    yield c
    await c.close()


# ---- deeply nested JSON ------------------------------------------------------------------------

@pytest.mark.parametrize("body", ["[" * 100_000, '{"a":' * 50_000, "[" * 5000 + "]" * 5000])
async def test_deeply_nested_json_before_auth_is_400(client: TestClient, body: str) -> None:
    resp = await client.post("/api/auth/login", data=body.encode(),
                             headers={"Content-Type": "application/json"})
    err = await assert_error(resp, 400, "bad_request")
    assert "nested too deeply" in str(err["message"])


async def test_deeply_nested_json_on_an_authenticated_route_is_400(client: TestClient) -> None:
    tokens = await login(client, "alice")
    resp = await client.post("/api/test/echo", data=b"[" * 100_000,
                             headers={**bearer(tokens["access_token"]),
                                      "Content-Type": "application/json"})
    await assert_error(resp, 400, "bad_request")
    # Just past the cap is refused too; at the cap the body reaches validation (422, wrong type).
    too_deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    at_cap = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    for body, status, error_id in ((too_deep, 400, "bad_request"),
                                   (at_cap, 422, "validation_failed")):
        resp = await client.post("/api/test/echo", data=body.encode(),
                                 headers={**bearer(tokens["access_token"]),
                                          "Content-Type": "application/json"})
        await assert_error(resp, status, error_id)


async def test_token_with_a_deeply_nested_header_is_401(client: TestClient) -> None:
    header = base64.urlsafe_b64encode(b"[" * 5000).rstrip(b"=").decode()
    resp = await client.get("/api/me", headers=bearer(f"{header}.e30.c2ln"))
    await assert_error(resp, 401, "unauthorized")
    resp = await client.post("/api/auth/refresh", json={"refresh_token": f"{header[:4000]}.e30.x"})
    await assert_error(resp, 401, "unauthorized")


def _depth(v: object) -> int:
    if isinstance(v, dict):
        return 1 + max((_depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((_depth(x) for x in v), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=3),
    max_leaves=40,
)


def _nest(v: object, levels: int) -> object:
    for i in range(levels):
        v = [v] if i % 2 else {"k": v}
    return v


@given(json_values, st.integers(min_value=0, max_value=2 * MAX_JSON_DEPTH))
def test_parse_json_accepts_exactly_the_documents_within_the_cap(value: object,
                                                                 extra: int) -> None:
    doc = _nest(value, extra)
    text = json.dumps(doc)
    if _depth(doc) <= MAX_JSON_DEPTH:
        assert parse_json(text) == doc
        assert parse_json(text.encode()) == doc
    else:
        with pytest.raises(BadRequest, match="nested too deeply"):
            parse_json(text)


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"[1,]", b"NaNa"])
def test_parse_json_refuses_non_json(raw: bytes) -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        parse_json(raw)


# ---- upstream errors ------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "status", "error_id"), [
    ("bad-gateway", 502, "bad_gateway"),
    ("unavailable", 503, "service_unavailable"),
    ("timeout", 504, "gateway_timeout"),
])
async def test_upstream_errors_render_as_json(client: TestClient, kind: str, status: int,
                                              error_id: str) -> None:
    body = await assert_error(await client.get(f"/api/test/upstream/{kind}"), status, error_id)
    assert body["message"] == "the PBX did not cooperate"
    assert body["details"] == {"upstream": "ami"}


# ---- /healthz with checks supplied by the server ---------------------------------------------

async def test_healthz_reports_extra_checks(clock: ManualClock, users: FakeUsers) -> None:
    state = {"ami": True}

    def ami() -> tuple[bool, str]:
        return (True, "connected") if state["ami"] else (False, "disconnected for 12 s")

    def broken() -> tuple[bool, str]:
        raise RuntimeError("bug in the check")

    c = await client_for(clock, users, {"ami": ami, "fastagi": lambda: (True, "")})
    try:
        resp = await c.get("/healthz")
        body = await resp.json()
        assert resp.status == 200 and body["status"] == "ok"
        assert body["checks"] == {"ami": "connected", "fastagi": "ok"}
        state["ami"] = False
        resp = await c.get("/healthz")
        body = await resp.json()
        assert resp.status == 503 and body["status"] == "degraded"
        assert body["checks"] == {"ami": "failed: disconnected for 12 s", "fastagi": "ok"}
    finally:
        await c.close()
    c = await client_for(clock, users, {"ami": ami, "broken": broken})
    try:
        state["ami"] = True
        resp = await c.get("/healthz")
        body = await resp.json()
        assert resp.status == 503 and body["status"] == "degraded"
        assert body["checks"] == {"ami": "connected", "broken": "failed: RuntimeError"}
    finally:
        await c.close()


async def test_healthz_without_checks_is_ok(client: TestClient) -> None:
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "ok" and body["checks"] == {}


def test_health_check_names_must_be_unique() -> None:
    async def probe() -> str:
        return "ok"

    with pytest.raises(ValueError, match="crm"):
        system_routes(CollectorRegistry(), dict, lambda: 0, {"crm": probe},
                      {"crm": lambda: (True, "")})
