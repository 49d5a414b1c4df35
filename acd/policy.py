"""The routing policy, spelled out: who gets which call. Plain code, no indexes.

This module is the specification. The engine (acd.engine) routes through the indexes of
acd.indexes, which must agree with the reference picks below on every state: the hypothesis
tests (tests/acd/test_stateful.py, test_policy_indexes.py) and benchmarks/acd_routing.py compare
them decision by decision.

- Call priority: effective = tier weight + aging_per_s x wait. Ordering by it is the same at every
  instant as ordering by the time-invariant key (rank, enqueued_at, seq) with
  rank = aging_per_s x enqueued_at - weight, smallest first (see `call_key`); so waiting calls
  sit in heaps that never need re-sorting.
- Required skills: the IVR's (NewCall.skills), or else the current queue's skills (so a call
  without skills of its own needs the overflow queue's skills once it overflows).
- Eligibility threshold (`escalate`): the queue's escalation steps, timed from when the call
  entered its current queue. Before the first step the call needs DEFAULT_MIN_LEVEL in each of
  its skills; a route step sets the level (0 = any agent of the queue). Thresholds only go down
  while a call waits in a queue.
- Agent eligible for call (`is_eligible`): available, device routable, not claimed (held for
  an outbound call on its way, acd/claims.py: only that call, or one of its pool, takes it),
  serves the call's queue, and has every required skill at >= threshold (threshold 0: no skill
  needed).
  Score (`score`) = min level over the call's skills (0 if it lacks one; 0 for no skills).
- Agent choice for a call (`select_agent`): VIP tiers (platinum, gold) with
  vip_tiers_best_agents_first, and every call of a best_skill queue, keep only the top-score
  eligible agents (`best_agents_first`); then by the queue's selection: longest_idle (earliest
  last-call-end, or login), best_skill (longest idle among the top scores), fewest_calls (calls
  today, then longest idle), round_robin (`round_robin`: first agent id after the queue's last
  pick, wrapping). Ties: agent id.
- A person who answered an outbound call whose held agent left (claims, acd/claims.py) and
  whom no other claim of its pool holds an agent for waits first in line
  (`first_in_line_key`), at a claim's level (`claim_level`): the 2 s abandon rule leaves no
  time for priorities or an escalation ladder.
- Call choice for an agent (`reference_pick_call`): the eligible waiting call with the smallest
  key across its queues.
- When several calls and agents become matchable at once (tick), the highest-priority matchable
  call goes first, to the agent the policy picks; repeat. So a higher-priority call is never
  passed over for an agent that could take it.
- A call for one agent (`required_agent`, an agent-owned callback) is, until `required_until`
  (`is_reserved_for`), offered to that agent only, and to them before any other call, whatever
  the priorities; the agent must be routable (available, device not unreachable) but need not
  serve the call's queue or have its skills (the customer was promised that agent). Among such
  calls of one agent, the smallest key first. Such a call is not in its queue's line; an agent
  with one waiting takes no other call (`reference_pick_agent`'s `busy`). At `required_until`
  it joins its queue (its escalation and max wait count from then; its priority still from its
  enqueue) and any agent of the queue may take it.

The shipped escalation ladder (config.acd.QueueSettings.escalation): level 3 at 0 s, level 1
from 1 s, any agent of the queue from 20 s. Its value is in preferring a well-skilled agent when
one is free as the call arrives, not in holding the call for one. Measured on 2026-11-28 with
whatif/simulation.py (the real engine; handle time x (1.4 - 0.1 x level)), the level-3 step
lasting 1 s against the earlier 5 s, means over seeds 1-5 (app_queue: the best of the
app_queue-like ringall, leastrecent, fewestcalls, rrmemory; routing_quality pools its two loads;
whatif replays with --skill-speed; the simulation ticks the engine every second, so there a
step fires up to 1 s later than under AcdService's 0.25 s ticks):

days (service level / top tiers)         5 s            1 s            no hold        app_queue
routing_quality --quick: 30 agents, 1.5 h 0.683 / 0.802  0.684 / 0.818  0.679 / 0.807  0.633 / 0.630
routing_quality: 100 agents, 8 h          0.768 / 0.954  0.772 / 0.967  0.768 / 0.968  0.699 / 0.704
30 generated days, what happened          0.640 / 0.767  0.648 / 0.786  0.638 / 0.786  0.593 / 0.585
the same days replayed (whatif)           0.640 / 0.767  0.646 / 0.785  0.643 / 0.789  0.593 / 0.590

(30 days: 16 agents for 4 h and 60 agents for 8 h at loads 0.9, 1.0, 1.1, recorded under the
5 s ladder.) Paired by day, 1 s against 5 s: service level +0.7 points (standard error 0.2,
higher on 21 of 30 days), top tiers +2.0 (24 of 30), abandon rate -0.6 (lower on 28 of 30);
talk is slightly longer (AHT +0.7 s in routing_quality): fewer calls wait for a better agent.
When skill does not change talk time (the same 30 days, talk kept whoever answers), no hold is
best: +1.6 points against 5 s, 1 s +1.1. A whatif replay once showed 5 s below every app_queue-like
strategy (0.640 against 0.666-0.669): its answered callers' patience was drawn from the day's
abandons, far too short (whatif/arrivals.py); with the callers' true patience the project leads
by 5 points. A hold that depends on when a better agent is expected to be free was not built:
once the hold is short its cost is within the noise of these measurements. Reproduce:
`python -m benchmarks.routing_quality --holds 5 [--seed K]` and `--replay --holds 5`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Final, Protocol

from acd.agents import Agent
from acd.model import VIP_TIERS
from config.acd import EscalationStep, QueueSettings

# Before a queue's first escalation step fires, a call needs its skills at this level.
DEFAULT_MIN_LEVEL: Final = 1

# (rank, enqueued_at, seq): a waiting call's place in the service order, smallest first. A plain
# tuple: it is compared millions of times and sits in the index's heaps (see acd.indexes).
CallKey = tuple[float, float, int]


def call_key(aging_per_s: float, tier_weight: float, enqueued_at: float, seq: int) -> CallKey:
    """A call's place in the service order: (rank, enqueued_at, seq), smallest first.

    Effective priority at time t is weight + aging x (t - enqueued_at); sorting by it descending
    is sorting by rank = aging x enqueued_at - weight ascending, whatever t is. `seq` (arrival
    order) breaks the last ties."""
    return (aging_per_s * enqueued_at - tier_weight, enqueued_at, seq)


def first_in_line_key(enqueued_at: float, seq: int) -> CallKey:
    """The key of a call ahead of every call of any tier, however long they waited: a person
    who answered an outbound call whose held agent left (acd/claims.py) and who must reach
    an agent within seconds. Among such calls, the first to arrive."""
    return (float("-inf"), enqueued_at, seq)


def step_due(queue_since: float, step: EscalationStep) -> float:
    """When `step` fires for a call that entered its queue at `queue_since`."""
    return queue_since + step.after_s


def escalate(
    steps: Sequence[EscalationStep], next_step: int, level: int, queue_since: float, now: float,
    *, past_other_actions: bool = False,
) -> tuple[int, int]:
    """THE escalation threshold: apply the route steps due by `now`, from `next_step` on.

    Returns (level, next_step): the level the call needs now, and the first step not applied:
    one not due yet, or (unless `past_other_actions`) a due overflow/callback step, which the
    engine carries out itself (it moves the call, or speaks to the caller) before escalating
    further. `past_other_actions` walks past those without acting: the level a call would need
    if it stayed (a dry run of a new call)."""
    n = len(steps)
    while next_step < n:
        st = steps[next_step]
        if queue_since + st.after_s > now:  # (step_due, inline: this runs on every input)
            break
        if st.action == "route":
            level = st.min_skill_level
        elif not past_other_actions:
            break
        next_step += 1
    return level, next_step


def best_agents_first(qs: QueueSettings, tier: str) -> bool:
    """Whether only the top-score eligible agents compete for a call of `tier` in queue `qs`."""
    return qs.selection == "best_skill" or (qs.vip_tiers_best_agents_first and tier in VIP_TIERS)


def score(a: Agent, skills: frozenset[str]) -> int:
    if not skills:
        return 0
    return min(a.skills.get(s, 0) for s in skills)


class Staffing(Protocol):
    """What qualification reads of an agent (Agent and acd.model.AgentSnapshot have it)."""

    @property
    def queues(self) -> frozenset[str]: ...
    @property
    def skills(self) -> Mapping[str, int]: ...


def qualifies(a: Staffing, queue: str, skills: frozenset[str], min_level: int) -> bool:
    """THE qualification rule, whatever the agent is doing now: serves `queue` and has every
    one of `skills` at >= `min_level` (0: no skill needed). Routing (`is_eligible`) and agent
    claims (acd/claims.py, and so the dialer's count of free agents) both ask it."""
    if queue not in a.queues:
        return False
    return min_level == 0 or all(a.skills.get(s, 0) >= min_level for s in skills)


def is_eligible(a: Agent, queue: str, skills: frozenset[str], min_level: int) -> bool:
    return a.routable and qualifies(a, queue, skills, min_level)


def round_robin(agent_ids: Sequence[str], last: str | None) -> str:
    """THE round-robin rule: the first id after the queue's last pick, wrapping. `agent_ids`:
    sorted, not empty. (acd.indexes.rr_cut is the same rule over its sorted lists.)"""
    i = bisect_right(agent_ids, last) if last is not None else 0
    return agent_ids[i] if i < len(agent_ids) else agent_ids[0]


def select_agent(
    candidates: Sequence[Agent], skills: frozenset[str], tier: str, qs: QueueSettings,
    last_pick: str | None,
) -> Agent | None:
    """THE agent-selection policy, spelled out over an explicit list of eligible agents."""
    if not candidates:
        return None
    cands = list(candidates)
    if best_agents_first(qs, tier):
        top = max(score(a, skills) for a in cands)
        cands = [a for a in cands if score(a, skills) == top]
    policy = qs.selection
    if policy == "round_robin":
        chosen = round_robin(sorted(a.agent_id for a in cands), last_pick)
        return next(a for a in cands if a.agent_id == chosen)
    if policy == "fewest_calls":
        return min(cands, key=lambda a: (a.calls_today, a.idle_since, a.agent_id))
    # longest_idle, and best_skill among its top scores
    return min(cands, key=lambda a: (a.idle_since, a.agent_id))


def reference_pick_agent(
    agents: Iterable[Agent], queue: str, skills: frozenset[str], tier: str, min_level: int,
    qs: QueueSettings, last_pick: str | None, *, required_agent: str | None = None,
    busy: Collection[str] = (),
) -> Agent | None:
    """Naive scan of every agent: whom the policy gives a call of `queue` needing `skills` at
    `min_level`. A call reserved for `required_agent` goes to that agent if routable, else to
    nobody; others never to an agent in `busy` (agents with a call reserved for them waiting)."""
    if required_agent is not None:
        return next((a for a in agents if a.agent_id == required_agent and a.routable), None)
    cands = [a for a in agents
             if is_eligible(a, queue, skills, min_level) and a.agent_id not in busy]
    return select_agent(cands, skills, tier, qs, last_pick)


class WaitingCall(Protocol):
    """What the policy reads of a waiting call (acd.calls.AcdCall has it)."""

    @property
    def call_id(self) -> str: ...
    @property
    def queue(self) -> str: ...
    @property
    def skills(self) -> frozenset[str]: ...
    @property
    def min_level(self) -> int: ...
    @property
    def key(self) -> CallKey: ...
    @property
    def required_agent(self) -> str | None: ...
    @property
    def required_until(self) -> float: ...


def is_reserved_for(c: WaitingCall, now: float) -> str | None:
    """The agent a waiting call is reserved for at `now`, or None (any agent of its queue)."""
    return c.required_agent if c.required_agent is not None and now < c.required_until \
        else None


def reference_pick_call(a: Agent, waiting: Iterable[WaitingCall], now: float) -> str | None:
    """Naive scan of every waiting call: the one agent `a` gets if it is available now (its
    current state is ignored): a call reserved for `a` first, else the best call of its queues
    not reserved for anyone."""
    best: WaitingCall | None = None
    mine: WaitingCall | None = None
    for c in waiting:
        owner = c.required_agent  # (is_reserved_for, inline: this loop visits every call)
        if owner is not None and now < c.required_until:
            if owner == a.agent_id and (mine is None or c.key < mine.key):
                mine = c
            continue
        if c.queue not in a.queues:
            continue
        if c.min_level and any(a.skills.get(s, 0) < c.min_level for s in c.skills):
            continue
        if best is None or c.key < best.key:
            best = c
    if mine is not None:
        return mine.call_id
    return best.call_id if best is not None else None
