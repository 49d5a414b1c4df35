"""A private CA and a server certificate for 127.0.0.1, made with the openssl command line, as
scripts/asterisk_lab.sh `tls` makes the lab Asterisk's (EC keys here: faster to make). For tests
that serve wss:// to chromium, which trusts the certificate only by its key pin
(`--ignore-certificate-errors-spki-list=<spki>`): no prompt, no other certificate accepted.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ServerCert:
    ca: Path
    cert: Path
    key: Path
    spki: str   # base64 SHA-256 of the certificate's public key (chromium's pin format)

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


def _openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], capture_output=True, text=True,  # noqa: S603,S607
                          check=True).stdout


def make_cert(directory: Path, ip: str = "127.0.0.1") -> ServerCert:
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.crt", directory / "ca.key"
    cert, key, csr = directory / "server.crt", directory / "server.key", directory / "server.csr"
    ext = directory / "server.ext"
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=softphone test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-keyout", str(ca_key), "-out", str(ca))
    _openssl("req", *ec, "-subj", f"/CN={ip}", "-keyout", str(key), "-out", str(csr))
    ext.write_text(f"subjectAltName = IP:{ip}\nextendedKeyUsage = serverAuth\n"
                   "basicConstraints = CA:FALSE\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", str(ext), "-out", str(cert))
    pub = _openssl("x509", "-in", str(cert), "-pubkey", "-noout")
    der = base64.b64decode("".join(ln for ln in pub.splitlines() if "-----" not in ln))
    return ServerCert(ca=ca, cert=cert, key=key,
                    spki=base64.b64encode(hashlib.sha256(der).digest()).decode())
