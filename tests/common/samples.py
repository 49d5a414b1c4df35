"""One example instance of every bus message type (common.messages), for tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from acd.model import AgentState
from common import messages as m
from cti.call_views import (
    CallView,
    Direction,
    LegView,
    OriginKind,
    RingNoAnswerView,
    TransferView,
)
from cti.ownership import AgentRef, AgentSegment


def call_view(call_id: str = "1700000000.1", **over: Any) -> CallView:
    v = CallView(
        call_id=call_id, direction=Direction.INBOUND, origin=OriginKind.NONE, cti_call_id="",
        originate_action_id="",
        originate_reason=None, caller_num="+12025550100", caller_name="Ann", dialled="",
        queue="support", agent=AgentRef("alice", "PJSIP/1001", "PJSIP/1001-0001", "Alice", 3.0),
        segments=(AgentSegment("alice", "PJSIP/1001", "PJSIP/1001-0001", 3.0, None, 0.0, ""),),
        far_status="", offered_at=1.0, queued_at=2.0, answered_at=4.0, ended_at=None,
        hangup_cause=None, hangup_cause_txt="", end_reason="", abandoned=False, amd_status="",
        amd_cause="", supervisors=("PJSIP/1009-0002",),
        transfers=(TransferView("blind", 5.0, "alice", "2000", "Success", by="bob"),),
        ring_no_answers=(RingNoAnswerView("PJSIP/1002", "bob", 15.0, 2.5),),
        legs=(LegView(call_id, "PJSIP/carrier-0001", "PJSIP/carrier", 6, "Up", "+12025550100",
                      "Ann", 1.0, 1.5, None, None, False, "b-1"),),
    )
    return replace(v, **over)


def transferred(call_id: str, queue: str, target: str) -> m.CallTransferred:
    view = call_view(call_id, queue=queue)
    return m.CallTransferred(view, TransferView("blind", 5.0, "alice", target, "Success"))


def one_of_each() -> list[m.Message]:
    v = call_view()
    ivr = m.IvrContext("main", 2, ("identify", "to_agent"), (("main", "0"),), "en", 3.25)
    return [
        m.CallStarted(v), m.CallDirectionChanged(v), m.CallRinging(v, "1.2", "PJSIP/1001"),
        m.CallQueued(v, "support", "ivr"), m.CallOfferedToAgent(v, "PJSIP/1001", "alice"),
        m.CallAgentNoAnswer(v, "PJSIP/1002", 15.0),
        m.CallDialBegan(v, "PJSIP/carrier-0001", "1.2", "PJSIP/1001-0001"),
        m.CallDialEnded(v, "PJSIP/carrier-0001", "1.2", "PJSIP/1001-0001", "ANSWER"),
        m.CallAnswered(v), m.CallHeld(v, "1.2"),
        m.CallUnheld(v, "1.2"), m.CallTransferred(v, v.transfers[0]),
        m.CallAgentChanged(v, "bob", "PJSIP/1002"),
        m.CallVariable(v, "1.2", "AMDSTATUS", "HUMAN"),
        m.CallMonitorStarted(v, "PJSIP/1009-0002", "1.9"),
        m.CallMonitorStopped(v, "PJSIP/1009-0002", "1.9"), m.CallEnded(v, "completed"),
        m.OriginateFailed("a-1", 5, None, OriginKind.CLICK_TO_DIAL, "c2d-1", "+12025550101",
                          "alice", "PJSIP/1001", 9.5),
        m.CallDialling("c2d-1", "a-1", OriginKind.CLICK_TO_DIAL, "alice", "PJSIP/1001",
                       "+12025550101", 9.5),
        m.PbxConnected("Asterisk Call Manager/9.0.0"), m.PbxConnectionLost("eof"),
        m.PbxResynced(3),
        m.AcdCallQueued("1.1", "PJSIP/carrier-0001", "support", "gold", "+12025550100", 7, ivr),
        m.AcdCallOffered("1.1", "PJSIP/carrier-0001", "alice", "support", "+12025550100",
                         "gold", 7, ivr),
        m.AcdCallAnswered("1.1", "PJSIP/carrier-0001", "alice", "support", "+12025550100"),
        m.AcdCallEnded("1.1", "PJSIP/carrier-0001", "alice"),
        m.AcdCallAbandoned("1.1", "PJSIP/carrier-0001", "support"),
        m.AcdCallOverflowed("1.1", "support", "sales"),
        m.AcdCallRemoved("1.1", "support", "completed", "alice", 12.5),
        m.AcdCallHandedBack("1.1", "PJSIP/carrier-0001", "server stopping"),
        m.AcdAgentState("alice", AgentState.AVAILABLE, AgentState.PAUSED, "lunch"),
        m.AcdCallbackFailed("1.1", "+12025550100", "customer did not answer (BUSY)"),
        m.IvrReloaded(False, 1, "menus.toml: [nodes.x] unknown type"),
        m.IvrEnded("1.1", "PJSIP/carrier-0001", "main", 1, "self_service", "goodbye",
                   ("identify", "goodbye"), 12.0, None),
        m.DialerCampaignChanged(4, "active"), m.DialerAttemptOutcome(4, 17, "busy"),
        m.DialerCampaignStats(1_750_000_000.0, 4, "Renewals", "active", "predictive", 1.8,
                              "predictive", 12, 1, 0, 340, 210, 3, 0.01429, 4100, 61, 0.01488),
        m.DialerDisposition(4, "dl4-17-2-9", 17, "sale", "done", "alice"),
        m.CrmUserUpdated(3, "alice", False, "agent"), m.CrmUserDeleted(3, "alice"),
        m.CrmTicketEscalated(11, 7),
    ]
