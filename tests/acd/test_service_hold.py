"""AcdService's hold of its own callers, against a fake AGI session whose Dial and Bridge block
like Asterisk's: the AGI commands and AMI actions out, the agent's state, the statistics."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import structlog

from acd.errors import HoldConflict
from acd.hold import HoldState
from common import messages as m
from cti.errors import AgiHangup, AmiConnectionError
from tests.acd.test_service_unit import FakeSession, make, until
from tests.common.samples import call_view

AGENT = "PJSIP/1001-00000007"


class BridgingSession(FakeSession):
    """Dial and Bridge block until `end_bridge()` (the bridge ended: a redirect or a hang-up);
    BRIDGERESULT is scripted."""

    def __init__(self, uniqueid: str) -> None:
        super().__init__(uniqueid)
        self.bridge_ended = asyncio.Event()
        self.bridge_result = "SUCCESS"
        self.in_bridge = False

    def end_bridge(self) -> None:
        self.bridge_ended.set()

    async def exec(self, app: str, *args: str) -> int:
        await super().exec(app, *args)
        if app == "Bridge" and self.bridge_result != "SUCCESS":
            return 0
        self.in_bridge = True
        await self.bridge_ended.wait()
        self.bridge_ended.clear()
        self.in_bridge = False
        self._check()
        return 0

    async def get_variable(self, name: str) -> str | None:
        if name == "BRIDGERESULT":
            return self.bridge_result
        return await super().get_variable(name)


class RecordingAmi:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, action: Any) -> Any:
        self.sent.append(action)
        return {"Response": "Success"}


async def connected(ami: Any = None) -> tuple[Any, BridgingSession, asyncio.Task[str], str]:
    svc, _clock = make(ami=ami if ami is not None else RecordingAmi())
    present: dict[str, bool] = {AGENT: True}
    svc.channel_alive = lambda call_id, channel: present.get(channel)
    svc.present = present  # type: ignore[attr-defined]
    svc.agent_login("alice", "1001", skills={"support": 1})
    s = BridgingSession("5.1")
    task = asyncio.create_task(svc.queue_call(s, queue="support", number="+12025550000"))  # type: ignore[arg-type]
    await until(lambda: s.in_bridge)
    view = call_view("5.1")
    # What the tracker reports of the Dial: the agent's leg rings, then answers.
    svc.on_call_update(m.CallDialBegan(view, s.channel, "5.2", AGENT))
    svc.on_call_update(m.CallDialEnded(view, s.channel, "5.2", AGENT, "ANSWER"))
    assert str(svc.engine.agent("alice").state) == "on_call"
    return svc, s, task, s.channel


async def test_hold_redirects_the_agent_music_then_bridge_and_one_answer() -> None:
    with structlog.testing.capture_logs() as logs:
        await hold_and_resume_once()
    (summary,) = [e for e in logs if e["event"] == "acd_call_holds"]
    assert (summary["call_id"], summary["agent_id"], summary["holds"]) == ("5.1", "alice", 1)
    assert summary["held_s"] >= 0


async def hold_and_resume_once() -> None:
    svc, s, task, channel = await connected()
    action_id = await svc.hold_call(channel, True)
    (redirect,) = svc.ami.sent
    assert redirect.action_id == action_id
    assert (redirect.name, redirect.get("Channel"), redirect.get("Context"),
            redirect.get("Exten")) == ("Redirect", AGENT, "cti-hold", "agent")
    assert redirect.get("ExtraChannel") is None  # the caller's channel stays with its session
    with pytest.raises(HoldConflict, match="already being put on hold"):
        await svc.hold_call(channel, True)
    s.end_bridge()  # Asterisk: the agent left the bridge, the caller's Dial returns
    await until(lambda: "MUSIC True" in s.commands)
    assert str(svc.engine.agent("alice").state) == "on_call"
    assert svc.holds_channel(channel)
    with pytest.raises(HoldConflict, match="already on hold"):
        await svc.hold_call(channel, True)
    assert await svc.hold_call(channel, False) == ""
    await until(lambda: s.in_bridge)
    assert s.commands[-2:] == ["MUSIC False", f"EXEC Bridge {AGENT},x"]
    with pytest.raises(HoldConflict, match="not on hold"):
        await svc.hold_call(channel, False)
    s.end_bridge()  # the conversation is over
    assert await asyncio.wait_for(task, 5) == "answered"
    assert s.commands[-1] == "SET CTI_RESULT=done"
    assert len(svc.ami.sent) == 1  # nothing else sent: nobody hung up by the server
    assert str(svc.engine.agent("alice").state) == "available"  # make(): wrapup_s=0
    line = next(r for r in svc.report() if r.queue == "support")
    assert (line.today.answered, line.today.abandoned) == (1, 0)


async def test_agent_gone_while_held_says_goodbye_and_ends_the_call() -> None:
    svc, s, task, channel = await connected()
    await svc.hold_call(channel, True)
    s.end_bridge()
    await until(lambda: "MUSIC True" in s.commands)
    svc.present[AGENT] = False  # the tracker saw the agent's leg hang up
    assert await asyncio.wait_for(task, 5) == "answered"
    assert s.commands[-3:] == ["MUSIC False", "STREAM vm-goodbye", "SET CTI_RESULT=done"]
    assert not any(c.startswith("EXEC Bridge") for c in s.commands)
    assert str(svc.engine.agent("alice").state) == "available"  # make(): wrapup_s=0


async def test_caller_gone_while_held_hangs_up_the_agent_in_cti_hold() -> None:
    svc, s, task, channel = await connected()
    await svc.hold_call(channel, True)
    s.end_bridge()
    await until(lambda: "MUSIC True" in s.commands)
    s.hang_up_now = True
    await asyncio.wait_for(task, 5)
    await until(lambda: len(svc.ami.sent) == 2)
    hangup = svc.ami.sent[1]
    assert (hangup.name, hangup.get("Channel")) == ("Hangup", AGENT)
    assert str(svc.engine.agent("alice").state) == "available"  # make(): wrapup_s=0
    line = next(r for r in svc.report() if r.queue == "support")
    assert (line.today.answered, line.today.abandoned) == (1, 0)


async def test_redirect_not_sent_leaves_the_call_talking() -> None:
    class DownAmi:
        async def send(self, action: Any) -> Any:
            raise AmiConnectionError("not connected")

    svc, s, task, channel = await connected(DownAmi())
    with pytest.raises(AmiConnectionError):
        await svc.hold_call(channel, True)
    caller = next(iter(svc._callers.values()))
    assert caller.hold.state is HoldState.TALKING and caller.hold.holds == 0
    s.end_bridge()  # no hold asked: the Dial's end is the call's end
    assert await asyncio.wait_for(task, 5) == "answered"
    assert not any("MUSIC True" == c for c in s.commands[-3:])


async def test_hold_of_a_channel_the_acd_does_not_hold_is_refused() -> None:
    svc, _ = make(ami=RecordingAmi())
    with pytest.raises(HoldConflict):
        await svc.hold_call("PJSIP/carrier-0000ff", True)
    assert svc.ami.sent == []


async def test_resume_bridge_to_a_vanished_agent_ends_the_call() -> None:
    svc, s, task, channel = await connected()
    await svc.hold_call(channel, True)
    s.end_bridge()
    await until(lambda: "MUSIC True" in s.commands)
    s.bridge_result = "NONEXISTENT"
    await svc.hold_call(channel, False)
    assert await asyncio.wait_for(task, 5) == "answered"
    assert s.commands[-3:] == [f"EXEC Bridge {AGENT},x", "STREAM vm-goodbye",
                               "SET CTI_RESULT=done"]


_ = AgiHangup  # the fake session raises it when hang_up_now is set
