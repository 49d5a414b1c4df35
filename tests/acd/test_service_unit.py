"""AcdService against a scripted fake AGI session: the adapter's own decisions, without sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from acd.engine import AcdEngine
from acd.service import AcdService
from common.bus import Bus
from common.clock import ManualClock
from common.messages import AcdCallAbandoned
from config.acd import AcdSettings, EscalationStep, QueueSettings
from config.settings import Settings
from cti.agi_codec import AgiReply
from cti.errors import AgiCommandError, AgiHangup


class FakeSession:
    """Records commands; prompts can be made to fail; Dial answers with a scripted status."""

    def __init__(self, uniqueid: str, *, dial_status: str = "ANSWER",
                 broken_prompts: frozenset[str] = frozenset()) -> None:
        self.env = {"agi_callerid": "+12025550000", "agi_uniqueid": uniqueid}
        self.args: dict[str, str] = {}
        self.channel = f"PJSIP/carrier-{uniqueid}"
        self.uniqueid = uniqueid
        self.commands: list[str] = []
        self.dial_status = dial_status
        self.broken = broken_prompts
        self.hang_up_now = False
        self.hung_up = False
        self.on_stream: dict[str, Any] = {}
        self.press: str | None = None  # the next WAIT FOR DIGIT returns this digit

    def _check(self) -> None:
        if self.hang_up_now:
            raise AgiHangup("caller hung up")

    async def answer(self) -> None:
        self.commands.append("ANSWER")

    async def set_music(self, on: bool, class_: str = "default") -> None:
        self._check()
        self.commands.append(f"MUSIC {on}")

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        self._check()
        await asyncio.sleep(0.001)
        digit, self.press = self.press, None
        return digit

    async def stream_file(self, file: str, escape_digits: str = "") -> str | None:
        self._check()
        self.commands.append(f"STREAM {file}")
        if file in self.on_stream:
            self.on_stream.pop(file)()
        if file in self.broken:
            raise AgiCommandError(f"STREAM FILE {file}", AgiReply(200, "-1", text="200 result=-1"),
                                  "failed")
        return None

    async def command(self, line: str) -> AgiReply:
        self._check()
        self.commands.append(line)
        return AgiReply(200, "0", text="200 result=0")

    async def exec(self, app: str, *args: str) -> int:
        self._check()
        self.commands.append(f"EXEC {app} {','.join(args)}")
        return 0

    async def get_variable(self, name: str) -> str | None:
        return self.dial_status if name == "DIALSTATUS" else None

    async def set_variable(self, name: str, value: str) -> None:
        self.commands.append(f"SET {name}={value}")

    async def hangup(self) -> None:
        self.commands.append("HANGUP")


def make(announce_every_s: float = 0.0, max_wait_s: float = 300.0, crm: Any = None,
         ami: Any = None) -> tuple[AcdService, ManualClock]:
    q = QueueSettings(name="support", skills=["support"], wrapup_s=0.0,
                      announce_every_s=announce_every_s, max_wait_s=max_wait_s,
                      escalation=[EscalationStep(after_s=0, min_skill_level=1)])
    settings = Settings(acd=AcdSettings(queues=[q]))
    clock = ManualClock(100.0)
    svc = AcdService(AcdEngine(settings.acd), settings=settings, bus=Bus(), clock=clock,
                     wall=ManualClock(1.7e9), poll_ms=1, crm=crm, ami=ami)
    return svc, clock


async def until(pred: Any) -> None:
    async with asyncio.timeout(5):
        while not pred():
            await asyncio.sleep(0.001)


async def test_failed_announcement_keeps_the_caller_queued() -> None:
    svc, clock = make(announce_every_s=1.0)
    s = FakeSession("1.1", broken_prompts=frozenset({"queue-youarenext"}))
    task = asyncio.create_task(svc.queue_call(s, queue="support", number="+12025550000"))  # type: ignore[arg-type]
    await until(lambda: len(svc.engine.calls()) == 1)
    clock.advance(1.5)
    svc.feed_engine(svc.engine.tick)
    await until(lambda: "STREAM queue-youarenext" in s.commands)
    await asyncio.sleep(0.01)
    assert len(svc.engine.calls()) == 1, "the caller must still be waiting"
    svc.agent_login("alice", "1001", skills={"support": 1})
    await asyncio.wait_for(task, 5)
    assert "EXEC Dial PJSIP/1001,15" in s.commands
    report = {r.queue: r for r in svc.report()}
    assert (report["support"].today.answered, report["support"].today.abandoned) == (1, 0)


async def test_no_answer_reoffers_and_pauses_the_agent() -> None:
    svc, clock = make()
    s = FakeSession("1.2", dial_status="NOANSWER")
    svc.agent_login("alice", "1001", skills={"support": 1})
    task = asyncio.create_task(svc.queue_call(s, queue="support", number="+12025550000"))  # type: ignore[arg-type]
    await until(lambda: any(c.startswith("EXEC Dial") for c in s.commands))
    await until(lambda: str(svc.engine.agent("alice").state) == "paused")
    assert svc.engine.agent("alice").pause_reason == "missed-call"
    assert str(svc.engine.calls()[0].state) == "waiting"
    s.dial_status = "ANSWER"
    svc.agent_login("bob", "1002", skills={"support": 1})
    await asyncio.wait_for(task, 5)
    assert "EXEC Dial PJSIP/1002,15" in s.commands


async def test_hangup_while_waiting_is_an_abandon_not_an_answer() -> None:
    svc, clock = make()
    s = FakeSession("1.3")
    abandoned = svc.bus.subscribe(AcdCallAbandoned.TOPIC)
    task = asyncio.create_task(svc.queue_call(s, queue="support", number="+12025550000"))  # type: ignore[arg-type]
    await until(lambda: len(svc.engine.calls()) == 1)
    s.hang_up_now = True
    await asyncio.wait_for(task, 5)
    assert abandoned.get_nowait().message.call_id == "1.3"
    assert svc.engine.calls() == ()
    assert {r.queue: r for r in svc.report()}["support"].today.abandoned == 1


async def test_the_acd_call_id_is_the_trackers_and_the_channel_rides_along() -> None:
    # A caller whose AGI channel is not the call's first one (transferred into the queue):
    # every ACD message and the engine use the tracker's call id (the Linkedid).
    svc, clock = make()
    svc.call_id_for = {"1.8": "1.5"}.get
    s = FakeSession("1.8")
    sub = svc.bus.subscribe("acd.call.")
    task = asyncio.create_task(svc.queue_call(s, queue="support", number="+12025550000"))  # type: ignore[arg-type]
    await until(lambda: len(svc.engine.calls()) == 1)
    assert [c.call_id for c in svc.engine.calls()] == ["1.5"]
    s.hang_up_now = True
    await asyncio.wait_for(task, 5)
    got = []
    while not sub.queue.empty():
        got.append(sub.get_nowait().message)
    assert [type(m).__name__ for m in got] == ["AcdCallQueued", "AcdCallRemoved",
                                                "AcdCallAbandoned"]
    assert {m.call_id for m in got} == {"1.5"}
    assert got[0].channel == got[2].channel == "PJSIP/carrier-1.8"
    unknown = FakeSession("1.9")  # the tracker has not seen the channel yet: its own id
    assert svc.call_id_of(unknown) == "1.9"  # type: ignore[arg-type]


async def test_stopping_hands_waiting_callers_back_to_the_dialplan() -> None:
    svc, clock = make()
    s = FakeSession("1.4")
    task = asyncio.create_task(svc.queue_call(s, queue="support", number="+12025550000"))  # type: ignore[arg-type]
    await until(lambda: len(svc.engine.calls()) == 1)
    await svc.stop(grace_s=5)
    await asyncio.wait_for(task, 5)
    assert "SET CTI_RESULT=fallback" in s.commands
    assert "HANGUP" not in s.commands
    assert svc.engine.calls() == ()
    # A call arriving while stopping goes straight back to the dialplan too.
    late = FakeSession("1.5")
    await svc.queue_call(late, queue="support", number="+12025550000")  # type: ignore[arg-type]
    assert late.commands == ["SET CTI_RESULT=fallback"]


async def test_refused_enqueue_falls_back_instead_of_hanging_up() -> None:
    svc, clock = make()
    s = FakeSession("1.6")
    await svc.queue_call(s, queue="no-such-queue", number="+12025550000")  # type: ignore[arg-type]
    assert s.commands == ["SET CTI_RESULT=fallback"]
    assert svc.fallbacks == 1


async def test_broken_callback_prompt_at_max_wait_keeps_the_caller() -> None:
    svc, clock = make(max_wait_s=10.0)
    s = FakeSession("1.7", broken_prompts=frozenset({"cti-press-1-for-callback"}))
    task = asyncio.create_task(svc.queue_call(s, queue="support", number="+12025550000"))  # type: ignore[arg-type]
    await until(lambda: len(svc.engine.calls()) == 1)
    clock.advance(11)
    svc.feed_engine(svc.engine.tick)
    await until(lambda: "STREAM cti-press-1-for-callback" in s.commands)
    await asyncio.sleep(0.01)
    assert len(svc.engine.calls()) == 1
    svc.agent_login("alice", "1001", skills={"support": 1})
    await asyncio.wait_for(task, 5)
    assert "EXEC Dial PJSIP/1001,15" in s.commands


@pytest.mark.parametrize("number", ["", "12345", "+19005550123", "not a number"])
async def test_no_callback_for_a_number_we_could_not_dial(number: str) -> None:
    svc, clock = make()
    s = FakeSession("1.8")
    caller = _caller(svc, "1.8", number)
    assert await svc._take_callback(s, caller) is False  # type: ignore[arg-type]
    assert "HANGUP" not in s.commands


async def test_national_caller_id_is_called_back_in_e164() -> None:
    svc, clock = make()
    s = FakeSession("1.9")
    task = asyncio.create_task(svc.queue_call(s, queue="support", number="2025550199"))  # type: ignore[arg-type]
    await until(lambda: len(svc.engine.calls()) == 1)
    s.press = "1"
    await asyncio.wait_for(task, 5)
    assert "HANGUP" in s.commands
    assert svc.engine.calls()[0].number == "+12025550199"


class DownAmi:
    async def send(self, action: Any) -> Any:
        from cti.errors import AmiConnectionError

        raise AmiConnectionError("not connected")


class RecordingCallbacks:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    async def create(self, **fields: Any) -> None:
        self.created.append(fields)


class FakeCrm:
    def __init__(self) -> None:
        self.callbacks = RecordingCallbacks()

    async def tier_for_phone(self, number: str) -> str:
        return "unknown"

    async def log_call(self, call_id: str, **fields: Any) -> None:
        pass


async def test_callback_that_cannot_be_placed_becomes_a_crm_task_and_pauses_nobody() -> None:
    crm = FakeCrm()
    svc, clock = make(crm=crm, ami=DownAmi())
    s = FakeSession("2.0")
    task = asyncio.create_task(svc.queue_call(s, queue="support", number="+12025550177"))  # type: ignore[arg-type]
    await until(lambda: len(svc.engine.calls()) == 1)
    s.press = "1"
    await asyncio.wait_for(task, 5)
    for name, ext in (("alice", "1001"), ("bob", "1002")):
        svc.agent_login(name, ext, skills={"support": 1})
    await until(lambda: crm.callbacks.created != [])
    assert crm.callbacks.created[0]["phone"] == "+12025550177"
    await until(lambda: svc.engine.calls() == ())
    states = {a.agent_id: (str(a.state), a.pause_reason) for a in svc.engine.agents()}
    assert states == {"alice": ("available", None), "bob": ("available", None)}


async def test_an_offer_interrupts_the_announcement() -> None:
    svc, clock = make(announce_every_s=1.0)
    s = FakeSession("2.1")
    task = asyncio.create_task(svc.queue_call(s, queue="support", number="+12025550000"))  # type: ignore[arg-type]
    await until(lambda: len(svc.engine.calls()) == 1)
    # While the first prompt plays, an agent logs in: the Offer arrives mid-announcement.
    s.on_stream["queue-youarenext"] = lambda: svc.agent_login("alice", "1001",
                                                               skills={"support": 1})
    clock.advance(1.5)
    svc.feed_engine(svc.engine.tick)
    await asyncio.wait_for(task, 5)
    after = s.commands[s.commands.index("STREAM queue-youarenext"):]
    assert "STREAM cti-press-1-for-callback" not in after
    assert "EXEC Dial PJSIP/1001,15" in after


def _caller(svc: AcdService, call_id: str, number: str) -> Any:
    from acd.service import _Caller

    return _Caller(call_id=call_id, channel="PJSIP/x", number=number, queue="support",
                   tier="unknown", offered_wall=0.0)


async def test_stop_returns_after_the_grace_period_while_a_call_is_still_talking() -> None:
    svc, clock = make()
    s = FakeSession("2.2")
    dial_started = asyncio.Event()
    release = asyncio.Event()

    async def long_dial(app: str, *args: str) -> int:
        s.commands.append(f"EXEC {app} {','.join(args)}")
        dial_started.set()
        await release.wait()  # the customer and the agent are still talking
        return 0

    s.exec = long_dial  # type: ignore[method-assign]
    svc.agent_login("alice", "1001", skills={"support": 1})
    task = asyncio.create_task(svc.queue_call(s, queue="support", number="+12025550000"))  # type: ignore[arg-type]
    await asyncio.wait_for(dial_started.wait(), 5)
    await asyncio.wait_for(svc.stop(grace_s=0.05), 5)  # returns, does not raise TimeoutError
    release.set()
    await asyncio.wait_for(task, 5)


async def test_logout_of_a_talking_agent_happens_right_after_the_call() -> None:
    svc, clock = make()
    await svc.start()
    try:
        s = FakeSession("2.3")
        talking = asyncio.Event()
        release = asyncio.Event()

        async def long_dial(app: str, *args: str) -> int:
            s.commands.append(f"EXEC {app} {','.join(args)}")
            svc._answered(svc._callers["2.3"])  # AMI: the agent answered
            talking.set()
            await release.wait()
            return 0

        s.exec = long_dial  # type: ignore[method-assign]
        svc.agent_login("alice", "1001", skills={"support": 1})
        task = asyncio.create_task(svc.queue_call(s, queue="support", number="+12025550000"))  # type: ignore[arg-type]
        await asyncio.wait_for(talking.wait(), 5)
        assert svc.request_logout("alice") is False  # on a call: after it
        assert str(svc.engine.agent("alice").state) == "on_call"
        release.set()
        await asyncio.wait_for(task, 5)
        await until(lambda: str(svc.engine.agent("alice").state) == "logged_out")
    finally:
        await svc.stop(grace_s=0)


async def test_an_answered_call_is_marked_done_for_the_dialplan() -> None:
    """Without CTI_RESULT=done the reference dialplan would queue the caller again."""
    svc, _ = make()
    svc.agent_login("alice", "1001", skills={"support": 1})
    s = FakeSession("9.1", dial_status="ANSWER")
    async with asyncio.timeout(5):
        await svc.queue_call(s, queue="support", number="+12025550000")
    assert s.commands[-1] == "SET CTI_RESULT=done"
    assert "SET CTI_RESULT=fallback" not in s.commands
