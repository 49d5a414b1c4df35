"""Fixtures for driving the PBX simulator. Copy `sim` / `ami` into other test packages freely.

`sim`: a started PbxSimulator with time_scale=0.001 (a simulated 20 s talk lasts 20 ms),
seed 7, FastAGI pointed at `agi_server.port` (a tiny scripted FastAGI server, not the project's).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from cti.simulator import PbxSimulator, PhoneBehaviour, SimulatorConfig
from tests.cti.transcripts import TRANSCRIPTS_DIR

TRANSCRIPTS = TRANSCRIPTS_DIR  # the repository's copy (tests/data): nothing outside is read
CRLF = b"\r\n"


class AmiTestClient:
    """A raw AMI client over loopback: send actions, collect whole messages as header lists."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.raw = bytearray()
        self.messages: list[list[tuple[str, str]]] = []
        self._new = asyncio.Event()
        self._task = asyncio.ensure_future(self._pump())
        self.banner = b""

    @classmethod
    async def connect(cls, port: int) -> AmiTestClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        return client

    async def _pump(self) -> None:
        buf = b""
        while True:
            data = await self.reader.read(65536)
            if not data:
                self._new.set()
                return
            self.raw.extend(data)
            buf += data
            if not self.banner and CRLF in buf:
                line, buf = buf.split(CRLF, 1)
                self.banner = line + CRLF
            while b"\r\n\r\n" in buf:
                msg, buf = buf.split(b"\r\n\r\n", 1)
                headers = []
                for line in msg.decode().split("\r\n"):
                    k, _, v = line.partition(": ")
                    headers.append((k, v))
                self.messages.append(headers)
            self._new.set()

    def send(self, *headers: tuple[str, str]) -> None:
        self.writer.write(b"".join(f"{k}: {v}\r\n".encode() for k, v in headers) + CRLF)

    async def login(self, secret: str = "cti-secret", events: str | None = None) -> None:
        hdrs = [("Action", "Login"), ("Username", "cti"), ("Secret", secret)]
        if events is not None:
            hdrs.append(("Events", events))
        hdrs.append(("ActionID", "login-1"))
        self.send(*hdrs)
        await self.wait_for(lambda m: dict(m).get("ActionID") == "login-1")

    async def wait_for(
        self, pred: Callable[[list[tuple[str, str]]], bool], within: float = 5.0
    ) -> list[tuple[str, str]]:
        async def _scan() -> list[tuple[str, str]]:
            seen = 0
            while True:
                for m in self.messages[seen:]:
                    if pred(m):
                        return m
                seen = len(self.messages)
                if self._task.done():
                    raise EOFError("AMI connection closed")
                self._new.clear()
                await self._new.wait()

        return await asyncio.wait_for(_scan(), within)

    async def wait_event(self, name: str, within: float = 5.0, **fields: str) -> dict[str, str]:
        def pred(m: list[tuple[str, str]]) -> bool:
            d = dict(m)
            return d.get("Event") == name and all(d.get(k) == v for k, v in fields.items())

        return dict(await self.wait_for(pred, within))

    async def barrier(self) -> None:
        """Ping and wait for the Pong: every event the simulator wrote before is now here."""
        self._barrier_n = getattr(self, "_barrier_n", 0) + 1
        aid = f"barrier-{self._barrier_n}"
        self.send(("Action", "Ping"), ("ActionID", aid))
        await self.wait_for(lambda m: dict(m).get("ActionID") == aid)

    def events(self, name: str | None = None) -> list[dict[str, str]]:
        out = [dict(m) for m in self.messages if m and m[0][0] == "Event"]
        return [e for e in out if name is None or e["Event"] == name]

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


AgiScript = Callable[[asyncio.StreamReader, asyncio.StreamWriter, dict[str, str]], Awaitable[None]]


class TinyAgiServer:
    """A FastAGI server written for the tests (NOT cti/fastagi.py): reads the env, runs a script."""

    def __init__(self) -> None:
        self.port = 0
        self.script: AgiScript | None = None
        self.envs: list[dict[str, str]] = []
        self.raw_envs: list[bytes] = []
        self.transcript: list[tuple[str, str]] = []  # ("tx", cmd) / ("rx", reply)
        self._server: asyncio.Server | None = None
        self.sessions_done = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raw = b""
        env: dict[str, str] = {}
        while True:
            line = await reader.readline()
            raw += line
            if line in (b"\n", b""):
                break
            k, _, v = line.decode().rstrip("\n").partition(": ")
            env[k] = v
        self.raw_envs.append(raw)
        self.envs.append(env)
        try:
            if self.script is not None:
                await self.script(reader, writer, env)
        finally:
            writer.close()
            self.sessions_done += 1

    async def command(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      cmd: str) -> str:
        writer.write(cmd.encode() + b"\n")
        self.transcript.append(("tx", cmd))
        reply = (await reader.readline()).decode().rstrip("\n")
        self.transcript.append(("rx", reply))
        return reply


def fast_config(agi_port: int, **kw: object) -> SimulatorConfig:
    base: dict[str, object] = dict(
        agi_port=agi_port,
        seed=7,
        time_scale=0.001,
        phone=PhoneBehaviour(answer_delay_s=2.0, handle_time_s=20.0),
        agi_connect_timeout_s=1.0,
    )
    base.update(kw)
    return SimulatorConfig(**base)  # type: ignore[arg-type]


@pytest.fixture
async def agi_server() -> AsyncIterator[TinyAgiServer]:
    srv = TinyAgiServer()
    await srv.start()
    yield srv
    await srv.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cti_dialplan: the `sim` fixture runs docs/asterisk.md's [from-carrier]"
    )


@pytest.fixture
async def sim(
    agi_server: TinyAgiServer, request: pytest.FixtureRequest
) -> AsyncIterator[PbxSimulator]:
    cti = request.node.get_closest_marker("cti_dialplan") is not None
    cfg = fast_config(agi_server.port, inbound_dialplan="cti" if cti else "lab")
    async with PbxSimulator(cfg) as s:
        yield s


@pytest.fixture
async def ami(sim: PbxSimulator) -> AsyncIterator[AmiTestClient]:
    client = await AmiTestClient.connect(sim.ami_port)
    await client.login()
    yield client
    await client.close()
