"""Sliding-window attempt limiter (pure, clock-injected), used to throttle logins.

Each key (a username, a client address) keeps the timestamps of its recent failed attempts. A key
with `max_attempts` failures inside the last `window_s` seconds is blocked until the oldest of them
leaves the window. Memory is bounded: timestamps older than the window are dropped on every touch,
and when more than `max_keys` keys are tracked the least recently touched are forgotten (an
attacker rotating usernames costs memory, not correctness for the keys being attacked).
"""

from __future__ import annotations

from collections import OrderedDict, deque

_MIN_WAIT = 1e-6


class SlidingWindowLimiter:
    def __init__(self, max_attempts: int, window_s: float, max_keys: int = 100_000) -> None:
        if max_attempts < 1 or window_s <= 0 or max_keys < 1:
            raise ValueError("max_attempts >= 1, window_s > 0 and max_keys >= 1 are required")
        self.max_attempts = max_attempts
        self.window_s = window_s
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until `key` may try again; 0.0 when it may try now."""
        hits = self._prune(key, now)
        if hits is None or len(hits) < self.max_attempts:
            return 0.0
        # Blocked means the oldest hit is still inside the window; rounding must not turn that
        # into "0 seconds to wait".
        return max(hits[0] + self.window_s - now, _MIN_WAIT)

    def record(self, key: str, now: float) -> None:
        hits = self._prune(key, now)
        if hits is None:
            hits = deque()
            self._hits[key] = hits
        hits.append(now)
        self._hits.move_to_end(key)
        while len(self._hits) > self.max_keys:
            self._hits.popitem(last=False)

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    def count(self, key: str, now: float) -> int:
        hits = self._prune(key, now)
        return 0 if hits is None else len(hits)

    def __len__(self) -> int:
        return len(self._hits)

    def _prune(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits
