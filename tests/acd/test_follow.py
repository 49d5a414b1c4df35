"""acd.follow: calls outside any ACD session (handed back to Queue(), left live by an earlier
process) followed through AMI events to exactly one end."""

from __future__ import annotations

from acd.follow import Answered, CallFollower, Ended, FollowedCall, device_extension
from cti.events import (
    AgentComplete,
    AgentConnect,
    ChannelHungUp,
    ChannelInfo,
    ChannelSnapshot,
    DialEnd,
    QueueCallerAbandon,
    QueueCallerJoin,
)

T = "PJSIP/{extension}"


def chan(name: str, uid: str, linkedid: str | None = None) -> ChannelInfo:
    return ChannelInfo(channel=name, uniqueid=uid, linkedid=linkedid or uid, state=6,
                       state_desc="Up", caller_id_num="+12025550100", caller_id_name="",
                       connected_line_num="", connected_line_name="", context="from-carrier",
                       exten="s")


CALLER = chan("PJSIP/carrier-00000001", "100.1")
AGENT = chan("PJSIP/1002-00000002", "100.2", "100.1")


def snap(c: ChannelInfo, app: str = "Queue", bridge: str = "") -> ChannelSnapshot:
    return ChannelSnapshot(chan=c, application=app, application_data="support", duration_s=9,
                           bridge_id=bridge, action_id="")


def handed_back() -> FollowedCall:
    return FollowedCall(call_id="100.1", queue="support", number="+12025550100",
                        offered_at=1000.0, handed_back="server stopping")


def test_device_extension() -> None:
    assert device_extension("PJSIP/1002-0000000a", T) == "1002"
    assert device_extension("PJSIP/1002", T) == "1002"
    assert device_extension("PJSIP/carrier-0000000a", T) == ""
    assert device_extension("SIP/1002-1", T) == ""


def test_a_queue_member_answers_then_the_call_ends_once() -> None:
    f = CallFollower(T)
    f.follow(handed_back())
    assert f.apply(QueueCallerJoin(CALLER, "support", 1, 1), 1001.0) == []
    [ans] = f.apply(AgentConnect(CALLER, AGENT, "support", "PJSIP/1002", "Agent 1002", 3, 2),
                    1005.0)
    assert isinstance(ans, Answered) and ans.via_fallback
    assert (ans.call.agent, ans.call.answered_at, ans.call.fallback_queue) == \
        ("1002", 1005.0, "support")
    [end] = f.apply(AgentComplete(CALLER, AGENT, "support", "PJSIP/1002", "Agent 1002", 3, 40,
                                  "agent"), 1045.0)
    assert isinstance(end, Ended) and end.seen and end.call.answered_at == 1005.0
    # Late events of the same call change nothing (exactly one end).
    assert f.apply(ChannelHungUp(CALLER, 16, "Normal Clearing"), 1046.0) == []
    assert len(f) == 0


def test_an_abandon_in_the_fallback_queue_is_an_unanswered_end() -> None:
    f = CallFollower(T)
    f.follow(handed_back())
    f.apply(QueueCallerJoin(CALLER, "support", 1, 1), 1001.0)
    [end] = f.apply(QueueCallerAbandon(CALLER, "support", 1, 1, 20), 1020.0)
    assert isinstance(end, Ended) and end.call.answered_at is None
    assert end.call.fallback_queue == "support"


def test_events_of_calls_nobody_follows_are_ignored() -> None:
    f = CallFollower(T)
    other = chan("PJSIP/carrier-9", "999.1")
    assert f.apply(AgentConnect(other, AGENT, "support", "PJSIP/1002", "", 1, 1), 1.0) == []
    assert f.apply(ChannelHungUp(other, 16, ""), 2.0) == []


def test_adoption_after_a_restart() -> None:
    """Live in Queue(): followed; bridged with an agent's phone: answered now (that agent);
    gone: ended, unseen (end time unknown)."""
    f = CallFollower(T)
    waiting = FollowedCall("100.1", "support", "+1", 1000.0)
    talking = FollowedCall("200.1", "support", "+2", 1000.0)
    talked_before = FollowedCall("300.1", "support", "+3", 1000.0, answered_at=1010.0)
    gone = FollowedCall("400.1", "support", "+4", 1000.0)
    c2, a2 = chan("PJSIP/carrier-2", "200.1"), chan("PJSIP/1003-2", "200.2", "200.1")
    c3 = chan("PJSIP/carrier-3", "300.1")
    channels = [snap(CALLER), snap(c2, "AGI", "b2"), snap(a2, "AppDial", "b2"),
                snap(c3, "AGI", "b3"), snap(chan("PJSIP/1004-3", "300.2", "300.1"), "", "b3")]
    out = f.adopt([waiting, talking, talked_before, gone], channels, 2000.0)
    answered = [o for o in out if isinstance(o, Answered)]
    ended = [o for o in out if isinstance(o, Ended)]
    assert [(o.call.call_id, o.call.agent, o.via_fallback) for o in answered] == \
        [("200.1", "1003", False)]
    assert [(o.call.call_id, o.seen) for o in ended] == [("400.1", False)]
    assert {c.call_id for c in f.calls()} == {"100.1", "200.1", "300.1"}
    assert all(c.adopted for c in f.calls())
    # The call answered before the restart is not answered (counted) twice.
    assert f.apply(DialEnd(c3, chan("PJSIP/1004-3", "300.2", "300.1"), "ANSWER"), 2001.0) == []


def test_a_ringing_call_left_by_a_dead_server_is_answered_by_its_dial() -> None:
    f = CallFollower(T)
    f.adopt([FollowedCall("100.1", "support", "+1", 1000.0)], [snap(CALLER, "AGI")], 2000.0)
    [ans] = f.apply(DialEnd(CALLER, AGENT, "ANSWER"), 2001.0)
    assert isinstance(ans, Answered) and not ans.via_fallback and ans.call.agent == "1002"
    assert f.apply(DialEnd(CALLER, AGENT, "NOANSWER"), 2002.0) == []


def test_resync_ends_the_calls_that_vanished_while_ami_was_away() -> None:
    f = CallFollower(T)
    f.follow(handed_back())
    f.follow(FollowedCall("200.1", "support", "+2", 1000.0))
    [end] = f.resync([snap(chan("PJSIP/carrier-2", "200.1"))], 3000.0)
    assert isinstance(end, Ended) and end.call.call_id == "100.1" and not end.seen
    assert [c.call_id for c in f.calls()] == ["200.1"]


def test_queue_answers_with_a_dial_end_first_and_that_is_the_fallback() -> None:
    f = CallFollower(T)
    f.follow(handed_back())
    f.apply(QueueCallerJoin(CALLER, "support", 1, 1), 1001.0)
    [ans] = f.apply(DialEnd(CALLER, AGENT, "ANSWER"), 1002.0)
    assert isinstance(ans, Answered) and ans.via_fallback and ans.call.agent == "1002"
    assert f.apply(AgentConnect(CALLER, AGENT, "support", "PJSIP/1002", "", 1, 1), 1002.0) == []


def test_a_missed_answer_is_recovered_from_agent_complete() -> None:
    f = CallFollower(T)
    f.follow(handed_back())
    ans, end = f.apply(AgentComplete(CALLER, AGENT, "support", "PJSIP/1002", "Agent 1002", 3,
                                     40, "caller"), 1045.0)
    assert isinstance(ans, Answered) and ans.via_fallback and ans.call.agent == "1002"
    assert isinstance(end, Ended) and end.call.answered_at == 1045.0 and end.seen


def test_a_stranger_already_talking_in_queue_is_adopted_answered() -> None:
    f = CallFollower(T)
    stranger = FollowedCall("100.1", "support", "+1", 990.0, fallback_queue="support")
    [ans] = f.adopt([stranger], [snap(CALLER, "Queue", "b1"), snap(AGENT, "AppQueue", "b1")],
                    1000.0)
    assert isinstance(ans, Answered) and ans.via_fallback and ans.call.agent == "1002"


def test_a_caller_transferred_into_the_queue_is_followed_by_its_own_channel() -> None:
    # The call began elsewhere (Linkedid 90.1); its caller channel in the queue is 100.1. AMI
    # names the channel; the record and the outcomes keep the call's id.
    f = CallFollower(T)
    caller = chan("PJSIP/carrier-00000001", "100.1", "90.1")
    f.follow(FollowedCall(call_id="90.1", queue="support", number="+12025550100",
                          offered_at=1000.0, handed_back="server stopping", uniqueid="100.1"))
    assert f.apply(QueueCallerJoin(caller, "support", 1, 1), 1001.0) == []
    [ans] = f.apply(AgentConnect(caller, AGENT, "support", "PJSIP/1002", "Agent 1002", 3, 2),
                    1005.0)
    assert isinstance(ans, Answered) and ans.call.call_id == "90.1"
    assert ans.call.fallback_queue == "support"
    # A hang-up of another channel of the same call ends nothing.
    assert f.apply(ChannelHungUp(chan("PJSIP/9-1", "90.1"), 16, "Normal Clearing"), 1010.0) == []
    [end] = f.apply(ChannelHungUp(caller, 16, "Normal Clearing"), 1050.0)
    assert isinstance(end, Ended) and end.seen and end.call.call_id == "90.1"
    assert len(f) == 0 and f.apply(ChannelHungUp(caller, 16, "x"), 1051.0) == []


def test_resync_keeps_a_transferred_caller_whose_channel_is_live() -> None:
    f = CallFollower(T)
    caller = chan("PJSIP/carrier-00000001", "100.1", "90.1")
    f.follow(FollowedCall(call_id="90.1", queue="support", number="+1", offered_at=1.0,
                          uniqueid="100.1"))
    assert f.resync([snap(caller)], 5.0) == []
    [end] = f.resync([], 6.0)
    assert isinstance(end, Ended) and not end.seen and end.call.call_id == "90.1"
