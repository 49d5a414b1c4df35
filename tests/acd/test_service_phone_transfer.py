"""An ACD call the agent transfers with the phone's own keys (a SIP REFER), replayed from the AMI
of a real Asterisk 22.9.0 (tests/data/ami-lab-22.9.0/phone_*_transfer.ami.raw, the lab's
scripts/asterisk_lab_features.py) through the real call tracker into the ACD, whose caller's
FastAGI session is a fake one blocked in Dial as Asterisk's is.

Attended (hold, call 2002 from the phone, transfer with Replaces): Asterisk moves the caller
into the consultation's bridge, and the caller's Dial, so the ACD's session, goes on until the
caller hangs up. The agent who transferred hung up at the transfer and must go to wrap-up then,
not stay on_call (unroutable) through the rest of someone else's conversation."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from common import messages as m
from cti import calls as c
from cti.framing import AmiFramer
from cti.parse import parse
from tests.acd.test_service_hold import BridgingSession
from tests.acd.test_service_unit import make, until

LAB = Path(__file__).resolve().parents[1] / "data" / "ami-lab-22.9.0"
USERS = {"PJSIP/2001": "load01", "PJSIP/2002": "load02"}


def updates(name: str) -> list[c.CallUpdate]:
    """The tracker's updates for a capture cut out of a longer connection (no banner)."""
    tracker = c.CallTracker(user_for=lambda device: USERS.get(device, ""))
    out: list[c.CallUpdate] = []
    now = 1000.0
    for msg in AmiFramer(1 << 20, expect_banner=False).feed((LAB / f"{name}.ami.raw").read_bytes()):
        event = parse(msg)
        if event is not None:
            now += 0.01
            out.extend(tracker.apply(event, now))
    return out


class CallerSession(BridgingSession):
    """The caller of the capture: its channel and uniqueid (= the call's Linkedid)."""

    def __init__(self, uniqueid: str, channel: str) -> None:
        super().__init__(uniqueid)
        self.channel = channel


async def replay_into_acd(name: str, call_id: str, channel: str, *,
                         dial_returns_at_transfer: bool = False) -> tuple[Any, Any, list[Any]]:
    svc, _clock = make()
    published: list[Any] = []
    publish = svc.bus.publish

    def record(msg: Any) -> None:
        published.append(msg)
        publish(msg)

    svc.bus.publish = record  # type: ignore[method-assign]
    svc.agent_login("load01", "2001", skills={"support": 1})
    s = CallerSession(call_id, channel)
    task = asyncio.create_task(svc.queue_call(s, queue="support", number="+12125550902"))  # type: ignore[arg-type]
    await until(lambda: s.in_bridge)
    assert "EXEC Dial PJSIP/2001,15" in s.commands
    seen: list[str] = []
    for u in updates(name):
        svc.on_call_update(u)
        if u.call_id == call_id:
            seen.append(type(u).__name__)
        if isinstance(u, m.CallAnswered) and u.call_id == call_id:
            assert str(svc.engine.agent("load01").state) == "on_call"
        if isinstance(u, m.CallTransferred) and dial_returns_at_transfer:
            s.end_bridge()
            await asyncio.wait_for(task, 5)
    return svc, (s, task, seen), published


async def test_attended_transfer_from_the_phone_puts_the_agent_in_wrap_up_at_the_transfer() -> None:
    svc, (s, task, seen), published = await replay_into_acd(
        "phone_attended_transfer", "1795879302.1812", "PJSIP/carrier-00000714")
    assert "CallTransferred" in seen
    # The caller still talks to load02 (in Asterisk the Dial has not returned) ...
    assert s.in_bridge
    assert not task.done()
    # ... and load01, who hung up at the transfer, is free again (make(): wrap-up 0 s).
    assert str(svc.engine.agent("load01").state) == "available"
    ended = [x for x in published if isinstance(x, m.AcdCallEnded)]
    assert [(x.call_id, x.agent_id) for x in ended] == [("1795879302.1812", "load01")]
    s.end_bridge()  # the caller hangs up: the Dial returns
    assert await asyncio.wait_for(task, 5) == "answered"
    assert s.commands[-1] == "SET CTI_RESULT=done"
    # One answer, one end on the bus and in the statistics.
    assert [type(x).__name__ for x in published if isinstance(
        x, m.AcdCallAnswered | m.AcdCallEnded)] == ["AcdCallAnswered", "AcdCallEnded"]
    line = next(r for r in svc.report() if r.queue == "support")
    assert (line.today.answered, line.today.abandoned) == (1, 0)


async def test_blind_transfer_from_the_phone_ends_the_agents_part_once() -> None:
    # Asterisk takes the caller out of its session at a blind transfer (the caller's channel
    # continues in 2002@from-cti: the Dial returns), and the tracker reports the transfer too:
    # the agent's part must end once, not twice.
    svc, (s, task, seen), published = await replay_into_acd(
        "phone_blind_transfer", "1795879270.1809", "PJSIP/carrier-00000711",
        dial_returns_at_transfer=True)
    assert "CallTransferred" in seen
    assert task.result() == "answered"
    assert str(svc.engine.agent("load01").state) == "available"
    ended = [x for x in published if isinstance(x, m.AcdCallEnded)]
    assert [(x.call_id, x.agent_id) for x in ended] == [("1795879270.1809", "load01")]


def test_the_tracker_gives_the_call_to_the_target_and_keeps_both_segments() -> None:
    for name, call_id, kind, target in (
            ("phone_attended_transfer", "1795879302.1812", "attended", "PJSIP/2002"),
            ("phone_blind_transfer", "1795879270.1809", "blind", "2002@from-cti")):
        out = updates(name)
        (transfer,) = [u for u in out if isinstance(u, c.CallTransferred)]
        assert (transfer.transfer.kind, transfer.transfer.from_agent, transfer.transfer.target,
                transfer.transfer.result) == (kind, "load01", target, "Success")
        (end,) = [u for u in out if isinstance(u, c.CallEnded) and u.call_id == call_id]
        assert end.call.agent is not None and end.call.agent.user == "load02"
        assert [(x.user, x.ended_by) for x in end.call.segments] == [("load01", "transfer"),
                                                                      ("load02", "hangup")]
