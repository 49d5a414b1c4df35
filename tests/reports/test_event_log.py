"""The event log: what the deriver writes for each engine input (hand-computed values), the
batching writer (flush, retry after a failure, flush and close on stop), the 15-minute
aggregates and first-call resolution marks in the database."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from acd.engine import AcdEngine
from acd.history import HistoryDeriver, interval_deltas, split_state
from acd.history_writer import HistoryWriter, queue_limits
from acd.model import AgentLogin, Command, NewCall
from common.clock import ManualClock
from config.acd import AcdSettings, EscalationStep, QueueSettings
from config.crm import CrmSettings
from config.reports import ReportsSettings
from crm_core.history import HistoryEvent, IntervalDeltas
from crm_core.service import Crm

T0 = 1_699_999_200.0  # wall time of engine time 0 (a multiple of 900)


def _settings() -> AcdSettings:
    return AcdSettings(queues=[QueueSettings(
        name="support", skills=["support"], wrapup_s=10, announce_every_s=0,
        escalation=[EscalationStep(after_s=0, min_skill_level=1)])])


class Driver:
    def __init__(self) -> None:
        self.engine = AcdEngine(_settings())
        self.deriver = HistoryDeriver(lambda t: T0 + t)

    def __call__(self, name: str, *args: Any, now: float) -> list[Command]:
        cmds: list[Command] = getattr(self.engine, name)(*args, now)
        self.deriver.observe(name, args, now, cmds)
        return cmds


def _scenario(d: Driver) -> None:
    d("agent_login", AgentLogin("a1", "PJSIP/a1", frozenset({"support"}), {"support": 3}), now=0)
    d("enqueue", NewCall("c1", "support", "gold", frozenset(), "+15550001"), now=10)
    d("offer_answered", "c1", now=15)
    d("call_ended", "c1", now=75)
    d("tick", now=86)  # wrap-up (10 s) ended at 85
    d("enqueue", NewCall("c2", "support", "unknown", frozenset(), "+15550002"), now=100)
    d("offer_failed", "c2", "no_answer", now=115)
    d("abandon", "c2", now=120)
    d("agent_available", "a1", now=130)
    d("agent_pause", "a1", "lunch", now=200)


def test_deriver_rows_for_one_answered_and_one_abandoned_call() -> None:
    d = Driver()
    _scenario(d)
    ev = [e for e in d.deriver.drain() if e.kind != "agent_state"]
    assert [(e.at - T0, e.kind, e.call_id, e.agent) for e in ev] == [
        (10, "entered", "c1", ""), (10, "offered", "c1", "a1"), (15, "answered", "c1", "a1"),
        (75, "ended", "c1", "a1"), (85, "handled", "c1", "a1"),
        (100, "entered", "c2", ""), (100, "offered", "c2", "a1"), (115, "rona", "c2", "a1"),
        (120, "abandoned", "c2", ""),
    ]
    by = {(e.kind, e.call_id): e for e in ev}
    assert by["answered", "c1"].wait_s == 5 and by["answered", "c1"].number == "+15550001"
    assert (by["ended", "c1"].wait_s, by["ended", "c1"].talk_s) == (5, 60)
    assert (by["handled", "c1"].talk_s, by["handled", "c1"].handle_s) == (60, 70)
    assert by["rona", "c2"].reason == "no_answer"
    assert by["abandoned", "c2"].wait_s == 20 and by["abandoned", "c2"].number == "+15550002"


def test_agent_state_rows_carry_the_state_left_and_its_duration() -> None:
    d = Driver()
    _scenario(d)
    rows = [(e.at - T0, e.prev_state, e.state, e.reason, e.dur_s)
            for e in d.deriver.drain() if e.kind == "agent_state"]
    assert rows == [
        (0, "logged_out", "available", "", None),
        (10, "available", "reserved", "", 10), (15, "reserved", "on_call", "", 5),
        (75, "on_call", "wrap_up", "", 60), (85, "wrap_up", "available", "", 10),
        (100, "available", "reserved", "", 15),
        (115, "reserved", "paused", "missed-call", 15),
        (130, "paused", "available", "", 15), (200, "available", "paused", "lunch", 70),
    ]
    d.deriver.close(260)  # the server stops: the open pause is counted up to then
    (last,) = d.deriver.drain()
    assert (last.prev_state, last.prev_reason, last.state, last.dur_s, last.detail) == (
        "paused", "lunch", "logged_out", 60, "shutdown")


def test_interval_deltas_by_hand() -> None:
    d = Driver()
    _scenario(d)
    deltas = interval_deltas(d.deriver.drain(), queue_limits(_settings()))
    q = deltas.queue[T0, "support"]
    assert q == {"entered": 2, "offered": 2, "answered": 1, "answered_sl": 1,
                 "wait_answered_s": 5, "handled": 1, "talk_s": 60, "handle_s": 70, "rona": 1,
                 "abandoned": 1, "wait_abandoned_s": 20}  # 20 s is not a short abandon (< 5 s)
    assert deltas.agent[T0, "a1"] == {"offered": 2, "answered": 1, "wait_answered_s": 5,
                                      "handled": 1, "talk_s": 60, "handle_s": 70, "missed": 1}
    assert deltas.state[T0, "a1", "on_call", ""] == 60
    assert deltas.state[T0, "a1", "paused", "missed-call"] == 15
    assert deltas.state[T0, "a1", "available", ""] == 10 + 15 + 70


def test_state_time_is_split_across_quarter_hours() -> None:
    out: dict[tuple[float, str, str, str], float] = {}
    split_state(out, "a", "paused", "break", T0 + 800, T0 + 2000)
    assert out == {(T0, "a", "paused", "break"): 100, (T0 + 900, "a", "paused", "break"): 900,
                   (T0 + 1800, "a", "paused", "break"): 200}


def test_a_failing_observer_input_never_reaches_routing() -> None:
    der = HistoryDeriver(lambda t: 1 / 0)  # a broken clock
    der.observe("tick", (), 1.0, [])
    der.observe("enqueue", (NewCall("x", "support"),), 1.0, [])  # logged, not raised
    assert der.pending == 0


class FlakyRepo:
    def __init__(self, inner: Any, fail: int) -> None:
        self.inner, self.fail = inner, fail

    async def adopt_zone(self, tz: str, next_day: float) -> float:
        return float(await self.inner.adopt_zone(tz, next_day))

    async def backfill_pending(self, name: str) -> tuple[int, int] | None:
        return await self.inner.backfill_pending(name)  # type: ignore[no-any-return]

    async def append(self, events: Sequence[HistoryEvent], deltas: IntervalDeltas,
                     window: float) -> int:
        if self.fail:
            self.fail -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return int(await self.inner.append(events, deltas, window))


@pytest.fixture
async def crm(tmp_path: Path) -> Any:
    c = await Crm.open(tmp_path / "crm.sqlite3", CrmSettings(), ManualClock(T0))
    yield c
    await c.close()


async def test_writer_keeps_rows_when_a_write_fails_and_flushes_on_stop(crm: Crm) -> None:
    d = Driver()
    clock = ManualClock(0)
    w = HistoryWriter(FlakyRepo(crm.history, fail=1), d.deriver,  # type: ignore[arg-type]
                      limits=queue_limits(_settings()),
                      settings=ReportsSettings(flush_interval_s=60), now=clock.now)
    await w.start()
    _scenario(d)
    assert await w.flush() == 0 and w.failures == 1  # the disk is full: kept
    clock.t = 260
    await w.stop()  # retried, and the open lunch pause closed at 260
    events = await crm.history.events(T0, T0 + 3600)
    assert len(events) == w.written == 9 + 9 + 1  # call rows, state rows, shutdown
    states = await crm.history.state_intervals(T0, T0 + 3600)
    got = {(s.state, s.reason): s.seconds for s in states}
    assert got[("paused", "lunch")] == 60 and got[("paused", "missed-call")] == 15
    (qi,) = await crm.history.queue_intervals(T0, T0 + 3600)
    assert (qi.queue, qi.counters["answered"], qi.counters["abandoned"]) == ("support", 1, 1)
    bins = await crm.history.histograms(T0, T0 + 3600)
    assert {(b.metric, b.bin, b.n) for b in bins} == {
        ("wait_answered", 1, 1), ("wait_abandoned", 4, 1), ("talk", 2, 1), ("handle", 2, 1)}


async def test_writer_drops_the_oldest_rows_beyond_its_bound(crm: Crm) -> None:
    der = HistoryDeriver(lambda t: T0 + t)
    w = HistoryWriter(FlakyRepo(crm.history, fail=1), der,  # type: ignore[arg-type]
                      limits={}, settings=ReportsSettings(max_pending_events=1000),
                      now=lambda: 0.0)
    for i in range(1500):
        der.record(HistoryEvent(T0 + i, "ivr_outcome", queue="main", reason="hangup"))
    assert await w.flush() == 0 and w.dropped == 500
    assert await w.flush() == 1000
    events = await crm.history.events(T0, T0 + 3600, kinds=["ivr_outcome"])
    assert [e.at - T0 for e in events][:2] == [500, 501] and len(events) == 1000


async def test_repeat_calls_are_marked_within_the_window(crm: Crm) -> None:
    day = 86400.0
    ev = [
        HistoryEvent(T0, "entered", queue="support", call_id="c1", number="+1555"),
        HistoryEvent(T0 + 5, "answered", queue="support", agent="a1", call_id="c1",
                     number="+1555", wait_s=5),
        HistoryEvent(T0 + 2 * day, "entered", queue="support", call_id="c2", number="+1555"),
        HistoryEvent(T0 + 2 * day + 3, "answered", queue="support", agent="a2", call_id="c2",
                     number="+1555", wait_s=3),
        # c2 is not repeated: the next call comes 4 days later (the window is 3 days)
        HistoryEvent(T0 + 6 * day, "entered", queue="support", call_id="c3", number="+1555"),
        HistoryEvent(T0 + 6 * day + 1, "entered", queue="sales", call_id="c3", number="+1555",
                     detail="overflow"),
    ]
    await crm.history.append(ev[:2], interval_deltas(ev[:2], {}), 3 * day)
    await crm.history.append(ev[2:], interval_deltas(ev[2:], {}), 3 * day)
    assert await crm.history.repeated_calls(T0, T0 + 7 * day) == {"c1"}
    qi = {(r.start, r.queue): r.counters for r in
          await crm.history.queue_intervals(T0, T0 + 7 * day)}
    assert qi[T0, "support"]["repeated"] == 1
    assert qi[T0 + 2 * day, "support"]["repeated"] == 0
    ai = {(r.start, r.agent): r.counters for r in
          await crm.history.agent_intervals(T0, T0 + 7 * day)}
    assert ai[T0, "a1"]["repeated"] == 1


async def test_transfers_seen_on_the_bus_are_logged_against_the_call(crm: Crm) -> None:
    from common.bus import Bus
    from tests.common.samples import transferred

    bus = Bus()
    d = Driver()
    clock = ManualClock(0)
    w = HistoryWriter(crm.history, d.deriver, limits=queue_limits(_settings()),
                      settings=ReportsSettings(flush_interval_s=60), now=clock.now, bus=bus)
    await w.start()
    d("agent_login", AgentLogin("a1", "PJSIP/a1", frozenset({"support"}), {"support": 3}), now=0)
    d("enqueue", NewCall("c1", "support", "gold", frozenset(), "+15550001"), now=10)
    d("offer_answered", "c1", now=15)
    clock.t = 40
    for call_id, queue in (("c1", ""), ("other", "")):  # a call the ACD never had: ignored
        bus.publish(transferred(call_id, queue, "2000"))
    await asyncio.sleep(0.05)
    await w.stop()
    (t,) = await crm.history.events(T0, T0 + 3600, kinds=["transferred"])
    assert (t.at - T0, t.call_id, t.agent, t.queue, t.reason) == (40, "c1", "a1", "support",
                                                                   "2000")
    (qi,) = await crm.history.queue_intervals(T0, T0 + 3600)
    assert qi.counters["transferred"] == 1


def test_a_transfer_reported_after_the_acd_ended_its_part_still_counts() -> None:
    # The ACD ends its agent's part at the tracker's transfer (a phone's attended transfer, seen
    # on Asterisk 22.9.0); the writer hears of the transfer later, through the bus. It must
    # still count against the call's queue and agent (it was lost: the call was gone).
    d = Driver()
    d("agent_login", AgentLogin("a1", "PJSIP/a1", frozenset({"support"}), {"support": 3}), now=0)
    d("enqueue", NewCall("c1", "support", "gold", frozenset(), "+15550001"), now=10)
    d("offer_answered", "c1", now=15)
    d("call_ended", "c1", now=40)
    d.deriver.transferred("c1", "PJSIP/2002", 41)
    d.deriver.transferred("never-queued", "PJSIP/2002", 42)  # not a queue's call: nothing
    (t,) = [e for e in d.deriver.drain() if e.kind == "transferred"]
    assert (t.at - T0, t.call_id, t.queue, t.agent, t.reason) == (
        41, "c1", "support", "a1", "PJSIP/2002")
