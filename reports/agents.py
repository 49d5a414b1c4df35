"""Agent performance and the leaderboard: pure computations over the 15-minute agent rows.

Per agent (or team), per period: offers, answered calls, handled calls, AHT, average talk,
missed offers (RONA), transfers, first-call resolution, login time (every state but logged
out), available / busy (reserved + on a call + wrap-up) / paused time, pause time by reason,
occupancy (acd/metrics.py), and dispositions from the CRM's call records. The leaderboard ranks
by handled calls, then by lower AHT.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo

from acd import metrics
from acd.history import BUSY_STATES
from crm_core.history import AGENT_COUNTERS, AgentInterval, StateInterval
from reports.periods import Interval, Periods


@dataclass(frozen=True, slots=True)
class AgentRow:
    period: str
    period_start: float
    agent: str  # the agent (or the team, when grouped by team)
    team: str
    offered: int
    answered: int
    handled: int
    missed: int
    transferred: int
    aht_s: float | None
    avg_talk_s: float | None
    asa_s: float | None
    first_call_resolution: float | None
    login_s: float
    available_s: float
    busy_s: float
    paused_s: float
    occupancy: float | None
    pause_by_reason: Mapping[str, float] = field(default_factory=dict)
    dispositions: Mapping[str, int] = field(default_factory=dict)
    rank: int = 0


@dataclass(slots=True)
class _Acc:
    counters: dict[str, float] = field(default_factory=lambda: dict.fromkeys(AGENT_COUNTERS, 0.0))
    states: dict[str, float] = field(default_factory=dict)
    pauses: dict[str, float] = field(default_factory=dict)


def agent_performance(rows: Iterable[AgentInterval], states: Iterable[StateInterval], *,
                      interval: Interval, tz: tzinfo | None, start: float, end: float,
                      teams: Mapping[str, str] | None = None, by_team: bool = False,
                      agents: Sequence[str] | None = None,
                      dispositions: Iterable[tuple[str, str, int]] = ()) -> list[AgentRow]:
    """`agents`: only these (team scoping); `by_team`: one row per team instead of per agent.
    Dispositions are for the whole range (the CRM records carry no interval)."""
    teams = teams or {}
    wanted = set(agents) if agents is not None else None
    periods = Periods(interval, tz, start)
    acc: dict[tuple[float, str], _Acc] = {}

    def key_of(agent: str) -> str:
        return teams.get(agent, "") if by_team else agent

    for r in rows:
        if r.start < start or r.start >= end or (wanted is not None and r.agent not in wanted):
            continue
        a = acc.setdefault((periods.of(r.start), key_of(r.agent)), _Acc())
        c = a.counters
        for name, v in r.counters.items():
            c[name] += v
    for s in states:
        if s.start < start or s.start >= end or (wanted is not None and s.agent not in wanted):
            continue
        a = acc.setdefault((periods.of(s.start), key_of(s.agent)), _Acc())
        a.states[s.state] = a.states.get(s.state, 0.0) + s.seconds
        if s.state == "paused":
            a.pauses[s.reason] = a.pauses.get(s.reason, 0.0) + s.seconds
    disp: dict[str, dict[str, int]] = {}
    for agent, disposition, n in dispositions:
        if wanted is not None and agent not in wanted:
            continue
        d = disp.setdefault(key_of(agent), {})
        d[disposition] = d.get(disposition, 0) + n
    out: list[AgentRow] = []
    for (p, key), a in sorted(acc.items()):
        c, st = a.counters, a.states
        busy = sum(v for s, v in st.items() if s in BUSY_STATES)
        avail = st.get("available", 0.0)
        answered, handled = round(c["answered"]), round(c["handled"])
        out.append(AgentRow(
            period=periods.label(p), period_start=p, agent=key,
            team=key if by_team else teams.get(key, ""),
            offered=round(c["offered"]), answered=answered, handled=handled,
            missed=round(c["missed"]), transferred=round(c["transferred"]),
            aht_s=metrics.aht(c["handle_s"], handled),
            avg_talk_s=metrics.ratio(c["talk_s"], handled),
            asa_s=metrics.asa(c["wait_answered_s"], answered),
            first_call_resolution=metrics.first_call_resolution(answered, c["repeated"]),
            login_s=sum(st.values()), available_s=avail, busy_s=busy,
            paused_s=st.get("paused", 0.0), occupancy=metrics.occupancy(busy, avail),
            pause_by_reason=dict(sorted(a.pauses.items())),
            dispositions=dict(sorted(disp.get(key, {}).items())) if interval == "total" else {},
        ))
    return out


def leaderboard(rows: Sequence[AgentRow]) -> list[AgentRow]:
    """Rows of one period ranked: most handled calls first, then the lower AHT."""
    from dataclasses import replace

    ranked = sorted(rows, key=lambda r: (-r.handled, r.aht_s if r.aht_s is not None else 1e18,
                                         r.agent))
    return [replace(r, rank=i + 1) for i, r in enumerate(ranked)]
