"""A callback the ACD places, driven by AMI events through the call tracker (cti/call_feed.py),
as the server wires it: the ACD never reads raw AMI call events itself."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from acd.callbacks import CallbackState
from acd.errors import AcdError
from acd.model import AgentState, CallState
from acd.scheduled import CallbackDone, CallbackRequest
from common.messages import AcdCallbackFailed
from cti import events as ev
from cti.call_feed import CallFeed
from cti.calls import CallTracker
from tests.acd.test_service_unit import FakeCrm, make, until


class RecordingAmi:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, action: Any) -> None:
        self.sent.append(action)


def chan(uid: str, channel: str, state: int = ev.STATE_UP, linked: str = "cb-c1") -> ev.ChannelInfo:
    return ev.ChannelInfo(channel=channel, uniqueid=uid, linkedid=linked, state=state,
                          state_desc="", caller_id_num="", caller_id_name="",
                          connected_line_num="", connected_line_name="", context="agents",
                          exten="+12025550100")


AGENT = chan("cb-c1", "PJSIP/1001-00000001")
CUSTOMER = chan("9.2", "PJSIP/carrier-00000002", ev.STATE_RINGING)


async def placed() -> tuple[Any, CallFeed, str]:
    ami = RecordingAmi()
    svc, clock = make(ami=ami)
    feed = CallFeed(CallTracker(), clock)
    svc.read_calls_from(feed)
    assert svc.queue_callback("c1", queue="support", number="+12025550100")
    svc.agent_login("alice", "1001", skills={"support": 3})
    await until(lambda: ami.sent)
    action_id = ami.sent[0].action_id
    cb = svc.callbacks.get("cb-c1")
    assert cb is not None and cb.state is CallbackState.RINGING_AGENT
    assert svc.callbacks.by_action(action_id) == cb
    return svc, feed, action_id


async def test_connected_callback_then_hangup_ends_the_call() -> None:
    svc, feed, action_id = await placed()
    feed.on_event(ev.ChannelCreated(chan("cb-c1", AGENT.channel, ev.STATE_RINGING)))
    feed.on_event(ev.ChannelStateChanged(AGENT))  # the agent answers
    feed.on_event(ev.OriginateResult(action_id, True, 4, AGENT.channel, "cb-c1", "", "", "",
                                     ""))
    feed.on_event(ev.ChannelCreated(CUSTOMER))
    feed.on_event(ev.DialBegin(AGENT, CUSTOMER, "+12025550100@carrier"))
    assert svc.callbacks.get("cb-c1").state is CallbackState.DIALING_CUSTOMER  # type: ignore[union-attr]
    assert svc.engine.agent("alice").state is AgentState.RESERVED
    feed.on_event(ev.DialEnd(AGENT, chan("9.2", CUSTOMER.channel), "ANSWER"))
    assert svc.callbacks.get("cb-c1").state is CallbackState.CONNECTED  # type: ignore[union-attr]
    assert svc.engine.agent("alice").state is AgentState.ON_CALL
    feed.on_event(ev.ChannelHungUp(chan("9.2", CUSTOMER.channel), 16, ""))
    assert svc.engine.agent("alice").state is AgentState.ON_CALL  # the agent's leg is still up
    feed.on_event(ev.ChannelHungUp(AGENT, 16, ""))
    assert svc.callbacks.get("cb-c1") is None and len(svc.callbacks) == 0
    assert svc.engine.agent("alice").call_id is None
    assert svc.engine.calls() == ()


async def test_the_agent_not_answering_keeps_the_callback_waiting() -> None:
    svc, feed, action_id = await placed()
    feed.on_event(ev.ChannelCreated(chan("cb-c1", AGENT.channel, ev.STATE_RINGING)))
    # The agent's phone rejects: its Hangup comes before the OriginateResponse. The callback
    # keeps waiting for the response (a ring-no-answer), it is not given up.
    feed.on_event(ev.ChannelHungUp(chan("cb-c1", AGENT.channel, ev.STATE_RINGING), 21, ""))
    assert svc.callbacks.get("cb-c1") is not None
    feed.on_event(ev.OriginateResult(action_id, False, 3, "", "", "", "", "", ""))
    assert svc.callbacks.get("cb-c1") is None
    assert svc.engine.call("c1").state is CallState.CALLBACK_WAITING
    assert svc.engine.agent("alice").state is not AgentState.RESERVED


async def test_the_customer_not_answering_gives_the_callback_up() -> None:
    svc, feed, action_id = await placed()
    failed = svc.bus.subscribe(AcdCallbackFailed.TOPIC)
    feed.on_event(ev.ChannelCreated(chan("cb-c1", AGENT.channel, ev.STATE_RINGING)))
    feed.on_event(ev.ChannelStateChanged(AGENT))
    feed.on_event(ev.ChannelCreated(CUSTOMER))
    feed.on_event(ev.DialBegin(AGENT, CUSTOMER, "+12025550100@carrier"))
    feed.on_event(ev.DialEnd(AGENT, chan("9.2", CUSTOMER.channel, 0), "BUSY"))
    msg = failed.get_nowait().message
    assert isinstance(msg, AcdCallbackFailed)
    assert (msg.call_id, msg.reason) == ("c1", "customer did not answer (BUSY)")
    assert svc.callbacks.get("cb-c1") is None and svc.engine.calls() == ()


async def test_the_agent_hanging_up_before_the_customer_answers_gives_it_up() -> None:
    svc, feed, action_id = await placed()
    failed = svc.bus.subscribe(AcdCallbackFailed.TOPIC)
    feed.on_event(ev.ChannelCreated(chan("cb-c1", AGENT.channel, ev.STATE_RINGING)))
    feed.on_event(ev.ChannelStateChanged(AGENT))  # answered, then hangs up before the Dial
    feed.on_event(ev.ChannelHungUp(AGENT, 16, ""))
    msg = failed.get_nowait().message
    assert isinstance(msg, AcdCallbackFailed) and msg.reason == "agent hung up before the answer"
    assert svc.callbacks.get("cb-c1") is None and svc.engine.calls() == ()


# ------------------------------------------------- scheduled callbacks (acd/scheduled.py)

async def scheduled(crm: Any = None) -> tuple[Any, CallFeed, list[CallbackDone], RecordingAmi]:
    ami = RecordingAmi()
    svc, clock = make(ami=ami, crm=crm)
    feed = CallFeed(CallTracker(), clock)
    svc.read_calls_from(feed)
    done: list[CallbackDone] = []
    svc.schedule_callback(CallbackRequest(
        "cb7-3-1", "support", "+12025550100", required_agent="bob",
        caller_id_num="+12125550000", caller_id_name="Renewals",
        variables=(("CAMPAIGN_ID", "7"),)), done.append)
    assert svc.engine.call("cb7-3-1").state is CallState.CALLBACK_WAITING
    svc.agent_login("alice", "1001", skills={"support": 3})
    assert ami.sent == [] and svc.engine.agent("alice").state is AgentState.AVAILABLE
    return svc, feed, done, ami


async def test_a_scheduled_callback_is_placed_by_its_agent_under_its_own_id() -> None:
    svc, feed, done, ami = await scheduled()
    svc.agent_login("bob", "1002", skills={"support": 1})
    await until(lambda: ami.sent)
    [action] = ami.sent
    assert (action.get("Channel"), action.get("ChannelId"), action.get("Exten")) == (
        "PJSIP/1002", "cb7-3-1", "+12025550100")
    assert action.get("CallerID") == '"Renewals" <+12125550000>'
    assert ("Variable", "CAMPAIGN_ID=7") in action.fields
    assert done == []


async def test_a_scheduled_callback_not_answered_reports_why_and_makes_no_task() -> None:
    crm = FakeCrm()
    svc, feed, done, ami = await scheduled(crm)
    svc.agent_login("bob", "1002", skills={"support": 1})
    await until(lambda: ami.sent)
    agent = chan("cb7-3-1", "PJSIP/1002-00000009", linked="cb7-3-1")
    feed.on_event(ev.ChannelCreated(chan("cb7-3-1", agent.channel, ev.STATE_RINGING,
                                         linked="cb7-3-1")))
    feed.on_event(ev.ChannelStateChanged(agent))
    customer = chan("9.3", "PJSIP/carrier-00000003", ev.STATE_RINGING, linked="cb7-3-1")
    feed.on_event(ev.ChannelCreated(customer))
    feed.on_event(ev.DialBegin(agent, customer, "+12025550100@carrier"))
    feed.on_event(ev.DialEnd(agent, customer, "NOANSWER"))
    assert done == [CallbackDone("cb7-3-1", "not_connected", "bob", dial_status="NOANSWER",
                                 why="customer did not answer (NOANSWER)")]
    await asyncio.sleep(0.01)
    assert crm.callbacks.created == []  # its owner keeps the record


async def test_a_waiting_scheduled_callback_can_be_withdrawn_and_a_stop_withdraws_it() -> None:
    svc, feed, done, ami = await scheduled()
    assert svc.withdraw_callback("cb7-3-1", "window")
    assert done == [CallbackDone("cb7-3-1", "withdrawn", None, why="withdrawn: window")]
    assert svc.engine.calls() == () and not svc.withdraw_callback("cb7-3-1", "again")
    again: list[CallbackDone] = []
    svc.schedule_callback(CallbackRequest("cb7-3-2", "support", "+12025550100",
                                          required_agent="bob"), again.append)
    await svc.drain(grace_s=0.1)
    assert [d.result for d in again] == ["withdrawn"]


async def test_scheduling_refuses_bad_requests_and_keeps_nothing() -> None:
    svc, _ = make()
    for req in (CallbackRequest("x1", "nope", "+12025550100"),
                CallbackRequest("x2", "support", "+1202555\n"),
                CallbackRequest("x3", "support", "+12025550100", required_agent=""),
                CallbackRequest("x4", "support", "+12025550100", required_agent="bob",
                                grace_s=-1.0)):
        with pytest.raises(AcdError):
            svc.schedule_callback(req, lambda d: None)
    assert svc.engine.calls() == () and len(svc.scheduled) == 0
    svc.schedule_callback(CallbackRequest("x5", "support", "+12025550100"), lambda d: None)
    with pytest.raises(AcdError):
        svc.schedule_callback(CallbackRequest("x5", "support", "+12025550100"), lambda d: None)


async def test_a_scheduled_callbacks_placement_is_recorded_before_its_originate() -> None:
    ami = RecordingAmi()
    svc, clock = make(ami=ami)
    recorded: list[tuple[str, int]] = []  # (call id, actions sent when it was recorded)
    done: list[CallbackDone] = []

    async def record(call_id: str) -> None:
        recorded.append((call_id, len(ami.sent)))

    svc.schedule_callback(CallbackRequest("fcb-9-1", "support", "+12025550100",
                                          before_dial=record), done.append)
    svc.agent_login("alice", "1001", skills={"support": 3})
    await until(lambda: ami.sent)
    assert recorded == [("fcb-9-1", 0)] and ami.sent[0].get("ChannelId") == "fcb-9-1"

    async def cannot(call_id: str) -> None:
        raise OSError("disk full")

    svc.schedule_callback(CallbackRequest("fcb-10-1", "support", "+12025550101",
                                          before_dial=cannot), done.append)
    svc.agent_login("bob", "1002", skills={"support": 3})
    await until(lambda: any(d.call_id == "fcb-10-1" for d in done))
    # Not recorded, not dialled: a restart could not have known it rang.
    assert [a.get("ChannelId") for a in ami.sent] == ["fcb-9-1"]
    [gave_up] = [d for d in done if d.call_id == "fcb-10-1"]
    assert gave_up.result == "not_connected" and "placement not recorded" in gave_up.why
