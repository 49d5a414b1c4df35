"""The simulator's tally: counts of what really happened (calls offered, answered, abandoned,
originates and their outcomes...), for end-to-end tests and benchmarks to compare with what
the server recorded. Named apart from the queue statistics of acd/stats.py (what the server
computes) and the adapters' health counters (cti.ami.AmiCounters, cti.fastagi.FastAgiCounters)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SimTally:
    offered: int  # inbound calls that arrived
    answered: int  # inbound calls bridged to an agent phone
    abandoned: int  # inbound callers who hung up before reaching an agent
    agi_failures: int  # inbound calls whose FastAGI connection failed (degraded mode)
    completed: int  # inbound calls that have ended (any outcome)
    originates: int
    originate_results: dict[str, int]  # ANSWER / BUSY / NOANSWER / CHANUNAVAIL
    outbound_truth: dict[str, int]  # what the called party really was: human/machine/busy/no_answer
    amd_results: dict[str, int]  # AMDSTATUS the dialer context reported
    agent_answered: dict[str, int]  # per phone extension
    agent_ring_no_answer: dict[str, int]


@dataclass
class TallyRecorder:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    agi_failures: int = 0
    completed: int = 0
    originates: int = 0
    originate_results: Counter[str] = field(default_factory=Counter)
    outbound_truth: Counter[str] = field(default_factory=Counter)
    amd_results: Counter[str] = field(default_factory=Counter)
    agent_answered: Counter[str] = field(default_factory=Counter)
    agent_ring_no_answer: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> SimTally:
        return SimTally(
            offered=self.offered,
            answered=self.answered,
            abandoned=self.abandoned,
            agi_failures=self.agi_failures,
            completed=self.completed,
            originates=self.originates,
            originate_results=dict(self.originate_results),
            outbound_truth=dict(self.outbound_truth),
            amd_results=dict(self.amd_results),
            agent_answered=dict(self.agent_answered),
            agent_ring_no_answer=dict(self.agent_ring_no_answer),
        )
