"""The FastAGI server: Asterisk's dialplan hands a call to `agi://host:port/<script>?k=v`; we run
the async handler routed for <script> with a typed `AgiSession`.

Written on asyncio streams rather than on `panoramisk.fast_agi`, because in panoramisk 1.4:
- the environment is read with `while b'\\n\\n' not in buffer: buffer += await reader.read(100)`,
  which spins forever at 100 % CPU when the peer closes before the blank line (read() returns b''),
  and has no size cap;
- a closed socket during a command gives `int('')` -> ValueError instead of a hangup;
- `511` (dead channel) is an "unknown error", an asynchronous `HANGUP` line is only noticed when
  it happens to be read as a reply, and a multi-line `520-` usage error swallows just one line,
  leaving the rest of the usage text to be read as the replies of the following commands;
- replies come back as loosely-typed dicts, and command values are not escaped or validated.

The session methods format commands exactly as Asterisk's own examples and the lab captures do
(`SET VARIABLE NAME "value"`, `STREAM FILE file "digits"`, `GET DATA file 5000 1`), so a capture
replays byte-for-byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from config.cti import FastAgiSettings
from cti.agi_codec import (
    DTMF_KEYS,
    AgiReply,
    check_token,
    check_value,
    digit_of,
    parse_env_line,
    parse_reply_line,
    quote,
    split_script,
)
from cti.errors import AgiCommandError, AgiError, AgiHangup, InvalidValue

log = logging.getLogger(__name__)

_MAX_ENV_LINES = 256
# What the dialplan tests after AGI(). The reference dialplan (config/asterisk/extensions.conf)
# falls back to Queue() unless a handler set DONE_VALUE: every handler that finishes a call
# without hanging it up must set it (AgiSession.mark_done), because a crashed server's closed
# socket looks like a normal end to Asterisk (AGISTATUS=SUCCESS).
FALLBACK_VARIABLE = "CTI_RESULT"
FALLBACK_VALUE = "fallback"
DONE_VALUE = "done"
_MAX_USAGE_LINES = 200


# ---------------------------------------------------------------- the session


class AgiSession:
    """One call handed to us by Asterisk. Every command method raises AgiHangup once the caller
    is gone (a `HANGUP` line, a `511` reply, or the socket closing), InvalidValue before sending
    anything bad, and AgiCommandError when Asterisk rejects or fails the command."""

    def __init__(
        self,
        env: Mapping[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.env: Mapping[str, str] = dict(env)
        self.script, self.args = split_script(self.env)
        self.argv: tuple[str, ...] = tuple(
            self.env[k] for k in sorted(
                (k for k in self.env if k.startswith("agi_arg_") and k[8:].isdigit()),
                key=lambda k: int(k[8:]),
            )
        )
        self._reader = reader
        self._writer = writer
        self.hung_up = False
        self._broken: str | None = None
        self._lock = asyncio.Lock()

    @property
    def channel(self) -> str:
        return self.env.get("agi_channel", "")

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    # -- raw command/reply ------------------------------------------------

    async def command(self, line: str) -> AgiReply:
        """Send one raw command line (no trailing newline) and return its reply. 510/520/5xx
        replies raise AgiCommandError; the typed methods below are preferred."""
        check_value("command", line)
        async with self._lock:
            if self.hung_up:
                raise AgiHangup(f"channel {self.channel} hung up; not sending {line.split(' ')[0]}")
            if self._broken is not None:
                raise AgiError(f"AGI session unusable: {self._broken}")
            try:
                self._writer.write(line.encode() + b"\n")
                await self._writer.drain()
            except (ConnectionError, OSError) as exc:
                self.hung_up = True
                raise AgiHangup(f"socket closed while sending: {exc}") from exc
            try:
                reply = await self._read_reply(line)
            except asyncio.CancelledError:
                # Its reply is still coming and would be read as the next command's.
                self._broken = f"{line.split(' ')[0]} was cancelled while awaiting its reply"
                raise
        if reply.code == 200:
            return reply
        if reply.code == 511:
            self.hung_up = True
            raise AgiHangup(f"channel {self.channel} is dead: {reply.text}")
        if reply.code == 510:
            raise AgiCommandError(line, reply, "invalid or unknown command")
        if reply.code == 520:
            raise AgiCommandError(line, reply, "invalid command syntax")
        raise AgiCommandError(line, reply, f"unexpected reply code {reply.code}")

    async def _readline(self) -> str:
        try:
            raw = await self._reader.readline()
        except (ConnectionError, OSError) as exc:
            self.hung_up = True
            raise AgiHangup(f"socket error: {exc}") from exc
        except ValueError as exc:  # StreamReader limit overrun: a line longer than we accept
            self._broken = "reply line too long"
            raise AgiError("AGI reply line exceeds the stream limit") from exc
        if not raw.endswith(b"\n"):
            self.hung_up = True
            raise AgiHangup("socket closed by Asterisk")
        return raw.rstrip(b"\r\n").decode("utf-8", "replace")

    async def _read_reply(self, command: str) -> AgiReply:
        while True:
            line = await self._readline()
            if line == "HANGUP":
                # Sent asynchronously when the caller hangs up; the reply (if any) would follow,
                # but nothing the handler could still do on this channel matters.
                self.hung_up = True
                raise AgiHangup(f"caller hung up during {command.split(' ')[0]}")
            if line.startswith("520-"):
                lines = [line]
                while not lines[-1].startswith("520 "):
                    if len(lines) > _MAX_USAGE_LINES:
                        self._broken = "unterminated 520 usage text"
                        raise AgiError("AGI 520 usage text never ended")
                    lines.append(await self._readline())
                return AgiReply(code=520, text="\n".join(lines))
            try:
                reply = parse_reply_line(line)
            except AgiError:
                self._broken = f"malformed reply {line!r}"
                raise
            if reply.code == 100:  # "100 result=0 Trying...": the real reply follows
                continue
            return reply

    async def _checked(self, command: str, reply: AgiReply) -> int:
        """The numeric result of a channel I/O command. On -1, tell a hangup from a failure:
        res_agi answers the interrupted command with -1 first and sends `HANGUP` only on its
        next loop turn, before it reads another command. So a NOOP probe reads that `HANGUP`
        (AgiHangup) when the caller is gone, and `200 result=0` when the channel is alive and
        the command itself failed (a missing sound file). With AGISIGHUP=no in the dialplan no
        HANGUP comes; the next command then gets `511` instead."""
        if reply.data == "hangup":
            self.hung_up = True
            raise AgiHangup(f"caller hung up during {command.split(' ')[0]}")
        value = reply.result_int
        if value is None:
            raise AgiCommandError(command, reply, "result is not a number")
        if value == -1:
            await self.command("NOOP")  # raises AgiHangup if that is what happened
            raise AgiCommandError(command, reply, "failed (result=-1) and no hangup followed")
        return value

    # -- typed commands ---------------------------------------------------

    async def answer(self) -> None:
        cmd = "ANSWER"
        await self._checked(cmd, await self.command(cmd))

    async def hangup(self) -> None:
        cmd = "HANGUP"
        reply = await self.command(cmd)
        self.hung_up = True
        if reply.result_int != 1:
            raise AgiCommandError(cmd, reply, "hangup failed")

    async def verbose(self, msg: str, level: int = 1) -> None:
        if not 1 <= level <= 4:
            raise InvalidValue("level", level, "must be 1..4")
        await self.command(f"VERBOSE {quote('msg', msg)} {level}")

    async def stream_file(self, file: str, escape_digits: str = "") -> str | None:
        """Play `file`; returns the key that interrupted it, or None when it played to the end."""
        check_token("file", file)
        bad = set(escape_digits) - DTMF_KEYS
        if bad:
            raise InvalidValue("escape_digits", escape_digits, "only 0-9 * # A-D")
        cmd = f"STREAM FILE {file} {quote('escape_digits', escape_digits)}"
        return digit_of(await self._checked(cmd, await self.command(cmd)))

    async def get_data(self, file: str, timeout_ms: int = 5000, max_digits: int = 1) -> str:
        """Play `file` and collect up to `max_digits` keys; "" when the caller pressed nothing."""
        check_token("file", file)
        if timeout_ms < 0:
            raise InvalidValue("timeout_ms", timeout_ms, "must be >= 0")
        if not 1 <= max_digits <= 1024:
            raise InvalidValue("max_digits", max_digits, "must be 1..1024")
        cmd = f"GET DATA {file} {timeout_ms} {max_digits}"
        reply = await self.command(cmd)
        if reply.result == "-1":
            await self._checked(cmd, reply)
        if reply.data == "hangup":
            self.hung_up = True
            raise AgiHangup("caller hung up during GET DATA")
        if reply.result and not all(c in DTMF_KEYS for c in reply.result):
            raise AgiCommandError(cmd, reply, "result is not DTMF digits")
        return reply.result

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        if timeout_ms < -1:
            raise InvalidValue("timeout_ms", timeout_ms, "must be >= -1 (-1 waits forever)")
        cmd = f"WAIT FOR DIGIT {timeout_ms}"
        return digit_of(await self._checked(cmd, await self.command(cmd)))

    async def set_variable(self, name: str, value: str) -> None:
        check_token("name", name)
        await self.command(f"SET VARIABLE {name} {quote('value', value)}")

    async def mark_done(self) -> None:
        """Tell the dialplan this call is finished (CTI_RESULT=done): it hangs up instead of
        falling back to Queue(). A caller who already hung up needs no mark."""
        with contextlib.suppress(AgiHangup):
            await self.set_variable(FALLBACK_VARIABLE, DONE_VALUE)

    async def get_variable(self, name: str) -> str | None:
        """None when the variable is not set (`200 result=0`)."""
        check_token("name", name)
        return self._variable_value(await self.command(f"GET VARIABLE {name}"))

    async def get_full_variable(self, expr: str) -> str | None:
        """Evaluate an expression such as `${CALLERID(num)} ${CHANNEL(state)}`."""
        return self._variable_value(await self.command(f"GET FULL VARIABLE {quote('expr', expr)}"))

    @staticmethod
    def _variable_value(reply: AgiReply) -> str | None:
        if reply.result != "1":
            return None
        return reply.data if reply.data is not None else ""

    async def exec(self, app: str, *args: str) -> int:
        """Run a dialplan application (`EXEC Dial "PJSIP/1001,30"`); returns its result.
        -1 is returned, not raised: for Dial and friends it means the caller hung up, which the
        next command reports as AgiHangup. -2 (no such application) raises."""
        check_token("app", app)
        for i, a in enumerate(args):
            check_value(f"args[{i}]", a)
            if "," in a:
                raise InvalidValue(f"args[{i}]", a, "a comma would split the argument")
        cmd = f"EXEC {app}"
        if args:
            cmd += " " + quote("args", ",".join(args))
        reply = await self.command(cmd)
        value = reply.result_int
        if value is None:
            raise AgiCommandError(cmd, reply, "result is not a number")
        if value == -2:
            raise AgiCommandError(cmd, reply, f"no such application {app}")
        return value

    async def set_music(self, on: bool, class_: str = "default") -> None:
        check_token("class_", class_)
        await self.command(f"SET MUSIC {'on' if on else 'off'} {class_}")


AgiHandler = Callable[[AgiSession], Awaitable[None]]


# ---------------------------------------------------------------- the server


@dataclass(slots=True)
class FastAgiCounters:
    """Health counters of the FastAGI server since start (not call statistics: those are
    acd/stats.py's queue statistics)."""

    sessions_total: int = 0
    hangups: int = 0
    handler_errors: int = 0
    unknown_scripts: int = 0
    bad_requests: int = 0


class FastAgiServer:
    """Routes `agi://host:port/<script>` to `route(script, handler)`. A handler's exception is
    logged and ends only its own session; the socket is always closed afterwards so the dialplan
    continues."""

    def __init__(
        self,
        settings: FastAgiSettings,
        *,
        header_timeout_s: float = 10.0,
        max_line_bytes: int = 65_536,
    ) -> None:
        self._settings = settings
        self._routes: dict[str, AgiHandler] = {}
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self._header_timeout_s = header_timeout_s
        self._max_line_bytes = max_line_bytes
        self.counters = FastAgiCounters()

    def route(self, script: str, handler: AgiHandler) -> None:
        script = script.strip("/")
        if script in self._routes:
            raise ValueError(f"FastAGI script {script!r} already routed")
        self._routes[script] = handler

    @property
    def active_sessions(self) -> int:
        return len(self._sessions)

    @property
    def port(self) -> int:
        """The bound port (useful with port 0 in tests)."""
        if self._server is None or not self._server.sockets:
            raise AgiError("FastAGI server not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connection,
            self._settings.host,
            self._settings.port,
            limit=self._max_line_bytes,
        )
        log.info("FastAGI listening on %s:%d", self._settings.host, self.port)

    async def stop(self, grace_s: float = 2.0) -> None:
        """Stop accepting; give running sessions `grace_s` to finish (their callers are usually
        being hung up at the same time), then cancel what is left."""
        if self._server is not None:
            self._server.close()
        if self._sessions and grace_s > 0:
            await asyncio.wait(list(self._sessions), timeout=grace_s)
        for task in list(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.gather(*self._sessions, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FastAgiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            # Cancelled by stop(): end quietly. asyncio's stream callback would otherwise log
            # the cancellation of this connection task as an unhandled exception.
            log.info("FastAGI session from %s cancelled at shutdown",
                     writer.get_extra_info("peername"))
        finally:
            self._sessions.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_env(self, reader: asyncio.StreamReader) -> dict[str, str] | None:
        env: dict[str, str] = {}
        async with asyncio.timeout(self._header_timeout_s):
            for _ in range(_MAX_ENV_LINES):
                raw = await reader.readline()
                if not raw.endswith(b"\n"):
                    return None  # closed before the blank line
                line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
                if not line:
                    return env
                kv = parse_env_line(line)
                if kv is not None:
                    env[kv[0]] = kv[1]
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            env = await self._read_env(reader)
        except (TimeoutError, ValueError, ConnectionError, OSError) as exc:
            env = None
            log.warning("FastAGI from %s: bad request header (%s)", peer, type(exc).__name__)
        if env is None:
            self.counters.bad_requests += 1
            log.warning("FastAGI from %s: no complete agi_* environment; closing", peer)
            return
        session = AgiSession(env, reader, writer)
        handler = self._routes.get(session.script)
        if handler is None:
            self.counters.unknown_scripts += 1
            log.warning(
                "FastAGI from %s: no handler for script %r (channel %s); handing the call back "
                "to the dialplan (CTI_RESULT=fallback)", peer, session.script, session.channel,
            )
            await self._hand_back(session)
            return
        self.counters.sessions_total += 1
        log.debug("FastAGI %s on %s", session.script, session.channel)
        try:
            await handler(session)
        except AgiHangup as exc:
            self.counters.hangups += 1
            log.info("FastAGI %s on %s: caller hung up (%s)", session.script, session.channel, exc)
        except asyncio.CancelledError:
            raise
        except AgiError as exc:
            # Asterisk refused a command or the session broke: an operational problem worth a
            # warning, not a stack trace.
            self.counters.handler_errors += 1
            log.warning("FastAGI %s on %s ended: %s", session.script, session.channel, exc)
        except Exception:
            self.counters.handler_errors += 1
            log.exception("FastAGI handler %r failed on %s", session.script, session.channel)
            await self._hand_back(session)

    async def _hand_back(self, session: AgiSession) -> None:
        """Tell the dialplan we could not serve this call, so it can fall back (e.g. to Queue())
        instead of hanging up: the documented dialplan tests CTI_RESULT after AGI()."""
        if session.hung_up:
            return
        with contextlib.suppress(AgiError, TimeoutError, OSError):
            async with asyncio.timeout(2.0):
                await session.set_variable(FALLBACK_VARIABLE, FALLBACK_VALUE)
