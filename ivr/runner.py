"""The menu runner: a pure step function, `step(state, event, now) -> (state, actions)`.

No I/O, no clock: the FastAGI adapter (ivr/agi.py) executes the actions and feeds each one's
result back as the next event. Every step returns at most one action that waits for a result
(it is always the last one), so the adapter's loop is "execute, read the result, step".

    Start -> [StreamFile/Say ... WaitDigit/GetData] -> DigitsEntered -> ... -> RouteToQueue | Hangup

Things that need the world (CRM lookup, PIN check, a queue's wait, callback, recording,
transfer) are action/result pairs too, which keeps this module pure and testable: a PIN goes out
once in `CheckPin` (not printed by repr) and is never stored in the state or any record.

An event the state does not expect raises IllegalStep and changes nothing. A prompt that fails
to play in the caller's language is retried in the default language, then skipped: a missing
recording never costs the caller the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from common.luhn import luhn_ok
from ivr.errors import IllegalStep
from ivr.model import (
    FAIL_ROUTE,
    Callback,
    Collect,
    Condition,
    CustomerInfo,
    Hangup,
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

DTMF_KEYS = "0123456789*#"
SILENCE = "silence/1"
BEEP = "beep"
TIER_ORDER = ("unknown", "bronze", "silver", "gold", "platinum")
_MAX_HOPS = 64  # nodes entered in one step without waiting for the caller (the loader forbids
# loops without input, so this only guards against a bug)

# ---------------------------------------------------------------- actions (what to do)


@dataclass(frozen=True, slots=True)
class StreamFile:
    file: str
    escape: str = ""
    # Name and language it was resolved from: a failed play is retried in the default language.
    prompt: str = ""
    language: str = ""


@dataclass(frozen=True, slots=True)
class Say:
    how: Literal["number", "digits", "date"]
    value: str
    escape: str = ""


@dataclass(frozen=True, slots=True)
class WaitDigit:
    timeout_ms: int


@dataclass(frozen=True, slots=True)
class GetData:
    file: str
    timeout_ms: int
    max_digits: int


@dataclass(frozen=True, slots=True)
class SetVariable:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class LookupCustomer:
    by: Literal["caller_id", "account"]
    value: str


@dataclass(frozen=True, slots=True)
class CheckPin:
    customer_id: int
    pin: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class QueryWait:
    queue: str


@dataclass(frozen=True, slots=True)
class RequestCallback:
    queue: str
    customer_id: int | None
    agent: str = ""  # "last": the identified caller's last agent first (ivr.model.Callback)


@dataclass(frozen=True, slots=True)
class RecordMessage:
    max_s: int


@dataclass(frozen=True, slots=True)
class SaveMessage:
    recording: str
    customer_id: int | None
    summary: str


@dataclass(frozen=True, slots=True)
class TransferCall:
    number: str


@dataclass(frozen=True, slots=True)
class RouteToQueue:
    queue: str
    skills: frozenset[str]
    tier: str
    language: str
    customer_id: int | None
    path: tuple[str, ...]
    digits: tuple[tuple[str, str], ...]  # secrets masked


@dataclass(frozen=True, slots=True)
class HangupCall:
    pass


Action = StreamFile | Say | WaitDigit | GetData | SetVariable | LookupCustomer | CheckPin | \
    QueryWait | RequestCallback | RecordMessage | SaveMessage | TransferCall | RouteToQueue | \
    HangupCall
PlayAtom = StreamFile | Say

# ---------------------------------------------------------------- events (what happened)


@dataclass(frozen=True, slots=True)
class Start:
    caller_id: str = ""
    language: str = ""  # the channel's language, used when the menu offers it


@dataclass(frozen=True, slots=True)
class Played:
    """Result of StreamFile / Say / SetVariable: the key that interrupted it, or a failure."""

    digit: str | None = None
    failed: bool = False


@dataclass(frozen=True, slots=True)
class DigitsEntered:
    """Result of WaitDigit / GetData; "" when the caller pressed nothing."""

    digits: str = field(default="", repr=False)
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class LookupDone:
    customer: CustomerInfo | None


@dataclass(frozen=True, slots=True)
class PinChecked:
    ok: bool


@dataclass(frozen=True, slots=True)
class WaitKnown:
    seconds: float | None


@dataclass(frozen=True, slots=True)
class Done:
    """Result of RequestCallback / RecordMessage / SaveMessage / TransferCall."""

    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    pass


Event = Start | Played | DigitsEntered | LookupDone | PinChecked | WaitKnown | Done | CallerHungUp

Phase = Literal["start", "play", "prompt", "wait", "get", "lookup", "pin", "ewt", "setlang",
                "callback", "confirm", "msg_intro", "record", "save", "thanks", "transfer",
                "goodbye", "ended"]
Outcome = Literal["", "queued", "self_service", "callback", "message", "transferred",
                  "abandoned"]

# Which result each phase waits for.
_EXPECTS: dict[str, tuple[type, ...]] = {
    "start": (Start,),
    "play": (Played,), "prompt": (Played,), "setlang": (Played,), "confirm": (Played,),
    "msg_intro": (Played,), "thanks": (Played,), "goodbye": (Played,),
    "wait": (DigitsEntered,), "get": (DigitsEntered,),
    "lookup": (LookupDone,), "pin": (PinChecked,), "ewt": (WaitKnown,),
    "callback": (Done,), "record": (Done,), "save": (Done,), "transfer": (Done,),
    "ended": (),
}


@dataclass(frozen=True, slots=True)
class CallState:
    menu: Menu
    started_at: float = 0.0
    node: str = ""
    phase: Phase = "start"
    atoms: tuple[PlayAtom, ...] = ()
    index: int = 0
    attempt: int = 1
    buffer: str = field(default="", repr=False)  # a key pressed during a collect prompt
    fell_back: bool = False  # the current atom is already the default-language retry
    language: str = ""
    language_chosen: bool = False  # by the caller (menu) rather than by the CRM
    vars: dict[str, str] = field(default_factory=dict)
    customer: CustomerInfo | None = None
    skills: frozenset[str] = frozenset()
    priority: str = ""
    path: tuple[str, ...] = ()
    digits: tuple[tuple[str, str], ...] = ()
    outcome: Outcome = ""
    ended_at: float | None = None

    @property
    def ended(self) -> bool:
        return self.phase == "ended"

    def seconds_in_ivr(self, now: float) -> float:
        end = self.ended_at if self.ended_at is not None else now
        return max(0.0, end - self.started_at)


Step = tuple[CallState, tuple[Action, ...]]


def new_call(menu: Menu) -> CallState:
    return CallState(menu=menu, language=menu.default_language)


# ---------------------------------------------------------------- the step function


def step(state: CallState, event: Event, now: float) -> Step:
    """Feed one event; returns the new state and the actions to execute, in order."""
    if isinstance(event, CallerHungUp):
        if state.ended:
            raise IllegalStep(f"call already ended ({state.outcome})")
        return replace(state, phase="ended", outcome="abandoned", ended_at=now, atoms=()), ()
    expected = _EXPECTS[state.phase]
    if not isinstance(event, expected):
        raise IllegalStep(f"{type(event).__name__} while in phase {state.phase!r} of node "
                          f"{state.node!r} (expects {', '.join(t.__name__ for t in expected)})")
    if isinstance(event, Start):
        lang = event.language if event.language in state.menu.languages else \
            state.menu.default_language
        vars_ = {"caller_id": event.caller_id}
        st = replace(state, started_at=now, language=lang, vars=vars_)
        return _goto(st, state.menu.start, now)
    node = state.menu.node(state.node)
    if isinstance(event, Played):
        return _played(state, node, event, now)
    if isinstance(event, DigitsEntered):
        return _digits(state, node, event, now)
    if isinstance(event, LookupDone):
        assert isinstance(node, Lookup)
        return _looked_up(state, node, event.customer, now)
    if isinstance(event, PinChecked):
        assert isinstance(node, Collect)
        if event.ok:
            st = replace(state, digits=(*state.digits, (node.id, "****")),
                         vars={**state.vars, node.var: "verified"})
            return _goto(st, node.next, now)
        return _retry(state, node, node.policy.invalid_items, now)
    if isinstance(event, WaitKnown):
        assert isinstance(node, Condition)
        above = event.seconds is not None and event.seconds > node.seconds
        return _goto(state, node.then if above else node.otherwise, now)
    assert isinstance(event, Done)
    return _done(state, node, event, now)


# ---------------------------------------------------------------- entering nodes


def _goto(state: CallState, node_id: str, now: float, hops: int = 0) -> Step:
    menu = state.menu
    if hops > _MAX_HOPS:
        node_id = FAIL_ROUTE
    node = menu.node(node_id)
    st = replace(state, node=node_id, path=(*state.path, node_id), index=0, attempt=1,
                 buffer="", fell_back=False, atoms=())
    if isinstance(node, Play):
        return _play(replace(st, phase="play"), node.items, now, hops)
    if isinstance(node, MenuNode):
        keys = "".join(node.options)
        return _start_atoms(replace(st, phase="prompt"), _expand(st, node.items, keys), now, hops)
    if isinstance(node, Collect):
        return _start_atoms(replace(st, phase="prompt"), _expand(st, node.items, DTMF_KEYS), now,
                            hops)
    if isinstance(node, Lookup):
        if node.by == "caller_id":
            value = st.vars.get("caller_id", "")
            if not value or value in ("unknown", "anonymous"):
                return _goto(st, node.not_found, now, hops + 1)
        else:
            value = st.vars.get(node.var, "")
            if not value:
                return _goto(st, node.not_found, now, hops + 1)
        return replace(st, phase="lookup"), (LookupCustomer(node.by, value),)
    if isinstance(node, Condition):
        if node.when == "ewt_above":
            return replace(st, phase="ewt"), (QueryWait(node.queue),)
        return _goto(st, node.then if _test(st, node, now) else node.otherwise, now, hops + 1)
    if isinstance(node, SetVars):
        st = replace(st, skills=st.skills | node.skills, vars={**st.vars, **node.values},
                     priority=_higher(st.priority, node.priority) if node.priority else
                     st.priority)
        if node.language and node.language != st.language:
            st = replace(st, language=node.language, language_chosen=True, phase="setlang")
            return st, (SetVariable("CHANNEL(language)", node.language),)
        if node.language:
            st = replace(st, language_chosen=True)
        return _goto(st, node.next, now, hops + 1)
    if isinstance(node, Route):
        return _route(st, node, now)
    if isinstance(node, Callback):
        queue = node.queue or menu.default_queue
        cid = st.customer.customer_id if st.customer else None
        return replace(st, phase="callback"), (RequestCallback(queue, cid, node.agent),)
    if isinstance(node, Message):
        atoms = (*_expand(st, node.items, ""), _file(st, BEEP, ""))
        return _start_atoms(replace(st, phase="msg_intro"), atoms, now, hops)
    if isinstance(node, Transfer):
        return replace(st, phase="transfer"), (TransferCall(node.number),)
    assert isinstance(node, Hangup)
    return _play(replace(st, phase="goodbye"), node.items, now, hops)


def _route(st: CallState, node: Route, now: float) -> Step:
    tier = st.customer.tier if st.customer else "unknown"
    if st.priority:
        tier = _higher(tier, st.priority)
    action = RouteToQueue(
        queue=node.queue, skills=node.skills | st.skills, tier=tier, language=st.language,
        customer_id=st.customer.customer_id if st.customer else None, path=st.path,
        digits=st.digits)
    return replace(st, phase="ended", outcome="queued", ended_at=now), (action,)


def _play(st: CallState, items: tuple[Item, ...], now: float, hops: int = 0) -> Step:
    return _start_atoms(st, _expand(st, items, ""), now, hops)


def _start_atoms(st: CallState, atoms: tuple[PlayAtom, ...], now: float, hops: int = 0) -> Step:
    st = replace(st, atoms=atoms, index=0, fell_back=False)
    if not atoms:
        return _after_atoms(st, now, hops)
    return st, (atoms[0],)


def _after_atoms(st: CallState, now: float, hops: int = 0) -> Step:
    """Every atom of the current list played to its end."""
    node = st.menu.node(st.node)
    phase = st.phase
    if phase == "play":
        assert isinstance(node, Play)
        return _goto(st, node.next, now, hops + 1)
    if phase == "prompt":
        if isinstance(node, MenuNode):
            return replace(st, phase="wait", atoms=()), \
                (WaitDigit(int(node.policy.timeout_s * 1000)),)
        assert isinstance(node, Collect)
        return replace(st, phase="get", atoms=()), \
            (GetData(SILENCE, int(node.policy.timeout_s * 1000), node.max_digits),)
    if phase == "confirm":
        return replace(st, phase="ended", outcome="callback", ended_at=now), (HangupCall(),)
    if phase == "msg_intro":
        assert isinstance(node, Message)
        return replace(st, phase="record", atoms=()), (RecordMessage(node.max_s),)
    if phase == "thanks":
        return replace(st, phase="ended", outcome="message", ended_at=now), (HangupCall(),)
    if phase == "goodbye":
        return replace(st, phase="ended", outcome="self_service", ended_at=now), (HangupCall(),)
    raise IllegalStep(f"no atoms expected in phase {phase!r}")  # pragma: no cover


# ---------------------------------------------------------------- results


def _played(st: CallState, node: Node, ev: Played, now: float) -> Step:
    if st.phase == "setlang":
        return _after_setlang(st, node, now)
    atom = st.atoms[st.index]
    if ev.failed and isinstance(atom, StreamFile) and not st.fell_back \
            and atom.language and atom.language != st.menu.default_language:
        retry = _file(st, atom.prompt, atom.escape, st.menu.default_language)
        atoms = (*st.atoms[:st.index], retry, *st.atoms[st.index + 1:])
        return replace(st, atoms=atoms, fell_back=True), (retry,)
    if ev.digit is not None and st.phase == "prompt":
        if isinstance(node, MenuNode):
            return _choose(st, node, ev.digit, now)
        if isinstance(node, Collect):
            if ev.digit == node.terminator:
                return _collected(replace(st, atoms=()), node, "", True, now)
            if node.max_digits == 1:
                return _collected(replace(st, atoms=()), node, ev.digit, False, now)
            return replace(st, phase="get", atoms=(), buffer=ev.digit), \
                (GetData(SILENCE, int(node.policy.timeout_s * 1000), node.max_digits - 1),)
    nxt = st.index + 1
    if nxt < len(st.atoms):
        st = replace(st, index=nxt, fell_back=False)
        return st, (st.atoms[nxt],)
    return _after_atoms(st, now)


def _after_setlang(st: CallState, node: Node, now: float) -> Step:
    if isinstance(node, SetVars):
        return _goto(st, node.next, now)
    assert isinstance(node, Lookup)  # language taken from the CRM customer
    return _goto(st, node.found, now)


def _digits(st: CallState, node: Node, ev: DigitsEntered, now: float) -> Step:
    if isinstance(node, MenuNode):
        if not ev.digits:
            return _retry(st, node, node.policy.timeout_items, now)
        return _choose(st, node, ev.digits[0], now)
    assert isinstance(node, Collect)
    return _collected(st, node, st.buffer + ev.digits, ev.timed_out, now)


def _choose(st: CallState, node: MenuNode, key: str, now: float) -> Step:
    target = node.options.get(key)
    if target is None:
        return _retry(replace(st, digits=(*st.digits, (node.id, key))), node,
                      node.policy.invalid_items, now)
    return _goto(replace(st, digits=(*st.digits, (node.id, key))), target, now)


def _retry(st: CallState, node: MenuNode | Collect, notice: tuple[Item, ...], now: float) -> Step:
    """An invalid or missing input: tell the caller and ask again, or give up after the last
    allowed attempt (on_fail)."""
    if st.attempt >= node.policy.retries:
        return _goto(st, node.policy.on_fail, now)
    escape = "".join(node.options) if isinstance(node, MenuNode) else DTMF_KEYS
    atoms = (*_expand(st, notice, escape), *_expand(st, node.items, escape))
    st = replace(st, attempt=st.attempt + 1, phase="prompt", buffer="")
    return _start_atoms(st, atoms, now)


def _collected(st: CallState, node: Collect, raw: str, timed_out: bool, now: float) -> Step:
    text = raw.split(node.terminator, 1)[0] if node.terminator else raw
    st = replace(st, buffer="")
    if not text:
        return _retry(st, node, node.policy.timeout_items, now)
    ok = text.isdigit() and node.min_digits <= len(text) <= node.max_digits
    if ok and node.validate == "luhn":
        ok = luhn_ok(text)
    secret = node.secret or node.validate == "pin"
    shown = "*" * len(text) if secret else text
    if not ok:
        st = replace(st, digits=(*st.digits, (node.id, shown)))
        return _retry(st, node, node.policy.invalid_items, now)
    if node.validate == "pin":
        if st.customer is None:  # nobody to check it against: as good as wrong
            return _retry(st, node, node.policy.invalid_items, now)
        return replace(st, phase="pin"), (CheckPin(st.customer.customer_id, text),)
    st = replace(st, digits=(*st.digits, (node.id, shown)), vars={**st.vars, node.var: text})
    return _goto(st, node.next, now)


def _looked_up(st: CallState, node: Lookup, customer: CustomerInfo | None, now: float) -> Step:
    if customer is None:
        return _goto(st, node.not_found, now)
    st = replace(st, customer=customer, vars={**st.vars, **customer.variables()})
    lang = customer.language
    if lang and lang != st.language and lang in st.menu.languages and not st.language_chosen:
        return replace(st, language=lang, phase="setlang"), (SetVariable("CHANNEL(language)",
                                                                         lang),)
    return _goto(st, node.found, now)


def _done(st: CallState, node: Node, ev: Done, now: float) -> Step:
    if isinstance(node, Callback):
        if not ev.ok:
            return _goto(st, node.on_fail, now)
        return _play(replace(st, phase="confirm"), node.items, now)
    if isinstance(node, Message):
        if not ev.ok:
            return _goto(st, node.on_fail, now)
        if st.phase == "record":
            cid = st.customer.customer_id if st.customer else None
            return replace(st, phase="save"), (SaveMessage(ev.detail, cid, summary(st, now)),)
        return _play(replace(st, phase="thanks"), node.thanks, now)
    assert isinstance(node, Transfer)
    if not ev.ok:
        return _goto(st, node.on_fail, now)
    return replace(st, phase="ended", outcome="transferred", ended_at=now), ()


# ---------------------------------------------------------------- conditions, prompts


def _test(st: CallState, node: Condition, now: float) -> bool:
    when = node.when
    if when == "business_hours":
        return st.menu.hours[node.hours].is_open(now)
    if when == "tier":
        return (st.customer.tier if st.customer else "unknown") in node.tiers
    if when == "open_ticket":
        return st.customer is not None and st.customer.open_ticket_id is not None
    if when == "language":
        return st.language == node.language
    if when == "identified":
        return st.customer is not None
    if when == "var_equals":
        return st.vars.get(node.var, "") == node.equals
    raise IllegalStep(f"condition {when!r} is not evaluated inline")  # pragma: no cover


def _higher(a: str, b: str) -> str:
    ia = TIER_ORDER.index(a) if a in TIER_ORDER else 0
    ib = TIER_ORDER.index(b) if b in TIER_ORDER else 0
    return a if ia >= ib else b


def prompt_file(menu: Menu, name: str, language: str) -> tuple[str, str]:
    """The file to play for prompt `name` and the language it is in: the caller's language
    when the catalogue has it (or there is no catalogue), else the default language."""
    if menu.catalogue is not None and name not in menu.catalogue.get(language, frozenset()):
        language = menu.default_language
    return f"{language}/{name}", language


def _file(st: CallState, name: str, escape: str, language: str | None = None) -> StreamFile:
    path, lang = prompt_file(st.menu, name, language or st.language)
    return StreamFile(path, escape, name, lang)


def _value(st: CallState, ref: str) -> str:
    return ref[1:] if ref.startswith("=") else st.vars.get(ref, "")


def _expand(st: CallState, items: tuple[Item, ...], escape: str) -> tuple[PlayAtom, ...]:
    """Items -> the playable atoms. A spoken value that is missing (e.g. no last order) is
    skipped rather than read out as nonsense."""
    out: list[PlayAtom] = []
    for it in items:
        if it.kind == "file":
            out.append(_file(st, it.value, escape))
            continue
        value = _value(st, it.value)
        if not value:
            continue
        if it.kind == "prompt_var":
            name = it.prefix + value
            if all(c.isalnum() or c in "-_" for c in name):
                out.append(_file(st, name, escape))
        elif it.kind == "amount":
            if value.lstrip("-").isdigit():
                cents = int(value)
                out.append(Say("number", str(cents // 100), escape))
                out.append(_file(st, "currency-major", escape))
                if cents % 100:
                    out.append(Say("number", str(cents % 100), escape))
                    out.append(_file(st, "currency-minor", escape))
        elif it.kind == "number" or it.kind == "date":
            if value.lstrip("-").isdigit():
                out.append(Say(it.kind, value, escape))
        else:  # digits
            if value.isdigit():
                out.append(Say("digits", value, escape))
    return tuple(out)


# ---------------------------------------------------------------- helpers for records


def summary(st: CallState, now: float) -> str:
    """One line for the call's CRM interaction: path, digits (secrets masked), time, exit."""
    path = ">".join(n for n in st.path if n != FAIL_ROUTE) or "-"
    if FAIL_ROUTE in st.path:
        path += ">(fallback)"
    digits = " ".join(f"{n}={d}" for n, d in st.digits) or "-"
    where: str = st.outcome or "in progress"
    if st.outcome == "abandoned":
        where = f"hung up at {st.node}"
    return (f"IVR {st.menu.name} v{st.menu.version}: path {path}; digits {digits}; "
            f"{st.seconds_in_ivr(now):.1f} s in IVR; {where}")
