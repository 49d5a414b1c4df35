"""The call log: what the CRM and the queue statistics get from the tracker's updates."""

from __future__ import annotations

from typing import Any

from acd.call_log import CallLog
from acd.stats import QueueStats
from common.clock import ManualClock
from cti import calls as c
from cti import events as ev
from cti.ownership import DeviceDirectory
from tests.acd.helpers import queue


class FakeUsers:
    async def by_username(self, username: str) -> Any:
        return type("U", (), {"id": {"agent1": 11, "agent2": 12}[username]})()

    async def id_of(self, username: str | None) -> int | None:
        return {"agent1": 11, "agent2": 12}.get(username or "")


class FakeCrm:
    def __init__(self) -> None:
        self.users = FakeUsers()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.segments: dict[str, list[Any]] = {}

    async def log_call(self, call_id: str, **kw: Any) -> None:
        self.calls.append((call_id, kw))

    async def log_call_segments(self, call_id: str, segments: list[Any]) -> int:
        self.segments[call_id] = segments
        return len(segments)


def _chan(uid: str, channel: str) -> ev.ChannelInfo:
    return ev.ChannelInfo(channel, uid, "c2d-1", ev.STATE_UP, "", "", "", "", "", "from-cti",
                          "s")


def _tracker() -> c.CallTracker:
    d = DeviceDirectory()
    d.replace_extensions({"PJSIP/1001": "agent1", "PJSIP/1002": "agent2"})
    return c.CallTracker(user_for=d.user_for)


async def test_a_click_to_dial_with_a_transfer_is_one_interaction_and_two_segments() -> None:
    clock, wall = ManualClock(100.0), ManualClock(1_000_100.0)
    crm = FakeCrm()
    log = CallLog(crm, None, clock=clock, wall=wall)
    t = _tracker()
    t.expect_originate("a-1", now=0.0, channel_id="c2d-1", cti_call_id="c2d-1",
                       kind="click_to_dial", dialled="+12025550100", device="PJSIP/1001",
                       user="agent1")
    agent, cust = _chan("c2d-1", "PJSIP/1001-01"), _chan("c2d-2", "PJSIP/carrier-02")
    ups: list[c.CallUpdate] = []
    ups += t.apply(ev.ChannelCreated(agent), 1.0)
    ups += t.apply(ev.ChannelCreated(cust), 3.0)
    ups += t.apply(ev.BridgeEntered("b", "basic", 2, agent), 4.0)
    ups += t.apply(ev.BridgeEntered("b", "basic", 2, cust), 4.0)
    ups += t.note_transfer("c2d-1", kind="blind", target="1002", by="agent1", now=10.0)
    ups += t.apply(ev.ChannelHungUp(agent, 16, ""), 10.0)
    target = _chan("c2d-3", "PJSIP/1002-03")
    ups += t.apply(ev.BridgeEntered("b2", "basic", 2, cust), 12.0)
    ups += t.apply(ev.BridgeEntered("b2", "basic", 2, target), 12.0)
    ups += t.apply(ev.ChannelHungUp(target, 16, ""), 30.0)
    ups += t.apply(ev.ChannelHungUp(cust, 16, ""), 30.0)
    for u in ups:
        log.on_update(u)
        await log.handle(u)
    ((call_id, kw),) = crm.calls
    assert call_id == "c2d-1"
    assert (kw["direction"], kw["phone"], kw["agent_user_id"], kw["disposition"]) == (
        "outbound", "+12025550100", 11, None)
    assert (kw["answered_at"], kw["ended_at"]) == (1_000_004.0, 1_000_030.0)  # wall time
    first, second = crm.segments["c2d-1"]
    assert (first.agent, first.agent_user_id, first.talk_s, first.transfer_kind,
            first.transfer_target) == ("agent1", 11, 6.0, "blind", "1002")
    assert (second.agent, second.agent_user_id, second.talk_s, second.ended_by) == (
        "agent2", 12, 18.0, "hangup")


async def test_transfers_of_a_queues_call_are_counted() -> None:
    clock = ManualClock(100.0)
    stats = QueueStats([queue("support")])
    log = CallLog(FakeCrm(), stats, clock=clock, wall=clock,
                  queue_of=lambda call_id: "support" if call_id == "9.0" else "")
    view = _tracker()
    t = view
    t.apply(ev.ChannelCreated(ev.ChannelInfo("PJSIP/carrier-1", "9.0", "9.0", 6, "", "", "", "",
                                             "", "", "s")), 0.0)
    (tr,) = t.note_transfer("9.0", kind="blind", target="1002", by="", now=5.0)
    log.on_update(tr)
    assert stats.window("support", 100.0).transferred == 1


async def test_a_click_to_dial_the_pbx_could_not_place_is_recorded() -> None:
    clock = ManualClock(100.0)
    crm = FakeCrm()
    log = CallLog(crm, None, clock=clock, wall=clock)
    await log.handle(c.OriginateFailed("a-1", 3, None, "click_to_dial", "c2d-9", "+12025550100",
                                       "agent1", "PJSIP/1001", 100.0))
    ((call_id, kw),) = crm.calls
    assert (call_id, kw["agent_user_id"], kw["disposition"]) == (
        "c2d-9", 11, "not placed: agent's phone no answer")
