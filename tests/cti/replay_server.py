"""A loopback AMI server that answers with bytes taken from the real Asterisk 22 captures.

Every reply it sends is a message cut out of the captures' *.ami.raw
(tests/data/ami-transcripts) with only its ActionID rewritten to the client's, so clients are
tested against what Asterisk really sends (banner without blank line, FullyBooted after login,
EventList framing, bare LFs), not against our idea of it. Tests steer it through plain attributes:

    server = ReplayAmiServer()
    await server.start()                  # listens on 127.0.0.1, ephemeral port: server.port
    server.answer_pings = False           # a half-open peer: Ping gets no Pong
    server.hold.add("originate")          # these actions get no response at all
    await server.push(b"Event: ...\\r\\n\\r\\n")  # bytes to every logged-in connection
    server.drop_all()                     # abort every connection (RST)
    server.connections[-1].actions        # what the client sent, as dicts, in order

Other test packages may use it (e.g. to run the AMI client against a known stream).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tests.cti.transcripts import TRANSCRIPTS_DIR as TRANSCRIPTS

TERM = b"\r\n\r\n"


# ---------------------------------------------------------------- transcript helpers


def read_transcript(name: str) -> bytes:
    return (TRANSCRIPTS / f"{name}.ami.raw").read_bytes()


def split_messages(raw: bytes) -> tuple[bytes, list[bytes]]:
    """(banner line with its CRLF, messages without their terminating blank line)."""
    end = raw.index(b"\r\n") + 2
    banner, body = raw[:end], raw[end:]
    parts = body.split(TERM)
    return banner, [p for p in parts if p.strip()]


def header(msg: bytes, key: str) -> str | None:
    prefix = key.lower().encode() + b": "
    for line in msg.split(b"\r\n"):
        if line.lower().startswith(prefix):
            return line[len(prefix):].decode("utf-8", "replace").rstrip("\n")
    return None


def with_action_id(msg: bytes, action_id: str) -> bytes:
    lines = msg.split(b"\r\n")
    return b"\r\n".join(
        b"ActionID: " + action_id.encode() if ln.lower().startswith(b"actionid: ") else ln
        for ln in lines
    )


def event_messages(name: str, *, include_with_action_id: bool = False) -> list[bytes]:
    """The transcript's unsolicited events (messages starting with `Event:`), in order."""
    _, msgs = split_messages(read_transcript(name))
    return [
        m for m in msgs
        if m.startswith(b"Event: ") and (include_with_action_id or header(m, "ActionID") is None)
    ]


def reply_for(name: str, transcript_action_id: str) -> list[bytes]:
    """The Response to one action of a transcript and, for list actions (EventList: start), the
    events up to the one that says EventList: Complete. Later events carrying the same ActionID
    (an async Originate's OriginateResponse) are live events, not part of the reply."""
    _, msgs = split_messages(read_transcript(name))
    out: list[bytes] = []
    listing = False
    for m in msgs:
        if header(m, "ActionID") != transcript_action_id:
            continue
        if not out:
            if not m.startswith(b"Response: "):
                continue
            out.append(m)
            listing = (header(m, "EventList") or "").lower() == "start"
            if not listing:
                return out
        else:
            out.append(m)
            if (header(m, "EventList") or "").lower() == "complete":
                return out
    if not out:
        raise KeyError(f"{name}: no response with ActionID {transcript_action_id}")
    return out


def sent_actions(name: str) -> list[dict[str, str]]:
    raw = (TRANSCRIPTS / f"{name}.sent.raw").read_bytes()
    return [parse_action(p) for p in raw.split(TERM) if p.strip()]


def parse_action(raw: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        k, sep, v = line.partition(": ")
        if sep:
            out[k] = v
    return out


def _login_ok() -> list[bytes]:
    # Response, then FullyBooted and SuccessfulAuth exactly as Asterisk 22 sent them.
    _, msgs = split_messages(read_transcript("actions"))
    return msgs[:3]


def _action_index() -> dict[str, str]:
    """Action name (lower case) -> the transcript ActionID of its first successful example."""
    index: dict[str, str] = {}
    for a in sent_actions("actions"):
        name = a.get("Action", "").lower()
        aid = a.get("ActionID")
        if name and aid and name not in index:
            index[name] = aid
    return index


# ---------------------------------------------------------------- the server


@dataclass(eq=False)
class Connection:
    writer: asyncio.StreamWriter
    actions: list[dict[str, str]] = field(default_factory=list)
    logged_in: bool = False
    closed: bool = False

    def names(self) -> list[str]:
        return [a.get("Action", "") for a in self.actions]


Responder = Callable[["ReplayAmiServer", Connection, dict[str, str]], Iterable[bytes] | None]


class ReplayAmiServer:
    def __init__(
        self,
        *,
        username: str = "cti",
        secret: str = "cti-secret",
        banner: bytes | None = None,
    ) -> None:
        self.username = username
        self.secret = secret
        if banner is None:
            banner = split_messages(read_transcript("actions"))[0]
        self.banner = banner
        self.answer_pings = True
        self.hold: set[str] = set()  # lower-case action names that get no response
        # CoreShowChannel rows (without ActionID) returned by CoreShowChannels; None = the two
        # rows of the `actions` capture.
        self.channels: list[bytes] | None = None
        self.after_login: list[bytes] = []  # messages pushed right after a successful login
        self.responders: dict[str, Responder] = {}
        self.connections: list[Connection] = []
        self._server: asyncio.Server | None = None
        self._index = _action_index()
        self._login_ok = _login_ok()
        self._login_failed = reply_for("login_failed", "login_failed-2")
        self._connected = asyncio.Condition()

    # -- lifecycle ----------------------------------------------------------

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self.drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> ReplayAmiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- steering -----------------------------------------------------------

    @property
    def live(self) -> list[Connection]:
        return [c for c in self.connections if not c.closed]

    async def push(self, data: bytes) -> None:
        """Send raw bytes to every logged-in connection."""
        for c in self.live:
            if c.logged_in:
                c.writer.write(data)
                with contextlib.suppress(ConnectionError):
                    await c.writer.drain()

    def drop_all(self) -> None:
        for c in self.live:
            c.closed = True
            c.writer.transport.abort()

    async def wait_logins(self, n: int, within: float = 5.0) -> None:
        """Until `n` connections in total have logged in."""
        async with asyncio.timeout(within):
            async with self._connected:
                await self._connected.wait_for(
                    lambda: sum(1 for c in self.connections if c.logged_in) >= n
                )

    async def wait_action(self, name: str, n: int = 1, within: float = 5.0) -> None:
        """Until `n` actions called `name` have arrived over all connections."""
        async with asyncio.timeout(within):
            async with self._connected:
                await self._connected.wait_for(lambda: self.count(name) >= n)

    def count(self, name: str) -> int:
        return sum(
            1 for c in self.connections for a in c.actions if a.get("Action", "").lower() == name
        )

    # -- protocol -----------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(writer)
        self.connections.append(conn)
        writer.write(self.banner)
        buf = b""
        try:
            while not conn.closed:
                data = await reader.read(65536)
                if not data:
                    break
                buf += data
                *parts, buf = buf.split(TERM)
                for raw in parts:
                    if raw.strip():
                        await self._on_action(conn, parse_action(raw))
        except ConnectionError:
            pass
        finally:
            conn.closed = True
            writer.close()
            async with self._connected:
                self._connected.notify_all()

    async def _on_action(self, conn: Connection, action: dict[str, str]) -> None:
        conn.actions.append(action)
        async with self._connected:
            self._connected.notify_all()
        name = action.get("Action", "").lower()
        aid = action.get("ActionID", "")
        if name in self.hold:
            return
        responder = self.responders.get(name)
        if responder is not None:
            out = responder(self, conn, action)
            if out is not None:
                self._write(conn, out, aid)
            return
        if name == "login":
            ok = action.get("Username") == self.username and action.get("Secret") == self.secret
            if not ok:
                self._write(conn, self._login_failed, aid)
                await conn.writer.drain()
                conn.closed = True
                conn.writer.close()  # Asterisk closes the socket after a failed login
                return
            self._write(conn, self._login_ok[:1], aid)
            self._write(conn, self._login_ok[1:], None)
            conn.logged_in = True
            if self.after_login:
                self._write(conn, self.after_login, None)
            async with self._connected:
                self._connected.notify_all()
        elif name == "ping":
            if self.answer_pings:
                self._write(conn, reply_for("actions", self._index["ping"]), aid)
        elif name == "coreshowchannels":
            self._write(conn, self._core_show_channels(), aid)
        elif name == "logoff":
            self._write(conn, reply_for("actions", self._index["logoff"]), aid)
            await conn.writer.drain()
            conn.closed = True
            conn.writer.close()
        elif name in self._index:
            self._write(conn, reply_for("actions", self._index[name]), aid)
        else:
            self._write(conn, reply_for("actions", "actions-43"), aid)  # unknown action
        await conn.writer.drain()

    def _core_show_channels(self) -> list[bytes]:
        real = reply_for("actions", self._index["coreshowchannels"])
        if self.channels is None:
            return real
        head, complete = real[0], real[-1]
        rows = [b"Event: CoreShowChannel\r\nActionID: x\r\n" + c for c in self.channels]
        complete = complete.replace(b"ListItems: 2", b"ListItems: %d" % len(rows))
        return [head, *rows, complete]

    @staticmethod
    def _write(conn: Connection, msgs: Iterable[bytes], action_id: str | None) -> None:
        if conn.closed:
            return
        out = bytearray()
        for m in msgs:
            if action_id is not None:
                m = with_action_id(m, action_id)
            out += m + TERM
        conn.writer.write(bytes(out))


def channel_row(channel: str, uniqueid: str, *, linkedid: str | None = None,
                state: int = 6, application: str = "Wait") -> bytes:
    """A CoreShowChannel body in Asterisk 22's field order, for `server.channels`."""
    desc = {4: "Ring", 5: "Ringing", 6: "Up"}.get(state, "Down")
    lines = [
        f"Channel: {channel}", f"ChannelState: {state}", f"ChannelStateDesc: {desc}",
        "CallerIDNum: 5550005", "CallerIDName: Lab Actions", "ConnectedLineNum: 5550005",
        "ConnectedLineName: Lab Actions", "Language: en", "AccountCode: ", "Context: lab",
        "Exten: wait", "Priority: 2", f"Uniqueid: {uniqueid}",
        f"Linkedid: {linkedid or uniqueid}", f"Application: {application}",
        "ApplicationData: 30", "Duration: 00:00:01", "BridgeId: ",
    ]
    return "\r\n".join(lines).encode()
