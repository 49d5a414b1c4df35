from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from agent_desktop.app import create_app
from agent_desktop.passwords import hash_password
from common.bus import Bus
from common.clock import ManualClock
from config.settings import Settings

SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery"
# Hashing is deliberately slow: hash once per test session.
PASSWORD_HASH = hash_password(PASSWORD)
T0 = 1_700_000_000.0


@dataclasses.dataclass(frozen=True)
class FakeUser:
    id: int
    username: str
    password_hash: str
    role: str
    team_id: int | None
    active: bool = True


class FakeUsers:
    def __init__(self, users: list[FakeUser]) -> None:
        self.rows = {u.id: u for u in users}

    async def user_by_id(self, user_id: int) -> FakeUser | None:
        return self.rows.get(user_id)

    async def user_by_username(self, username: str) -> FakeUser | None:
        return next((u for u in self.rows.values() if u.username == username), None)


def make_settings(**auth: object) -> Settings:
    base = {"jwt_secret": SECRET, "login_max_attempts": 3,
            "login_max_attempts_per_address": 5, "login_window_s": 60.0}
    base.update(auth)
    return Settings.model_validate({"auth": base})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def users() -> FakeUsers:
    return FakeUsers([
        FakeUser(1, "alice", PASSWORD_HASH, "agent", 10),
        FakeUser(2, "sam", PASSWORD_HASH, "supervisor", 10),
        FakeUser(3, "root", PASSWORD_HASH, "admin", None),
        FakeUser(4, "gone", PASSWORD_HASH, "agent", 10, active=False),
    ])


async def make_client(app: web.Application) -> TestClient:
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def bare_client(clock: ManualClock, users: FakeUsers) -> AsyncIterator[TestClient]:
    """The app without a CRM: auth, system routes and a few test-only routes."""
    from tests.agent_desktop.extra_routes import sample_routes

    app = create_app(make_settings(), None, Bus(), clock=clock, users=users,
                     extra_routes=sample_routes(), max_body_bytes=4096)
    client = await make_client(app)
    yield client
    await client.close()


async def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, object]:
    resp = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert resp.status == 200, await resp.text()
    body: dict[str, object] = await resp.json()
    return body


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
