from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti import calls as c
from cti import events as ev
from tests.cti import transcripts as tx

ALL = tx.scenarios()


def _run(
    name: str, tracker: c.CallTracker | None = None
) -> tuple[c.CallTracker, list[c.CallUpdate]]:
    t = tracker or c.CallTracker()
    out: list[c.CallUpdate] = []
    for i, e in enumerate(tx.events(name)):
        out.extend(t.apply(e, 1000.0 + i))
    return t, out


def _of(updates: Sequence[c.CallUpdate], cls: type) -> list:
    return [u for u in updates if isinstance(u, cls)]


def _ended(updates: Sequence[c.CallUpdate]) -> dict[str, c.CallEnded]:
    ended = _of(updates, c.CallEnded)
    assert len({u.call.call_id for u in ended}) == len(ended)
    return {u.call.call_id: u for u in ended}


def _chan(uid: str, linked: str, channel: str, state: int = ev.STATE_UP) -> ev.ChannelInfo:
    return ev.ChannelInfo(
        channel=channel,
        uniqueid=uid,
        linkedid=linked,
        state=state,
        state_desc="",
        caller_id_num="+15557654321" if uid == linked else "1001",
        caller_id_name="",
        connected_line_num="",
        connected_line_name="",
        context="from-carrier",
        exten="15551230000",
    )


# --------------------------------------------------------------------------- real scenarios


def test_inbound_queue_answered() -> None:
    t, ups = _run("inbound_queue_answered")
    (started,) = _of(ups, c.CallStarted)
    ended = _ended(ups)
    assert list(ended) == ["1795462481.7"]
    call = ended["1795462481.7"].call
    assert started.call.call_id == call.call_id
    assert call.direction == "inbound"
    assert (call.caller_num, call.caller_name) == ("+15557654321", "Carrier Caller")
    assert call.dialled == "15551230000"
    assert call.queue == "support"
    assert call.agent is not None
    assert (call.agent.device, call.agent.name, call.agent.channel) == (
        "PJSIP/1001",
        "Agent 1001",
        "PJSIP/1001-00000004",
    )
    assert call.answered_at is not None and call.offered_at < call.answered_at < call.ended_at
    assert call.queued_at is not None
    assert (call.hangup_cause, call.hangup_cause_txt) == (16, "Normal Clearing")
    assert ended["1795462481.7"].reason == c.END_COMPLETED
    assert not call.abandoned
    assert {leg.uniqueid for leg in call.legs} == {"1795462481.7", "1795462482.8"}
    assert all(leg.ended_at is not None for leg in call.legs)
    assert len(_of(ups, c.CallAnswered)) == 1
    assert [(u.interface, u.member_name) for u in _of(ups, c.CallOfferedToAgent)] == [
        ("PJSIP/1001", "Agent 1001")
    ]
    assert [u.device for u in _of(ups, c.CallRinging)] == ["PJSIP/1001"]
    assert [(u.queue, u.source) for u in _of(ups, c.CallQueued)] == [("support", "app_queue")]
    assert t.active_calls() == []
    assert t.get("1795462481.7") == call


def test_inbound_queue_abandoned() -> None:
    _, ups = _run("inbound_queue_abandoned")
    ended = _ended(ups)
    assert list(ended) == ["1795462495.9"]
    call = ended["1795462495.9"].call
    assert ended["1795462495.9"].reason == c.END_ABANDONED
    assert call.abandoned
    assert call.answered_at is None
    assert call.agent is None
    assert call.queue == "support"
    assert call.hangup_cause == 0  # abandoned legs hang up with cause 0
    assert not _of(ups, c.CallAnswered)


def test_inbound_queue_ring_no_answer() -> None:
    _, ups = _run("inbound_queue_ring_no_answer")
    ended = _ended(ups)
    assert list(ended) == ["1795462516.13"]
    call = ended["1795462516.13"].call
    # The capture holds one AgentRingNoAnswer (PJSIP/1002 rang 15 s; RingTime 15000 ms). PJSIP/1001
    # was rung next and the caller hung up at 20 s, before its 15 s ran out: an abandon.
    assert [(r.interface, r.ring_time) for r in call.ring_no_answers] == [("PJSIP/1002", 15.0)]
    assert [(u.interface, u.ring_time) for u in _of(ups, c.CallAgentNoAnswer)] == [
        ("PJSIP/1002", 15.0)
    ]
    assert [u.interface for u in _of(ups, c.CallOfferedToAgent)] == ["PJSIP/1002", "PJSIP/1001"]
    assert ended["1795462516.13"].reason == c.END_ABANDONED
    assert call.answered_at is None
    assert len(call.legs) == 3


def test_agi_session_ivr_queue_then_agent() -> None:
    _, ups = _run("agi_session")
    ended = _ended(ups)
    call = ended["1795462540.16"].call
    assert call.queue == "support"
    assert [(u.queue, u.source) for u in _of(ups, c.CallQueued)] == [("support", "ivr")]
    assert call.agent.device == "PJSIP/1002"
    assert call.answered_at is not None
    assert ended["1795462540.16"].reason == c.END_COMPLETED
    assert {(u.name, u.value) for u in _of(ups, c.CallVariable)} >= {
        ("IVR_QUEUE", "support"),
        ("AGISTATUS", "SUCCESS"),
    }


def test_originate_busy_with_expectation() -> None:
    t = c.CallTracker()
    t.expect_originate("originate_busy-51", now=1000.0, cti_call_id="lab-0002", kind="dialer")
    _, ups = _run("originate_busy", t)
    ended = _ended(ups)
    (call_id,) = ended
    call = t.get(call_id)
    assert call is not None
    assert call.direction == "outbound"
    assert call.origin == "dialer"
    assert call.cti_call_id == "lab-0002"
    assert ended[call_id].reason == c.END_BUSY
    assert call.hangup_cause == 17
    # The OriginateResponse (Failure, Reason 0) arrives after the Hangup and still lands.
    assert call.originate_reason == 0
    (failed,) = _of(ups, c.OriginateFailed)
    assert (failed.action_id, failed.reason) == ("originate_busy-51", 0)
    assert failed.call is not None and failed.call.call_id == call_id
    assert len(_of(ups, c.CallDirectionChanged)) == 1


def test_originate_no_answer_with_expectation() -> None:
    t = c.CallTracker()
    t.expect_originate("originate_no_answer-54", now=1000.0, cti_call_id="lab-0002")
    _, ups = _run("originate_no_answer", t)
    ended = _ended(ups)
    (end,) = ended.values()
    assert end.reason == c.END_NO_ANSWER
    assert (end.call.hangup_cause, end.call.originate_reason) == (19, 3)
    assert end.call.direction == "outbound"
    assert [u.reason for u in _of(ups, c.OriginateFailed)] == [3]


def test_originate_agent_answered_with_expectation() -> None:
    t = c.CallTracker()
    t.expect_originate("originate_agent_answered-57", now=1000.0, cti_call_id="lab-0003")
    _, ups = _run("originate_agent_answered", t)
    (end,) = _ended(ups).values()
    assert end.reason == c.END_COMPLETED
    assert end.call.direction == "outbound"
    assert end.call.answered_at is not None
    assert end.call.originate_reason == 4
    assert end.call.hangup_cause == 16
    assert not _of(ups, c.OriginateFailed)


def test_originate_matched_by_action_id_only_turns_outbound_late() -> None:
    t = c.CallTracker()
    t.expect_originate("chanspy_supervisor-77", now=1000.0, kind="supervisor")
    _, ups = _run("chanspy_supervisor", t)
    ended = _ended(ups)
    sup = ended["1795462577.24"].call
    assert sup.direction == "outbound" and sup.origin == "supervisor"
    assert ended["1795462577.24"].reason == c.END_COMPLETED
    changed = _of(ups, c.CallDirectionChanged)
    assert [u.call.call_id for u in changed] == ["1795462577.24"]
    spied = ended["1795462575.22"].call
    assert spied.direction == "inbound" and spied.agent.device == "PJSIP/1001"
    (mon,) = _of(ups, c.CallMonitorStarted)
    assert (mon.call.call_id, mon.supervisor_channel, mon.supervisor_call_id) == (
        "1795462575.22",
        "Local/wait@lab-00000004;1",
        "1795462577.24",
    )
    assert mon.call.supervisors == ("Local/wait@lab-00000004;1",)
    (stop,) = _of(ups, c.CallMonitorStopped)
    assert stop.call.supervisors == ()


def test_originate_amd_records_machine() -> None:
    t = c.CallTracker()
    t.expect_originate("originate_amd-74", now=1000.0, kind="dialer")
    _, ups = _run("originate_amd", t)
    (end,) = _ended(ups).values()
    assert (end.call.amd_status, end.call.amd_cause) == ("MACHINE", "MAXWORDS-3-2")
    assert end.call.direction == "outbound"


def test_local_originate_is_one_call_with_two_legs() -> None:
    t = c.CallTracker()
    t.expect_originate("originate_local_answered-48", now=1000.0, cti_call_id="lab-0001")
    _, ups = _run("originate_local_answered", t)
    (end,) = _ended(ups).values()
    assert end.call.call_id == "1795462425.2"
    assert len(end.call.legs) == 2
    assert end.reason == c.END_COMPLETED
    assert len(_of(ups, c.CallStarted)) == 1


def test_another_clients_originate_is_outbound_busy_with_its_caller_id() -> None:
    """Nobody announced it (another AMI client's Originate): still outbound, busy, and with the
    caller ID the Originate set (NewCallerid), not the phone's own from Newchannel."""
    _, ups = _run("originate_busy")
    (end,) = _ended(ups).values()
    assert (end.call.direction, end.call.origin) == ("outbound", "originate")
    assert end.reason == c.END_BUSY
    assert (end.call.caller_num, end.call.caller_name) == ("5550002", "Lab Originate")
    assert not _of(ups, c.OriginateFailed)  # not ours to report


@pytest.mark.parametrize(("name", "caller"), [
    ("originate_agent_answered", "5550003"),
    ("originate_local_answered", "5550001"),
])
def test_another_clients_originate_is_answered_when_its_leg_answers(
        name: str, caller: str) -> None:
    _, ups = _run(name)
    (end,) = _ended(ups).values()
    assert (end.call.direction, end.call.origin) == ("outbound", "originate")
    assert end.reason == c.END_COMPLETED and end.call.answered_at is not None
    assert end.call.caller_num == caller
    assert len(_of(ups, c.CallDirectionChanged)) == 1


def test_another_clients_originate_no_answer() -> None:
    _, ups = _run("originate_no_answer")
    (end,) = _ended(ups).values()
    assert (end.call.direction, end.reason) == ("outbound", c.END_NO_ANSWER)


@pytest.mark.parametrize("name", ALL)
def test_every_scenario_ends_every_call_it_starts(name: str) -> None:
    t, ups = _run(name)
    started = [u.call.call_id for u in _of(ups, c.CallStarted)]
    assert len(started) == len(set(started))
    assert set(started) == set(_ended(ups))
    assert t.active_calls() == []
    assert t.table_sizes["legs"] == 0 and t.table_sizes["bridges"] == 0


def test_channel_id_expectation_classifies_at_newchannel() -> None:
    t = c.CallTracker()
    t.expect_originate("a-1", now=0.0, channel_id="cti-42", kind="dialer", dialled="+15551112222")
    ups = t.apply(
        ev.ChannelCreated(_chan("cti-42", "cti-42", "PJSIP/+15551112222@carrier-1", 0)), 1.0
    )
    (started,) = ups
    assert isinstance(started, c.CallStarted)
    assert started.call.direction == "outbound"
    assert started.call.dialled == "+15551112222"
    up = _chan("cti-42", "cti-42", "PJSIP/+15551112222@carrier-1", ev.STATE_UP)
    ups = t.apply(ev.ChannelStateChanged(up), 5.0)
    assert [type(u) for u in ups] == [c.CallAnswered]
    assert ups[0].call.answered_at == 5.0


def test_click_to_dial_answers_on_bridge_and_names_the_agent() -> None:
    t = c.CallTracker()
    t.expect_originate("a-2", now=0.0, channel_id="cti-7", kind="click_to_dial")
    agent = _chan("cti-7", "cti-7", "PJSIP/1001-00000001")
    cust = _chan("cti-7b", "cti-7", "PJSIP/carrier-00000002")
    t.apply(ev.ChannelCreated(agent), 1.0)
    assert t.apply(ev.ChannelStateChanged(agent), 2.0) == []  # agent's own phone: not answered
    t.apply(ev.ChannelCreated(cust), 3.0)
    t.apply(ev.BridgeEntered("b", "basic", 1, agent), 4.0)
    ups = t.apply(ev.BridgeEntered("b", "basic", 2, cust), 4.5)
    (ans,) = ups
    assert isinstance(ans, c.CallAnswered)
    assert ans.call.agent.device == "PJSIP/1001"
    assert ans.call.answered_at == 4.5


def test_bridge_names_the_agent_without_app_queue() -> None:
    t = c.CallTracker()
    caller = _chan("9.0", "9.0", "PJSIP/carrier-00000003")
    agent = _chan("9.1", "9.0", "PJSIP/1005-00000004")
    t.apply(ev.ChannelCreated(caller), 1.0)
    t.apply(ev.ChannelCreated(agent), 2.0)
    t.apply(ev.BridgeEntered("b", "basic", 1, caller), 3.0)
    (ans,) = t.apply(ev.BridgeEntered("b", "basic", 2, agent), 3.0)
    assert isinstance(ans, c.CallAnswered)
    assert ans.call.agent is not None
    assert (ans.call.agent.device, ans.call.agent.channel) == (
        "PJSIP/1005", "PJSIP/1005-00000004")


def test_bridge_enter_before_newchannel_adopts_the_leg() -> None:
    t = c.CallTracker()
    caller = _chan("9.0", "9.0", "PJSIP/carrier-00000003")
    ups = t.apply(ev.BridgeEntered("b", "basic", 1, caller), 1.0)
    assert [type(u) for u in ups] == [c.CallStarted]
    assert t.apply(ev.ChannelCreated(caller), 1.5) == []  # same leg, no second call
    assert [v.call_id for v in t.active_calls()] == ["9.0"]


def test_hangup_for_unknown_channel_makes_no_call_and_blocks_a_late_newchannel() -> None:
    t = c.CallTracker()
    caller = _chan("9.0", "9.0", "PJSIP/carrier-00000003")
    assert t.apply(ev.ChannelHungUp(caller, 16, "Normal Clearing"), 1.0) == []
    assert t.apply(ev.ChannelCreated(caller), 2.0) == []
    assert t.active_calls() == []
    assert t.get("9.0") is None


def test_duplicates_do_not_double_report() -> None:
    t = c.CallTracker()
    out: list[c.CallUpdate] = []
    for i, e in enumerate(tx.events("inbound_queue_answered")):
        out.extend(t.apply(e, float(i)))
        out.extend(t.apply(e, float(i)))
    assert len(_of(out, c.CallStarted)) == 1
    assert len(_of(out, c.CallAnswered)) == 1
    assert len(_of(out, c.CallEnded)) == 1
    assert len(_of(out, c.CallRinging)) == 1


def test_hold_and_unhold() -> None:
    t = c.CallTracker()
    caller = _chan("9.0", "9.0", "PJSIP/carrier-00000003")
    t.apply(ev.ChannelCreated(caller), 1.0)
    (held,) = t.apply(ev.Hold(caller, "default"), 2.0)
    assert isinstance(held, c.CallHeld) and held.uniqueid == "9.0"
    assert held.call.legs[0].on_hold
    assert t.apply(ev.Hold(caller, "default"), 2.1) == []
    (unheld,) = t.apply(ev.Unhold(caller), 3.0)
    assert isinstance(unheld, c.CallUnheld)
    assert not unheld.call.legs[0].on_hold
    assert t.apply(ev.Unhold(caller), 3.1) == []


def test_redirect_hold_via_music_counts_once_per_call() -> None:
    t = c.CallTracker()
    caller = _chan("9.0", "9.0", "PJSIP/carrier-00000003")
    agent = _chan("9.1", "9.0", "PJSIP/1001-00000004")
    t.apply(ev.ChannelCreated(caller), 1.0)
    t.apply(ev.ChannelCreated(agent), 1.0)
    # Queue music before the answer is not a hold.
    assert t.apply(ev.MusicOnHoldStarted(caller, "default"), 1.5) == []
    assert t.apply(ev.MusicOnHoldStopped(caller), 1.9) == []
    t.apply(ev.BridgeEntered("b", "basic", 1, caller), 2.0)
    t.apply(ev.BridgeEntered("b", "basic", 2, agent), 2.0)
    # A phone hold: Hold on the agent's leg, music on the customer's: one CallHeld.
    ups = t.apply(ev.Hold(agent, ""), 3.0) + t.apply(ev.MusicOnHoldStarted(caller, "default"), 3.0)
    assert [type(u) for u in ups] == [c.CallHeld]
    ups = t.apply(ev.MusicOnHoldStopped(caller), 4.0)
    assert ups == []  # the agent's leg is still on hold
    (unheld,) = t.apply(ev.Unhold(agent), 4.0)
    assert isinstance(unheld, c.CallUnheld)


def test_no_capture_contains_a_hold() -> None:
    for name in ALL:
        _, ups = _run(name)
        assert not _of(ups, c.CallHeld) and not _of(ups, c.CallUnheld), name


def test_resynced_event_reconciles() -> None:
    t = c.CallTracker()
    snaps = tuple(e for e in tx.events("actions") if isinstance(e, ev.ChannelSnapshot))
    ups = t.apply(ev.AmiResynced(snaps), 10.0)
    assert [u.call.call_id for u in _of(ups, c.CallStarted)] == ["1795462423.0"]
    (end,) = t.apply(ev.AmiResynced(()), 20.0)
    assert isinstance(end, c.CallEnded) and end.reason == c.END_LOST


def test_blind_transfer_is_recorded_and_next_bridge_names_new_agent() -> None:
    t = c.CallTracker()
    caller = _chan("9.0", "9.0", "PJSIP/carrier-00000003")
    agent = _chan("9.1", "9.0", "PJSIP/1001-00000004")
    t.apply(ev.ChannelCreated(caller), 1.0)
    t.apply(ev.ChannelCreated(agent), 1.0)
    t.apply(ev.BridgeEntered("b1", "basic", 1, caller), 2.0)
    t.apply(ev.BridgeEntered("b1", "basic", 2, agent), 2.0)
    bt = ev.BlindTransfer("Success", agent, caller, "b1", False, "agents", "1002")
    (tr,) = t.apply(bt, 10.0)
    assert isinstance(tr, c.CallTransferred)
    assert (tr.transfer.kind, tr.transfer.from_agent, tr.transfer.target) == (
        "blind",
        "PJSIP/1001",
        "1002@agents",
    )
    assert tr.call.agent is None
    assert t.apply(bt, 10.0) == []  # duplicate
    t.apply(ev.BridgeLeft("b1", "basic", 1, agent), 10.5)
    t.apply(ev.ChannelHungUp(agent, 16, "Normal Clearing"), 11.0)
    assert t.get("9.0") is not None and t.get("9.0").active  # type: ignore[union-attr]
    new_agent = _chan("9.2", "9.0", "PJSIP/1002-00000005")
    t.apply(ev.ChannelCreated(new_agent), 12.0)
    t.apply(ev.BridgeLeft("b1", "basic", 0, caller), 12.0)
    t.apply(ev.BridgeEntered("b2", "basic", 1, caller), 13.0)
    t.apply(ev.BridgeEntered("b2", "basic", 2, new_agent), 13.0)
    view = t.get("9.0")
    assert view is not None and view.agent is not None and view.agent.device == "PJSIP/1002"
    assert len(view.transfers) == 1
    assert [type(u) for u in t.apply(ev.ChannelHungUp(caller, 16, ""), 20.0)] == []
    (end,) = t.apply(ev.ChannelHungUp(new_agent, 16, ""), 20.0)
    assert isinstance(end, c.CallEnded) and end.reason == c.END_COMPLETED


def test_failed_blind_transfer_is_ignored() -> None:
    t = c.CallTracker()
    caller = _chan("9.0", "9.0", "PJSIP/carrier-00000003")
    t.apply(ev.ChannelCreated(caller), 1.0)
    assert t.apply(ev.BlindTransfer("Fail", caller, None, "", False, "x", "1"), 2.0) == []


def test_attended_transfer_names_the_target_as_agent() -> None:
    t = c.CallTracker()
    caller = _chan("9.0", "9.0", "PJSIP/carrier-00000003")
    agent = _chan("9.1", "9.0", "PJSIP/1001-00000004")
    consult = _chan("9.2", "9.2", "PJSIP/1001-00000005")
    target = _chan("9.3", "9.2", "PJSIP/1002-00000006")
    for ch in (caller, agent, consult, target):
        t.apply(ev.ChannelCreated(ch), 1.0)
    at = ev.AttendedTransfer(
        "Success", agent, consult, caller, target, "b1", "b2", "Bridge", "b1", ""
    )
    (tr,) = t.apply(at, 5.0)
    assert isinstance(tr, c.CallTransferred)
    assert tr.call.call_id == "9.0"
    assert tr.transfer.kind == "attended" and tr.transfer.target == "PJSIP/1002"
    assert t.get("9.0").agent.device == "PJSIP/1002"  # type: ignore[union-attr]


def test_unknown_originate_response_is_ignored() -> None:
    t = c.CallTracker()
    r = ev.OriginateResult("someone-else", False, 0, "PJSIP/1003", "", "", "", "", "")
    assert t.apply(r, 1.0) == []


def test_originate_failure_with_no_channel_reports_without_a_call() -> None:
    t = c.CallTracker()
    t.expect_originate("a-9", now=0.0, channel_id="cti-9")
    r = ev.OriginateResult("a-9", False, 8, "PJSIP/+15550001111@carrier", "", "", "", "", "")
    (f,) = t.apply(r, 1.0)
    assert isinstance(f, c.OriginateFailed)
    assert (f.action_id, f.reason, f.call) == ("a-9", 8, None)
    assert t.active_calls() == []
    assert t.table_sizes["expected"] == 0


def test_expectations_expire() -> None:
    t = c.CallTracker(originate_ttl_s=10.0)
    t.expect_originate("a-1", now=0.0, channel_id="x", cti_call_id="y")
    t.prune(5.0)
    assert t.table_sizes["expected"] == 3
    t.prune(11.0)
    assert t.table_sizes["expected"] == 0


# --------------------------------------------------------------------------- reconcile


def test_reconcile_closes_calls_lost_during_disconnect() -> None:
    t = c.CallTracker()
    evs = tx.events("inbound_queue_answered")
    cut = next(i for i, e in enumerate(evs) if isinstance(e, ev.AgentConnect))
    for i, e in enumerate(evs[: cut + 1]):
        t.apply(e, float(i))
    assert [v.call_id for v in t.active_calls()] == ["1795462481.7"]
    (end,) = t.reconcile([], 500.0)
    assert isinstance(end, c.CallEnded)
    assert end.reason == c.END_LOST == "lost during disconnect"
    assert end.call.ended_at == 500.0
    assert t.active_calls() == []
    # The rest of the old stream cannot resurrect it.
    rest: list[c.CallUpdate] = []
    for i, e in enumerate(evs[cut + 1 :]):
        rest.extend(t.apply(e, 600.0 + i))
    assert not _of(rest, c.CallEnded) and not _of(rest, c.CallStarted)


def test_reconcile_adopts_unknown_live_channels() -> None:
    t = c.CallTracker()
    snaps = [e for e in tx.events("actions") if isinstance(e, ev.ChannelSnapshot)]
    ups = t.reconcile(snaps, 100.0)
    (started,) = _of(ups, c.CallStarted)
    assert started.call.call_id == "1795462423.0"
    assert started.call.offered_at == 99.0  # Duration 00:00:01
    view = t.get("1795462423.0")
    assert view is not None and len(view.legs) == 2
    assert t.call_id_for("1795462423.1") == "1795462423.0"
    # Idempotent: the same snapshot again changes nothing.
    assert t.reconcile(snaps, 101.0) == []


def test_reconcile_drops_vanished_legs_and_keeps_the_call() -> None:
    t = c.CallTracker()
    caller = _chan("9.0", "9.0", "PJSIP/carrier-00000003")
    agent = _chan("9.1", "9.0", "PJSIP/1001-00000004")
    t.apply(ev.ChannelCreated(caller), 1.0)
    t.apply(ev.ChannelCreated(agent), 1.0)
    snap = ev.ChannelSnapshot(caller, "Queue", "support", 10, "", "x")
    assert t.reconcile([snap], 20.0) == []
    view = t.get("9.0")
    assert view is not None and view.active
    assert [leg.uniqueid for leg in view.legs if leg.ended_at is None] == ["9.0"]


def test_reconcile_bridged_adopted_call_is_answered() -> None:
    t = c.CallTracker()
    caller = _chan("9.0", "9.0", "PJSIP/carrier-00000003")
    agent = _chan("9.1", "9.0", "PJSIP/1001-00000004")
    snaps = [
        ev.ChannelSnapshot(caller, "Queue", "support", 30, "b1", "x"),
        ev.ChannelSnapshot(agent, "AppQueue", "", 20, "b1", "x"),
    ]
    ups = t.reconcile(snaps, 100.0)
    assert [type(u) for u in ups] == [c.CallStarted, c.CallAnswered]
    assert ups[1].call.agent.device == "PJSIP/1001"


# --------------------------------------------------------------------------- memory bounds


def test_ended_calls_are_kept_briefly_then_forgotten() -> None:
    t = c.CallTracker(ended_retention_s=30.0)
    _run("inbound_queue_answered", t)
    assert t.get("1795462481.7") is not None
    t.prune(10_000.0)
    assert t.get("1795462481.7") is None
    assert t.table_sizes["ended"] == 0
    # Forgotten, yet still tombstoned: a replay of its Hangup makes nothing.
    caller = _chan("1795462481.7", "1795462481.7", "PJSIP/carrier-00000003")
    assert t.apply(ev.ChannelCreated(caller), 10_001.0) == []


def test_many_calls_stay_bounded() -> None:
    t = c.CallTracker(max_ended=50, max_tombstones=500)
    for n in range(2000):
        uid = f"{n}.0"
        ch = _chan(uid, uid, f"PJSIP/carrier-{n:08x}")
        t.apply(ev.ChannelCreated(ch), float(n))
        t.apply(ev.ChannelHungUp(ch, 16, ""), float(n))
    s = t.table_sizes
    assert s["active"] == 0 and s["legs"] == 0
    assert s["ended"] <= 51
    assert s["dead_legs"] <= 500 and s["dead_calls"] <= 500


# --------------------------------------------------------------------------- properties

_PLAYABLE = [n for n in ALL if tx.events(n)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(_PLAYABLE),
    data=st.data(),
)
def test_shuffled_duplicated_sequences_never_raise_or_end_twice(
    name: str, data: st.DataObject
) -> None:
    evs = tx.events(name)
    picks = data.draw(
        st.lists(st.integers(min_value=0, max_value=len(evs) - 1), max_size=len(evs) // 2)
    )
    seq = data.draw(st.permutations(evs + [evs[i] for i in picks]))
    t = c.CallTracker()
    for a in ("originate_busy-51", "chanspy_supervisor-77", "originate_amd-74"):
        t.expect_originate(a, now=0.0, cti_call_id="lab-0002")
    out: list[c.CallUpdate] = []
    for i, e in enumerate(seq):
        out.extend(t.apply(e, float(i)))
    started = Counter(u.call.call_id for u in out if isinstance(u, c.CallStarted))
    ended = Counter(u.call.call_id for u in out if isinstance(u, c.CallEnded))
    assert all(n == 1 for n in started.values())
    assert all(n == 1 for n in ended.values())
    assert set(ended) <= set(started)
    # Nothing about a call after its end (a late OriginateFailed is the one exception).
    seen_end: set[str] = set()
    for u in out:
        if isinstance(u, c.OriginateFailed):
            continue
        assert u.call.call_id not in seen_end
        if isinstance(u, c.CallEnded):
            seen_end.add(u.call.call_id)
    # Every channel in these captures hangs up, so no call may be left open (no phantoms).
    assert t.active_calls() == []
    assert t.table_sizes["legs"] == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(_PLAYABLE), cut=st.integers(min_value=0), data=st.data())
def test_disconnect_at_any_point_then_reconcile_leaves_no_open_calls(
    name: str, cut: int, data: st.DataObject
) -> None:
    evs = tx.events(name)
    cut %= len(evs) + 1
    t = c.CallTracker()
    out: list[c.CallUpdate] = []
    for i, e in enumerate(evs[:cut]):
        out.extend(t.apply(e, float(i)))
    out.extend(t.reconcile([], 1e6))
    assert t.active_calls() == []
    ended = Counter(u.call.call_id for u in out if isinstance(u, c.CallEnded))
    started = Counter(u.call.call_id for u in out if isinstance(u, c.CallStarted))
    assert set(ended) == set(started)
    assert all(n == 1 for n in ended.values())


# Synthetic event soup: a handful of ids, every event type the tracker handles, in any order.
_UIDS = st.sampled_from(["1.0", "1.1", "1.2", "2.0", "2.1", "3.0"])


@st.composite
def _chans(draw: st.DrawFn) -> ev.ChannelInfo:
    uid = draw(_UIDS)
    linked = draw(st.sampled_from([uid.split(".")[0] + ".0", "2.0"]))
    state = draw(st.sampled_from([0, 4, 5, 6]))
    return _chan(uid, linked, f"PJSIP/x-{uid}", state)


_EVENTS = st.one_of(
    st.builds(ev.ChannelCreated, _chans()),
    st.builds(ev.CallerIdChanged, _chans()),
    st.builds(ev.ChannelStateChanged, _chans()),
    st.builds(ev.ChannelHungUp, _chans(), st.sampled_from([0, 16, 17, 19]), st.just("")),
    st.builds(ev.DialBegin, st.none() | _chans(), _chans(), st.just("")),
    st.builds(ev.DialEnd, st.none() | _chans(), _chans(), st.just("ANSWER")),
    st.builds(ev.BridgeEntered, st.sampled_from(["b1", "b2"]), st.just(""), st.just(1), _chans()),
    st.builds(ev.BridgeLeft, st.sampled_from(["b1", "b2"]), st.just(""), st.just(0), _chans()),
    st.builds(ev.Hold, _chans(), st.just("")),
    st.builds(ev.Unhold, _chans()),
    st.builds(ev.MusicOnHoldStarted, _chans(), st.just("")),
    st.builds(ev.MusicOnHoldStopped, _chans()),
    st.builds(ev.QueueCallerJoin, _chans(), st.just("q"), st.just(1), st.just(1)),
    st.builds(ev.QueueCallerAbandon, _chans(), st.just("q"), st.just(1), st.just(1), st.just(1.0)),
    st.builds(ev.AgentCalled, _chans(), _chans(), st.just("q"), st.just("PJSIP/a"), st.just("")),
    st.builds(
        ev.AgentConnect,
        _chans(),
        _chans(),
        st.just("q"),
        st.just("PJSIP/a"),
        st.just(""),
        st.just(1.0),
        st.just(1.0),
    ),
    st.builds(
        ev.AgentRingNoAnswer,
        _chans(),
        _chans(),
        st.just("q"),
        st.just("PJSIP/a"),
        st.just(""),
        st.just(15.0),
    ),
    st.builds(
        ev.BlindTransfer,
        st.just("Success"),
        _chans(),
        st.none() | _chans(),
        st.just("b1"),
        st.just(False),
        st.just("agents"),
        st.just("1002"),
    ),
    st.builds(
        ev.AttendedTransfer,
        st.just("Success"),
        _chans(),
        st.none() | _chans(),
        st.none() | _chans(),
        st.none() | _chans(),
        st.just("b1"),
        st.just("b2"),
        st.just("Bridge"),
        st.just("b1"),
        st.just(""),
    ),
    st.builds(ev.ChanSpyStarted, _chans(), _chans()),
    st.builds(ev.ChanSpyStopped, _chans(), st.none() | _chans()),
    st.builds(
        ev.VarSet,
        _chans(),
        st.sampled_from(["CTI_CALL_ID", "IVR_QUEUE", "AMDSTATUS"]),
        st.sampled_from(["", "x", "lab-1"]),
    ),
    st.builds(
        ev.OriginateResult,
        st.sampled_from(["a1", "a2"]),
        st.booleans(),
        st.sampled_from([0, 3, 4]),
        st.just(""),
        st.sampled_from(["", "1.0", "2.0"]),
        st.just(""),
        st.just(""),
        st.just(""),
        st.just(""),
    ),
)


def _check_segments(call: c.CallView) -> None:
    """Agent segments follow each other; only the current agent's (the last) is open."""
    segs = call.segments
    for s in segs:
        assert s.talk_s >= 0
        if s.end is not None:
            assert s.end >= s.start and s.ended_by in ("transfer", "hangup")
            assert s.talk_s <= s.end - s.start
    assert all(s.end is not None for s in segs[:-1])
    for a, b in zip(segs, segs[1:], strict=False):
        assert a.end is not None and b.start >= a.start
    if segs and segs[-1].end is None:
        assert call.agent is not None and call.active


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(_EVENTS, max_size=40),
    resync=st.none() | st.lists(_chans(), max_size=3),
    directory=st.booleans(),
)
def test_synthetic_event_soup_keeps_the_tracker_consistent(
    events: list[ev.CtiEvent], resync: list[ev.ChannelInfo] | None, directory: bool
) -> None:
    # With a directory every "PJSIP/x" phone is a user's: desk-phone calls, agents by bridge.
    t = c.CallTracker(user_for=(lambda d: "ux" if d == "PJSIP/x" else "") if directory else None)
    t.expect_originate("a1", now=0.0, channel_id="1.0")
    t.expect_originate("a2", now=0.0, cti_call_id="lab-1", kind="click_to_dial",
                       device="PJSIP/x", user="ux")
    out: list[c.CallUpdate] = []
    for i, e in enumerate(events):
        out.extend(t.apply(e, float(i)))
    if resync is not None:
        snaps = [ev.ChannelSnapshot(ch, "", "", 1, "", "") for ch in resync]
        out.extend(t.reconcile(snaps, 100.0))
    ended: set[str] = set()
    started: set[str] = set()
    for u in out:
        if isinstance(u, c.OriginateFailed):
            continue
        cid = u.call.call_id
        assert cid not in ended, f"{type(u).__name__} after CallEnded for {cid}"
        if isinstance(u, c.CallStarted):
            assert cid not in started
            started.add(cid)
        else:
            assert cid in started
        _check_segments(u.call)
        if isinstance(u, c.CallEnded):
            ended.add(cid)
            assert all(leg.ended_at is not None for leg in u.call.legs)
            assert all(seg.end is not None for seg in u.call.segments)
    active = {v.call_id for v in t.active_calls()}
    assert active == started - ended
    for view in t.active_calls():
        live = [leg for leg in view.legs if leg.ended_at is None]
        assert live, "an active call without a live leg"
        for leg in live:
            assert t.call_id_for(leg.uniqueid) == view.call_id
    if resync is not None:
        assert {t.call_id_for(ch.uniqueid) for ch in resync} <= active | {None}


def test_dial_begin_and_end_are_reported_on_the_dialling_legs_call() -> None:
    # An ACD caller (9.0) dials an agent whose leg (9.1) the tracker already knows: both dial
    # messages carry the caller's call id, the channels and the status.
    t = c.CallTracker()
    caller = _chan("9.0", "9.0", "PJSIP/carrier-00000003")
    agent = _chan("9.1", "9.0", "PJSIP/1001-00000004", ev.STATE_RINGING)
    t.apply(ev.ChannelCreated(caller), 1.0)
    began = [u for u in t.apply(ev.DialBegin(caller, agent, "PJSIP/1001"), 2.0)
             if isinstance(u, c.CallDialBegan)]
    assert [(u.call_id, u.caller_channel, u.dest_uniqueid, u.dest_channel) for u in began] == [
        ("9.0", "PJSIP/carrier-00000003", "9.1", "PJSIP/1001-00000004")]
    (ended,) = [u for u in t.apply(ev.DialEnd(caller, _chan("9.1", "9.0", agent.channel),
                                              "ANSWER"), 3.0)
                if isinstance(u, c.CallDialEnded)]
    assert (ended.call_id, ended.caller_channel, ended.dial_status) == (
        "9.0", "PJSIP/carrier-00000003", "ANSWER")
    # A DialEnd for channels the tracker never saw alive makes nothing.
    ghost = _chan("7.0", "7.0", "PJSIP/carrier-9")
    assert t.apply(ev.DialEnd(ghost, _chan("7.1", "7.0", "PJSIP/1002-9"), "BUSY"), 4.0) == []
