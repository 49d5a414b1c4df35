"""The menu model: what a loaded, validated menu file is (typed, frozen, no I/O).

A `Menu` is a graph of nodes keyed by id. Edges are the node fields named in `Node.targets()`.
Every input node (menu, collect) has timeouts, retries and an `on_fail` target; when the file
gives none, `on_fail` is the built-in `FAIL_ROUTE` node, which routes to the menu's
`default_queue` (a caller who cannot use the menu still reaches a person).

Prompt items (`Item`) are what a node plays: a recorded prompt by name (resolved per language
at run time), or a value spoken with Asterisk's SAY commands (number, digits, date, amount), or
a prompt whose name comes from a variable (`prompt_var`, e.g. "ticket-status-" + the status).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

ItemKind = Literal["file", "number", "digits", "date", "amount", "prompt_var"]
ConditionKind = Literal["business_hours", "tier", "open_ticket", "language", "ewt_above",
                        "identified", "var_equals"]
Validation = Literal["none", "luhn", "pin"]
LookupBy = Literal["caller_id", "account"]

# The implicit node every input node falls back to unless it names its own on_fail.
FAIL_ROUTE = "__fail_route__"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Item:
    """One thing to play. `value` is the prompt name for "file"; otherwise a variable name
    (e.g. "order.total_cents") or, when it starts with "=", a literal ("=42")."""

    kind: ItemKind
    value: str
    prefix: str = ""  # prompt_var only: the prompt played is prefix + the variable's value


@dataclass(frozen=True, slots=True)
class Hours:
    """Opening hours in one time zone: per weekday (0 = Monday) a tuple of (open, close)
    minute-of-day ranges, and holiday dates on which it is closed all day."""

    name: str
    timezone: str
    weekly: Mapping[int, tuple[tuple[int, int], ...]]
    holidays: frozenset[dt.date] = frozenset()
    # [ivr].hours_override as loaded: "open" / "closed" decide without looking at the clock.
    override: Literal["", "open", "closed"] = ""

    def is_open(self, epoch: float) -> bool:
        if self.override:
            return self.override == "open"
        local = dt.datetime.fromtimestamp(epoch, ZoneInfo(self.timezone))
        if local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.weekly.get(local.weekday(), ()))


@dataclass(frozen=True, slots=True)
class Play:
    id: str
    items: tuple[Item, ...]
    next: str
    kind: Literal["play"] = "play"

    def targets(self) -> tuple[str, ...]:
        return (self.next,)


@dataclass(frozen=True, slots=True)
class InputPolicy:
    """What every input node does when the caller presses nothing or something invalid."""

    timeout_s: float = 5.0
    retries: int = 3  # attempts in all, the first included
    invalid_items: tuple[Item, ...] = (Item("file", "invalid"),)
    timeout_items: tuple[Item, ...] = ()
    on_fail: str = FAIL_ROUTE


@dataclass(frozen=True, slots=True)
class MenuNode:
    id: str
    items: tuple[Item, ...]
    options: Mapping[str, str]  # DTMF key -> node id
    policy: InputPolicy = InputPolicy()
    kind: Literal["menu"] = "menu"

    def targets(self) -> tuple[str, ...]:
        return (*self.options.values(), self.policy.on_fail)


@dataclass(frozen=True, slots=True)
class Collect:
    id: str
    items: tuple[Item, ...]
    var: str
    next: str
    min_digits: int = 1
    max_digits: int = 16
    terminator: str = "#"
    validate: Validation = "none"
    secret: bool = False  # masked in every record; always true for validate = "pin"
    policy: InputPolicy = InputPolicy()
    kind: Literal["collect"] = "collect"

    def targets(self) -> tuple[str, ...]:
        return (self.next, self.policy.on_fail)


@dataclass(frozen=True, slots=True)
class Lookup:
    """Identify the caller in the CRM by caller ID or by the account number in `var`."""

    id: str
    by: LookupBy
    found: str
    not_found: str
    var: str = "account"
    kind: Literal["lookup"] = "lookup"

    def targets(self) -> tuple[str, ...]:
        return (self.found, self.not_found)


@dataclass(frozen=True, slots=True)
class Condition:
    id: str
    when: ConditionKind
    then: str
    otherwise: str
    hours: str = ""
    tiers: frozenset[str] = frozenset()
    language: str = ""
    queue: str = ""
    seconds: float = 0.0
    var: str = ""
    equals: str = ""
    kind: Literal["condition"] = "condition"

    def targets(self) -> tuple[str, ...]:
        return (self.then, self.otherwise)


@dataclass(frozen=True, slots=True)
class SetVars:
    id: str
    next: str
    language: str = ""
    skills: frozenset[str] = frozenset()
    priority: str = ""  # a tier name the call is treated as at least (priority hint)
    values: Mapping[str, str] = field(default_factory=dict)
    kind: Literal["set"] = "set"

    def targets(self) -> tuple[str, ...]:
        return (self.next,)


@dataclass(frozen=True, slots=True)
class Route:
    id: str
    queue: str
    skills: frozenset[str] = frozenset()
    kind: Literal["route"] = "route"

    def targets(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True, slots=True)
class Callback:
    """Register a callback to the caller's number, confirm it and hang up."""

    id: str
    items: tuple[Item, ...]  # the confirmation
    on_fail: str
    queue: str = ""  # "" = the queue the menu would route to (default_queue)
    # "last": the agent who last talked with the identified caller takes it, if free within
    # [acd].owner_grace_s (then anyone of the queue); "": anyone of the queue.
    agent: Literal["", "last"] = ""
    kind: Literal["callback"] = "callback"

    def targets(self) -> tuple[str, ...]:
        return (self.on_fail,)


@dataclass(frozen=True, slots=True)
class Message:
    """Record a message after `items` (and a beep); it becomes a CRM task."""

    id: str
    items: tuple[Item, ...]
    thanks: tuple[Item, ...]
    on_fail: str
    max_s: int = 60
    kind: Literal["message"] = "message"

    def targets(self) -> tuple[str, ...]:
        return (self.on_fail,)


@dataclass(frozen=True, slots=True)
class Transfer:
    id: str
    number: str
    on_fail: str
    kind: Literal["transfer"] = "transfer"

    def targets(self) -> tuple[str, ...]:
        return (self.on_fail,)


@dataclass(frozen=True, slots=True)
class Hangup:
    id: str
    items: tuple[Item, ...]
    kind: Literal["hangup"] = "hangup"

    def targets(self) -> tuple[str, ...]:
        return ()


Node = Play | MenuNode | Collect | Lookup | Condition | SetVars | Route | Callback | Message | \
    Transfer | Hangup
INPUT_KINDS = frozenset({"menu", "collect"})
# Nodes that can end the caller's time in the IVR (on success); the loader checks that every
# node can reach one of them.
EXIT_KINDS = frozenset({"route", "hangup", "callback", "message", "transfer"})


@dataclass(frozen=True, slots=True)
class Menu:
    """One loaded menu file. `version` changes with every successful (re)load; a call keeps
    the Menu object it started with."""

    name: str
    file: str
    start: str
    nodes: Mapping[str, Node]
    languages: tuple[str, ...] = ("en",)
    default_language: str = "en"
    default_queue: str = "support"
    hours: Mapping[str, Hours] = field(default_factory=dict)
    # Prompt names available per language (from the configured sound directories); None when
    # no directory is configured: then a missing prompt is noticed when it fails to play.
    catalogue: Mapping[str, frozenset[str]] | None = None
    version: int = 1

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    """What the IVR knows about an identified caller (from the CRM lookup)."""

    customer_id: int
    name: str = ""
    tier: str = "unknown"
    language: str = ""
    open_ticket_id: int | None = None
    open_ticket_status: str = ""
    open_ticket_subject: str = ""
    last_order_id: int | None = None
    last_order_status: str = ""
    last_order_total_cents: int = 0
    last_order_at: float = 0.0

    def variables(self) -> dict[str, str]:
        out = {"customer.id": str(self.customer_id), "customer.name": self.name,
               "customer.tier": self.tier, "customer.language": self.language}
        if self.open_ticket_id is not None:
            out |= {"ticket.id": str(self.open_ticket_id), "ticket.status": self.open_ticket_status}
        if self.last_order_id is not None:
            out |= {"order.id": str(self.last_order_id), "order.status": self.last_order_status,
                    "order.total_cents": str(self.last_order_total_cents),
                    "order.date": str(int(self.last_order_at))}
        return out
