"""Connected desktops and the garbage collector (common/heap.py, run by server.py): a pass takes
the objects of the sockets connected since the last one out of what a full collection walks."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from common.heap import HeapKeeper

from .world import World, login_ws, make_world


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async for world in make_world(tmp_path):
        yield world


@pytest.fixture
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


def walked() -> int:
    """The objects a full collection walks now (all tracked ones not frozen)."""
    gc.collect()
    return len(gc.get_objects())


async def test_a_pass_takes_connected_desktops_out_of_full_collections(w: World,
                                                                       thawed: None) -> None:
    keeper = HeapKeeper(60.0, 3600.0)
    keeper.run_pass("freeze")
    base = walked()
    sockets = 12
    clients = [await login_ws(w, ("ann", "amy", "bob")[i % 3]) for i in range(sockets)]
    for c in clients:
        await c.until(lambda f: f["op"] == "snapshot")
    # Both ends of each socket live in this process: the server's part alone is smaller.
    per_socket = (walked() - base) / sockets
    assert per_socket > 100  # what every full collection walked again, per desktop, before
    keeper.run_pass("freeze")
    assert (walked() - base) / sockets < 5
    for c in clients:
        await c.close()
