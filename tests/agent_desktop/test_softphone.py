"""The softphone's server side: [softphone] settings, derived SIP passwords, the pjsip.conf text
the CLI prints, and GET /api/softphone/config (each user gets their own extension's credentials
only)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp.test_utils import TestClient

from agent_desktop.app import AUTH_KEY, create_app
from agent_desktop.softphone import BadExtension, pjsip_sections, sip_password
from agent_desktop.softphone_cli import main as cli_main
from agent_desktop.softphone_routes import softphone_routes
from common.bus import Bus
from common.clock import ManualClock
from config import ConfigError, load_settings
from config.settings import Settings
from crm_core.service import Crm
from tests.agent_desktop.conftest import PASSWORD_HASH, SECRET, bearer, make_client
from tests.agent_desktop.test_http_auth import assert_error

SIP_SECRET = "sip-secret-" + "s" * 40
ENABLED = {"enabled": True, "ws_url": "wss://pbx.example.com:8089/ws",
           "sip_domain": "pbx.example.com", "password_secret": SIP_SECRET}


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "settings.toml"
    p.write_text(text, encoding="utf-8")
    return p


def softphone_toml(**values: object) -> str:
    def fmt(v: object) -> str:
        return ("true" if v else "false") if isinstance(v, bool) else f"{v!r}".replace("'", '"')
    return "[softphone]\n" + "".join(f"{k} = {fmt(v)}\n" for k, v in values.items())


def config_error(tmp_path: Path, **values: object) -> ConfigError:
    with pytest.raises(ConfigError) as ei:
        load_settings(write(tmp_path, softphone_toml(**values)), environ={})
    return ei.value


# ---- settings -------------------------------------------------------------------------------

def test_disabled_by_default_and_a_complete_section_loads(tmp_path: Path) -> None:
    assert Settings().softphone.enabled is False
    s = load_settings(write(tmp_path, softphone_toml(**ENABLED)), environ={})
    assert s.softphone.enabled and s.softphone.sip_domain == "pbx.example.com"


@pytest.mark.parametrize("missing", ["ws_url", "sip_domain", "password_secret"])
def test_enabled_without_a_needed_key_names_that_key(tmp_path: Path, missing: str) -> None:
    values = {k: v for k, v in ENABLED.items() if k != missing}
    e = config_error(tmp_path, **values)
    assert e.file.endswith("settings.toml")
    assert e.key == f"softphone.{missing}"
    assert "enabled" in e.problem
    assert ("enabled = false" in e.fix if missing != "password_secret"
            else "CTI_SOFTPHONE__PASSWORD_SECRET" in e.fix)


@pytest.mark.parametrize(("ws_url", "words"), [
    ("ws://pbx.example.com:8088/ws", "unencrypted"),
    ("wss://user:pw@pbx.example.com/ws", "user name"),
    ("https://pbx.example.com/ws", "not a ws(s)"),
    ("wss://pbx.example.com/ws\r\nX: 1", "control"),
    ("pbx.example.com", "not a ws(s)"),
    ("wss://[::1]:8089/ws", "host name or IPv4"),
    ("wss://pbx.example.com;x/ws", "host name or IPv4"),
    ("wss://pbx.example.com:99999/ws", "port"),
])
def test_unusable_ws_urls_are_refused_with_the_fix(tmp_path: Path, ws_url: str,
                                                   words: str) -> None:
    e = config_error(tmp_path, **{**ENABLED, "ws_url": ws_url})
    assert e.key == "softphone.ws_url"
    assert words in e.problem
    assert "wss://" in e.fix


def test_plain_ws_is_accepted_for_a_loopback_asterisk_only(tmp_path: Path) -> None:
    for url in ("ws://127.0.0.1:8088/ws", "ws://localhost:8088/ws", "ws://127.0.0.2:8088"):
        s = load_settings(write(tmp_path, softphone_toml(**{**ENABLED, "ws_url": url})),
                          environ={})
        assert s.softphone.ws_url == url


def test_short_secret_bad_domain_and_turn_without_credentials_are_refused(
        tmp_path: Path) -> None:
    e = config_error(tmp_path, **{**ENABLED, "password_secret": "short"})
    assert e.key == "softphone.password_secret" and "32 bytes" in e.problem
    assert "CTI_SOFTPHONE__PASSWORD_SECRET" in e.fix
    e = config_error(tmp_path, **{**ENABLED, "sip_domain": "pbx example;com"})
    assert e.key == "softphone.sip_domain"
    p = write(tmp_path, softphone_toml(**ENABLED)
              + 'ice_servers = [{ urls = ["turn:turn.example.com:3478"] }]\n')
    with pytest.raises(ConfigError) as ei:
        load_settings(p, environ={})
    assert ei.value.key == "softphone.ice_servers.0.credential"
    p = write(tmp_path, softphone_toml(**ENABLED)
              + 'ice_servers = [{ urls = ["http://stun.example.com"] }]\n')
    with pytest.raises(ConfigError) as ei:
        load_settings(p, environ={})
    assert ei.value.key.startswith("softphone.ice_servers.0.urls")
    assert "stun:" in ei.value.fix


def test_the_secret_can_come_from_the_environment(tmp_path: Path) -> None:
    values = {k: v for k, v in ENABLED.items() if k != "password_secret"}
    s = load_settings(write(tmp_path, softphone_toml(**values)),
                      environ={"CTI_SOFTPHONE__PASSWORD_SECRET": SIP_SECRET})
    assert s.softphone.password_secret == SIP_SECRET


# ---- derived passwords and the pjsip.conf text ----------------------------------------------

def test_passwords_are_stable_per_extension_and_secret_and_need_no_quoting() -> None:
    a = sip_password(SIP_SECRET, "1001")
    assert a == sip_password(SIP_SECRET, "1001")
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", a)
    assert a != sip_password(SIP_SECRET, "1002")
    assert a != sip_password(SIP_SECRET + "x", "1001")
    assert SIP_SECRET not in a


@pytest.mark.parametrize("bad", ["", "1", "1001\r\n", "1001\n[evil]", "10a1", "1234567", "*1"])
def test_only_extensions_get_passwords_or_sections(bad: str) -> None:
    with pytest.raises(BadExtension):
        sip_password(SIP_SECRET, bad)
    with pytest.raises(BadExtension):
        pjsip_sections(SIP_SECRET, ["1001", bad])


def test_pjsip_sections_carry_the_same_passwords_the_server_hands_out() -> None:
    text = pjsip_sections(SIP_SECRET, ["1001", "1002"])
    for ext in ("1001", "1002"):
        assert (f"[{ext}]\ntype=auth\nauth_type=userpass\nusername={ext}\n"
                f"password={sip_password(SIP_SECRET, ext)}\n") in text
        assert f"[{ext}](cc-webrtc-endpoint)\nauth={ext}\naors={ext}\n" in text
        assert f"[{ext}](cc-webrtc-aor)\n" in text
    only_auth = pjsip_sections(SIP_SECRET, ["1001"], auth_only=True)
    assert "type=auth" in only_auth and "cc-webrtc-endpoint" not in only_auth
    with pytest.raises(BadExtension):
        pjsip_sections(SIP_SECRET, ["1001", "1001"])


def test_cli_prints_the_sections_and_refuses_a_missing_secret(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("CTI_")]:
        monkeypatch.delenv(name)
    conf = write(tmp_path, softphone_toml(**ENABLED))
    assert cli_main(["pjsip-auth", "--config", str(conf), "1001", "1002"]) == 0
    assert capsys.readouterr().out == pjsip_sections(SIP_SECRET, ["1001", "1002"])

    assert cli_main(["pjsip-auth", "--config", str(conf), "1001;x"]) == 2
    assert "not an extension" in capsys.readouterr().err

    bare = write(tmp_path, "[softphone]\nenabled = false\n")
    assert cli_main(["pjsip-auth", "--config", str(bare), "1001"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "softphone.password_secret" in captured.err and "Fix:" in captured.err


async def test_cli_all_users_takes_the_active_users_extensions_from_the_crm(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("CTI_")]:
        monkeypatch.delenv(name)
    settings = Settings()
    crm = await Crm.open(tmp_path / settings.crm.database, settings.crm)
    for name, ext, active in (("a", "1002", True), ("b", "1001", True), ("c", None, True),
                              ("d", "1003", False)):
        await crm.users.create(username=name, password_hash=PASSWORD_HASH, extension=ext,
                               active=active)
    await crm.close()
    conf = write(tmp_path, softphone_toml(**ENABLED))
    args = ["pjsip-auth", "--config", str(conf), "--all-users", "--data-dir", str(tmp_path)]
    # asyncio.run inside the CLI needs a thread of its own under the test's running loop.
    rc = await asyncio.to_thread(cli_main, [*args, "1009"])
    assert rc == 0
    assert capsys.readouterr().out == pjsip_sections(SIP_SECRET, ["1009", "1001", "1002"])
    rc = await asyncio.to_thread(cli_main, [*args[:-1], str(tmp_path / "nowhere")])
    assert rc == 2
    assert "no database" in capsys.readouterr().err
    assert await asyncio.to_thread(cli_main, ["pjsip-auth", "--config", str(conf)]) == 2
    assert "no extensions" in capsys.readouterr().err


# ---- GET /api/softphone/config --------------------------------------------------------------

@dataclasses.dataclass
class Api:
    client: TestClient
    crm: Crm
    headers: dict[str, dict[str, str]]

    async def get(self, who: str, path: str = "/api/softphone/config") -> Any:
        return await self.client.get(path, headers=self.headers.get(who, {}))


async def make_api(tmp_path: Path, softphone: dict[str, object], db: str = "crm.sqlite3") -> Api:
    settings = Settings.model_validate({"auth": {"jwt_secret": SECRET}, "softphone": softphone})
    clock = ManualClock(1_700_000_000.0)
    crm = await Crm.open(tmp_path / db, settings.crm, clock=clock)
    team = await crm.teams.create(name="north")
    app = create_app(settings, crm, Bus(), clock=clock,
                     extra_routes=softphone_routes(settings.softphone, crm))
    headers = {}
    for name, role, ext in (("alice", "agent", "1001"), ("bob", "agent", "1002"),
                            ("nophone", "agent", None), ("sam", "supervisor", "1009"),
                            ("root", "admin", None)):
        user = await crm.users.create(username=name, password_hash=PASSWORD_HASH, role=role,
                                      team_id=team.id, extension=ext)
        pair = await app[AUTH_KEY].issue_for(user)
        headers[name] = bearer(pair.access_token)
    return Api(await make_client(app), crm, headers)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    a = await make_api(tmp_path, ENABLED)
    yield a
    await a.client.close()
    await a.crm.close()


async def test_each_user_gets_their_own_extensions_credentials_uncached(api: Api) -> None:
    for who, ext in (("alice", "1001"), ("bob", "1002"), ("sam", "1009")):
        resp = await api.get(who)
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "no-store"
        body = await resp.json()
        assert body["enabled"] is True
        assert body["uri"] == f"sip:{ext}@pbx.example.com"
        assert body["extension"] == body["authorization_user"] == ext
        assert body["sip_password"] == sip_password(SIP_SECRET, ext)
        assert body["ws_url"] == "wss://pbx.example.com:8089/ws"
        assert body["display_name"] == who
        assert "password_secret" not in await resp.text()
        assert SIP_SECRET not in await resp.text()


async def test_no_parameter_selects_another_users_credentials(api: Api) -> None:
    bobs = sip_password(SIP_SECRET, "1002")
    for query in ("?extension=1002", "?user=bob", "?user_id=2", "?extension=1001"):
        resp = await api.get("alice", "/api/softphone/config" + query)
        await assert_error(resp, 422, "validation_failed")
        assert bobs not in await resp.text()


async def test_users_without_an_extension_get_enabled_false(api: Api) -> None:
    for who in ("nophone", "root"):
        resp = await api.get(who)
        body = await resp.json()
        assert body["enabled"] is False
        assert "extension" in body["reason"]
        assert body["sip_password"] == ""


async def test_anonymous_and_deactivated_users_get_nothing(api: Api) -> None:
    resp = await api.get("nobody")
    await assert_error(resp, 401, "unauthorized")
    resp = await api.client.get("/api/softphone/config",
                                headers={"Authorization": "Bearer forged.token.here"})
    await assert_error(resp, 401, "unauthorized")
    alice = await api.crm.users.by_username("alice")
    await api.crm.users.update(alice.id, active=False)
    resp = await api.get("alice")
    assert resp.status in (401, 403)
    assert sip_password(SIP_SECRET, "1001") not in await resp.text()


async def test_disabled_softphone_hands_out_nothing(tmp_path: Path) -> None:
    a = await make_api(tmp_path, {"password_secret": SIP_SECRET})  # secret set, not enabled
    try:
        resp = await a.get("alice")
        body = await resp.json()
        assert body["enabled"] is False and "not configured" in body["reason"]
        assert sip_password(SIP_SECRET, "1001") not in await resp.text()
    finally:
        await a.client.close()
        await a.crm.close()


async def test_the_password_is_never_logged(api: Api) -> None:
    with structlog.testing.capture_logs() as logs:
        resp = await api.get("alice")
        assert resp.status == 200
    issued = [e for e in logs if e["event"] == "softphone_credentials_issued"]
    assert issued and issued[0]["extension"] == "1001"
    assert sip_password(SIP_SECRET, "1001") not in repr(logs)


async def test_the_desktop_page_may_connect_to_asterisk_only_when_enabled(
        api: Api, tmp_path: Path) -> None:
    csp = (await api.client.get("/desktop")).headers["Content-Security-Policy"]
    assert "connect-src 'self' wss://pbx.example.com:8089;" in csp
    off = await make_api(tmp_path, {"password_secret": SIP_SECRET,
                                    "ws_url": "wss://pbx.example.com:8089/ws"}, db="off.sqlite3")
    try:
        csp = (await off.client.get("/desktop")).headers["Content-Security-Policy"]
        assert "connect-src 'self';" in csp and "pbx.example.com" not in csp
    finally:
        await off.client.close()
        await off.crm.close()


async def test_the_route_is_in_the_openapi_document(api: Api) -> None:
    doc = await (await api.client.get("/api/openapi.json")).json()
    op = doc["paths"]["/api/softphone/config"]["get"]
    assert op["security"]


# ---- the Asterisk side: docs/asterisk.md and config/asterisk/ --------------------------------

ROOT = Path(__file__).resolve().parents[2]


def test_docs_show_the_reference_webrtc_snippets() -> None:
    docs = (ROOT / "docs" / "asterisk.md").read_text(encoding="utf-8")
    for name in ("http.conf", "pjsip_webrtc.conf"):
        for line in (ROOT / "config" / "asterisk" / name).read_text().splitlines():
            if line:
                assert f"    {line}\n" in docs, (name, line)


def test_generated_sections_inherit_templates_the_reference_defines() -> None:
    reference = (ROOT / "config" / "asterisk" / "pjsip_webrtc.conf").read_text()
    defined = set(re.findall(r"^\[([a-z-]+)\]\(!\)$", reference, re.M))
    used = set(re.findall(r"^\[\d+\]\(([a-z-]+)\)$", pjsip_sections(SIP_SECRET, ["1001"]), re.M))
    assert used == {"cc-webrtc-aor", "cc-webrtc-endpoint"}
    assert used <= defined
    # The endpoint template lands agents' calls where desk phones' land.
    assert "context = from-cti" in reference and "webrtc = yes" in reference


def _allowed(conf: str, section: str) -> list[str]:
    """The `allow` codecs of the first `[section]` (with or without a template marker)."""
    body = re.search(rf"^\[{re.escape(section)}\](?:\(!\))?\n((?:[^\[].*\n|\n)*)", conf, re.M)
    assert body, section
    found = re.search(r"^allow\s*=\s*([^;\n]+)", body.group(1), re.M)
    assert found, section
    return [c.strip() for c in found.group(1).split(",")]


def test_softphones_offer_only_codecs_the_trunk_speaks() -> None:
    # Asterisk built from source has no opus transcoder (codec_opus is a separate binary): on a
    # real Asterisk 22.9.0 an opus softphone answering a ulaw caller was dropped at once ("No
    # path to translate"). The template may only allow what the trunk allows.
    webrtc = (ROOT / "config" / "asterisk" / "pjsip_webrtc.conf").read_text()
    trunk = (ROOT / "config" / "asterisk" / "pjsip.conf").read_text()
    assert set(_allowed(webrtc, "cc-webrtc-endpoint")) <= set(_allowed(trunk, "carrier"))
