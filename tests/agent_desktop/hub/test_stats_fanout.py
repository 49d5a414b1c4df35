"""Agents' live queue figures (stats.AgentQueueFanout, pure): one encoded frame per group of
agents with the same queues, only changed rows, at most once per interval, latest wins."""

from __future__ import annotations

import dataclasses
import json

from agent_desktop.hub import wire
from agent_desktop.hub.stats import AgentQueueFanout, QueueStats

ROW = QueueStats(queue="support", overall=False, waiting=1, longest_wait_s=5.0,
                 service_level=0.8, asa_s=10.0, aht_s=100.0, abandon_rate=0.1,
                 agents_by_state={"available": 1}, staffed=2, erlang_agents_needed=2,
                 offered_today=5, answered_today=4, abandoned_today=1, service_level_today=0.8)


def row(queue: str, waiting: int = 1, *, overall: bool = False) -> QueueStats:
    return dataclasses.replace(ROW, queue=queue, waiting=waiting, overall=overall)


def frame(data: str) -> str:
    return wire.value("desktop.queue_stats", 100.0, data)


def test_agents_with_the_same_queues_share_one_frame_object() -> None:
    encoded: list[str] = []

    def encode(r: QueueStats) -> str:
        encoded.append(r.queue)
        return wire.encode_data(r)

    f = AgentQueueFanout(1.0, encode)
    due = f.tick([row("support"), row("sales"), row("ALL", overall=True)], now=0.0)
    assert due == {"support", "sales"}  # the all-queues line is the supervisors'
    agents = {"ann": frozenset({"support", "sales"}), "amy": frozenset({"sales", "support"}),
              "bob": frozenset({"sales"}), "cy": frozenset({"billing"})}
    out = f.frames(due, agents, frame)
    assert out["ann"] is out["amy"]  # the same string object: nothing encoded per client
    assert set(out) == {"ann", "amy", "bob"}  # cy's queue has nothing: no frame
    assert sorted(encoded) == ["sales", "support"]  # each row encoded once
    ann = json.loads(out["ann"])
    assert ann["op"] == "value" and ann["topic"] == "desktop.queue_stats"
    assert "seq" not in ann and "stream" not in ann  # not a numbered, replayed event
    assert [q["queue"] for q in ann["data"]["queues"]] == ["sales", "support"]
    assert [q["queue"] for q in json.loads(out["bob"])["data"]["queues"]] == ["sales"]


def test_only_changed_rows_at_most_once_per_interval_and_the_latest_wins() -> None:
    f = AgentQueueFanout(1.0, wire.encode_data)
    agents = {"ann": frozenset({"support", "sales"})}
    assert f.tick([row("support", 1), row("sales", 1)], now=0.0) == {"support", "sales"}
    assert f.tick([row("support", 1), row("sales", 1)], now=1.5) == frozenset()  # unchanged
    assert f.frames(frozenset(), agents, frame) == {}
    # Two changes inside the interval: held back, then the latest goes out alone.
    assert f.tick([row("support", 2), row("sales", 1)], now=1.6) == {"support"}
    assert f.tick([row("support", 3), row("sales", 1)], now=2.0) == frozenset()
    assert f.tick([row("support", 4), row("sales", 1)], now=2.4) == frozenset()
    due = f.tick([row("support", 5), row("sales", 1)], now=2.7)
    assert due == {"support"}
    (only,) = json.loads(f.frames(due, agents, frame)["ann"])["data"]["queues"]
    assert (only["queue"], only["waiting"]) == ("support", 5)


def test_a_resuming_client_gets_every_current_row_of_its_queues() -> None:
    f = AgentQueueFanout(5.0, wire.encode_data)
    assert f.current_frame(frozenset({"support"}), frame) is None  # nothing known yet
    f.tick([row("support", 1), row("sales", 2)], now=0.0)
    f.tick([row("support", 7), row("sales", 2)], now=9.0)
    text = f.current_frame(frozenset({"support", "sales", "billing"}), frame)
    assert text is not None
    got = {q["queue"]: q["waiting"] for q in json.loads(text)["data"]["queues"]}
    assert got == {"support": 7, "sales": 2}
