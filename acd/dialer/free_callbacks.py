"""Callbacks with no campaign: which are due, where they go, and what their rows become. Pure.

A free callback is a pending CRM callback row of kind 'callback' with a phone and no campaign:
one an agent scheduled from the desktop's screen-pop ("schedule callback"), or one made through
the CRM API. Tasks (kind 'task': a voice message, an ACD callback that did not connect) are for
a person and are never placed automatically. The adapter (free_callbacks_service.py) reads the
due rows and hands each one this core places to the ACD as a scheduled callback
(acd/scheduled.py): an owned one rings its owner first (that agent only, before their other
work, for [acd].owner_grace_s), then any agent of the queue; an unowned one goes to the queue
([acd].free_callback_queue). The ACD rings the agent's phone first, then the customer's number,
so nobody who answers waits for an agent.

Compliance, with the dialer's own code (acd/dialer/windows.py, dnc.py): a number on the global
do-not-call list is never placed (the row is cancelled); outside the calling window in the
person's local time the row waits for the window to open (its due time moves there); a number
with no known time zone (and no [dialer].default_timezone) or not a number is cancelled. A
callback still waiting in the ACD when its window closes or its number goes on the list is
taken back (`recheck`) the same way.

Never dialled twice by surprise. A callback overdue by more than `max_overdue_s` (a server
down for days, or rows older than this feature when it is upgraded to) is not placed but marked
missed ('expired') for a person to decide; one that an earlier process already placed (an
interaction exists under one of its call ids, `tried`) and whose outcome that process never
wrote (it stopped mid-call) is marked missed too ('outcome-unknown'): the customer may well
have been reached.

Never placed twice. Each callback is in the :class:`FreeCallbackBook` from its placement until
its outcome is written to its row (`released`); while there it is not planned again, and neither
is another callback to the same number. An outcome moves the row out of 'pending' (connected:
done; not connected: missed) before the callback leaves the book, so the next read no longer
returns it. Only a callback the ACD gave back without trying (the window closed, the server
stopped) may be placed again. The book's states, one transition table (an illegal transition
raises and changes nothing)::

    (absent) --place--> waiting --finish--> finishing --release--> (absent)
                         |     ^               ^
                  withdraw     keep            |
                         v     |               |
                       withdrawing --finish----+

(keep: the ACD would not give it back, it is being placed already; its outcome comes as usual.)
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

from acd.dialer.dnc import DncList
from acd.dialer.errors import (
    IllegalFreeCallbackTransition,
    InvalidNumber,
    InvalidWindow,
    UnknownZone,
)
from acd.dialer.windows import CallingWindow, zones_for_number

CALL_ID_PREFIX = "fcb-"  # fcb-<callback id>-<n>: the Originate's ChannelId, the interaction's
RETRY_NO_WINDOW_S = 86_400.0  # no common window within two weeks: look again in a day


class Stage(StrEnum):
    WAITING = "waiting"  # handed to the ACD: waiting for an agent, or being placed
    WITHDRAWING = "withdrawing"  # taken back from the ACD (window closed, number on DNC)
    FINISHING = "finishing"  # its outcome is known; its row is being written


class Step(StrEnum):
    WITHDRAW = "withdraw"
    KEEP = "keep"
    FINISH = "finish"
    RELEASE = "release"


TRANSITIONS: dict[tuple[Stage, Step], Stage | None] = {
    (Stage.WAITING, Step.WITHDRAW): Stage.WITHDRAWING,
    (Stage.WITHDRAWING, Step.KEEP): Stage.WAITING,
    (Stage.WAITING, Step.FINISH): Stage.FINISHING,
    (Stage.WITHDRAWING, Step.FINISH): Stage.FINISHING,
    (Stage.FINISHING, Step.RELEASE): None,  # out of the book
}

Result = Literal["connected", "not_connected", "withdrawn"]
SkipReason = Literal["dnc", "window", "no-timezone", "invalid-number", "expired",
                     "outcome-unknown", "no-phone"]
# What a row marked missed or cancelled says in its `reason` (a person reads it).
REASON_TEXT: dict[str, str] = {
    "dnc": "not called: the number is on the do-not-call list",
    "no-timezone": "not called: the number's time zone is unknown (set [dialer]."
                   "default_timezone, then set the callback back to pending)",
    "invalid-number": "not called: the number is not a dialable number",
    "expired": "not called: overdue too long (see [acd].free_callback_max_overdue_h); "
               "decide whether to call",
    "outcome-unknown": "placed by a server process that stopped before its outcome was "
                       "known: the customer may have been called; decide whether to call again",
    "no-phone": "not called: no phone number on the callback nor on its customer; add one "
                "and set the callback back to pending",
    "not connected": "called, not reached",
}


@dataclass(frozen=True, slots=True)
class FreeCallback:
    """A due row as the adapter read it (`owner`: the assigned user's ACD id, None: anyone)."""

    callback_id: int
    phone: str
    due_at: float
    owner: str | None = None
    customer_id: int | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Placement:
    """Hand this callback to the ACD under `call_id`, for `owner` first, then `queue`."""

    call_id: str
    callback: FreeCallback
    queue: str


@dataclass(frozen=True, slots=True)
class RowUpdate:
    """What the callback's CRM row becomes (None fields: unchanged)."""

    callback_id: int
    status: Literal["done", "missed", "cancelled"] | None = None
    due_at: float | None = None
    why: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    place: tuple[Placement, ...]
    rows: tuple[RowUpdate, ...]  # the rows passed over for good (cancelled) or until later


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """Take `call_id` back from the ACD (it is not being placed yet): `update` is its row's."""

    call_id: str
    update: RowUpdate


@dataclass(frozen=True, slots=True)
class Entry:
    placement: Placement
    stage: Stage = Stage.WAITING
    update: RowUpdate | None = None  # withdrawing: what the row becomes; finishing: to write


def check(callback: FreeCallback, now: float, *, dnc: DncList, window: CallingWindow,
          default_zone: str) -> RowUpdate | None:
    """None when the number may be called now; else what its row becomes."""
    cid = callback.callback_id
    if dnc.blocks(callback.phone, None, now):
        return RowUpdate(cid, status="cancelled", why="dnc")
    try:
        zones = zones_for_number(callback.phone, "", default_zone)
    except UnknownZone:
        return RowUpdate(cid, status="cancelled", why="no-timezone")
    except (InvalidNumber, InvalidWindow):
        return RowUpdate(cid, status="cancelled", why="invalid-number")
    if window.allows(now, zones):
        return None
    opens = window.next_open(now, zones)
    return RowUpdate(cid, due_at=opens if opens is not None else now + RETRY_NO_WINDOW_S,
                     why="window")


def stale(callback: FreeCallback, now: float, *, max_overdue_s: float,
          tried: Collection[int]) -> RowUpdate | None:
    """Missed, for a person to look at, rather than dialled: an earlier process's attempt
    whose outcome is unknown, or a row overdue beyond `max_overdue_s` (0: no limit)."""
    cid = callback.callback_id
    if cid in tried:
        return RowUpdate(cid, status="missed", why="outcome-unknown")
    if max_overdue_s > 0 and now - callback.due_at > max_overdue_s:
        return RowUpdate(cid, status="missed", why="expired")
    return None


def outcome_update(callback_id: int, result: Result) -> RowUpdate | None:
    """The row after the ACD's outcome (withdrawn without a reason of ours: unchanged)."""
    if result == "connected":
        return RowUpdate(callback_id, status="done", why="connected")
    if result == "not_connected":
        return RowUpdate(callback_id, status="missed", why="not connected")
    return None


class FreeCallbackBook:
    """The free callbacks handed to the ACD, by callback id, until their rows are written."""

    def __init__(self) -> None:
        self._entries: dict[int, Entry] = {}
        self._by_call: dict[str, int] = {}
        self._n = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, callback_id: object) -> bool:
        return callback_id in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(tuple(self._entries.values()))

    def phones(self) -> frozenset[str]:
        """The numbers of the callbacks in the book (placed, not yet written back): a campaign
        must not dial one of them meanwhile (acd/dialer/service.py)."""
        return frozenset(e.placement.callback.phone for e in self._entries.values())

    def entry(self, call_id: str) -> Entry | None:
        cid = self._by_call.get(call_id)
        return None if cid is None else self._entries.get(cid)

    def plan(self, now: float, due: Sequence[FreeCallback], *, queue: str, dnc: DncList,
             window: CallingWindow, default_zone: str = "",
             busy_phones: Collection[str] = (), max_overdue_s: float = 0.0,
             tried: Collection[int] = ()) -> Plan:
        """Which due callbacks to place now (soonest first), and the rows passed over. One in
        the book, or due later, or whose number is being called (by this book or, in
        `busy_phones`, by someone else) is left as it is. `max_overdue_s` (0: no limit) and
        `tried` (callback ids an earlier process placed) mark rows missed instead."""
        place: list[Placement] = []
        rows: list[RowUpdate] = []
        taken = set(busy_phones) | {e.placement.callback.phone for e in self._entries.values()}
        for cb in sorted(due, key=lambda c: (c.due_at, c.callback_id)):
            if cb.callback_id in self._entries or cb.due_at > now or cb.phone in taken:
                continue
            refused = stale(cb, now, max_overdue_s=max_overdue_s, tried=tried) \
                or check(cb, now, dnc=dnc, window=window, default_zone=default_zone)
            if refused is not None:
                rows.append(refused)
                continue
            taken.add(cb.phone)
            self._n += 1
            place.append(Placement(f"{CALL_ID_PREFIX}{cb.callback_id}-{self._n}", cb, queue))
        return Plan(tuple(place), tuple(rows))

    def placed(self, placement: Placement) -> None:
        """The ACD took it. A callback already in the book raises (it would be placed twice)."""
        cid = placement.callback.callback_id
        if cid in self._entries or placement.call_id in self._by_call:
            raise IllegalFreeCallbackTransition(
                f"callback {cid} is already placed ({self._entries[cid].placement.call_id})"
                if cid in self._entries else f"call id {placement.call_id!r} is in use")
        self._entries[cid] = Entry(placement)
        self._by_call[placement.call_id] = cid

    def not_placed(self, call_id: str) -> None:
        """The ACD refused it at once: it was never handed over (forgotten, row unchanged)."""
        cid = self._by_call.pop(call_id, None)
        if cid is not None:
            self._entries.pop(cid, None)

    def recheck(self, now: float, *, dnc: DncList, window: CallingWindow,
                default_zone: str = "") -> list[Withdrawal]:
        """Callbacks waiting in the ACD that may no longer be called now: to take back."""
        out = []
        for e in self._entries.values():
            if e.stage is not Stage.WAITING:
                continue
            refused = check(e.placement.callback, now, dnc=dnc, window=window,
                            default_zone=default_zone)
            if refused is not None:
                out.append(Withdrawal(e.placement.call_id, refused))
        return out

    def withdrawing(self, w: Withdrawal) -> None:
        """About to ask the ACD to give it back untried (its "withdrawn" outcome may come
        while the ACD is being asked)."""
        self._step(w.call_id, Step.WITHDRAW, w.update)

    def kept(self, call_id: str) -> None:
        """The ACD would not give it back (it is being placed): waiting for its outcome."""
        self._step(call_id, Step.KEEP, None)

    def finished(self, call_id: str, result: Result) -> RowUpdate | None:
        """The ACD's outcome: the row update to write (None: nothing to write; release it)."""
        e = self._get(call_id)
        update = e.update if e.stage is Stage.WITHDRAWING and result == "withdrawn" \
            else outcome_update(e.placement.callback.callback_id, result)
        self._step(call_id, Step.FINISH, update)
        return update

    def unwritten(self) -> list[tuple[str, RowUpdate]]:
        """Outcomes known whose rows are not written yet (a failed write is tried again)."""
        return [(e.placement.call_id, e.update) for e in self._entries.values()
                if e.stage is Stage.FINISHING and e.update is not None]

    def released(self, call_id: str) -> None:
        """Its row is written: the callback leaves the book."""
        self._step(call_id, Step.RELEASE, None)

    def _get(self, call_id: str) -> Entry:
        cid = self._by_call.get(call_id)
        if cid is None:
            raise IllegalFreeCallbackTransition(f"no free callback under call id {call_id!r}")
        return self._entries[cid]

    def _step(self, call_id: str, step: Step, update: RowUpdate | None) -> None:
        e = self._get(call_id)
        if (e.stage, step) not in TRANSITIONS:
            raise IllegalFreeCallbackTransition(
                f"free callback {call_id!r}: {step.value} is not allowed when {e.stage.value}")
        after = TRANSITIONS[(e.stage, step)]
        cid = e.placement.callback.callback_id
        if after is None:
            del self._entries[cid]
            del self._by_call[call_id]
        else:
            self._entries[cid] = replace(e, stage=after, update=update)
