"""The FastAGI client side of the simulator: what Asterisk's AGI(agi://host:port/script) does.

One FastAgiClient per AGI() run: connect, send the agi_* environment (LF endings, blank line),
then answer commands until the server closes the socket. When the caller hangs up, send
`HANGUP\\n`, answer every later command with 511, and close.

The caller's DTMF script (Channel.dtmf) is consumed by the commands that listen for keys. Two
marks script what a person does besides pressing keys: "." = presses nothing this time (the
GET DATA / WAIT FOR DIGIT in progress times out), "!" = hangs up at this point.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from cti.errors import InvalidValue
from cti.simulator import event_headers as ev
from cti.simulator.channel import Channel
from cti.simulator.interface import AgiHost
from cti.simulator.wire import encode_agi_env, split_agi_command

log = logging.getLogger("cti.simulator.agi")

DEAD = "511 Command Not Permitted on a dead channel or intercept routine"
UNKNOWN = "510 Invalid or unknown command"
# How long (real seconds) to wait for the server to close after HANGUP before closing ourselves.
DEAD_GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class AgiUrl:
    host: str
    port: int
    script: str  # path and query, as agi_network_script shows it
    url: str


def parse_agi_url(url: str) -> AgiUrl:
    parts = urlsplit(url)
    if parts.scheme != "agi" or not parts.hostname:
        raise InvalidValue("agi_url", url, "expected agi://host[:port]/script")
    script = parts.path.lstrip("/")
    if parts.query:
        script += "?" + parts.query
    return AgiUrl(parts.hostname, parts.port or 4573, script, url)


class FastAgiClient:
    """Asterisk's side of one FastAGI session (the server's side is cti.fastagi.AgiSession)."""

    def __init__(self, pbx: AgiHost, ch: Channel, url: str) -> None:
        self.pbx = pbx
        self.ch = ch
        self.url = url
        self._writer: asyncio.StreamWriter | None = None
        # Latency probe (benchmarks): when the last reply carried a caller's key, when it was
        # written; the next command line read from the server closes the interval.
        self._key_reply = False
        self._key_sent_at: float | None = None

    def env(self, target: AgiUrl) -> list[tuple[str, str]]:
        ch = self.ch
        return [
            ("agi_network", "yes"),
            ("agi_network_script", target.script),
            ("agi_request", target.url),
            ("agi_channel", ch.name),
            ("agi_language", "en"),
            ("agi_type", ch.name.split("/", 1)[0]),
            ("agi_uniqueid", ch.uniqueid),
            ("agi_version", "22.10.1"),
            ("agi_callerid", ch.cid_num if ch.cid_num != "<unknown>" else "unknown"),
            ("agi_calleridname", ch.cid_name if ch.cid_name != "<unknown>" else "unknown"),
            ("agi_callingpres", "0"),
            ("agi_callingani2", "0"),
            ("agi_callington", "0"),
            ("agi_callingtns", "0"),
            ("agi_dnid", ch.vars.get("INBOUND_DID", "unknown")),
            ("agi_rdnis", "unknown"),
            ("agi_context", ch.context),
            ("agi_extension", ch.exten),
            ("agi_priority", str(ch.priority)),
            ("agi_enhanced", "0.0"),
            ("agi_accountcode", ""),
            ("agi_threadid", str(140000000000000 + self.pbx.command_id())),
        ]

    async def run(self) -> str:
        """Returns AGISTATUS: SUCCESS, FAILURE (could not connect) or HANGUP."""
        try:
            target = parse_agi_url(self.url)
        except InvalidValue as exc:
            log.warning("AGI on %s: %s", self.ch.name, exc)
            return "FAILURE"
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(target.host, target.port),
                self.pbx.config.agi_connect_timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            log.warning(
                "AGI on %s: cannot reach %s (%s): AGISTATUS=FAILURE", self.ch.name, self.url, exc
            )
            return "FAILURE"
        self._writer = writer
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        pump = asyncio.ensure_future(self._pump(reader, lines))
        dead = False
        try:
            writer.write(encode_agi_env(self.env(target)))
            await writer.drain()
            while True:
                if not dead:
                    line = await self._next_line_or_gone(lines)
                    if line is _GONE:
                        dead = True
                        self._write("HANGUP")
                        continue
                else:
                    try:
                        line = await asyncio.wait_for(lines.get(), DEAD_GRACE_S)
                    except TimeoutError:
                        break
                if line is None or not isinstance(line, str):
                    break
                text = line.rstrip("\r")
                if not text.strip():
                    continue
                if dead:
                    self._write(DEAD)
                    continue
                reply = await self._execute(text)
                self._write(reply)
                if self._key_reply:
                    self._key_reply = False
                    if self.pbx.key_latency is not None:
                        self._key_sent_at = time.perf_counter()
        except (ConnectionError, OSError):
            pass
        finally:
            pump.cancel()
            with contextlib.suppress(BaseException):
                await pump
            with contextlib.suppress(Exception):
                writer.close()
                await writer.wait_closed()
        return "HANGUP" if dead or self.ch.gone.is_set() else "SUCCESS"

    def _write(self, line: str) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write((line + "\n").encode("utf-8", "replace"))

    async def _pump(self, reader: asyncio.StreamReader, lines: asyncio.Queue[str | None]) -> None:
        try:
            while True:
                raw = await reader.readline()
                if self._key_sent_at is not None and self.pbx.key_latency is not None:
                    self.pbx.key_latency(time.perf_counter() - self._key_sent_at)
                    self._key_sent_at = None
                if not raw:
                    break
                await lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        except (ConnectionError, OSError):
            pass
        finally:
            await lines.put(None)

    async def _next_line_or_gone(self, lines: asyncio.Queue[str | None]) -> str | None | object:
        if self.ch.gone.is_set():
            return _GONE
        get = asyncio.ensure_future(lines.get())
        gone = asyncio.ensure_future(self.ch.gone.wait())
        done, _ = await asyncio.wait({get, gone}, return_when=asyncio.FIRST_COMPLETED)
        if get in done:
            gone.cancel()
            return get.result()
        get.cancel()
        with contextlib.suppress(BaseException):
            await get
        if get.done() and not get.cancelled():
            # A line raced the hangup: keep it for the dead-channel loop.
            lines.put_nowait(get.result())
        return _GONE

    # --- commands ---------------------------------------------------------------------------

    async def _execute(self, line: str) -> str:
        pbx = self.pbx
        ch = self.ch
        args = split_agi_command(line)
        cmd_id = pbx.command_id()
        pbx.emit(ev.agi_exec_start(ch.snap(), cmd_id, line))
        reply = await self._dispatch(args)
        code = int(reply[:3])
        result = "Success" if code == 200 else reply[4:]
        pbx.emit(ev.agi_exec_end(ch.snap(), cmd_id, line, code, result))
        return reply

    async def _dispatch(self, args: list[str]) -> str:
        if not args:
            return UNKNOWN
        words = [a.upper() for a in args[:3]]
        pbx = self.pbx
        ch = self.ch
        w0 = words[0]
        w1 = words[1] if len(words) > 1 else ""
        if w0 == "ANSWER":
            pbx.answer(ch)
            return "200 result=0"
        if w0 == "NOOP":
            return "200 result=0"
        if w0 == "VERBOSE":
            return "200 result=1"
        if w0 == "HANGUP":
            pbx.soft_hangup(ch, 16, reason="agi")
            return "200 result=1"
        if w0 == "CHANNEL" and w1 == "STATUS":
            return f"200 result={ch.state}"
        if w0 == "GET" and w1 == "VARIABLE" and len(args) >= 3:
            value = pbx.get_var(ch, args[2])
            return "200 result=0" if value is None else f"200 result=1 ({value})"
        if w0 == "GET" and w1 == "FULL" and len(args) >= 4 and words[2] == "VARIABLE":
            return f"200 result=1 ({pbx.substitute(ch, args[3])})"
        if w0 == "SET" and w1 == "VARIABLE" and len(args) >= 4:
            pbx.set_var(ch, args[2], args[3])
            return "200 result=1"
        if w0 == "SET" and w1 == "MUSIC" and len(args) >= 3:
            if args[2].lower() == "on":
                pbx.emit(ev.moh_start(ch.snap(), args[3] if len(args) > 3 else "default"))
            else:
                pbx.emit(ev.moh_stop(ch.snap()))
            return "200 result=0"
        if w0 == "STREAM" and w1 == "FILE" and len(args) >= 3:
            return await self._stream_file(args[3] if len(args) > 3 else "")
        if w0 == "GET" and w1 == "DATA" and len(args) >= 3:
            timeout_ms = _int(args[3], 5000) if len(args) > 3 else 5000
            max_digits = _int(args[4], 1024) if len(args) > 4 else 1024
            return await self._get_data(timeout_ms, max_digits)
        if w0 == "WAIT" and w1 == "FOR" and len(words) > 2 and words[2] == "DIGIT":
            return await self._wait_for_digit(_int(args[3], -1) if len(args) > 3 else -1)
        if w0 == "SAY" and len(args) >= 3:
            ok = await pbx.wait_sim(1.0, ch)
            return "200 result=0" if ok else "200 result=-1"
        if w0 == "RECORD" and w1 == "FILE" and len(args) >= 6:
            return await self._record(_int(args[5], -1))
        if w0 == "EXEC" and len(args) >= 2:
            data = " ".join(args[2:])
            result = await pbx.exec_app(ch, args[1], data)
            return f"200 result={result}"
        return UNKNOWN

    def _take_digit(self, allowed: str | None) -> str | None:
        if not self.ch.dtmf:
            return None
        digit = self.ch.dtmf[0]
        if allowed is not None and digit not in allowed:
            return None
        self.ch.dtmf.pop(0)
        return digit

    def _scripted_hangup(self) -> bool:
        """The script says the caller hangs up now ("!")."""
        if self.ch.dtmf and self.ch.dtmf[0] == "!":
            self.ch.dtmf.pop(0)
            self.pbx.hangup_caller(self.ch.name)
            return True
        return False

    def _scripted_silence(self) -> bool:
        if self.ch.dtmf and self.ch.dtmf[0] == ".":
            self.ch.dtmf.pop(0)
            return True
        return False

    async def _record(self, timeout_ms: int) -> str:
        """RECORD FILE: the caller speaks for record_s (at most the timeout), then silence."""
        if self._scripted_hangup():
            return "200 result=-1"
        cfg = self.pbx.config
        talk = cfg.record_s if timeout_ms < 0 else min(cfg.record_s, timeout_ms / 1000.0)
        if not await self.pbx.wait_sim(talk, self.ch):
            return "200 result=-1 (hangup) endpos=0"
        return f"200 result=0 (silence) endpos={int(talk * 8000)}"

    async def _press(self, digit: str) -> None:
        self._key_reply = True
        self.pbx.emit(ev.dtmf_end(self.ch.snap(), digit))

    async def _stream_file(self, escape: str) -> str:
        pbx = self.pbx
        cfg = pbx.config
        if self._scripted_hangup():
            return "200 result=-1 endpos=0"
        if self.ch.dtmf and self.ch.dtmf[0] in escape:
            delay = min(cfg.dtmf_delay_s, cfg.prompt_s)
            if not await pbx.wait_sim(delay, self.ch):
                return f"200 result=-1 endpos={int(delay * 8000)}"
            digit = self._take_digit(escape)
            assert digit is not None
            await self._press(digit)
            pbx.set_var(self.ch, "PLAYBACKSTATUS", "FAILED")
            return f"200 result={ord(digit)} endpos={int(delay * 8000)}"
        if not await pbx.wait_sim(cfg.prompt_s, self.ch):
            return f"200 result=-1 endpos={int(cfg.prompt_s * 4000)}"
        return f"200 result=0 endpos={int(cfg.prompt_s * 8000)}"

    async def _get_data(self, timeout_ms: int, max_digits: int) -> str:
        pbx = self.pbx
        digits = ""
        if self._scripted_hangup():
            return "200 result=-1"
        while len(digits) < max_digits:
            if not self.ch.dtmf or self.ch.dtmf[0] in ".!":
                self._scripted_silence()
                if not await pbx.wait_sim(max(timeout_ms, 0) / 1000.0, self.ch):
                    return "200 result=-1"
                return f"200 result={digits} (timeout)"
            if not await pbx.wait_sim(pbx.config.dtmf_delay_s, self.ch):
                return "200 result=-1"
            digit = self._take_digit(None)
            assert digit is not None
            await self._press(digit)
            if digit == "#":
                break
            digits += digit
        return f"200 result={digits}"

    async def _wait_for_digit(self, timeout_ms: int) -> str:
        pbx = self.pbx
        if self._scripted_hangup():
            return "200 result=-1"
        if self._scripted_silence():
            pass
        elif self.ch.dtmf:
            if not await pbx.wait_sim(pbx.config.dtmf_delay_s, self.ch):
                return "200 result=-1"
            digit = self._take_digit(None)
            assert digit is not None
            await self._press(digit)
            return f"200 result={ord(digit)}"
        limit = None if timeout_ms < 0 else timeout_ms / 1000.0
        if not await pbx.wait_sim(limit, self.ch):
            return "200 result=-1"
        return "200 result=0"


_GONE = object()


def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default
