"""A client that stops reading: dropped at once when its bounded queue is full (close 4000
"too slow"), nobody else delayed or short of a frame, no further work spent on it, and caught
up when it comes back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from agent_desktop.hub import wire
from agent_desktop.hub.hub import Client, Hub
from agent_desktop.hub.streams import AgentInfo, Viewer
from common.clock import ManualClock
from config.desktop import DesktopSettings

from .world import T0, login_ws, make_world, world_settings


class _NoUsers:
    async def by_username(self, username: str) -> AgentInfo | None:
        return None

    async def by_id(self, user_id: int) -> AgentInfo | None:
        return None

    async def all(self) -> list[AgentInfo]:
        return []


def _hub(send_queue: int) -> Hub:
    return Hub(DesktopSettings(ws_send_queue=send_queue), acd=None, crm=None,  # type: ignore[arg-type]
               users=_NoUsers(), wall=ManualClock(T0))


def _client(hub: Hub, user_id: int, kills: list[tuple[int, int, str]], size: int) -> Client:
    viewer = Viewer(role="supervisor", user_id=user_id, username=f"u{user_id}", team_id=1)
    c = Client(viewer=viewer, stream="team:1", queue=asyncio.Queue(size),
               kill=lambda code, reason: kills.append((user_id, code, reason)))
    hub.join(c, None)  # welcome + snapshot queued
    return c


def _events(c: Client) -> list[dict[str, Any]]:
    out = []
    while not c.queue.empty():
        f = json.loads(c.queue.get_nowait())
        if f["op"] == "event":
            out.append(f)
    return out


async def test_a_full_queue_drops_that_client_once_and_the_others_get_every_frame() -> None:
    hub = _hub(send_queue=8)
    kills: list[tuple[int, int, str]] = []
    reader1 = _client(hub, 1, kills, size=1000)  # readers: their writers keep up
    stuck = _client(hub, 2, kills, size=8)  # nobody drains this one
    reader2 = _client(hub, 3, kills, size=1000)
    for i in range(50):
        hub.emit(["team:1"], "acd.call.queued", json.dumps({"call_id": f"c{i}"}))
    # Dropped at the first frame its queue had no room for, once, with the documented code.
    assert kills == [(2, wire.CLOSE_TOO_SLOW, "too slow")]
    assert stuck.dropped and stuck.queue.full()
    assert hub.counters.dropped_slow == 1
    assert hub.clients["team:1"] == {reader1, reader2}
    assert hub.client_count() == 2
    # The others got every frame, in order, with no hole in the numbers.
    for r in (reader1, reader2):
        got = _events(r)
        assert [f["data"]["call_id"] for f in got] == [f"c{i}" for i in range(50)]
        assert [f["seq"] - got[0]["seq"] for f in got] == list(range(50))
    # From then on the stuck client costs nothing: not visited, not pushed to, not killed again.
    held = stuck.queue.qsize()
    for i in range(50, 60):
        hub.emit(["team:1"], "acd.call.queued", json.dumps({"call_id": f"c{i}"}))
    assert stuck.queue.qsize() == held and len(kills) == 1
    assert [f["data"]["call_id"] for f in _events(reader1)] == [f"c{i}" for i in range(50, 60)]


async def test_a_dropped_client_is_told_too_slow_and_catches_up_when_it_resumes(
        tmp_path: Path) -> None:
    async for w in make_world(tmp_path, world_settings(ws_send_queue=8, ws_replay_events=64)):
        c = await login_ws(w, "sue")
        snap = await c.until(lambda f: f["op"] == "snapshot")
        stream = snap["stream"]
        # A burst with no chance for its writer to run in between: more than its queue holds.
        for i in range(12):
            w.hub.emit([stream], "acd.call.queued", json.dumps({"call_id": f"q{i}"}))
        code, reason = await c.closed()
        assert (code, reason) == (wire.CLOSE_TOO_SLOW, "too slow")
        assert w.hub.counters.dropped_slow == 1 and w.hub.client_count() == 0
        await c.close()
        # Twelve missed events are more than its queue holds: a snapshot flagged "gap" as of
        # the stream's current number instead, and then the stream goes on from there.
        again = await login_ws(w, "sue", resume={"stream": stream, "seq": snap["seq"]})
        welcome = await again.next()
        gap = await again.next()
        assert welcome["resumed"] is False
        assert gap["op"] == "snapshot" and gap["reason"] == "gap"
        assert gap["seq"] == welcome["seq"] == snap["seq"] + 12
        w.hub.emit([stream], "acd.call.queued", json.dumps({"call_id": "live"}))
        live = await again.until(lambda f: f["op"] == "event")
        assert live["data"]["call_id"] == "live" and live["seq"] == gap["seq"] + 1
        await again.close()

