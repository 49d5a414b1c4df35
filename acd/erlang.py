"""Erlang B / Erlang C (M/M/N) for service level, ASA and staffing.

Traffic `a` is in Erlangs (arrival rate x average handle time). Erlang B comes from the recursion
B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)): every step stays in [0, 1], so it neither overflows nor
loses precision for N in the thousands, unlike the textbook a^N / N! form. Erlang C follows from B:
C = N B / (N - a (1 - B)).
"""

from __future__ import annotations

import math

from acd.errors import InvalidRequest

# Staffing search stops here; a bigger answer means the inputs are not a call center's.
MAX_AGENTS = 100_000


def _check(n: int, a: float) -> None:
    if n < 0:
        raise InvalidRequest(f"agents must be >= 0, got {n}")
    if not math.isfinite(a) or a < 0:
        raise InvalidRequest(f"traffic must be a finite number of Erlangs >= 0, got {a}")


def erlang_b(n: int, a: float) -> float:
    """Blocking probability of an M/M/N/N system with `n` servers and `a` Erlangs offered."""
    _check(n, a)
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def _c_from_b(n: int, a: float, b: float) -> float:
    if n <= a:
        return 1.0  # unstable queue: everyone waits
    return n * b / (n - a * (1.0 - b))


def erlang_c(n: int, a: float) -> float:
    """Probability that a call has to wait (M/M/N, infinite patience). 1.0 when n <= a."""
    return _c_from_b(n, a, erlang_b(n, a))


def _sl(n: int, a: float, c: float, aht_s: float, target_s: float) -> float:
    if n <= a:
        return 0.0
    return max(0.0, 1.0 - c * math.exp(-(n - a) * target_s / aht_s))


def service_level(n: int, a: float, aht_s: float, target_s: float) -> float:
    """Fraction of calls answered within `target_s` seconds with `n` agents."""
    if aht_s <= 0 or target_s < 0:
        raise InvalidRequest("aht_s must be > 0 and target_s >= 0")
    if a == 0:
        return 1.0
    return _sl(n, a, erlang_c(n, a), aht_s, target_s)


def average_speed_of_answer(n: int, a: float, aht_s: float) -> float:
    """Mean wait over all calls (ASA); infinite when n <= a."""
    if aht_s <= 0:
        raise InvalidRequest("aht_s must be > 0")
    if a == 0:
        return 0.0
    if n <= a:
        return math.inf
    return erlang_c(n, a) * aht_s / (n - a)


def agents_needed(a: float, aht_s: float, target_s: float, target_sl: float) -> int:
    """Smallest N whose service level within `target_s` reaches `target_sl` (0 < target_sl < 1).

    Walks N upwards carrying the Erlang B recursion along, so the whole search is O(N).
    """
    _check(0, a)
    if aht_s <= 0 or target_s < 0:
        raise InvalidRequest("aht_s must be > 0 and target_s >= 0")
    if not 0.0 < target_sl < 1.0:
        raise InvalidRequest(f"target service level must be in (0, 1), got {target_sl}")
    if a == 0:
        return 0
    b = 1.0
    for n in range(1, MAX_AGENTS + 1):
        b = a * b / (n + a * b)
        if n > a and _sl(n, a, _c_from_b(n, a, b), aht_s, target_s) >= target_sl:
            return n
    raise InvalidRequest(f"more than {MAX_AGENTS} agents needed for {a} Erlangs")
