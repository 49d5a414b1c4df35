"""What the ACD did, as durable history: engine inputs and commands -> event-log rows, and the
15-minute interval sums those rows add. Pure: no I/O, no clock reads (wall time comes from the
injected `to_wall`); acd/history_writer.py moves the rows to the CRM database.

The engine is not touched: AcdService hands every input it fed the engine, with its `now` and the
commands that came back, to `HistoryDeriver.observe` (AcdService.observe_commands). Inputs tell
what the caller or agent did (enqueue = entered, offer_answered = answered, offer_failed = RONA,
request_callback = callback); commands tell what the engine decided (Offer, Overflowed,
CallRemoved, AgentStateChanged...). Values follow the engine's own statistics exactly (acd/stats.py
records the same waits and handle times at the same moments), which the wallboard-equals-report
test checks: waits run from the original enqueue; handle time = talk + wrap-up, counted when the
wrap-up ends (by timer, by the agent, or by a pause or logout during wrap-up).

The row kinds are listed in crm_core/history.py. Other components (dialer, IVR, call control)
append their own rows with `HistoryDeriver.record`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from acd import metrics
from acd.model import (
    AgentState,
    AgentStateChanged,
    CallRemoved,
    Command,
    NewCall,
    Offer,
    OfferCallback,
    Overflowed,
    PlaceCallback,
)
from crm_core.history import INTERVAL_S, HistoryEvent, IntervalDeltas, bucket

log = structlog.get_logger("acd.history")

# Histogram bin edges (seconds): bin i holds values in [edges[i], edges[i+1]); the last is open.
WAIT_BINS: tuple[float, ...] = (0, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)
DURATION_BINS: tuple[float, ...] = (0, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600)
HISTOGRAMS: Mapping[str, tuple[float, ...]] = {
    "wait_answered": WAIT_BINS, "wait_abandoned": WAIT_BINS,
    "talk": DURATION_BINS, "handle": DURATION_BINS,
}
# States that count as time at work (login time) and as busy (occupancy's numerator).
BUSY_STATES = frozenset({AgentState.RESERVED.value, AgentState.ON_CALL.value,
                         AgentState.WRAP_UP.value})


def bin_index(edges: Sequence[float], value: float) -> int:
    return max(0, bisect_right(edges, value) - 1)


@dataclass(slots=True)
class _Call:
    queue: str
    enqueued: float  # engine time
    number: str
    agent: str = ""
    answered: float | None = None


RECENT_ENDED = 1000


class HistoryDeriver:
    """Accumulates HistoryEvents from the engine's traffic; `drain()` hands them out."""

    def __init__(self, to_wall: Callable[[float], float]) -> None:
        self.to_wall = to_wall
        self._out: list[HistoryEvent] = []
        self._calls: dict[str, _Call] = {}
        # Answered calls whose ACD part ended, (queue, agent), the latest RECENT_ENDED: a
        # transfer reported after it (the tracker's message reaches the writer through the bus,
        # the ACD ends its agent's part at once) still counts against its queue and agent.
        self._ended: OrderedDict[str, tuple[str, str]] = OrderedDict()
        # agent -> (state, reason, since wall)
        self._agents: dict[str, tuple[str, str, float]] = {}
        self._wrap_start: dict[str, float] = {}
        # agent -> (queue, call id, talk seconds, wrap-up start) until the wrap-up ends
        self._wrapping: dict[str, tuple[str, str, float, float]] = {}

    def drain(self) -> list[HistoryEvent]:
        out, self._out = self._out, []
        return out

    @property
    def pending(self) -> int:
        return len(self._out)

    def record(self, event: HistoryEvent) -> None:
        """Append a row from elsewhere (dialer attempts, IVR outcomes, transfers)."""
        self._out.append(event)

    def transferred(self, call_id: str, target: str, now: float, queue: str = "") -> None:
        """The call was transferred (its agent and queue from the ACD when it still has it)."""
        c = self._calls.get(call_id)
        if c is not None:
            queue, agent = c.queue, c.agent
        else:
            queue, agent = self._ended.get(call_id, (queue, ""))
        if not queue:
            return  # not a call that went through a queue: nothing to count it against
        self._out.append(HistoryEvent(
            self.to_wall(now), "transferred", queue=queue, agent=agent, call_id=call_id,
            reason=target))

    def close(self, now: float) -> None:
        """The server stops: agents still logged in are logged out at `now` (their open state
        time is counted)."""
        for agent_id, (state, _, _) in list(self._agents.items()):
            self._state(AgentStateChanged(agent_id, AgentState(state), AgentState.LOGGED_OUT,
                                          None, now), detail="shutdown")

    # ------------------------------------------------------------------------------ observe

    def observe(self, name: str, args: Sequence[Any], now: float,
                cmds: Sequence[Command]) -> None:
        try:
            self._observe(name, args, now, cmds)
        except Exception:  # history must never break routing
            log.exception("history_observe_failed", input=name)

    def _observe(self, name: str, args: Sequence[Any], now: float,
                 cmds: Sequence[Command]) -> None:
        wall = self.to_wall(now)
        if name in ("enqueue", "enqueue_callback"):
            call: NewCall = args[0]
            self._calls[call.call_id] = _Call(call.queue, now, call.number)
            self._out.append(HistoryEvent(wall, "entered", queue=call.queue,
                                          call_id=call.call_id, number=call.number,
                                          detail=call.tier))
            if name == "enqueue_callback":  # a scheduled callback: one from the start
                self._out.append(HistoryEvent(wall, "callback", queue=call.queue,
                                              call_id=call.call_id, number=call.number))
        elif name == "offer_answered":
            c = self._calls.get(args[0])
            if c is not None:
                c.answered = now
                self._out.append(HistoryEvent(wall, "answered", queue=c.queue, agent=c.agent,
                                              call_id=args[0], number=c.number,
                                              wait_s=now - c.enqueued))
        elif name == "offer_failed":
            c = self._calls.get(args[0])
            if c is not None:
                self._out.append(HistoryEvent(wall, "rona", queue=c.queue, agent=c.agent,
                                              call_id=args[0], reason=str(args[1])))
                c.agent = ""
        elif name == "request_callback":
            c = self._calls.get(args[0])
            if c is not None:
                c.number = str(args[1])
                self._out.append(HistoryEvent(wall, "callback", queue=c.queue, call_id=args[0],
                                              number=c.number))
        for cmd in cmds:
            self._command(cmd, now, wall)

    def _command(self, cmd: Command, now: float, wall: float) -> None:
        if isinstance(cmd, AgentStateChanged):
            self._state(cmd)
        elif isinstance(cmd, Offer | PlaceCallback):
            c = self._calls.get(cmd.call_id)
            if c is not None:
                c.agent = cmd.agent_id
            self._out.append(HistoryEvent(
                wall, "offered", queue=cmd.queue, agent=cmd.agent_id, call_id=cmd.call_id,
                detail="callback" if isinstance(cmd, PlaceCallback) else ""))
        elif isinstance(cmd, CallRemoved):
            c = self._calls.pop(cmd.call_id, None)
            number = c.number if c else ""
            if cmd.reason == "abandoned":
                self._out.append(HistoryEvent(wall, "abandoned", queue=cmd.queue,
                                              call_id=cmd.call_id, number=number,
                                              wait_s=cmd.waited_s))
            elif cmd.reason == "handed_back":
                # Given to Asterisk's Queue() (the server is stopping, or could not keep the
                # call): neither answered nor abandoned here; acd.continuity records the outcome.
                self._out.append(HistoryEvent(wall, "handed_back", queue=cmd.queue,
                                              call_id=cmd.call_id, number=number,
                                              wait_s=cmd.waited_s))
            else:
                agent = cmd.agent_id or ""
                answered = c.answered if c is not None and c.answered is not None else now
                talk = now - answered
                self._out.append(HistoryEvent(wall, "ended", queue=cmd.queue, agent=agent,
                                              call_id=cmd.call_id, number=number,
                                              wait_s=cmd.waited_s, talk_s=talk))
                start = self._wrap_start.pop(agent, None)
                if start is not None:
                    self._wrapping[agent] = (cmd.queue, cmd.call_id, talk, start)
                self._ended[cmd.call_id] = (cmd.queue, agent)
                if len(self._ended) > RECENT_ENDED:
                    self._ended.popitem(last=False)
        elif isinstance(cmd, Overflowed):
            c = self._calls.get(cmd.call_id)
            if c is not None:
                c.queue = cmd.to_queue
            self._out.append(HistoryEvent(wall, "overflow", queue=cmd.from_queue,
                                          call_id=cmd.call_id, reason=cmd.to_queue))
            self._out.append(HistoryEvent(wall, "entered", queue=cmd.to_queue,
                                          call_id=cmd.call_id, number=c.number if c else "",
                                          detail="overflow"))
        elif isinstance(cmd, OfferCallback):
            self._out.append(HistoryEvent(wall, "callback_offered", queue=cmd.queue,
                                          call_id=cmd.call_id))

    def _state(self, cmd: AgentStateChanged, detail: str = "") -> None:
        agent = cmd.agent_id
        wall = self.to_wall(cmd.at)
        new = cmd.new.value
        reason = (cmd.reason or "") if cmd.new is AgentState.PAUSED else ""
        prev = self._agents.get(agent)
        if cmd.old is AgentState.WRAP_UP:
            w = self._wrapping.pop(agent, None)
            if w is not None:
                queue, call_id, talk, start = w
                handle = talk + (cmd.at - start)
                self._out.append(HistoryEvent(wall, "handled", queue=queue, agent=agent,
                                              call_id=call_id, talk_s=talk,
                                              handle_s=handle if handle > 0.0 else 0.0))
        if cmd.new is AgentState.WRAP_UP:
            self._wrap_start[agent] = cmd.at
        self._out.append(HistoryEvent(
            wall, "agent_state", agent=agent, state=new, reason=reason,
            prev_state=prev[0] if prev else cmd.old.value, prev_reason=prev[1] if prev else "",
            dur_s=max(0.0, wall - prev[2]) if prev else None, detail=detail))
        if cmd.new is AgentState.LOGGED_OUT:
            self._agents.pop(agent, None)
        else:
            self._agents[agent] = (new, reason, wall)


# ------------------------------------------------------------------------------ aggregation

Limits = Mapping[str, tuple[float, float]]  # queue -> (service_level_s, short_abandon_s)


def interval_deltas(events: Sequence[HistoryEvent], limits: Limits,
                    default_limits: tuple[float, float] = (20.0, 5.0), *,
                    day_of: Callable[[float], float] | None = None, tz: str = ""
                    ) -> IntervalDeltas:
    """What these events add to the 15-minute tables (the same outcomes acd/stats.py counts),
    and with `day_of` (15-minute start -> local day start in zone `tz`) to the per-day agent
    tables: the same sums, regrouped."""
    d = IntervalDeltas(tz=tz, day_of=day_of)
    qd, ad, qad = d.queue, d.agent, d.queue_agent

    def q(at: float, queue: str) -> dict[str, float]:
        key = (bucket(at), queue)
        row = qd.get(key)
        if row is None:
            row = qd[key] = {}
        return row

    def a(at: float, agent: str) -> dict[str, float]:
        key = (bucket(at), agent)
        row = ad.get(key)
        if row is None:
            row = ad[key] = {}
        return row

    def add(row: dict[str, float], name: str, v: float = 1.0) -> None:
        row[name] = row.get(name, 0.0) + v

    def qa(at: float, queue: str, agent: str) -> dict[str, float]:
        key = (bucket(at), queue, agent)
        row = qad.get(key)
        if row is None:
            row = qad[key] = {}
        return row

    def hist(at: float, queue: str, metric: str, v: float, agent: str | None = None) -> None:
        b, i = bucket(at), bin_index(HISTOGRAMS[metric], v)
        key = (b, queue, metric, i)
        d.histogram[key] = d.histogram.get(key, 0) + 1
        if agent is not None:  # the answered side, per agent too (figures by team)
            akey = (b, queue, agent, metric, i)
            d.histogram_agent[akey] = d.histogram_agent.get(akey, 0) + 1

    for e in events:
        k = e.kind
        if k == "agent_state":
            if e.dur_s and e.prev_state and e.prev_state != AgentState.LOGGED_OUT.value:
                split_state(d.state, e.agent, e.prev_state, e.prev_reason, e.at - e.dur_s, e.at)
            continue
        if k == "entered":
            add(q(e.at, e.queue), "entered")
        elif k == "offered":
            add(q(e.at, e.queue), "offered")
            if e.agent:
                add(a(e.at, e.agent), "offered")
        elif k == "rona":
            add(q(e.at, e.queue), "rona")
            add(qa(e.at, e.queue, e.agent), "rona")
            if e.agent:
                add(a(e.at, e.agent), "missed")
        elif k == "answered":
            wait = e.wait_s or 0.0
            row = q(e.at, e.queue)
            add(row, "answered")
            add(row, "wait_answered_s", wait)
            qrow = qa(e.at, e.queue, e.agent)
            add(qrow, "answered")
            add(qrow, "wait_answered_s", wait)
            sl_s = limits.get(e.queue, default_limits)[0]
            if metrics.within_service_level(wait, sl_s):
                add(row, "answered_sl")
                add(qrow, "answered_sl")
            hist(e.at, e.queue, "wait_answered", wait, e.agent)
            if e.agent:
                ar = a(e.at, e.agent)
                add(ar, "answered")
                add(ar, "wait_answered_s", wait)
        elif k == "abandoned":
            wait = e.wait_s or 0.0
            row = q(e.at, e.queue)
            add(row, "abandoned")
            add(row, "wait_abandoned_s", wait)
            if metrics.is_short_abandon(wait, limits.get(e.queue, default_limits)[1]):
                add(row, "abandoned_short")
            hist(e.at, e.queue, "wait_abandoned", wait)
        elif k == "overflow":
            add(q(e.at, e.queue), "overflowed_out")
        elif k == "callback":
            add(q(e.at, e.queue), "callbacks")
        elif k == "handled":
            talk, handle = e.talk_s or 0.0, e.handle_s or 0.0
            row = q(e.at, e.queue)
            add(row, "handled")
            add(row, "talk_s", talk)
            add(row, "handle_s", handle)
            qrow = qa(e.at, e.queue, e.agent)
            add(qrow, "handled")
            add(qrow, "talk_s", talk)
            add(qrow, "handle_s", handle)
            hist(e.at, e.queue, "talk", talk, e.agent)
            hist(e.at, e.queue, "handle", handle, e.agent)
            if e.agent:
                ar = a(e.at, e.agent)
                add(ar, "handled")
                add(ar, "talk_s", talk)
                add(ar, "handle_s", handle)
        elif k == "transferred":
            add(q(e.at, e.queue), "transferred")
            add(qa(e.at, e.queue, e.agent), "transferred")
            if e.agent:
                add(a(e.at, e.agent), "transferred")
        elif k == "ivr_outcome":
            ikey = (bucket(e.at), e.state, e.queue, ivr_exit_node(e.detail), e.reason)
            acc = d.ivr.get(ikey)
            if acc is None:
                acc = d.ivr[ikey] = [0.0, 0.0]
            acc[0] += 1
            acc[1] += e.dur_s or 0.0
    if day_of is not None:
        for (b, agent), row in ad.items():
            day = d.agent_day.setdefault((day_of(b), agent), {})
            for name, v in row.items():
                day[name] = day.get(name, 0.0) + v
        for (b, agent, state, reason), secs in d.state.items():
            key = (day_of(b), agent, state, reason)
            d.state_day[key] = d.state_day.get(key, 0.0) + secs
    return d


def ivr_exit_node(path: str) -> str:
    """Where the caller left a menu: the last node of an `ivr_outcome` row's path."""
    return path.rsplit(">", 1)[-1]


def ivr_outcome_event(*, at: float, menu: str, queue: str, outcome: str,
                      path: Sequence[str], seconds: float, call_id: str = "",
                      number: str = "") -> HistoryEvent:
    """The event-log row of a caller finishing an IVR menu (columns: crm_core/history.py)."""
    return HistoryEvent(at, "ivr_outcome", queue=queue, call_id=call_id, number=number,
                        state=menu, reason=outcome, detail=">".join(path), dur_s=seconds)


def split_state(out: dict[tuple[float, str, str, str], float], agent: str, state: str,
                reason: str, start: float, end: float) -> None:
    """Add the seconds of [start, end) in `state` to each 15-minute interval they cover."""
    t = start
    while t < end:
        b = bucket(t)
        stop = min(end, b + INTERVAL_S)
        key = (b, agent, state, reason)
        out[key] = out.get(key, 0.0) + (stop - t)
        t = stop
