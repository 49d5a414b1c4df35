"""Menu pictures (DOT, SVG), `python -m ivr graph`, and the admin API (menus, graph, reload)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from agent_desktop.app import create_app
from common.bus import Bus
from common.clock import ManualClock
from config.settings import Settings
from ivr.__main__ import main as ivr_main
from ivr.graph import q, to_dot
from ivr.loader import Context, build_menu
from ivr.registry import MenuRegistry
from ivr.routes import ivr_routes
from ivr.service import IvrService
from tests.agent_desktop.conftest import (
    PASSWORD_HASH,
    SECRET,
    FakeUser,
    FakeUsers,
    bearer,
    login,
    make_client,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "ivr" / "main.toml"
CTX = Context(queues=frozenset({"support", "sales"}), skills=frozenset({"support", "sales"}))
GOOD = '[menu]\nname = "main"\nstart = "q"\n[nodes.q]\ntype = "route"\nqueue = "support"\n'


def test_dot_has_every_node_and_labelled_edges() -> None:
    menu = build_menu({"menu": {"name": "t", "start": "a"}, "nodes": {
        "a": {"type": "menu", "prompts": ["m"], "options": {"1": "q", "2": "bye"}},
        "q": {"type": "route", "queue": "sales"}, "bye": {"type": "hangup"}}}, CTX)
    dot = to_dot(menu)
    assert dot.startswith('digraph "t" {') and dot.rstrip().endswith("}")
    assert '__start -> "a";' in dot
    assert '"a" -> "q" [label="1"];' in dot
    assert '"a" -> "bye" [label="2"];' in dot
    assert '"a" -> "__fail_route__" [label="fail", style=dashed];' in dot
    assert '[route] queue sales' in dot and "fallback\\nqueue sales" in dot


def test_dot_quotes_hostile_text() -> None:
    assert q('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    menu = build_menu({"menu": {"name": "t", "start": "s"}, "nodes": {
        "s": {"type": "set", "vars": {"x": '"]; evil -> x; //'}, "next": "q"},
        "q": {"type": "route", "queue": "sales"}}}, CTX)
    dot = to_dot(menu)
    assert 'x=\\"]; evil -> x; //' in dot
    assert "\nevil" not in dot and '"]; evil' not in dot.replace('\\"]; evil', "")


def test_cli_prints_dot_and_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    assert ivr_main(["graph", str(SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert out.startswith('digraph "main"') and '"identify" -> "open_check"' in out
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("support", "nope"))
    assert ivr_main(["graph", str(bad)]) == 2
    assert "unknown queue 'nope'" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed (dev.sh does)")
def test_cli_svg(tmp_path: Path) -> None:
    out = tmp_path / "main.svg"
    assert ivr_main(["graph", str(SHIPPED), "-o", str(out)]) == 0
    svg = out.read_text()
    assert "<svg" in svg and "identify" in svg


# ---------------------------------------------------------------- admin API


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[TestClient, Path, IvrService]]:
    menu = tmp_path / "main.toml"
    menu.write_text(GOOD)
    settings = Settings.model_validate({"auth": {"jwt_secret": SECRET},
                                        "ivr": {"menus": [str(menu)]}})
    service = IvrService(MenuRegistry(settings), settings=settings)
    users = FakeUsers([FakeUser(2, "sam", PASSWORD_HASH, "supervisor", 10),
                       FakeUser(3, "root", PASSWORD_HASH, "admin", None),
                       FakeUser(1, "alice", PASSWORD_HASH, "agent", 10)])
    app = create_app(settings, None, Bus(), clock=ManualClock(1_700_000_000.0), users=users,
                     extra_routes=ivr_routes(service))
    client = await make_client(app)
    yield client, menu, service
    await client.close()


async def token(client: TestClient, user: str) -> dict[str, str]:
    body: dict[str, Any] = await login(client, user)
    return bearer(body["access_token"])


async def test_admin_sees_menus_and_graph(api: tuple[TestClient, Path, IvrService]) -> None:
    client, _, _ = api
    h = await token(client, "root")
    resp = await client.get("/api/ivr/menus", headers=h)
    assert resp.status == 200
    [info] = await resp.json()
    assert info["name"] == "main" and info["version"] == 1 and info["nodes"] == 1
    resp = await client.get("/api/ivr/menus/main/graph", headers=h)
    assert resp.status == 200 and resp.content_type == "text/vnd.graphviz"
    assert (await resp.text()).startswith('digraph "main"')
    resp = await client.get("/api/ivr/menus/nope/graph", headers=h)
    assert resp.status == 404
    resp = await client.get("/api/ivr/menus/main/graph?format=png", headers=h)
    assert resp.status == 422
    resp = await client.get("/api/ivr/menus/main/graph?format=svg", headers=h)
    if shutil.which("dot"):
        assert resp.status == 200 and "<svg" in await resp.text()
    else:
        assert resp.status == 503


async def test_reload_via_api(api: tuple[TestClient, Path, IvrService]) -> None:
    client, menu, service = api
    h = await token(client, "root")
    menu.write_text(GOOD.replace('queue = "support"', 'queue = "nope"'))
    resp = await client.post("/api/ivr/reload", headers=h)
    assert resp.status == 422
    body = await resp.json()
    assert "unknown queue 'nope'" in body["message"] and body["details"]["running_version"] == 1
    assert service.registry.get() is not None and service.registry.version == 1
    menu.write_text(GOOD.replace('queue = "support"', 'queue = "sales"'))
    resp = await client.post("/api/ivr/reload", headers=h)
    assert resp.status == 200 and (await resp.json())["version"] == 2
    resp = await client.get("/api/ivr/stats", headers=h)
    stats = await resp.json()
    assert stats["reloads"] == 1 and stats["reloads_refused"] == 1 and stats["version"] == 2


async def test_roles(api: tuple[TestClient, Path, IvrService]) -> None:
    client, _, _ = api
    sup = await token(client, "sam")
    agent = await token(client, "alice")
    assert (await client.get("/api/ivr/menus", headers=sup)).status == 200
    assert (await client.post("/api/ivr/reload", headers=sup)).status == 403
    assert (await client.get("/api/ivr/menus", headers=agent)).status == 403
    assert (await client.get("/api/ivr/menus")).status == 401
