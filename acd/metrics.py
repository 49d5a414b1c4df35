"""One definition of each call-center metric, shared by the live statistics (acd/stats.py, the
wallboard and /metrics) and the historical reports (reports/), so both always agree.

Pure functions over counts and sums; no state, no clock. A ratio with nothing to divide by is
None (no calls is "no figure", not 0 % or 100 %).

Definitions (all waits run from the call's ORIGINAL enqueue time, i.e. what the caller lived):
- answered within service level: wait <= service_level_s.
- short abandon: an abandon quicker than short_abandon_s (strictly less).
- service level = answered within SL / (answered + abandoned), in the queue where the call ended.
- service level excluding short abandons: the same with short abandons dropped from the
  denominator (callers who hung up at once were never really "offered").
- ASA = mean wait of answered calls; AHT = mean handle time (talk + wrap-up) of handled calls.
- abandon rate = abandoned / (answered + abandoned); average time to abandon = mean wait of
  abandoned calls.
- occupancy = busy time (reserved + on a call + wrap-up) / staffed time (busy + available).
- transfer rate = transferred / answered; first-call resolution = answered calls with no new
  call from the same number within N days / answered calls.

IVR (every call that finished a menu is one IVR call, counted against the queue it was routed
to, else the menu's default queue):
- self-service completion rate = calls the menu served to the end (self_service) / IVR calls;
- IVR abandon rate = callers who hung up inside the menu / IVR calls.

Outbound (dialer attempts; a live answer is a person who picked up: connected or abandoned):
- contact rate = live answers / attempts; conversion rate = conversions / connected calls;
- outbound abandon rate = abandoned / live answers (the FTC/Ofcom rule, per 24 h and 30 days).
  An abandoned call is a person who answered and got no agent within the 2 s deadline
  ([dialer].abandon_deadline_s), or hung up while waiting for one; it is a live answer too.
  ONE source and ONE computation for live and reports: the dialer counts each live answer and
  abandon when it happens, per campaign and minute (crm_core/dialer_store.py), and the rolling
  windows over those counts are acd/dialer/abandon.py's (its bucket rule at the window's edge
  included); the pacing, the wallboard (dialer.campaign.stats), /metrics and the outbound
  reports (reports/outbound.py, through abandon.windows_at) all read them. docs/reports.md.
"""

from __future__ import annotations

from dataclasses import dataclass


def ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def within_service_level(waited_s: float, service_level_s: float) -> bool:
    return waited_s <= service_level_s


def is_short_abandon(waited_s: float, short_abandon_s: float) -> bool:
    return waited_s < short_abandon_s


def service_level(answered_within_sl: float, answered: float, abandoned: float) -> float | None:
    return ratio(answered_within_sl, answered + abandoned)


def service_level_excl_short(
    answered_within_sl: float, answered: float, abandoned: float, abandoned_short: float
) -> float | None:
    return ratio(answered_within_sl, answered + abandoned - abandoned_short)


def asa(wait_answered_sum_s: float, answered: float) -> float | None:
    return ratio(wait_answered_sum_s, answered)


def aht(handle_sum_s: float, handled: float) -> float | None:
    return ratio(handle_sum_s, handled)


def abandon_rate(answered: float, abandoned: float) -> float | None:
    return ratio(abandoned, answered + abandoned)


def avg_time_to_abandon(wait_abandoned_sum_s: float, abandoned: float) -> float | None:
    return ratio(wait_abandoned_sum_s, abandoned)


def occupancy(busy_s: float, available_s: float) -> float | None:
    return ratio(busy_s, busy_s + available_s)


def transfer_rate(transferred: float, answered: float) -> float | None:
    return ratio(transferred, answered)


def first_call_resolution(answered: float, repeated: float) -> float | None:
    return ratio(answered - repeated, answered)


# IVR outcome (ivr/runner.py) -> the IVR counter it adds to besides `ivr_calls`; other outcomes
# (callback, message, failed = handed back to the dialplan) count in `ivr_calls` only.
IVR_COUNTERS: dict[str, str] = {
    "self_service": "ivr_self_service", "abandoned": "ivr_abandoned",
    "transferred": "ivr_transferred", "queued": "ivr_queued",
}


def self_service_rate(self_service: float, ivr_calls: float) -> float | None:
    return ratio(self_service, ivr_calls)


def ivr_abandon_rate(abandoned_in_ivr: float, ivr_calls: float) -> float | None:
    return ratio(abandoned_in_ivr, ivr_calls)


# Dialer attempt results (acd/dialer/service.py) that are a person on the line.
LIVE_RESULTS = frozenset({"connected", "answered", "abandoned"})
CONNECTED_RESULTS = frozenset({"connected", "answered"})


def contact_rate(live: float, attempts: float) -> float | None:
    return ratio(live, attempts)


def conversion_rate(conversions: float, connected: float) -> float | None:
    return ratio(conversions, connected)


def outbound_abandon_rate(abandoned: float, live: float) -> float | None:
    """None with no calls at all; 1.0 for abandons with no live answer to count them against
    (a rolling window can hold the abandons of its edge bucket but not that bucket's live
    answers: acd/dialer/abandon.py), which is over any target, the safe side."""
    if live > 0:
        return abandoned / live
    return 1.0 if abandoned > 0 else None


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """The derived figures of one queue (or group) over one period, from its counts and sums."""

    service_level: float | None
    service_level_excl_short: float | None
    asa_s: float | None
    aht_s: float | None
    abandon_rate: float | None
    avg_time_to_abandon_s: float | None


def queue_figures(
    *,
    answered: float,
    answered_within_sl: float,
    abandoned: float,
    abandoned_short: float,
    handled: float,
    wait_answered_s: float,
    wait_abandoned_s: float,
    handle_s: float,
) -> QueueFigures:
    return QueueFigures(
        service_level=service_level(answered_within_sl, answered, abandoned),
        service_level_excl_short=service_level_excl_short(
            answered_within_sl, answered, abandoned, abandoned_short),
        asa_s=asa(wait_answered_s, answered),
        aht_s=aht(handle_s, handled),
        abandon_rate=abandon_rate(answered, abandoned),
        avg_time_to_abandon_s=avg_time_to_abandon(wait_abandoned_s, abandoned),
    )
