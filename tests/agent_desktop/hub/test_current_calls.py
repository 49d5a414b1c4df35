"""The hub's current calls, indexed by agent and by call id (agent_desktop/hub/current.py):
against a plain dict that ends calls the way the hub did before the index (a scan of every
agent), and through the hub: a call's end clears exactly the desktops it was current for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_desktop.hub.current import Current, CurrentCalls
from common.messages import CallAgentChanged, CallEnded, CallTransferred
from cti.call_views import TransferView

from .test_ws_calls import _ref, _seg, _snapshot, _until_marker, _view
from .world import World, ended, login_ws, make_world, offered

AGENTS = ("ann", "amy", "bob", "cy")
CALLS = ("c1", "c2", "c3")

ops = st.lists(st.one_of(
    st.tuples(st.just("set"), st.sampled_from(AGENTS), st.sampled_from(CALLS)),
    st.tuples(st.just("pop"), st.sampled_from(AGENTS), st.just("")),
    st.tuples(st.just("end"), st.sampled_from(("", *AGENTS)), st.sampled_from(CALLS)),
), max_size=40)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_the_index_ends_calls_as_a_scan_of_every_agent_would(steps: list[tuple[str, str, str]]
                                                             ) -> None:
    index = CurrentCalls()
    plain: dict[str, Current] = {}
    for op, agent, call in steps:
        if op == "set":
            cur = Current(call, "support", 1.0)
            index[agent] = cur
            plain[agent] = cur
        elif op == "pop":
            assert index.pop(agent) is plain.pop(agent, None)
        else:
            # The hub before the index: every agent's current call compared with the call id.
            expected = sorted(name for name, cur in plain.items()
                              if cur.call_id == call and (not agent or agent == name))
            for name in expected:
                del plain[name]
            assert sorted(index.end(call, agent)) == expected
        assert dict((a, index[a]) for a in index) == plain
        for call_id in CALLS:
            assert index.agents_on(call_id) == {a for a, c in plain.items()
                                                if c.call_id == call_id}


def test_replacing_an_agents_call_moves_it_in_the_index() -> None:
    index = CurrentCalls()
    index["ann"] = Current("c1", "support", 1.0)
    index["ann"] = Current("c2", "support", 2.0)
    assert index.end("c1") == []
    assert index["ann"].call_id == "c2"
    del index["ann"]
    assert len(index) == 0 and index.agents_on("c2") == frozenset()
    with pytest.raises(KeyError):
        del index["ann"]


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async for world in make_world(tmp_path):
        yield world


async def test_a_calls_end_reaches_its_desktops_and_clears_only_their_current_call(
        w: World) -> None:
    ann, amy, bob = [await login_ws(w, u) for u in ("ann", "amy", "bob")]
    for c in (ann, amy, bob):
        await c.until(lambda f: f["op"] == "snapshot")
    w.bus.publish(offered("e1", "ann", "+12125550100"))
    w.bus.publish(offered("e2", "bob", "+12125550101"))
    await ann.until(lambda f: f.get("topic") == "desktop.screen_pop")
    await bob.until(lambda f: f.get("topic") == "desktop.screen_pop")
    assert w.hub.current.agents_on("e1") == {"ann"}

    # ann's call is transferred to amy; the tracker's end names both segments.
    m = _ref("amy", "1002", 9.0)
    t = TransferView("blind", 8.0, "ann", "1002@agents", "Success")
    segs = (_seg("ann", "1001", 3.0, 8.0, "transfer"), _seg("amy", "1002", 9.0, None))
    w.bus.publish(CallTransferred(_view("e1", None, segs[:1], (t,)), t))
    w.bus.publish(CallAgentChanged(_view("e1", m, segs, (t,)), "ann", "PJSIP/1001"))
    await amy.until(lambda f: f.get("topic") == "desktop.screen_pop")
    assert w.hub.current.agents_on("e1") == {"amy"}
    w.bus.publish(CallEnded(_view("e1", m, (segs[0], _seg("amy", "1002", 9.0, 20.0, "hangup")),
                                  (t,), ended_at=20.0), "completed"))
    for c in (ann, amy):
        end = await c.until(lambda f: f.get("topic") == "pbx.call.ended")
        assert end["data"]["call_id"] == "e1"
    assert w.hub.current.agents_on("e1") == frozenset()
    assert (await _snapshot(w, "ann"))["data"]["call"] is None
    assert (await _snapshot(w, "amy"))["data"]["call"] is None
    # bob's own call is untouched, and his desktop never heard of e1's end.
    assert (await _snapshot(w, "bob"))["data"]["call"]["call_id"] == "e2"
    w.bus.publish(ended("mark", "bob"))
    assert "pbx.call.ended" not in {f["topic"] for f in await _until_marker(bob, "mark")}

    # The ACD's end names one agent: only that agent's current call of that id goes.
    w.bus.publish(ended("e2", "ann"))  # not ann's call: nothing changes
    w.bus.publish(ended("mark2", "amy"))
    await _until_marker(amy, "mark2")
    assert w.hub.current.agents_on("e2") == {"bob"}
    w.bus.publish(ended("e2", "bob"))
    await _until_marker(bob, "e2")
    assert w.hub.current.get("bob") is None
    for c in (ann, amy, bob):
        await c.close()
