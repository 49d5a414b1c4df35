"""The dialer's figures on /metrics: abandon rate per campaign over 24 h and 30 days, lines in
progress; parsed back with prometheus-client's parser."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from acd.dialer.metrics import DialerCollector
from tests.acd.dialer.conftest import NOON_NY, FakeSession, World

DAY = 86_400.0


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_abandon_rate_per_window_and_lines_in_progress(world: World) -> None:
    d = world.dialer
    await d.control(world.campaign_id, "start")
    # Three days ago: 3 live answers, 1 abandoned (30 d only); now: 1 live answer, abandoned.
    world.wall.t = NOON_NY - 3 * DAY
    for outcome in ("answered", "answered", "timed_out"):
        await d.tick()
        world.acd.outcome = outcome
        await d.handle_dialer(FakeSession(world.ami.sent[-1].action_id.removeprefix("orig-"),
                                          "HUMAN"))  # type: ignore[arg-type]
    world.wall.t = NOON_NY
    await d.tick()
    world.acd.outcome = "timed_out"
    await d.handle_dialer(FakeSession(world.ami.sent[-1].action_id.removeprefix("orig-"),
                                      "HUMAN"))  # type: ignore[arg-type]
    registry = CollectorRegistry()
    registry.register(DialerCollector(d.statuses))
    s = samples(registry)
    camp = (("campaign", "Renewals"), ("campaign_id", str(world.campaign_id)))
    assert s[("cti_dialer_abandon_rate", (*camp, ("window", "24h")))] == 1.0
    assert s[("cti_dialer_abandon_rate", (*camp, ("window", "30d")))] == 0.5
    assert s[("cti_dialer_live_answers", (*camp, ("window", "30d")))] == 4
    assert s[("cti_dialer_abandoned_calls", (*camp, ("window", "30d")))] == 2
    in_flight = len(d.lines)
    assert in_flight > 0
    assert s[("cti_dialer_lines_in_progress", camp)] == in_flight
    assert s[("cti_dialer_calls_placed_total", camp)] == len(world.ami.sent)
