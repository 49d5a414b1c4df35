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
