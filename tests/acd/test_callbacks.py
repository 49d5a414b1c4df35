"""The callback lifecycle (acd/callbacks.py): one table, illegal events change nothing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.callbacks import (
    FINAL,
    TRANSITIONS,
    Callback,
    CallbackBook,
    CallbackEvent,
    CallbackState,
    IllegalCallbackTransition,
    UnknownCallback,
    allowed,
    next_state,
)

S, E = CallbackState, CallbackEvent


def cb(n: int) -> Callback:
    return Callback(f"cb-{n}", f"act-{n}", str(n), "alice", "+12025550100", "support")


def test_the_happy_path_and_the_failures() -> None:
    book = CallbackBook()
    book.add(cb(1))
    assert book.apply("cb-1", E.AGENT_ANSWERED).after.state is S.DIALING_CUSTOMER
    assert book.apply("cb-1", E.CUSTOMER_ANSWERED).after.state is S.CONNECTED
    step = book.apply("cb-1", E.HUNG_UP)
    assert (step.before.state, step.after.state) == (S.CONNECTED, S.ENDED)
    assert book.get("cb-1") is None and book.by_action("act-1") is None and len(book) == 0
    for events, final in (([E.AGENT_NO_ANSWER], S.FAILED), ([E.NOT_PLACED], S.FAILED),
                          ([E.AGENT_ANSWERED, E.CUSTOMER_NO_ANSWER], S.FAILED),
                          ([E.AGENT_ANSWERED, E.HUNG_UP], S.FAILED)):
        book.add(cb(2))
        for e in events:
            last = book.apply("cb-2", e)
        assert last.after.state is final and book.get("cb-2") is None


def test_an_illegal_event_raises_and_changes_nothing() -> None:
    book = CallbackBook()
    book.add(cb(1))
    with pytest.raises(IllegalCallbackTransition, match="'customer_answered' is not allowed "
                                                        "in state 'ringing_agent'"):
        book.apply("cb-1", E.CUSTOMER_ANSWERED)
    assert book.get("cb-1") == cb(1) and book.by_action("act-1") == cb(1)
    with pytest.raises(UnknownCallback):
        book.apply("cb-9", E.HUNG_UP)
    with pytest.raises(IllegalCallbackTransition, match="already placed"):
        book.add(cb(1))
    with pytest.raises(IllegalCallbackTransition, match="starts ringing"):
        book.add(Callback("cb-3", "act-3", "3", "a", "+1", "q", S.CONNECTED))
    assert len(book) == 1


def test_the_table_is_the_only_truth() -> None:
    for s in S:
        for e in E:
            assert allowed(s, e) == ((s, e) in TRANSITIONS)
            if allowed(s, e):
                assert next_state(s, e) is TRANSITIONS[(s, e)]
            else:
                with pytest.raises(IllegalCallbackTransition):
                    next_state(s, e)
    assert not any(s in FINAL for s, _ in TRANSITIONS)  # nothing leaves a final state
    # Every state is reachable from ringing_agent, and every path ends final.
    seen, todo = {S.RINGING_AGENT}, [S.RINGING_AGENT]
    while todo:
        s = todo.pop()
        for (a, _), b in TRANSITIONS.items():
            if a is s and b not in seen:
                seen.add(b)
                todo.append(b)
    assert seen == set(S)


@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(list(E)),
                          st.booleans()), max_size=60))
def test_book_invariants_under_any_sequence(steps: list[tuple[int, CallbackEvent, bool]]) -> None:
    book = CallbackBook()
    history: dict[str, list[CallbackState]] = {}
    for n, event, add_first in steps:
        key = f"cb-{n}"
        if add_first and book.get(key) is None:
            book.add(cb(n))
            history.setdefault(key, []).append(S.RINGING_AGENT)
        before = {c.cti_call_id: c for c in book}
        current = book.get(key)
        if current is None or not allowed(current.state, event):
            with pytest.raises(IllegalCallbackTransition if current else UnknownCallback):
                book.apply(key, event)
            assert {c.cti_call_id: c for c in book} == before  # nothing changed
        else:
            step = book.apply(key, event)
            assert step.before == current
            history[key].append(step.after.state)
        # The two indexes agree; a final callback is in neither.
        live = list(book)
        assert len(live) == len(book)
        for c in live:
            assert c.state not in FINAL
            assert book.get(c.cti_call_id) == c == book.by_action(c.action_id)
    for states in history.values():
        # Each life follows the table; connected at most once per life; ended only after it.
        lives: list[list[CallbackState]] = [[]]
        for s in states:
            if s is S.RINGING_AGENT and lives[-1]:
                lives.append([])
            lives[-1].append(s)
        for life in lives:
            assert life[0] is S.RINGING_AGENT
            assert all((a, b) in {(x, y) for (x, _), y in TRANSITIONS.items()}
                       for a, b in zip(life, life[1:], strict=False))
            assert life.count(S.CONNECTED) <= 1
            assert S.ENDED not in life or S.CONNECTED in life
