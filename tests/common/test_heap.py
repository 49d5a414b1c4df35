"""The garbage-collector policy (common/heap.py): when passes are due, and what a pass does to
the real collector: garbage found first, survivors frozen, a full pass frees what died frozen."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from common.heap import HeapKeeper, HeapSchedule


@pytest.fixture
def thawed() -> Iterator[None]:
    """Leave the test process's collector as it was found: nothing frozen by these tests."""
    yield
    gc.unfreeze()


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> tuple[Node, Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a, b


def test_the_schedule_freezes_every_interval_and_runs_a_full_pass_every_other() -> None:
    s = HeapSchedule(60.0, 3600.0, now=0.0)
    assert s.due(59.9) is None and s.wait_s(0.0) == 60.0
    assert s.due(60.0) == "freeze"
    s.done("freeze", 60.0)
    assert s.due(119.0) is None and s.wait_s(100.0) == 20.0
    assert s.due(3600.0) == "full"  # a full pass freezes too: one pass, not two
    s.done("full", 3600.0)
    assert s.due(3650.0) is None and s.due(3660.0) == "freeze"
    assert s.due(7200.0) == "full"


def test_intervals_of_zero_turn_the_passes_off_and_negative_ones_are_refused() -> None:
    off = HeapSchedule(0.0, 0.0, now=0.0)
    assert off.due(1e9) is None and off.wait_s(0.0) is None
    only_full = HeapSchedule(0.0, 10.0, now=0.0)
    assert only_full.due(9.0) is None and only_full.due(10.0) == "full"
    with pytest.raises(ValueError, match=">= 0"):
        HeapSchedule(-1.0, 0.0, now=0.0)


def test_a_pass_collects_garbage_first_then_freezes_what_is_alive(thawed: None) -> None:
    keeper = HeapKeeper(60.0, 3600.0)
    dead = weakref.ref(cycle()[0])  # unreachable already: collected, never frozen
    alive = cycle()
    assert dead() is not None  # only the collector can free a cycle
    done = keeper.settle()
    assert dead() is None and done.collected >= 2
    assert not gc.is_finalized(alive[0])
    tracked = {id(o) for o in gc.get_objects()}
    # Frozen: out of every collection's reach (gc.get_objects lists the unfrozen ones).
    assert id(alive[0]) not in tracked and id(alive[1]) not in tracked
    assert done.frozen > 0 and gc.get_freeze_count() > 0
    assert keeper.passes == [done]


def test_a_freeze_pass_collects_young_garbage_and_freezes_the_rest(thawed: None) -> None:
    keeper = HeapKeeper(60.0, 3600.0)
    keeper.settle()
    young = weakref.ref(cycle()[0])  # garbage in generation 0
    alive = cycle()
    done = keeper.run_pass("freeze")
    assert young() is None and done.kind == "freeze" and done.collected >= 2
    assert id(alive[0]) not in {id(o) for o in gc.get_objects()}


def test_only_a_full_pass_frees_cycles_that_died_while_frozen(thawed: None) -> None:
    keeper = HeapKeeper(60.0, 3600.0)
    holder = [cycle()]  # e.g. a desktop's socket objects, frozen while it is connected
    keeper.run_pass("freeze")
    gone = weakref.ref(holder.pop()[0])  # the desktop disconnects: its objects are a cycle
    keeper.run_pass("freeze")
    assert gone() is not None  # frozen garbage: no ordinary pass sees it
    keeper.run_pass("full")
    assert gone() is None
