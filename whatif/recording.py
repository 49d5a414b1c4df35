"""A simulated day recorded as the event log would hold it, and replayed as `run_server.py whatif`
replays a recorded one. Pure: no database, no clock; seeded through the callers and agents given.

`record` runs the real engine over a day (whatif/simulation.py's ProjectSim with the given [acd]
settings) with the event-log deriver watching every input, as AcdService feeds it
(acd/history.py), and returns the rows the history writer would append, in the order the event
log's reads return them (by time, then by write order). `replay_recorded` extracts the day's
arrivals from those rows (whatif/arrivals.py) and replays them with the recorded roster
(whatif/replay.py): the same path as `run_server.py whatif`, without the database in between
(tests/whatif/test_replay.py checks the database path gives the recorded figures back).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from acd.history import HistoryDeriver
from config.acd import AcdSettings
from crm_core.history import HistoryEvent
from whatif.arrivals import KINDS, DayArrivals, extract
from whatif.replay import recorded_roster, replay
from whatif.simulation import AgentSpec, Caller, Outcome, ProjectSim


@dataclass(frozen=True, slots=True)
class Recording:
    events: tuple[HistoryEvent, ...]  # by time, then by write order
    outcomes: Mapping[str, Outcome]  # call id -> the simulation's own outcome
    start: float  # wall time of the simulation's time 0
    end: float  # wall time just after the last arrival


def record(agents: Sequence[AgentSpec], callers: Sequence[Caller], acd: AcdSettings, *,
           start: float) -> Recording:
    """The day of `callers` routed by the real engine under `acd` (one queue per caller skill),
    as event-log rows; simulation time 0 is wall time `start`."""
    deriver = HistoryDeriver(lambda t: start + t)
    outcomes = ProjectSim(agents, callers, acd=acd, observe=deriver.observe).run()
    events = sorted(deriver.drain(), key=lambda e: e.at)  # stable: write order within a time
    last = max((c.arrival for c in callers), default=0.0)
    return Recording(tuple(e for e in events if e.kind in KINDS), outcomes, start,
                     start + last + 1.0)


def replay_recorded(rec: Recording, agents: Sequence[AgentSpec], acd: AcdSettings, *,
                    policies: Sequence[str], seed: int = 1, skill_speed: bool = False,
                    progress: Callable[[str], None] | None = None
                    ) -> tuple[DayArrivals, dict[str, dict[str, Any]]]:
    """The recorded day's arrivals and, per policy, the figures of their replay with the day's
    roster (the agents who answered calls, at their levels in `agents`: the CRM's skills) under
    the [acd] settings `acd` (`project` policies)."""
    day = extract(rec.events, start=rec.start, end=rec.end, seed=seed)
    crm_skills = {a.agent_id: dict(a.skills) for a in agents}
    configured = {q.name: q for q in acd.queues}
    queues = {q: configured[q] for q in day.queues}
    roster = recorded_roster(day.agents, crm_skills, queues)
    levels = {a.agent_id: dict(a.skills) for a in roster}
    return day, replay(day.arrivals, roster, acd=acd, policies=policies, seed=seed,
                       skill_speed=skill_speed, recorded_levels=levels, progress=progress)
