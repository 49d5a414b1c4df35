"""The call center's own Prometheus metrics, read from the live components at scrape time.

Nothing here is updated on the hot path: queue depth, waits and agent states come from the ACD's
report (the same QueueReport the wallboard and the log summary show, so the numbers agree), AMI
counters from the client's running totals. The only figure recorded as it happens is the routing
latency histogram, which the ACD service feeds per engine input (an observe is ~1 us).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from acd.stats import QueueReport
from cti.ami import AmiCounters

# Engine inputs take tens of microseconds; buckets reach 100 ms to show stalls.
ROUTING_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1)


def routing_latency_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram("cti_acd_routing_input_seconds",
                     "Time the routing engine takes for one input (call, agent change, tick)",
                     registry=registry, buckets=ROUTING_BUCKETS)


class CallCenterCollector(Collector):
    """Queue, agent and AMI figures, computed when Prometheus scrapes."""

    def __init__(self, report: Callable[[], Sequence[QueueReport]],
                 ami_counters: Callable[[], AmiCounters] | None = None,
                 ami_connected: Callable[[], bool] | None = None) -> None:
        self._report = report
        self._ami_counters = ami_counters
        self._ami_connected = ami_connected

    def collect(self) -> Iterator[Metric]:
        reports = self._report()
        waiting = GaugeMetricFamily("cti_queue_waiting_calls", "Callers waiting in the queue",
                                    labels=["queue"])
        longest = GaugeMetricFamily("cti_queue_longest_wait_seconds",
                                    "Wait of the longest-waiting caller", labels=["queue"])
        agents = GaugeMetricFamily("cti_queue_agents", "Agents serving the queue, by state",
                                   labels=["queue", "state"])
        offered = GaugeMetricFamily(
            "cti_queue_calls_today", "Calls since midnight by outcome (offered = entered)",
            labels=["queue", "outcome"])
        sl = GaugeMetricFamily("cti_queue_service_level_ratio",
                               "Answered within the service-level time / (answered + abandoned), "
                               "last window", labels=["queue"])
        ivr = GaugeMetricFamily(
            "cti_queue_ivr_calls_today",
            "Callers who finished an IVR menu since midnight, counted against this queue, by how "
            "they left (calls = all of them)", labels=["queue", "outcome"])
        needed = GaugeMetricFamily("cti_queue_agents_needed",
                                   "Erlang C agents needed for the service-level target",
                                   labels=["queue"])
        for r in reports:
            # The overall line has queue "" in the engine; a label spells it out.
            q = r.queue or "_all"
            waiting.add_metric([q], r.waiting)
            longest.add_metric([q], r.longest_wait_s)
            for s in r.agents:
                agents.add_metric([q, str(s.state)], s.count)
            t = r.today
            for outcome, n in (("offered", t.entered), ("answered", t.answered),
                               ("abandoned", t.abandoned), ("overflowed", t.overflowed_out)):
                offered.add_metric([q, outcome], n)
            for outcome, n in (("calls", t.ivr_calls), ("self_service", t.ivr_self_service),
                               ("abandoned", t.ivr_abandoned), ("transferred", t.ivr_transferred),
                               ("queued", t.ivr_queued)):
                ivr.add_metric([q, outcome], n)
            if r.window.service_level is not None:
                sl.add_metric([q], r.window.service_level)
            if r.agents_needed is not None:
                needed.add_metric([q], r.agents_needed)
        yield from (waiting, longest, agents, offered, ivr, sl, needed)
        if self._ami_counters is not None:
            st = self._ami_counters()
            for name, value, doc in (
                ("cti_ami_events", st.events, "AMI events received"),
                ("cti_ami_connects", st.connects, "AMI connections established"),
                ("cti_ami_disconnects", st.disconnects, "AMI connections lost"),
                ("cti_ami_ping_timeouts", st.ping_timeouts, "AMI pings without a reply in time"),
                ("cti_ami_oversized_drops", st.oversized_drops,
                 "AMI connections dropped for an oversized message"),
            ):
                c = CounterMetricFamily(name, doc)
                c.add_metric([], value)
                yield c
        if self._ami_connected is not None:
            g = GaugeMetricFamily("cti_ami_up", "1 while the AMI connection is up")
            g.add_metric([], 1.0 if self._ami_connected() else 0.0)
            yield g

