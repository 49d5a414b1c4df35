"""scripts/asterisk_lab.sh's `tls` and `config` steps (no Asterisk needed: a stand-in binary).

`tls` is how the browser softphone was run over wss:// against a real Asterisk 22.9.0
(docs/asterisk.md, "Verified against Asterisk 22.9.0"): its certificate must verify for the
address the browser dials, the files must be the reference ones with only the lab's substitutions,
and the server's configuration it writes must be one the server accepts.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "asterisk_lab.sh"
SECRET = "lab-softphone-secret-0123456789abcdef"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="openssl missing (scripts/dev.sh installs it)")


def run(lab: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASTERISK_LAB": str(lab), "PYTHON": sys.executable,
           "LAB_SOFTPHONE_SECRET": SECRET}
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True,  # noqa: S603
                          check=True, timeout=120)


def lab(tmp_path: Path) -> Path:
    binary = tmp_path / "prefix" / "sbin" / "asterisk"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\nexit 1\n")   # `config` only checks that a build exists
    binary.chmod(0o755)
    return tmp_path


def etc(lab_dir: Path, name: str) -> str:
    return (lab_dir / "prefix" / "etc" / "asterisk" / name).read_text()


def openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], capture_output=True, text=True,  # noqa: S603,S607
                          check=True).stdout


def test_tls_writes_a_wss_lab_with_a_certificate_for_the_address_dialled(tmp_path: Path) -> None:
    root = lab(tmp_path)
    out = run(root, "tls")
    keys = root / "keys"

    http = etc(root, "http.conf")
    assert re.search(r"^tlsenable = yes$", http, re.M)
    assert re.search(r"^tlsbindaddr = 127\.0\.0\.1:18089$", http, re.M)
    assert f"tlscertfile = {keys / 'asterisk.crt'} " in http
    assert f"tlsprivatekey = {keys / 'asterisk.key'}\n" in http
    # Everything else is the reference file's.
    reference = (ROOT / "config" / "asterisk" / "http.conf").read_text()
    assert [ln for ln in reference.splitlines() if not ln.startswith(("bindport", "tls"))] == \
        [ln for ln in http.splitlines() if not ln.startswith(("bindport", "tls"))]

    webrtc = etc(root, "pjsip_webrtc.conf")
    assert re.search(r"^\[transport-wss\]\ntype = transport\nprotocol = wss\nbind = 127\.0\.0\.1$",
                     webrtc, re.M)
    assert "webrtc = yes" in webrtc and "allow = ulaw" in webrtc

    # The certificate verifies against the lab's CA for 127.0.0.1 (what a browser checks), is a
    # server certificate, and its key pin is the one printed for chromium.
    verified = openssl("verify", "-CAfile", str(keys / "ca.crt"), "-verify_ip", "127.0.0.1",
                       "-purpose", "sslserver", str(keys / "asterisk.crt"))
    assert verified.strip().endswith(": OK")
    with pytest.raises(subprocess.CalledProcessError):
        openssl("verify", "-CAfile", str(keys / "ca.crt"), "-verify_ip", "192.0.2.1",
                str(keys / "asterisk.crt"))
    pub = openssl("x509", "-in", str(keys / "asterisk.crt"), "-pubkey", "-noout")
    der = base64.b64decode("".join(ln for ln in pub.splitlines() if "-----" not in ln))
    pin = base64.b64encode(hashlib.sha256(der).digest()).decode()
    assert (keys / "asterisk.spki").read_text().strip() == pin
    assert pin in out.stderr
    for secret in ("ca.key", "asterisk.key"):
        assert stat.S_IMODE((keys / secret).stat().st_mode) == 0o600

    # The server's side: wss:// to the TLS port, accepted by its own settings.
    conf = tomllib.loads((root / "cti-lab.toml").read_text())
    assert conf["softphone"]["ws_url"] == "wss://127.0.0.1:18089/ws"
    conf["softphone"]["password_secret"] = SECRET
    settings = Settings.model_validate(conf)
    assert settings.softphone.connect_sources() == ("wss://127.0.0.1:18089",)

    # Plain `config` goes back to ws:// on loopback.
    run(root, "config")
    assert re.search(r"^tlsenable = no ", etc(root, "http.conf"), re.M)
    assert re.search(r"^protocol = ws ", etc(root, "pjsip_webrtc.conf"), re.M)
    assert 'ws_url = "ws://127.0.0.1:18088/ws"' in (root / "cti-lab.toml").read_text()


def test_a_second_lab_moves_every_port_and_the_rtp_range_and_can_relay_through_turn(
        tmp_path: Path) -> None:
    # Two labs side by side (another ASTERISK_LAB, every LAB_*_PORT moved): nothing of the
    # default lab's ports may remain, RTP included, and LAB_TURN=1 gives the server the relay.
    root = lab(tmp_path)
    moved = {"LAB_AMI_PORT": "15238", "LAB_HTTP_PORT": "18288", "LAB_TLS_PORT": "18289",
             "LAB_SIP_PORT": "15260", "LAB_AGI_PORT": "14773", "LAB_CARRIER_PORT": "15270",
             "LAB_CTI_HTTP_PORT": "18380", "LAB_RTP_START": "36000", "LAB_RTP_END": "36999",
             "LAB_TURN": "1", "LAB_TURN_PORT": "13678"}
    env = {**os.environ, "ASTERISK_LAB": str(root), "PYTHON": sys.executable,
           "LAB_SOFTPHONE_SECRET": SECRET, **moved}
    subprocess.run([str(SCRIPT), "tls"], env=env, capture_output=True, text=True,  # noqa: S603
                   check=True, timeout=120)
    rtp = etc(root, "rtp.conf")
    assert re.search(r"^rtpstart = 36000\nrtpend = 36999$", rtp, re.M)
    # Asterisk's ICE host candidates (every interface but loopback) point where it listens.
    mapped = rtp.split("[ice_host_candidates]\n", 1)[1]
    assert all(re.fullmatch(r"[0-9.]+ => 127\.0\.0\.1 ; lab: .*", ln)
               for ln in mapped.splitlines() if ln), mapped
    # Its own directories, control socket included (a "[directories](!)" template is ignored
    # by Asterisk: both labs then shared the build's run directory, and `cli` reached the other).
    main = etc(root, "asterisk.conf")
    assert main.startswith("[directories]\n")
    assert f"astrundir => {root / 'run'}\n" in main
    written = "".join(etc(root, n) for n in ("http.conf", "pjsip.conf", "manager.conf",
                                             "extensions.conf", "pjsip_webrtc.conf"))
    written += (root / "cti-lab.toml").read_text()
    for default in ("15038", "18088", "18089", "15060", "14573", "15070", "18180"):
        assert default not in written, default
    conf = tomllib.loads((root / "cti-lab.toml").read_text())
    assert conf["softphone"]["ws_url"] == "wss://127.0.0.1:18289/ws"
    assert conf["softphone"]["turn_urls"] == ["turn:127.0.0.1:13678?transport=udp"]
    assert conf["softphone"]["ice_transport_policy"] == "relay"
    conf["softphone"]["password_secret"] = SECRET
    conf["softphone"]["turn_secret"] = "lab-turn-static-auth-secret-0123456789"
    Settings.model_validate(conf)   # what the server would load
    # LAB_TURN_TLS=1: the softphones relay over turns: only (TLS to coturn).
    env = {**env, "LAB_TURN_TLS": "1", "LAB_TURN_TLS_PORT": "15549"}
    subprocess.run([str(SCRIPT), "tls"], env=env, capture_output=True, text=True,  # noqa: S603
                   check=True, timeout=120)
    conf = tomllib.loads((root / "cti-lab.toml").read_text())
    assert conf["softphone"]["turn_urls"] == ["turns:127.0.0.1:15549?transport=tcp"]
