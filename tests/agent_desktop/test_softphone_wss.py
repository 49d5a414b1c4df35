"""The softphone over wss://, as Asterisk's http.conf TLS listener serves it (docs/asterisk.md
"WebRTC softphone"), against the SIP-over-websocket responder behind TLS with a certificate of a
private CA, in Debian's chromium.

Browsers show no prompt for a websocket's certificate: one they do not trust just fails, so the
panel says "disconnected" and nothing registers. Trusted (its key pinned, as the lab run against
a real Asterisk 22.9.0 does, scripts/asterisk_lab_softphone.py), the same page registers, rings,
answers with a DTLS-SRTP answer and hangs up, under the desktop page's own Content-Security-Policy
with the wss:// origin in connect-src.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_desktop.softphone import pjsip_sections
from config.softphone import connect_source
from tests.agent_desktop.test_softphone_browser import (
    CALLER,
    SIP_SECRET,
    WAIT_MS,
    open_page,
    pjsip_password,
    server,
)
from tests.browser import chromium
from tests.sip_responder import SipResponder
from tests.tls_cert import make_cert, openssl_available

pytestmark = pytest.mark.skipif(not openssl_available(),
                                reason="openssl missing (scripts/dev.sh installs it)")


async def test_registers_over_wss_only_with_a_certificate_the_browser_trusts(
        tmp_path: Path) -> None:
    cert = make_cert(tmp_path / "tls")
    conf = pjsip_sections(SIP_SECRET, ["1001"])
    responder = SipResponder({"1001": pjsip_password(conf, "1001")}, tls=cert.server_context())
    await responder.start()
    assert responder.url.startswith("wss://127.0.0.1:")
    client, crm = await server(tmp_path, responder.url)
    errors: list[str] = []
    try:
        csp = (await client.get("/softphone-test.html")).headers["Content-Security-Policy"]
        assert f"connect-src 'self' {connect_source(responder.url)};" in csp

        # Not trusted (a private CA the browser does not know): no prompt, the websocket fails.
        async with chromium() as browser:
            page = await browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            await open_page(page, client)
            await page.wait_for_selector(".sp-status[data-state=disconnected]", timeout=WAIT_MS)
            assert not responder.log and not responder.registered.is_set()

        # Trusted by its key pin: registered over TLS, an incoming call answered and hung up.
        async with chromium(f"--ignore-certificate-errors-spki-list={cert.spki}") as browser:
            page = await browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text)
                    if "Content Security Policy" in m.text else None)
            await open_page(page, client)
            await page.wait_for_selector(".sp-status[data-state=registered]", timeout=WAIT_MS)
            register = await responder.wait_for(
                lambda m: m.method == "REGISTER" and bool(m.all("Authorization")))
            # JsSIP names the transport in its Via as RFC 7118 says for a secure websocket.
            assert register.header("Via").startswith("SIP/2.0/WSS ")
            assert responder.auth_failures == 0

            call_id = await responder.send_invite(CALLER, "Wang Fang")
            await page.wait_for_selector(".sp-call[data-state=incoming]", timeout=WAIT_MS)
            await page.click("button[data-action=answer]")
            ok = await responder.wait_for(
                lambda m: m.status == 200 and m.cseq_method == "INVITE")
            assert ok.header("Call-ID") == call_id
            # What Asterisk's webrtc = yes endpoint needs of the answer: DTLS-SRTP with ICE and
            # rtcp-mux on the offered profile.
            assert "m=audio" in ok.body and "UDP/TLS/RTP/SAVPF" in ok.body
            for line in ("a=fingerprint:sha-256 ", "a=setup:active", "a=ice-ufrag:",
                         "a=rtcp-mux"):
                assert line in ok.body, line
            await page.wait_for_selector(".sp-call[data-state=in_call]", timeout=WAIT_MS)
            await page.click("button[data-action=hangup]")
            bye = await responder.wait_for(lambda m: m.method == "BYE" and m.is_request)
            assert bye.header("Call-ID") == call_id
        assert errors == []
    finally:
        await client.close()
        await crm.close()
        await responder.close()


async def test_on_a_page_that_is_not_a_secure_context_it_says_so_and_does_not_register(
        tmp_path: Path) -> None:
    # The desktop reached as http://NAME (not localhost, no TLS in front): browsers refuse it the
    # microphone. Registered anyway, the panel rang and then failed the answer ("Internal
    # Error"), dropping the caller; now it stays unregistered, so nothing is routed to it.
    conf = pjsip_sections(SIP_SECRET, ["1001"])
    responder = SipResponder({"1001": pjsip_password(conf, "1001")})
    await responder.start()
    client, crm = await server(tmp_path, responder.url)
    errors: list[str] = []
    try:
        async with chromium("--host-resolver-rules=MAP agents.test 127.0.0.1") as browser:
            page = await browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            url = str(client.make_url("/softphone-test.html")).replace("127.0.0.1", "agents.test")
            await page.goto(url)
            assert await page.evaluate("window.isSecureContext") is False
            await page.wait_for_selector("body[data-ready]", state="attached", timeout=WAIT_MS)
            status = page.locator(".sp-status")
            assert await status.get_attribute("data-state") == "insecure"
            assert "HTTPS" in (await status.text_content() or "")
            events = await page.evaluate("window.spEvents")
            assert {"type": "registration", "state": "insecure", "detail": ""} in events
            assert await page.evaluate("window.phone.state") == "idle"
            # The dial box neither submits the page nor places a call.
            assert await page.locator(".sp-number").is_disabled()
            await page.evaluate("window.phone.call('+861055551234')")
            assert "HTTPS" in (await page.locator(".sp-message").text_content() or "")
            # No SIP user agent at all: nothing was, or will be, sent to Asterisk.
            assert await page.evaluate("window.phone.ua") is None
            assert responder.log == [] and not responder.registered.is_set()
        assert errors == []
    finally:
        await client.close()
        await crm.close()
        await responder.close()
