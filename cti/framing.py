"""AMI wire framing: bytes in, header dicts out; header pairs in, bytes out.

AMI is a line protocol: one banner line ("Asterisk Call Manager/11.0.0\\r\\n") with no blank line
after it, then messages of "Key: value\\r\\n" lines each closed by an empty "\\r\\n" line.

The framer works on the whole receive buffer with ``bytes.split`` rather than per line or per byte:
the ingest path sees tens of thousands of events a second, and most of them are VarSet/Newexten
that are thrown away right after framing, so framing is the part that has to be cheap.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NoReturn

from cti.errors import AmiProtocolError, InvalidValue

AmiMessage = dict[str, str]

_TERMINATOR = b"\r\n\r\n"
_BANNER_PREFIX = "Asterisk Call Manager/"
# A banner line longer than this is not a banner; stops a peer that never sends CRLF from making
# us buffer up to max_message_bytes before noticing it is not Asterisk.
_MAX_BANNER = 256
_FORBIDDEN_IN_ACTION = ("\r", "\n", "\x00")
_HEADER_NAME = re.compile(r"[A-Za-z0-9_-]+")


class AmiFramer:
    """Incremental AMI decoder. Feed it whatever ``recv`` returned; it returns complete messages.

    A repeated key (``Output:`` of the Command action, ``ChanVariable:``) is joined with "\\n" into
    one value so every message is a plain ``dict[str, str]`` in header order.

    Anything bigger than ``max_message_bytes`` (a complete message, or an unterminated buffer)
    raises :class:`AmiProtocolError`; the framer is unusable afterwards and the caller is expected
    to drop the connection, which is the only safe way to resynchronise with a misbehaving peer.
    """

    __slots__ = ("_buf", "_max", "_banner", "_need_banner", "_failed")

    def __init__(self, max_message_bytes: int, *, expect_banner: bool = True) -> None:
        if max_message_bytes < 16:
            raise ValueError("max_message_bytes must be at least 16")
        self._buf = b""
        self._max = max_message_bytes
        self._banner: str | None = None
        self._need_banner = expect_banner
        self._failed = False

    @property
    def banner(self) -> str | None:
        """The banner line without its CRLF, once it has arrived."""
        return self._banner

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a message."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[AmiMessage]:
        if self._failed:
            raise AmiProtocolError("framer already failed; reconnect")
        buf = self._buf + data if self._buf else data
        if self._need_banner:
            end = buf.find(b"\r\n")
            if end < 0:
                if len(buf) > _MAX_BANNER:
                    self._fail(f"no AMI banner in the first {_MAX_BANNER} bytes")
                self._buf = buf
                return []
            line = buf[:end].decode("utf-8", "replace")
            if not line.startswith(_BANNER_PREFIX):
                self._fail(f"not an AMI banner: {line[:80]!r}")
            self._banner = line
            self._need_banner = False
            buf = buf[end + 2 :]

        chunks = buf.split(_TERMINATOR)
        rest = chunks.pop()
        if len(rest) > self._max:
            self._fail(f"unterminated AMI message exceeds {self._max} bytes")
        self._buf = rest
        if not chunks:
            return []
        out: list[AmiMessage] = []
        limit = self._max
        for raw in chunks:
            if len(raw) > limit:
                self._fail(f"AMI message of {len(raw)} bytes exceeds {limit} bytes")
            if raw:
                msg = _decode(raw)
                if msg:
                    out.append(msg)
        return out

    def _fail(self, reason: str) -> NoReturn:
        self._failed = True
        self._buf = b""
        raise AmiProtocolError(reason)


def _decode(raw: bytes) -> AmiMessage:
    text = raw.decode("utf-8", "replace")
    lines = text.split("\r\n")
    # Asterisk sometimes ends a value with a bare LF (PJSIPShowContacts: "No Contacts found\n");
    # one count() tells whether any LF is not part of a CRLF, so the common case stays one split.
    if text.count("\n") != len(lines) - 1:
        lines = text.replace("\r\n", "\n").split("\n")
    # Fast path: every line is "Key: value" and no key repeats. dict() over 2-item splits runs
    # in C; anything unusual (a line without ": ", an empty line, a repeated key) takes the
    # general loop below.
    try:
        fast: AmiMessage = dict(line.split(": ", 1) for line in lines)
    except ValueError:
        pass
    else:
        if len(fast) == len(lines):
            return fast
    msg: AmiMessage = {}
    for line in lines:
        if not line:
            continue
        key, sep, value = line.partition(": ")
        if not sep:
            if line.endswith(":"):
                # "AccountCode:" with the trailing space trimmed by some proxy.
                key, value = line[:-1], ""
            else:
                # Pre-13 Command output arrived as bare lines; keep them as Output like today's.
                key, value = "Output", line
        if key in msg:
            msg[key] = msg[key] + "\n" + value
        else:
            msg[key] = value
    return msg


def encode_action(fields: Sequence[tuple[str, str]]) -> bytes:
    """Serialise header pairs as one AMI action (CRLF lines, blank line at the end).

    Refuses CR, LF and NUL anywhere, and a header name that is not a plain token, because any of
    them would let a value forge extra headers or a second action on the wire.
    """
    if not fields:
        raise InvalidValue("fields", fields, "an action needs at least one header")
    parts: list[str] = []
    for key, value in fields:
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidValue(str(key), value, "header names and values must be str")
        if not _HEADER_NAME.fullmatch(key):
            raise InvalidValue(key, value, "header names are letters, digits, '-' and '_'")
        for bad in _FORBIDDEN_IN_ACTION:
            if bad in key:
                raise InvalidValue(key, value, f"header name contains {bad!r}")
            if bad in value:
                raise InvalidValue(key, value, f"value contains {bad!r}")
        parts.append(f"{key}: {value}\r\n")
    parts.append("\r\n")
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as exc:
        # A lone surrogate (e.g. from a badly decoded client string) has no UTF-8 form.
        raise InvalidValue("fields", exc.object[exc.start:exc.end], "not encodable as UTF-8") \
            from None
