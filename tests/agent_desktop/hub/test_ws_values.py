"""Agents' live queue figures over /ws: value frames (no seq, never replayed) of the agent's own
queues; a resume gets the current figures after the missed events; wallboards and supervisors
keep their numbered acd.queue.stats events; the [desktop] switch turns them off."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from acd.stats import QueueReport

from .test_ws_streams import _report
from .world import World, ended, login_ws, make_world, world_settings


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async for world in make_world(tmp_path):
        yield world


def _reports(w: World, waiting: int) -> list[QueueReport]:
    queues = sorted(w.service.engine.agent("ann").queues)
    return [dataclasses.replace(_report(q, waiting + i), queue=q) for i, q in
            enumerate(queues)]


async def test_an_agent_gets_its_queues_as_value_frames_outside_the_replay(w: World) -> None:
    ann = await login_ws(w, "ann")
    snap = await ann.until(lambda f: f["op"] == "snapshot")
    sue = await login_ws(w, "sue")
    await sue.until(lambda f: f["op"] == "snapshot")
    w.acd.reports = _reports(w, 3)
    w.hub.publish_stats(now=1000.0)
    value = await ann.until(lambda f: f["op"] == "value")
    assert value["topic"] == "desktop.queue_stats" and "seq" not in value
    mine = sorted(w.service.engine.agent("ann").queues)
    assert [q["queue"] for q in value["data"]["queues"]] == mine
    assert value["data"]["queues"][0]["waiting"] == 3
    # The stream's numbering did not move: the next event is the snapshot's seq + 1.
    w.bus.publish(ended("e1", "ann"))
    ev = await ann.until(lambda f: f["op"] == "event")
    assert ev["seq"] == snap["seq"] + 1
    # A supervisor keeps the numbered acd.queue.stats events, no value frames.
    stats = await sue.until(lambda f: f.get("topic") == "acd.queue.stats")
    assert stats["op"] == "event"
    await ann.close()

    # Away: the figures change, events are missed; the resume replays the events only and
    # then hands over the current figures in one value frame.
    w.acd.reports = _reports(w, 9)
    w.hub.publish_stats(now=1002.5)  # past the per-queue interval (2 s)
    w.bus.publish(ended("e2", "ann"))
    await sue.until(lambda f: f.get("topic") == "acd.call.ended"
                    and f["data"]["call_id"] == "e2")
    back = await login_ws(w, "ann", resume={"stream": ev["stream"], "seq": ev["seq"]})
    welcome = await back.next()
    assert welcome["resumed"] is True
    missed = await back.next()
    assert missed["op"] == "event" and missed["data"]["call_id"] == "e2"
    current = await back.next()
    assert current["op"] == "value"
    assert [q["waiting"] for q in current["data"]["queues"]] == \
        [9 + i for i in range(len(mine))]
    assert not [f for f in back.frames if f["op"] == "event" and f["topic"].endswith("stats")]
    await back.close()
    await sue.close()


async def test_the_desktop_switch_turns_the_agent_figures_off(tmp_path: Path) -> None:
    async for w in make_world(tmp_path, world_settings(ws_agent_queue_stats=False)):
        ann = await login_ws(w, "ann")
        await ann.until(lambda f: f["op"] == "snapshot")
        w.acd.reports = _reports(w, 3)
        w.hub.publish_stats()
        w.bus.publish(ended("mark", "ann"))
        await ann.until(lambda f: f.get("topic") == "acd.call.ended")
        assert not [f for f in ann.frames if f["op"] == "value"]
        assert w.hub.counters.value_frames == 0
        await ann.close()


async def test_the_figures_go_out_in_slices_and_a_new_tick_finishes_the_last_spread_first(
        w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # One desktop per slice: the first agent's frame goes at once, the others' later, spread
    # over the stats interval (3600 s in this world: they wait until the next tick flushes them).
    monkeypatch.setattr("agent_desktop.hub.hub.AGENT_VALUES_SLICE", 1)
    desks = [await login_ws(w, u) for u in ("ann", "amy", "bob")]
    for d in desks:
        await d.until(lambda f: f["op"] == "snapshot")
    w.acd.reports = _reports(w, 3)
    w.hub.publish_stats(now=1000.0)
    assert w.hub.counters.value_frames == 1  # one slice now, two left for later
    w.acd.reports = _reports(w, 9)
    w.hub.publish_stats(now=1002.5)  # the spread left over is pushed first, then the new slice
    assert w.hub.counters.value_frames == 4
    for d in desks:
        first = await d.until(lambda f: f["op"] == "value")
        assert first["data"]["queues"][0]["waiting"] == 3  # older figures never arrive later
    w.hub.flush_agent_values()
    for d in desks:
        later = await d.until(lambda f: f["op"] == "value"
                              and f["data"]["queues"][0]["waiting"] == 9)
        assert later["topic"] == "desktop.queue_stats"
        await d.close()
