"""The dialer's Prometheus figures, read from the live campaigns when /metrics is scraped.

    cti_dialer_abandon_rate{campaign_id, campaign, window}    abandoned / live answers (24h, 30d)
    cti_dialer_live_answers{campaign_id, campaign, window}    live answers in the window
    cti_dialer_abandoned_calls{campaign_id, campaign, window}
    cti_dialer_lines_in_progress{campaign_id, campaign}       Originates whose outcome is pending
    cti_dialer_humans_waiting{campaign_id, campaign}          answered, no agent yet
    cti_dialer_dial_level{campaign_id, campaign}              lines per working agent (last pacing)
    cti_dialer_calls_placed{campaign_id, campaign}            since the server started (counter)

The windows are the ones the pacing obeys (persisted, so a restart does not reset them); the
values are the same CampaignStatus the REST status and the wallboard show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from acd.dialer.service import CampaignStatus


class DialerCollector(Collector):
    def __init__(self, statuses: Callable[[], Sequence[CampaignStatus]]) -> None:
        self._statuses = statuses

    def collect(self) -> Iterator[Metric]:
        labels = ["campaign_id", "campaign"]
        rate = GaugeMetricFamily("cti_dialer_abandon_rate",
                                 "Abandoned calls / live answers over the rolling window",
                                 labels=[*labels, "window"])
        live = GaugeMetricFamily("cti_dialer_live_answers",
                                 "Live answers (abandons included) in the rolling window",
                                 labels=[*labels, "window"])
        abandoned = GaugeMetricFamily("cti_dialer_abandoned_calls",
                                      "Abandoned calls in the rolling window",
                                      labels=[*labels, "window"])
        lines = GaugeMetricFamily("cti_dialer_lines_in_progress",
                                  "Dialer calls placed whose outcome is not known yet",
                                  labels=labels)
        waiting = GaugeMetricFamily("cti_dialer_humans_waiting",
                                    "Answered dialer calls waiting for an agent", labels=labels)
        level = GaugeMetricFamily("cti_dialer_dial_level",
                                  "Lines per working agent decided by the last pacing step",
                                  labels=labels)
        placed = CounterMetricFamily("cti_dialer_calls_placed",
                                     "Dialer calls placed since the server started",
                                     labels=labels)
        for st in self._statuses():
            key = [str(st.campaign_id), st.name]
            for window, w in st.abandon_rate.items():
                rate.add_metric([*key, window], w["rate"])
                live.add_metric([*key, window], w["live"])
                abandoned.add_metric([*key, window], w["abandoned"])
            lines.add_metric(key, st.lines_in_progress)
            waiting.add_metric(key, st.humans_waiting)
            level.add_metric(key, st.dial_level)
            placed.add_metric(key, st.calls_placed)
        yield from (rate, live, abandoned, lines, waiting, level, placed)
