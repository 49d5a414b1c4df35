"""Hold and transfer reach the desktops (/ws over a real server, bus messages as the call tracker
publishes them): the owning agent's stream and their team's supervisors get pbx.call.held /
unheld; after a transfer the old agent's desktop sees the call leave, the new agent's sees it
arrive with the caller's screen-pop, and nobody outside those agents' teams hears of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from common.messages import (
    AcdCallOffered,
    CallAgentChanged,
    CallAnswered,
    CallbackContext,
    CallDialling,
    CallEnded,
    CallHeld,
    CallTransferred,
    CallUnheld,
    CrmUserUpdated,
    OriginateFailed,
)
from cti.call_views import CallView, LegView, OriginKind, TransferView
from cti.ownership import AgentRef, AgentSegment
from tests.common.samples import call_view

from .world import World, ended, login_ws, make_world, offered

CALL_TOPICS = {"pbx.call.answered", "pbx.call.held", "pbx.call.unheld", "pbx.call.transferred",
               "pbx.call.agent_changed", "pbx.call.ended", "desktop.screen_pop"}


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async for world in make_world(tmp_path):
        yield world


def _ref(user: str, ext: str, since: float) -> AgentRef:
    return AgentRef(user, f"PJSIP/{ext}", f"PJSIP/{ext}-01", user.title(), since)


def _view(call_id: str, agent: AgentRef | None, segments: tuple[AgentSegment, ...] = (),
          transfers: tuple[TransferView, ...] = (), *, held: bool = False,
          ended_at: float | None = None) -> CallView:
    leg = LegView(call_id, "PJSIP/carrier-01", "PJSIP/carrier", 6, "Up", "+12125550100", "",
                  1.0, 1.5, ended_at, None, held, "b-1")
    return call_view(call_id, caller_num="+12125550100", agent=agent, segments=segments,
                     transfers=transfers, legs=(leg,), ended_at=ended_at, supervisors=(),
                     ring_no_answers=())


def _seg(user: str, ext: str, start: float, end: float | None, by: str = "") -> AgentSegment:
    return AgentSegment(user, f"PJSIP/{ext}", f"PJSIP/{ext}-01", start, end, 0.0,
                        by)  # type: ignore[arg-type]


async def _until_marker(c: Any, marker: str) -> list[dict[str, Any]]:
    """Events up to (not including) the acd.call.ended of call `marker`: frames published
    before the marker that the stream was going to get have arrived by then."""
    out = []
    while True:
        f = await c.next()
        if f["op"] != "event":
            continue
        if f["topic"] == "acd.call.ended" and f["data"]["call_id"] == marker:
            return out
        out.append(f)


async def _snapshot(w: World, username: str) -> dict[str, Any]:
    c = await login_ws(w, username)
    snap: dict[str, Any] = await c.until(lambda f: f["op"] == "snapshot")
    await c.close()
    return snap


async def _wait(pred: Any) -> None:
    async with asyncio.timeout(5):
        while not pred():
            await asyncio.sleep(0.01)


async def test_hold_and_unhold_reach_the_agent_and_the_team_supervisor_only(w: World) -> None:
    ann, sue, sam = [await login_ws(w, u) for u in ("ann", "sue", "sam")]
    for c in (ann, sue, sam):
        await c.until(lambda f: f["op"] == "snapshot")
    w.bus.publish(offered("h1", "ann", "+12125550100"))
    await ann.until(lambda f: f.get("topic") == "desktop.screen_pop")
    a = _ref("ann", "1001", 3.0)
    w.bus.publish(CallHeld(_view("h1", a, held=True), "h1"))
    held = await ann.until(lambda f: f.get("topic") == "pbx.call.held")
    assert held["data"]["call_id"] == "h1" and held["data"]["call"]["agent"]["user"] == "ann"
    assert held["data"]["call"]["legs"][0]["on_hold"] is True
    # A desktop that reconnects without the event sees the hold in its snapshot.
    snap = await _snapshot(w, "ann")
    assert snap["data"]["call"]["call_id"] == "h1" and snap["data"]["call"]["held"] is True
    w.bus.publish(CallUnheld(_view("h1", a), "h1"))
    unheld = await ann.until(lambda f: f.get("topic") == "pbx.call.unheld")
    assert unheld["seq"] > held["seq"]
    assert (await _snapshot(w, "ann"))["data"]["call"]["held"] is False
    w.bus.publish(ended("mark", "ann"))
    w.bus.publish(ended("mark", "bob"))
    sue_got = [f["topic"] for f in await _until_marker(sue, "mark")]
    assert "pbx.call.held" in sue_got and "pbx.call.unheld" in sue_got  # ann's supervisor
    sam_got = [f["topic"] for f in await _until_marker(sam, "mark")]
    assert not CALL_TOPICS & set(sam_got)  # another team's supervisor hears nothing
    for c in (ann, sue, sam):
        await c.close()


async def test_blind_transfer_leaves_one_desktop_and_arrives_at_the_other_with_the_pop(
        w: World) -> None:
    customer = await w.crm.customers.create(kind="person", name="张伟")
    await w.crm.phones.create(customer_id=customer.id, e164="+12125550100")
    ann, amy, bob = [await login_ws(w, u) for u in ("ann", "amy", "bob")]
    for c in (ann, amy, bob):
        await c.until(lambda f: f["op"] == "snapshot")
    w.bus.publish(offered("t1", "ann", "+12125550100"))
    first_pop = await ann.until(lambda f: f.get("topic") == "desktop.screen_pop")
    await _wait(lambda: w.hub.current.get("ann") is not None
                and w.hub.current["ann"].pop is not None)
    b = _ref("amy", "1002", 15.0)
    t = TransferView("blind", 12.0, "ann", "1002@agents", "Success")
    w.bus.publish(CallTransferred(_view("t1", None, (_seg("ann", "1001", 3.0, 12.0,
                                                          "transfer"),), (t,)), t))
    left = await ann.until(lambda f: f.get("topic") == "pbx.call.transferred")
    assert left["data"]["transfer"] == {"kind": "blind", "at": 12.0, "from_agent": "ann",
                                        "target": "1002@agents", "result": "Success", "by": ""}
    assert left["data"]["call"]["agent"] is None
    assert (await _snapshot(w, "ann"))["data"]["call"] is None  # not ann's any more

    w.bus.publish(CallAgentChanged(_view("t1", b, (_seg("ann", "1001", 3.0, 12.0, "transfer"),
                                                   _seg("amy", "1002", 15.0, None)), (t,)),
                                   "ann", "PJSIP/1001"))
    arrived = await amy.until(lambda f: f.get("topic") == "pbx.call.agent_changed")
    assert arrived["data"]["call"]["agent"]["user"] == "amy"
    assert arrived["data"]["previous_user"] == "ann"
    assert arrived["data"]["previous_name"] == "Ann"  # the CRM's display name, not the login
    pop = await amy.until(lambda f: f.get("topic") == "desktop.screen_pop")
    assert pop["data"]["call_id"] == "t1" and pop["data"]["agent_id"] == "amy"
    assert pop["data"]["customer"] == first_pop["data"]["customer"]  # the one built at offer
    moved = await ann.until(lambda f: f.get("topic") == "pbx.call.agent_changed")
    assert moved["data"]["call"]["agent"]["user"] == "amy"  # ann's desktop: it went to amy
    snap = (await _snapshot(w, "amy"))["data"]
    assert snap["call"]["call_id"] == "t1" and snap["call"]["answered"] is True
    assert snap["screen_pop"]["customer"]["customer"]["name"] == "张伟"

    # The call ends: the ACD's end names ann; the tracker's reaches amy, the owner now.
    w.bus.publish(CallEnded(_view("t1", b, (_seg("ann", "1001", 3.0, 12.0, "transfer"),
                                            _seg("amy", "1002", 15.0, 30.0, "hangup")), (t,),
                                  ended_at=30.0), "completed"))
    end = await amy.until(lambda f: f.get("topic") == "pbx.call.ended")
    assert end["data"]["call_id"] == "t1" and end["data"]["reason"] == "completed"
    assert (await _snapshot(w, "amy"))["data"]["call"] is None
    w.bus.publish(ended("mark", "bob"))
    assert not CALL_TOPICS & {f["topic"] for f in await _until_marker(bob, "mark")}
    for c in (ann, amy, bob):
        await c.close()


async def test_a_transfer_across_teams_reaches_each_side_and_a_call_without_pop_gets_one(
        w: World) -> None:
    sue, sam, bob = [await login_ws(w, u) for u in ("sue", "sam", "bob")]
    for c in (sue, sam, bob):
        await c.until(lambda f: f["op"] == "snapshot")
    # A call the ACD never offered (a desk-phone call): no pop was built; the transfer's
    # target gets one from the CRM by the caller's number.
    b = _ref("bob", "1003", 9.0)
    t = TransferView("attended", 8.0, "ann", "PJSIP/1003", "Success")
    segs = (_seg("ann", "1001", 3.0, 8.0, "transfer"), _seg("bob", "1003", 9.0, None))
    w.bus.publish(CallTransferred(_view("x1", None, segs[:1], (t,)), t))
    w.bus.publish(CallAgentChanged(_view("x1", b, segs, (t,)), "ann", "PJSIP/1001"))
    pop = await bob.until(lambda f: f.get("topic") == "desktop.screen_pop")
    assert pop["data"]["call_id"] == "x1" and pop["data"]["status"] == "unknown"
    assert pop["data"]["caller_number"] == "+12125550100"
    red = {f["topic"] for f in await _until_marker_after(w, sue, "ann")}
    blue = {f["topic"] for f in await _until_marker_after(w, sam, "bob")}
    assert {"pbx.call.transferred", "pbx.call.agent_changed"} <= red  # ann's side
    assert "pbx.call.agent_changed" in blue and "desktop.screen_pop" in blue  # bob's side
    assert "pbx.call.transferred" not in blue  # the transfer out of red is red's business
    for c in (sue, sam, bob):
        await c.close()


async def test_a_call_the_acd_never_had_is_pushed_to_its_agent_answered_and_ended(
        w: World) -> None:
    # A click-to-dial (or preview, or desk-phone) call: the desktop follows it from these
    # frames instead of asking the server; nobody else's desktop hears of it.
    ann, sue, sam = [await login_ws(w, u) for u in ("ann", "sue", "sam")]
    for c in (ann, sue, sam):
        await c.until(lambda f: f["op"] == "snapshot")
    a = _ref("ann", "1001", 3.0)
    w.bus.publish(CallAnswered(_view("d1", a, (_seg("ann", "1001", 3.0, None),)), "d1"))
    answered = await ann.until(lambda f: f.get("topic") == "pbx.call.answered")
    assert answered["data"]["call_id"] == "d1"
    w.bus.publish(CallEnded(_view("d1", a, (_seg("ann", "1001", 3.0, 9.0),), ended_at=9.0),
                            "normal", "d1"))
    over = await ann.until(lambda f: f.get("topic") == "pbx.call.ended")
    assert over["data"]["call_id"] == "d1" and over["seq"] > answered["seq"]
    # An inbound call answered by the IVR, no agent yet: no frame for anyone.
    w.bus.publish(CallAnswered(_view("i1", None), "i1"))
    w.bus.publish(CallEnded(_view("i1", None, ended_at=5.0), "normal", "i1"))
    sue_got = [(f["topic"], f["data"].get("call_id")) for f in await _until_marker_after(
        w, sue, "ann")]
    assert ("pbx.call.answered", "d1") in sue_got and ("pbx.call.ended", "d1") in sue_got
    sam_got = {f["topic"] for f in await _until_marker_after(w, sam, "bob")}
    assert not CALL_TOPICS & sam_got  # another team's supervisor hears nothing
    assert not [f for f in sue_got if f[1] == "i1"]
    for c in (ann, sue, sam):
        await c.close()


async def _until_marker_after(w: World, c: Any, agent: str) -> list[dict[str, Any]]:
    marker = f"mark-{agent}"
    w.bus.publish(ended(marker, agent))
    return await _until_marker(c, marker)


async def test_transferred_in_names_the_transferring_agents_display_name(w: World) -> None:
    # The tracker knows usernames only; the hub fills in the CRM's display name (CJK as is).
    ann = w.users["ann"]
    await w.crm.users.update(ann.id, display_name="王芳")
    w.bus.publish(CrmUserUpdated(ann.id, "ann", True, "agent"))
    await _wait(lambda: w.hub.agents["ann"].display_name == "王芳")
    amy = await login_ws(w, "amy")
    await amy.until(lambda f: f["op"] == "snapshot")
    b = _ref("amy", "1002", 15.0)
    t = TransferView("blind", 12.0, "ann", "1002@agents", "Success")
    segs = (_seg("ann", "1001", 3.0, 12.0, "transfer"), _seg("amy", "1002", 15.0, None))
    w.bus.publish(CallAgentChanged(_view("n1", b, segs, (t,)), "ann", "PJSIP/1001"))
    arrived = await amy.until(lambda f: f.get("topic") == "pbx.call.agent_changed")
    assert arrived["data"]["previous_user"] == "ann"
    assert arrived["data"]["previous_name"] == "王芳"
    # A previous owner the CRM does not know keeps an empty name (the desktop shows the user).
    w.bus.publish(CallAgentChanged(_view("n2", b, segs, (t,)), "ghost", "PJSIP/1009"))
    other = await amy.until(lambda f: f.get("topic") == "pbx.call.agent_changed"
                            and f["data"]["call_id"] == "n2")
    assert other["data"]["previous_name"] == ""
    await amy.close()


async def test_a_placed_call_is_pushed_dialling_then_answered_then_ended(w: World) -> None:
    # What a click-to-dial sends (cti/routes.py): pbx.call.dialling as soon as Asterisk took
    # the Originate, before any channel; then the tracker's answer and end, one call id.
    ann, bob = [await login_ws(w, u) for u in ("ann", "bob")]
    for c in (ann, bob):
        await c.until(lambda f: f["op"] == "snapshot")
    w.bus.publish(CallDialling("c2d-1", "orig-c2d-1", OriginKind.CLICK_TO_DIAL, "ann",
                               "PJSIP/1001", "+12125550100", 5.0))
    a = _ref("ann", "1001", 3.0)
    w.bus.publish(CallAnswered(_view("c2d-1", a, (_seg("ann", "1001", 3.0, None),)), "c2d-1"))
    w.bus.publish(CallEnded(_view("c2d-1", a, (_seg("ann", "1001", 3.0, 9.0),), ended_at=9.0),
                            "completed", "c2d-1"))
    # An Originate whose phone never answered: no channel, only originate_failed.
    w.bus.publish(OriginateFailed("orig-c2d-2", 3, None, OriginKind.CLICK_TO_DIAL, "c2d-2",
                                  "+12125550101", "ann", "PJSIP/1001", 11.0))
    got = []
    while len(got) < 4:
        f = await ann.next()
        if f["op"] == "event" and f["topic"].startswith("pbx.call."):
            got.append(f)
    assert [(f["topic"], f["data"]["call_id"]) for f in got] == [
        ("pbx.call.dialling", "c2d-1"), ("pbx.call.answered", "c2d-1"),
        ("pbx.call.ended", "c2d-1"), ("pbx.call.originate_failed", "")]
    assert got[0]["data"] == {"call_id": "c2d-1", "action_id": "orig-c2d-1",
                              "kind": "click_to_dial", "user": "ann", "device": "PJSIP/1001",
                              "dialled": "+12125550100", "at": 5.0}
    assert got[3]["data"]["cti_call_id"] == "c2d-2" and got[3]["data"]["user"] == "ann"
    assert [f["seq"] for f in got] == sorted(f["seq"] for f in got)
    w.bus.publish(ended("mark", "bob"))
    assert not {"pbx.call.dialling", "pbx.call.originate_failed"} & {
        f["topic"] for f in await _until_marker(bob, "mark")}  # nobody else's desktop
    for c in (ann, bob):
        await c.close()


async def test_a_callback_offer_pops_with_what_the_callback_is_about(w: World) -> None:
    # An ACD-placed callback (acd/service.py): the offer under the callback call's own id, no
    # channel; the pop carries the callback's note, owner (by display name) and campaign, and
    # a desktop that reconnects gets it again in its snapshot.
    customer = await w.crm.customers.create(kind="person", name="陈静")
    await w.crm.phones.create(customer_id=customer.id, e164="+12125550177")
    ann = await login_ws(w, "ann")
    await ann.until(lambda f: f["op"] == "snapshot")
    context = CallbackContext(5, "回电：报价 / the quote", 1_700_000_000.0, "ann", 3, "春季续约")
    w.bus.publish(AcdCallOffered("cb3-5-1", "", "ann", "sales", "+12125550177", "unknown",
                                 customer.id, None, context))
    offer = await ann.until(lambda f: f.get("topic") == "acd.call.offered")
    assert offer["data"]["callback"]["owner_name"] == "Ann"
    pop = (await ann.until(lambda f: f.get("topic") == "desktop.screen_pop"))["data"]
    assert pop["call_id"] == "cb3-5-1" and pop["status"] == "known"
    assert pop["customer"]["customer"]["name"] == "陈静"
    assert pop["callback"] == {"callback_id": 5, "note": "回电：报价 / the quote",
                               "due_at": 1_700_000_000.0, "owner": "ann", "campaign_id": 3,
                               "campaign_name": "春季续约", "owner_name": "Ann"}
    snap = (await _snapshot(w, "ann"))["data"]
    assert snap["call"]["call_id"] == "cb3-5-1" and snap["screen_pop"]["callback"]["note"] \
        == "回电：报价 / the quote"
    # An inbound offer's pop has none.
    w.bus.publish(offered("in1", "ann", "+12125550177"))
    plain = await ann.until(lambda f: f.get("topic") == "desktop.screen_pop"
                            and f["data"]["call_id"] == "in1")
    assert plain["data"]["callback"] is None
    await ann.close()
