"""One structured info line per offer, answer, ring-no-answer pause, abandon and hand-back, each
with the call and agent ids (through the simulator); warnings never have an empty message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog

from cti.ami import describe_error
from cti.simulator import PhoneBehaviour

from .test_service_e2e import overall, running_stack, wait_for


def lines(logs: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == event]


async def test_offer_rona_and_answer_lines(tmp_path: Path) -> None:
    with structlog.testing.capture_logs() as logs:
        async with running_stack(tmp_path) as s:
            s.sim.set_phone("1001", PhoneBehaviour(answers=False))
            s.login("alice", "1001")
            s.login("bob", "1002")
            h = await s.sim.place_inbound_call("+12025550102", dtmf="1")
            await h.wait(within=20)
            await wait_for(lambda: overall(s).window.answered == 1)
    cid = h.uniqueid
    assert [(e["call_id"], e["agent_id"], e["log_level"]) for e in lines(logs, "offer")][:2] == [
        (cid, "alice", "info"), (cid, "bob", "info")]
    [rona] = lines(logs, "rona_pause")
    assert (rona["call_id"], rona["agent_id"], rona["dial_status"]) == (cid, "alice", "NOANSWER")
    [answered] = lines(logs, "answered")
    assert (answered["call_id"], answered["agent_id"], answered["queue"]) == (cid, "bob",
                                                                               "support")


async def test_abandon_and_handback_lines(tmp_path: Path) -> None:
    with structlog.testing.capture_logs() as logs:
        async with running_stack(tmp_path) as s:
            h = await s.sim.place_inbound_call("+12025550101", dtmf="1")
            await wait_for(lambda: len(s.engine.calls()) == 1)
            s.sim.hangup_caller(h.channel)  # abandons while queued, however slow the IVR ran
            await h.wait(within=20)
            await wait_for(lambda: overall(s).window.abandoned == 1)
            waiting = await s.sim.place_inbound_call("+12025550103", dtmf="1")
            await wait_for(lambda: len(s.engine.calls()) == 1)
            await s.acd.drain()  # stop begins: the waiting caller is handed back
            await wait_for(lambda: s.sim.truth[waiting.uniqueid].fell_back)
            s.sim.hangup_caller(waiting.channel)
    [abandon] = lines(logs, "abandon")
    assert (abandon["call_id"], abandon["queue"], abandon["agent_id"]) == (h.uniqueid, "support",
                                                                           None)
    [handback] = lines(logs, "handback")
    assert (handback["call_id"], handback["reason"]) == (waiting.uniqueid, "server stopping")
    assert "agent_id" in handback
    assert all(e["event"] for e in logs)


def test_a_warning_names_the_error_even_when_it_has_no_text() -> None:
    assert describe_error(TimeoutError()) == "TimeoutError"
    assert describe_error(ConnectionResetError()) == "ConnectionResetError"
    assert describe_error(OSError(111, "Connection refused")) == "[Errno 111] Connection refused"
