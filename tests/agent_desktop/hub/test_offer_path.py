"""How many turns of the event loop an offer's screen-pop waits for in the hub, counted (not
timed): every turn is as long as everything else the loop has to run, which under load is what
made the pops' tail (benchmarks.screen_pop --trace). A backlog on the bus is drained in batches,
and with inline CRM reads the pop is queued in the same turn as the offer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_desktop.hub.hub import Client
from agent_desktop.hub.streams import Viewer

from .world import World, make_world, offered, queued


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async for world in make_world(tmp_path):
        yield world


def desktop(w: World, username: str, size: int = 256) -> Client:
    """A client of `username`'s agent stream whose queue the test reads (nobody drains it)."""
    u = w.users[username]
    c = Client(viewer=Viewer(role="agent", user_id=u.id, username=username, team_id=u.team_id),
               stream=f"agent:{u.id}", queue=asyncio.Queue(size), kill=lambda _c, _r: None)
    w.hub.join(c, None)
    return c


def topics(c: Client) -> list[str]:
    out = []
    for text in list(c.queue._queue):  # type: ignore[attr-defined]
        f = json.loads(text)
        if f["op"] == "event":
            out.append(f["topic"])
    return out


async def turns_until(pred: object, limit: int = 200) -> int:
    for n in range(limit):
        if pred():  # type: ignore[operator]
            return n
        await asyncio.sleep(0)
    raise AssertionError("never happened")


async def test_the_pop_is_queued_in_the_same_turn_as_the_offer(w: World) -> None:
    customer = await w.crm.customers.create(kind="person", name="李娜")
    await w.crm.phones.create(customer_id=customer.id, e164="+12125550100")
    ann = desktop(w, "ann")
    w.bus.publish(offered("p1", "ann", "+12125550100"))
    await turns_until(lambda: "acd.call.offered" in topics(ann))
    # No turn in between: the offer's event and its pop were queued by one step of the hub.
    assert topics(ann) == ["acd.call.offered", "desktop.screen_pop"]
    pop = json.loads(list(ann.queue._queue)[-1])  # type: ignore[attr-defined]
    assert pop["data"]["customer"]["customer"]["name"] == "李娜"


async def test_a_backlog_on_the_bus_is_drained_in_batches_not_a_turn_per_message(
        w: World) -> None:
    ann = desktop(w, "ann")
    desktop(w, "sue", size=4096)  # red team's supervisor: gets every queued call below
    ahead = 40
    for i in range(ahead):  # e.g. what piled up while the loop was stalled
        w.bus.publish(queued(f"q{i}", "+12125550100"))
    w.bus.publish(offered("p2", "ann", "+12125550101"))
    assert w.hub.backlog()["acd."] == ahead + 1
    turns = await turns_until(lambda: "desktop.screen_pop" in topics(ann))
    # world settings: ws_send_queue 16 -> batches of 4 messages: ~10 turns, not 40+.
    assert turns <= ahead // 4 + 3


async def test_with_reads_on_the_database_thread_the_pop_has_a_task_of_its_own(
        w: World) -> None:
    w.hub._reads_inline = False  # as with [crm].inline_reads = false
    ann = desktop(w, "ann")
    w.bus.publish(offered("p3", "ann", "+12125550102"))
    await turns_until(lambda: "acd.call.offered" in topics(ann))
    assert topics(ann) == ["acd.call.offered"]  # the other messages are not held up by it
    await turns_until(lambda: "desktop.screen_pop" in topics(ann))
    assert topics(ann) == ["acd.call.offered", "desktop.screen_pop"]
