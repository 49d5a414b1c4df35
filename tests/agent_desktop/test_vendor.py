"""/vendor/ serves the pinned npm files the pages load, and nothing else."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from agent_desktop.middleware import error_middleware
from agent_desktop.vendor import VENDOR_FILES, missing_vendor_files, vendor_routes


async def _client(root: Path) -> TestClient:
    app = web.Application(middlewares=[error_middleware])
    for spec in vendor_routes(root):
        app.router.add_route(spec.method, spec.path, spec.handler)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


def test_npm_ci_installed_every_vendor_file() -> None:
    # scripts/dev.sh test runs `npm ci` before pytest: a missing file means package.json and
    # VENDOR_FILES disagree (e.g. a package upgrade moved its browser bundle).
    assert missing_vendor_files() == []


async def test_serves_listed_file_with_its_type(tmp_path: Path) -> None:
    (tmp_path / "jssip/dist").mkdir(parents=True)
    (tmp_path / "jssip/dist/jssip.min.js").write_text("var JsSIP = {};")
    client = await _client(tmp_path)
    try:
        resp = await client.get("/vendor/jssip.min.js")
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/javascript")
        assert await resp.text() == "var JsSIP = {};"
    finally:
        await client.close()


async def test_refuses_unlisted_and_traversal_names(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("nope")
    client = await _client(tmp_path)
    try:
        for name in ("secret.txt", "..%2Fsecret.txt", "jssip.min.js"):
            resp = await client.get(f"/vendor/{name}")
            assert resp.status == 404
            assert "nope" not in await resp.text()
    finally:
        await client.close()


def test_every_listed_file_has_a_browser_content_type() -> None:
    assert {f.content_type for f in VENDOR_FILES} <= {"text/javascript", "text/css"}
    assert len({f.name for f in VENDOR_FILES}) == len(VENDOR_FILES)
