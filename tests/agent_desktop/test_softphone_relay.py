"""The softphone where agents really are: behind NAT, reaching Asterisk with a certificate their
computer trusts.

- Trust through the browser's certificate store, not a pin: the test CA goes into an NSS database
  chromium reads (HOME/.pki/nssdb, `certutil`), and the panel registers over wss:// with no
  ignore or pin flag. A certificate of another CA fails, and the panel says it may be the
  certificate.
- TURN relay only, over UDP and over TLS (turns:, whose certificate the browser checks against
  the same store): a real coturn (use-auth-secret) on loopback, the server's per-agent
  credentials, `ice_transport_policy = "relay"`; the far end's media is a real WebRTC peer
  (aiortc, tests/media_peer.py) behind the SIP responder. getStats() shows the selected
  candidate pair is the relay's and RTP flows both ways; coturn's log shows the allocation under
  the agent's own expiring user name, and coturn refuses an expired or forged one.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from aioice import turn
from aioice.stun import TransactionFailed

from agent_desktop.softphone import pjsip_sections, turn_credentials
from scripts.lab_audio import write_tone
from tests.agent_desktop.test_softphone_browser import (
    CALLER,
    SIP_SECRET,
    WAIT_MS,
    open_page,
    pjsip_password,
    server,
)
from tests.browser import chromium
from tests.media_peer import MediaPeer
from tests.nss_store import certutil_available, nss_home
from tests.sip_responder import SipResponder
from tests.tls_cert import ServerCert, make_cert, openssl_available
from tests.turn_server import RELAY_PORTS, coturn, coturn_available
from tests.webrtc_stats import STATS, TRACK_PCS

pytestmark = pytest.mark.skipif(
    not (openssl_available() and certutil_available() and coturn_available()),
    reason="openssl, certutil (libnss3-tools) or turnserver (coturn) missing: scripts/dev.sh "
           "test installs them")

TURN_SECRET = "coturn-static-auth-secret-" + "c" * 30
BROWSER_HZ = 1000.0


async def wss_responder(tmp_path: Path) -> tuple[SipResponder, Path, ServerCert]:
    """The SIP responder over wss:// with a certificate of a fresh private CA (for 127.0.0.1);
    returns the CA and the certificate."""
    cert = make_cert(tmp_path / "tls")
    conf = pjsip_sections(SIP_SECRET, ["1001"])
    responder = SipResponder({"1001": pjsip_password(conf, "1001")}, tls=cert.server_context())
    await responder.start()
    return responder, cert.ca, cert


async def test_registers_when_the_ca_is_in_the_browsers_store_and_not_with_another_ca(
        tmp_path: Path) -> None:
    responder, ca, _ = await wss_responder(tmp_path)
    other_ca = make_cert(tmp_path / "other-tls").ca
    client, crm = await server(tmp_path, responder.url)
    errors: list[str] = []
    try:
        # The store trusts a CA, but not the one that signed the phone server's certificate.
        async with chromium(home=nss_home(tmp_path / "home-other", other_ca)) as browser:
            page = await browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            await open_page(page, client)
            await page.wait_for_selector(".sp-status[data-state=disconnected]", timeout=WAIT_MS)
            text = await page.locator(".sp-status").text_content() or ""
            assert text.startswith("Disconnected from the phone server: never reached it")
            assert "trusts the phone server's certificate" in text
            assert not responder.log and not responder.registered.is_set()

        # The right CA in the store, no pin, no flag: registered over TLS.
        async with chromium(home=nss_home(tmp_path / "home", ca)) as browser:
            page = await browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            await open_page(page, client)
            await page.wait_for_selector(".sp-status[data-state=registered]", timeout=WAIT_MS)
            register = await responder.wait_for(
                lambda m: m.method == "REGISTER" and bool(m.all("Authorization")))
            assert register.header("Via").startswith("SIP/2.0/WSS ")
            assert responder.auth_failures == 0
        assert errors == []
    finally:
        await client.close()
        await crm.close()
        await responder.close()


async def stats(page: Any) -> dict[str, Any]:
    out: dict[str, Any] = await page.evaluate(STATS)
    return out


@pytest.mark.parametrize("transport", ["udp", "tls"])
async def test_relay_only_call_carries_audio_both_ways_through_coturn(
        tmp_path: Path, transport: str) -> None:
    # udp: turn:...?transport=udp; tls: turns:...?transport=tcp (networks that let only TLS
    # out), whose certificate the browser checks against the same store as the websocket's.
    tone = write_tone(tmp_path / "browser-1000hz.wav", BROWSER_HZ, seconds=10, rate=48000)
    responder, ca, cert = await wss_responder(tmp_path)
    peer = MediaPeer()
    errors: list[str] = []
    async with coturn(tmp_path / "turn", TURN_SECRET,
                      tls=cert if transport == "tls" else None) as relay:
        url = relay.turns_url if transport == "tls" else relay.url
        client, crm = await server(tmp_path, responder.url, turn_urls=[url],
                                   turn_secret=TURN_SECRET, ice_transport_policy="relay")
        try:
            async with chromium(f"--use-file-for-fake-audio-capture={tone}",
                                home=nss_home(tmp_path / "home", ca)) as browser:
                page = await browser.new_page()
                await page.add_init_script(TRACK_PCS)
                await page.clock.install()   # real time, until the test jumps ahead below
                page.on("pageerror", lambda e: errors.append(str(e)))
                asked = []
                page.on("request", lambda r: asked.append(r.url)
                        if "/api/softphone/config" in r.url else None)
                await open_page(page, client)
                await page.wait_for_selector(".sp-status[data-state=registered]",
                                             timeout=WAIT_MS)
                config = await page.evaluate("window.softphoneConfig")
                assert config["ice_transport_policy"] == "relay"
                [entry] = config["ice_servers"]
                assert entry["urls"] == [url]
                expiry, _, agent = entry["username"].partition(":")
                assert agent == "1001" and int(expiry) >= time.time() + 3000

                # Half the credentials' lifetime (3600 s) later, a call makes the page ask for
                # new ones (coturn checks them when the call's relay is allocated).
                await page.clock.fast_forward("31:00")
                assert len(asked) == 2   # the test page's own read, then mountIfEnabled's
                call_id = await responder.send_invite(CALLER, "Wang Fang",
                                                      sdp=await peer.offer())
                await page.wait_for_selector(".sp-call[data-state=incoming]", timeout=WAIT_MS)
                await page.click("button[data-action=answer]")
                ok = await responder.wait_for(
                    lambda m: m.status == 200 and m.cseq_method == "INVITE")
                # Relay only: the browser offers no address of its own, only coturn's.
                candidates = re.findall(r"^a=candidate:.*$", ok.body, re.M)
                assert candidates and all(" typ relay " in c for c in candidates), candidates
                await peer.accept(ok.body)
                await page.wait_for_selector(".sp-call[data-state=in_call]", timeout=WAIT_MS)
                assert len(asked) == 3
                ice = await page.evaluate("window.phone.ice")
                assert ice["refreshes"] == 1 and ice["policy"] == "relay"
                refreshed = ice["servers"][0]["username"]
                assert int(refreshed.partition(":")[0]) >= int(expiry)

                # Until 100 packets went each way (a guard against hanging, not a speed check).
                s: dict[str, Any] = {}
                for _ in range(200):
                    s = await stats(page)
                    inbound, outbound = s.get("inbound") or {}, s.get("outbound") or {}
                    if (inbound.get("packetsReceived", 0) >= 100
                            and outbound.get("packetsSent", 0) >= 100 and peer.frames >= 100):
                        break
                    await asyncio.sleep(0.1)
                assert s["policy"] == "relay"
                assert s["connection"] == "connected"
                local, pair = s["local_candidate"], s["pair"]
                assert local["candidateType"] == "relay" and local["relayProtocol"] == transport
                assert local["url"] == url
                assert local["address"] == "127.0.0.1"
                assert RELAY_PORTS[0] <= local["port"] <= RELAY_PORTS[1]
                assert pair["state"] == "succeeded" and pair["nominated"]
                assert pair["bytesSent"] > 0 and pair["bytesReceived"] > 0
                # The caller's tone reached the browser, the browser's reached the caller.
                assert s["inbound"]["packetsReceived"] >= 100
                assert s["inbound"]["totalAudioEnergy"] > 0
                assert s["outbound"]["packetsSent"] >= 100
                assert peer.frames >= 100 and peer.loud_frames >= 50, (peer.frames,
                                                                       peer.loud_frames)

                await page.click("button[data-action=hangup]")
                bye = await responder.wait_for(lambda m: m.method == "BYE" and m.is_request)
                assert bye.header("Call-ID") == call_id
            # coturn relayed under the agent's own, expiring user name.
            log = relay.log_text()
            assert f"user <{refreshed}>: incoming packet ALLOCATE processed, success" in log
            assert TURN_SECRET not in log
            assert errors == []
        finally:
            await peer.close()
            await client.close()
            await crm.close()
            await responder.close()


async def test_coturn_accepts_the_servers_credentials_and_refuses_expired_or_forged_ones(
        tmp_path: Path) -> None:
    async with coturn(tmp_path / "turn", TURN_SECRET) as relay:
        async def allocate(username: str, password: str) -> str:
            try:
                transport, _ = await asyncio.wait_for(turn.create_turn_endpoint(
                    asyncio.DatagramProtocol, ("127.0.0.1", relay.port), username, password),
                    WAIT_MS / 1000)
            except TransactionFailed as exc:
                return str(exc)
            transport.close()
            return "allocated"

        now = time.time()
        good = turn_credentials(TURN_SECRET, "1001", now, 600)
        assert await allocate(good.username, good.credential) == "allocated"
        expired = turn_credentials(TURN_SECRET, "1001", now - 700, 600)
        assert expired.expires_at < now
        assert "401" in await allocate(expired.username, expired.credential)
        # Another agent's name or a later expiry with this password: not accepted.
        assert "401" in await allocate(good.username.replace(":1001", ":1002"),
                                       good.credential)
        assert "401" in await allocate(f"{good.expires_at + 86_400}:1001", good.credential)
        # A credential made with another secret.
        other = turn_credentials(TURN_SECRET + "x", "1001", now, 600)
        assert "401" in await allocate(other.username, other.credential)


GATHER = """async ([url, username, credential]) => {
  const pc = new RTCPeerConnection({iceServers: [{urls: [url], username, credential}],
                                    iceTransportPolicy: 'relay'});
  pc.addTransceiver('audio');
  const candidates = [];
  const errors = [];
  pc.onicecandidate = (e) => { if (e.candidate) candidates.push(e.candidate.candidate); };
  pc.onicecandidateerror = (e) => errors.push(e.errorCode);
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === 'complete') done();
    pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') done(); };
  });
  pc.close();
  return {candidates, errors};
}"""


async def test_turns_needs_a_relay_certificate_the_browsers_store_trusts(tmp_path: Path) -> None:
    cert = make_cert(tmp_path / "tls")
    async with coturn(tmp_path / "turn", TURN_SECRET, tls=cert) as relay:
        creds = turn_credentials(TURN_SECRET, "1001", time.time(), 600)
        found = {}
        for name, cas in (("untrusted", ()), ("trusted", (cert.ca,))):
            async with chromium(home=nss_home(tmp_path / name, *cas)) as browser:
                page = await browser.new_page()
                found[name] = await asyncio.wait_for(page.evaluate(
                    GATHER, [relay.turns_url, creds.username, creds.credential]), WAIT_MS / 1000)
        # Not trusted: no relay at all (701: the TLS connection to the relay failed).
        assert found["untrusted"]["candidates"] == []
        assert set(found["untrusted"]["errors"]) == {701}
        [candidate] = found["trusted"]["candidates"]
        assert " typ relay " in candidate and found["trusted"]["errors"] == []


ROOT = Path(__file__).resolve().parents[2]


class _Relayed(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.errors: list[Exception] = []

    def error_received(self, exc: Exception) -> None:
        self.errors.append(exc)


async def test_the_reference_coturn_config_relays_to_asterisk_only(tmp_path: Path) -> None:
    # config/coturn/turnserver.conf as an operator fills it in: the secret, Asterisk's address
    # (here a UDP socket on 127.0.0.1), no certificate (the test has no TLS listener).
    reference = (ROOT / "config" / "coturn" / "turnserver.conf").read_text()
    config = (reference.replace("static-auth-secret=CHANGE-ME", f"static-auth-secret={TURN_SECRET}")
              .replace("allowed-peer-ip=ASTERISK_RTP_ADDRESS", "allowed-peer-ip=127.0.0.1"))
    config = "\n".join(ln for ln in config.splitlines() if not ln.startswith(("cert=", "pkey=")))
    asterisk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    asterisk.bind(("127.0.0.1", 0))
    asterisk.setblocking(False)
    try:
        async with coturn(tmp_path / "turn", TURN_SECRET, config=config) as relay:
            creds = turn_credentials(TURN_SECRET, "1001", time.time(), 600)
            transport, relayed = await asyncio.wait_for(turn.create_turn_endpoint(
                _Relayed, ("127.0.0.1", relay.port), creds.username, creds.credential),
                WAIT_MS / 1000)
            try:
                transport.sendto(b"to asterisk", asterisk.getsockname())
                # Another address, loopback too: refused by the deny-all + allow-Asterisk rules.
                transport.sendto(b"elsewhere", ("127.0.0.2", asterisk.getsockname()[1]))
                loop = asyncio.get_running_loop()
                data, _ = await asyncio.wait_for(loop.sock_recvfrom(asterisk, 100),
                                                 WAIT_MS / 1000)
                assert data == b"to asterisk"
                for _ in range(100):   # until coturn answered the second permission
                    if relayed.errors:
                        break
                    await asyncio.sleep(0.05)
                assert [str(e) for e in relayed.errors] == [
                    "STUN transaction failed (403 - Forbidden IP)"]
            finally:
                transport.close()
            assert "A peer IP 127.0.0.2 denied" in relay.log_text()
    finally:
        asterisk.close()
