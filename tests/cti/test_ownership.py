"""Call ownership in the pure tracker (with a device directory) and the call-access policy."""

from __future__ import annotations

import dataclasses

import pytest

from agent_desktop.errors import Conflict, Forbidden
from agent_desktop.policy import Principal
from cti import calls as c
from cti import events as ev
from cti.call_access import check_call_access, customer_leg, owns
from cti.ownership import DeviceDirectory
from tests.cti import transcripts as tx

USERS = {"PJSIP/1001": "agent1", "PJSIP/1002": "agent2", "PJSIP/1003": "agent3"}


def _tracker() -> c.CallTracker:
    d = DeviceDirectory()
    d.replace_extensions(USERS)
    return c.CallTracker(user_for=d.user_for)


def _chan(uid: str, linked: str, channel: str, state: int = ev.STATE_UP, *,
          exten: str = "s", cid: str = "") -> ev.ChannelInfo:
    return ev.ChannelInfo(channel=channel, uniqueid=uid, linkedid=linked, state=state,
                          state_desc="", caller_id_num=cid, caller_id_name="",
                          connected_line_num="", connected_line_name="", context="agents",
                          exten=exten)


def _inbound_with_agent(t: c.CallTracker, agent_channel: str = "PJSIP/1001-01") -> tuple[
        ev.ChannelInfo, ev.ChannelInfo]:
    caller = _chan("9.0", "9.0", "PJSIP/carrier-01", cid="+15557654321")
    agent = _chan("9.1", "9.0", agent_channel)
    t.apply(ev.ChannelCreated(caller), 0.0)
    t.apply(ev.DialBegin(caller, agent, "PJSIP/1001"), 1.0)
    t.apply(ev.BridgeEntered("b1", "basic", 1, caller), 2.0)
    t.apply(ev.BridgeEntered("b1", "basic", 2, agent), 2.0)
    return caller, agent


def test_inbound_agent_is_named_with_user_device_and_channel() -> None:
    t = _tracker()
    _inbound_with_agent(t)
    call = t.get("9.0")
    assert call is not None and call.agent is not None
    assert (call.agent.user, call.agent.device, call.agent.channel) == (
        "agent1", "PJSIP/1001", "PJSIP/1001-01")
    (seg,) = call.segments
    assert (seg.user, seg.end, seg.ended_by) == ("agent1", None, "")


def test_blind_transfer_closes_the_segment_and_the_target_becomes_the_agent() -> None:
    t = _tracker()
    caller, agent = _inbound_with_agent(t)
    (tr,) = t.apply(ev.BlindTransfer("Success", agent, caller, "b1", False, "from-cti", "1002"),
                    12.0)
    assert isinstance(tr, c.CallTransferred)
    assert (tr.transfer.from_agent, tr.transfer.target) == ("agent1", "1002@from-cti")
    assert tr.call.agent is None  # the transferer owns it no more
    t.apply(ev.ChannelHungUp(agent, 16, ""), 12.5)
    target = _chan("9.2", "9.0", "PJSIP/1002-02")
    t.apply(ev.DialBegin(caller, target, "PJSIP/1002"), 13.0)
    t.apply(ev.BridgeEntered("b2", "basic", 1, caller), 15.0)
    t.apply(ev.BridgeEntered("b2", "basic", 2, target), 15.0)
    t.apply(ev.ChannelHungUp(target, 16, ""), 20.0)
    (end,) = t.apply(ev.ChannelHungUp(caller, 16, ""), 20.0)
    assert isinstance(end, c.CallEnded)
    first, second = end.call.segments
    assert (first.user, first.start, first.end, first.talk_s, first.ended_by) == (
        "agent1", 2.0, 12.0, 10.0, "transfer")
    assert (second.user, second.start, second.end, second.talk_s, second.ended_by) == (
        "agent2", 15.0, 20.0, 5.0, "hangup")
    assert end.call.agent is not None and end.call.agent.user == "agent2"  # the last one


def test_attended_transfer_whose_bridge_comes_first_is_one_transfer() -> None:
    t = _tracker()
    caller, agent = _inbound_with_agent(t)
    target = _chan("9.2", "9.0", "PJSIP/1003-02")
    t.apply(ev.BridgeLeft("b1", "basic", 1, agent), 5.0)
    t.apply(ev.DialBegin(agent, target, "PJSIP/1003"), 5.0)
    t.apply(ev.BridgeEntered("b1", "basic", 2, target), 8.0)  # before the event
    ups = t.apply(ev.AttendedTransfer("Success", agent, agent, caller, target, "b1", "", "Bridge",
                                      "b1", ""), 8.0)
    assert [type(u) for u in ups] == [c.CallTransferred]
    call = t.get("9.0")
    assert call is not None and call.agent is not None and call.agent.user == "agent3"
    assert len(call.transfers) == 1 and call.transfers[0].from_agent == "agent1"
    assert [s.ended_by for s in call.segments] == ["transfer", ""]


def test_a_transfer_the_server_made_is_noted_and_ends_the_agents_part() -> None:
    t = _tracker()
    _inbound_with_agent(t)
    (tr,) = t.note_transfer("9.0", kind="blind", target="+12025550100", by="supervisor",
                            now=7.0)
    assert isinstance(tr, c.CallTransferred)
    assert (tr.transfer.from_agent, tr.transfer.by) == ("agent1", "supervisor")
    assert tr.call.agent is None and tr.call.segments[0].ended_by == "transfer"
    assert t.note_transfer("no-such-call", kind="blind", target="1", by="x", now=8.0) == []


def test_desk_phone_call_is_outbound_and_answered_by_the_far_leg() -> None:
    t = _tracker()
    phone = _chan("5.0", "5.0", "PJSIP/1003-07", ev.STATE_RING, exten="+12025550100",
                  cid="1003")
    far = _chan("5.1", "5.0", "PJSIP/carrier-08", 0)
    t.apply(ev.ChannelCreated(phone), 1.0)
    ups = t.apply(ev.DialBegin(phone, far, "+12025550100@carrier"), 1.0)
    assert [type(u) for u in ups] == [c.CallDirectionChanged, c.CallDialBegan]
    assert (ups[1].caller_channel, ups[1].dest_channel) == ("PJSIP/1003-07", "PJSIP/carrier-08")
    call = ups[0].call
    assert (call.direction, call.origin, call.dialled, call.caller_num) == (
        "outbound", "phone", "+12025550100", "1003")
    assert call.agent is not None and call.agent.user == "agent3"
    assert t.apply(ev.ChannelStateChanged(_chan("5.0", "5.0", "PJSIP/1003-07")), 2.0) == []
    (ans,) = t.apply(ev.ChannelStateChanged(_chan("5.1", "5.0", "PJSIP/carrier-08")), 3.0)
    assert isinstance(ans, c.CallAnswered) and ans.call.answered_at == 3.0


def test_a_carrier_call_stays_inbound_with_a_directory() -> None:
    t = _tracker()
    _inbound_with_agent(t)
    call = t.get("9.0")
    assert call is not None and (call.direction, call.origin) == ("inbound", "")


def test_click_to_dial_agent_is_known_before_the_phone_rings_and_one_dial_at_a_time() -> None:
    t = _tracker()
    t.expect_originate("a-1", now=0.0, channel_id="c2d-1", cti_call_id="c2d-1",
                       kind="click_to_dial", dialled="+12025550100", device="PJSIP/1001",
                       user="agent1")
    assert t.busy_call_for("agent1") == "c2d-1"  # before any channel exists
    assert t.busy_call_for("agent2") is None
    t.apply(ev.ChannelCreated(_chan("c2d-1", "c2d-1", "PJSIP/1001-03", 0)), 1.0)
    call = t.get("c2d-1")
    assert call is not None and call.agent is not None
    assert (call.agent.user, call.agent.channel) == ("agent1", "PJSIP/1001-03")


def test_a_failed_click_to_dial_says_what_was_attempted() -> None:
    t = _tracker()
    t.expect_originate("a-9", now=0.0, channel_id="c2d-9", cti_call_id="c2d-9",
                       kind="click_to_dial", dialled="+12025550100", device="PJSIP/1001",
                       user="agent1")
    events = [e for e in tx.events("originate_busy") if isinstance(e, ev.OriginateResult)]
    (res,) = events
    (failed,) = [u for u in t.apply(dataclasses.replace(res, action_id="a-9"), 5.0)
                 if isinstance(u, c.OriginateFailed)]
    assert (failed.kind, failed.user, failed.dialled, failed.cti_call_id, failed.call) == (
        "click_to_dial", "agent1", "+12025550100", "c2d-9", None)
    assert t.busy_call_for("agent1") is None  # over: the agent may dial again


def test_new_callerid_changes_the_calls_caller_only_from_its_first_leg() -> None:
    t = _tracker()
    t.apply(ev.ChannelCreated(_chan("7.0", "7.0", "PJSIP/carrier-09", cid="111")), 0.0)
    t.apply(ev.ChannelCreated(_chan("7.1", "7.0", "PJSIP/1001-10", cid="1001")), 0.0)
    t.apply(ev.CallerIdChanged(_chan("7.1", "7.0", "PJSIP/1001-10", cid="999")), 1.0)
    assert t.get("7.0").caller_num == "111"  # type: ignore[union-attr]
    t.apply(ev.CallerIdChanged(_chan("7.0", "7.0", "PJSIP/carrier-09", cid="222")), 1.0)
    assert t.get("7.0").caller_num == "222"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- access policy


def _me(username: str, role: str = "agent", team: int | None = 1) -> Principal:
    return Principal(user_id=1, username=username, role=role, team_id=team)  # type: ignore[arg-type]


def _live_call() -> c.CallView:
    t = _tracker()
    _inbound_with_agent(t)
    call = t.get("9.0")
    assert call is not None
    return call


def test_agents_act_on_their_own_calls_only() -> None:
    call = _live_call()
    check_call_access(_me("agent1"), call, my_devices=frozenset(), agent_team=None)
    with pytest.raises(Forbidden, match="not your call"):
        check_call_access(_me("agent2"), call, my_devices=frozenset({"PJSIP/1002"}),
                          agent_team=None)


def test_supervisors_their_teams_calls_admins_all() -> None:
    call = _live_call()
    check_call_access(_me("sup", "supervisor", 1), call, my_devices=frozenset(), agent_team=1)
    with pytest.raises(Forbidden, match="outside your team"):
        check_call_access(_me("sup", "supervisor", 1), call, my_devices=frozenset(),
                          agent_team=2)
    check_call_access(_me("root", "admin", None), call, my_devices=frozenset(), agent_team=2)


def test_after_the_agents_leg_hangs_up_the_call_is_not_theirs() -> None:
    t = _tracker()
    caller, agent = _inbound_with_agent(t)
    t.apply(ev.ChannelCreated(_chan("9.5", "9.0", "Local/x@y-01;1")), 3.0)  # keeps it alive
    t.apply(ev.ChannelHungUp(agent, 16, ""), 4.0)
    call = t.get("9.0")
    assert call is not None and call.active
    assert not owns(_me("agent1"), call, frozenset())


def test_the_customer_leg_is_never_the_agents_own() -> None:
    call = _live_call()
    leg = customer_leg(call, lambda device: device in USERS)
    assert leg.channel == "PJSIP/carrier-01"
    t = _tracker()  # a click-to-dial whose agent's phone still rings: no customer yet
    t.expect_originate("a-1", now=0.0, channel_id="1.0", kind="click_to_dial",
                       device="PJSIP/1001", user="agent1")
    t.apply(ev.ChannelCreated(_chan("1.0", "1.0", "PJSIP/1001-05", ev.STATE_RINGING)), 0.0)
    lone = t.get("1.0")
    assert lone is not None
    with pytest.raises(Conflict):
        customer_leg(lone, lambda device: device in USERS)


def test_the_call_moving_to_another_agent_is_reported_once_and_a_first_agent_is_not() -> None:
    t = _tracker()
    caller = _chan("9.0", "9.0", "PJSIP/carrier-01", cid="+15557654321")
    agent = _chan("9.1", "9.0", "PJSIP/1001-01")
    ups = t.apply(ev.ChannelCreated(caller), 0.0) + t.apply(ev.DialBegin(caller, agent,
                                                                        "PJSIP/1001"), 1.0)
    ups += t.apply(ev.BridgeEntered("b1", "basic", 1, caller), 2.0)
    ups += t.apply(ev.BridgeEntered("b1", "basic", 2, agent), 2.0)
    assert not [u for u in ups if isinstance(u, c.CallAgentChanged)]  # the first agent
    t.apply(ev.BlindTransfer("Success", agent, caller, "b1", False, "from-cti", "1002"), 12.0)
    t.apply(ev.ChannelHungUp(agent, 16, ""), 12.5)
    target = _chan("9.2", "9.0", "PJSIP/1002-02")
    ups = t.apply(ev.DialBegin(caller, target, "PJSIP/1002"), 13.0)
    assert not [u for u in ups if isinstance(u, c.CallAgentChanged)]  # ringing is not owning
    ups = t.apply(ev.BridgeEntered("b2", "basic", 1, caller), 15.0)
    ups += t.apply(ev.BridgeEntered("b2", "basic", 2, target), 15.0)
    (moved,) = [u for u in ups if isinstance(u, c.CallAgentChanged)]
    assert moved.call_id == "9.0"
    assert (moved.previous_user, moved.previous_device) == ("agent1", "PJSIP/1001")
    assert moved.call.agent is not None and moved.call.agent.user == "agent2"
    # The target's bridge again (a re-bridge) is the same owner: nothing new.
    assert not [u for u in t.apply(ev.BridgeEntered("b2", "basic", 2, target), 16.0)
                if isinstance(u, c.CallAgentChanged)]


def test_an_attended_transfer_reports_the_transfer_then_the_new_agent() -> None:
    t = _tracker()
    caller, agent = _inbound_with_agent(t)
    consult = _chan("9.2", "9.2", "PJSIP/1001-05")
    target = _chan("9.3", "9.2", "PJSIP/1003-06")
    for ch in (consult, target):
        t.apply(ev.ChannelCreated(ch), 3.0)
    ups = t.apply(ev.AttendedTransfer("Success", agent, consult, caller, target, "b1", "b2",
                                      "Bridge", "b1", ""), 5.0)
    assert [type(u) for u in ups] == [c.CallTransferred, c.CallAgentChanged]
    tr, moved = ups
    assert isinstance(tr, c.CallTransferred) and tr.call.agent is None
    assert isinstance(moved, c.CallAgentChanged)
    assert moved.previous_user == "agent1" and moved.call.agent is not None
    assert moved.call.agent.user == "agent3"
