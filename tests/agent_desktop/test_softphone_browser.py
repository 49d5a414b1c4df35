"""The softphone in Debian's chromium: JsSIP registers to a SIP-over-websocket responder standing
in for Asterisk, shows an incoming call with the caller's number, answers it (200 OK with SDP),
holds and resumes it (re-INVITEs), sends keypad tones, hangs up (BYE), makes a call, loses calls
to CANCEL and to its own decline, and registers again after the websocket drops.

The credentials come from the real GET /api/softphone/config of a server logged in as the agent;
the responder's password for the extension comes from the pjsip.conf text that
`run_server.py softphone pjsip-auth` prints, as Asterisk's would: so the test also proves the
operator's two halves agree.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright.async_api import Page, expect

from agent_desktop.app import create_app
from agent_desktop.pages import content_security_policy, page_headers
from agent_desktop.routing import RouteSpec
from agent_desktop.softphone import pjsip_sections
from agent_desktop.softphone_routes import softphone_routes
from common.bus import Bus
from common.clock import ManualClock
from config.settings import Settings
from crm_core.service import Crm
from tests.agent_desktop.conftest import PASSWORD, PASSWORD_HASH, SECRET, make_client
from tests.browser import artifact, chromium
from tests.sip_responder import SipMessage, SipResponder

SIP_SECRET = "sip-secret-" + "k" * 40
CALLER = "+8613800138000"
OUTBOUND = "+861055551234"
WAIT_MS = 20_000  # a guard against hanging, not a speed assertion

# Served with the desktop page's own Content-Security-Policy (no inline script or style,
# connect-src 'self' plus the Asterisk websocket origin), so what the softphone needs of the page
# policy is tested too.
TEST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>softphone test</title>
<script type="module" src="/softphone-test.js?user={user}"></script></head>
<body><section id="softphone" hidden></section></body></html>"""

TEST_SCRIPT = """
import {{ api, login }} from '/static/app.js';
import {{ setLanguage }} from '/static/i18n.js';
import {{ mountIfEnabled }} from '/static/softphone.js';
setLanguage({lang!r});
await login({user!r}, {password!r});
window.softphoneConfig = await api('/api/softphone/config');
window.spEvents = [];
document.getElementById('softphone').addEventListener('softphone',
  (e) => window.spEvents.push(e.detail));
window.phone = await mountIfEnabled(document.getElementById('softphone'));
document.body.dataset.ready = '1';
"""


def pjsip_password(conf: str, extension: str) -> str:
    """The password pjsip.conf gives `extension`'s auth section (what Asterisk would check)."""
    section = re.search(rf"^\[{extension}\]\ntype=auth\n(?:.*\n)*?password=(\S+)$", conf, re.M)
    assert section, conf
    return section.group(1)


@pytest.fixture
async def responder() -> AsyncIterator[SipResponder]:
    conf = pjsip_sections(SIP_SECRET, ["1001"])
    r = SipResponder({"1001": pjsip_password(conf, "1001")})
    await r.start()
    yield r
    await r.close()


async def server(tmp_path: Path, ws_url: str, secret: str = SIP_SECRET,
                 lang: str = "en", **softphone: object) -> tuple[TestClient, Crm]:
    """`softphone`: more [softphone] keys (TURN, ICE policy)."""
    settings = Settings.model_validate({
        "auth": {"jwt_secret": SECRET},
        "softphone": {"enabled": True, "ws_url": ws_url, "sip_domain": "pbx.test",
                      "password_secret": secret, "dtmf": "info", **softphone},
    })
    clock = ManualClock(1_700_000_000.0)
    crm = await Crm.open(tmp_path / "crm.sqlite3", settings.crm, clock=clock)
    await crm.users.create(username="alice", password_hash=PASSWORD_HASH, role="agent",
                           extension="1001", display_name="Alice 王")
    await crm.users.create(username="deskphone", password_hash=PASSWORD_HASH, role="agent")
    routes = [*softphone_routes(settings.softphone, crm),
              *page_routes(lang, settings.softphone.connect_sources())]
    app = create_app(settings, crm, Bus(), clock=clock, extra_routes=routes)
    return await make_client(app), crm


def page_routes(lang: str, connect_src: tuple[str, ...]) -> list[RouteSpec]:
    # The page is served by the server itself, not by playwright's request interception: chromium
    # treats an intercepted page as public and its Local Network Access checks would then refuse
    # the websocket to the loopback responder. Its scripts come from the real /static/ and
    # /vendor/ routes.
    headers = page_headers(content_security_policy(connect_src))

    async def test_page(request: web.Request) -> web.StreamResponse:
        user = request.query.get("user", "alice")
        return web.Response(text=TEST_PAGE.format(user=user), headers=headers)

    async def test_script(request: web.Request) -> web.StreamResponse:
        user = request.query.get("user", "alice")
        return web.Response(text=TEST_SCRIPT.format(lang=lang, user=user, password=PASSWORD),
                            content_type="text/javascript")

    return [RouteSpec("GET", "/softphone-test.html", test_page, frozenset(), "test"),
            RouteSpec("GET", "/softphone-test.js", test_script, frozenset(), "test")]


async def open_page(page: Page, client: TestClient, user: str = "alice") -> None:
    await page.goto(str(client.make_url(f"/softphone-test.html?user={user}")))


async def test_registers_rings_answers_holds_and_hangs_up(tmp_path: Path,
                                                         responder: SipResponder) -> None:
    client, crm = await server(tmp_path, responder.url)
    errors: list[str] = []
    try:
        async with chromium() as browser:
            page = await browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text)
                    if "Content Security Policy" in m.text else None)
            await open_page(page, client)
            status = page.locator(".sp-status")
            await page.wait_for_selector(".sp-status[data-state=registered]", timeout=WAIT_MS)
            assert await status.text_content() == "Registered"
            # The digest was checked: one challenge, then an accepted REGISTER.
            registers = [m for m in responder.log if m.method == "REGISTER"]
            assert [bool(m.all("Authorization")) for m in registers[:2]] == [False, True]
            assert responder.auth_failures == 0

            call_id = await responder.send_invite(CALLER, "Wang Fang")
            await page.wait_for_selector(".sp-call[data-state=incoming]", timeout=WAIT_MS)
            assert await page.locator(".sp-caller").get_attribute("data-number") == CALLER
            shown = await page.locator(".sp-caller").text_content() or ""
            assert re.sub(r"\D", "", shown) == CALLER[1:]  # formatted for the user's country
            assert await page.locator(".sp-caller-name").text_content() == "Wang Fang"
            ringing = await responder.wait_for(lambda m: m.status == 180)
            assert ringing.header("Call-ID") == call_id
            assert not any(m.status == 200 and m.cseq_method == "INVITE" for m in responder.log)
            assert await page.evaluate("window.phone.status.ringing") is True  # the WebAudio ring
            await page.screenshot(path=str(artifact("softphone-incoming.png")))

            await page.click("button[data-action=answer]")
            ok = await responder.wait_for(
                lambda m: m.status == 200 and m.cseq_method == "INVITE")
            assert ok.header("Call-ID") == call_id
            assert ok.header("Content-Type") == "application/sdp"
            assert "m=audio" in ok.body and "a=fingerprint:" in ok.body
            await page.wait_for_selector(".sp-call[data-state=in_call]", timeout=WAIT_MS)
            assert await page.evaluate("window.phone.status.ringing") is False
            await page.screenshot(path=str(artifact("softphone-in-call.png")))

            await page.click("button[data-action=hold]")
            hold = await responder.wait_for(lambda m: is_reinvite(m, call_id, "a=sendonly"))
            assert hold.header("Call-ID") == call_id
            await page.wait_for_selector("button[data-action=hold][aria-pressed=true]",
                                         timeout=WAIT_MS)
            await page.click("button[data-action=hold]")
            await responder.wait_for(lambda m: is_reinvite(m, call_id, "a=sendrecv"))
            await page.wait_for_selector("button[data-action=hold][aria-pressed=false]",
                                         timeout=WAIT_MS)

            # The keypad's tones as SIP INFO ([softphone] dtmf = "info"): RFC 4733 would need
            # the media path up, which the responder does not provide.
            for tone in "5#":
                await page.click(f"button[data-tone='{tone}']")
                info = await responder.wait_for(lambda m, t=tone: is_dtmf_info(m, call_id, t))
                assert info.header("Content-Type") == "application/dtmf-relay"
            await expect(page.locator(".sp-dtmf")).to_have_text("5#", timeout=WAIT_MS)

            await page.click("button[data-action=mute]")
            await page.wait_for_selector("button[data-action=mute][aria-pressed=true]",
                                         timeout=WAIT_MS)

            await page.click("button[data-action=hangup]")
            bye = await responder.wait_for(lambda m: m.method == "BYE" and m.is_request)
            assert bye.header("Call-ID") == call_id
            await page.wait_for_selector(".sp-call[data-state=idle]", state="hidden",
                                         timeout=WAIT_MS)

            # An outgoing call: refused locally when it is not a number, else challenged and
            # answered by the responder, then hung up from the panel.
            await page.fill(".sp-number", "12;user=x")
            await page.click("button[data-action=call]")
            assert await page.locator(".sp-message").text_content() == (
                "Digits, *, # and a leading + only")
            await page.fill(".sp-number", OUTBOUND)
            await page.click("button[data-action=call]")
            invite = await responder.wait_for(
                lambda m: m.method == "INVITE" and m.is_request and bool(m.all("Authorization")))
            assert invite.start == f"INVITE sip:{OUTBOUND}@pbx.test SIP/2.0"
            assert "m=audio" in invite.body
            await page.wait_for_selector(".sp-call[data-state=in_call]", timeout=WAIT_MS)
            assert await page.locator(".sp-caller").get_attribute("data-number") == OUTBOUND
            await page.click("button[data-action=hangup]")
            out_id = invite.header("Call-ID")
            await responder.wait_for(lambda m: m.method == "BYE" and m.is_request
                                     and m.header("Call-ID") == out_id)
            await page.wait_for_selector(".sp-call[data-state=idle]", state="hidden",
                                         timeout=WAIT_MS)
            assert not any(m.method == "INVITE" and "user=x" in m.start for m in responder.log)
            assert responder.auth_failures == 0

            # The caller gives up while it rings (Asterisk's ring-no-answer): CANCEL, 487.
            cancelled = await responder.send_invite(CALLER)
            await page.wait_for_selector(".sp-call[data-state=incoming]", timeout=WAIT_MS)
            await responder.send_cancel()
            await responder.wait_for(lambda m: m.status == 487
                                     and m.header("Call-ID") == cancelled)
            await page.wait_for_selector(".sp-call[data-state=idle]", state="hidden",
                                         timeout=WAIT_MS)
            assert await page.evaluate("window.phone.status.ringing") is False

            # The agent declines: 486 Busy Here.
            declined = await responder.send_invite(CALLER)
            await page.wait_for_selector("button[data-action=decline]", timeout=WAIT_MS)
            await page.click("button[data-action=decline]")
            await responder.wait_for(lambda m: m.status == 486
                                     and m.header("Call-ID") == declined)
            await page.wait_for_selector(".sp-call[data-state=idle]", state="hidden",
                                         timeout=WAIT_MS)

            # Asterisk goes away and comes back: the panel says so, reconnects, registers again.
            registered = len(authorised_registers(responder))
            await responder.drop()
            await responder.wait_for(
                lambda m: len(authorised_registers(responder)) > registered)
            await page.wait_for_selector(".sp-status[data-state=registered]", timeout=WAIT_MS)
            states = [e["state"] for e in await page.evaluate("window.spEvents")
                      if e["type"] == "registration"]
            assert "disconnected" in states[states.index("registered"):]

            config = await page.evaluate("window.softphoneConfig")
            assert config["uri"] == "sip:1001@pbx.test" and config["enabled"] is True
        assert errors == []
    finally:
        await client.close()
        await crm.close()


def authorised_registers(r: SipResponder) -> list[SipMessage]:
    return [m for m in r.log if m.method == "REGISTER" and m.is_request
            and bool(m.all("Authorization"))]


def is_dtmf_info(m: SipMessage, call_id: str, tone: str) -> bool:
    return (m.is_request and m.method == "INFO" and m.header("Call-ID") == call_id
            and f"Signal={tone}" in m.body)


def is_reinvite(m: SipMessage, call_id: str, direction: str) -> bool:
    return (m.is_request and m.method == "INVITE" and m.header("Call-ID") == call_id
            and direction in m.body)


async def test_a_password_asterisk_does_not_know_shows_registration_failed(
        tmp_path: Path, responder: SipResponder) -> None:
    # The server derives passwords from another secret than the one pjsip.conf was made with.
    client, crm = await server(tmp_path, responder.url, secret="other-secret-" + "z" * 40,
                               lang="zh-CN")
    try:
        async with chromium() as browser:
            page = await browser.new_page()
            await open_page(page, client)
            await page.wait_for_selector(".sp-status[data-state=failed]", timeout=WAIT_MS)
            assert (await page.locator(".sp-status").text_content() or "").startswith("注册失败")
            assert responder.auth_failures >= 1
            assert not responder.registered.is_set()

            # A user without an extension: no softphone, the section stays hidden.
            desk = await browser.new_page()
            await open_page(desk, client, user="deskphone")
            await desk.wait_for_selector("body[data-ready]", state="attached", timeout=WAIT_MS)
            assert await desk.evaluate("window.phone") is None
            assert await desk.locator("#softphone").is_hidden()
            assert await desk.locator(".softphone").count() == 0
    finally:
        await client.close()
        await crm.close()
