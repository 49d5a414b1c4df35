"""Idle stream expiry over /ws (manual clock): a stream nobody has had open for
[desktop].ws_idle_stream_expiry_s frees its replay buffer; a resume against it gets a "gap"
snapshot with the current call and screen-pop (nothing silently lost); a stream with a client,
or idle for less, keeps its buffer and resumes as before."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .world import login_ws, make_world, offered, world_settings


async def test_an_idle_stream_is_freed_and_a_late_resume_gets_a_gap_snapshot(
        tmp_path: Path) -> None:
    async for w in make_world(tmp_path, world_settings(ws_idle_stream_expiry_s=600.0)):
        ann = await login_ws(w, "ann")
        snap = await ann.until(lambda f: f["op"] == "snapshot")
        amy = await login_ws(w, "amy")  # stays connected throughout
        await amy.until(lambda f: f["op"] == "snapshot")
        stream = snap["stream"]
        await ann.close()
        async with asyncio.timeout(5):
            while w.hub.clients.get(stream):
                await asyncio.sleep(0.01)
        # While away: an offer and its pop (kept in the stream's buffer for now).
        w.bus.publish(offered("x1", "ann", "+12125550100"))
        async with asyncio.timeout(5):
            while w.hub.counters.screen_pops < 1:
                await asyncio.sleep(0.01)

        w.clock.advance(599.0)
        assert w.hub.expire_idle() == []  # idle for less than the expiry: kept
        w.clock.advance(1.0)
        assert w.hub.expire_idle() == [stream]
        assert stream not in w.hub.logs and f"agent:{w.users['amy'].id}" in w.hub.logs
        assert w.hub.counters.streams_expired == 1

        back = await login_ws(w, "ann", resume={"stream": stream, "seq": snap["seq"]})
        welcome = await back.next()
        assert welcome["resumed"] is False
        gap = await back.next()
        assert gap["op"] == "snapshot" and gap["reason"] == "gap"
        assert gap["seq"] > snap["seq"]  # the new log numbers above the old one
        assert gap["data"]["call"]["call_id"] == "x1"  # the missed offer is not lost
        assert gap["data"]["screen_pop"]["call_id"] == "x1"
        # The reopened stream resumes normally from now on.
        await back.close()
        again = await login_ws(w, "ann", resume={"stream": stream, "seq": gap["seq"]})
        assert (await again.next())["resumed"] is True
        await again.close()
        async with asyncio.timeout(5):
            while w.hub.clients.get(stream):
                await asyncio.sleep(0.01)
        w.clock.advance(10_000.0)
        assert stream in w.hub.expire_idle()  # idle again since `again` left
        assert f"agent:{w.users['amy'].id}" in w.hub.logs  # a stream with a client never
        await amy.close()
