"""/metrics carries the call center's own figures, parsed back with prometheus-client's parser."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from acd.engine import AcdEngine
from acd.model import AgentLogin, NewCall
from agent_desktop.callcenter_metrics import CallCenterCollector, routing_latency_histogram
from config.acd import AcdSettings
from cti.ami import AmiCounters
from tests.test_server_demo import demo_settings, running_demo


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_collector_reports_queue_agents_and_ami_from_the_engine() -> None:
    engine = AcdEngine(AcdSettings())
    engine.agent_login(AgentLogin("a1", "PJSIP/1001", frozenset({"support"}),
                                  {"support": 5}), 0.0)
    engine.agent_pause("a1", "break", 1.0)
    engine.enqueue(NewCall("c1", "support", "gold"), 2.0)
    engine.enqueue(NewCall("c2", "support"), 5.0)
    engine.abandon("c2", 8.0)
    for outcome in ("self_service", "self_service", "abandoned", "queued"):
        engine.stats.ivr_outcome("support", outcome, 9.0)
    registry = CollectorRegistry()
    stats = AmiCounters(connects=2, disconnects=1, events=1234)
    registry.register(CallCenterCollector(lambda: engine.report(12.0, 0.0),
                                          ami_counters=lambda: stats, ami_connected=lambda: True))
    hist = routing_latency_histogram(registry)
    hist.observe(0.00003)
    s = _samples(generate_latest(registry).decode())
    assert s[("cti_queue_waiting_calls", (("queue", "support"),))] == 1
    assert s[("cti_queue_waiting_calls", (("queue", "_all"),))] == 1
    assert s[("cti_queue_longest_wait_seconds", (("queue", "support"),))] == 10.0
    assert s[("cti_queue_agents", (("queue", "support"), ("state", "paused")))] == 1
    assert s[("cti_queue_agents", (("queue", "support"), ("state", "available")))] == 0
    assert s[("cti_queue_calls_today", (("outcome", "offered"), ("queue", "support")))] == 2
    assert s[("cti_queue_calls_today", (("outcome", "abandoned"), ("queue", "support")))] == 1
    ivr = {o: s[("cti_queue_ivr_calls_today", (("outcome", o), ("queue", "support")))]
           for o in ("calls", "self_service", "abandoned", "transferred", "queued")}
    assert ivr == {"calls": 4, "self_service": 2, "abandoned": 1, "transferred": 0, "queued": 1}
    assert s[("cti_ami_events_total", ())] == 1234
    assert s[("cti_ami_connects_total", ())] == 2
    assert s[("cti_ami_up", ())] == 1
    assert s[("cti_acd_routing_input_seconds_count", ())] == 1


async def test_metrics_endpoint_of_the_demo_server(tmp_path: Path) -> None:
    async for h in running_demo(demo_settings(tmp_path)):
        await _wait_for_answered(h)
        async with h["http"].get(h["base"] + "/metrics") as r:
            assert r.status == 200
            text = await r.text()
        s = _samples(text)
        report = {r.queue: r for r in h["acd"].report()}
        agents = sum(v for (name, labels), v in s.items()
                     if name == "cti_queue_agents" and ("queue", "_all") in labels)
        assert agents == len(h["engine"].agents()) > 0
        answered = s[("cti_queue_calls_today", (("outcome", "answered"), ("queue", "_all")))]
        # Live traffic: the scrape and the report a moment later see the same or more answers.
        assert 1 <= answered <= report[""].today.answered
        assert s[("cti_ami_up", ())] == 1
        assert s[("cti_ami_events_total", ())] > 0
        assert s[("cti_acd_routing_input_seconds_count", ())] > 0


async def _wait_for_answered(h: dict[str, Any]) -> None:
    for _ in range(300):
        if any(r.today.answered for r in h["acd"].report()):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("no demo call was answered within 30 s")
