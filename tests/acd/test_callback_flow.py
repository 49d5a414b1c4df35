"""A callback the ACD places, driven by AMI events through the call tracker (cti/call_feed.py),
as the server wires it: the ACD never reads raw AMI call events itself."""

from __future__ import annotations

from typing import Any

from acd.callbacks import CallbackState
from acd.model import AgentState, CallState
from common.messages import AcdCallbackFailed
from cti import events as ev
from cti.call_feed import CallFeed
from cti.calls import CallTracker
from tests.acd.test_service_unit import make, until


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
