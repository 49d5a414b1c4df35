"""Measured campaign statistics for the pacing: live-answer rate, time to answer, talk, wrap-up.

Each figure is a mean over the most recent `memory` observations, seeded with a prior worth
`prior_weight` observations, so a fresh campaign starts from sensible values and the estimates
follow drift (time of day changes answer rates) without reacting to a single call.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from acd.dialer.errors import InvalidPacing
from acd.dialer.pacing import PacingStats

# Attempt outcomes as the dialer classifies them.
OUTCOMES: tuple[str, ...] = ("human", "machine", "busy", "no_answer", "invalid", "failed")


class _Mean:
    def __init__(self, prior: float, prior_weight: int, memory: int) -> None:
        self._prior = prior
        self._w = prior_weight
        self._obs: deque[float] = deque(maxlen=memory)
        self._sum = 0.0

    def add(self, x: float) -> None:
        if len(self._obs) == self._obs.maxlen:
            self._sum -= self._obs[0]
        self._obs.append(x)
        self._sum += x

    @property
    def value(self) -> float:
        return (self._prior * self._w + self._sum) / (self._w + len(self._obs))

    @property
    def n(self) -> int:
        return len(self._obs)


@dataclass(frozen=True, slots=True)
class Priors:
    live_rate: float = 0.2
    machine_rate: float = 0.15
    answer_delay_s: float = 12.0
    aht_s: float = 120.0
    wrapup_s: float = 15.0
    weight: int = 20
    memory: int = 500


class CampaignEstimates:
    """Running estimates fed by attempt outcomes and finished calls."""

    def __init__(self, priors: Priors = Priors()) -> None:
        if not 0 <= priors.live_rate <= 1 or priors.weight < 1 or priors.memory < 1:
            raise InvalidPacing("priors: live_rate in 0..1, weight >= 1 and memory >= 1")
        self._live = _Mean(priors.live_rate, priors.weight, priors.memory)
        self._machine = _Mean(priors.machine_rate, priors.weight, priors.memory)
        self._delay = _Mean(priors.answer_delay_s, priors.weight, priors.memory)
        self._aht = _Mean(priors.aht_s, priors.weight, priors.memory)
        self._wrap = _Mean(priors.wrapup_s, priors.weight, priors.memory)

    def attempt(self, outcome: str, answer_delay_s: float | None = None) -> None:
        """One finished attempt; `answer_delay_s` for a detected live answer."""
        if outcome not in OUTCOMES:
            raise InvalidPacing(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        self._live.add(1.0 if outcome == "human" else 0.0)
        self._machine.add(1.0 if outcome == "machine" else 0.0)
        if outcome == "human" and answer_delay_s is not None and answer_delay_s >= 0:
            self._delay.add(answer_delay_s)

    def talk(self, seconds: float) -> None:
        if seconds >= 0:
            self._aht.add(seconds)

    def wrapup(self, seconds: float) -> None:
        if seconds >= 0:
            self._wrap.add(seconds)

    @property
    def machine_rate(self) -> float:
        return self._machine.value

    @property
    def attempts(self) -> int:
        return self._live.n

    def stats(self) -> PacingStats:
        return PacingStats(live_rate=min(1.0, max(0.0, self._live.value)),
                           answer_delay_s=min(600.0, self._delay.value),
                           aht_s=min(36_000.0, max(1.0, self._aht.value)),
                           wrapup_s=min(36_000.0, self._wrap.value))
