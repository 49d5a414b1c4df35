"""Queue statistics: a sliding window (15 min by default) and since-midnight, per queue and overall.

Pure: the engine records outcomes as they happen (`call_entered`, `call_answered`, ...), each with
its `now`; `report()` combines those running totals with the live picture (waiting calls, agents)
the caller passes in. Recording is O(1) (one tuple appended to a log: it sits on the routing
engine's hot path); totals are kept incrementally (reads fold new outcomes into running sums that
are decremented as outcomes age out), so a wallboard refresh costs O(queues + agents + outcomes
since the last read), not O(calls today).

Definitions: acd/metrics.py holds the one definition of each metric (service level with and
without short abandons, ASA, AHT, abandon rate...), shared with the historical reports. Here:
- an overflowed-out call counts in the queue it went to (it ends there).
- estimated wait (announcements) = position x AHT / staffed agents of the queue, with AHT from the
  window, or `default_aht_s` before any call has been handled.
- agents needed = Erlang C staffing for the window's arrival rate and AHT against the queue's
  service_level_target within service_level_s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter

from acd import metrics
from acd.erlang import agents_needed
from acd.errors import InvalidRequest, UnknownQueue
from acd.model import AgentSnapshot, AgentState
from config.acd import QueueSettings

ALL = ""  # the "overall" key in reports (the REST API names that line "ALL")

# Outcome vector layout.
_ENTERED, _ANSWERED, _ANSWERED_SL, _ABANDONED, _ABANDONED_SHORT = 0, 1, 2, 3, 4
_OVERFLOWED, _WAIT_ANS, _WAIT_ABN, _HANDLED, _HANDLE_SUM, _CALLBACKS = 5, 6, 7, 8, 9, 10
_TRANSFERRED = 11
_FALLBACK_ANS = 12
_IVR_CALLS, _IVR_SELF, _IVR_ABANDONED, _IVR_TRANSFERRED, _IVR_QUEUED = 13, 14, 15, 16, 17
_WIDTH = 18
# An outcome: its non-zero fields only, as (index, value).
_Vec = tuple[tuple[int, float], ...]
# A recorded outcome: (time, queue, kind, value); see _KINDS.
_Event = tuple[float, str, int, float]
# Outcomes older than this are dropped from the "today" totals even if no report moved the day.
_MAX_DAY_S = 48 * 3600.0


@dataclass(frozen=True, slots=True)
class PeriodStats:
    entered: int
    answered: int
    answered_within_sl: int
    abandoned: int
    abandoned_short: int
    overflowed_out: int
    handled: int
    callbacks_requested: int
    transferred: int  # transfers (blind or attended) of the queue's calls, each counted
    service_level: float | None
    service_level_excl_short: float | None
    asa_s: float | None
    aht_s: float | None
    abandon_rate: float | None
    avg_time_to_abandon_s: float | None
    # Of `answered`: callers the server handed back to Asterisk's Queue() (stopping, refused,
    # crashed) whom a Queue() member answered.
    answered_by_fallback: int = 0
    # Callers who finished an IVR menu counted against this queue (routed here, else the
    # menu's default queue), and how (acd/metrics.py IVR_COUNTERS).
    ivr_calls: int = 0
    ivr_self_service: int = 0
    ivr_abandoned: int = 0
    ivr_transferred: int = 0
    ivr_queued: int = 0
    self_service_rate: float | None = None
    ivr_abandon_rate: float | None = None


@dataclass(frozen=True, slots=True)
class AgentStateStats:
    state: AgentState
    count: int
    total_time_s: float  # summed time the agents have been in this state so far
    longest_s: float


@dataclass(frozen=True, slots=True)
class QueueReport:
    queue: str  # ALL ("") for the overall line
    waiting: int
    longest_wait_s: float
    window: PeriodStats
    today: PeriodStats
    agents: tuple[AgentStateStats, ...]  # one per state, in AgentState order
    staffed: int  # logged in and not paused
    arrival_rate_per_h: float  # over the window
    agents_needed: int | None  # None without enough data (no arrivals or no AHT yet)
    overall: bool = False  # True on the line over every queue (queue == ALL)


class _Rolling:
    """Running sums of the outcomes in one shared log that are newer than a moving cutoff.

    The log is shared with the other period (window and today read the same outcomes); this
    object only keeps its own head (the oldest outcome still counted) and sums.
    """

    __slots__ = ("head", "_sums", "_counts")

    def __init__(self) -> None:
        self.head = 0
        self._sums: dict[str, list[float]] = {}
        self._counts: dict[str, int] = {}

    def add(self, events: list[_Event]) -> None:
        sums, counts = self._sums, self._counts
        s_all = sums.get(ALL)
        if s_all is None:
            s_all = sums[ALL] = [0.0] * _WIDTH
        for _, queue, kind, value in events:
            sq = sums.get(queue)
            if sq is None:
                sq = sums[queue] = [0.0] * _WIDTH
            for i, v in _KINDS[kind]:
                x = value if v < 0 else v
                sq[i] += x
                s_all[i] += x
            counts[queue] = counts.get(queue, 0) + 1
        counts[ALL] = counts.get(ALL, 0) + len(events)

    def evict(self, log: list[_Event], upto: int, cutoff: float) -> None:
        """Drop outcomes older than `cutoff` among log[head:upto] (the folded ones)."""
        i = self.head
        while i < upto and log[i][0] < cutoff:
            _, queue, kind, value = log[i]
            vec = _KINDS[kind]
            i += 1
            for key in (queue, ALL):
                self._counts[key] -= 1
                if self._counts[key] == 0:
                    # Exactly zero, rather than float residue from add/subtract round trips.
                    self._sums[key] = [0.0] * _WIDTH
                    continue
                sums = self._sums[key]
                for j, v in vec:
                    sums[j] -= value if v < 0 else v
        self.head = i

    def sums(self, key: str) -> list[float]:
        return self._sums.get(key, [0.0] * _WIDTH)


def _period(s: Sequence[float]) -> PeriodStats:
    answered, abandoned = round(s[_ANSWERED]), round(s[_ABANDONED])
    short = round(s[_ABANDONED_SHORT])
    handled = round(s[_HANDLED])
    f = metrics.queue_figures(
        answered=answered, answered_within_sl=s[_ANSWERED_SL], abandoned=abandoned,
        abandoned_short=short, handled=handled, wait_answered_s=s[_WAIT_ANS],
        wait_abandoned_s=s[_WAIT_ABN], handle_s=s[_HANDLE_SUM],
    )
    return PeriodStats(
        entered=round(s[_ENTERED]),
        answered=answered,
        answered_within_sl=round(s[_ANSWERED_SL]),
        abandoned=abandoned,
        abandoned_short=short,
        overflowed_out=round(s[_OVERFLOWED]),
        handled=handled,
        callbacks_requested=round(s[_CALLBACKS]),
        transferred=round(s[_TRANSFERRED]),
        service_level=f.service_level,
        service_level_excl_short=f.service_level_excl_short,
        asa_s=f.asa_s,
        aht_s=f.aht_s,
        abandon_rate=f.abandon_rate,
        avg_time_to_abandon_s=f.avg_time_to_abandon_s,
        answered_by_fallback=round(s[_FALLBACK_ANS]),
        ivr_calls=round(s[_IVR_CALLS]),
        ivr_self_service=round(s[_IVR_SELF]),
        ivr_abandoned=round(s[_IVR_ABANDONED]),
        ivr_transferred=round(s[_IVR_TRANSFERRED]),
        ivr_queued=round(s[_IVR_QUEUED]),
        self_service_rate=metrics.self_service_rate(round(s[_IVR_SELF]), round(s[_IVR_CALLS])),
        ivr_abandon_rate=metrics.ivr_abandon_rate(round(s[_IVR_ABANDONED]),
                                                  round(s[_IVR_CALLS])),
    )


# Outcome kinds: each is a vector template; a field of _VALUE takes the outcome's value.
_VALUE = -1.0
_K_ENTERED, _K_ANSWERED, _K_ANSWERED_SL, _K_ABANDONED, _K_ABANDONED_SHORT = 0, 1, 2, 3, 4
_K_OVERFLOWED, _K_HANDLED, _K_CALLBACK, _K_TRANSFERRED = 5, 6, 7, 8
_K_FALLBACK_ANSWERED, _K_FALLBACK_ANSWERED_SL = 9, 10
_K_IVR_OTHER, _K_IVR_SELF, _K_IVR_ABANDONED, _K_IVR_TRANSFERRED, _K_IVR_QUEUED = 11, 12, 13, 14, 15
_KINDS: tuple[_Vec, ...] = (
    ((_ENTERED, 1.0),),
    ((_ANSWERED, 1.0), (_WAIT_ANS, _VALUE)),
    ((_ANSWERED, 1.0), (_ANSWERED_SL, 1.0), (_WAIT_ANS, _VALUE)),
    ((_ABANDONED, 1.0), (_WAIT_ABN, _VALUE)),
    ((_ABANDONED, 1.0), (_ABANDONED_SHORT, 1.0), (_WAIT_ABN, _VALUE)),
    ((_OVERFLOWED, 1.0),),
    ((_HANDLED, 1.0), (_HANDLE_SUM, _VALUE)),
    ((_CALLBACKS, 1.0),),
    ((_TRANSFERRED, 1.0),),
    ((_ANSWERED, 1.0), (_FALLBACK_ANS, 1.0), (_WAIT_ANS, _VALUE)),
    ((_ANSWERED, 1.0), (_ANSWERED_SL, 1.0), (_FALLBACK_ANS, 1.0), (_WAIT_ANS, _VALUE)),
    ((_IVR_CALLS, 1.0),),
    ((_IVR_CALLS, 1.0), (_IVR_SELF, 1.0)),
    ((_IVR_CALLS, 1.0), (_IVR_ABANDONED, 1.0)),
    ((_IVR_CALLS, 1.0), (_IVR_TRANSFERRED, 1.0)),
    ((_IVR_CALLS, 1.0), (_IVR_QUEUED, 1.0)),
)
# Stable names for the kinds, as persisted (crm_core.acd_store) across restarts.
KIND_NAMES: tuple[str, ...] = (
    "entered", "answered", "answered_sl", "abandoned", "abandoned_short", "overflowed",
    "handled", "callback", "transferred", "fallback_answered", "fallback_answered_sl",
    "ivr_other", "ivr_self_service", "ivr_abandoned", "ivr_transferred", "ivr_queued",
)
_KIND_BY_NAME = {name: i for i, name in enumerate(KIND_NAMES)}
# Unfolded outcomes allowed to pile up before recording folds them in itself (bounds memory
# when nobody reads; a read folds everything at once).
_FOLD_EVERY = 64


class QueueStats:
    """Recording appends one tuple to a log (the engine's hot path pays nothing more); reads
    fold the new outcomes into the running sums and age old ones out."""

    def __init__(
        self,
        queues: Iterable[QueueSettings],
        window_s: float = 900.0,
        default_aht_s: float = 180.0,
    ) -> None:
        if window_s <= 0 or default_aht_s <= 0:
            raise InvalidRequest("window_s and default_aht_s must be > 0")
        self._queues = {q.name: q for q in queues}
        # queue -> (service_level_s, short_abandon_s), the thresholds recording needs.
        self._limits = {
            q.name: (q.service_level_s, q.short_abandon_s) for q in self._queues.values()
        }
        self.window_s = window_s
        self.default_aht_s = default_aht_s
        self._log: list[_Event] = []
        self._folded = 0  # log[:_folded] is in both periods' sums (or aged out of them)
        self._latest = float("-inf")  # the newest outcome time folded so far
        self._window = _Rolling()
        self._today = _Rolling()
        self._day_start = float("-inf")
        self._dropped = 0  # outcomes compacted away from the head of the log

    def _q(self, queue: str) -> QueueSettings:
        q = self._queues.get(queue)
        if q is None:
            raise UnknownQueue(f"no queue {queue!r}")
        return q

    def _fold(self) -> None:
        """Bring both periods up to date with the log, then age out what recording's own
        clock says is too old (as if each outcome had been added and aged at once)."""
        log = self._log
        n = len(log)
        win, day = self._window, self._today
        if self._folded < n:
            new = log[self._folded:n]
            win.add(new)
            day.add(new)
            self._latest = max(self._latest, max(map(itemgetter(0), new)))
            self._folded = n
        latest = self._latest
        win.evict(log, n, latest - self.window_s)
        day.evict(log, n, max(self._day_start, latest - _MAX_DAY_S))
        self._compact()

    def _compact(self) -> None:
        drop = min(self._window.head, self._today.head)
        if drop > 1024 and drop * 2 > len(self._log):
            del self._log[:drop]
            self._dropped += drop
            self._folded -= drop
            self._window.head -= drop
            self._today.head -= drop

    def _record(self, now: float, queue: str, kind: int, value: float) -> None:
        log = self._log
        log.append((now, queue, kind, value))
        if len(log) - self._folded > _FOLD_EVERY:
            self._fold()

    # -------------------------------------------------------------------------------- recording

    def call_entered(self, queue: str, now: float) -> None:
        if queue not in self._limits:
            raise UnknownQueue(f"no queue {queue!r}")
        self._record(now, queue, _K_ENTERED, 0.0)

    def call_answered(self, queue: str, waited_s: float, now: float) -> None:
        lim = self._limits.get(queue)
        if lim is None:
            raise UnknownQueue(f"no queue {queue!r}")
        kind = _K_ANSWERED_SL if metrics.within_service_level(waited_s, lim[0]) else _K_ANSWERED
        self._record(now, queue, kind, waited_s)

    def call_abandoned(self, queue: str, waited_s: float, now: float) -> None:
        lim = self._limits.get(queue)
        if lim is None:
            raise UnknownQueue(f"no queue {queue!r}")
        kind = _K_ABANDONED_SHORT if metrics.is_short_abandon(waited_s, lim[1]) else _K_ABANDONED
        self._record(now, queue, kind, waited_s)

    def call_overflowed(self, from_queue: str, now: float) -> None:
        if from_queue not in self._limits:
            raise UnknownQueue(f"no queue {from_queue!r}")
        self._record(now, from_queue, _K_OVERFLOWED, 0.0)

    def call_handled(self, queue: str, handle_s: float, now: float) -> None:
        if queue not in self._limits:
            raise UnknownQueue(f"no queue {queue!r}")
        self._record(now, queue, _K_HANDLED, handle_s if handle_s > 0.0 else 0.0)

    def callback_requested(self, queue: str, now: float) -> None:
        if queue not in self._limits:
            raise UnknownQueue(f"no queue {queue!r}")
        self._record(now, queue, _K_CALLBACK, 0.0)

    def call_transferred(self, queue: str, now: float) -> None:
        """A call of ``queue`` was transferred (by API or from the phone)."""
        if queue not in self._limits:
            raise UnknownQueue(f"no queue {queue!r}")
        self._record(now, queue, _K_TRANSFERRED, 0.0)

    def call_answered_by_fallback(self, queue: str, waited_s: float, now: float) -> None:
        """A caller handed back to Asterisk's Queue() was answered there: answered (within the
        service level or not, from the original enqueue) and counted as the fallback's."""
        lim = self._limits.get(queue)
        if lim is None:
            raise UnknownQueue(f"no queue {queue!r}")
        kind = _K_FALLBACK_ANSWERED_SL if waited_s <= lim[0] else _K_FALLBACK_ANSWERED
        self._record(now, queue, kind, waited_s)

    def ivr_outcome(self, queue: str, outcome: str, now: float) -> None:
        """A caller finished an IVR menu with `outcome` (ivr/runner.py), counted against
        `queue` (acd/metrics.py IVR_COUNTERS says which counter besides `ivr_calls`)."""
        if queue not in self._limits:
            raise UnknownQueue(f"no queue {queue!r}")
        kind = _KIND_BY_NAME[metrics.IVR_COUNTERS.get(outcome, "ivr_other")]
        self._record(now, queue, kind, 0.0)

    # -------------------------------------------------------------------------------- persisting

    def outcomes_since(self, mark: int) -> tuple[int, list[tuple[float, str, str, float]]]:
        """Outcomes recorded after `mark` (0 at first; pass the returned mark next time), as
        (time, queue, kind name, value): what a restart needs to rebuild today's totals."""
        start = max(0, mark - self._dropped)
        new = [(t, q, KIND_NAMES[k], v) for t, q, k, v in self._log[start:]]
        return self._dropped + len(self._log), new

    def restore(self, outcomes: Iterable[tuple[float, str, str, float]]) -> int:
        """Replay outcomes saved by an earlier process (times already on this clock); unknown
        queues (removed from the config since) and kinds are skipped. Returns how many."""
        n = 0
        for t, queue, kind, value in outcomes:
            k = _KIND_BY_NAME.get(kind)
            if k is None or queue not in self._limits:
                continue
            self._log.append((t, queue, k, value))
            n += 1
        self._fold()
        return n

    # -------------------------------------------------------------------------------- reading

    def window(self, queue: str, now: float) -> PeriodStats:
        self._fold()
        self._window.evict(self._log, self._folded, now - self.window_s)
        return _period(self._window.sums(queue))

    def today(self, queue: str, now: float, day_start: float) -> PeriodStats:
        self._set_day(day_start, now)
        return _period(self._today.sums(queue))

    def _set_day(self, day_start: float, now: float) -> None:
        self._fold()
        self._day_start = day_start
        self._today.evict(self._log, self._folded, max(day_start, now - _MAX_DAY_S))
        self._compact()

    def aht(self, queue: str, now: float) -> float:
        p = self.window(queue, now)
        return p.aht_s if p.aht_s is not None else self.default_aht_s

    def estimated_wait(self, queue: str, position: int, staffed: int, now: float) -> float:
        return position * self.aht(queue, now) / max(1, staffed)

    def agents_needed(self, queue: str, now: float) -> int | None:
        q = self._q(queue)
        self._fold()
        sums = self._window.sums(queue)
        rate = sums[_ENTERED] / self.window_s
        handled = sums[_HANDLED]
        if rate <= 0 or handled <= 0:
            return None
        aht = sums[_HANDLE_SUM] / handled
        if aht <= 0:
            return None
        return agents_needed(rate * aht, aht, q.service_level_s, q.service_level_target)

    def report(
        self,
        now: float,
        day_start: float,
        waiting: Mapping[str, Sequence[float]],
        agents: Sequence[AgentSnapshot],
    ) -> tuple[QueueReport, ...]:
        """One report per configured queue, then the overall one (queue == ALL).

        `waiting` maps a queue to the current waits (seconds) of its callers; `agents` is every
        agent's snapshot (an agent counts in each queue it serves).
        """
        self._fold()
        self._window.evict(self._log, self._folded, now - self.window_s)
        self._set_day(day_start, now)
        out: list[QueueReport] = []
        needed_total: int | None = None
        for name in self._queues:
            members = [a for a in agents if name in a.queues]
            needed = self.agents_needed(name, now)
            if needed is not None:
                needed_total = (needed_total or 0) + needed
            out.append(self._line(name, now, waiting.get(name, ()), members, needed))
        all_waits = [w for ws in waiting.values() for w in ws]
        out.append(self._line(ALL, now, all_waits, list(agents), needed_total))
        return tuple(out)

    def _line(
        self,
        key: str,
        now: float,
        waits: Sequence[float],
        members: Sequence[AgentSnapshot],
        needed: int | None,
    ) -> QueueReport:
        by_state: dict[AgentState, list[float]] = {s: [] for s in AgentState}
        for a in members:
            by_state[a.state].append(max(0.0, now - a.state_since))
        states = tuple(
            AgentStateStats(s, len(ts), sum(ts), max(ts, default=0.0)) for s, ts in by_state.items()
        )
        staffed = sum(
            1 for a in members if a.state not in (AgentState.LOGGED_OUT, AgentState.PAUSED)
        )
        w = self._window.sums(key)
        return QueueReport(
            queue=key,
            waiting=len(waits),
            longest_wait_s=max(waits, default=0.0),
            window=_period(w),
            today=_period(self._today.sums(key)),
            agents=states,
            staffed=staffed,
            arrival_rate_per_h=w[_ENTERED] * 3600.0 / self.window_s,
            agents_needed=needed,
            overall=key == ALL,
        )
