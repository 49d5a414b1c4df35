"""Places due callbacks that have no campaign, through the ACD (the asyncio side of
acd/dialer/free_callbacks.py, which decides; this reads the rows, hands callbacks to the ACD and
writes their outcomes).

Every `[acd].free_callback_tick_s` seconds: rows whose outcome could not be written before are
written again; callbacks waiting in the ACD whose number may no longer be called are taken back;
then the due rows are read (crm.dialer_state.due_free_callbacks), and each one the core places
is handed to the ACD as a scheduled callback (AcdService.schedule_callback): owned ones for
their owner first ([acd].owner_grace_s), then `[acd].free_callback_queue`'s agents. The ACD's
CallbackDone comes back in `_done`; the row becomes done or missed, and only then does the
callback leave the book, so it is never placed twice by this process.

What the agent sees is what every ACD callback gives: the offer and screen-pop with the
customer and the callback's note (acd.call.offered with its CallbackContext), the call, and the
wrap-up on the call's own interaction (call id fcb-<callback id>-<n>).

After a crash: a process that dies while a callback is connected leaves its row pending. Before
a callback's first placement by this process, the CRM is asked whether an interaction exists
under one of its call ids (an earlier process placed it); if so its row is marked missed
('outcome-unknown') and a person decides, rather than the customer being dialled again.
Callbacks overdue by more than `[acd].free_callback_max_overdue_h` are marked missed too.

A crash while the call rang, before any interaction existed, is found too: each placement is
recorded on the row (`placed_call_id`) before its Originate (CallbackRequest.before_dial, awaited
by the ACD; a placement that cannot be recorded is not dialled), and a pending row carrying one
is an earlier process's attempt.

A row without a phone takes its customer's primary number (written into the row, so the person
looking at it sees what was called); with no customer, or a customer without a number, it is
marked missed with a reason saying so. Every row marked missed or cancelled here says why in
its `reason` (REASON_TEXT), for the person who looks at it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

import structlog

from acd.dialer.dnc import DncList
from acd.dialer.earlier_attempts import EarlierAttempts
from acd.dialer.free_callbacks import (
    CALL_ID_PREFIX,
    REASON_TEXT,
    FreeCallback,
    FreeCallbackBook,
    Placement,
    RowUpdate,
)
from acd.dialer.rules import merge
from acd.errors import AcdError
from acd.scheduled import CallbackDone, CallbackRequest
from common.clock import Clock, WallClock
from common.messages import CallbackContext
from config.settings import Settings

if TYPE_CHECKING:
    from crm_core.service import Crm

log = structlog.get_logger("acd.dialer.free_callbacks")

BATCH = 200  # due rows read per tick (the soonest first; the rest next tick)


class FreeCallbacks:
    def __init__(self, *, crm: Crm, acd: Any, settings: Settings, dnc: DncList,
                 wall: Clock | None = None,
                 busy_phones: Callable[[], Collection[str]] = frozenset) -> None:
        self.crm = crm
        self.acd = acd  # acd.service.AcdService: schedule_callback, withdraw_callback
        self.settings = settings
        self.dnc = dnc  # the global do-not-call list the dialer keeps current
        # No campaign, so no campaign rules: [dialer]'s window, days, holidays and default
        # zone, as acd/dialer/rules.py gives them to a campaign that sets none of its own.
        rules = merge(None, settings.dialer)
        self.window = rules.window
        self.default_zone = rules.default_timezone
        self.wall = wall or WallClock()
        self.busy_phones = busy_phones  # numbers the dialer's campaigns are calling now
        self.queue = settings.acd.callback_queue()
        self.book = FreeCallbackBook()
        self._usernames: dict[int, str | None] = {}
        self.earlier = EarlierAttempts(crm)  # attempts by an earlier process
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        every = self.settings.acd.free_callback_tick_s
        if every > 0:
            self._task = asyncio.create_task(self._loop(every), name="free-callbacks")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _loop(self, every: float) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # a bad read must not stop callbacks for good
                log.exception("free_callbacks_tick_failed")
            await asyncio.sleep(every)

    # ------------------------------------------------------------------ one tick

    async def tick(self) -> None:
        if self._stopping:
            return
        now = self.wall.now()
        for call_id, update in self.book.unwritten():
            await self._write(call_id, update)
        zone = self.default_zone
        for w in self.book.recheck(now, dnc=self.dnc, window=self.window, default_zone=zone):
            self.book.withdrawing(w)  # first: the ACD tells its outcome synchronously
            if not self.acd.withdraw_callback(w.call_id, w.update.why):
                # Already being placed: its outcome comes as usual (the ACD's CallbackDone).
                self.book.kept(w.call_id)
        rows = await self.crm.dialer_state.due_free_callbacks(now, BATCH)
        due = []
        for r in rows:
            phone = r.phone or await self._phone_of(r)
            if phone:
                due.append(FreeCallback(r.id, phone, r.due_at,
                                        await self._owner(r.assigned_user_id), r.customer_id,
                                        r.notes))
        placed = {r.id: r.placed_call_id for r in rows}
        for cb in due:
            # The dialer's list is loaded at its start and follows dispositions; a number put
            # on the list through the API since then is in the CRM only: read it there too.
            if cb.callback_id not in self.book and await self._crm_dnc(cb.phone):
                self.dnc.add(cb.phone)
        tried = await self.earlier.tried({cb.callback_id: f"{CALL_ID_PREFIX}{cb.callback_id}-"
                                          for cb in due if cb.callback_id not in self.book},
                                         placed)
        plan = self.book.plan(now, due, queue=self.queue, dnc=self.dnc, window=self.window,
                              default_zone=zone, busy_phones=self.busy_phones(),
                              max_overdue_s=self.settings.acd.free_callback_max_overdue_h * 3600,
                              tried=tried)
        # Handed over first, at once after planning: the book holds their numbers before any
        # await lets the dialer's tick pick one of them (it asks the book, service.py).
        for p in plan.place:
            self._hand_over(p)
        for update in plan.rows:
            await self._update_row(update)

    def _hand_over(self, p: Placement) -> None:
        cb = p.callback
        request = CallbackRequest(
            p.call_id, p.queue, cb.phone, required_agent=cb.owner,
            customer_id=cb.customer_id,
            context=CallbackContext(cb.callback_id, cb.note, cb.due_at, cb.owner or ""),
            before_dial=lambda call_id: self._record_placement(cb.callback_id, call_id))
        self.book.placed(p)
        try:
            self.acd.schedule_callback(request, self._done)
        except AcdError as exc:  # the ACD is stopping, or refused it: the row stays pending
            self.book.not_placed(p.call_id)
            log.warning("free_callback_not_scheduled", callback_id=cb.callback_id,
                        error=str(exc))
            return
        log.info("free_callback_scheduled", call_id=p.call_id, callback_id=cb.callback_id,
                 owner=cb.owner, queue=p.queue)

    def _done(self, done: CallbackDone) -> None:
        """The ACD's outcome (synchronous, from inside the ACD): the row is written after."""
        if self.book.entry(done.call_id) is None:
            return
        update = self.book.finished(done.call_id, done.result)
        log.info("free_callback_done", call_id=done.call_id, result=done.result,
                 agent=done.agent_id, why=done.why)
        if update is None:
            self.book.released(done.call_id)
            return
        task = asyncio.get_running_loop().create_task(self._write(done.call_id, update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, call_id: str, update: RowUpdate) -> None:
        if await self._update_row(update):
            with contextlib.suppress(Exception):  # (written twice by a retry: already out)
                self.book.released(call_id)

    async def _record_placement(self, callback_id: int, call_id: str) -> None:
        """Before the Originate (raises if not written: then it is not dialled)."""
        await self.crm.callbacks.update(callback_id, placed_call_id=call_id)

    async def _phone_of(self, row: Any) -> str | None:
        """A due row without a phone: its customer's primary number, written into the row;
        none to be had: the row is missed, with a reason a person reads."""
        phone = None
        if row.customer_id is not None:
            try:
                phone = await self.crm.phones.primary(row.customer_id)
            except Exception:
                log.exception("free_callback_customer_phone_unread", callback_id=row.id)
                return None  # (asked again next tick)
        try:
            if phone is not None:
                await self.crm.callbacks.update(row.id, phone=phone)
                log.info("free_callback_phone_from_customer", callback_id=row.id,
                         customer_id=row.customer_id)
                return str(phone)
            await self._update_row(RowUpdate(row.id, status="missed", why="no-phone"))
        except Exception:
            log.exception("free_callback_row_not_written", callback_id=row.id)
        return None

    async def _update_row(self, u: RowUpdate) -> bool:
        changes: dict[str, object] = {}
        if u.status is not None:
            changes["status"] = u.status
            if u.status != "done":
                changes["reason"] = REASON_TEXT.get(u.why, u.why)
        if u.due_at is not None:
            changes["due_at"] = u.due_at
        try:
            await self.crm.callbacks.update(u.callback_id, **changes)
        except Exception:  # kept in the book: written again next tick, never placed again
            log.exception("free_callback_row_not_written", callback_id=u.callback_id)
            return False
        if u.status == "cancelled":
            log.info("free_callback_cancelled", callback_id=u.callback_id, reason=u.why)
        return True

    async def _crm_dnc(self, phone: str) -> bool:
        try:
            return bool(await self.crm.dnc.contains(phone))
        except Exception:  # not a number: the core cancels it as such
            return False

    async def _owner(self, user_id: int | None) -> str | None:
        """The assigned user's ACD agent id (username); None for anyone, or a user gone."""
        if user_id is None:
            return None
        if user_id not in self._usernames:
            try:
                self._usernames[user_id] = (await self.crm.users.get(user_id)).username
            except Exception:
                self._usernames[user_id] = None  # removed: anyone of the queue takes it
            if len(self._usernames) > 10_000:
                self._usernames.clear()
        return self._usernames.get(user_id)
