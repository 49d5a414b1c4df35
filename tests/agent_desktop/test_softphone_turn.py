"""TURN for agents behind NAT: [softphone] turn_urls / turn_secret / turn_ttl_s /
ice_transport_policy, the per-agent credentials (coturn use-auth-secret, the "TURN REST API"
scheme) and what GET /api/softphone/config hands each desktop. A real coturn checks the same
credentials in tests/agent_desktop/test_softphone_relay.py.
"""

from __future__ import annotations

import base64
import hmac
import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog
from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st

from agent_desktop.app import AUTH_KEY, create_app
from agent_desktop.softphone import BadTurnRequest, turn_credentials
from agent_desktop.softphone_routes import softphone_routes
from common.bus import Bus
from common.clock import ManualClock
from config import ConfigError, load_settings
from config.settings import Settings
from crm_core.service import Crm
from tests.agent_desktop.conftest import PASSWORD_HASH, SECRET, bearer, make_client
from tests.agent_desktop.test_softphone import ENABLED, write

TURN_SECRET = "turn-secret-" + "t" * 40
TURN_URLS = ["turn:turn.example.com:3478?transport=udp",
             "turns:turn.example.com:5349?transport=tcp"]
WITH_TURN = {**ENABLED, "turn_urls": TURN_URLS, "turn_secret": TURN_SECRET,
             "ice_transport_policy": "relay"}
NOW = 1_700_000_000.25
AGENT_CHARS = "abcXYZ0123456789._@-"


def coturn_password(secret: str, username: str) -> str:
    """What coturn computes for a use-auth-secret username (turn_admin/userdb: HMAC-SHA1 of the
    username under static-auth-secret, base64), written out here independently."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), "sha1").digest()).decode()


def toml(values: dict[str, object]) -> str:
    def fmt(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r") \
                .replace("\n", "\\n") + '"'
        return str(v)
    return "[softphone]\n" + "".join(f"{k} = {fmt(v)}\n" for k, v in values.items())


def config_error(tmp_path: Path, values: dict[str, object],
                 environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as ei:
        load_settings(write(tmp_path, toml(values)), environ=environ or {})
    return ei.value


# ---- the credentials (pure) -----------------------------------------------------------------

def test_credentials_are_coturns_rest_api_scheme() -> None:
    c = turn_credentials(TURN_SECRET, "1001", NOW, 600)
    # The expiry is rounded up: a credential never lives shorter than asked.
    assert c.expires_at == 1_700_000_601
    assert c.username == "1700000601:1001"
    assert c.credential == coturn_password(TURN_SECRET, "1700000601:1001")
    # A known answer, so a change of scheme cannot pass unnoticed.
    assert turn_credentials("north", "alice", 1_400_000_000, 86_400).credential == \
        coturn_password("north", "1400086400:alice")
    assert TURN_SECRET not in c.username + c.credential


@given(now=st.floats(min_value=0, max_value=4e9), ttl=st.integers(min_value=1, max_value=10**6),
       agent=st.text(AGENT_CHARS, min_size=1, max_size=64))
def test_expiry_is_now_plus_the_lifetime_and_the_mac_covers_exactly_the_username(
        now: float, ttl: int, agent: str) -> None:
    c = turn_credentials(TURN_SECRET, agent, now, ttl)
    # Whole seconds, never shorter than asked, at most a second longer.
    assert c.expires_at >= now + ttl and c.expires_at - ttl - 1 < now
    assert c.username == f"{c.expires_at}:{agent}"
    assert c.credential == coturn_password(TURN_SECRET, c.username)
    # Another agent, another expiry or another secret: another password.
    assert c.credential != turn_credentials(TURN_SECRET, agent + "x", now, ttl).credential
    assert c.credential != turn_credentials(TURN_SECRET, agent, now + 2, ttl).credential
    assert c.credential != turn_credentials(TURN_SECRET + "x", agent, now, ttl).credential


@pytest.mark.parametrize("agent", ["", "1001:9999999999", "1001\r\n", "a b", "王芳", "x" * 65,
                                   "1001\x00", "../1001"])
def test_names_a_turn_username_cannot_carry_are_refused(agent: str) -> None:
    with pytest.raises(BadTurnRequest):
        turn_credentials(TURN_SECRET, agent, NOW, 600)


@pytest.mark.parametrize(("secret", "now", "ttl"), [
    ("", NOW, 600), (TURN_SECRET, math.nan, 600), (TURN_SECRET, math.inf, 600),
    (TURN_SECRET, -1.0, 600), (TURN_SECRET, NOW, 0), (TURN_SECRET, NOW, -5),
    (TURN_SECRET, NOW, True)])
def test_no_secret_a_bad_time_or_lifetime_are_refused(secret: str, now: float, ttl: int) -> None:
    with pytest.raises(BadTurnRequest):
        turn_credentials(secret, "1001", now, ttl)


# ---- [softphone] settings -------------------------------------------------------------------

def test_a_turn_section_loads_and_the_secret_can_come_from_the_environment(
        tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, toml(WITH_TURN)), environ={}).softphone
    assert s.turn_urls == TURN_URLS and s.ice_transport_policy == "relay"
    assert s.turn_ttl_s == 3600
    no_secret = {k: v for k, v in WITH_TURN.items() if k != "turn_secret"}
    s = load_settings(write(tmp_path, toml(no_secret)),
                      environ={"CTI_SOFTPHONE__TURN_SECRET": TURN_SECRET}).softphone
    assert s.turn_secret == TURN_SECRET
    # Relay through a statically configured TURN entry is allowed too.
    static = {**ENABLED, "ice_transport_policy": "relay"}
    text = toml(static) + ('ice_servers = [{ urls = ["turn:t.example.com:3478"], '
                           'username = "u", credential = "c" }]\n')
    assert load_settings(write(tmp_path, text), environ={}).softphone.ice_transport_policy \
        == "relay"


@pytest.mark.parametrize("url", [
    "http://turn.example.com", "stun:turn.example.com:3478", "turn:turn.example.com:99999",
    "turn:turn.example.com:3478?transport=sctp", "turn:turn example.com",
    "turn:turn.example.com\r\nX: 1", "turn:user@turn.example.com",
    "turn:a.example.com,turn:b.example.com", "turn:[::1]:3478", "turn:", "turn:h" * 80,
    "turn:turn.example.com:3478?transport=udp&x=1", "turn:turn.example.com/path"])
def test_unusable_turn_urls_are_refused_naming_the_key_and_the_fix(tmp_path: Path,
                                                                   url: str) -> None:
    e = config_error(tmp_path, {**WITH_TURN, "turn_urls": [TURN_URLS[0], url]})
    assert e.file.endswith("settings.toml")
    assert e.key.startswith("softphone.turn_urls")
    assert "not a TURN URL" in e.problem
    assert "turn:HOST:3478" in e.fix


def test_incomplete_or_weak_turn_settings_are_refused_with_the_fix(tmp_path: Path) -> None:
    e = config_error(tmp_path, {k: v for k, v in WITH_TURN.items() if k != "turn_secret"})
    assert e.key == "softphone.turn_secret" and "turn_secret is empty" in e.problem
    assert "static-auth-secret" in e.fix and "CTI_SOFTPHONE__TURN_SECRET" in e.fix
    e = config_error(tmp_path, {**WITH_TURN, "turn_urls": [], "ice_transport_policy": "all"})
    assert e.key == "softphone.turn_urls" and "turn_urls is empty" in e.problem
    e = config_error(tmp_path, {**WITH_TURN, "turn_secret": "short"})
    assert e.key == "softphone.turn_secret" and "32 bytes" in e.problem
    e = config_error(tmp_path, {**WITH_TURN, "turn_secret": "x" * 40 + "\n"})
    assert e.key == "softphone.turn_secret" and "control" in e.problem
    e = config_error(tmp_path, {**ENABLED, "ice_transport_policy": "relay"})
    assert e.key == "softphone.ice_transport_policy" and "without a TURN server" in e.problem
    assert "turn_urls" in e.fix
    e = config_error(tmp_path, {**WITH_TURN, "ice_transport_policy": "relay-only"})
    assert e.key == "softphone.ice_transport_policy"
    for ttl in (0, 60, 86_401):
        e = config_error(tmp_path, {**WITH_TURN, "turn_ttl_s": ttl})
        assert e.key == "softphone.turn_ttl_s"


# ---- GET /api/softphone/config --------------------------------------------------------------

class TurnApi:
    def __init__(self, client: TestClient, crm: Crm, clock: ManualClock,
                 headers: dict[str, dict[str, str]]) -> None:
        self.client = client
        self.crm = crm
        self.clock = clock
        self.headers = headers

    async def config(self, who: str) -> dict[str, object]:
        resp = await self.client.get("/api/softphone/config", headers=self.headers[who])
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "no-store"
        assert TURN_SECRET not in await resp.text()
        body: dict[str, object] = await resp.json()
        return body


@pytest.fixture
async def turn_api(tmp_path: Path) -> AsyncIterator[TurnApi]:
    settings = Settings.model_validate({"auth": {"jwt_secret": SECRET},
                                        "softphone": {**WITH_TURN, "turn_ttl_s": 900}})
    clock = ManualClock(NOW)
    crm = await Crm.open(tmp_path / "crm.sqlite3", settings.crm, clock=clock)
    app = create_app(settings, crm, Bus(), clock=clock,
                     extra_routes=softphone_routes(settings.softphone, crm, clock))
    headers = {}
    for name, ext in (("alice", "1001"), ("bob", "1002")):
        user = await crm.users.create(username=name, password_hash=PASSWORD_HASH, role="agent",
                                      extension=ext)
        headers[name] = bearer((await app[AUTH_KEY].issue_for(user)).access_token)
    client = await make_client(app)
    yield TurnApi(client, crm, clock, headers)
    await client.close()
    await crm.close()


def turn_entry(body: dict[str, object]) -> dict[str, object]:
    servers = body["ice_servers"]
    assert isinstance(servers, list)
    turn = [s for s in servers if any(u.startswith(("turn:", "turns:")) for u in s["urls"])]
    assert len(turn) == 1, servers
    entry: dict[str, object] = turn[0]
    return entry


async def test_each_agent_gets_only_its_own_expiring_turn_credentials(turn_api: TurnApi) -> None:
    alice, bob = await turn_api.config("alice"), await turn_api.config("bob")
    for body, ext in ((alice, "1001"), (bob, "1002")):
        entry = turn_entry(body)
        assert entry["urls"] == TURN_URLS
        expiry = math.ceil(NOW) + 900
        assert entry["username"] == f"{expiry}:{ext}"
        assert entry["credential"] == coturn_password(TURN_SECRET, f"{expiry}:{ext}")
        assert body["ice_transport_policy"] == "relay"
        assert body["ice_valid_s"] == 900
    assert turn_entry(alice)["credential"] != turn_entry(bob)["credential"]
    # Asked again later: a new lifetime from that moment (the page asks before a call once half
    # of it has passed).
    turn_api.clock.advance(500)
    later = turn_entry(await turn_api.config("alice"))
    assert later["username"] == f"{math.ceil(NOW + 500) + 900}:1001"
    assert later["credential"] == coturn_password(TURN_SECRET, str(later["username"]))


async def test_the_turn_credential_is_never_logged(turn_api: TurnApi) -> None:
    with structlog.testing.capture_logs() as logs:
        body = await turn_api.config("alice")
    issued = [e for e in logs if e["event"] == "softphone_credentials_issued"]
    assert issued and issued[0]["turn"] is True and issued[0]["extension"] == "1001"
    assert str(turn_entry(body)["credential"]) not in repr(logs)
    assert TURN_SECRET not in repr(logs)


async def test_without_turn_the_page_gets_no_credentials_and_policy_all(tmp_path: Path) -> None:
    settings = Settings.model_validate({"auth": {"jwt_secret": SECRET}, "softphone": ENABLED})
    clock = ManualClock(NOW)
    crm = await Crm.open(tmp_path / "crm.sqlite3", settings.crm, clock=clock)
    app = create_app(settings, crm, Bus(), clock=clock,
                     extra_routes=softphone_routes(settings.softphone, crm, clock))
    user = await crm.users.create(username="alice", password_hash=PASSWORD_HASH, role="agent",
                                  extension="1001")
    headers = bearer((await app[AUTH_KEY].issue_for(user)).access_token)
    client = await make_client(app)
    try:
        body = await (await client.get("/api/softphone/config", headers=headers)).json()
        assert body["ice_servers"] == [] and body["ice_valid_s"] == 0
        assert body["ice_transport_policy"] == "all"
    finally:
        await client.close()
        await crm.close()



def test_docs_show_the_reference_coturn_config() -> None:
    root = Path(__file__).resolve().parents[2]
    docs = (root / "docs" / "asterisk.md").read_text(encoding="utf-8")
    reference = (root / "config" / "coturn" / "turnserver.conf").read_text()
    for line in reference.splitlines():
        if line:
            assert f"    {line}\n" in docs, line
    # Time-limited credentials, and never the lab's loopback exception.
    assert "use-auth-secret" in reference.splitlines()
    assert "allow-loopback-peers" not in reference
