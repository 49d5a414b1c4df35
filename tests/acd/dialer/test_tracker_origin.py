"""The dialer's calls are the dialer's in the call tracker. On a real Asterisk 22.9.0 (the lab's
predictive campaign, tests/data/ami-lab-22.9.0/dialer_predictive_three_lines.ami.raw: three
lines at once, each answered by a person and bridged to an agent) the dialer had not announced
its Originates, and the tracker took them for another AMI client's: origin "originate" in
GET /api/calls, "originate call" in the CRM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cti import calls as c
from cti.framing import AmiFramer
from cti.parse import parse
from tests.acd.dialer.conftest import World

LAB = Path(__file__).resolve().parents[2] / "data" / "ami-lab-22.9.0"
USERS = {"PJSIP/2001": "load01", "PJSIP/2002": "load02", "PJSIP/2003": "load03"}
LINES = {"dl2-9-1-9": "+12125559000", "dl2-10-1-10": "+12125559001",
         "dl2-11-1-11": "+12125559002"}


def replay(expect: bool) -> dict[str, c.CallView]:
    tracker = c.CallTracker(user_for=lambda device: USERS.get(device, ""))
    if expect:  # what DialerService now does before each Originate
        for call_id, number in LINES.items():
            tracker.expect_originate(f"orig-{call_id}", now=999.0, channel_id=call_id,
                                     cti_call_id=call_id, kind=c.OriginKind.DIALER,
                                     dialled=number)
    ended: dict[str, c.CallView] = {}
    now = 1000.0
    data = (LAB / "dialer_predictive_three_lines.ami.raw").read_bytes()
    for msg in AmiFramer(1 << 20, expect_banner=False).feed(data):
        event = parse(msg)
        if event is not None:
            now += 0.01
            for u in tracker.apply(event, now):
                if isinstance(u, c.CallEnded):
                    ended[u.call_id] = u.call
    return ended


def test_announced_lines_are_dialer_calls_with_their_agents() -> None:
    ended = replay(expect=True)
    assert set(ended) == set(LINES)
    for call_id, view in ended.items():
        assert (view.direction, view.origin) == (c.Direction.OUTBOUND, c.OriginKind.DIALER)
        assert view.dialled == LINES[call_id]
        assert view.answered_at is not None
        assert view.agent is not None and view.agent.user in USERS.values()
    assert {v.agent.user for v in ended.values() if v.agent} == {"load01", "load02", "load03"}


def test_unannounced_they_look_like_another_clients_originates() -> None:
    # What the lab showed before the fix (kept: the difference is the announcement).
    assert {v.origin for v in replay(expect=False).values()} == {c.OriginKind.ORIGINATE}


async def test_each_paced_line_is_announced_before_its_originate(world: World) -> None:
    told: list[tuple[str, dict[str, Any]]] = []
    sent_before: list[int] = []

    def expect(action_id: str, **kw: Any) -> None:
        sent_before.append(len(world.ami.sent))
        told.append((action_id, kw))

    world.dialer.before_originate = expect
    await world.dialer.control(world.campaign_id, "start")
    await world.dialer.tick()
    assert len(world.ami.sent) == 2
    assert [a for a, _ in told] == [a.action_id for a in world.ami.sent]
    assert sent_before == [0, 1]  # each announced before it went out
    for action, (_, kw) in zip(world.ami.sent, told, strict=True):
        call_id = action.action_id.removeprefix("orig-")
        assert kw == {"channel_id": call_id, "cti_call_id": call_id,
                      "kind": c.OriginKind.DIALER,
                      "dialled": action.get("Channel").removeprefix("PJSIP/").split("@")[0]}
