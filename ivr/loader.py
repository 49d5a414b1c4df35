"""Load and validate menu files (TOML) into `ivr.model.Menu`.

A file looks like this (config/ivr/*.toml hold the shipped ones):

    [menu]
    name = "main"
    start = "welcome"
    languages = ["en", "zh"]          # prompt sets; the first is the default language
    default_queue = "support"         # where callers go when they cannot use an input node

    [hours.office]
    timezone = "America/New_York"
    weekly = { mon = "09:00-17:00", tue = "09:00-12:00,13:00-17:00" }
    holidays = ["2026-12-25"]

    [nodes.welcome]
    type = "play"
    prompts = ["welcome", { say = "number", var = "ticket.id" }]
    next = "main"

Everything wrong is refused with a MenuConfigError naming the file, the node and the fix:
wrong types and unknown keys, unknown target nodes, queues or skills, nodes no path reaches,
loops a caller can never leave or that never wait for the caller, and prompts missing from the
configured sound directories (when any is configured; every prompt must exist in the default
language, other languages fall back to it).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ivr.errors import MenuConfigError
from ivr.model import (
    EXIT_KINDS,
    FAIL_ROUTE,
    INPUT_KINDS,
    WEEKDAYS,
    Callback,
    Collect,
    Condition,
    Hangup,
    Hours,
    InputPolicy,
    Item,
    Lookup,
    Menu,
    MenuNode,
    Message,
    Node,
    Play,
    Route,
    SetVars,
    Transfer,
)

_ID = r"^[a-z][a-z0-9_]{0,47}$"
_PROMPT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
_VAR = r"^[a-z][a-z0-9_.]{0,47}$"
SOUND_EXTENSIONS = (".wav", ".gsm", ".ulaw", ".alaw", ".sln", ".g722", ".opus", ".mp3")
TIERS = ("platinum", "gold", "silver", "bronze", "unknown")


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Say(_M):
    say: Literal["number", "digits", "date", "amount"]
    var: str = Field(default="", pattern=_VAR)
    value: str = Field(default="", pattern=r"^-?[0-9]{0,18}$")


class _PromptVar(_M):
    prompt_var: str = Field(pattern=_VAR)
    prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_\-]{0,32}$")


_Item = str | _Say | _PromptVar


def _items(*names: str) -> list[_Item]:
    return list(names)


class _Input(_M):
    prompts: list[_Item] = Field(default_factory=list)
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=3, ge=1, le=10)
    invalid_prompts: list[_Item] = Field(default_factory=lambda: _items("invalid"))
    timeout_prompts: list[_Item] = Field(default_factory=list)
    on_fail: str = ""


class _Play(_M):
    type: Literal["play"]
    prompts: list[_Item]
    next: str


class _Menu(_Input):
    type: Literal["menu"]
    options: dict[str, str]


class _Collect(_Input):
    type: Literal["collect"]
    var: str = Field(pattern=_VAR)
    next: str
    min_digits: int = Field(default=1, ge=1, le=32)
    max_digits: int = Field(default=16, ge=1, le=32)
    terminator: Literal["#", "*", ""] = "#"
    validate_: Literal["none", "luhn", "pin"] = Field(default="none", alias="validate")
    secret: bool = False


class _Lookup(_M):
    type: Literal["lookup"]
    by: Literal["caller_id", "account"]
    var: str = Field(default="account", pattern=_VAR)
    found: str
    not_found: str


class _Condition(_M):
    type: Literal["condition"]
    when: Literal["business_hours", "tier", "open_ticket", "language", "ewt_above",
                  "identified", "var_equals"]
    then: str
    else_: str = Field(alias="else")
    hours: str = ""
    tiers: list[str] = Field(default_factory=list)
    language: str = ""
    queue: str = ""
    seconds: float = Field(default=0.0, ge=0)
    var: str = ""
    equals: str = ""


class _Set(_M):
    type: Literal["set"]
    next: str
    language: str = ""
    skills: list[str] = Field(default_factory=list)
    priority: str = ""
    vars: dict[str, str] = Field(default_factory=dict)


class _Route(_M):
    type: Literal["route"]
    queue: str
    skills: list[str] = Field(default_factory=list)


class _Callback(_M):
    type: Literal["callback"]
    prompts: list[_Item] = Field(default_factory=lambda: _items("callback-confirmed"))
    queue: str = ""
    on_fail: str = ""
    agent: Literal["", "last"] = ""


class _Message(_M):
    type: Literal["message"]
    prompts: list[_Item] = Field(default_factory=lambda: _items("leave-message"))
    thanks: list[_Item] = Field(default_factory=lambda: _items("message-thanks", "goodbye"))
    max_s: int = Field(default=60, ge=5, le=600)
    on_fail: str = ""


class _Transfer(_M):
    type: Literal["transfer"]
    number: str
    on_fail: str = ""


class _Hangup(_M):
    type: Literal["hangup"]
    prompts: list[_Item] = Field(default_factory=lambda: _items("goodbye"))


_Node = Annotated[_Play | _Menu | _Collect | _Lookup | _Condition | _Set | _Route | _Callback |
                  _Message | _Transfer | _Hangup, Field(discriminator="type")]
NODE_TYPES = ("play", "menu", "collect", "lookup", "condition", "set", "route", "callback",
              "message", "transfer", "hangup")


class _Head(_M):
    name: str = Field(pattern=_ID)
    start: str
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    default_queue: str = ""


class _Hours(_M):
    timezone: str
    weekly: dict[str, str]
    holidays: list[str] = Field(default_factory=list)


class _File(_M):
    menu: _Head
    hours: dict[str, _Hours] = Field(default_factory=dict)
    nodes: dict[str, _Node]


@dataclass(frozen=True, slots=True)
class Context:
    """What a menu is checked against: the ACD's queues and skills, the sound directories,
    and (optionally) a number check for transfer targets (the click-to-dial validation)."""

    queues: frozenset[str]
    skills: frozenset[str]
    sound_dirs: tuple[Path, ...] = ()
    check_number: Any = None  # Callable[[str], str], raises on a number we may not dial
    hours_override: Literal["", "open", "closed"] = ""  # see config/menus.py


def load_menu(path: Path | str, ctx: Context, version: int = 1) -> Menu:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise MenuConfigError(str(p), "", f"cannot be read ({exc.strerror})",
                              "check [ivr].menus and the file's permissions") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise MenuConfigError(str(p), "", "is not UTF-8 text", "save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise MenuConfigError(str(p), "", f"is not valid TOML ({exc})",
                              "correct the syntax at the line and column named") from None
    return build_menu(data, ctx, file=str(p), version=version)


def build_menu(data: Mapping[str, Any], ctx: Context, *, file: str = "<menu>",
               version: int = 1) -> Menu:
    parsed = _parse(data, file)
    return _Builder(parsed, ctx, file, version).build()


def _parse(data: Mapping[str, Any], file: str) -> _File:
    nodes = data.get("nodes")
    if isinstance(nodes, dict):
        for nid, body in nodes.items():
            if isinstance(body, dict) and body.get("type") not in NODE_TYPES:
                got = body.get("type")
                close = difflib.get_close_matches(str(got), NODE_TYPES, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise MenuConfigError(file, nid, f"unknown or missing node type {got!r}",
                                      f"{hint}set type to one of {', '.join(NODE_TYPES)}")
    try:
        return _File.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(x) for x in err["loc"]]
        node = ""
        key = ".".join(loc)
        if len(loc) >= 2 and loc[0] == "nodes":
            node = loc[1]
            # loc[2] is the discriminator tag pydantic inserts; the key is what follows.
            key = ".".join(loc[3:]) or "(node)"
        kind = err["type"]
        if kind == "extra_forbidden":
            problem, fix = f"unknown key {key!r}", "remove it (see the keys in ivr/loader.py)"
        elif kind == "missing":
            problem, fix = f"required key {key!r} is missing", f"add `{loc[-1]} = ...`"
        else:
            got = err.get("input")
            shown = f" (got {got!r})" if not isinstance(got, dict | list) else ""
            problem = f"{key}: {err['msg']}{shown}"
            fix = "give the value the type and form described in ivr/loader.py"
        raise MenuConfigError(file, node, problem, fix) from None


class _Builder:
    def __init__(self, f: _File, ctx: Context, file: str, version: int) -> None:
        self.f = f
        self.ctx = ctx
        self.file = file
        self.version = version
        self.prompts: dict[str, set[str]] = {}  # prompt -> nodes using it
        self.languages = tuple(f.menu.languages)

    def fail(self, node: str, problem: str, fix: str) -> MenuConfigError:
        return MenuConfigError(self.file, node, problem, fix)

    def build(self) -> Menu:
        head = self.f.menu
        for lang in self.languages:
            if not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", lang):
                raise self.fail("", f"language {lang!r} is not a language code",
                                "use codes such as \"en\" or \"zh\" in [menu].languages")
        default_queue = head.default_queue or (min(self.ctx.queues) if self.ctx.queues else "")
        if default_queue not in self.ctx.queues:
            raise self.fail("", f"default_queue {default_queue!r} is not an ACD queue",
                            self._one_of("queue", default_queue, self.ctx.queues))
        hours = {name: self._hours(name, h) for name, h in self.f.hours.items()}
        nodes: dict[str, Node] = {}
        for nid, raw in self.f.nodes.items():
            if not re.fullmatch(_ID, nid):
                raise self.fail(nid, "node ids are lower-case words",
                                "rename it to match [a-z][a-z0-9_]*")
            nodes[nid] = self._node(nid, raw, hours)
        nodes[FAIL_ROUTE] = Route(FAIL_ROUTE, default_queue)
        if head.start not in nodes or head.start == FAIL_ROUTE:
            raise self.fail("", f"start node {head.start!r} does not exist",
                            self._one_of("node", head.start, self.f.nodes))
        for node in nodes.values():
            for t in node.targets():
                if t not in nodes:
                    raise self.fail(node.id, f"goes to unknown node {t!r}",
                                    self._one_of("node", t, self.f.nodes))
        self._check_graph(head.start, nodes)
        catalogue = self._check_prompts()
        return Menu(name=head.name, file=self.file, start=head.start, nodes=nodes,
                    languages=self.languages, default_language=self.languages[0],
                    default_queue=default_queue, hours=hours, catalogue=catalogue,
                    version=self.version)

    @staticmethod
    def _one_of(what: str, got: str, known: Iterable[str]) -> str:
        names = sorted(known)
        close = difflib.get_close_matches(got, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"{hint}use one of the {what}s: {', '.join(names)}"

    # -- pieces ---------------------------------------------------------------------------

    def _hours(self, name: str, h: _Hours) -> Hours:
        node = f"hours.{name}"
        try:
            ZoneInfo(h.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(node, f"unknown time zone {h.timezone!r}",
                            "use an IANA name such as \"America/New_York\" or "
                            "\"Asia/Shanghai\"") from None
        weekly: dict[int, tuple[tuple[int, int], ...]] = {}
        for day, spec in h.weekly.items():
            if day not in WEEKDAYS:
                raise self.fail(node, f"unknown weekday {day!r}",
                                f"use {', '.join(WEEKDAYS)}")
            ranges = []
            for part in (s.strip() for s in spec.split(",") if s.strip()):
                m = re.fullmatch(r"(\d\d):(\d\d)-(\d\d):(\d\d)", part)
                if m is None:
                    raise self.fail(node, f"{day}: {part!r} is not a time range",
                                    "write ranges as \"09:00-17:00\", several separated by commas")
                a = int(m[1]) * 60 + int(m[2])
                b = int(m[3]) * 60 + int(m[4])
                if not (0 <= a < b <= 24 * 60 and int(m[2]) < 60 and int(m[4]) < 60):
                    raise self.fail(node, f"{day}: {part!r} is not a valid range",
                                    "the opening time must come before the closing time, "
                                    "within 00:00-24:00")
                ranges.append((a, b))
            weekly[WEEKDAYS.index(day)] = tuple(ranges)
        holidays = set()
        for d in h.holidays:
            try:
                holidays.add(dt.date.fromisoformat(d))
            except ValueError:
                raise self.fail(node, f"holiday {d!r} is not a date",
                                "write holidays as \"YYYY-MM-DD\"") from None
        return Hours(name, h.timezone, weekly, frozenset(holidays), self.ctx.hours_override)

    def _items(self, nid: str, raw: Sequence[_Item]) -> tuple[Item, ...]:
        out = []
        for it in raw:
            if isinstance(it, str):
                if not _PROMPT.fullmatch(it):
                    raise self.fail(nid, f"prompt name {it!r} is not a plain file name",
                                    "name prompts without language, directory or extension, "
                                    "e.g. \"main-menu\"")
                self.prompts.setdefault(it, set()).add(nid)
                out.append(Item("file", it))
            elif isinstance(it, _Say):
                if bool(it.var) == bool(it.value):
                    raise self.fail(nid, f"say = {it.say!r} needs exactly one of var or value",
                                    "give var = \"order.total_cents\" or value = \"42\"")
                if it.say == "amount":
                    for p in ("currency-major", "currency-minor"):
                        self.prompts.setdefault(p, set()).add(nid)
                out.append(Item(it.say, it.var or "=" + it.value))
            else:
                out.append(Item("prompt_var", it.prompt_var, it.prefix))
        return tuple(out)

    def _policy(self, nid: str, raw: _Input) -> InputPolicy:
        return InputPolicy(timeout_s=raw.timeout_s, retries=raw.retries,
                           invalid_items=self._items(nid, raw.invalid_prompts),
                           timeout_items=self._items(nid, raw.timeout_prompts),
                           on_fail=raw.on_fail or FAIL_ROUTE)

    def _queue(self, nid: str, q: str) -> str:
        if q not in self.ctx.queues:
            raise self.fail(nid, f"unknown queue {q!r}", self._one_of("queue", q, self.ctx.queues))
        return q

    def _skills(self, nid: str, skills: Iterable[str]) -> frozenset[str]:
        for s in skills:
            if s not in self.ctx.skills:
                raise self.fail(nid, f"unknown skill {s!r}",
                                self._one_of("skill", s, self.ctx.skills) +
                                " (skills come from [acd.queues].skills and "
                                "[acd].extra_skills)")
        return frozenset(skills)

    def _language(self, nid: str, lang: str) -> str:
        if lang and lang not in self.languages:
            raise self.fail(nid, f"language {lang!r} is not one of the menu's languages",
                            f"use one of {list(self.languages)} or add it to [menu].languages")
        return lang

    def _node(self, nid: str, raw: Any, hours: Mapping[str, Hours]) -> Node:
        if isinstance(raw, _Play):
            return Play(nid, self._items(nid, raw.prompts), raw.next)
        if isinstance(raw, _Menu):
            if not raw.options:
                raise self.fail(nid, "a menu needs at least one option",
                                "add options = { \"1\" = \"some_node\" }")
            for key in raw.options:
                if len(key) != 1 or key not in "0123456789*#":
                    raise self.fail(nid, f"option key {key!r} is not one DTMF key",
                                    "use single keys 0-9, * or #")
            return MenuNode(nid, self._items(nid, raw.prompts), dict(raw.options),
                            self._policy(nid, raw))
        if isinstance(raw, _Collect):
            if raw.min_digits > raw.max_digits:
                raise self.fail(nid, f"min_digits {raw.min_digits} > max_digits "
                                f"{raw.max_digits}", "make min_digits <= max_digits")
            if raw.validate_ == "luhn" and raw.min_digits < 2:
                raise self.fail(nid, "a Luhn-checked number has at least 2 digits",
                                "set min_digits = 2 or more")
            return Collect(nid, self._items(nid, raw.prompts), raw.var, raw.next,
                           min_digits=raw.min_digits, max_digits=raw.max_digits,
                           terminator=raw.terminator, validate=raw.validate_,
                           secret=raw.secret or raw.validate_ == "pin",
                           policy=self._policy(nid, raw))
        if isinstance(raw, _Lookup):
            return Lookup(nid, raw.by, raw.found, raw.not_found, raw.var)
        if isinstance(raw, _Condition):
            return self._condition(nid, raw, hours)
        if isinstance(raw, _Set):
            if raw.priority and raw.priority not in TIERS:
                raise self.fail(nid, f"priority {raw.priority!r} is not a tier",
                                f"use one of {', '.join(TIERS)}")
            for k in raw.vars:
                if not re.fullmatch(_VAR, k):
                    raise self.fail(nid, f"variable name {k!r} is not valid",
                                    "use lower-case words with dots or underscores")
            return SetVars(nid, raw.next, language=self._language(nid, raw.language),
                           skills=self._skills(nid, raw.skills), priority=raw.priority,
                           values=dict(raw.vars))
        if isinstance(raw, _Route):
            return Route(nid, self._queue(nid, raw.queue), self._skills(nid, raw.skills))
        if isinstance(raw, _Callback):
            return Callback(nid, self._items(nid, raw.prompts), raw.on_fail or FAIL_ROUTE,
                            self._queue(nid, raw.queue) if raw.queue else "", raw.agent)
        if isinstance(raw, _Message):
            self.prompts.setdefault("beep", set()).add(nid)
            return Message(nid, self._items(nid, raw.prompts), self._items(nid, raw.thanks),
                           raw.on_fail or FAIL_ROUTE, raw.max_s)
        if isinstance(raw, _Transfer):
            if self.ctx.check_number is not None:
                try:
                    self.ctx.check_number(raw.number)
                except Exception as exc:  # the dial validation's own error, shown as is
                    raise self.fail(nid, f"transfer number {raw.number!r} may not be dialled "
                                    f"({exc})", "use a number [dialing] allows "
                                    "(dial_pattern, allowed_prefixes; the dial policy's "
                                    "allowed_countries, allowed_number_types, roles.agent)"
                                    ) from None
            return Transfer(nid, raw.number, raw.on_fail or FAIL_ROUTE)
        assert isinstance(raw, _Hangup)
        return Hangup(nid, self._items(nid, raw.prompts))

    def _condition(self, nid: str, raw: _Condition, hours: Mapping[str, Hours]) -> Condition:
        when = raw.when
        if when == "business_hours" and raw.hours not in hours:
            raise self.fail(nid, f"business_hours needs hours = one of the [hours.*] tables "
                            f"(got {raw.hours!r})",
                            self._one_of("hours table", raw.hours, hours) if hours else
                            "add an [hours.office] table and hours = \"office\"")
        if when == "tier":
            if not raw.tiers:
                raise self.fail(nid, "tier condition without tiers",
                                f"add tiers = [...] from {', '.join(TIERS)}")
            for t in raw.tiers:
                if t not in TIERS:
                    raise self.fail(nid, f"unknown tier {t!r}", f"use {', '.join(TIERS)}")
        if when == "language":
            if not raw.language:
                raise self.fail(nid, "language condition without language",
                                f"add language = one of {list(self.languages)}")
            self._language(nid, raw.language)
        if when == "ewt_above":
            if not raw.queue:
                raise self.fail(nid, "ewt_above needs the queue whose wait is checked",
                                "add queue = \"support\" and seconds = 120")
            self._queue(nid, raw.queue)
        if when == "var_equals" and not raw.var:
            raise self.fail(nid, "var_equals needs var and equals",
                            "add var = \"name\" and equals = \"value\"")
        return Condition(nid, when, raw.then, raw.else_, hours=raw.hours,
                         tiers=frozenset(raw.tiers), language=raw.language, queue=raw.queue,
                         seconds=raw.seconds, var=raw.var, equals=raw.equals)

    # -- graph ----------------------------------------------------------------------------

    def _check_graph(self, start: str, nodes: Mapping[str, Node]) -> None:
        seen = {start}
        todo = [start]
        while todo:
            for t in nodes[todo.pop()].targets():
                if t not in seen:
                    seen.add(t)
                    todo.append(t)
        for nid in nodes:
            if nid not in seen and nid != FAIL_ROUTE:
                raise self.fail(nid, "no path from the start node reaches it",
                                "point an option or next at it, or delete it")
        # Every node must be able to reach an exit (route, hang-up, callback...).
        rev: dict[str, list[str]] = {n: [] for n in nodes}
        for n in nodes.values():
            for t in n.targets():
                rev[t].append(n.id)
        can_exit = {n.id for n in nodes.values() if n.kind in EXIT_KINDS}
        todo = list(can_exit)
        while todo:
            for p in rev[todo.pop()]:
                if p not in can_exit:
                    can_exit.add(p)
                    todo.append(p)
        for nid in nodes:
            if nid not in can_exit:
                raise self.fail(nid, "is in a loop the caller can never leave",
                                "give some node of the loop a way out (a route, hangup, "
                                "or an on_fail/option leading to one)")
        # A loop must wait for the caller somewhere, or the call would spin without end.
        color: dict[str, int] = {}

        def visit(nid: str, stack: list[str]) -> None:
            color[nid] = 1
            stack.append(nid)
            node = nodes[nid]
            if node.kind not in INPUT_KINDS:
                for t in node.targets():
                    if nodes[t].kind in INPUT_KINDS:
                        continue
                    if color.get(t) == 1:
                        cycle = stack[stack.index(t):]
                        raise self.fail(t, f"loop {' -> '.join([*cycle, t])} never waits for "
                                        "the caller", "put a menu or collect node in the loop, "
                                        "or break it")
                    if t not in color:
                        visit(t, stack)
            stack.pop()
            color[nid] = 2

        for nid in nodes:
            if nid not in color and nodes[nid].kind not in INPUT_KINDS:
                visit(nid, [])

    # -- prompts --------------------------------------------------------------------------

    def _check_prompts(self) -> dict[str, frozenset[str]] | None:
        if not self.ctx.sound_dirs:
            return None
        catalogue: dict[str, set[str]] = {lang: set() for lang in self.languages}
        for d in self.ctx.sound_dirs:
            for lang in self.languages:
                sub = d / lang
                if sub.is_dir():
                    for f in sub.iterdir():
                        if f.suffix in SOUND_EXTENSIONS:
                            catalogue[lang].add(f.stem)
        default = self.languages[0]
        for prompt, users in sorted(self.prompts.items()):
            if prompt not in catalogue[default]:
                dirs = ", ".join(str(d / default) for d in self.ctx.sound_dirs)
                raise self.fail(sorted(users)[0], f"prompt {prompt!r} is missing in the default "
                                f"language {default!r}",
                                f"record {prompt}.wav (or .gsm/.ulaw...) into one of {dirs}, or "
                                "use a prompt that exists")
        return {lang: frozenset(v) for lang, v in catalogue.items()}


def load_menus(paths: Sequence[Path | str], ctx: Context, version: int = 1) -> dict[str, Menu]:
    """Every file or directory (*.toml inside) in `paths`; menu names must be unique."""
    menus: dict[str, Menu] = {}
    for p in paths:
        path = Path(p)
        files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
        for f in files:
            menu = load_menu(f, ctx, version)
            if menu.name in menus:
                raise MenuConfigError(str(f), "", f"menu name {menu.name!r} is also used by "
                                      f"{menus[menu.name].file}", "give every menu its own name")
            menus[menu.name] = menu
    return menus
