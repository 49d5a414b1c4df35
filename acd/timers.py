"""The engine's timers: what is due when (escalation steps, max wait, announcements, wrap-up ends,
the end of a call's time reserved for one agent).

A timer is a plain tuple keyed by a call or agent id plus a token; a timer whose token no longer
matches its owner's is stale and skipped when it comes due (cancelling would need a search of the
heap). Ids and tokens, not records: a tuple of plain values is not tracked by the garbage
collector, and tens of thousands of pending timers would otherwise make every full collection
slower.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Final

_INF: Final = float("inf")

# Timer kinds. Plain ints, not an IntEnum, for the reason above: an enum member is an object the
# collector tracks, and a tuple holding one stays tracked.
STEP: Final = 0  # a call's next escalation step
MAX_WAIT: Final = 1  # a call's max wait in its queue: overflow (or a callback offer)
ANNOUNCE: Final = 2  # a call's next position announcement
WRAP_UP: Final = 3  # an agent's wrap-up ends
REQUIRED: Final = 4  # a call's time reserved for one agent is over: it joins its queue
CLAIM: Final = 5  # an agent claim's hold is over (acd/claims.py): the agent is routed again

# (due, seq, kind, call or agent id, token); seq keeps timers due at once in the order pushed.
Timer = tuple[float, int, int, str, int]


class Timers:
    __slots__ = ("_heap", "_ids", "next_due")

    def __init__(self, ids: Iterator[int]) -> None:
        self._heap: list[Timer] = []
        self._ids = ids  # the engine's sequence (shared with its tokens)
        # The earliest timer's due time (inf: none). An attribute, not a method: every engine
        # input reads it twice.
        self.next_due = _INF

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, due: float, kind: int, key: str, token: int) -> None:
        heapq.heappush(self._heap, (due, next(self._ids), kind, key, token))
        if due < self.next_due:
            self.next_due = due

    def pop_due(self, now: float) -> Iterator[tuple[float, int, str, int]]:
        """(due, kind, key, token) of every timer due at `now`, earliest first; a timer pushed
        meanwhile comes out too if it is due."""
        heap = self._heap
        while self.next_due <= now:
            due, _, kind, key, token = heapq.heappop(heap)
            if heap:
                self.next_due, _, _, _, _ = heap[0]
            else:
                self.next_due = _INF
            yield due, kind, key, token


def next_slot(start: float, every: float, now: float) -> float:
    """The first of start + every, start + 2 x every... strictly after `now`: a late catch-up
    announces once, not once per missed slot."""
    n = int((now - start) // every) + 1
    return start + n * every


# An agent's wrap-up in progress: (queue, talk seconds, wrap-up start, token of its WRAP_UP timer:
# a timer with another token is stale). What the handled call counts once the wrap-up ends.
WrapUp = tuple[str, float, float, int]
