#!/usr/bin/env python3
"""The browser softphone against the lab's real Asterisk, over wss://, with audio both ways.

Needs the lab set up with TLS and running, and the CTI server running against it:

    scripts/asterisk_lab.sh tls && scripts/asterisk_lab.sh start
    CTI_AMI__SECRET=lab-secret CTI_SOFTPHONE__PASSWORD_SECRET=... \\
        .venv/bin/python run_server.py --config $ASTERISK_LAB/cti-lab.toml &
    .venv/bin/python scripts/asterisk_lab_softphone.py [--keep-recording tests/data/...]

Then: Debian's chromium (headless, playwright) logs in to the agent desktop as the softphone
agent (extension 1003), whose panel registers over wss:// to res_pjsip_transport_websocket. The
certificate is the lab's own (LAB/keys): chromium trusts it because the lab CA is in the
certificate store it reads (an NSS database in LAB/softphone-check/home/.pki/nssdb, made with
libnss3-tools' certutil, as an agent's computer would have it installed), with no pin or ignore
flag; `--pin` trusts it by its key pin instead (--ignore-certificate-errors-spki-list), as before.
With the lab's TURN relay (`scripts/asterisk_lab.sh turn-start`, `LAB_TURN=1 ... tls`: coturn,
[softphone] ice_transport_policy = "relay") the checks include that the media's candidate pair
is the relay's. The browser's microphone is
chromium's fake capture device playing a 1000 Hz tone; a pjsua caller plays 600 Hz into
[from-carrier], goes through the IVR (key 0) and the ACD's queue to the softphone, records what it
hears. The panel answers, both sides talk for --talk seconds, the panel hangs up. Measured:
WebRTC getStats() in the browser (inbound/outbound RTP, audio level, DTLS/ICE state, codec), the
dominant frequency of what the browser receives (WebAudio analyser), Asterisk's `pjsip show
channelstats`, and the caller's recording (RMS, seconds of each tone: scripts/lab_audio.py).
Prints one JSON object; exit status 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.asterisk_lab_phone import LAB, SIP, Api, Phone  # noqa: E402
from scripts.lab_audio import analyse, write_tone  # noqa: E402
from tests.browser import CHROMIUM_ARGS, chromium_path  # noqa: E402
from tests.nss_store import nss_home  # noqa: E402
from tests.webrtc_stats import STATS, TRACK_PCS  # noqa: E402

BROWSER_HZ = 1000.0   # the agent's "voice": chromium's fake microphone
CALLER_HZ = 600.0     # the customer's: pjsua's player
MOH_HZ = 440.0        # the lab's music on hold (scripts/asterisk_lab.sh), heard while queued
OUTBOUND = "+12125550188"
CARRIER_PORT = int(os.environ.get("LAB_CARRIER_PORT", "15070"))   # [carrier]'s contact in the lab
CALLER_PORT = int(os.environ.get("LAB_CALLER_PORT", "15081"))     # the pjsua caller's SIP port
CTI_BASE = f"http://127.0.0.1:{os.environ.get('LAB_CTI_HTTP_PORT', '18180')}"

# The dominant frequency of what the softphone plays (its <audio>'s stream), by WebAudio.
SPECTRUM = """
async (ms) => {
  const audio = document.querySelector('.sp-remote-audio');
  if (!audio || !audio.srcObject) return null;
  const ctx = new AudioContext();
  await ctx.resume();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 8192;
  analyser.smoothingTimeConstant = 0;
  ctx.createMediaStreamSource(audio.srcObject).connect(analyser);
  const bins = new Float32Array(analyser.frequencyBinCount);
  const peaks = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 250));
    analyser.getFloatFrequencyData(bins);
    let best = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    peaks.push({hz: best * ctx.sampleRate / analyser.fftSize, db: bins[best]});
  }
  await ctx.close();
  return peaks;
}
"""


def cli(*args: str) -> str:
    script = ROOT / "scripts" / "asterisk_lab.sh"
    return subprocess.run([str(script), "cli", *args], capture_output=True, text=True,  # noqa: S603
                          check=False, env={**os.environ, "ASTERISK_LAB": str(LAB)}).stdout


def pick(d: dict[str, Any] | None, *keys: str) -> dict[str, Any]:
    return {k: d.get(k) for k in keys} if d else {}


async def run(opts: argparse.Namespace) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    work = LAB / "softphone-check"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    browser_wav = write_tone(work / "browser-1000hz.wav", BROWSER_HZ, seconds=10, rate=48000)
    caller_wav = write_tone(work / "caller-600hz.wav", CALLER_HZ, seconds=10, rate=8000)
    heard = work / "caller-heard.wav"
    if opts.pin:
        trust = [f"--ignore-certificate-errors-spki-list="
                 f"{(LAB / 'keys' / 'asterisk.spki').read_text().strip()}"]
        home: Path | None = None
    else:
        trust, home = [], nss_home(work / "home", LAB / "keys" / "ca.crt")
    base = opts.base.rstrip("/")
    result: dict[str, Any] = {"ws_url": None, "checks": {}}
    logs: list[str] = []

    admin = Api(base, opts.admin_user, opts.admin_password)
    agent = Api(base, opts.agent_user, opts.agent_password)
    for other in opts.pause:   # the lab's desk-phone agents: not this call's
        try:
            Api(base, other, opts.agent_password).post("/api/acd/me/pause", {"reason": "break"})
        except RuntimeError as exc:
            logs.append(f"pause {other}: {exc}")

    result["certificate_trust"] = "pin" if opts.pin else "nss_store"
    args = [*CHROMIUM_ARGS, *trust,
            f"--use-file-for-fake-audio-capture={browser_wav}",
            "--autoplay-policy=no-user-gesture-required"]
    caller: Phone | None = None
    carrier: Phone | None = None
    carrier_heard = work / "carrier-heard.wav"
    mix_rx, mix_tx = work / "asterisk-from-browser.wav", work / "asterisk-to-browser.wav"
    phases: dict[str, tuple[float, float]] = {}   # seconds after the answer
    stats_end: dict[str, Any] | None = None
    async with async_playwright() as pw:
        if not opts.pin:
            result["untrusted"] = await untrusted_store(pw, opts, work)
            result["checks"]["untrusted_store_refused_with_message"] = (
                result["untrusted"]["state"] == "disconnected"
                and any(w in (result["untrusted"]["text"] or "") for w in ("certificate", "证书")))
        env = {**os.environ, "HOME": str(home)} if home is not None else None
        browser = await pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                           args=args, env=env)
        try:
            page = await browser.new_page()
            await page.add_init_script(TRACK_PCS)
            page.on("console", lambda m: logs.append(f"console {m.type}: {m.text}"))
            page.on("pageerror", lambda e: logs.append(f"pageerror {e}"))
            page.on("websocket", lambda ws: logs.append(f"websocket {ws.url}"))
            await page.goto(f"{base}/desktop")
            await page.fill("#login-username", opts.agent_user)
            await page.fill("#login-password", opts.agent_password)
            await page.press("#login-password", "Enter")
            await page.wait_for_selector(".sp-status[data-state=registered]", timeout=30_000)
            result["ws_url"] = next((x.split(" ", 1)[1] for x in logs
                                     if x.startswith("websocket wss:")), None)
            result["checks"]["registered_over_wss"] = bool(result["ws_url"])
            sp_config = await page.evaluate(
                "import('/static/app.js').then((m) => m.api('/api/softphone/config'))"
                ".catch(() => null)")
            result["ice_transport_policy"] = (sp_config or {}).get("ice_transport_policy")
            result["ice_servers"] = [{"urls": x.get("urls"), "username": x.get("username")}
                                     for x in (sp_config or {}).get("ice_servers", [])]
            result["pjsip_contact"] = [ln.strip() for ln in cli("pjsip show contacts").splitlines()
                                       if opts.extension in ln and "Contact:" in ln]

            try:
                agent.post("/api/acd/me/login", {"extension": opts.extension})
            except RuntimeError as exc:
                logs.append(f"login: {exc}")
            if agent.get("/api/acd/me")["state"] != "available":  # type: ignore[index]
                agent.post("/api/acd/me/available")
            caller = Phone("+12125550177", port=CALLER_PORT, auto_answer=False, name="caller-wss",
                           play_file=caller_wav, rec_file=heard)
            await asyncio.sleep(1)
            t_call = time.monotonic()
            caller.call(f"sip:+15551230000@{SIP}")
            await asyncio.sleep(3)
            caller.dtmf("0")   # the shipped IVR's main menu: 0 = an agent
            await page.wait_for_selector(".sp-call[data-state=incoming]", timeout=90_000)
            result["incoming_number"] = await page.locator(".sp-caller").get_attribute(
                "data-number")
            await page.click("button[data-action=answer]")
            await page.wait_for_selector(".sp-call[data-state=in_call]", timeout=15_000)
            t_answer = time.monotonic()
            result["answered_after_call_s"] = round(t_answer - t_call, 1)
            result["agent_state_in_call"] = agent.get("/api/acd/me")["state"]  # type: ignore[index]

            # Asterisk's own ears: MixMonitor on the softphone's channel, each direction in its
            # own file (r: what Asterisk received from the browser, after SRTP; t: what it sent).
            concise = cli("core show channels concise").splitlines()   # fields split by "!"
            channel = next((ln.split("!")[0] for ln in concise
                            if ln.startswith(f"PJSIP/{opts.extension}-")), "")
            result["softphone_channel"] = channel
            if channel:
                cli(f"mixmonitor start {channel} {mix_rx.parent / 'mix-both.wav'},"
                    f"r({mix_rx})t({mix_tx})")
            spectrum = await page.evaluate(SPECTRUM, int(opts.talk * 1000 / 2))
            result["asterisk_channelstats"] = [ln.rstrip() for ln in
                                               cli("pjsip show channelstats").splitlines()
                                               if ln.strip()]
            await asyncio.sleep(opts.talk / 2)
            if channel:
                cli(f"mixmonitor stop {channel}")
            stats = await page.evaluate(STATS)
            phases["talk"] = (0.0, time.monotonic() - t_answer)
            # The keypad: RFC 4733 events from the browser, through Asterisk, to the caller.
            for tone in opts.dtmf:
                await page.click(f"button[data-tone='{tone}']")
                await asyncio.sleep(0.4)
            # Hold from the panel: Asterisk plays the caller music on hold (the lab's 440 Hz).
            await page.click("button[data-action=hold]")
            await page.wait_for_selector("button[data-action=hold][aria-pressed=true]")
            t = time.monotonic() - t_answer
            await asyncio.sleep(opts.phase)
            phases["hold"] = (t, time.monotonic() - t_answer)
            await page.click("button[data-action=hold]")
            await page.wait_for_selector("button[data-action=hold][aria-pressed=false]")
            t = time.monotonic() - t_answer
            await asyncio.sleep(opts.phase)
            phases["resumed"] = (t, time.monotonic() - t_answer)
            await page.click("button[data-action=mute]")
            await page.wait_for_selector("button[data-action=mute][aria-pressed=true]")
            t = time.monotonic() - t_answer
            await asyncio.sleep(opts.phase)
            phases["muted"] = (t, time.monotonic() - t_answer)
            await page.click("button[data-action=mute]")
            await page.wait_for_selector("button[data-action=mute][aria-pressed=false]")
            if opts.acd_hold:
                # REST hold of this ACD-routed call: the ACD redirects the softphone's channel to
                # [cti-hold] and its FastAGI session plays the caller music (acd/hold.py); unhold
                # bridges them again with Bridge(agent,x). The browser's call stays up.
                mine = agent.get("/api/calls/mine")
                call_id = mine[0]["call_id"] if isinstance(mine, list) and mine else ""
                result["acd_hold"] = {"call_id": call_id,
                                      "hold": agent.post(f"/api/calls/{call_id}/hold")}
                t = time.monotonic() - t_answer
                await asyncio.sleep(opts.phase + 1)
                phases["acd_hold"] = (t, time.monotonic() - t_answer)
                result["acd_hold"]["panel_during_hold"] = await page.locator(
                    ".sp-call").get_attribute("data-state")
                result["acd_hold"]["unhold"] = agent.post(f"/api/calls/{call_id}/unhold")
                t = time.monotonic() - t_answer
                await asyncio.sleep(opts.phase + 1)
                phases["acd_resumed"] = (t, time.monotonic() - t_answer)
                result["acd_hold"]["panel_after"] = await page.locator(
                    ".sp-call").get_attribute("data-state")
                result["acd_hold"]["agent_state"] = agent.get(
                    "/api/acd/me")["state"]  # type: ignore[index]
            stats_end = await page.evaluate(STATS)
            await page.click("button[data-action=hangup]")
            await page.wait_for_selector(".sp-call[data-state=idle]", state="attached",
                                         timeout=15_000)
            result["agent_state_after"] = agent.get("/api/acd/me")["state"]  # type: ignore[index]
            if opts.outbound:
                carrier = Phone("carrier", port=CARRIER_PORT, auto_answer=True,
                                name="carrier-wss", play_file=caller_wav, rec_file=carrier_heard)
                await asyncio.sleep(1)
                result["outbound"] = await outbound_call(page, opts, agent, admin)
            if opts.restart_asterisk:
                result["restart"] = await restart_asterisk(page)
                checks = result["checks"]
                checks["reregistered_after_asterisk_restart"] = bool(
                    result["restart"].get("registered_again"))
        finally:
            await browser.close()
            if caller is not None:
                await asyncio.sleep(1)
                caller.close()
            if carrier is not None:
                carrier.close()

    inbound = pick(stats and stats["inbound"], "packetsReceived", "bytesReceived", "packetsLost",
                   "jitter", "audioLevel", "totalAudioEnergy", "totalSamplesDuration")
    outbound = pick(stats and stats["outbound"], "packetsSent", "bytesSent")
    transport = pick(stats and stats["transport"], "dtlsState", "dtlsRole", "tlsVersion",
                     "dtlsCipher", "srtpCipher", "iceState")
    sdp = (stats or {}).get("remote_sdp") or ""
    result["browser"] = {
        "inbound_rtp": inbound, "outbound_rtp": outbound, "transport": transport,
        "codecs": sorted(set((stats or {}).get("codecs", []))),
        "ice": (stats or {}).get("ice"), "connection": (stats or {}).get("connection"),
        "ice_transport_policy": (stats or {}).get("policy"),
        "pair": pick((stats or {}).get("pair"), "state", "nominated", "bytesSent",
                     "bytesReceived", "currentRoundTripTime"),
        "local_candidate": pick((stats or {}).get("local_candidate"), "address", "port",
                                "protocol", "candidateType", "relayProtocol", "url"),
        "remote_candidate": pick((stats or {}).get("remote_candidate"), "address", "port",
                                 "protocol", "candidateType"),
        "asterisk_sdp": {"rtcp_mux": "a=rtcp-mux" in sdp,
                         "profile": next((ln.split()[2] for ln in sdp.splitlines()
                                          if ln.startswith("m=audio")), None),
                         "fingerprint": "a=fingerprint:" in sdp,
                         "ice": "a=ice-ufrag:" in sdp,
                         "candidates": [ln.strip() for ln in sdp.splitlines()
                                        if ln.startswith("a=candidate:")]},
        "heard_peaks_hz": [round(p["hz"]) for p in spectrum or []],
    }
    near = [p for p in spectrum or [] if abs(p["hz"] - CALLER_HZ) <= 15]
    freqs = (BROWSER_HZ, CALLER_HZ, MOH_HZ)
    rec = analyse(heard, freqs)
    result["caller_recording"] = {
        "seconds": round(rec.seconds, 1), "rate": rec.rate, "rms": round(rec.rms, 1),
        "peak": rec.peak, "silent": rec.silent,
        "tones": [{"hz": t.freq_hz, "seconds": t.seconds, "rms": round(t.rms, 1),
                   "first_s": t.first_s} for t in rec.tones]}
    # The answer in the recording: where the browser's tone starts. Each phase is looked at
    # without its first and last second (signalling takes a moment either way).
    answer_at = rec.tones[0].first_s or 0.0
    by_phase: dict[str, dict[str, float]] = {}
    for name, (a, b) in phases.items():
        part = analyse(heard, freqs, start_s=answer_at + a + 1.0, end_s=answer_at + b - 1.0)
        by_phase[name] = {"seconds": round(part.seconds, 1), "rms": round(part.rms, 1),
                          **{f"{t.freq_hz:g}hz_s": t.seconds for t in part.tones}}
    result["caller_heard_by_phase"] = by_phase
    result["phases_s"] = {k: [round(a, 1), round(b, 1)] for k, (a, b) in phases.items()}
    result["answer_in_recording_s"] = answer_at
    asterisk_side: dict[str, Any] = {}
    for name, path in (("from_browser", mix_rx), ("to_browser", mix_tx)):
        if path.exists():
            got = analyse(path, freqs)
            asterisk_side[name] = {"seconds": round(got.seconds, 1), "rms": round(got.rms, 1),
                                   **{f"{t.freq_hz:g}hz_s": t.seconds for t in got.tones}}
    result["asterisk_mixmonitor"] = asterisk_side
    caller_log = caller.output() if caller is not None else ""
    result["caller_dtmf"] = "".join(
        ln.split("Incoming DTMF on call 0: ", 1)[1][:1] for ln in caller_log.splitlines()
        if "Incoming DTMF on call 0: " in ln)
    end_in = pick(stats_end and stats_end["inbound"], "packetsReceived", "bytesReceived",
                  "packetsLost", "audioLevel")
    end_out = pick(stats_end and stats_end["outbound"], "packetsSent", "bytesSent")
    result["browser"]["at_hangup"] = {"inbound_rtp": end_in, "outbound_rtp": end_out}
    if opts.keep_recording:
        # The part after the answer, as a test fixture (no absolute paths in it).
        trim(heard, Path(opts.keep_recording), max(0.0, answer_at - 0.5), seconds=3.0)
        result["kept"] = str(opts.keep_recording)
    browser_tone = rec.tones[0]
    checks = result["checks"]
    checks["rang_with_caller_number"] = result.get("incoming_number") == "+12125550177"
    checks["browser_received_rtp"] = (inbound.get("bytesReceived") or 0) > 0
    checks["browser_audio_level"] = (inbound.get("audioLevel") or 0) > 0
    checks["browser_sent_rtp"] = (outbound.get("bytesSent") or 0) > 0
    checks["browser_heard_caller_tone"] = len(near) >= max(1, len(spectrum or []) // 2)
    checks["dtls_connected"] = transport.get("dtlsState") == "connected"
    if opts.expect_relay:
        local = result["browser"]["local_candidate"]
        checks["relay_policy_in_browser"] = result["browser"]["ice_transport_policy"] == "relay"
        checks["media_through_turn_relay"] = local.get("candidateType") == "relay"
    checks["caller_heard_browser_tone"] = browser_tone.seconds >= opts.talk / 2
    talk, hold, resumed, muted = (by_phase.get(k, {}) for k in
                                  ("talk", "hold", "resumed", "muted"))
    rx, tx = asterisk_side.get("from_browser", {}), asterisk_side.get("to_browser", {})
    checks["asterisk_received_browser_tone"] = rx.get("1000hz_s", 0) >= 1
    checks["asterisk_sent_caller_tone"] = tx.get("600hz_s", 0) >= 1
    checks["caller_got_dtmf"] = result["caller_dtmf"] == opts.dtmf
    checks["hold_plays_moh_not_agent"] = (hold.get("440hz_s", 0) > 0
                                         and hold.get("1000hz_s", 1) == 0)
    checks["resume_brings_agent_back"] = resumed.get("1000hz_s", 0) > 0
    checks["mute_silences_agent"] = muted.get("1000hz_s", 1) == 0 and talk.get("1000hz_s", 0) > 0
    if opts.acd_hold:
        held, back = by_phase.get("acd_hold", {}), by_phase.get("acd_resumed", {})
        acd = result.get("acd_hold", {})
        checks["acd_hold_plays_moh_not_agent"] = (held.get("440hz_s", 0) > 0
                                                 and held.get("1000hz_s", 1) == 0)
        checks["acd_unhold_brings_agent_back"] = back.get("1000hz_s", 0) > 0
        checks["acd_hold_keeps_the_softphone_call"] = (acd.get("panel_during_hold") == "in_call"
                                                      and acd.get("panel_after") == "in_call")
    checks["agent_on_call_then_wrap_up"] = (result.get("agent_state_in_call") == "on_call"
                                           and result.get("agent_state_after") == "wrap_up")
    if opts.outbound:
        out = result.get("outbound", {})
        heard_out = analyse(carrier_heard, freqs) if carrier_heard.exists() else None
        out["carrier_recording"] = None if heard_out is None else {
            "seconds": round(heard_out.seconds, 1), "rms": round(heard_out.rms, 1),
            **{f"{t.freq_hz:g}hz_s": t.seconds for t in heard_out.tones}}
        o_in = out.get("inbound_rtp", {})
        checks["outbound_in_call"] = out.get("panel") == "in_call"
        checks["outbound_browser_received"] = (o_in.get("bytesReceived") or 0) > 0
        checks["outbound_browser_heard_far_end"] = out.get("heard_600hz", 0) >= 1
        checks["outbound_far_end_heard_browser"] = (heard_out is not None
                                                   and heard_out.tones[0].seconds >= 1)
        checks["outbound_recorded_as_agents_call"] = out.get("server_call_agent") == opts.agent_user
        if opts.expect_relay:
            checks["outbound_media_through_turn_relay"] = (
                out.get("local_candidate", {}).get("candidateType") == "relay")
    result["ok"] = all(checks.values())
    result["log_errors"] = [x for x in logs if "error" in x.lower()][-20:]
    _ = admin
    return result


async def untrusted_store(pw: Any, opts: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The same desktop in a chromium whose certificate store lacks the lab CA: the panel must
    not register and must say why it may be (browsers tell a page nothing about a websocket's
    certificate)."""
    home = nss_home(work / "home-untrusted")
    browser = await pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                       args=CHROMIUM_ARGS, env={**os.environ, "HOME": str(home)})
    try:
        page = await browser.new_page()
        await page.goto(f"{opts.base.rstrip('/')}/desktop")
        await page.fill("#login-username", opts.agent_user)
        await page.fill("#login-password", opts.agent_password)
        await page.press("#login-password", "Enter")
        await page.wait_for_selector(".sp-status[data-state=disconnected]", timeout=30_000)
        status = page.locator(".sp-status")
        return {"state": await status.get_attribute("data-state"),
                "text": await status.text_content()}
    finally:
        await browser.close()


async def restart_asterisk(page: Any) -> dict[str, Any]:
    """Asterisk stops and starts again under the registered panel: it must say so and register
    again over wss by itself (JsSIP's reconnection)."""
    script = ROOT / "scripts" / "asterisk_lab.sh"
    env = {**os.environ, "ASTERISK_LAB": str(LAB)}
    out: dict[str, Any] = {}
    await asyncio.to_thread(subprocess.run, [str(script), "stop"], env=env, check=True,
                            capture_output=True)
    await page.wait_for_selector(".sp-status[data-state=disconnected]", timeout=30_000)
    out["panel_while_down"] = await page.locator(".sp-status").text_content()
    await asyncio.to_thread(subprocess.run, [str(script), "start"], env=env, check=True,
                            capture_output=True)
    started = time.monotonic()
    await page.wait_for_selector(".sp-status[data-state=registered]", timeout=90_000)
    out["registered_again"] = True
    out["seconds_after_start"] = round(time.monotonic() - started, 1)
    out["pjsip_contact"] = [ln.strip() for ln in cli("pjsip show contacts").splitlines()
                            if "Contact:" in ln and "transport=ws" in ln]
    return out


async def outbound_call(page: Any, opts: argparse.Namespace, agent: Api,
                        admin: Api) -> dict[str, Any]:
    """A call from the panel's dial box: [from-cti] sends it to the carrier (a pjsua answering
    with the 600 Hz tone and recording). The browser's side is measured as for the inbound call."""
    out: dict[str, Any] = {"number": OUTBOUND}
    await page.fill(".sp-number", OUTBOUND)
    await page.click("button[data-action=call]")
    await page.wait_for_selector(".sp-call[data-state=in_call]", timeout=30_000)
    out["panel"] = await page.locator(".sp-call").get_attribute("data-state")
    spectrum = await page.evaluate(SPECTRUM, int(opts.talk * 1000 / 2))
    out["heard_600hz"] = sum(1 for p in spectrum or [] if abs(p["hz"] - CALLER_HZ) <= 15)
    out["heard_readings"] = len(spectrum or [])
    calls = admin.get("/api/calls")
    mine = [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []
    live = next((c for c in mine if OUTBOUND.lstrip("+") in (c.get("dialled") or "")
                 or OUTBOUND in (c.get("dialled") or "")), mine[0] if mine else {})
    out["server_call"] = {k: live.get(k) for k in ("call_id", "direction", "origin", "dialled")}
    out["server_call_agent"] = (live.get("agent") or {}).get("user")
    await asyncio.sleep(opts.talk / 2)
    stats = await page.evaluate(STATS)
    out["inbound_rtp"] = pick(stats and stats["inbound"], "packetsReceived", "bytesReceived",
                              "packetsLost", "audioLevel")
    out["outbound_rtp"] = pick(stats and stats["outbound"], "packetsSent", "bytesSent")
    out["dtls"] = pick(stats and stats["transport"], "dtlsState", "srtpCipher")
    out["local_candidate"] = pick(stats and stats.get("local_candidate"), "address", "port",
                                  "candidateType", "relayProtocol")
    await page.click("button[data-action=hangup]")
    await page.wait_for_selector(".sp-call[data-state=idle]", state="attached", timeout=15_000)
    _ = agent
    return out


def trim(src: Path, dst: Path, start_s: float, *, seconds: float) -> None:
    import wave

    with wave.open(str(src), "rb") as r:
        rate, width, ch = r.getframerate(), r.getsampwidth(), r.getnchannels()
        r.setpos(min(r.getnframes(), int(start_s * rate)))
        frames = r.readframes(int(seconds * rate))
    dst.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(dst), "wb") as w:
        w.setnchannels(ch)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", default=CTI_BASE, help="the CTI server (LAB_CTI_HTTP_PORT)")
    p.add_argument("--pin", action="store_true",
                   help="trust the lab certificate by its key pin instead of the lab CA in the "
                        "browser's certificate store")
    p.add_argument("--expect-relay", action="store_true",
                   help="check the media went through the TURN relay (LAB_TURN=1)")
    p.add_argument("--agent-user", default="agent3")
    p.add_argument("--agent-password", default="agent-pass-1")
    p.add_argument("--admin-user", default="admin")
    p.add_argument("--admin-password", default="admin-lab-pass")
    p.add_argument("--extension", default="1003")
    p.add_argument("--pause", nargs="*", default=["agent1", "agent2"],
                   help="other agents to pause first, so the ACD offers the call to --agent-user")
    p.add_argument("--talk", type=float, default=8.0, help="seconds of conversation")
    p.add_argument("--phase", type=float, default=4.0,
                   help="seconds of each of hold, resumed and muted")
    p.add_argument("--no-acd-hold", dest="acd_hold", action="store_false",
                   help="skip the REST hold/unhold of the call (the ACD's own hold)")
    p.add_argument("--restart-asterisk", action="store_true",
                   help="at the end, stop and start Asterisk: the panel must register again")
    p.add_argument("--no-outbound", dest="outbound", action="store_false",
                   help="skip the call from the panel to the carrier")
    p.add_argument("--dtmf", default="5#", help="keys pressed on the panel's keypad")
    p.add_argument("--keep-recording", default="", help="save 3 s of the caller's recording here")
    opts = p.parse_args()
    result = asyncio.run(run(opts))
    print(json.dumps(result, default=str))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
