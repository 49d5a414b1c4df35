"""Adopting calls after a restart, from the resync bytes Asterisk 22.9 sends.

Found in the lab (docs/asterisk.md, "Verified against Asterisk 22.9.0"): a restarted server
recorded the adopted call's answer at the time of its resync (wait 20 s recorded for ~10 s) and,
for a caller the IVR had not routed yet, no queue. The lab captures hold no restart, so the
resync here is hand-built in their exact format: the login exchange is the real bytes of
tests/data/ami-lab-22.9.0/rest_attended_transfer.ami.raw, and each CoreShowChannel row has the
fields, in the order, of Asterisk 22.9's action_coreshowchannels (main/manager.c) as seen in
tests/data/ami-transcripts/actions.ami.raw (ActionID first, Duration "HH:MM:SS", BridgeId).
"""

from __future__ import annotations

from pathlib import Path

from acd.continuity import ANSWER_ESTIMATED, record_note
from acd.follow import Answered, CallFollower, FollowedCall, answer_estimate
from cti.events import ChannelSnapshot
from cti.framing import AmiFramer
from cti.parse import parse

LAB = Path(__file__).resolve().parents[1] / "data" / "ami-lab-22.9.0"
T = "PJSIP/{extension}"
BRIDGE = "3587f51b-0451-4802-a380-bd82d88007d7"  # a bridge id from the lab capture
NOW = 1_795_500_000.0


def _login_prefix() -> bytes:
    """The real capture up to the resync's list start (banner, login, FullyBooted)."""
    raw = (LAB / "rest_attended_transfer.ami.raw").read_bytes()
    end = raw.index(b"Message: Channels will follow\r\n\r\n") + len(
        b"Message: Channels will follow\r\n\r\n")
    return raw[:end]


def _row(channel: str, uid: str, linkedid: str, app: str, data: str, duration: str,
         bridge: str, exten: str = "s") -> bytes:
    fields = [
        ("Event", "CoreShowChannel"), ("ActionID", "cti-6a298f56-2"), ("Channel", channel),
        ("ChannelState", "6"), ("ChannelStateDesc", "Up"), ("CallerIDNum", "+12125550199"),
        ("CallerIDName", ""), ("ConnectedLineNum", "1001"), ("ConnectedLineName", ""),
        ("Language", "en"), ("AccountCode", ""), ("Context", "from-carrier"), ("Exten", exten),
        ("Priority", "4"), ("Uniqueid", uid), ("Linkedid", linkedid), ("Application", app),
        ("ApplicationData", data), ("Duration", duration), ("BridgeId", bridge)]
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in fields) + b"\r\n"


def _resync(*rows: bytes) -> list[ChannelSnapshot]:
    tail = (b"Event: CoreShowChannelsComplete\r\nActionID: cti-6a298f56-2\r\n"
            b"EventList: Complete\r\nListItems: " + str(len(rows)).encode() + b"\r\n\r\n")
    events = [parse(m) for m in AmiFramer(1 << 20).feed(_login_prefix() + b"".join(rows) + tail)]
    snaps = [e for e in events if isinstance(e, ChannelSnapshot)]
    assert len(snaps) == len(rows)
    return snaps


# The caller fell back to Queue(support) (extensions.conf: `Queue(support)`) and has been
# talking to 1001 through Queue()'s member channel (Application AppQueue, app_queue.c).
CALLER = _row("PJSIP/carrier-00000013", "1795499980.38", "1795499980.38", "Queue", "support",
              "00:00:20", BRIDGE)
MEMBER = _row("PJSIP/1001-00000014", "1795499989.39", "1795499980.38", "AppQueue",
              "(Outgoing Line)", "00:00:11", BRIDGE, exten="1001")


def test_a_call_killed_mid_ivr_is_adopted_with_its_queue_and_estimated_answer() -> None:
    """The lab's kill -9 mid-IVR: the IVR's open record has no queue; at the resync the caller
    is in Queue(support), 20 s old, bridged with 1001's channel, 11 s old. The answer came when
    1001's phone began ringing or later: recorded at now - 11 s (wait 9 s), not at the resync
    (wait 20 s), and the queue is Asterisk's."""
    f = CallFollower(T)
    open_record = FollowedCall("1795499980.38", queue="", number="+12125550199",
                               offered_at=NOW - 20.0)
    [ans] = f.adopt([open_record], _resync(CALLER, MEMBER), NOW, queues={"support", "sales"})
    assert isinstance(ans, Answered) and ans.via_fallback
    call = ans.call
    assert (call.queue, call.fallback_queue, call.agent) == ("support", "support", "1001")
    assert call.answered_at == NOW - 11.0
    assert call.answered_at - (call.offered_at or 0.0) == 9.0
    assert call.answer_estimated and call.adopted
    assert ANSWER_ESTIMATED in record_note(call, ans.via_fallback)
    assert "answered in Queue(support) by extension 1001" in record_note(call, ans.via_fallback)


def test_a_stranger_that_reached_queue_while_no_server_ran() -> None:
    """The lab's second case: the server started after the call was answered in Queue(): the
    caller's age is its offer time (continuity._stranger), the member channel's age bounds its
    answer: wait 1 s here, where the resync time would have said 12."""
    caller = _row("PJSIP/carrier-00000015", "1795499988.40", "1795499988.40", "Queue",
                  "support", "00:00:12", BRIDGE)
    member = _row("PJSIP/1001-00000016", "1795499989.41", "1795499988.40", "AppQueue",
                  "(Outgoing Line)", "00:00:11", BRIDGE, exten="1001")
    snaps = _resync(caller, member)
    stranger = FollowedCall("1795499988.40", queue="support", number="+12125550199",
                            offered_at=NOW - snaps[0].duration_s, fallback_queue="support",
                            adopted=True)
    [ans] = CallFollower(T).adopt([stranger], snaps, NOW, queues={"support"})
    assert isinstance(ans, Answered)
    assert ans.call.answered_at == NOW - 11.0 and ans.call.offered_at == NOW - 12.0


def test_a_queue_the_acd_does_not_have_is_kept_only_as_the_fallback_queue() -> None:
    caller = _row("PJSIP/carrier-00000013", "1795499980.38", "1795499980.38", "Queue",
                  "overflow,t,,,300", "00:00:05", "")
    f = CallFollower(T)
    assert f.adopt([FollowedCall("1795499980.38", "", "+1", NOW - 5.0)], _resync(caller), NOW,
                   queues={"support"}) == []
    [call] = f.calls()
    assert (call.queue, call.fallback_queue, call.answered_at) == ("", "overflow", None)


def test_the_estimate_never_precedes_the_caller_nor_follows_now() -> None:
    caller, member = _resync(
        _row("PJSIP/carrier-1", "1.1", "1.1", "Queue", "support", "00:00:05", BRIDGE),
        # An agent channel older than the caller (a transferred call) proves nothing earlier.
        _row("PJSIP/1001-2", "0.9", "0.9", "AppDial", "(Outgoing Line)", "00:01:00", BRIDGE))
    assert answer_estimate(caller, member, NOW) == NOW - 5.0
    assert answer_estimate(caller, member, NOW, offered_at=NOW - 3.0) == NOW - 3.0
    assert answer_estimate(caller, member, NOW, offered_at=NOW + 2.0) == NOW


def test_a_call_answered_before_the_restart_keeps_its_seen_answer_time() -> None:
    f = CallFollower(T)
    seen = FollowedCall("1795499980.38", "support", "+1", NOW - 20.0, answered_at=NOW - 10.5)
    assert f.adopt([seen], _resync(CALLER, MEMBER), NOW, queues={"support"}) == []
    [call] = f.calls()
    assert (call.answered_at, call.answer_estimated, call.agent) == (NOW - 10.5, False, "1001")
