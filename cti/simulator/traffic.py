"""Seeded, pure random draws: inbound arrivals, patience, ring and talk times, call outcomes.

One `random.Random` per purpose, each seeded from the simulator's seed, so adding a draw of
one kind (say, a phone's handle time) does not shift the arrival sequence of another.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from cti.simulator.config import OUTCOMES, OutboundProfile, PhoneBehaviour, TrafficConfig


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """One inbound call of the traffic plan; `at_s` is simulated seconds from the start."""

    index: int
    at_s: float
    caller: str
    caller_name: str
    did: str
    dtmf: str
    patience_s: float


def poisson_arrivals(cfg: TrafficConfig, seed: int) -> Iterator[PlannedCall]:
    """Arrivals of a Poisson process (exponential gaps), with per-call caller, DTMF, patience."""
    gaps = random.Random(f"{seed}:arrivals")
    pick = random.Random(f"{seed}:callers")
    patience = random.Random(f"{seed}:patience")
    keys = random.Random(f"{seed}:dtmf")  # its own stream: the other draws stay as they were
    rate_per_s = cfg.rate_per_minute / 60.0
    t = 0.0
    i = 0
    while cfg.max_calls is None or i < cfg.max_calls:
        t += gaps.expovariate(rate_per_s)
        caller = pick.choice(cfg.callers)
        dtmf = pick.choice(cfg.dtmf_choices) if cfg.dtmf_choices else ""
        if cfg.random_dtmf_keys:
            dtmf = random_script(keys, cfg.random_dtmf_keys, cfg.random_dtmf_max)
        yield PlannedCall(
            index=i,
            at_s=t,
            caller=caller,
            caller_name=cfg.caller_name,
            did=cfg.did,
            dtmf=dtmf,
            patience_s=patience.expovariate(1.0 / cfg.mean_patience_s),
        )
        i += 1


def random_script(rng: random.Random, keys: str, most: int) -> str:
    """A random caller: 1..most keys; nothing after a hang-up mark."""
    script = "".join(rng.choice(keys) for _ in range(rng.randint(1, most)))
    return script.split("!", 1)[0] + ("!" if "!" in script else "")


class Sampler:
    """Draws for phones and called parties."""

    def __init__(self, seed: int) -> None:
        self._phones = random.Random(f"{seed}:phones")
        self._outbound = random.Random(f"{seed}:outbound")
        self._ids = random.Random(f"{seed}:ids")

    def answer_delay(self, b: PhoneBehaviour) -> float:
        return b.answer_delay_s * self._phones.uniform(0.5, 1.5)

    def handle_time(self, b: PhoneBehaviour) -> float:
        return max(b.handle_time_s * 0.1, self._phones.expovariate(1.0 / b.handle_time_s))

    def outbound_outcome(self, p: OutboundProfile, number: str) -> str:
        forced = p.forced.get(number)
        if forced is not None:
            return forced
        weights = (p.p_human, p.p_machine, p.p_busy, p.p_no_answer, p.p_invalid)
        return self._outbound.choices(OUTCOMES, weights=weights)[0]

    def outbound_answer_delay(self, p: OutboundProfile) -> float:
        return p.answer_delay_s * self._outbound.uniform(0.5, 1.5)

    def command_id(self) -> int:
        # res_agi's CommandId is a random positive int.
        return self._ids.randrange(1, 2**31)

    def hex_id(self, n: int) -> str:
        return "".join(self._ids.choice("0123456789abcdef") for _ in range(n))
