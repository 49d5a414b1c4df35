"""The call-center event log and its 15-minute aggregates (tables in schema migration 6).

Event rows (cc_events), one per fact, `at` = wall-clock Unix seconds:

    kind              queue   agent  call_id  other columns
    agent_state       -       yes    -        state/reason = the new state and pause reason;
                                              prev_state/prev_reason/dur_s = the state left and
                                              the seconds spent in it
    entered           yes     -      yes      number; detail = "overflow" when it came from
                                              another queue (then it is not a new call)
    offered           yes     yes    yes      detail = "callback" for a callback being placed
    rona              yes     yes    yes      reason = no_answer / busy / unavailable ...
    answered          yes     yes    yes      number, wait_s (from the original enqueue)
    abandoned         yes     -      yes      number, wait_s
    callback          yes     -      yes      number (the caller left the line, keeps the place)
    callback_offered  yes     -      yes      (the caller was offered a callback)
    overflow          yes     -      yes      queue = from, reason = to
    ended             yes     yes    yes      wait_s, talk_s (the connected call hung up)
    handled           yes     yes    yes      talk_s, handle_s (= talk + wrap-up; at wrap-up end)
    transferred       yes     yes    yes      reason = the transfer target

Kinds other components append use the same columns. Unknown kinds are stored and ignored by the
aggregates. The IVR (ivr/service.py) writes one `ivr_outcome` row per caller who finished a menu:

    column       ivr_outcome meaning
    queue        the ACD queue it counts against (the one it was routed to, else the menu's
                 default queue)
    state        the menu's name
    reason       outcome: self_service | queued | callback | message | transferred | abandoned
                 (hung up in the menu) | failed (handed back to the dialplan)
    detail       the node path joined by ">"; its last node is where the caller left
    dur_s        seconds in the menu
    call_id, number  the call and the caller ID

They are summed per 15 minutes, menu, queue, exit node and outcome in cc_ivr_intervals (the IVR
reports read those). The dialer (acd/dialer/service.py) writes one `dialer_attempt` row per
attempt, when its outcome is known (`at` = then), including numbers the dial policy refused:

    column       dialer_attempt meaning
    queue        campaign id, as decimal text ("12"); the campaign's name is crm.campaigns.get(id)
    detail       lead id, as decimal text
    call_id      the dialer's call id (= the Originate's ChannelId/uniqueid; the CRM interaction
                 of a connected call has the same call_id)
    number       the number dialled (E.164)
    reason       outcome: connected (a person reached an agent) | abandoned (a person answered,
                 no agent within the deadline, or hung up while waiting: the abandon rule counts
                 it) | machine | busy | no_answer | invalid | failed (hung up before AMD, lost in
                 an AMI drop) | refused (the dial policy refused the number: never dialled)
    state        the lead's status after the attempt (new = retry later, contacted, failed ...)
    prev_state   what was dialled: lead | callback (a scheduled callback) | preview (an agent's
                 preview dial)
    prev_reason  for refused: the dial policy's reason code (country_not_allowed ...); for failed:
                 "recovered" when the lead was found "dialing" at the dialer's start (its
                 process stopped while the line rang; call_id "rc-<lead>-<attempt>"); else ""
    agent        username of the agent who talked (connected), else ""
    dur_s        ring seconds: Originate sent -> answered (or -> the failure outcome)
    wait_s       connected/abandoned: seconds the person waited for an agent (AMD -> agent
                 answered, or -> given up); else NULL
    talk_s       connected: seconds talking with the agent; else NULL

A live answer, for the abandon rate, is reason IN ('connected', 'abandoned'); the rate of a
campaign over a period is abandoned / live answers (the 3 % rule). The outbound reports read
these rows summed by SQLite per 15 minutes (covering index cc_events_dialer_sums,
dialer_sums_sync), joined with the calls' CRM dispositions for conversions.

The interval tables (cc_queue_intervals, cc_agent_intervals, cc_agent_state_intervals,
cc_queue_histograms) hold sums per 15 minutes (`start` = a multiple of 900 s) per queue and per
agent. They are written with the events in one transaction from deltas computed by
acd/history.py (where the metric thresholds live): crm_core only adds numbers.

cc_queue_agent_intervals is also summed per local day of the reports' zone in
cc_queue_agent_days (schema migration 22), like the agent rows in cc_agent_days (migration 9):
the figures by team of whole days read those.

First-call resolution: when a new call (an `entered` row that is not an overflow) comes from a
number, every answered call of that number in the previous `repeat_window_s` not yet marked is
marked `repeated` (and counted in its own interval's `repeated`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, tzinfo
from operator import attrgetter
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:  # acd/history.py (pure) reads this module's types, never the database
    from crm_core.db import Database

INTERVAL_S = 900.0

QUEUE_COUNTERS: tuple[str, ...] = (
    "entered", "offered", "answered", "answered_sl", "abandoned", "abandoned_short",
    "overflowed_out", "handled", "callbacks", "rona", "transferred", "repeated",
    "wait_answered_s", "wait_abandoned_s", "talk_s", "handle_s",
)
# Per 15 minutes, queue AND agent: the answered side of the queue rows, so that a report can
# say which team's agents answered (cc_queue_agent_intervals; the agent "" = none known).
QUEUE_AGENT_COUNTERS: tuple[str, ...] = (
    "answered", "answered_sl", "handled", "transferred", "repeated", "rona",
    "wait_answered_s", "talk_s", "handle_s",
)
AGENT_COUNTERS: tuple[str, ...] = (
    "offered", "answered", "missed", "handled", "transferred", "repeated",
    "wait_answered_s", "talk_s", "handle_s",
)


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    at: float
    kind: str
    queue: str = ""
    agent: str = ""
    call_id: str = ""
    number: str = ""
    state: str = ""
    reason: str = ""
    prev_state: str = ""
    prev_reason: str = ""
    wait_s: float | None = None
    talk_s: float | None = None
    handle_s: float | None = None
    dur_s: float | None = None
    detail: str = ""


_EVENT_COLUMNS = tuple(f.name for f in fields(HistoryEvent))
# dataclasses.astuple deep-copies every field: 20x slower on a batch of rows.
_event_values = attrgetter(*_EVENT_COLUMNS)


@dataclass(slots=True)
class IntervalDeltas:
    """What one batch of events adds to the interval tables (and, with a `day_of`, to the
    per-day agent tables of zone `tz`)."""

    queue: dict[tuple[float, str], dict[str, float]] = field(default_factory=dict)
    agent: dict[tuple[float, str], dict[str, float]] = field(default_factory=dict)
    state: dict[tuple[float, str, str, str], float] = field(default_factory=dict)
    histogram: dict[tuple[float, str, str, int], int] = field(default_factory=dict)
    agent_day: dict[tuple[float, str], dict[str, float]] = field(default_factory=dict)
    # (start, menu, queue, exit node, outcome) -> [calls, seconds in the menu]
    ivr: dict[tuple[float, str, str, str, str], list[float]] = field(default_factory=dict)
    state_day: dict[tuple[float, str, str, str], float] = field(default_factory=dict)
    # (start, queue, agent) -> QUEUE_AGENT_COUNTERS; (start, queue, agent, metric, bin) -> n
    queue_agent: dict[tuple[float, str, str], dict[str, float]] = field(default_factory=dict)
    histogram_agent: dict[tuple[float, str, str, str, int], int] = field(default_factory=dict)
    tz: str = ""
    # bucket start -> local day start in `tz`; None: no per-day rows in this batch
    day_of: Callable[[float], float] | None = None


def zone(name: str) -> tzinfo | None:
    """A configured zone name: "" = the server's local time (None), "UTC" needs no database."""
    if name == "UTC":
        return UTC
    return ZoneInfo(name) if name else None


def local_day(at: float, tz: tzinfo | None) -> float:
    """The start (Unix seconds) of the local day holding `at`."""
    dt = datetime.fromtimestamp(at, tz)
    return dt.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


@dataclass(frozen=True, slots=True)
class QueueInterval:
    start: float
    queue: str
    counters: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class AgentInterval:
    start: float
    agent: str
    counters: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class QueueAgentInterval:
    """The answered side of one queue's figures, for one agent ("" = none known)."""

    start: float
    queue: str
    agent: str
    counters: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class AgentHistogramBin:
    queue: str
    agent: str
    metric: str
    bin: int
    n: int


@dataclass(frozen=True, slots=True)
class StateInterval:
    start: float
    agent: str
    state: str
    reason: str
    seconds: float


@dataclass(frozen=True, slots=True)
class IvrInterval:
    start: float
    menu: str
    queue: str
    node: str  # where the caller left the menu
    outcome: str
    calls: int
    seconds: float  # summed time in the menu


@dataclass(frozen=True, slots=True)
class DialerSum:
    """`dialer_attempt` rows of one 15 minutes, campaign, agent and result, summed."""

    start: float
    campaign: str
    agent: str
    result: str
    attempts: int
    wait_s: float
    conversions: int


@dataclass(frozen=True, slots=True)
class HistogramBin:
    start: float
    queue: str
    metric: str
    bin: int
    n: int


def bucket(at: float) -> float:
    return float(int(at // INTERVAL_S)) * INTERVAL_S


def _upsert(conn: sqlite3.Connection, table: str, keys: Sequence[str], allowed: Sequence[str],
            rows: Mapping[tuple[Any, ...], Mapping[str, float]]) -> None:
    # Column names come from code, never from data; still refuse anything not in the table.
    by_cols: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for key, counters in rows.items():
        cols = tuple(sorted(c for c, v in counters.items() if v))
        bad = set(cols) - set(allowed)
        if bad:
            raise ValueError(f"{table}: unknown counters {sorted(bad)}")
        if cols:
            by_cols.setdefault(cols, []).append((*key, *(counters[c] for c in cols)))
    for cols, values in by_cols.items():
        names = (*keys, *cols)
        sql = (f"INSERT INTO {table} ({', '.join(names)}) "  # noqa: S608 (names from code)
               f"VALUES ({', '.join('?' * len(names))}) "
               f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
               + ", ".join(f"{c} = {c} + excluded.{c}" for c in cols))
        conn.executemany(sql, values)


def append_sync(conn: sqlite3.Connection, events: Sequence[HistoryEvent],
                deltas: IntervalDeltas, repeat_window_s: float) -> int:
    """Append the events and their interval deltas; mark repeated calls. Returns rows written."""
    conn.executemany(
        f"INSERT INTO cc_events ({', '.join(_EVENT_COLUMNS)}) "  # noqa: S608 (names from code)
        f"VALUES ({', '.join('?' * len(_EVENT_COLUMNS))})",
        map(_event_values, events),
    )
    _upsert(conn, "cc_queue_intervals", ("start", "queue"), QUEUE_COUNTERS, deltas.queue)
    _upsert(conn, "cc_agent_intervals", ("start", "agent"), AGENT_COUNTERS, deltas.agent)
    if deltas.state:
        conn.executemany(
            "INSERT INTO cc_agent_state_intervals (start, agent, state, reason, seconds) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (start, agent, state, reason) "
            "DO UPDATE SET seconds = seconds + excluded.seconds",
            [(*k, v) for k, v in deltas.state.items()],
        )
    if deltas.histogram:
        conn.executemany(
            "INSERT INTO cc_queue_histograms (start, queue, metric, bin, n) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (start, queue, metric, bin) DO UPDATE SET n = n + excluded.n",
            [(*k, v) for k, v in deltas.histogram.items()],
        )
    _write_queue_agents(conn, deltas.queue_agent, deltas.histogram_agent, deltas)
    if deltas.agent_day:
        _upsert(conn, "cc_agent_days", ("tz", "start", "agent"), AGENT_COUNTERS,
                {(deltas.tz, *k): v for k, v in deltas.agent_day.items()})
    if deltas.state_day:
        conn.executemany(
            "INSERT INTO cc_agent_state_days (tz, start, agent, state, reason, seconds) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tz, start, agent, state, reason) "
            "DO UPDATE SET seconds = seconds + excluded.seconds",
            [(deltas.tz, *k, v) for k, v in deltas.state_day.items()],
        )
    if deltas.ivr:
        conn.executemany(
            "INSERT INTO cc_ivr_intervals (start, menu, queue, node, outcome, calls, seconds) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (start, menu, queue, node, outcome) "
            "DO UPDATE SET calls = calls + excluded.calls, seconds = seconds + excluded.seconds",
            [(*k, int(v[0]), v[1]) for k, v in deltas.ivr.items()],
        )
    if repeat_window_s > 0:
        _mark_repeats(conn, events, repeat_window_s, deltas)
    return len(events)


def _write_queue_agents(conn: sqlite3.Connection,
                        rows: Mapping[tuple[float, str, str], Mapping[str, float]],
                        histogram: Mapping[tuple[float, str, str, str, int], int],
                        days: IntervalDeltas) -> None:
    """The per-agent queue sums, and with `days.day_of` the same sums per local day of zone
    `days.tz` (cc_queue_agent_days: the figures by team read a month from them)."""
    _upsert(conn, "cc_queue_agent_intervals", ("start", "queue", "agent"), QUEUE_AGENT_COUNTERS,
            rows)
    if days.day_of is not None and rows:
        _upsert(conn, "cc_queue_agent_days", ("tz", "start", "queue", "agent"),
                QUEUE_AGENT_COUNTERS, _by_day(rows, days.tz, days.day_of))
    if histogram:
        conn.executemany(
            "INSERT INTO cc_queue_agent_histograms (start, queue, agent, metric, bin, n) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (start, queue, agent, metric, bin) "
            "DO UPDATE SET n = n + excluded.n",
            [(*k, v) for k, v in histogram.items()])


def _by_day(rows: Mapping[tuple[float, str, str], Mapping[str, float]], tz: str,
            day_of: Callable[[float], float]
            ) -> dict[tuple[str, float, str, str], dict[str, float]]:
    out: dict[tuple[str, float, str, str], dict[str, float]] = {}
    for (b, queue, agent), counters in rows.items():
        acc = out.setdefault((tz, day_of(b), queue, agent), {})
        for c, v in counters.items():
            acc[c] = acc.get(c, 0.0) + v
    return out


def backfill_pending_sync(conn: sqlite3.Connection, name: str) -> tuple[int, int] | None:
    """A named backfill still to do (schema migration 19): (last event id done, last event id
    it covers), or None."""
    row = conn.execute("SELECT done, upto FROM cc_backfills WHERE name = ?", (name,)).fetchone()
    return (int(row[0]), int(row[1])) if row else None


def events_by_id_sync(conn: sqlite3.Connection, after: int, upto: int, kinds: Sequence[str],
                      limit: int) -> tuple[int, list[tuple[HistoryEvent, bool]]]:
    """Events of `kinds` with after < id <= upto, in id order, at most `limit`, each with its
    `repeated` mark; returns the last id read (== upto when there are no more) and the events."""
    cols = ", ".join(_EVENT_COLUMNS)
    cur = conn.execute(
        f"SELECT id, repeated, {cols} FROM cc_events WHERE id > ? AND id <= ? "  # noqa: S608
        f"AND kind IN ({', '.join('?' * len(kinds))}) ORDER BY id LIMIT ?",
        (after, upto, *kinds, limit))
    rows = cur.fetchall()
    last = int(rows[-1][0]) if len(rows) == limit else upto
    return last, [(HistoryEvent(*r[2:]), bool(r[1])) for r in rows]


def backfill_queue_agents_sync(conn: sqlite3.Connection, deltas: IntervalDeltas,
                               done: int) -> None:
    """Add one chunk of rebuilt per-agent queue sums (events up to id `done`) and remember how
    far it got, in one transaction: a restart resumes after the last chunk written."""
    _write_queue_agents(conn, deltas.queue_agent, deltas.histogram_agent, deltas)
    conn.execute("UPDATE cc_backfills SET done = ? WHERE name = 'queue_agents'", (done,))
    conn.execute("DELETE FROM cc_backfills WHERE name = 'queue_agents' AND done >= upto")


def _mark_repeats(conn: sqlite3.Connection, events: Iterable[HistoryEvent],
                  window_s: float, deltas: IntervalDeltas) -> None:
    qrep: dict[tuple[float, str], dict[str, float]] = {}
    arep: dict[tuple[float, str], dict[str, float]] = {}
    qarep: dict[tuple[float, str, str], dict[str, float]] = {}
    drep: dict[tuple[str, float, str], dict[str, float]] = {}
    rebuild = backfill_pending_sync(conn, "queue_agents")
    for e in events:
        if e.kind != "entered" or not e.number or e.detail == "overflow":
            continue
        marked = conn.execute(
            "UPDATE cc_events SET repeated = 1 WHERE kind = 'answered' AND number = ? "
            "AND at >= ? AND at < ? AND repeated = 0 RETURNING id, at, queue, agent",
            (e.number, e.at - window_s, e.at),
        ).fetchall()
        for event_id, at, queue, agent in marked:
            b = bucket(at)
            q = qrep.setdefault((b, queue), {"repeated": 0.0})
            q["repeated"] += 1
            # A row the per-agent rebuild has still to read gets its mark counted by it.
            if not rebuild or not rebuild[0] < event_id <= rebuild[1]:
                qa = qarep.setdefault((b, queue, agent), {"repeated": 0.0})
                qa["repeated"] += 1
            if agent:
                a = arep.setdefault((b, agent), {"repeated": 0.0})
                a["repeated"] += 1
                if deltas.day_of is not None:
                    r = drep.setdefault((deltas.tz, deltas.day_of(b), agent), {"repeated": 0.0})
                    r["repeated"] += 1
    _upsert(conn, "cc_queue_intervals", ("start", "queue"), QUEUE_COUNTERS, qrep)
    _upsert(conn, "cc_agent_intervals", ("start", "agent"), AGENT_COUNTERS, arep)
    _write_queue_agents(conn, qarep, {}, deltas)
    _upsert(conn, "cc_agent_days", ("tz", "start", "agent"), AGENT_COUNTERS, drep)


# ----------------------------------------------------------------------------------- reads


def queue_intervals_sync(conn: sqlite3.Connection, start: float, end: float
                         ) -> list[QueueInterval]:
    cur = conn.execute(
        f"SELECT start, queue, {', '.join(QUEUE_COUNTERS)} FROM cc_queue_intervals "  # noqa: S608
        "WHERE start >= ? AND start < ? ORDER BY start, queue", (bucket(start), end))
    return [QueueInterval(r[0], r[1], dict(zip(QUEUE_COUNTERS, r[2:], strict=True)))
            for r in cur]


def agent_intervals_sync(conn: sqlite3.Connection, start: float, end: float
                         ) -> list[AgentInterval]:
    cur = conn.execute(
        f"SELECT start, agent, {', '.join(AGENT_COUNTERS)} FROM cc_agent_intervals "  # noqa: S608
        "WHERE start >= ? AND start < ? ORDER BY start, agent", (bucket(start), end))
    return [AgentInterval(r[0], r[1], dict(zip(AGENT_COUNTERS, r[2:], strict=True)))
            for r in cur]


def state_intervals_sync(conn: sqlite3.Connection, start: float, end: float
                         ) -> list[StateInterval]:
    cur = conn.execute(
        "SELECT start, agent, state, reason, seconds FROM cc_agent_state_intervals "
        "WHERE start >= ? AND start < ? ORDER BY start, agent", (bucket(start), end))
    return [StateInterval(*r) for r in cur]


def histograms_sync(conn: sqlite3.Connection, start: float, end: float) -> list[HistogramBin]:
    cur = conn.execute(
        "SELECT start, queue, metric, bin, n FROM cc_queue_histograms "
        "WHERE start >= ? AND start < ? ORDER BY start, queue, metric, bin",
        (bucket(start), end))
    return [HistogramBin(*r) for r in cur]


def ivr_intervals_sync(conn: sqlite3.Connection, start: float, end: float
                       ) -> list[IvrInterval]:
    cur = conn.execute(
        "SELECT start, menu, queue, node, outcome, calls, seconds FROM cc_ivr_intervals "
        "WHERE start >= ? AND start < ? ORDER BY start, menu, queue, node, outcome",
        (bucket(start), end))
    return [IvrInterval(*r) for r in cur]


def dialer_sums_sync(conn: sqlite3.Connection, start: float, end: float,
                     conversion_dispositions: Sequence[str], by_agent: bool = True
                     ) -> list[DialerSum]:
    """The `dialer_attempt` rows in [start, end) summed by SQLite per 15 minutes, campaign,
    agent and result, with how many of them converted: their call's CRM interaction ended with
    one of `conversion_dispositions` (the agent's verdict, e.g. "sale", written after the row,
    so it is joined at read time rather than summed at write time). `by_agent=False`: summed
    over the agents (agent ""), for figures per campaign: a connected attempt is nearly always
    the only one of its agent in its 15 minutes, so per agent there are almost as many sums as
    attempts."""
    marks = ", ".join("?" * len(conversion_dispositions)) or "NULL"
    agent = "e.agent" if by_agent else "''"
    cur = conn.execute(
        f"SELECT CAST(e.at / 900 AS INTEGER) * 900 AS b, e.queue, {agent}, e.reason, "  # noqa: S608
        f"COUNT(*), SUM(COALESCE(e.wait_s, 0)), SUM(i.disposition IN ({marks})) "
        "FROM cc_events e LEFT JOIN interactions i ON i.call_id = e.call_id AND e.call_id != '' "
        "WHERE e.kind = 'dialer_attempt' AND e.at >= ? AND e.at < ? "
        f"GROUP BY b, e.queue, {agent}, e.reason ORDER BY b",
        (*conversion_dispositions, start, end))
    return [DialerSum(float(r[0]), r[1], r[2], r[3], int(r[4]), float(r[5]), int(r[6] or 0))
            for r in cur]


def call_dispositions_sync(conn: sqlite3.Connection, call_ids: Sequence[str]
                           ) -> dict[str, str]:
    """call_id -> the disposition of its CRM interaction (calls without one left out): the
    readable cross-check of dialer_sums_sync's join (the benchmark's reference)."""
    out: dict[str, str] = {}
    ids = list(dict.fromkeys(call_ids))
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        out.update(conn.execute(
            "SELECT call_id, disposition FROM interactions WHERE disposition IS NOT NULL "
            f"AND call_id IN ({', '.join('?' * len(chunk))})", chunk).fetchall())  # noqa: S608
    return out


def queue_agent_sums_sync(conn: sqlite3.Connection, bounds: Sequence[tuple[float, float]]
                          ) -> list[QueueAgentInterval]:
    """Per period [ps, pe) of `bounds` (15-minute aligned), queue and agent: the summed
    per-agent queue counters, as rows whose `start` is the period's start."""
    cols = ", ".join(f"SUM({c})" for c in QUEUE_AGENT_COUNTERS)
    sql = (f"SELECT queue, agent, {cols} FROM cc_queue_agent_intervals "  # noqa: S608
           "WHERE start >= ? AND start < ? GROUP BY queue, agent")
    return [QueueAgentInterval(ps, r[0], r[1], dict(zip(QUEUE_AGENT_COUNTERS, r[2:],
                                                        strict=True)))
            for ps, pe in bounds for r in conn.execute(sql, (ps, pe))]


def agent_histograms_sync(conn: sqlite3.Connection, start: float, end: float
                          ) -> list[AgentHistogramBin]:
    """The per-agent queue histograms of [start, end), summed over the range."""
    cur = conn.execute(
        "SELECT queue, agent, metric, bin, SUM(n) FROM cc_queue_agent_histograms "
        "WHERE start >= ? AND start < ? GROUP BY queue, agent, metric, bin",
        (bucket(start), end))
    return [AgentHistogramBin(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in cur]


def campaign_names_sync(conn: sqlite3.Connection) -> dict[str, str]:
    """Campaign id (as the dialer_attempt rows carry it, decimal text) -> name."""
    return {str(r[0]): r[1] for r in conn.execute("SELECT id, name FROM campaigns")}


def events_sync(conn: sqlite3.Connection, start: float, end: float,
                kinds: Sequence[str] | None = None) -> list[HistoryEvent]:
    cols = ", ".join(_EVENT_COLUMNS)
    if kinds:
        cur = conn.execute(
            f"SELECT {cols} FROM cc_events WHERE at >= ? AND at < ? "  # noqa: S608
            f"AND kind IN ({', '.join('?' * len(kinds))}) ORDER BY at, id",
            (start, end, *kinds))
    else:
        cur = conn.execute(
            f"SELECT {cols} FROM cc_events WHERE at >= ? AND at < ? ORDER BY at, id",  # noqa: S608
            (start, end))
    return [HistoryEvent(*r) for r in cur]


def repeated_calls_sync(conn: sqlite3.Connection, start: float, end: float) -> set[str]:
    """Call ids of answered calls in [start, end) that a later call from the number repeated."""
    cur = conn.execute(
        "SELECT call_id FROM cc_events WHERE kind = 'answered' AND repeated = 1 "
        "AND at >= ? AND at < ?", (start, end))
    return {r[0] for r in cur}


class HistoryRepo:
    """Async face of the event log (`crm.history`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(self, events: Sequence[HistoryEvent], deltas: IntervalDeltas,
                     repeat_window_s: float) -> int:
        return await self._db.write(append_sync, events, deltas, repeat_window_s)

    async def queue_intervals(self, start: float, end: float) -> list[QueueInterval]:
        return await self._db.scan(queue_intervals_sync, start, end)

    async def agent_intervals(self, start: float, end: float) -> list[AgentInterval]:
        return await self._db.scan(agent_intervals_sync, start, end)

    async def state_intervals(self, start: float, end: float) -> list[StateInterval]:
        return await self._db.scan(state_intervals_sync, start, end)

    async def histograms(self, start: float, end: float) -> list[HistogramBin]:
        return await self._db.scan(histograms_sync, start, end)

    async def events(self, start: float, end: float,
                     kinds: Sequence[str] | None = None) -> list[HistoryEvent]:
        return await self._db.scan(events_sync, start, end, kinds)

    async def ivr_intervals(self, start: float, end: float) -> list[IvrInterval]:
        return await self._db.scan(ivr_intervals_sync, start, end)

    async def dialer_sums(self, start: float, end: float,
                          conversion_dispositions: Sequence[str], by_agent: bool = True
                          ) -> list[DialerSum]:
        return await self._db.scan(dialer_sums_sync, start, end, conversion_dispositions,
                                   by_agent)

    async def call_dispositions(self, call_ids: Sequence[str]) -> dict[str, str]:
        return await self._db.scan(call_dispositions_sync, call_ids)

    async def queue_agent_sums(self, bounds: Sequence[tuple[float, float]]
                               ) -> list[QueueAgentInterval]:
        return await self._db.scan(queue_agent_sums_sync, bounds)

    async def agent_histograms(self, start: float, end: float) -> list[AgentHistogramBin]:
        return await self._db.scan(agent_histograms_sync, start, end)

    async def backfill_pending(self, name: str) -> tuple[int, int] | None:
        return await self._db.scan(backfill_pending_sync, name)

    async def events_by_id(self, after: int, upto: int, kinds: Sequence[str], limit: int
                           ) -> tuple[int, list[tuple[HistoryEvent, bool]]]:
        return await self._db.scan(events_by_id_sync, after, upto, kinds, limit)

    async def backfill_queue_agents(self, deltas: IntervalDeltas, done: int) -> None:
        await self._db.write(backfill_queue_agents_sync, deltas, done)

    async def campaign_names(self) -> dict[str, str]:
        return await self._db.scan(campaign_names_sync)

    async def repeated_calls(self, start: float, end: float) -> set[str]:
        return await self._db.scan(repeated_calls_sync, start, end)

    async def agent_sums(self, bounds: Sequence[tuple[float, float]]) -> list[AgentInterval]:
        return await self._db.scan(agent_sums_sync, bounds)

    async def state_sums(self, bounds: Sequence[tuple[float, float]]) -> list[StateInterval]:
        return await self._db.scan(state_sums_sync, bounds)

    async def adopt_zone(self, tz: str, next_day: float) -> float:
        return await self._db.write(adopt_zone_sync, tz, next_day)

    async def rollup_since(self, tz: str, queue_agents: bool = False) -> float | None:
        return await self._db.scan(rollup_since_sync, tz, queue_agents)

    async def agent_day_sums(self, tz: str, bounds: Sequence[tuple[float, float]]
                             ) -> list[AgentInterval]:
        return await self._db.scan(agent_day_sums_sync, tz, bounds)

    async def queue_agent_day_sums(self, tz: str, bounds: Sequence[tuple[float, float]]
                                   ) -> list[QueueAgentInterval]:
        return await self._db.scan(queue_agent_day_sums_sync, tz, bounds)

    async def state_day_sums(self, tz: str, bounds: Sequence[tuple[float, float]]
                             ) -> list[StateInterval]:
        return await self._db.scan(state_day_sums_sync, tz, bounds)

    async def dispositions(self, start: float, end: float) -> list[tuple[str, str, int]]:
        return await self._db.scan(dispositions_sync, start, end)

    async def team_members(self, team_id: int) -> list[str]:
        return await self._db.scan(team_members_sync, team_id)

    async def agent_teams(self) -> dict[str, str]:
        return await self._db.scan(agent_teams_sync)


def agent_sums_sync(conn: sqlite3.Connection, bounds: Sequence[tuple[float, float]]
                    ) -> list[AgentInterval]:
    """Per period [ps, pe) of `bounds` (15-minute aligned) and agent: the summed counters, as
    rows whose `start` is the period's start. SQLite sums, Python sees one row per agent."""
    cols = ", ".join(f"SUM({c})" for c in AGENT_COUNTERS)
    sql = (f"SELECT agent, {cols} FROM cc_agent_intervals "  # noqa: S608 (names from code)
           "WHERE start >= ? AND start < ? GROUP BY agent")
    out = []
    for ps, pe in bounds:
        for r in conn.execute(sql, (ps, pe)):
            out.append(AgentInterval(ps, r[0], dict(zip(AGENT_COUNTERS, r[1:], strict=True))))
    return out


def state_sums_sync(conn: sqlite3.Connection, bounds: Sequence[tuple[float, float]]
                    ) -> list[StateInterval]:
    out = []
    for ps, pe in bounds:
        for r in conn.execute(
                "SELECT agent, state, reason, SUM(seconds) FROM cc_agent_state_intervals "
                "WHERE start >= ? AND start < ? GROUP BY agent, state, reason", (ps, pe)):
            out.append(StateInterval(ps, *r))
    return out


def adopt_zone_sync(conn: sqlite3.Connection, tz: str, next_day: float) -> float:
    """Per-day rows are cut in zone `tz` from now on. If it was not the current zone, its rows
    count as complete only from `next_day` (the next local midnight), or from the beginning when
    the log is still empty; returns since when they are complete.

    The per-day queue-and-agent rows of the zone are first summed from the 15-minute ones
    (which never depend on a zone) when the zone becomes current, or once after schema
    migration 22 created them: they are complete from the beginning, so `since` holds for them
    too."""
    row = conn.execute("SELECT since, current, queue_agent_days FROM cc_rollups WHERE tz = ?",
                       (tz,)).fetchone()
    if row is not None and row[1]:
        if not row[2]:
            _rebuild_queue_agent_days(conn, tz)
        return float(row[0])
    empty = conn.execute("SELECT 1 FROM cc_events LIMIT 1").fetchone() is None
    since = 0.0 if empty else next_day
    # A zone that stops being current stops getting rows: rebuilt if it comes back.
    conn.execute("UPDATE cc_rollups SET current = 0, queue_agent_days = 0")
    conn.execute("INSERT INTO cc_rollups (tz, since, current) VALUES (?, ?, 1) "
                 "ON CONFLICT (tz) DO UPDATE SET since = excluded.since, current = 1",
                 (tz, since))
    _rebuild_queue_agent_days(conn, tz)
    return since


def _rebuild_queue_agent_days(conn: sqlite3.Connection, tz: str) -> None:
    """cc_queue_agent_days of zone `tz` := the 15-minute per-agent queue rows summed per local
    day (a one-time cost: about a second per month of 200 agents)."""
    zone_ = zone(tz)
    days: dict[float, float] = {}

    def day_of(start: float) -> float:
        d = days.get(start)
        if d is None:
            d = days[start] = local_day(start, zone_)
        return d

    conn.create_function("cc_local_day", 1, day_of, deterministic=True)
    cols = ", ".join(QUEUE_AGENT_COUNTERS)
    conn.execute("DELETE FROM cc_queue_agent_days WHERE tz = ?", (tz,))
    conn.execute(
        f"INSERT INTO cc_queue_agent_days (tz, start, queue, agent, {cols}) "  # noqa: S608
        f"SELECT ?, cc_local_day(start) AS day, queue, agent, "
        f"{', '.join(f'SUM({c})' for c in QUEUE_AGENT_COUNTERS)} "
        "FROM cc_queue_agent_intervals GROUP BY day, queue, agent", (tz,))
    conn.execute("UPDATE cc_rollups SET queue_agent_days = 1 WHERE tz = ?", (tz,))


def rollup_since_sync(conn: sqlite3.Connection, tz: str, queue_agents: bool = False
                      ) -> float | None:
    """Since when the per-day rows of zone `tz` are complete (None: not the current zone);
    `queue_agents`: the per-day queue-and-agent rows, None until they have been summed (a
    database migrated to schema 22 whose history writer has not started since)."""
    row = conn.execute("SELECT since, queue_agent_days FROM cc_rollups "
                       "WHERE tz = ? AND current = 1", (tz,)).fetchone()
    if row is None or (queue_agents and not row[1]):
        return None
    return float(row[0])


def agent_day_sums_sync(conn: sqlite3.Connection, tz: str,
                        bounds: Sequence[tuple[float, float]]) -> list[AgentInterval]:
    """Like agent_sums_sync, from the per-day rows (bounds on local day starts)."""
    cols = ", ".join(f"SUM({c})" for c in AGENT_COUNTERS)
    sql = (f"SELECT agent, {cols} FROM cc_agent_days "  # noqa: S608 (names from code)
           "WHERE tz = ? AND start >= ? AND start < ? GROUP BY agent")
    return [AgentInterval(ps, r[0], dict(zip(AGENT_COUNTERS, r[1:], strict=True)))
            for ps, pe in bounds for r in conn.execute(sql, (tz, ps, pe))]


def queue_agent_day_sums_sync(conn: sqlite3.Connection, tz: str,
                              bounds: Sequence[tuple[float, float]]
                              ) -> list[QueueAgentInterval]:
    """Like queue_agent_sums_sync, from the per-day rows (bounds on local day starts)."""
    cols = ", ".join(f"SUM({c})" for c in QUEUE_AGENT_COUNTERS)
    sql = (f"SELECT queue, agent, {cols} FROM cc_queue_agent_days "  # noqa: S608
           "WHERE tz = ? AND start >= ? AND start < ? GROUP BY queue, agent")
    return [QueueAgentInterval(ps, r[0], r[1], dict(zip(QUEUE_AGENT_COUNTERS, r[2:],
                                                        strict=True)))
            for ps, pe in bounds for r in conn.execute(sql, (tz, ps, pe))]


def state_day_sums_sync(conn: sqlite3.Connection, tz: str,
                        bounds: Sequence[tuple[float, float]]) -> list[StateInterval]:
    return [StateInterval(ps, *r) for ps, pe in bounds for r in conn.execute(
        "SELECT agent, state, reason, SUM(seconds) FROM cc_agent_state_days "
        "WHERE tz = ? AND start >= ? AND start < ? GROUP BY agent, state, reason",
        (tz, ps, pe))]


def dispositions_sync(conn: sqlite3.Connection, start: float, end: float
                      ) -> list[tuple[str, str, int]]:
    """(agent username, disposition, calls) of call interactions that ended in [start, end)."""
    cur = conn.execute(
        "SELECT u.username, COALESCE(i.disposition, ''), COUNT(*) FROM interactions i "
        "JOIN users u ON u.id = i.agent_user_id WHERE i.kind = 'call' "
        "AND i.ended_at >= ? AND i.ended_at < ? GROUP BY u.username, i.disposition",
        (start, end))
    return [(r[0], r[1], int(r[2])) for r in cur]


def team_members_sync(conn: sqlite3.Connection, team_id: int) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT username FROM users WHERE team_id = ? ORDER BY username", (team_id,))]


def agent_teams_sync(conn: sqlite3.Connection) -> dict[str, str]:
    """username -> team name (agents without a team are left out)."""
    cur = conn.execute("SELECT u.username, t.name FROM users u JOIN teams t ON t.id = u.team_id")
    return {r[0]: r[1] for r in cur}
