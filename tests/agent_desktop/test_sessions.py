"""Sessions over HTTP: refresh tokens rotate, a reused one ends the session, logout ends it.

Every test runs twice: on the server's store (the CRM database) and on the in-memory store an
app without a CRM uses; both must apply the same rules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient

from agent_desktop.app import AUTH_KEY, create_app
from agent_desktop.tokens import ISSUER
from common.bus import Bus
from common.clock import ManualClock
from crm_core.service import Crm
from tests.agent_desktop.conftest import (
    PASSWORD_HASH,
    SECRET,
    FakeUsers,
    bearer,
    login,
    make_client,
    make_settings,
)
from tests.agent_desktop.test_http_auth import assert_error


@pytest.fixture(params=["crm", "memory"])
async def app_client(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock,
                     users: FakeUsers) -> AsyncIterator[tuple[TestClient, Crm | None]]:
    settings = make_settings()
    if request.param == "memory":
        client = await make_client(create_app(settings, None, Bus(), clock=clock, users=users))
        yield client, None
        await client.close()
        return
    crm = await Crm.open(tmp_path / "crm.sqlite3", settings.crm, clock=clock)
    for name, role in (("alice", "agent"), ("sam", "supervisor")):
        await crm.users.create(username=name, password_hash=PASSWORD_HASH, role=role)
    client = await make_client(create_app(settings, crm, Bus(), clock=clock))
    yield client, crm
    await client.close()
    await crm.close()


async def start(client: TestClient, username: str) -> dict[str, Any]:
    """A login without argon2 (slow by design): the same session start as POST /login."""
    auth = client.app[AUTH_KEY]
    user = await auth.users.user_by_username(username)
    pair = await auth.issue_for(user)
    return {"access_token": pair.access_token, "refresh_token": pair.refresh_token}


async def refresh(client: TestClient, token: object) -> Any:
    return await client.post("/api/auth/refresh", json={"refresh_token": token})


def claims_of(token: object) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(str(token), options={"verify_signature": False})
    return decoded


async def test_refresh_rotates_and_the_new_token_works(
        app_client: tuple[TestClient, Crm | None]) -> None:
    client, _ = app_client
    first = await login(client, "alice")
    resp = await refresh(client, first["refresh_token"])
    assert resp.status == 200, await resp.text()
    second = await resp.json()
    assert second["refresh_token"] != first["refresh_token"]
    # Same session, new token.
    assert claims_of(second["refresh_token"])["fam"] == claims_of(first["refresh_token"])["fam"]
    assert claims_of(second["refresh_token"])["jti"] != claims_of(first["refresh_token"])["jti"]
    resp = await refresh(client, second["refresh_token"])
    assert resp.status == 200, await resp.text()
    assert (await client.get("/api/me", headers=bearer(second["access_token"]))).status == 200


async def test_reusing_a_spent_refresh_token_ends_the_whole_session(
        app_client: tuple[TestClient, Crm | None]) -> None:
    client, crm = app_client
    stolen = await start(client, "alice")
    legit = await (await refresh(client, stolen["refresh_token"])).json()
    other = await start(client, "alice")  # another device: its own session
    body = await assert_error(await refresh(client, stolen["refresh_token"]), 401,
                              "unauthorized")
    assert body["details"] == {"reason": "reused"}
    assert "already used" in str(body["message"])
    # The holder of the newest token is out too (it may be the thief), at once for access.
    body = await assert_error(await refresh(client, legit["refresh_token"]), 401,
                              "unauthorized")
    assert body["details"] == {"reason": "session_ended"}
    await assert_error(await client.get("/api/me", headers=bearer(legit["access_token"])), 401,
                       "unauthorized")
    # Another login of the same user is another session: untouched.
    assert (await client.get("/api/me", headers=bearer(other["access_token"]))).status == 200
    assert (await refresh(client, other["refresh_token"])).status == 200
    if crm is not None:  # the revocation is a row, with its reason
        fam = claims_of(legit["refresh_token"])["fam"]
        assert await crm.sessions.revoked_reason(fam) == "refresh token reused"


async def test_logout_ends_the_session_and_only_it(
        app_client: tuple[TestClient, Crm | None]) -> None:
    client, crm = app_client
    mine = await start(client, "alice")
    other = await start(client, "alice")
    resp = await client.post("/api/auth/logout", headers=bearer(mine["access_token"]))
    assert resp.status == 204
    await assert_error(await client.get("/api/me", headers=bearer(mine["access_token"])), 401,
                       "unauthorized")
    body = await assert_error(await refresh(client, mine["refresh_token"]), 401, "unauthorized")
    assert body["details"] == {"reason": "session_ended"}
    await assert_error(await client.post("/api/auth/logout",
                                         headers=bearer(mine["access_token"])),
                       401, "unauthorized")
    assert (await client.get("/api/me", headers=bearer(other["access_token"]))).status == 200
    await assert_error(await client.post("/api/auth/logout"), 401, "unauthorized")
    if crm is not None:
        assert await crm.sessions.revoked_reason(claims_of(mine["access_token"])["fam"]) \
            == "logout"


async def test_expired_refresh_token_is_refused(app_client: tuple[TestClient, Crm | None],
                                                clock: ManualClock) -> None:
    client, _ = app_client
    tokens = await start(client, "alice")
    clock.advance(8 * 3600)  # refresh_ttl_s
    body = await assert_error(await refresh(client, tokens["refresh_token"]), 401,
                              "unauthorized")
    assert body["details"] == {"reason": "expired"}


async def test_forged_refresh_tokens_are_refused_and_revoke_nothing(
        app_client: tuple[TestClient, Crm | None], clock: ManualClock) -> None:
    client, _ = app_client
    tokens = await start(client, "alice")
    real = claims_of(tokens["refresh_token"])
    wrong_key = jwt.encode(real, "k" * 48, algorithm="HS256")
    # Signed with the real key, in the real session, but a token the server never issued.
    unknown_jti = jwt.encode({**real, "jti": "f" * 32}, SECRET, algorithm="HS256")
    no_session = jwt.encode({**real, "fam": "no-such-session"}, SECRET, algorithm="HS256")
    no_fam = jwt.encode({k: v for k, v in real.items() if k != "fam"}, SECRET,
                        algorithm="HS256")
    for token in (wrong_key, unknown_jti, no_session, no_fam,
                  tokens["access_token"], "x.y.z", f"{tokens['refresh_token']}x"):
        await assert_error(await refresh(client, token), 401, "unauthorized")
    assert claims_of(unknown_jti)["iss"] == ISSUER
    # None of that ended the real session.
    assert (await client.get("/api/me", headers=bearer(tokens["access_token"]))).status == 200
    assert (await refresh(client, tokens["refresh_token"])).status == 200


async def test_sessions_survive_a_restart_of_the_api(tmp_path: Path, clock: ManualClock) -> None:
    """Kept in the CRM database: a revocation holds for a new app (process) on the same file."""
    settings = make_settings()
    crm = await Crm.open(tmp_path / "crm.sqlite3", settings.crm, clock=clock)
    await crm.users.create(username="alice", password_hash=PASSWORD_HASH, role="agent")
    try:
        first = await make_client(create_app(settings, crm, Bus(), clock=clock))
        tokens = await start(first, "alice")
        assert (await refresh(first, tokens["refresh_token"])).status == 200
        await first.close()
        second = await make_client(create_app(settings, crm, Bus(), clock=clock))
        body = await assert_error(await refresh(second, tokens["refresh_token"]), 401,
                                  "unauthorized")
        assert body["details"] == {"reason": "reused"}
        await second.close()
    finally:
        await crm.close()
