"""The app's auth, error and system behaviour over real HTTP (no CRM: a fake user store)."""

from __future__ import annotations

import base64
import json

import jwt
from aiohttp.test_utils import TestClient

from agent_desktop.tokens import ISSUER, TokenService
from common.clock import ManualClock
from tests.agent_desktop.conftest import PASSWORD, PASSWORD_HASH, SECRET, T0, bearer, login

VER = TokenService(SECRET, 900, 3600).fingerprint(PASSWORD_HASH)


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forged(secret: str = SECRET, **over: object) -> str:
    c: dict[str, object] = {"sub": "1", "role": "agent", "typ": "access", "iat": int(T0),
                            "exp": int(T0) + 900, "iss": ISSUER, "ver": VER, "jti": "j1",
                            "fam": "no-such-session"}
    c.update(over)
    return jwt.encode({k: v for k, v in c.items() if v is not None}, secret, algorithm="HS256")


async def session_of(client: TestClient, username: str) -> str:
    """Log in and return the session (token family) id, for tokens forged into it."""
    tokens = await login(client, username)
    fam: str = jwt.decode(str(tokens["access_token"]), options={"verify_signature": False})["fam"]
    return fam


async def assert_error(resp: object, status: int, error_id: str) -> dict[str, object]:
    assert resp.status == status, await resp.text()  # type: ignore[attr-defined]
    assert resp.content_type == "application/json"  # type: ignore[attr-defined]
    text = await resp.text()  # type: ignore[attr-defined]
    assert "Traceback" not in text
    body: dict[str, object] = json.loads(text)
    assert set(body) == {"error_id", "message", "details"}
    assert body["error_id"] == error_id
    return body


async def test_login_me_and_refresh(bare_client: TestClient, clock: ManualClock) -> None:
    tokens = await login(bare_client, "alice")
    assert tokens["role"] == "agent" and tokens["expires_in"] == 900
    me = await bare_client.get("/api/me", headers=bearer(tokens["access_token"]))
    assert await me.json() == {"user_id": 1, "username": "alice", "role": "agent", "team_id": 10}

    clock.advance(901)  # access token expired, refresh token still good
    expired = await bare_client.get("/api/me", headers=bearer(tokens["access_token"]))
    await assert_error(expired, 401, "unauthorized")
    resp = await bare_client.post("/api/auth/refresh",
                                  json={"refresh_token": tokens["refresh_token"]})
    assert resp.status == 200
    fresh = await resp.json()
    me = await bare_client.get("/api/me", headers=bearer(fresh["access_token"]))
    assert me.status == 200


async def test_refresh_with_an_access_token_fails(bare_client: TestClient) -> None:
    tokens = await login(bare_client, "alice")
    resp = await bare_client.post("/api/auth/refresh",
                                  json={"refresh_token": tokens["access_token"]})
    await assert_error(resp, 401, "unauthorized")


async def test_refresh_token_is_not_an_access_token(bare_client: TestClient) -> None:
    tokens = await login(bare_client, "alice")
    resp = await bare_client.get("/api/me", headers=bearer(tokens["refresh_token"]))
    await assert_error(resp, 401, "unauthorized")


async def test_unauthenticated(bare_client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Basic YWxpY2U6eA=="}, {"Authorization": "Bearer "},
                    bearer("not.a.jwt")):
        resp = await bare_client.get("/api/me", headers=headers)
        body = await assert_error(resp, 401, "unauthorized")
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert body["message"]


async def test_bad_tokens(bare_client: TestClient) -> None:
    fam = await session_of(bare_client, "alice")
    admin_claims = {"sub": "3", "role": "admin", "typ": "access", "iat": int(T0),
                    "exp": int(T0) + 900, "iss": ISSUER}
    alg_none = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(admin_claims)}."
    cases = {
        "alg none": alg_none,
        "wrong signature": forged(fam=fam) [:-4] + "AAAA",
        "no exp": forged(exp=None, fam=fam),
        "expired": forged(iat=int(T0) - 1000, exp=int(T0) - 100, fam=fam),
        "refresh as access": forged(typ="refresh", fam=fam),
        "forged admin, wrong key": forged(secret="k" * 48, sub="3", role="admin", fam=fam),
        "no password fingerprint": forged(ver=None, fam=fam),
        "stale password fingerprint": forged(ver="0" * 32, fam=fam),
        "no session": forged(fam=None),
        "a session nobody opened": forged(),
        "another user's session": forged(sub="2", fam=fam),
    }
    control = await bare_client.get("/api/me", headers=bearer(forged(fam=fam)))
    assert control.status == 200
    for name, token in cases.items():
        resp = await bare_client.get("/api/test/supervisors", headers=bearer(token))
        assert resp.status == 401, name
        resp = await bare_client.get("/api/me", headers=bearer(token))
        await assert_error(resp, 401, "unauthorized")


async def test_role_claim_is_not_trusted_over_the_stored_role(bare_client: TestClient) -> None:
    # Correctly signed but claiming admin for an agent: the stored role decides.
    token = forged(sub="1", role="admin", fam=await session_of(bare_client, "alice"))
    resp = await bare_client.get("/api/test/supervisors", headers=bearer(token))
    await assert_error(resp, 403, "forbidden")


async def test_wrong_role_is_403(bare_client: TestClient) -> None:
    agent = await login(bare_client, "alice")
    resp = await bare_client.get("/api/test/supervisors", headers=bearer(agent["access_token"]))
    body = await assert_error(resp, 403, "forbidden")
    assert body["details"] == {"allowed_roles": ["admin", "supervisor"]}
    sup = await login(bare_client, "sam")
    resp = await bare_client.get("/api/test/supervisors", headers=bearer(sup["access_token"]))
    assert await resp.json() == {"user": "sam"}


async def test_wrong_password_unknown_and_inactive_users_look_alike(
        bare_client: TestClient) -> None:
    bodies = []
    for user, pw in (("alice", "wrong"), ("nobody", PASSWORD), ("gone", PASSWORD)):
        resp = await bare_client.post("/api/auth/login", json={"username": user, "password": pw})
        bodies.append(await assert_error(resp, 401, "unauthorized"))
    assert bodies[0] == bodies[1] == bodies[2]


async def test_deactivated_user_loses_access_at_once(bare_client: TestClient, users: object
                                                     ) -> None:
    import dataclasses

    tokens = await login(bare_client, "alice")
    rows = users.rows  # type: ignore[attr-defined]
    rows[1] = dataclasses.replace(rows[1], active=False)
    resp = await bare_client.get("/api/me", headers=bearer(tokens["access_token"]))
    await assert_error(resp, 401, "unauthorized")


async def test_login_rate_limited_per_username(bare_client: TestClient, clock: ManualClock
                                               ) -> None:
    for _ in range(3):  # login_max_attempts = 3 in the test settings
        resp = await bare_client.post("/api/auth/login",
                                      json={"username": "alice", "password": "nope"})
        assert resp.status == 401
    # Now even the right password is refused until the window passes.
    resp = await bare_client.post("/api/auth/login",
                                  json={"username": "alice", "password": PASSWORD})
    body = await assert_error(resp, 429, "too_many_requests")
    assert resp.headers["Retry-After"] == "60"
    assert body["details"] == {"retry_after_s": 60}
    clock.advance(60)
    await login(bare_client, "alice")


async def test_one_users_typos_do_not_lock_out_the_same_address(bare_client: TestClient,
                                                                clock: ManualClock) -> None:
    # Per user 3, per address 5 (test settings): agents behind one NAT share the address.
    for _ in range(3):
        resp = await bare_client.post("/api/auth/login",
                                      json={"username": "alice", "password": "nope"})
        assert resp.status == 401
    resp = await bare_client.post("/api/auth/login",
                                  json={"username": "alice", "password": PASSWORD})
    await assert_error(resp, 429, "too_many_requests")
    await login(bare_client, "sam")  # same address, other user: still allowed


async def test_login_rate_limited_per_client_address(bare_client: TestClient,
                                                     clock: ManualClock) -> None:
    for name in ("u1", "u2", "u3", "u4", "u5"):  # different usernames, same address
        resp = await bare_client.post("/api/auth/login",
                                      json={"username": name, "password": "nope"})
        assert resp.status == 401
    resp = await bare_client.post("/api/auth/login",
                                  json={"username": "sam", "password": PASSWORD})
    body = await assert_error(resp, 429, "too_many_requests")
    assert body["details"] == {"retry_after_s": 60}
    clock.advance(60)
    await login(bare_client, "sam")


async def test_success_resets_the_username_counter(bare_client: TestClient) -> None:
    for _ in range(2):
        await bare_client.post("/api/auth/login", json={"username": "sam", "password": "x"})
    await login(bare_client, "sam")
    # Address counter is at 2 of 5; the username's is cleared, so one more failure is a 401.
    resp = await bare_client.post("/api/auth/login", json={"username": "sam", "password": "x"})
    assert resp.status == 401


async def test_login_body_validation(bare_client: TestClient) -> None:
    resp = await bare_client.post("/api/auth/login", json={"username": "alice"})
    body = await assert_error(resp, 422, "validation_failed")
    fields = body["details"]["fields"]  # type: ignore[index]
    assert fields[0]["loc"] == ["password"]
    resp = await bare_client.post("/api/auth/login", data=b"{not json",
                                  headers={"Content-Type": "application/json"})
    await assert_error(resp, 400, "bad_request")
    resp = await bare_client.post("/api/auth/login",
                                  json={"username": "a", "password": "b", "admin": True})
    await assert_error(resp, 422, "validation_failed")


async def test_validation_errors_do_not_echo_input(bare_client: TestClient) -> None:
    resp = await bare_client.post("/api/auth/login",
                                  json={"username": "alice", "password": ["hunter2-secret"]})
    text = await resp.text()
    assert resp.status == 422 and "hunter2-secret" not in text


async def test_404_405_413_are_json(bare_client: TestClient) -> None:
    await assert_error(await bare_client.get("/api/nope"), 404, "not_found")
    resp = await bare_client.delete("/api/auth/login")
    body = await assert_error(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["Allow"] and body["details"] == {"allowed": ["POST"]}
    tokens = await login(bare_client, "alice")
    resp = await bare_client.post("/api/test/echo", headers=bearer(tokens["access_token"]),
                                  json={"text": "x" * 5000, "count": 1})  # limit is 4096
    await assert_error(resp, 413, "payload_too_large")
    resp = await bare_client.post("/api/test/echo", headers=bearer(tokens["access_token"]),
                                  json={"text": "fits", "count": 1})
    assert await resp.json() == {"text": "fits", "count": 1}


async def test_unexpected_exception_is_500_without_traceback(bare_client: TestClient) -> None:
    tokens = await login(bare_client, "root")
    resp = await bare_client.get("/api/test/boom", headers=bearer(tokens["access_token"]))
    body = await assert_error(resp, 500, "internal_error")
    text = json.dumps(body)
    assert "secret internal detail" not in text and "RuntimeError" not in text
    assert len(body["details"]["incident_id"]) == 32  # type: ignore[index]


async def test_healthz_and_metrics(bare_client: TestClient) -> None:
    resp = await bare_client.get("/healthz")
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "ok"
    await bare_client.get("/api/nope")
    resp = await bare_client.get("/metrics")
    text = await resp.text()
    assert resp.status == 200 and resp.content_type == "text/plain"
    assert 'cti_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="unmatched",status="404"' in text


async def test_security_headers(bare_client: TestClient) -> None:
    resp = await bare_client.get("/api/me")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"


async def test_control_characters_in_username_are_refused(bare_client: TestClient) -> None:
    resp = await bare_client.post("/api/auth/login",
                                  json={"username": "alice\nlogin_ok user=root", "password": "x"})
    await assert_error(resp, 422, "validation_failed")
