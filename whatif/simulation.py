"""The contact-center simulation: one day of callers routed by one policy, faster than real time.
Pure: no I/O, no clock (simulated seconds from 0), seeded; the same agents and callers under
every policy.

A discrete-event simulation. Callers arrive, wait, and hang up after their patience unless an
agent answered them first; an answered call lasts its handle time, then the agent wraps up. Who
takes which call is the policy's:

- `project`: the real routing engine (acd.engine.AcdEngine), driven input by input as
  acd/service.py drives it (enqueue, abandon, call_ended, offer_answered, a tick every second),
  with the given [acd] settings (tier priority with aging, the queues' escalation ladders,
  best-agent-first for VIP tiers, selection, wrap-up).
- `project_no_skill_hold`: the same engine with one escalation step at 0 s (any agent with the
  skill at once): tier priority and VIP best-agent-first remain, nobody is held back for a
  better-skilled agent.
- app_queue-like strategies (Asterisk `Queue()`): callers are served first come, first served
  (oldest caller first across queues); an agent's skill level becomes a member penalty
  (penalty = 5 - level) and only the available members with the lowest penalty are tried, then
  the strategy picks among them: `ringall` (uniform at random: the first to pick up wins),
  `leastrecent` (longest since their last call ended), `fewestcalls` (fewest calls taken),
  `rrmemory` (round robin, remembering the last member used).

Model assumptions (the same for every policy):
- Handle time = the caller's base handle time x handle_factor(level) = x (1.4 - 0.1 x level), the
  answering agent's level in the call's skill: level 5 in 90% of the base time, level 1 in 130%.
  With handle_by_level=False (a recorded day's replay) the base handle time is kept whoever
  answers.
- Offers are answered at once (no ring time, no ring-no-answer); wrap-up after every call (the
  queue's configured wrap-up for the engine, `wrapup_s` per queue for app_queue).
- An agent serves the queues named by their skills, logged in for the whole day, never paused.

Figures (`summarise`; the definitions of acd/stats.py; waits run from the caller's arrival):
`sl` answered within SL_S / (answered + abandoned); `sl_top_tier` the same for platinum and gold
callers; `asa_s` mean wait of answered calls; `abandon_rate` abandoned / (answered + abandoned);
`value_weighted_wait_s` sum(wait x value) / sum(value), the wait to the answer or the abandon;
`aht_s` mean handle time + WRAPUP_S.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from acd.engine import AcdEngine
from acd.model import AgentLogin, CallRemoved, Command, NewCall, Offer
from config.acd import AcdSettings, EscalationStep, QueueSettings

TOP_TIERS: frozenset[str] = frozenset({"platinum", "gold"})
SL_S: Final = 20.0
WRAPUP_S: Final = 10.0
APP_QUEUE_STRATEGIES: tuple[str, ...] = ("ringall", "leastrecent", "fewestcalls", "rrmemory")
PROJECT_POLICIES: tuple[str, ...] = ("project", "project_no_skill_hold")
POLICIES: tuple[str, ...] = (*PROJECT_POLICIES, *APP_QUEUE_STRATEGIES)


@dataclass(frozen=True, slots=True)
class Caller:
    call_id: str
    arrival: float  # simulated seconds
    skill: str  # the one skill the call needs, and its queue
    tier: str
    value: float
    patience: float  # how long the caller waits before hanging up
    base_handle: float


@dataclass(frozen=True, slots=True)
class AgentSpec:
    agent_id: str
    skills: Mapping[str, int]  # skill (= queue) -> level 1..5


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one caller: answered after `wait` and talked `handle`, or abandoned
    after `wait`."""

    answered: bool
    wait: float
    handle: float = 0.0


@dataclass(frozen=True, slots=True)
class Figures:
    """The figures of a set of callers (see the module docstring); None where undefined."""

    callers: int
    answered: int
    abandoned: int
    sl: float | None
    sl_top_tier: float | None
    asa_s: float | None
    abandon_rate: float | None
    value_weighted_wait_s: float | None
    aht_s: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"callers": self.callers, "answered": self.answered, "abandoned": self.abandoned,
                "sl": self.sl, "sl_top_tier": self.sl_top_tier, "asa_s": self.asa_s,
                "abandon_rate": self.abandon_rate,
                "value_weighted_wait_s": self.value_weighted_wait_s, "aht_s": self.aht_s}


# An engine input seen from outside, as acd.history.HistoryDeriver.observe takes it: the input's
# name (the engine method), its arguments without `now`, `now`, and the commands it returned.
EngineObserver = Callable[[str, Sequence[object], float, list[Command]], None]


def handle_factor(level: int) -> float:
    return 1.4 - 0.1 * level


def summarise(done: Sequence[tuple[Caller, Outcome]]) -> Figures:
    """The figures of one or more runs (pairs of caller and outcome)."""

    def sl(sel: list[Outcome]) -> float | None:
        return sum(1 for o in sel if o.answered and o.wait <= SL_S) / len(sel) if sel else None

    answered = [o for _, o in done if o.answered]
    abandoned = [o for _, o in done if not o.answered]
    value_sum = sum(c.value for c, _ in done)
    return Figures(
        callers=len(done),
        answered=len(answered),
        abandoned=len(abandoned),
        sl=sl([o for _, o in done]),
        sl_top_tier=sl([o for c, o in done if c.tier in TOP_TIERS]),
        asa_s=sum(o.wait for o in answered) / len(answered) if answered else None,
        abandon_rate=len(abandoned) / len(done) if done else None,
        value_weighted_wait_s=(sum(c.value * o.wait for c, o in done) / value_sum
                               if value_sum > 0 else None),
        aht_s=(sum(o.handle for o in answered) / len(answered) + WRAPUP_S
               if answered else None),
    )


# -------------------------------------------------------------------------------- event driver


# Event kinds, ordered so that at equal times departures free agents before arrivals look.
_END, _WRAP, _ARRIVE, _ABANDON, _TICK = 0, 1, 2, 3, 4


class Simulation:
    """Runs one policy over one day. Subclasses decide who takes which call."""

    def __init__(self, agents: Sequence[AgentSpec], callers: Sequence[Caller], *,
                 handle_by_level: bool = True) -> None:
        self.handle_by_level = handle_by_level
        self.agents = {a.agent_id: a for a in agents}
        self.callers = {c.call_id: c for c in callers}
        self.outcomes: dict[str, Outcome] = {}
        self._events: list[tuple[float, int, int, str]] = []
        self._seq = 0
        for c in callers:
            self.push(c.arrival, _ARRIVE, c.call_id)
            self.push(c.arrival + c.patience, _ABANDON, c.call_id)

    def push(self, at: float, kind: int, key: str) -> None:
        self._seq += 1
        heapq.heappush(self._events, (at, kind, self._seq, key))

    def run(self) -> dict[str, Outcome]:
        """Call id -> outcome, for every caller (patience timers always fire)."""
        while self._events:
            at, kind, _, key = heapq.heappop(self._events)
            if kind == _ARRIVE:
                self.arrive(self.callers[key], at)
            elif kind == _ABANDON:
                if key not in self.outcomes:
                    self.outcomes[key] = Outcome(False, at - self.callers[key].arrival)
                    self.abandon(key, at)
            elif kind == _END:
                self.end(key, at)
            elif kind == _WRAP:
                self.wrap_done(key, at)
            else:
                self.tick(at)
        return self.outcomes

    def answered(self, call_id: str, agent_id: str, now: float) -> None:
        c = self.callers[call_id]
        level = self.agents[agent_id].skills.get(c.skill, 1)
        handle = c.base_handle * handle_factor(level) if self.handle_by_level else c.base_handle
        self.outcomes[call_id] = Outcome(True, now - c.arrival, handle)
        self.push(now + handle, _END, call_id)

    # Policy hooks.
    def arrive(self, c: Caller, now: float) -> None:
        raise NotImplementedError

    def abandon(self, call_id: str, now: float) -> None:
        raise NotImplementedError

    def end(self, call_id: str, now: float) -> None:
        raise NotImplementedError

    def wrap_done(self, agent_id: str, now: float) -> None:
        raise NotImplementedError

    def tick(self, now: float) -> None:
        raise NotImplementedError


def default_settings(skills: Sequence[str], **queue: Any) -> AcdSettings:
    """[acd] settings with one queue per skill (that skill only), the shipped defaults, wrap-up
    WRAPUP_S, service level SL_S, no max wait and no announcements; `queue`: more QueueSettings
    fields for every queue (e.g. escalation=[...])."""
    return AcdSettings(queues=[
        QueueSettings(name=s, skills=[s], wrapup_s=WRAPUP_S, max_wait_s=86_000,
                      announce_every_s=0, service_level_s=SL_S, **queue)
        for s in skills])


class ProjectSim(Simulation):
    """The real engine, driven input by input as acd/service.py drives it."""

    def __init__(self, agents: Sequence[AgentSpec], callers: Sequence[Caller], *,
                 hold_for_skill: bool = True, acd: AcdSettings | None = None,
                 handle_by_level: bool = True, skills: Sequence[str] = (),
                 observe: EngineObserver | None = None) -> None:
        """`acd`: the settings, one queue per caller `skill` (default: default_settings over
        `skills`). `observe` sees every engine input and the commands it returned (as
        AcdService.observe_commands shows them to the event-log deriver)."""
        super().__init__(agents, callers, handle_by_level=handle_by_level)
        self._observe = observe
        # hold_for_skill=False: no escalation ladder (any skilled agent at once), so tier priority
        # and VIP best-agent choice are what remain of the policy.
        extra: dict[str, Any] = {} if hold_for_skill else {
            "escalation": [EscalationStep(after_s=0, min_skill_level=1)]}
        if acd is None:
            if not skills:
                raise ValueError("ProjectSim needs the [acd] settings or the skills (queues)")
            acd = default_settings(skills, **extra)
        elif extra:
            acd = acd.model_copy(update={"queues": [q.model_copy(update=extra)
                                                    for q in acd.queues]})
        self.engine = AcdEngine(acd)
        self.removed: list[CallRemoved] = []
        for a in agents:
            login = AgentLogin(a.agent_id, f"PJSIP/{a.agent_id}", frozenset(a.skills),
                               dict(a.skills))
            self.apply(self._seen("agent_login", (login,), 0.0,
                                  self.engine.agent_login(login, 0.0)), 0.0)
        # The engine times escalation steps and wrap-up itself; it only needs to be asked.
        horizon = max((c.arrival for c in callers), default=0.0) + 4 * 3600.0
        t = 1.0
        while t < horizon:
            self.push(t, _TICK, "")
            t += 1.0

    def _seen(self, name: str, args: Sequence[object], now: float,
              cmds: list[Command]) -> list[Command]:
        if self._observe is not None:
            self._observe(name, args, now, cmds)
        return cmds

    def apply(self, cmds: list[Command], now: float) -> None:
        work = list(cmds)
        while work:
            cmd = work.pop(0)
            if isinstance(cmd, Offer):
                if cmd.call_id in self.outcomes:
                    # Offered while catching up with the very instant the caller hung up: the
                    # same input retracts it (OfferRetracted follows).
                    continue
                self.answered(cmd.call_id, cmd.agent_id, now)
                work.extend(self._seen("offer_answered", (cmd.call_id,), now,
                                       self.engine.offer_answered(cmd.call_id, now)))
            elif isinstance(cmd, CallRemoved):
                self.removed.append(cmd)

    def arrive(self, c: Caller, now: float) -> None:
        call = NewCall(c.call_id, c.skill, c.tier)
        self.apply(self._seen("enqueue", (call,), now, self.engine.enqueue(call, now)), now)

    def abandon(self, call_id: str, now: float) -> None:
        self.apply(self._seen("abandon", (call_id,), now, self.engine.abandon(call_id, now)),
                   now)

    def end(self, call_id: str, now: float) -> None:
        self.apply(self._seen("call_ended", (call_id,), now,
                              self.engine.call_ended(call_id, now)), now)

    def wrap_done(self, agent_id: str, now: float) -> None:  # the engine's own timer does it
        pass

    def tick(self, now: float) -> None:
        self.apply(self._seen("tick", (), now, self.engine.tick(now)), now)


@dataclass(slots=True)
class _Member:
    spec: AgentSpec
    busy: bool = False
    last_end: float = 0.0
    calls: int = 0
    order: int = 0


@dataclass(slots=True)
class _AqQueue:
    members: list[_Member] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # FIFO of call ids
    rr_last: int = -1


class AppQueueSim(Simulation):
    """app_queue-like: FIFO callers, penalties from skill levels, a member-choice strategy."""

    def __init__(self, agents: Sequence[AgentSpec], callers: Sequence[Caller], strategy: str,
                 seed: int, *, wrapup_s: Mapping[str, float] | None = None,
                 skills: Sequence[str] = (), handle_by_level: bool = True) -> None:
        """`wrapup_s`: the queues (caller skills) and each one's wrap-up seconds (default:
        WRAPUP_S for each of `skills`)."""
        super().__init__(agents, callers, handle_by_level=handle_by_level)
        if strategy not in APP_QUEUE_STRATEGIES:
            raise ValueError(f"unknown app_queue strategy {strategy!r}")
        self.strategy = strategy
        self.rng = random.Random(seed)
        self.members = {a.agent_id: _Member(a) for a in agents}
        self.wrapup_s: Mapping[str, float] = wrapup_s or dict.fromkeys(skills, WRAPUP_S)
        if not self.wrapup_s:
            raise ValueError("AppQueueSim needs the queues' wrap-up or the skills (queues)")
        self.queues = {s: _AqQueue() for s in self.wrapup_s}
        for a in agents:
            for s in a.skills:
                if s not in self.queues:
                    continue
                m = self.members[a.agent_id]
                q = self.queues[s]
                q.members.append(m)
        for q in self.queues.values():
            for i, m in enumerate(q.members):
                m.order = i  # rrmemory order is per queue; members are re-numbered per pick
        self.agent_of: dict[str, str] = {}

    def _choose(self, skill: str) -> _Member | None:
        q = self.queues[skill]
        free = [(i, m) for i, m in enumerate(q.members) if not m.busy]
        if not free:
            return None
        best = min(5 - m.spec.skills[skill] for _, m in free)
        cands = [(i, m) for i, m in free if 5 - m.spec.skills[skill] == best]
        if self.strategy == "ringall":
            i, m = self.rng.choice(cands)
        elif self.strategy == "leastrecent":
            i, m = min(cands, key=lambda im: (im[1].last_end, im[0]))
        elif self.strategy == "fewestcalls":
            i, m = min(cands, key=lambda im: (im[1].calls, im[0]))
        else:  # rrmemory: the next member after the last one used, wrapping
            after = [im for im in cands if im[0] > q.rr_last]
            i, m = (after or cands)[0]
        q.rr_last = i
        return m

    def _dispatch(self, now: float) -> None:
        # Oldest caller first across queues (equal queue weights); each takes the member its
        # queue's strategy chooses among the lowest-penalty free members.
        while True:
            heads = [(self.callers[q.waiting[0]].arrival, s) for s, q in self.queues.items()
                     if q.waiting]
            progressed = False
            for _, s in sorted(heads):
                q = self.queues[s]
                while q.waiting:
                    m = self._choose(s)
                    if m is None:
                        break
                    call_id = q.waiting.pop(0)
                    m.busy = True
                    m.calls += 1
                    self.agent_of[call_id] = m.spec.agent_id
                    self.answered(call_id, m.spec.agent_id, now)
                    progressed = True
                    break  # re-sort heads: another queue's caller may now be older
            if not progressed:
                return

    def arrive(self, c: Caller, now: float) -> None:
        self.queues[c.skill].waiting.append(c.call_id)
        self._dispatch(now)

    def abandon(self, call_id: str, now: float) -> None:
        self.queues[self.callers[call_id].skill].waiting.remove(call_id)

    def end(self, call_id: str, now: float) -> None:
        agent_id = self.agent_of.pop(call_id)
        self.members[agent_id].last_end = now
        self.push(now + self.wrapup_s[self.callers[call_id].skill], _WRAP, agent_id)

    def wrap_done(self, agent_id: str, now: float) -> None:
        self.members[agent_id].busy = False
        self._dispatch(now)

    def tick(self, now: float) -> None:
        pass


def simulation(policy: str, agents: Sequence[AgentSpec], callers: Sequence[Caller], *,
               acd: AcdSettings | None = None, skills: Sequence[str] = (), seed: int = 1,
               wrapup_s: Mapping[str, float] | None = None,
               handle_by_level: bool = True) -> Simulation:
    """The simulation of `policy` (one of POLICIES) over this day, ready to run. `acd` (project
    policies) or `wrapup_s` (app_queue) name the queues; by default one per skill of `skills`
    with WRAPUP_S. `seed`: ringall's random choice."""
    if policy in PROJECT_POLICIES:
        return ProjectSim(agents, callers, hold_for_skill=policy == "project", acd=acd,
                          skills=skills, handle_by_level=handle_by_level)
    return AppQueueSim(agents, callers, policy, seed, wrapup_s=wrapup_s, skills=skills,
                       handle_by_level=handle_by_level)
