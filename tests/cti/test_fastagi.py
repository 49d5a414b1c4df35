"""FastAGI server: real Asterisk captures replayed byte-for-byte, hangups, bad replies, routing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.cti import FastAgiSettings
from cti.agi_codec import parse_reply_line, quote, split_script
from cti.errors import AgiCommandError, AgiError, AgiHangup, InvalidValue
from cti.fastagi import AgiSession, FastAgiServer
from tests.cti.replay_server import TRANSCRIPTS


def _env_block(script: str = "ivr", **extra: str) -> bytes:
    env = {
        "agi_network": "yes",
        "agi_network_script": script,
        "agi_request": f"agi://127.0.0.1:4573/{script}",
        "agi_channel": "PJSIP/carrier-00000001",
        "agi_uniqueid": "1795462540.1",
        "agi_callerid": "+15557654321",
        "agi_dnid": "15551230000",
    }
    env.update(extra)
    return b"".join(f"{k}: {v}\n".encode() for k, v in env.items()) + b"\n"


FALLBACK_COMMAND = b'SET VARIABLE CTI_RESULT "fallback"\n'

class FakeAsterisk:
    """The Asterisk side of one FastAGI connection, driven step by step by the test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received = bytearray()

    @classmethod
    async def connect(cls, port: int) -> FakeAsterisk:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        return cls(r, w)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def command(self) -> bytes:
        line = await asyncio.wait_for(self.reader.readline(), 5)
        self.received += line
        return line

    async def rest_until_eof(self) -> bytes:
        data = await asyncio.wait_for(self.reader.read(), 5)
        self.received += data
        return data

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def server() -> AsyncIterator[FastAgiServer]:
    srv = FastAgiServer(FastAgiSettings(host="127.0.0.1", port=0), header_timeout_s=2.0)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


def _lab_ivr(results: dict[str, object]):  # the handler that ran during the lab capture
    async def handler(s: AgiSession) -> None:
        await s.answer()
        await s.verbose(
            f"CTI lab IVR: call from {s.env['agi_callerid']} to {s.env['agi_dnid']}", 1
        )
        results["did"] = await s.get_variable("INBOUND_DID")
        results["full"] = await s.get_full_variable("${CALLERID(num)} ${CHANNEL(state)}")
        results["pressed"] = pressed = await s.stream_file("demo-congrats", "0123456789*#")
        results["data"] = data = await s.get_data("beep", 5000, 1)
        digit = data or pressed or ""
        queue = {"1": "support", "2": "sales"}.get(digit, "support")
        await s.set_variable("IVR_DIGIT", digit)
        await s.set_variable("IVR_QUEUE", queue)
        await s.verbose(f"CTI lab IVR: digit={digit} queue={queue}", 1)
        results["done"] = True

    return handler


async def _replay(port: int, name: str) -> bytes:
    rx = (TRANSCRIPTS / f"{name}.agi_rx.raw").read_bytes()
    env, _, replies = rx.partition(b"\n\n")
    ast = await FakeAsterisk.connect(port)
    await ast.send(env + b"\n\n")
    for reply in replies.splitlines(keepends=True):
        await ast.command()
        await ast.send(reply)
    await ast.rest_until_eof()
    ast.close()
    return bytes(ast.received)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "agi_session",
            {"did": "15551230000", "full": "+15557654321 Up", "pressed": "1", "data": "1"},
        ),
        (
            "agi_session_local",
            {"did": None, "full": "5550004 Up", "pressed": "2", "data": "2"},
        ),
    ],
)
async def test_lab_capture_replays_byte_for_byte(
    server: FastAgiServer, name: str, expected: dict[str, object]
) -> None:
    results: dict[str, object] = {}
    server.route("ivr", _lab_ivr(results))
    sent = await _replay(server.port, name)
    assert sent == (TRANSCRIPTS / f"{name}.agi_tx.raw").read_bytes()
    assert results == {**expected, "done": True}
    assert server.counters.sessions_total == 1
    assert server.counters.handler_errors == 0


async def _one_session(
    server: FastAgiServer, handler_body, script: str = "t", **env: str
) -> tuple[FakeAsterisk, asyncio.Future[BaseException | None]]:
    """Route `script` to a handler that records what it raised."""
    outcome: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def handler(s: AgiSession) -> None:
        try:
            await handler_body(s)
        except BaseException as exc:
            outcome.set_result(exc)
            raise
        outcome.set_result(None)

    server.route(script.partition("?")[0], handler)
    ast = await FakeAsterisk.connect(server.port)
    await ast.send(_env_block(script, **env))
    return ast, outcome


async def test_hangup_line_mid_session_raises_agihangup_and_logs_info(
    server: FastAgiServer, caplog: pytest.LogCaptureFixture
) -> None:
    after: list[BaseException] = []

    async def body(s: AgiSession) -> None:
        await s.answer()
        try:
            await s.stream_file("demo-congrats", "#")
        except AgiHangup:
            try:
                await s.verbose("never sent")
            except AgiHangup as exc:
                after.append(exc)
            raise

    caplog.set_level(logging.INFO, logger="cti.fastagi")
    ast, outcome = await _one_session(server, body)
    assert await ast.command() == b"ANSWER\n"
    await ast.send(b"200 result=0\n")
    assert await ast.command() == b'STREAM FILE demo-congrats "#"\n'
    await ast.send(b"HANGUP\n")
    assert isinstance(await asyncio.wait_for(outcome, 5), AgiHangup)
    assert await ast.rest_until_eof() == b""  # nothing sent after the hangup; socket closed
    assert len(after) == 1
    assert server.counters.hangups == 1
    assert server.counters.handler_errors == 0
    records = [r for r in caplog.records if r.name == "cti.fastagi"]
    assert any(r.levelno == logging.INFO and "hung up" in r.getMessage() for r in records)
    assert not any(r.levelno >= logging.ERROR for r in records)


async def test_511_dead_channel_is_a_hangup(server: FastAgiServer) -> None:
    async def body(s: AgiSession) -> None:
        await s.set_variable("X", "1")

    ast, outcome = await _one_session(server, body)
    await ast.command()
    await ast.send(b"511 Command Not Permitted on a dead channel or intercept routine\n")
    assert isinstance(await asyncio.wait_for(outcome, 5), AgiHangup)
    await ast.rest_until_eof()
    assert server.counters.hangups == 1


async def test_socket_closed_mid_command_is_a_hangup(server: FastAgiServer) -> None:
    async def body(s: AgiSession) -> None:
        await s.wait_for_digit(5000)

    ast, outcome = await _one_session(server, body)
    assert await ast.command() == b"WAIT FOR DIGIT 5000\n"
    ast.close()
    assert isinstance(await asyncio.wait_for(outcome, 5), AgiHangup)


async def test_record_style_hangup_data_is_a_hangup(server: FastAgiServer) -> None:
    async def body(s: AgiSession) -> None:
        await s.stream_file("x")

    ast, outcome = await _one_session(server, body)
    await ast.command()
    await ast.send(b"200 result=0 (hangup) endpos=0\n")
    assert isinstance(await asyncio.wait_for(outcome, 5), AgiHangup)


async def test_unknown_script_closes_cleanly(
    server: FastAgiServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.route("ivr", _lab_ivr({}))
    ast = await FakeAsterisk.connect(server.port)
    await ast.send(_env_block("nosuch?x=1"))
    assert await ast.command() == FALLBACK_COMMAND
    await ast.send(b"200 result=1\n")
    assert await ast.rest_until_eof() == b""
    assert server.counters.unknown_scripts == 1
    assert server.counters.sessions_total == 0
    assert any("nosuch" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


async def test_eof_before_environment_end_closes(server: FastAgiServer) -> None:
    ast = await FakeAsterisk.connect(server.port)
    await ast.send(b"agi_network: yes\nagi_network_script: ivr\n")
    ast.writer.write_eof()
    assert await ast.rest_until_eof() == b""
    for _ in range(100):
        if server.counters.bad_requests:
            break
        await asyncio.sleep(0.01)
    assert server.counters.bad_requests == 1
    assert server.active_sessions == 0


async def test_510_keeps_session_usable(server: FastAgiServer) -> None:
    seen: list[object] = []

    async def body(s: AgiSession) -> None:
        try:
            await s.command("FROB")
        except AgiCommandError as exc:
            seen.append(exc.reply.code)
        seen.append(await s.get_variable("A"))

    ast, outcome = await _one_session(server, body)
    assert await ast.command() == b"FROB\n"
    await ast.send(b"510 Invalid or unknown command\n")
    assert await ast.command() == b"GET VARIABLE A\n"
    await ast.send(b"200 result=1 (a (b) c)\n")
    assert await asyncio.wait_for(outcome, 5) is None
    assert seen == [510, "a (b) c"]


async def test_multiline_520_is_read_whole(server: FastAgiServer) -> None:
    seen: list[object] = []

    async def body(s: AgiSession) -> None:
        try:
            await s.command("GET DATA")
        except AgiCommandError as exc:
            seen.append(exc.reply.text)
        seen.append(await s.wait_for_digit(100))

    ast, outcome = await _one_session(server, body)
    await ast.command()
    await ast.send(
        b"520-Invalid command syntax.  Proper usage follows:\n"
        b" Usage: GET DATA <file to be streamed> [timeout] [max digits]\n"
        b"520 End of proper usage.\n"
    )
    assert await ast.command() == b"WAIT FOR DIGIT 100\n"
    await ast.send(b"200 result=0\n")
    assert await asyncio.wait_for(outcome, 5) is None
    assert "Usage: GET DATA" in str(seen[0]) and str(seen[0]).endswith("End of proper usage.")
    assert seen[1] is None


async def test_garbage_reply_breaks_session_with_agierror(server: FastAgiServer) -> None:
    second: list[BaseException] = []

    async def body(s: AgiSession) -> None:
        try:
            await s.answer()
        except AgiError as exc:
            assert not isinstance(exc, AgiHangup)
            try:
                await s.answer()
            except AgiError as exc2:
                second.append(exc2)
            raise

    ast, outcome = await _one_session(server, body)
    await ast.command()
    await ast.send(b"hello there\n")
    exc = await asyncio.wait_for(outcome, 5)
    assert isinstance(exc, AgiError) and not isinstance(exc, AgiHangup)
    assert await ast.rest_until_eof() == b""  # second answer() was not sent
    assert len(second) == 1
    assert server.counters.handler_errors == 1


async def test_cancelled_command_makes_session_refuse_more(server: FastAgiServer) -> None:
    after: list[BaseException] = []

    async def body(s: AgiSession) -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await s.wait_for_digit(10_000)
        try:
            await s.answer()
        except AgiError as exc:
            after.append(exc)

    ast, outcome = await _one_session(server, body)
    assert await ast.command() == b"WAIT FOR DIGIT 10000\n"
    assert await asyncio.wait_for(outcome, 5) is None
    assert await ast.rest_until_eof() == b""  # ANSWER never sent: its reply would be misread
    assert len(after) == 1 and "cancelled" in str(after[0])


async def test_100_trying_is_skipped_and_minus_one_fails(server: FastAgiServer) -> None:
    async def body(s: AgiSession) -> None:
        await s.answer()
        await s.stream_file("missing")

    ast, outcome = await _one_session(server, body)
    await ast.command()
    await ast.send(b"100 result=0 Trying...\n200 result=0\n")
    await ast.command()
    await ast.send(b"200 result=-1 endpos=0\n")
    assert await ast.command() == b"NOOP\n"  # is the channel still there?
    await ast.send(b"200 result=0\n")  # yes: the file was missing
    exc = await asyncio.wait_for(outcome, 5)
    assert isinstance(exc, AgiCommandError) and exc.reply.result == "-1"
    assert "no hangup followed" in str(exc)


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        ("stream", b"200 result=-1 endpos=12000\n"),
        ("data", b"200 result=-1\n"),
        ("digit", b"200 result=-1\n"),
    ],
)
async def test_minus_one_then_hangup_line_is_a_hangup(
    server: FastAgiServer, caplog: pytest.LogCaptureFixture, command: str, reply: bytes
) -> None:
    """res_agi's order when the caller hangs up mid-prompt: the -1 reply, then HANGUP."""

    async def body(s: AgiSession) -> None:
        if command == "stream":
            await s.stream_file("welcome", "12")
        elif command == "data":
            await s.get_data("menu", 5000, 1)
        else:
            await s.wait_for_digit(5000)

    caplog.set_level(logging.INFO, logger="cti.fastagi")
    ast, outcome = await _one_session(server, body)
    await ast.command()
    await ast.send(reply)
    assert await ast.command() == b"NOOP\n"
    await ast.send(b"HANGUP\n200 result=0\n")
    assert isinstance(await asyncio.wait_for(outcome, 5), AgiHangup)
    await ast.rest_until_eof()
    assert server.counters.hangups == 1 and server.counters.handler_errors == 0
    assert not any(r.levelno >= logging.WARNING for r in caplog.records if r.name == "cti.fastagi")


async def test_get_data_timeout_exec_music_and_args(server: FastAgiServer) -> None:
    seen: list[object] = []

    async def body(s: AgiSession) -> None:
        seen.append((s.script, dict(s.args), s.argv))
        seen.append(await s.get_data("enter-account", 3000, 6))
        seen.append(await s.get_data("enter-account", 3000, 6))
        await s.set_music(True, "default")
        seen.append(await s.exec("Dial", "PJSIP/1001", "30", "tT"))
        await s.set_music(False)
        await s.hangup()

    ast, outcome = await _one_session(
        server, body, script="dialer?campaign=7&lead=42",
        agi_arg_2="second", agi_arg_1="first",
    )
    assert await ast.command() == b"GET DATA enter-account 3000 6\n"
    await ast.send(b"200 result= (timeout)\n")
    await ast.command()
    await ast.send(b"200 result=12 (timeout)\n")
    assert await ast.command() == b"SET MUSIC on default\n"
    await ast.send(b"200 result=0\n")
    assert await ast.command() == b'EXEC Dial "PJSIP/1001,30,tT"\n'
    await ast.send(b"200 result=0\n")
    assert await ast.command() == b"SET MUSIC off default\n"
    await ast.send(b"200 result=0\n")
    assert await ast.command() == b"HANGUP\n"
    await ast.send(b"200 result=1\n")
    assert await asyncio.wait_for(outcome, 5) is None
    assert seen == [("dialer", {"campaign": "7", "lead": "42"}, ("first", "second")), "", "12", 0]


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.set_variable("IVR_QUEUE", "support\nEXEC System rm"),
        lambda s: s.set_variable("BAD NAME", "x"),
        lambda s: s.verbose("a\rb"),
        lambda s: s.stream_file("file with space"),
        lambda s: s.stream_file("ok", "12x"),
        lambda s: s.exec("Dial", "PJSIP/1001,30"),
        lambda s: s.get_full_variable("${X}\0"),
        lambda s: s.command("NOOP\nHANGUP"),
    ],
)
async def test_invalid_values_send_nothing(server: FastAgiServer, call) -> None:
    async def body(s: AgiSession) -> None:
        await call(s)

    ast, outcome = await _one_session(server, body)
    assert isinstance(await asyncio.wait_for(outcome, 5), InvalidValue)
    # Nothing of the bad command went out; the failed call is handed back to the dialplan.
    assert await ast.command() == FALLBACK_COMMAND
    await ast.send(b"200 result=1\n")
    assert await ast.rest_until_eof() == b""
    assert server.counters.handler_errors == 1


async def test_handler_crash_does_not_kill_server_and_sessions_are_counted(
    server: FastAgiServer,
) -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def boom(s: AgiSession) -> None:
        raise RuntimeError("bug in handler")

    async def slow(s: AgiSession) -> None:
        entered.set()
        await release.wait()
        await s.answer()

    server.route("boom", boom)
    server.route("slow", slow)
    a = await FakeAsterisk.connect(server.port)
    await a.send(_env_block("boom"))
    assert await a.command() == FALLBACK_COMMAND
    await a.send(b"200 result=1\n")
    assert await a.rest_until_eof() == b""
    b = await FakeAsterisk.connect(server.port)
    await b.send(_env_block("slow"))
    await asyncio.wait_for(entered.wait(), 5)
    assert server.active_sessions == 1
    release.set()
    assert await b.command() == b"ANSWER\n"
    await b.send(b"200 result=0\n")
    await b.rest_until_eof()
    for _ in range(100):
        if server.active_sessions == 0:
            break
        await asyncio.sleep(0.01)
    assert server.active_sessions == 0
    assert server.counters.handler_errors == 1
    assert server.counters.sessions_total == 2


def test_duplicate_route_rejected() -> None:
    srv = FastAgiServer(FastAgiSettings(port=0))
    srv.route("ivr", _lab_ivr({}))
    with pytest.raises(ValueError):
        srv.route("/ivr", _lab_ivr({}))


def test_parse_reply_examples() -> None:
    r = parse_reply_line("200 result=49 endpos=28000")
    assert (r.code, r.result, r.data, dict(r.extras)) == (200, "49", None, {"endpos": "28000"})
    r = parse_reply_line("200 result=1 (15551230000)")
    assert (r.result, r.data) == ("1", "15551230000")
    r = parse_reply_line("200 result=0 (timeout) endpos=1234")
    assert (r.result, r.data, dict(r.extras)) == ("0", "timeout", {"endpos": "1234"})
    assert parse_reply_line("510 Invalid or unknown command").code == 510
    with pytest.raises(AgiError):
        parse_reply_line("HANGUP?")
    with pytest.raises(AgiError):
        parse_reply_line("20x result=1")


def test_split_script_falls_back_to_request() -> None:
    assert split_script({"agi_request": "agi://10.0.0.1:4573/ivr/main?lang=fr"}) == (
        "ivr/main",
        {"lang": "fr"},
    )


def _asterisk_parse_args(line: str) -> list[str]:
    """res_agi.c parse_args(): quotes group, backslash escapes the next character."""
    out: list[str] = []
    cur: list[str] = []
    quoted = escaped = False
    started = False
    for ch in line:
        if escaped:
            cur.append(ch)
            escaped = False
            started = True
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
            started = True
        elif ch in " \t" and not quoted:
            if started:
                out.append("".join(cur))
                cur, started = [], False
        else:
            cur.append(ch)
            started = True
    if started:
        out.append("".join(cur))
    return out


_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",)),
    max_size=40,
)


@given(_text)
def test_quote_round_trips_through_asterisk_arg_parser(value: str) -> None:
    assert _asterisk_parse_args(f"SET VARIABLE X {quote('v', value)}") == [
        "SET",
        "VARIABLE",
        "X",
        value,
    ]


@given(_text)
def test_variable_value_survives_reply_parsing(value: str) -> None:
    assert parse_reply_line(f"200 result=1 ({value})").data == value


@given(_text, st.sampled_from("\r\n\0"), _text)
def test_quote_rejects_line_breaks(head: str, bad: str, tail: str) -> None:
    with pytest.raises(InvalidValue):
        quote("v", head + bad + tail)
