"""A recorded day's inbound arrivals, extracted from the event log's rows (crm_core/history.py
lists the kinds and columns). Pure: the rows come in, frozen arrivals come out; the random draws
are seeded.

What one arrival holds, and where it comes from:
- `at`: the `entered` row that is not an overflow (the call's first enqueue); the day is the
  calls that entered in [start, end), whatever time their outcome came.
- `queue`: where the outcome happened (after overflows: the last `entered` row's queue).
- `tier`: the `entered` row's detail (the IVR's tier from the CRM's customer value);
  `value`: the tier's mean customer value of whatif/traffic.py (the log does not keep
  a caller's own value).
- skills: the log does not keep a call's skills; a replay routes by the queue's.
- `outcome`: answered (an `answered` row) or abandoned (an `abandoned` row); `wait_s` from that
  row (from the first enqueue).
- `patience_s`: how long the caller was willing to wait. Abandoned: the observed time to
  abandon. Answered: censored, it is only known to exceed the observed wait, so it is drawn
  (seeded) from the day's patience distribution given that it exceeds the wait (`Patience`:
  Kaplan-Meier over the day's waits, abandons observed and answers censored, with an exponential
  tail past the last abandon). Drawing from the day's abandons alone (as before 2026-11-28)
  leaned towards short patience: the callers who abandon are the impatient ones, the patient
  ones got answered. Short-patience callers give up instead of waiting past the service level,
  which flatters every replayed policy but the recorded one (that one replays as recorded):
  on seeded engine days it raised the app_queue-like strategies' service level by about 0.09
  (benchmarks.routing_quality --replay).
- `talk_s`: answered, the `ended` row's talk seconds; abandoned, how long the call would have
  lasted had it been answered is unknown: drawn (seeded) from the talk times of the day's
  answered calls of the same queue (of all queues when that queue has none; DEFAULT_TALK_S when
  no call was answered), `talk_drawn` says so. `handle_s` = talk + wrap-up from the `handled`
  row when the wrap-up has ended (a replay's wrap-up is the queue's configured one).

Calls left out, counted by reason in `skipped`: callbacks (the caller left the line), calls handed
back to Asterisk's Queue(), calls with no outcome in the rows given (still going when read), and
answered calls whose end is not logged.
"""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from crm_core.history import HistoryEvent
from whatif.traffic import TIER_VALUES  # a caller's value: their tier's mean

# The event-log kinds an extraction reads (the repository query's filter).
KINDS: tuple[str, ...] = ("entered", "answered", "abandoned", "ended", "handled", "callback",
                          "handed_back")
# How long after the day's end outcomes are still read (a call entered at 23:59 ends after
# midnight).
LATE_S = 6 * 3600.0
DEFAULT_MEAN_PATIENCE_S = 120.0
# Patience's Kaplan-Meier estimate stops where fewer callers than this still wait.
MIN_AT_RISK = 30
DEFAULT_TALK_S = 180.0


@dataclass(frozen=True, slots=True)
class Arrival:
    call_id: str
    at: float  # wall-clock seconds of the first enqueue
    queue: str
    tier: str
    value: float
    outcome: str  # "answered" | "abandoned"
    wait_s: float
    patience_s: float
    patience_censored: bool  # True: drawn (answered), False: observed (abandoned)
    talk_s: float = 0.0
    handle_s: float | None = None
    agent: str = ""
    talk_drawn: bool = False  # True: an abandoned call's talk time, drawn


@dataclass(frozen=True, slots=True)
class DayArrivals:
    arrivals: tuple[Arrival, ...]
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def queues(self) -> list[str]:
        return sorted({a.queue for a in self.arrivals})

    @property
    def agents(self) -> dict[str, set[str]]:
        """Agent -> the queues they answered calls in."""
        out: dict[str, set[str]] = {}
        for a in self.arrivals:
            if a.agent:
                out.setdefault(a.agent, set()).add(a.queue)
        return out


@dataclass(frozen=True, slots=True)
class Patience:
    """A day's patience distribution: the Kaplan-Meier estimate over its callers' waits (an
    abandon is an observed patience, an answer a patience known only to exceed the wait) while
    at least MIN_AT_RISK callers are still waiting, then an exponential tail with the censored
    maximum-likelihood mean (the sum of every wait / the abandons). The estimate's last steps
    rest on a handful of callers (it drops to 0 when the longest wait is an abandon), so it is
    cut before them."""

    times: tuple[float, ...]  # the distinct times to abandon, ascending, up to the cut
    survival: tuple[float, ...]  # P(patience > times[i])
    tail_mean_s: float

    @classmethod
    def estimate(cls, abandoned: Sequence[float], answered: Sequence[float]) -> Patience:
        """From the waits of the abandoned (observed) and of the answered (censored) callers."""
        if not abandoned:
            return cls((), (), DEFAULT_MEAN_PATIENCE_S)
        waits = sorted([*abandoned, *answered])
        events: dict[float, int] = {}
        for w in abandoned:
            events[w] = events.get(w, 0) + 1
        times = tuple(sorted(events))
        survival: list[float] = []
        s = 1.0
        for t in times:
            at_risk = len(waits) - bisect_left(waits, t)  # waits >= t: still waiting at t
            if at_risk < MIN_AT_RISK:
                break
            s *= 1.0 - events[t] / at_risk
            survival.append(s)
        return cls(times[:len(survival)], tuple(survival),
                   max(1e-3, sum(waits) / len(abandoned)))

    def draw_beyond(self, wait: float, rng: random.Random) -> float:
        """A patience drawn from this distribution given that it exceeds `wait`."""
        i = bisect_right(self.times, wait)
        s_wait = self.survival[i - 1] if i > 0 else 1.0
        target = rng.random() * s_wait
        # The first time past the wait whose survival is at or below the target: time t_j is
        # drawn with probability (S(t_j-1) - S(t_j)) / S(wait).
        j = bisect_left(self.survival, -target, lo=i, key=lambda s: -s)
        if j < len(self.times):
            return self.times[j]
        start = max(wait, self.times[-1]) if self.times else wait
        return start + max(1e-3, rng.expovariate(1.0 / self.tail_mean_s))


@dataclass(slots=True)
class _Call:
    at: float
    queue: str
    tier: str
    outcome: str = ""
    wait_s: float = 0.0
    agent: str = ""
    talk_s: float | None = None
    handle_s: float | None = None
    left: str = ""  # callback / handed_back


def extract(events: Iterable[HistoryEvent], *, start: float, end: float,
            queues: Sequence[str] | None = None, seed: int = 1) -> DayArrivals:
    """The calls that entered in [start, end) (events in `at` order, read up to end + LATE_S),
    with their outcomes; `queues`: only calls whose outcome happened in these queues."""
    calls: dict[str, _Call] = {}
    for e in events:
        c = calls.get(e.call_id)
        if e.kind == "entered":
            if e.detail == "overflow":
                if c is not None:
                    c.queue = e.queue
            elif c is None and start <= e.at < end:
                calls[e.call_id] = _Call(e.at, e.queue, e.detail or "unknown")
            continue
        if c is None:
            continue
        if e.kind == "answered":
            c.outcome, c.wait_s, c.agent, c.queue = "answered", e.wait_s or 0.0, e.agent, e.queue
        elif e.kind == "abandoned" and not c.outcome:
            c.outcome, c.wait_s, c.queue = "abandoned", e.wait_s or 0.0, e.queue
        elif e.kind == "ended":
            c.talk_s = e.talk_s or 0.0
        elif e.kind == "handled":
            c.handle_s = e.handle_s
            if c.talk_s is None:
                c.talk_s = e.talk_s or 0.0
        elif e.kind in ("callback", "handed_back") and not c.outcome:
            c.left = e.kind
    wanted = set(queues) if queues else None
    skipped: dict[str, int] = {}
    kept: list[tuple[str, _Call]] = []
    for call_id, c in calls.items():
        if wanted is not None and c.queue not in wanted:
            continue
        reason = (c.left or ("no_outcome" if not c.outcome else "")
                  or ("unfinished" if c.outcome == "answered" and c.talk_s is None else ""))
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
        else:
            kept.append((call_id, c))
    kept.sort(key=lambda kc: (kc[1].at, kc[0]))
    patience_model = Patience.estimate(
        [c.wait_s for _, c in kept if c.outcome == "abandoned"],
        [c.wait_s for _, c in kept if c.outcome == "answered"])
    talks: dict[str, list[float]] = {}
    for _, c in kept:
        if c.outcome == "answered":
            talks.setdefault(c.queue, []).append(c.talk_s or 0.0)
    every_talk = [t for q in sorted(talks) for t in talks[q]]
    rng = random.Random(seed)
    out = []
    for call_id, c in kept:
        if c.outcome == "abandoned":
            patience, censored = c.wait_s, False
            pool = talks.get(c.queue) or every_talk
            c.talk_s = rng.choice(pool) if pool else DEFAULT_TALK_S
        else:
            patience = patience_model.draw_beyond(c.wait_s, rng)
            censored = True
        out.append(Arrival(
            call_id=call_id, at=c.at, queue=c.queue, tier=c.tier,
            value=TIER_VALUES.get(c.tier, 0.0), outcome=c.outcome, wait_s=c.wait_s,
            patience_s=patience, patience_censored=censored, talk_s=c.talk_s or 0.0,
            handle_s=c.handle_s, agent=c.agent, talk_drawn=c.outcome == "abandoned"))
    return DayArrivals(tuple(out), dict(sorted(skipped.items())))
