"""The page plumbing: HTML documents with a strict Content-Security-Policy, /static/ serving only
flat files of its own directory, and pages that obey the policy (no inline script or style)."""

from __future__ import annotations

import re
from pathlib import Path

import pydantic
import pytest
from aiohttp.test_utils import TestClient

from agent_desktop.errors import NotFound
from agent_desktop.pages import (
    HTML_DIR,
    PAGES,
    STATIC_DIR,
    content_security_policy,
    static_file,
)
from config.pages import PagesSettings
from tests.agent_desktop.test_crm_api import World, world  # noqa: F401
from tests.agent_desktop.test_http_auth import assert_error


def directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


async def test_pages_are_served_with_a_strict_policy(bare_client: TestClient) -> None:
    for path, document, _ in PAGES:
        resp = await bare_client.get(path)
        assert resp.status == 200, path
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        assert await resp.read() == (HTML_DIR / document).read_bytes()
        csp = directives(resp.headers["Content-Security-Policy"])
        assert csp["default-src"] == ["'none'"]
        assert csp["script-src"] == ["'self'"]
        assert csp["style-src"] == ["'self'"]
        assert csp["connect-src"] == ["'self'"]
        assert csp["frame-ancestors"] == ["'none'"]
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_static_serves_the_shared_modules_with_their_types(bare_client: TestClient) -> None:
    for name, ctype in (("app.js", "text/javascript"), ("i18n.js", "text/javascript"),
                        ("style.css", "text/css")):
        resp = await bare_client.get(f"/static/{name}")
        assert resp.status == 200, name
        assert resp.headers["Content-Type"].startswith(ctype)
        assert await resp.read() == (STATIC_DIR / name).read_bytes()


@pytest.mark.parametrize("name", [
    "..%2Fpages.py", "%2E%2E%2Fpages.py", "../pages.py", ".hidden.js", "App.js", "app.js%00.css",
    "nothing.js", "app.py", "x" * 200 + ".js", "%2Fetc%2Fpasswd",
])
async def test_static_refuses_anything_but_a_listed_flat_file(bare_client: TestClient,
                                                             name: str) -> None:
    resp = await bare_client.get(f"/static/{name}")
    assert resp.status == 404, name
    body = await resp.json()
    assert body["error_id"] == "not_found"
    assert "app.js\n" not in await resp.text()  # never a listing


def test_static_lookup_refuses_a_symlink_out_of_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "static"
    root.mkdir()
    (tmp_path / "secret.js").write_text("secret")
    (root / "link.js").symlink_to(tmp_path / "secret.js")
    (root / "ok.js").write_text("ok")
    assert static_file("ok.js", root) == (root / "ok.js", "text/javascript; charset=utf-8")
    with pytest.raises(NotFound):
        static_file("link.js", root)


def test_extra_connect_sources_are_checked() -> None:
    csp = directives(content_security_policy(["wss://pbx.example.com:8089/ws"]))
    assert csp["connect-src"] == ["'self'", "wss://pbx.example.com:8089/ws"]
    for bad in ("wss://x; script-src *", "javascript:alert(1)", "wss://a b", "*"):
        with pytest.raises(ValueError, match="connect source"):
            content_security_policy([bad])


def test_documents_and_scripts_obey_the_policy() -> None:
    # The policy forbids inline script and style: a page that relies on one silently breaks.
    for doc in HTML_DIR.glob("*.html"):
        html = doc.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), doc.name
        assert "<style" not in html and " style=" not in html, doc.name
        assert not re.search(r"\son[a-z]+=", html), doc.name  # no inline handlers
        for src in re.findall(r"(?:src|href)=\"([^\"]+)\"", html):
            assert src.startswith(("/static/", "/vendor/")), (doc.name, src)
            if src.startswith("/static/"):
                assert (STATIC_DIR / src.removeprefix("/static/")).is_file(), src
    for script in STATIC_DIR.glob("*.js"):
        text = script.read_text()
        # No eval-like constructs (blocked by the policy) and no HTML built from strings.
        assert not re.search(r"\beval\(|new Function\(|\.innerHTML\s*=|insertAdjacentHTML",
                             text), script.name
        for imported in re.findall(r"from \"(/static/[^\"]+)\"", text):
            assert (STATIC_DIR / imported.removeprefix("/static/")).is_file(), imported


async def test_desktop_config_lists_the_codes_a_page_offers(world: World) -> None:  # noqa: F811
    resp = await world.get("alice", "/api/desktop/config")
    assert resp.status == 200
    body = await resp.json()
    assert body["user"]["username"] == "alice" and body["user"]["role"] == "agent"
    assert "lunch" in body["pause_codes"] and "missed-call" not in body["pause_codes"]
    assert [q["name"] for q in body["queues"]] == ["support", "sales"]
    assert body["queues"][0]["dispositions"] == body["dispositions"]  # no own list: the global
    assert body["language"] == "zh-CN" and body["country"] == "US"  # crm.default_region
    assert body["placed_call_check_s"] == 60.0  # [pages] default
    assert set(body["wallboard"]) == {"support", "sales", "ALL"}
    assert body["wallboard"]["support"]["abandon_rate_alarm"] == 0.1  # [wallboard] defaults
    assert "password_hash" not in str(body)
    await assert_error(await world.get("anon", "/api/desktop/config"), 401, "unauthorized")


def test_pages_settings_refuse_unknown_zones_and_inverted_thresholds() -> None:
    with pytest.raises(pydantic.ValidationError, match="Mars/Olympus"):
        PagesSettings(timezone="Mars/Olympus")
    with pytest.raises(pydantic.ValidationError, match=r"moved to the \[wallboard\]"):
        PagesSettings(abandon_warn=0.2)  # the colour keys [pages] had before [wallboard]
    assert PagesSettings(timezone="Asia/Shanghai", country="CN").country == "CN"
    for bad in (0, -1, 86400):
        with pytest.raises(pydantic.ValidationError, match="placed_call_check_s"):
            PagesSettings(placed_call_check_s=bad)
