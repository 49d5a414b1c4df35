"""Debian's coturn (`turnserver`) on 127.0.0.1 for the softphone's TURN tests, as an agent's relay
would be configured (docs/asterisk.md "Agents behind NAT"): `use-auth-secret` with a
`static-auth-secret`, so it accepts exactly the per-agent credentials the server hands out
(agent_desktop/softphone.py `turn_credentials`).

Loopback only: it listens and relays on 127.0.0.1, and `allow-loopback-peers` lets it relay to the
test's media peer there (a production relay must not have it). No TLS/DTLS listeners, no CLI, its
database and log inside the test's directory. Started on a free port; the relay ports come from
61000-61999, outside Linux's ephemeral range, so they do not collide with the tests' own sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aioice import stun

from tests.tls_cert import ServerCert

RELAY_PORTS = (61000, 61999)


def coturn_available() -> bool:
    return shutil.which("turnserver") is not None


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Coturn:
    port: int
    log: Path
    tls_port: int = 0   # TURN over TLS (turns:), when started with a certificate

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    @property
    def turns_url(self) -> str:
        assert self.tls_port, "started without a certificate"
        return f"turns:127.0.0.1:{self.tls_port}?transport=tcp"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class _Binding(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answered = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.answered.done():
            self.answered.set_result(stun.parse_message(data))


async def _answers_stun(port: int) -> bool:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_Binding,
                                                           remote_addr=("127.0.0.1", port))
    try:
        request = stun.Message(message_method=stun.Method.BINDING,
                               message_class=stun.Class.REQUEST)
        transport.sendto(bytes(request))
        await asyncio.wait_for(asyncio.shield(proto.answered), 0.3)
        return True
    except (TimeoutError, ConnectionRefusedError, OSError):
        return False
    finally:
        transport.close()


async def _listens_tcp(port: int) -> bool:
    for _ in range(50):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
    return False


@contextlib.asynccontextmanager
async def coturn(directory: Path, secret: str, realm: str = "callcenter.test",
                 relay_ports: tuple[int, int] = RELAY_PORTS,
                 config: str | None = None,
                 tls: ServerCert | None = None) -> AsyncIterator[Coturn]:
    """A running turnserver; stopped (SIGTERM, then SIGKILL) on exit. `config`: a
    turnserver.conf to start from (`-c`), under the loopback-only options here (coturn's command
    line wins over its file), which then give neither the secret nor the realm. `tls`: also
    listen for TURN over TLS (turns:) with that certificate."""
    directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before the server
    port = free_udp_port()
    log = directory / "turnserver.log"
    if config is None:
        start = ["-n", "--use-auth-secret", f"--static-auth-secret={secret}", f"--realm={realm}"]
    else:
        conf = directory / "turnserver.conf"
        conf.write_text(config)  # noqa: ASYNC240 - a few lines, before the server
        start = ["-c", str(conf)]
    args = ["turnserver", *start, "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
            f"--listening-port={port}", f"--min-port={relay_ports[0]}",
            f"--max-port={relay_ports[1]}", "--allow-loopback-peers",
            "--no-cli", "--no-dtls", "--no-tcp-relay", "--fingerprint",
            f"--db={directory / 'turndb'}", f"--log-file={log}", "--simple-log",
            "--no-stdout-log", "--verbose", f"--pidfile={directory / 'turnserver.pid'}",
            "--no-software-attribute"]
    tls_port = 0
    if tls is None:
        args.append("--no-tls")
    else:
        tls_port = free_tcp_port()
        args += [f"--tls-listening-port={tls_port}", f"--cert={tls.cert}", f"--pkey={tls.key}"]
    proc = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL,
                                                start_new_session=True)
    try:
        for _ in range(100):   # a guard against a coturn that never starts, not a speed check
            if proc.returncode is not None:
                tail = Coturn(port, log).log_text()[-2000:]
                raise RuntimeError(f"turnserver exited ({proc.returncode}): {tail}")
            if await _answers_stun(port):
                break
        else:
            raise RuntimeError(f"turnserver did not answer STUN on 127.0.0.1:{port}")
        if tls_port and not await _listens_tcp(tls_port):
            raise RuntimeError(f"turnserver did not listen for TLS on 127.0.0.1:{tls_port}")
        yield Coturn(port, log, tls_port)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
