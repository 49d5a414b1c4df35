"""The reference dialplan (config/asterisk/extensions.conf), read so the simulator runs it.

Pure: parsing `extensions.conf` into contexts and priorities, and evaluating the small part of
Asterisk's expression language the reference dialplan uses in GotoIf (`$[ ... ]` with quoted
strings, `=`, `!=`, `&`, `|` and parentheses). Variables are substituted by the caller (the PBX
knows the channel). Anything outside that subset raises DialplanError naming the line, so a
change to the reference file that the simulator cannot model fails loudly in the tests instead
of being silently approximated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# The config package's copy, found by path: importing `config` would load its settings loader.
REFERENCE_PATH = Path(__file__).resolve().parents[2] / "config" / "asterisk" / "extensions.conf"


class DialplanError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Step:
    """One priority: `label` is the n(label) name, if any."""

    priority: int
    app: str
    data: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class Extension:
    pattern: str
    steps: tuple[Step, ...]

    def find(self, label: str) -> int:
        """Index in `steps` of the priority named `label` (or numbered)."""
        for i, s in enumerate(self.steps):
            if s.label == label or str(s.priority) == label:
                return i
        raise DialplanError(f"{self.pattern}: no priority labelled {label!r}")


@dataclass(frozen=True, slots=True)
class Dialplan:
    contexts: dict[str, tuple[Extension, ...]]
    globals: dict[str, str]

    def context(self, name: str) -> tuple[Extension, ...]:
        try:
            return self.contexts[name]
        except KeyError:
            raise DialplanError(f"no context [{name}]") from None


_LINE = re.compile(r"^(exten|same)\s*=>\s*(.*)$")
_APP = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$")
_PRIO = re.compile(r"^(n|\d+)(?:\(([A-Za-z0-9_-]+)\))?$")


def parse(text: str, source: str = "extensions.conf") -> Dialplan:
    contexts: dict[str, list[Extension]] = {}
    globals_: dict[str, str] = {}
    current: str | None = None
    pattern = ""
    steps: list[Step] = []

    def close() -> None:
        if current is not None and pattern:
            contexts.setdefault(current, []).append(Extension(pattern, tuple(steps)))

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            close()
            current, pattern, steps = line[1:-1].strip(), "", []
            contexts.setdefault(current, [])
            continue
        if current == "globals":
            name, sep, value = line.partition("=")
            if not sep:
                raise DialplanError(f"{source}:{lineno}: expected NAME=value in [globals]")
            globals_[name.strip()] = value.strip()
            continue
        if current in ("general", None):
            continue
        m = _LINE.match(line)
        if m is None:
            raise DialplanError(f"{source}:{lineno}: not an exten/same line: {raw!r}")
        kind, rest = m.groups()
        if kind == "exten":
            close()
            pat, prio, app = _split3(rest, source, lineno)
            pattern, steps = pat.strip(), []
        else:
            if not pattern:
                raise DialplanError(f"{source}:{lineno}: 'same =>' before any 'exten =>'")
            prio, app = _split2(rest, source, lineno)
        pm = _PRIO.match(prio.strip())
        if pm is None:
            raise DialplanError(f"{source}:{lineno}: bad priority {prio!r}")
        number = len(steps) + 1 if pm.group(1) == "n" else int(pm.group(1))
        am = _APP.match(app.strip())
        if am is None:
            raise DialplanError(f"{source}:{lineno}: bad application call {app!r}")
        steps.append(Step(number, am.group(1), am.group(2), pm.group(2) or ""))
    close()
    return Dialplan({k: tuple(v) for k, v in contexts.items()}, globals_)


def _split3(rest: str, source: str, lineno: int) -> tuple[str, str, str]:
    parts = rest.split(",", 2)
    if len(parts) != 3:
        raise DialplanError(f"{source}:{lineno}: expected pattern,priority,App(data)")
    return parts[0], parts[1], parts[2]


def _split2(rest: str, source: str, lineno: int) -> tuple[str, str]:
    parts = rest.split(",", 1)
    if len(parts) != 2:
        raise DialplanError(f"{source}:{lineno}: expected priority,App(data)")
    return parts[0], parts[1]


def parse_callerid(text: str) -> tuple[str, str]:
    """A CallerID value (Set(CALLERID(all)=...), Originate's CallerID):
    '"Lab Originate" <5550002>' -> ('5550002', 'Lab Originate')."""
    m = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', text)
    if m:
        return m.group(2), m.group(1)
    return text.strip(), ""


def load_reference() -> Dialplan:
    return parse(REFERENCE_PATH.read_text(encoding="utf-8"), str(REFERENCE_PATH))


def matches(pattern: str, exten: str) -> bool:
    """Asterisk extension patterns: literal, or `_` with X Z N [..] and a trailing `.`/`!`."""
    if not pattern.startswith("_"):
        return pattern == exten
    rx = ""
    body = pattern[1:]
    i = 0
    while i < len(body):
        c = body[i]
        if c == "X":
            rx += "[0-9]"
        elif c == "Z":
            rx += "[1-9]"
        elif c == "N":
            rx += "[2-9]"
        elif c == ".":
            rx += ".+"
        elif c == "!":
            rx += ".*"
        elif c == "[":
            end = body.index("]", i)
            rx += "[" + body[i + 1:end].replace("\\", "\\\\") + "]"
            i = end
        else:
            rx += re.escape(c)
        i += 1
    return re.fullmatch(rx, exten) is not None


def best_match(extensions: tuple[Extension, ...], exten: str) -> Extension | None:
    """The extension Asterisk would run: a literal beats any pattern; among patterns, the one
    with the fewest possible matches (here: the most fixed characters, then no trailing `.`)."""
    found = [e for e in extensions if matches(e.pattern, exten)]
    if not found:
        return None

    def rank(e: Extension) -> tuple[int, int, int]:
        literal = not e.pattern.startswith("_")
        wild = e.pattern.endswith((".", "!"))
        return (0 if literal else 1, 1 if wild else 0, -len(e.pattern))

    return min(found, key=rank)


# ------------------------------------------------------------------------------- expressions

_TOKEN = re.compile(r'\s*(?:"([^"]*)"|(!=|=|&|\||\(|\))|([^\s"=!&|()]+))')


def evaluate(expr: str) -> str:
    """Value of `$[ expr ]` after variable substitution: "1"/"0" for comparisons and logic,
    the operand itself otherwise."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = expr.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise DialplanError(f"cannot evaluate $[{expr}]")
        if m.group(1) is not None:
            tokens.append(("str", m.group(1)))
        elif m.group(2) is not None:
            tokens.append(("op", m.group(2)))
        else:
            tokens.append(("str", m.group(3)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    value, rest = _or(tokens)
    if rest:
        raise DialplanError(f"cannot evaluate $[{expr}]: unexpected {rest[0][1]!r}")
    return value


def truthy(value: str) -> bool:
    return value not in ("", "0")


Tokens = list[tuple[str, str]]


def _or(t: Tokens) -> tuple[str, Tokens]:
    left, t = _and(t)
    while t and t[0] == ("op", "|"):
        right, t = _and(t[1:])
        left = "1" if truthy(left) or truthy(right) else "0"
    return left, t


def _and(t: Tokens) -> tuple[str, Tokens]:
    left, t = _cmp(t)
    while t and t[0] == ("op", "&"):
        right, t = _cmp(t[1:])
        left = "1" if truthy(left) and truthy(right) else "0"
    return left, t


def _cmp(t: Tokens) -> tuple[str, Tokens]:
    left, t = _atom(t)
    if t and t[0] in (("op", "="), ("op", "!=")):
        op = t[0][1]
        right, t = _atom(t[1:])
        equal = left == right
        return ("1" if equal == (op == "=") else "0"), t
    return left, t


def _atom(t: Tokens) -> tuple[str, Tokens]:
    if not t:
        raise DialplanError("expression ends too early")
    kind, value = t[0]
    if kind == "str":
        return value, t[1:]
    if value == "(":
        inner, rest = _or(t[1:])
        if not rest or rest[0] != ("op", ")"):
            raise DialplanError("missing ')'")
        return inner, rest[1:]
    raise DialplanError(f"unexpected {value!r}")


_EXPR = re.compile(r"\$\[(.*)\]", re.S)


def gotoif(data: str) -> tuple[bool, str, str]:
    """GotoIf(data) with variables already substituted: (condition, label_if_true,
    label_if_false); an empty label means "continue with the next priority"."""
    cond, sep, labels = data.rpartition("?")
    if not sep:
        raise DialplanError(f"GotoIf({data}): missing '?'")
    m = _EXPR.fullmatch(cond.strip())
    value = evaluate(m.group(1)) if m else cond.strip()
    if_true, _, if_false = labels.partition(":")
    return truthy(value), if_true.strip(), if_false.strip()
