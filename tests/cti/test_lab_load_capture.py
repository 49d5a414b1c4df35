"""The parser and the call tracker against the AMI bytes of a load run on a real Asterisk 22.9.0
(scripts/asterisk_lab_load.py: 300 callers through [from-carrier], the IVR and the ACD's queue,
up to 60 at once, 30 agents on pjsua desk phones 2001..2030; tests/data/ami-lab-22.9.0/README.md).
Its first half (cut at a message boundary, xz-compressed): 184 callers arrived, 124 ended, and the
60 still up at the cut are the peak of the run."""

from __future__ import annotations

import lzma
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from cti import calls as c
from cti.framing import AmiFramer
from cti.parse import _DISPATCH, parse  # noqa: PLC2701 (which event names the parser handles)

CAPTURE = (Path(__file__).resolve().parents[1] / "data" / "ami-lab-22.9.0"
           / "load_60_callers.ami.raw.xz")
USERS = {f"PJSIP/{2000 + n}": f"load{n:02d}" for n in range(1, 49)}


@pytest.fixture(scope="module")
def messages() -> list[dict[str, str]]:
    return [dict(m) for m in AmiFramer(1 << 20).feed(lzma.decompress(CAPTURE.read_bytes()))]


@pytest.fixture(scope="module")
def replay(messages: list[dict[str, str]]) -> tuple[c.CallTracker, list[c.CallUpdate]]:
    tracker = c.CallTracker(user_for=lambda device: USERS.get(device, ""),
                            max_ended=10_000, ended_retention_s=1e9)
    out: list[c.CallUpdate] = []
    now = 1000.0
    for msg in messages:
        event = parse(msg)  # type: ignore[arg-type]
        if event is not None:
            now += 0.01
            out.extend(tracker.apply(event, now))
    return tracker, out


def test_every_event_the_parser_knows_parses(messages: list[dict[str, str]]) -> None:
    known = [m for m in messages if m.get("Event") in _DISPATCH]
    failed = Counter(m["Event"] for m in known if parse(m) is None)  # type: ignore[arg-type]
    assert len(known) == 8287
    assert failed == Counter()


def test_each_inbound_call_is_answered_and_ended_once_by_one_agent(
        replay: tuple[c.CallTracker, list[c.CallUpdate]]) -> None:
    tracker, updates = replay
    per: dict[str, Counter[str]] = defaultdict(Counter)
    ended: dict[str, c.CallView] = {}
    for u in updates:
        per[u.call_id][type(u).__name__] += 1
        if isinstance(u, c.CallEnded):
            ended[u.call_id] = u.call
    inbound = {cid: v for cid, v in ended.items()
               if any(leg.channel.startswith("PJSIP/carrier-") for leg in v.legs)}
    assert len(inbound) == 124
    outcomes: Counter[str] = Counter()
    for cid, view in inbound.items():
        assert per[cid]["CallStarted"] == 1
        assert per[cid]["CallEnded"] == 1
        assert view.direction is c.Direction.INBOUND
        agent_legs = [leg.channel for leg in view.legs if leg.channel.startswith("PJSIP/20")]
        if per[cid]["CallAnswered"]:
            outcomes["answered"] += 1
            assert per[cid]["CallAnswered"] == 1
            assert view.agent is not None
            assert len(view.segments) == 1
            seg = view.segments[0]
            # the agent is the phone of the call's agent leg, and that user
            assert seg.user == USERS[seg.device]
            assert any(ch.startswith(seg.device + "-") for ch in agent_legs)
            assert view.answered_at is not None
            assert view.ended_at is not None
            assert view.ended_at >= view.answered_at
        else:
            outcomes["not answered"] += 1
            assert view.segments == ()
    # the run's own figures: most callers reached an agent, some gave up first
    assert outcomes == Counter({"answered": 113, "not answered": 11})


def test_the_calls_up_at_the_cut_are_exactly_those_still_up(
        messages: list[dict[str, str]], replay: tuple[c.CallTracker, list[c.CallUpdate]]) -> None:
    # Read straight from the bytes: carrier legs with a Newchannel and no Hangup.
    started = {m["Channel"]: m["Linkedid"] for m in messages
               if m.get("Event") == "Newchannel" and m["Channel"].startswith("PJSIP/carrier-")}
    hung = {m["Channel"] for m in messages if m.get("Event") == "Hangup"}
    up = {linkedid for chan, linkedid in started.items() if chan not in hung}
    assert len(started) == 184
    assert len(up) == 60
    tracker, _ = replay
    live = {v.call_id for v in tracker.active_calls()
            if any(leg.channel.startswith("PJSIP/carrier-") for leg in v.legs)}
    assert live == up


def test_the_load_drivers_own_legs_are_outbound_originates(
        replay: tuple[c.CallTracker, list[c.CallUpdate]]) -> None:
    # Asterisk calling itself (PJSIP/labload-...) as the carrier: other AMI clients' Originates,
    # never an agent's call.
    _, updates = replay
    views = {u.call_id: u.call for u in updates if isinstance(u, c.CallEnded)}
    driver = [v for v in views.values()
              if any(leg.channel.startswith("PJSIP/labload-") for leg in v.legs)]
    assert len(driver) == 124
    assert {(v.direction, v.origin) for v in driver} == {(c.Direction.OUTBOUND,
                                                           c.OriginKind.ORIGINATE)}
    assert all(v.agent is None for v in driver)
