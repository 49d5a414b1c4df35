"""FastAGI line codec (pure, no I/O): reply lines in, typed `AgiReply` out; command arguments
checked and quoted the way res_agi reads them back; the agi_* environment and script parsed.

AGI is a line protocol: Asterisk sends `agi_key: value` lines closed by a blank line, then
answers each command line with `200 result=... [(data)] [key=value...]`, `510 ...`, a
multi-line `520-...`/`520 ...` usage text, `511 ...` on a dead channel, or an asynchronous
`HANGUP`. The session (cti/fastagi.py) reads and writes the lines; this module only
interprets them, like cti/framing.py does for AMI.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from cti.errors import AgiError, InvalidValue

# Escape digits STREAM FILE / GET OPTION accept (DTMF 0-9, *, #, A-D).
DTMF_KEYS = frozenset("0123456789*#ABCD")
# Names that go on the command line unquoted: variable names (incl. FUNC(args)), file names,
# application names. Whitespace or quotes there would shift every following argument.
_TOKEN = re.compile(r"^[A-Za-z0-9_\-./:()@+,=*#\[\]${}]+$")


@dataclass(frozen=True, slots=True)
class AgiReply:
    """One parsed reply. `result` is the raw text after `result=` ("" when absent or empty);
    `data` is the parenthesised part (`(15551230000)`, `(timeout)`); `extras` holds `key=value`
    words such as `endpos`. `text` is the whole reply, all lines for a multi-line 520."""

    code: int
    result: str = ""
    data: str | None = None
    extras: Mapping[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def result_int(self) -> int | None:
        try:
            return int(self.result)
        except ValueError:
            return None


def check_value(field_name: str, value: str) -> str:
    """A value reaching the AGI socket may not hold CR, LF or NUL: each would end the command
    early and let the rest run as a second command."""
    if "\r" in value or "\n" in value or "\0" in value:
        raise InvalidValue(field_name, value, "CR, LF and NUL are not allowed")
    return value


def check_token(field_name: str, value: str) -> str:
    check_value(field_name, value)
    if not value or not _TOKEN.match(value):
        raise InvalidValue(field_name, value, "must be a non-empty word without spaces or quotes")
    return value


def quote(field_name: str, value: str) -> str:
    """Double-quote an argument the way res_agi's parse_args() reads it back."""
    check_value(field_name, value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_reply_line(line: str) -> AgiReply:
    """Parse one single-line reply such as `200 result=49 endpos=28000`,
    `200 result=1 (15551230000)`, `200 result= (timeout)`, `510 Invalid or unknown command`.
    Raises AgiError when the line is not an AGI reply at all."""
    if len(line) < 3 or not line[:3].isdigit() or (len(line) > 3 and line[3] not in " -"):
        raise AgiError(f"malformed AGI reply: {line!r}")
    code = int(line[:3])
    rest = line[4:]
    if not rest.startswith("result="):
        return AgiReply(code=code, text=line)
    rest = rest[7:]
    sp = rest.find(" ")
    result, tail = (rest, "") if sp < 0 else (rest[:sp], rest[sp + 1 :])
    data: str | None = None
    if tail.startswith("("):
        # The last ')' closes it: variable values may themselves hold parentheses.
        close = tail.rfind(")")
        if close < 0:
            data, tail = tail[1:], ""
        else:
            data, tail = tail[1:close], tail[close + 1 :]
    extras = {}
    for word in tail.split():
        key, eq, value = word.partition("=")
        if eq:
            extras[key] = value
    return AgiReply(code=code, result=result, data=data, extras=extras, text=line)


def parse_env_line(line: str) -> tuple[str, str] | None:
    key, sep, value = line.partition(":")
    if not sep or not key.startswith("agi_"):
        return None
    return key, value[1:] if value.startswith(" ") else value


def split_script(env: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """`agi_network_script` ("dialer?campaign=7&lead=42") -> ("dialer", {"campaign": "7", ...}).
    Falls back to the path of `agi_request` when the script line is missing."""
    raw = env.get("agi_network_script")
    if raw is None:
        request = env.get("agi_request", "")
        parts = urlsplit(request)
        raw = parts.path + ("?" + parts.query if parts.query else "")
    path, _, query = raw.partition("?")
    return path.strip("/"), dict(parse_qsl(query, keep_blank_values=True))


def digit_of(code: int) -> str | None:
    """STREAM FILE / WAIT FOR DIGIT result: 0 = no key, else the ASCII code of the key."""
    if code == 0:
        return None
    return chr(code)
