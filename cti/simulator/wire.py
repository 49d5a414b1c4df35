"""Bytes in and out of the simulator: AMI messages (CRLF) and FastAGI lines (LF).

Deliberately independent of the server's cti/framing.py: the simulator stands in for Asterisk,
so a bug in the server's framing must not be mirrored here and cancel itself out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cti.errors import AmiProtocolError

Header = tuple[str, str]

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def encode_message(headers: Iterable[Header]) -> bytes:
    """One AMI message: `Key: value` lines, each CRLF-terminated, then a blank CRLF line."""
    out = [f"{key}: {value}\r\n" for key, value in headers]
    out.append("\r\n")
    return "".join(out).encode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Action:
    """One request from an AMI client, headers in the order they came."""

    headers: tuple[Header, ...]

    def get(self, key: str, default: str | None = None) -> str | None:
        # Asterisk matches header names case-insensitively (astman_get_header).
        low = key.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return default

    def get_all(self, key: str) -> list[str]:
        low = key.lower()
        return [v for k, v in self.headers if k.lower() == low]

    @property
    def name(self) -> str | None:
        return self.get("Action")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")


class ActionFramer:
    """Splits the client's byte stream into Actions.

    Tolerates LF-only line ends and lines without a colon (Asterisk ignores them, see
    the `actions-garbage` request in actions.sent.raw). A message larger than `max_bytes`
    raises AmiProtocolError and the session is dropped: nothing partial is acted on.
    """

    def __init__(self, max_bytes: int = 1_048_576) -> None:
        self._buf = bytearray()
        self._current: list[Header] = []
        self._current_size = 0
        self._max = max_bytes

    def feed(self, data: bytes) -> list[Action]:
        self._buf.extend(data)
        actions: list[Action] = []
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) + self._current_size > self._max:
                    raise AmiProtocolError(f"AMI request larger than {self._max} bytes")
                return actions
            raw = bytes(self._buf[:nl])
            del self._buf[: nl + 1]
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            self._current_size += len(raw) + 1
            if self._current_size > self._max:
                raise AmiProtocolError(f"AMI request larger than {self._max} bytes")
            if line == "":
                if self._current:
                    actions.append(Action(tuple(self._current)))
                self._current = []
                self._current_size = 0
                continue
            key, sep, value = line.partition(":")
            if not sep:
                continue
            self._current.append((key.strip(), value.lstrip(" ")))


def encode_agi_env(env: Sequence[Header]) -> bytes:
    """The agi_* environment as Asterisk sends it: `key: value\\n` lines, then a blank line."""
    return ("".join(f"{k}: {v}\n" for k, v in env) + "\n").encode("utf-8", "replace")


def split_agi_command(line: str) -> list[str]:
    """Split an AGI command line into arguments the way res_agi's parse_args does.

    Double quotes group words (and are removed), a backslash escapes the next character.
    """
    args: list[str] = []
    cur: list[str] = []
    in_quotes = False
    escaped = False
    have_token = False
    for ch in line:
        if escaped:
            cur.append(ch)
            escaped = False
            have_token = True
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            in_quotes = not in_quotes
            have_token = True
        elif ch in " \t" and not in_quotes:
            if have_token:
                args.append("".join(cur))
                cur = []
                have_token = False
        else:
            cur.append(ch)
            have_token = True
    if have_token:
        args.append("".join(cur))
    return args
