"""The server runs the garbage-collector policy (common/heap.py) as configured: the start-up heap
is frozen once start-up is done, and the periodic passes follow."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_server_demo import demo_settings, running_demo


@pytest.fixture
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


async def test_start_up_freezes_the_heap_and_the_passes_follow(tmp_path: Path,
                                                               thawed: None) -> None:
    gc.unfreeze()
    settings = demo_settings(tmp_path, agents=2)
    settings = settings.model_copy(update={"server": settings.server.model_copy(
        update={"gc_freeze_interval_s": 0.2, "gc_full_interval_s": 0.5})})
    async for h in running_demo(settings):
        keeper = h["heap"]
        assert keeper.passes[0].kind == "settle"
        assert keeper.passes[0].frozen > 10_000 and gc.get_freeze_count() > 0
        # The engine, the hub, the CRM... are frozen: no full collection walks them.
        tracked = {id(o) for o in gc.get_objects()}
        assert not {id(h["engine"]), id(h["hub"]), id(h["crm"])} & tracked
        async with asyncio.timeout(10):
            while {"freeze", "full"} - {p.kind for p in keeper.passes}:
                await asyncio.sleep(0.05)
