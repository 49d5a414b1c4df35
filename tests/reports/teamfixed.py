"""A small fixed history for the inbound figures by team (test_inbound_teams.py), with the
expected figures worked out by hand from reports/teams.py's definition.

Day 1 = 2023-11-15 (UTC); every queue: service level 20 s, short abandon 5 s.
Teams: north = n1, n2; south = s1; x1 is in no team. Owners ([reports].queue_teams):
support -> north, sales -> south; billing has none.

    t1  support +1001  answered by n1 08:00:15 (wait 15, in SL); handled 310 s
    t2  support        answered by s1 (a south agent on north's queue) 08:10:30 (wait 30);
                       s1 transfers it to a north extension at 08:12: south's transfer
    t3  support        abandoned after 3 s (short)                       -> north
    t4  support        abandoned after 45 s                              -> north
    t5  sales          overflowed to support after 60 s                  -> south (overflow)
                       answered in support by n2 at 10:01:10 (wait 70)   -> north (answer)
    t6  billing        abandoned after 4 s (short)                       -> (none)
    t7  billing        answered by x1 (wait 10, in SL)                   -> (none)
    t10 sales          offered to s1, ring-no-answer (south's RONA), answered by n1 (wait 25)
    t11 support +1001  answered by n2 (wait 5): repeats t1, so t1 is not resolved first time
    t8  support        entered 23:59:50 on day 1, answered by n1 00:00:05 on day 2 (wait 15)
    t9  sales          entered 23:59:58 on day 1, abandoned 00:00:01 on day 2 (short)

Day 1, by team:
    north: answered 4 (t1 t5 t10 t11), in SL 2 (t1 t11), abandoned 2 (t3 t4; short 1),
           overflowed out 0 -> offered 6; SL 2/6; SL without short abandons 2/5; ASA
           (15+70+25+5)/4 = 28.75; AHT (310+130+120+60)/4 = 155; abandon rate 2/6; time to
           abandon (3+45)/2 = 24; transfer rate 0/4; FCR (4-1)/4 = 0.75.
    south: answered 1 (t2), in SL 0, abandoned 0, overflowed out 1 (t5) -> offered 2;
           SL 0/1; ASA 30; AHT 280; transfer rate 1/1; RONA 1 (t10); FCR 1.
    (none): answered 1 (t7, in SL), abandoned 1 (t6, short) -> offered 2; SL 1/2, without
           short abandons 1/1; AHT 120.
    all teams: answered 6, in SL 3, abandoned 3, overflowed out 1 -> offered 10; SL 3/9.
Day 2: north answered t8 (in SL, AHT 120); south abandoned t9 (short).
"""

from __future__ import annotations

import sqlite3

from crm_core.history import QUEUE_AGENT_COUNTERS, HistoryEvent, local_day, zone

D = 1_700_006_400.0
H = 3600.0
LIMITS = {"support": (20.0, 5.0), "sales": (20.0, 5.0), "billing": (20.0, 5.0)}
OWNERS = {"support": "north", "sales": "south"}
TEAMS = {"n1": "north", "n2": "north", "s1": "south"}


def E(at: float, kind: str, **kw: object) -> HistoryEvent:
    return HistoryEvent(D + at, kind, **kw)  # type: ignore[arg-type]


def answered_call(cid: str, queue: str, agent: str, entered: float, wait: float, talk: float,
                  wrap: float = 10.0, number: str = "") -> list[HistoryEvent]:
    ans = entered + wait
    return [
        E(entered, "entered", queue=queue, call_id=cid, number=number),
        E(ans - 2, "offered", queue=queue, agent=agent, call_id=cid),
        E(ans, "answered", queue=queue, agent=agent, call_id=cid, number=number, wait_s=wait),
        E(ans + talk, "ended", queue=queue, agent=agent, call_id=cid, wait_s=wait,
          talk_s=talk),
        E(ans + talk + wrap, "handled", queue=queue, agent=agent, call_id=cid, talk_s=talk,
          handle_s=talk + wrap),
    ]


def abandoned_call(cid: str, queue: str, entered: float, wait: float) -> list[HistoryEvent]:
    return [E(entered, "entered", queue=queue, call_id=cid),
            E(entered + wait, "abandoned", queue=queue, call_id=cid, wait_s=wait)]


EVENTS: list[HistoryEvent] = sorted([
    *answered_call("t1", "support", "n1", 8 * H, 15, 300, number="+1001"),
    *answered_call("t2", "support", "s1", 8 * H + 600, 30, 270),
    E(8 * H + 720, "transferred", queue="support", agent="s1", call_id="t2", reason="2001"),
    *abandoned_call("t3", "support", 9 * H, 3),
    *abandoned_call("t4", "support", 9 * H + 600, 45),
    E(10 * H, "entered", queue="sales", call_id="t5"),
    E(10 * H + 60, "overflow", queue="sales", call_id="t5", reason="support"),
    E(10 * H + 60, "entered", queue="support", call_id="t5", detail="overflow"),
    E(10 * H + 68, "offered", queue="support", agent="n2", call_id="t5"),
    E(10 * H + 70, "answered", queue="support", agent="n2", call_id="t5", wait_s=70),
    E(10 * H + 190, "handled", queue="support", agent="n2", call_id="t5", talk_s=120,
      handle_s=130),
    *abandoned_call("t6", "billing", 11 * H, 4),
    *answered_call("t7", "billing", "x1", 11 * H + 1800, 10, 110),
    E(12 * H, "entered", queue="sales", call_id="t10"),
    E(12 * H, "offered", queue="sales", agent="s1", call_id="t10"),
    E(12 * H + 15, "rona", queue="sales", agent="s1", call_id="t10", reason="no_answer"),
    E(12 * H + 23, "offered", queue="sales", agent="n1", call_id="t10"),
    E(12 * H + 25, "answered", queue="sales", agent="n1", call_id="t10", wait_s=25),
    E(12 * H + 145, "handled", queue="sales", agent="n1", call_id="t10", talk_s=110,
      handle_s=120),
    *answered_call("t11", "support", "n2", 13 * H, 5, 50, number="+1001"),
    *answered_call("t8", "support", "n1", 24 * H - 10, 15, 110),
    *abandoned_call("t9", "sales", 24 * H - 2, 3),
], key=lambda e: e.at)


def day_rows_match(conn: sqlite3.Connection, tz: str) -> bool:
    """cc_queue_agent_days of zone tz hold the 15-minute rows summed per local day."""
    z = zone(tz)
    cols = ", ".join(QUEUE_AGENT_COUNTERS)
    summed: dict[tuple[float, str, str], list[float]] = {}
    for start, queue, agent, *counters in conn.execute(
            f"SELECT start, queue, agent, {cols} FROM cc_queue_agent_intervals"):  # noqa: S608
        acc = summed.setdefault((local_day(start, z), queue, agent), [0.0] * len(counters))
        for i, v in enumerate(counters):
            acc[i] += v
    days = {(start, queue, agent): list(counters) for start, queue, agent, *counters in
            conn.execute(f"SELECT start, queue, agent, {cols} FROM "  # noqa: S608
                         "cc_queue_agent_days WHERE tz = ?", (tz,))}
    return bool(days) and days == summed
