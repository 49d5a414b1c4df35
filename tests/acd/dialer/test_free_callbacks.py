"""The pure core of callbacks with no campaign (acd/dialer/free_callbacks.py): which due ones are
handed to the ACD, what their rows become, and the book that keeps any one from being placed
twice (a hypothesis state machine drives it as the adapter and the ACD would)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from acd.dialer.dnc import DncList
from acd.dialer.errors import IllegalFreeCallbackTransition
from acd.dialer.free_callbacks import (
    CALL_ID_PREFIX,
    FreeCallback,
    FreeCallbackBook,
    RowUpdate,
    Stage,
)
from acd.dialer.windows import CallingWindow

NOON_NY = dt.datetime(2026, 7, 15, 16, 0, tzinfo=dt.UTC).timestamp()  # Wednesday 12:00 EDT
NIGHT_NY = dt.datetime(2026, 7, 16, 3, 0, tzinfo=dt.UTC).timestamp()  # 23:00 EDT
WINDOW = CallingWindow()  # 08:00-21:00 local
NY = "+12125550100"  # America/New_York
PARIS = "+33142685300"  # Europe/Paris


def cb(cid: int, phone: str = NY, due: float = NOON_NY - 60, owner: str | None = None
       ) -> FreeCallback:
    return FreeCallback(cid, phone, due, owner, customer_id=None, note=f"note {cid}")


def plan(book: FreeCallbackBook, due: list[FreeCallback], now: float = NOON_NY,
         dnc: DncList | None = None, busy: frozenset[str] = frozenset()) -> object:
    return book.plan(now, due, queue="support", dnc=dnc or DncList(), window=WINDOW,
                     busy_phones=busy)


def test_due_callbacks_are_placed_soonest_first_owner_kept_queue_named() -> None:
    book = FreeCallbackBook()
    p = book.plan(NOON_NY, [cb(2, PARIS, NOON_NY - 10, "alice"), cb(1, NY, NOON_NY - 99),
                            cb(3, "+12125550101", NOON_NY + 60)],
                  queue="sales", dnc=DncList(), window=WINDOW, default_zone="")
    assert [(x.callback.callback_id, x.callback.owner, x.queue) for x in p.place] == [
        (1, None, "sales"), (2, "alice", "sales")]  # 3 is not due yet
    assert all(x.call_id.startswith(f"{CALL_ID_PREFIX}{x.callback.callback_id}-")
               for x in p.place)
    assert len({x.call_id for x in p.place}) == 2 and p.rows == ()


def test_dnc_window_and_bad_numbers_become_row_updates_and_are_not_placed() -> None:
    dnc = DncList()
    dnc.add(PARIS)
    dnc.add("+12125550199", campaign_id=7)  # a campaign's list: not for a free callback
    book = FreeCallbackBook()
    p = book.plan(NIGHT_NY, [cb(1, NY, NIGHT_NY - 5), cb(2, PARIS, NIGHT_NY - 5),
                             cb(3, "+1212", NIGHT_NY - 5), cb(4, "+12125550199", NIGHT_NY - 5),
                             cb(5, "+80012345678", NIGHT_NY - 5)],
                  queue="q", dnc=dnc, window=WINDOW, default_zone="")
    rows = {r.callback_id: r for r in p.rows}
    assert rows[2] == RowUpdate(2, status="cancelled", why="dnc")
    assert rows[3] == RowUpdate(3, status="cancelled", why="invalid-number")
    # 23:00 in New York: waits for 08:00 there (12:00 UTC), not cancelled.
    opens = dt.datetime(2026, 7, 16, 12, 0, tzinfo=dt.UTC).timestamp()
    assert rows[1] == RowUpdate(1, due_at=opens, why="window")
    assert rows[4].why == "window"  # on another campaign's list only: the window decides
    assert rows[5] == RowUpdate(5, status="cancelled", why="no-timezone")  # no zone known
    assert p.place == ()
    assert len(book) == 0


def test_a_number_being_called_is_not_called_again_by_another_callback() -> None:
    book = FreeCallbackBook()
    first = plan(book, [cb(1), cb(2)])
    assert [x.callback.callback_id for x in first.place] == [1]  # type: ignore[attr-defined]
    book.placed(first.place[0])  # type: ignore[attr-defined]
    assert plan(book, [cb(1), cb(2)]).place == ()  # type: ignore[attr-defined]
    # A campaign's line to the number counts too.
    assert plan(FreeCallbackBook(), [cb(3)], busy=frozenset({NY})).place == ()  # type: ignore[attr-defined]


def test_outcomes_write_the_row_then_release_and_illegal_steps_change_nothing() -> None:
    book = FreeCallbackBook()
    (p,) = book.plan(NOON_NY, [cb(1)], queue="q", dnc=DncList(), window=WINDOW).place
    book.placed(p)
    with pytest.raises(IllegalFreeCallbackTransition, match="already placed"):
        book.placed(p)
    with pytest.raises(IllegalFreeCallbackTransition, match="release is not allowed"):
        book.released(p.call_id)
    assert book.entry(p.call_id) is not None and book.entry(p.call_id).stage is Stage.WAITING  # type: ignore[union-attr]
    assert book.finished(p.call_id, "connected") == RowUpdate(1, status="done",
                                                              why="connected")
    assert book.unwritten() == [(p.call_id, RowUpdate(1, status="done", why="connected"))]
    with pytest.raises(IllegalFreeCallbackTransition):
        book.finished(p.call_id, "not_connected")
    book.released(p.call_id)
    assert len(book) == 0 and book.entry(p.call_id) is None
    with pytest.raises(IllegalFreeCallbackTransition, match="no free callback"):
        book.finished(p.call_id, "connected")


def test_recheck_takes_back_what_may_no_longer_be_called() -> None:
    book = FreeCallbackBook()
    placed = book.plan(NOON_NY, [cb(1), cb(2, PARIS)], queue="q", dnc=DncList(),
                       window=WINDOW).place
    for p in placed:
        book.placed(p)
    dnc = DncList()
    dnc.add(PARIS)
    # Later that day: 22:00 in New York (closed), 04:00 in Paris (closed, and now on the list).
    late = dt.datetime(2026, 7, 16, 2, 0, tzinfo=dt.UTC).timestamp()
    back = {w.update.callback_id: w for w in book.recheck(late, dnc=dnc, window=WINDOW)}
    assert back[2].update.status == "cancelled" and back[1].update.why == "window"
    book.withdrawing(back[1])
    assert book.finished(back[1].call_id, "withdrawn") == back[1].update
    book.withdrawing(back[2])
    book.kept(back[2].call_id)  # the ACD was placing it already: its outcome counts
    assert book.finished(back[2].call_id, "not_connected") == RowUpdate(
        2, status="missed", why="not connected")
    # Given back by the ACD for a reason of its own (the server stopping): row unchanged.
    other = FreeCallbackBook()
    (p,) = other.plan(NOON_NY, [cb(9)], queue="q", dnc=DncList(), window=WINDOW).place
    other.placed(p)
    assert other.finished(p.call_id, "withdrawn") is None


class Lifecycle(RuleBasedStateMachine):
    """The adapter's ticks over a model database, the ACD's outcomes in any order, window and
    do-not-call changes, failed row writes. Invariants: a callback is never in the ACD twice at
    once, never for a row that is not pending, never again after a connected or not-connected
    outcome, and never for a number on the do-not-call list or outside its window."""

    PHONES = (NY, "+12125550101", PARIS, "+33142685301")

    def __init__(self) -> None:
        super().__init__()
        self.book = FreeCallbackBook()
        self.rows: dict[int, dict[str, object]] = {}  # the database: status, due_at, phone
        self.in_acd: dict[str, int] = {}  # call id -> callback id, as the ACD holds them
        # Outcomes whose rows are not written yet, with the time each was decided.
        self.finishing: list[tuple[str, RowUpdate | None, float]] = []
        self.attempted: set[int] = set()  # rows that got a connected / not-connected outcome
        self.now = NOON_NY
        self.dnc = DncList()
        self.errors: list[str] = []

    @rule(phone=st.sampled_from(PHONES), delay=st.integers(-600, 600))
    def schedule(self, phone: str, delay: int) -> None:
        cid = len(self.rows) + 1
        self.rows[cid] = {"status": "pending", "due_at": self.now + delay, "phone": phone}

    @rule(step=st.integers(1, 4 * 3600))
    def time_passes(self, step: int) -> None:
        self.now += step

    @rule(phone=st.sampled_from(PHONES))
    def put_on_dnc(self, phone: str) -> None:
        self.dnc.add(phone)

    @rule()
    def tick(self) -> None:
        due = [FreeCallback(cid, str(r["phone"]), float(r["due_at"]))  # type: ignore[arg-type]
               for cid, r in self.rows.items()
               if r["status"] == "pending" and float(r["due_at"]) <= self.now]  # type: ignore[arg-type]
        for w in self.book.recheck(self.now, dnc=self.dnc, window=WINDOW):
            self.book.withdrawing(w)
            if w.call_id in self.in_acd:  # the ACD gives it back, telling the outcome at once
                del self.in_acd[w.call_id]
                self.finishing.append((w.call_id, self.book.finished(w.call_id, "withdrawn"),
                                       self.now))
        p = self.book.plan(self.now, due, queue="q", dnc=self.dnc, window=WINDOW)
        for u in p.rows:
            self.write(u, self.now)
        for placement in p.place:
            cid = placement.callback.callback_id
            if cid in self.in_acd.values():
                self.errors.append(f"callback {cid} placed while in the ACD")
            if self.rows[cid]["status"] != "pending":
                self.errors.append(f"callback {cid} placed while {self.rows[cid]['status']}")
            if cid in self.attempted:
                self.errors.append(f"callback {cid} placed again after an attempt")
            if self.dnc.blocks(placement.callback.phone, None, self.now):
                self.errors.append(f"callback {cid} placed to a number on the DNC list")
            self.book.placed(placement)
            self.in_acd[placement.call_id] = cid

    @precondition(lambda self: self.in_acd)
    @rule(pick=st.integers(0, 100), result=st.sampled_from(["connected", "not_connected",
                                                            "withdrawn"]))
    def acd_outcome(self, pick: int, result: str) -> None:
        call_id = sorted(self.in_acd)[pick % len(self.in_acd)]
        cid = self.in_acd.pop(call_id)
        if result != "withdrawn":
            self.attempted.add(cid)
        self.finishing.append((call_id, self.book.finished(call_id, result),  # type: ignore[arg-type]
                               self.now))

    @precondition(lambda self: self.finishing)
    @rule(pick=st.integers(0, 100), fails=st.booleans())
    def row_written(self, pick: int, fails: bool) -> None:
        item = self.finishing[pick % len(self.finishing)]
        call_id, update, decided_at = item
        if update is not None and fails:
            assert (call_id, update) in self.book.unwritten()  # tried again next tick
            return
        self.finishing.remove(item)
        if update is not None:
            self.write(update, decided_at)
        self.book.released(call_id)

    def write(self, u: RowUpdate, decided_at: float) -> None:
        row = self.rows[u.callback_id]
        if u.status is not None:
            row["status"] = u.status
        if u.due_at is not None:
            assert u.due_at > decided_at  # a window update moves it to a later time
            row["due_at"] = u.due_at

    @invariant()
    def never_twice(self) -> None:
        assert self.errors == []
        assert len(self.book) == len(self.in_acd) + len(self.finishing)
        assert len(set(self.in_acd.values())) == len(self.in_acd)
        phones = [self.rows[cid]["phone"] for cid in self.in_acd.values()]
        assert len(set(phones)) == len(phones)  # one call per number at a time


TestLifecycle = Lifecycle.TestCase
TestLifecycle.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


def test_an_earlier_processs_attempt_and_a_long_overdue_row_are_missed_not_dialled() -> None:
    # 1: an earlier process placed it and never wrote its outcome (it stopped mid-call);
    # 2: due four days ago (a server down for days, or a row from before an upgrade);
    # 3: due an hour ago: placed. DNC still wins over both (the number may never be called).
    dnc = DncList()
    dnc.add(PARIS)
    book = FreeCallbackBook()
    p = book.plan(NOON_NY, [cb(1, NY), cb(2, "+12125550102", NOON_NY - 4 * 86_400),
                            cb(3, "+12125550103", NOON_NY - 3600),
                            cb(4, PARIS, NOON_NY - 4 * 86_400)],
                  queue="q", dnc=dnc, window=WINDOW, max_overdue_s=72 * 3600, tried={1, 4})
    assert [x.callback.callback_id for x in p.place] == [3]
    assert {r.callback_id: r for r in p.rows} == {
        1: RowUpdate(1, status="missed", why="outcome-unknown"),
        2: RowUpdate(2, status="missed", why="expired"),
        4: RowUpdate(4, status="missed", why="outcome-unknown")}
    # No limit (0): the old row is placed; `tried` alone still holds back 1.
    p = FreeCallbackBook().plan(NOON_NY, [cb(1, NY), cb(2, "+12125550102", NOON_NY - 4 * 86_400)],
                                queue="q", dnc=dnc, window=WINDOW, tried={1})
    assert [x.callback.callback_id for x in p.place] == [2]
