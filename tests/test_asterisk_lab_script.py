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
