"""The routing engine: pure, synchronous, deterministic. Inputs are method calls carrying `now`;
outputs are lists of typed commands (acd.model.Command). No asyncio, no I/O, no clock reads.

How acd/service.py drives it
----------------------------
Every input returns `list[Command]`; the service executes them in order:

    Offer(call, agent, device, queue, ring_timeout_s)  -> AGI EXEC Dial(device) for the caller's
        session; on answer call `offer_answered(call_id, now)`, on no answer/busy/unreachable
        `offer_failed(call_id, reason, now)` (the engine never times the ring itself).
    PlaceCallback(call, agent, device, queue, number) -> Originate agent device -> number; both ends
        connected: `offer_answered`; agent side failed: `offer_failed`; the customer did not
        answer: `abandon` (the callback is given up and counted as an abandon).
    OfferRetracted(call, agent, device) -> stop ringing that agent (the caller hung up).
    Overflowed / OfferCallback / Announce -> IVR prompts and bus events for the wallboard.
    CallRemoved(call, queue, reason, agent, waited_s) -> the call left the ACD (bus, CRM).
    AgentStateChanged(agent, old, new, reason, at) -> bus, desktop, AMI QueuePause if wanted.

Inputs:
    enqueue(NewCall, now)              the IVR hands over a call (queue, tier, skills)
    offer_answered(call_id, now)       the agent answered the offer
    offer_failed(call_id, reason, now) ring-no-answer / busy: agent -> paused "missed-call", the
                                       call goes back to the head of its priority (original
                                       enqueue time)
    call_ended(call_id, now)           the connected call hung up: agent -> wrap_up
    abandon(call_id, now)              the caller hung up before being connected
    request_callback(call_id, number, now)  the caller leaves the line but keeps their place
    agent_login(AgentLogin, now) / agent_logout / agent_available (paused -> available) /
    agent_pause(agent_id, reason) / agent_end_wrapup / agent_set_skills / device_state(device, st)
    new_day(now)                       resets calls-today counters
    tick(now)                          escalation, overflow, wrap-up expiry, announcements; call it
                                       about once a second (every other input also catches up)

Queries (no state change): agent(id) / agents() / call(id) / calls() -> frozen snapshots;
waiting(queue) in service order; position(call_id); report(now, day_start) -> QueueReport per
queue plus the overall one (acd.stats); pick_agent(NewCall | call_id, now) and pick_call(agent_id)
are dry runs of the routing decision through the indexes; reference_pick_agent/_call are the same
decisions by naive scan (tests and benchmarks compare the two). `engine.stats` is the QueueStats
the engine feeds.

Time: `now` is seconds on a monotonic clock; an input with a `now` older than the engine's last
is treated as happening at the last `now` (time never runs backwards inside the engine).

Every input first catches up with `now` (fires due timers and routes), then applies itself, then
routes again, so the engine is always *stable*: no waiting call has an eligible available agent.
A refused input raises an AcdError before changing anything; commands produced while catching up
with time are kept and delivered by the next call that succeeds.

Hot path (what keeps a whole input cheap; see benchmarks/acd_routing.py)
-------------------------------------------------------------------------
- One agent freed / one call arrived (the common inputs) are routed without the general matching
  loop: the engine was stable, so only that agent or that call can match.
- Waiting calls sit in per-(queue, skill set, threshold) heaps with lazy deletion (an entry is
  valid while its call's epoch matches); the heaps of a queue are scanned through one shared list,
  and a queue whose waiting calls all need more than an agent's best level is skipped at once.
- Available agents sit in sorted lists per queue, and per (queue, skill, level) only for skills
  the queue's calls can need (built on first need).
- Queue positions are kept lazily: inputs note changes, a position query (announcement) applies
  them. A new call's timers are armed only if it still waits once routed.
- Index records are tuples of plain values where possible (timers, heap entries): the garbage
  collector does not track them, so collections stay short with tens of thousands of calls.
- Statistics recording appends one tuple (acd.stats).

The policy (what `reference_pick_*` spell out naively; the fast paths must agree with them)
-----------------------------------------------------------------------------------------
- Call priority: effective = tier weight + aging_per_s x wait. Ordering by it is the same at every
  instant as ordering by the time-invariant key (aging x enqueued_at - weight, enqueued_at, seq),
  smallest first; so waiting calls sit in heaps that never need re-sorting.
- Required skills: the IVR's (NewCall.skills), or else the current queue's skills (so a call
  without skills of its own needs the overflow queue's skills once it overflows).
- Eligibility threshold: the queue's escalation steps, timed from when the call entered its
  current queue. Before the first step the call needs level 1 in each of its skills; a route step
  sets the level (0 = any agent of the queue). Thresholds only go down while a call waits in a
  queue, so the call's heap bucket only moves down.
- Agent eligible for call: available, device routable, serves the call's queue, and has every
  required skill at >= threshold (threshold 0: no skill needed). Score = min level over the call's
  skills (0 if it lacks one; 0 for no skills).
- Agent choice for a call: VIP tiers (platinum, gold) with vip_tiers_best_agents_first keep only the
  top-score eligible agents; then by the queue's selection: longest_idle (earliest last-call-end,
  or login), best_skill (highest score, then longest idle), fewest_calls (calls today, then longest
  idle), round_robin (first agent id after the queue's last pick, wrapping). Ties: agent id.
- Call choice for an agent: the eligible waiting call with the smallest key across its queues.
- When several calls and agents become matchable at once (tick), the highest-priority matchable
  call goes first, to the agent the policy picks; repeat. So a higher-priority call is never
  passed over for an agent that could take it.
"""

from __future__ import annotations

import heapq
import re
from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from acd.agents import Agent, AgentEvent, validate_skills
from acd.errors import (
    DuplicateCall,
    IllegalTransition,
    InvalidRequest,
    InvalidSkills,
    StateConflict,
    UnknownAgent,
    UnknownCall,
    UnknownQueue,
)
from acd.model import (
    MAX_SKILL_LEVEL,
    UNROUTABLE_DEVICE_STATES,
    VIP_TIERS,
    AgentLogin,
    AgentSnapshot,
    AgentState,
    AgentStateChanged,
    Announce,
    CallRemoved,
    CallSnapshot,
    CallState,
    Command,
    DeviceState,
    NewCall,
    Offer,
    OfferCallback,
    OfferRetracted,
    Overflowed,
    PlaceCallback,
    RemovalReason,
)
from acd.stats import QueueReport, QueueStats
from config.acd import AcdSettings, EscalationStep, QueueSettings

E = AgentEvent
_WAITING = (CallState.WAITING, CallState.CALLBACK_WAITING)
_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
# Before a queue's first escalation step fires, a call needs its skills at this level.
DEFAULT_MIN_LEVEL = 1

# Timer kinds.
_T_STEP, _T_MAXWAIT, _T_ANNOUNCE, _T_WRAPUP = 0, 1, 2, 3
_INF = float("inf")
_AVAILABLE, _LOGGED_OUT, _PAUSED = AgentState.AVAILABLE, AgentState.LOGGED_OUT, AgentState.PAUSED

AgentKey = tuple[float, float, str]


@dataclass(slots=True, eq=False)
class _Call:
    call_id: str
    queue: str
    tier: str
    skills: frozenset[str]
    number: str
    enqueued_at: float
    k0: float  # aging x enqueued_at - weight: the time-invariant priority key
    seq: int
    queue_since: float
    state: CallState = CallState.WAITING
    thr: int = DEFAULT_MIN_LEVEL
    step_idx: int = 0  # next escalation step of the current queue not yet applied
    agent_id: str | None = None
    answered_at: float | None = None
    epoch: int = 0  # renewed (unique engine-wide) when its heap entry changes: older are stale
    # Renewed (from the engine's global sequence, so never reused even by a later call with the
    # same id) whenever its timers must be forgotten (left waiting, changed queue).
    tepoch: int = 0
    callback_offered: bool = False
    is_callback: bool = False  # the caller left the line; an agent will call them back
    own_skills: bool = False  # skills set by the IVR; otherwise they follow the current queue
    visited: tuple[str, ...] = ()  # queues it has waited in (overflow never loops back)
    # The priority key, fixed for the call's life (its parts never change): built once, so the
    # position list and comparisons never allocate one.
    key: tuple[float, float, int] = (0.0, 0.0, 0)  # (k0, enqueued_at, seq): pass it in


# (k0, enqueued_at, seq, epoch, call_id): plain values, so the garbage collector does not track
# it, and a stale entry does not keep a finished call's record alive. Valid while the call's
# epoch (unique engine-wide) is still `epoch`.
_Entry = tuple[float, float, int, int, str]


class _Group:
    """The waiting calls of one queue that need one skill set: a heap per current threshold
    (only thresholds that hold calls), smallest priority key on top."""

    __slots__ = ("skills", "skill_list", "heaps", "live", "pos")

    def __init__(self, skills: frozenset[str]) -> None:
        self.skills = skills
        self.skill_list = tuple(skills)
        self.heaps: dict[int, list[_Entry]] = {}
        self.live: dict[int, int] = {}
        self.pos: dict[int, int] = {}  # threshold -> its heap's index in the queue's scan list


class _Queue:
    __slots__ = (
        "s", "skills", "steps", "order", "groups", "avail_all", "avail_skill",
        "rr_last", "staffed", "thr_live", "n_live", "flat", "tops", "order_in", "order_out",
    )

    def __init__(self, s: QueueSettings) -> None:
        self.s = s
        self.skills = frozenset(s.skills)
        self.steps: tuple[EscalationStep, ...] = tuple(s.escalation)
        # Keys of waiting calls, sorted: positions. Routing inputs only note their change in
        # order_in / order_out (call id -> key; ids hash faster than keys, their hash is cached);
        # a position query applies them. Inserting
        # into the sorted list on every input would be a bisect plus an O(n) memmove on the hot
        # path, for positions only announcements read.
        self.order: list[tuple[float, float, int]] = []
        self.order_in: dict[str, tuple[float, float, int]] = {}
        self.order_out: dict[str, tuple[float, float, int]] = {}
        # skill set -> its waiting calls, by threshold
        self.groups: dict[frozenset[str], _Group] = {}
        self.avail_all: list[AgentKey] = []
        # skill -> one sorted list per level 0..5 (0 unused). Only skills the queue's calls can
        # need are kept (its own, and any a call brought into it: see AcdEngine._need_skills):
        # an agent's other skills cost nothing when it is indexed.
        self.avail_skill: dict[str, list[list[AgentKey]]] = {
            sk: [[] for _ in range(MAX_SKILL_LEVEL + 1)] for sk in self.skills
        }
        # waiting calls indexed at each threshold 0..5: lets an agent skip a queue at once when
        # every waiting call there needs more than its best skill level
        self.thr_live = [0] * (MAX_SKILL_LEVEL + 1)
        self.n_live = 0  # their sum
        # Every live heap as (skills, threshold, heap), for the per-agent scan; None when a heap
        # came or went since it was built (the set of heaps changes far less often than it is
        # scanned: it is shared by every agent of the queue).
        self.flat: list[tuple[tuple[str, ...], int, list[_Entry]]] | None = None
        # Beside it, a lower bound of each heap's best valid k0 (inf: empty), in one contiguous
        # array: most heaps are ruled out by it without touching the heap at all.
        self.tops = array("d")
        self.rr_last: str | None = None
        self.staffed = 0


def _agent_key(policy: str, a: Agent) -> AgentKey:
    if policy == "fewest_calls":
        return (float(a.calls_today), a.idle_since, a.agent_id)
    if policy == "round_robin":
        return (0.0, 0.0, a.agent_id)
    return (a.idle_since, 0.0, a.agent_id)


def score(a: Agent, skills: frozenset[str]) -> int:
    if not skills:
        return 0
    return min(a.skills.get(s, 0) for s in skills)


def is_eligible(a: Agent, queue: str, skills: frozenset[str], thr: int) -> bool:
    if not a.routable or queue not in a.queues:
        return False
    return thr == 0 or all(a.skills.get(s, 0) >= thr for s in skills)


def select_agent(
    candidates: Sequence[Agent], skills: frozenset[str], tier: str, qs: QueueSettings,
    rr_last: str | None,
) -> Agent | None:
    """THE agent-selection policy, spelled out over an explicit list of eligible agents."""
    if not candidates:
        return None
    cands = list(candidates)
    if qs.vip_tiers_best_agents_first and tier in VIP_TIERS:
        top = max(score(a, skills) for a in cands)
        cands = [a for a in cands if score(a, skills) == top]
    policy = qs.selection
    if policy == "round_robin":
        ids = sorted(a.agent_id for a in cands)
        i = bisect_right(ids, rr_last) if rr_last is not None else 0
        chosen = ids[i] if i < len(ids) else ids[0]
        return next(a for a in cands if a.agent_id == chosen)
    if policy == "best_skill":
        return min(cands, key=lambda a: (-score(a, skills), a.idle_since, a.agent_id))
    if policy == "fewest_calls":
        return min(cands, key=lambda a: (a.calls_today, a.idle_since, a.agent_id))
    return min(cands, key=lambda a: (a.idle_since, a.agent_id))


class AcdEngine:
    def __init__(self, settings: AcdSettings, *, stats_window_s: float = 900.0) -> None:
        self.settings = settings
        self._queues = {q.name: _Queue(q) for q in settings.queues}
        self._pause_codes = frozenset(settings.pause_codes)
        self._agents: dict[str, Agent] = {}
        self._calls: dict[str, _Call] = {}
        self._devices: dict[str, DeviceState] = {}
        self._device_owner: dict[str, str] = {}  # device -> logged-in agent
        # agent -> (list, key, list, key, ...): every sorted list it sits in, with its key there.
        # Unindexing is a walk, no lookups; one tuple per agent keeps the GC's load low.
        self._agent_index: dict[str, tuple[Any, ...]] = {}
        # agent -> (queue, talk seconds, wrap-up start, timer token)
        self._wrap: dict[str, tuple[str, float, float, int]] = {}
        # (due, seq, kind, call or agent id, token). Ids, not records: a tuple of plain values is
        # not tracked by the garbage collector, and tens of thousands of pending timers would
        # otherwise make every full collection slower.
        self._timers: list[tuple[float, int, int, str, int]] = []
        self._seq = 0
        self._out: list[Command] = []
        self._dirty_agents: dict[str, Agent] = {}
        self._dirty_calls: dict[str, _Call] = {}
        self._now = float("-inf")
        self.stats = QueueStats(settings.queues, window_s=stats_window_s)

    # ================================================================================== inputs

    def tick(self, now: float) -> list[Command]:
        now = self._catch_up(now)
        return self._flush()

    def enqueue(self, call: NewCall, now: float) -> list[Command]:
        qi = self._queue(call.queue)
        if call.call_id in self._calls:
            raise DuplicateCall(f"call {call.call_id!r} is already in the ACD")
        if not call.call_id:
            raise InvalidRequest("call_id must not be empty")
        weight = self.settings.tier_weights.get(call.tier)
        if weight is None:
            raise InvalidRequest(
                f"call {call.call_id}: unknown tier {call.tier!r}; "
                f"expected one of {sorted(self.settings.tier_weights)}"
            )
        if "" in call.skills:
            raise InvalidSkills(f"call {call.call_id}: empty skill name")
        now = self._catch_up(now)
        self._seq = seq = self._seq + 1
        k0 = self.settings.aging_per_s * now - weight
        c = _Call(
            call_id=call.call_id, queue=qi.s.name, tier=call.tier,
            skills=call.skills or qi.skills, number=call.number, enqueued_at=now,
            k0=k0, seq=seq, queue_since=now, own_skills=bool(call.skills),
            visited=(qi.s.name,), key=(k0, now, seq),
        )
        self._calls[c.call_id] = c
        self.stats.call_entered(qi.s.name, now)
        # Route steps due at once set the threshold (as _enter_waiting would).
        steps = qi.steps
        i, n = 0, len(steps)
        while i < n and steps[i].action == "route" and not now + steps[i].after_s > now:
            c.thr = steps[i].min_skill_level
            i += 1
        c.step_idx = i
        if (i == n or now + steps[i].after_s > now) and not (
            self._dirty_agents or self._dirty_calls
        ):
            # The engine is stable and nothing else is pending: if an agent can take the call
            # now, it goes straight to them, without entering (and at once leaving) the waiting
            # structures. Same outcome as waiting + the single-call match below.
            if c.skills is not qi.skills and c.skills not in qi.groups:
                self._need_skills(qi, c.skills)
            agent = self._pick_agent(c)
            if agent is not None:
                self._offer(c, agent, waiting=False)
                return self._settle(now)
        self._enter_waiting(c, now, arm=False)
        token = c.tepoch
        out = self._settle(now)
        if c.tepoch == token:  # still waiting where it entered: it needs its timers
            self._arm_deferred(c, now)
        return out

    def offer_answered(self, call_id: str, now: float) -> list[Command]:
        c = self._call(call_id)
        if c.state is not CallState.OFFERED or c.agent_id is None:
            raise InvalidRequest(f"call {call_id} is {c.state.value}, not offered")
        now = self._catch_up(now)
        a = self._agents[c.agent_id]
        self._transition(a, E.ANSWER, now)
        c.state = CallState.CONNECTED
        c.answered_at = now
        self.stats.call_answered(c.queue, now - c.enqueued_at, now)
        return self._settle(now)

    def offer_failed(self, call_id: str, reason: str, now: float) -> list[Command]:
        """Ring-no-answer (or busy, unreachable): the agent pauses, the call keeps its place."""
        c = self._call(call_id)
        if c.state is not CallState.OFFERED or c.agent_id is None:
            raise InvalidRequest(f"call {call_id} is {c.state.value}, not offered")
        now = self._catch_up(now)
        a = self._agents[c.agent_id]
        a.call_id = None
        self._transition(a, E.NO_ANSWER, now)
        c.agent_id = None
        c.state = CallState.CALLBACK_WAITING if c.is_callback else CallState.WAITING
        self._enter_waiting(c, now)
        return self._settle(now)

    def call_ended(self, call_id: str, now: float) -> list[Command]:
        c = self._call(call_id)
        if c.state is not CallState.CONNECTED or c.agent_id is None:
            raise InvalidRequest(f"call {call_id} is {c.state.value}, not connected")
        now = self._catch_up(now)
        a = self._agents[c.agent_id]
        a.call_id = None
        self._transition(a, E.HANGUP, now)
        qi = self._queues[c.queue]
        talk = now - (c.answered_at if c.answered_at is not None else now)
        self._seq += 1
        self._wrap[a.agent_id] = (c.queue, talk, now, self._seq)
        del self._calls[call_id]
        waited = (c.answered_at if c.answered_at is not None else now) - c.enqueued_at
        self._out.append(CallRemoved(call_id, c.queue, "completed", a.agent_id, waited))
        if qi.s.wrapup_s <= 0:
            self._end_wrapup(a, now)
        else:
            self._push_timer(now + qi.s.wrapup_s, _T_WRAPUP, a.agent_id, self._seq)
        return self._settle(now)

    def abandon(self, call_id: str, now: float) -> list[Command]:
        return self._remove_unanswered(call_id, now, "abandoned")

    def hand_back(self, call_id: str, now: float) -> list[Command]:
        """The call leaves for Asterisk's own Queue() (the server is stopping, or cannot keep
        it): like an abandon (a ringing agent's offer is retracted) but not counted as one;
        what the fallback did with the caller is counted when it is known."""
        return self._remove_unanswered(call_id, now, "handed_back")

    def _remove_unanswered(self, call_id: str, now: float,
                           reason: RemovalReason) -> list[Command]:
        c = self._call(call_id)
        if c.state is CallState.CONNECTED:
            raise InvalidRequest(f"call {call_id} is connected: report call_ended, not {reason}")
        now = self._catch_up(now)
        if c.state is CallState.OFFERED and c.agent_id is not None:
            a = self._agents[c.agent_id]
            a.call_id = None
            self._transition(a, E.RETRACT, now)
            self._out.append(OfferRetracted(call_id, a.agent_id, a.device))
        else:
            self._leave_waiting(c)
        c.tepoch = self._token()
        del self._calls[call_id]
        waited = now - c.enqueued_at
        if reason == "abandoned":
            self.stats.call_abandoned(c.queue, waited, now)
        self._out.append(CallRemoved(call_id, c.queue, reason, None, waited))
        return self._settle(now)

    def request_callback(self, call_id: str, number: str, now: float) -> list[Command]:
        c = self._call(call_id)
        if c.state is not CallState.WAITING:
            raise InvalidRequest(f"call {call_id} is {c.state.value}: callback not possible")
        if not _NUMBER.match(number):
            raise InvalidRequest(f"call {call_id}: callback number {number!r} is not a number")
        now = self._catch_up(now)
        if c.state is not CallState.WAITING:
            # Catching up with time routed it meanwhile; the offer is in the buffered commands.
            raise InvalidRequest(f"call {call_id} is {c.state.value}: callback not possible")
        # The heap entry and queue position stay as they are: the caller keeps their place.
        c.state = CallState.CALLBACK_WAITING
        c.is_callback = True
        c.number = number
        self.stats.callback_requested(c.queue, now)
        return self._settle(now)

    def agent_login(self, login: AgentLogin, now: float) -> list[Command]:
        a = self._agents.get(login.agent_id)
        if a is not None and a.state is not AgentState.LOGGED_OUT:
            raise StateConflict(f"agent {login.agent_id} is already logged in")
        if not login.agent_id or not login.device:
            raise InvalidRequest("agent_id and device must not be empty")
        for q in login.queues:
            self._queue(q)
        skills = validate_skills(login.agent_id, login.skills)
        if login.pause_reason is not None:
            self._check_reason(login.pause_reason)
        owner = self._device_owner.get(login.device)
        if owner is not None and owner != login.agent_id:
            raise StateConflict(f"device {login.device} is in use by agent {owner}")
        now = self._catch_up(now)
        if a is None:
            a = Agent(login.agent_id, login.device, frozenset(login.queues), skills,
                      state_since=now)
            self._agents[a.agent_id] = a
        else:
            a.device, a.queues, a.skills = login.device, frozenset(login.queues), skills
        a.device_state = self._devices.get(login.device, DeviceState.UNKNOWN)
        self._device_owner[login.device] = a.agent_id
        if login.pause_reason is None:
            self._transition(a, E.LOGIN, now)
        else:
            self._transition(a, E.LOGIN_PAUSED, now, login.pause_reason)
        return self._settle(now)

    def agent_logout(self, agent_id: str, now: float) -> list[Command]:
        a = self._agent(agent_id)
        self._require(a, E.LOGOUT)
        now = self._catch_up(now)
        self._require(a, E.LOGOUT)  # catching up cannot leave reserved/on_call, but be sure
        self._close_wrap(a, now)
        self._transition(a, E.LOGOUT, now)
        self._device_owner.pop(a.device, None)
        return self._settle(now)

    def agent_available(self, agent_id: str, now: float) -> list[Command]:
        """Paused -> available (the "ready" button)."""
        a = self._agent(agent_id)
        self._require(a, E.READY)
        now = self._catch_up(now)
        self._transition(a, E.READY, now)
        return self._settle(now)

    def agent_on_device(self, device: str) -> str:
        """The agent logged in on ``device``, or ""."""
        return self._device_owner.get(device, "")

    def agent_pause(self, agent_id: str, reason: str, now: float) -> list[Command]:
        a = self._agent(agent_id)
        self._check_reason(reason)
        self._require(a, E.PAUSE)
        now = self._catch_up(now)
        self._close_wrap(a, now)
        self._transition(a, E.PAUSE, now, reason)
        return self._settle(now)

    def agent_end_wrapup(self, agent_id: str, now: float) -> list[Command]:
        a = self._agent(agent_id)
        self._require(a, E.END_WRAPUP)
        now = self._catch_up(now)
        if a.state is AgentState.WRAP_UP:  # the wrap-up timer may have ended it while catching up
            self._end_wrapup(a, now)
        return self._settle(now)

    def agent_set_skills(
        self, agent_id: str, skills: Mapping[str, int], now: float,
        queues: Iterable[str] | None = None,
    ) -> list[Command]:
        a = self._agent(agent_id)
        new_skills = validate_skills(agent_id, skills)
        new_queues = a.queues
        if queues is not None:
            new_queues = frozenset(queues)
            for q in new_queues:
                self._queue(q)
        now = self._catch_up(now)
        self._unindex_agent(a)
        for q in a.queues:
            if self._staffed(a):
                self._queues[q].staffed -= 1
        a.skills, a.queues = new_skills, new_queues
        for q in a.queues:
            if self._staffed(a):
                self._queues[q].staffed += 1
        self._sync_agent(a)
        return self._settle(now)

    def device_state(self, device: str, state: DeviceState | str, now: float) -> list[Command]:
        st = state if isinstance(state, DeviceState) else DeviceState.from_ami(state)
        now = self._catch_up(now)
        self._devices[device] = st
        owner = self._device_owner.get(device)
        if owner is not None:
            a = self._agents[owner]
            a.device_state = st
            self._sync_agent(a)
        return self._settle(now)

    def new_day(self, now: float) -> list[Command]:
        now = self._catch_up(now)
        for a in self._agents.values():
            self._unindex_agent(a)
            a.calls_today = 0
            self._sync_agent(a)
        return self._settle(now)

    # ================================================================================= queries

    def agent(self, agent_id: str) -> AgentSnapshot:
        return self._agent(agent_id).snapshot()

    def agents(self) -> tuple[AgentSnapshot, ...]:
        return tuple(a.snapshot() for a in self._agents.values())

    def call(self, call_id: str) -> CallSnapshot:
        return self._snap(self._call(call_id))

    def calls(self) -> tuple[CallSnapshot, ...]:
        return tuple(self._snap(c) for c in self._calls.values())

    def waiting(self, queue: str) -> tuple[CallSnapshot, ...]:
        """Callers of `queue` in priority order (the order they will be served)."""
        self._queue(queue)
        cs = [c for c in self._calls.values() if c.queue == queue and c.state in _WAITING]
        cs.sort(key=lambda c: c.key)
        return tuple(self._snap(c) for c in cs)

    def position(self, call_id: str) -> int:
        c = self._call(call_id)
        if c.state not in _WAITING:
            raise InvalidRequest(f"call {call_id} is not waiting")
        qi = self._queues[c.queue]
        _order_apply(qi)
        return bisect_left(qi.order, c.key) + 1

    def report(self, now: float, day_start: float) -> tuple[QueueReport, ...]:
        waits: dict[str, list[float]] = {}
        for c in self._calls.values():
            if c.state in _WAITING:
                waits.setdefault(c.queue, []).append(now - c.enqueued_at)
        return self.stats.report(now, day_start, waits, self.agents())

    def pick_agent(self, call: NewCall | str, now: float) -> str | None:
        """Dry run through the indexes: whom a new call (or a waiting one) would go to now.
        Changes nothing; `now` must not be behind the engine (call tick(now) first)."""
        c = self._probe(call, now)
        a = self._pick_agent(c)
        return a.agent_id if a is not None else None

    def pick_call(self, agent_id: str) -> str | None:
        """Dry run through the indexes: the call this agent would get if it were available now
        (its current state is ignored). Changes nothing."""
        e = self._best_call_for(self._agent(agent_id))
        return e[4] if e is not None else None

    def _probe(self, call: NewCall | str, now: float) -> _Call:
        if isinstance(call, str):
            return self._call(call)
        qi = self._queue(call.queue)
        weight = self.settings.tier_weights.get(call.tier)
        if weight is None:
            raise InvalidRequest(f"unknown tier {call.tier!r}")
        k0, seq = self.settings.aging_per_s * now - weight, self._seq + 1
        c = _Call(call_id=call.call_id, queue=qi.s.name, tier=call.tier,
                  skills=call.skills or qi.skills, number=call.number, enqueued_at=now,
                  k0=k0, seq=seq, queue_since=now, key=(k0, now, seq))
        c.thr = self._threshold_at(qi, 0.0)
        self._need_skills(qi, c.skills)  # index upkeep only: routing state is unchanged
        return c

    def reference_pick_agent(self, call: NewCall | str, now: float) -> str | None:
        """Naive scan of every agent: whom the policy gives this call (a new one, or a waiting one)
        now. For tests and the benchmark; the engine itself uses its indexes."""
        if isinstance(call, str):
            c = self._call(call)
            queue, skills, tier, thr = c.queue, c.skills, c.tier, c.thr
        else:
            qi = self._queue(call.queue)
            queue, skills, tier = call.queue, call.skills or qi.skills, call.tier
            thr = self._threshold_at(qi, 0.0)
        cands = [a for a in self._agents.values() if is_eligible(a, queue, skills, thr)]
        qs = self._queues[queue].s
        pick = select_agent(cands, skills, tier, qs, self._queues[queue].rr_last)
        return pick.agent_id if pick is not None else None

    def reference_pick_call(self, agent_id: str, now: float) -> str | None:
        """Naive scan of every waiting call: which one this agent would get if it were available
        now (its current state is ignored)."""
        a = self._agent(agent_id)
        best: _Call | None = None
        for c in self._calls.values():
            if c.state not in _WAITING or c.queue not in a.queues:
                continue
            if c.thr and any(a.skills.get(s, 0) < c.thr for s in c.skills):
                continue
            if best is None or c.key < best.key:
                best = c
        return best.call_id if best is not None else None

    # ============================================================================== internals

    def _queue(self, name: str) -> _Queue:
        qi = self._queues.get(name)
        if qi is None:
            raise UnknownQueue(f"no queue {name!r}; configured: {sorted(self._queues)}")
        return qi

    def _call(self, call_id: str) -> _Call:
        c = self._calls.get(call_id)
        if c is None:
            raise UnknownCall(f"no call {call_id!r} in the ACD")
        return c

    def _agent(self, agent_id: str) -> Agent:
        a = self._agents.get(agent_id)
        if a is None:
            raise UnknownAgent(f"no agent {agent_id!r}")
        return a

    def _check_reason(self, reason: str) -> None:
        if reason not in self._pause_codes:
            raise InvalidRequest(
                f"pause reason {reason!r} is not one of {sorted(self._pause_codes)}"
            )

    def _require(self, a: Agent, event: AgentEvent) -> None:
        if not a.can_apply(event):
            raise IllegalTransition(a.agent_id, a.state.value, event.value)

    def _snap(self, c: _Call) -> CallSnapshot:
        return CallSnapshot(
            call_id=c.call_id, queue=c.queue, tier=c.tier, skills=c.skills, state=c.state,
            enqueued_at=c.enqueued_at, queue_since=c.queue_since, min_skill_level=c.thr,
            agent_id=c.agent_id, number=c.number,
        )

    def _flush(self) -> list[Command]:
        out, self._out = self._out, []
        return out

    def _settle(self, now: float) -> list[Command]:
        """Route what the input changed (and any timer it made due), hand out the commands.
        `now` is already the effective now (the input caught up with it)."""
        timers = self._timers
        if timers and timers[0][0] <= now:
            self._fire_timers(now)
        if self._dirty_agents or self._dirty_calls:
            self._match(now)
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------------------------ agents

    @staticmethod
    def _staffed(a: Agent) -> bool:
        return a.state not in (AgentState.LOGGED_OUT, AgentState.PAUSED)

    def _transition(
        self, a: Agent, event: AgentEvent, now: float, reason: str | None = None
    ) -> None:
        old = a.apply(event, now, reason)
        new = a.state
        was = old is not _LOGGED_OUT and old is not _PAUSED
        is_ = new is not _LOGGED_OUT and new is not _PAUSED
        if was is not is_:
            for q in a.queues:
                self._queues[q].staffed += 1 if is_ else -1
        aid = a.agent_id
        self._out.append(AgentStateChanged(aid, old, new, a.pause_reason, now))
        # _sync_agent, inlined: this runs on every input
        if new is _AVAILABLE and a.device_state not in UNROUTABLE_DEVICE_STATES:
            if aid not in self._agent_index:
                self._dirty_agents[aid] = a
        elif aid in self._agent_index:
            self._unindex_agent(a)

    def _sync_agent(self, a: Agent) -> None:
        """Keep the availability index in step with routability. Indexing is deferred to _match:
        an agent that takes a call at once is never indexed at all."""
        if a.routable:
            if a.agent_id not in self._agent_index:
                self._dirty_agents[a.agent_id] = a
        elif a.agent_id in self._agent_index:
            self._unindex_agent(a)

    def _index_agent(self, a: Agent) -> None:
        entries: list[Any] = []
        skills = a.skills.items()
        queues = self._queues
        for q in a.queues:
            qi = queues[q]
            k = _agent_key(qi.s.selection, a)
            lst = qi.avail_all
            # Newest idle goes last under longest_idle / best_skill: one comparison, no search.
            if not lst or lst[-1] < k:
                lst.append(k)
            else:
                insort(lst, k)
            entries += (lst, k)
            avail = qi.avail_skill
            for s, lvl in skills:
                buckets = avail.get(s)
                if buckets is not None:
                    lst = buckets[lvl]
                    if not lst or lst[-1] < k:
                        lst.append(k)
                    else:
                        insort(lst, k)
                    entries += (lst, k)
        self._agent_index[a.agent_id] = tuple(entries)

    def _unindex_agent(self, a: Agent) -> None:
        entries = self._agent_index.pop(a.agent_id, None)
        if entries is None:
            return
        it = iter(entries)
        for lst, k in zip(it, it, strict=True):
            # The agent a pick just took is often first (it was the policy's best): an identity
            # check needs no key comparison.
            if lst[0] is k:
                del lst[0]
                continue
            if len(lst) > 2:  # next most likely: just behind the front (no key comparisons)
                if lst[1] is k:
                    del lst[1]
                    continue
                if lst[2] is k:
                    del lst[2]
                    continue
            i = bisect_left(lst, k)
            if lst[i] is not k:
                raise AssertionError(f"availability index lost agent {a.agent_id}")
            del lst[i]

    def _close_wrap(self, a: Agent, now: float) -> None:
        w = self._wrap.pop(a.agent_id, None)
        if w is not None and a.state is AgentState.WRAP_UP:
            queue, talk, start, _ = w
            self.stats.call_handled(queue, talk + (now - start), now)

    def _end_wrapup(self, a: Agent, now: float) -> None:
        self._close_wrap(a, now)
        self._transition(a, E.END_WRAPUP, now)

    # ------------------------------------------------------------------------------- calls

    def _threshold_at(self, qi: _Queue, wait: float) -> int:
        thr = DEFAULT_MIN_LEVEL
        for st in qi.steps:
            if st.after_s > wait:
                break
            if st.action == "route":
                thr = st.min_skill_level
        return thr

    def _need_skills(self, qi: _Queue, skills: frozenset[str]) -> None:
        """Make sure `qi` keeps availability buckets for every skill in `skills`: a skill the
        queue has not needed before gets them built from the agents available there now."""
        avail = qi.avail_skill
        for s in skills:
            if s in avail:
                continue
            buckets: list[list[AgentKey]] = [[] for _ in range(MAX_SKILL_LEVEL + 1)]
            for k in qi.avail_all:
                lvl = self._agents[k[2]].skills.get(s, 0)
                if lvl:
                    buckets[lvl].append(k)  # avail_all is sorted: so is each bucket
                    self._agent_index[k[2]] += (buckets[lvl], k)
            avail[s] = buckets

    def _enter_waiting(self, c: _Call, now: float, arm: bool = True) -> None:
        """`arm=False` leaves the call's timers to the caller (enqueue arms them only if the call
        is still waiting once routed: a call that goes straight to an agent never needs them).
        """
        qi = self._queues[c.queue]
        c.tepoch = self._token()
        if c.skills is not qi.skills and c.skills not in qi.groups:
            self._need_skills(qi, c.skills)  # (a known group's skills are known)
        if qi.order_out.pop(c.call_id, None) is None:  # else: left and came back, no change
            qi.order_in[c.call_id] = c.key
            if len(qi.order_in) > 64 + (len(qi.order) >> 2):
                _order_apply(qi)  # bounded memory; amortised O(1) per change
        # Route steps already due set the threshold before the call is indexed (a new call's
        # first step is usually due at once): no index-then-move churn.
        steps = qi.steps
        while c.step_idx < len(steps):
            st = steps[c.step_idx]
            if st.action != "route" or c.queue_since + st.after_s > now:
                break
            c.thr = st.min_skill_level
            c.step_idx += 1
        self._index_call(c)
        if arm:
            self._push_entry_timers(qi, c, now)
        self._apply_due_steps(c, now, arm)
        self._dirty_calls[c.call_id] = c

    def _push_entry_timers(self, qi: _Queue, c: _Call, now: float) -> None:
        every = qi.s.announce_every_s
        if every > 0:
            n = int((now - c.queue_since) // every) + 1
            self._push_timer(c.queue_since + n * every, _T_ANNOUNCE, c.call_id, c.tepoch)
        self._push_timer(c.queue_since + qi.s.max_wait_s, _T_MAXWAIT, c.call_id, c.tepoch)

    def _arm_deferred(self, c: _Call, now: float) -> None:
        """The timers _enter_waiting(arm=False) left out, pushed in the order it would have."""
        qi = self._queues[c.queue]
        self._push_entry_timers(qi, c, now)
        if c.step_idx < len(qi.steps):
            due = c.queue_since + qi.steps[c.step_idx].after_s
            self._push_timer(due, _T_STEP, c.call_id, c.tepoch)

    def _leave_waiting(self, c: _Call) -> None:
        qi = self._queues[c.queue]
        if qi.order_in.pop(c.call_id, None) is None:  # else: came and went, no change
            qi.order_out[c.call_id] = c.key
            if len(qi.order_out) > 64 + (len(qi.order) >> 2):
                _order_apply(qi)
        self._unindex_call(c)
        c.tepoch = self._token()

    def _index_call(self, c: _Call) -> None:
        qi = self._queues[c.queue]
        g = qi.groups.get(c.skills)
        if g is None:
            g = qi.groups[c.skills] = _Group(c.skills)
        else:
            # Share the group's set: the caller's equal copy can go (fewer objects to collect).
            c.skills = g.skills
        h = g.heaps.get(c.thr)
        if h is None:
            h = g.heaps[c.thr] = []
            qi.flat = None
            g.live[c.thr] = 0
        g.live[c.thr] += 1
        qi.thr_live[c.thr] += 1
        qi.n_live += 1
        c.epoch = self._token()
        heapq.heappush(h, (c.k0, c.enqueued_at, c.seq, c.epoch, c.call_id))
        if qi.flat is not None:
            i = g.pos[c.thr]
            if c.k0 < qi.tops[i]:
                qi.tops[i] = c.k0

    def _unindex_call(self, c: _Call) -> None:
        qi = self._queues[c.queue]
        c.epoch = self._token()
        qi.thr_live[c.thr] -= 1
        qi.n_live -= 1
        g = qi.groups[c.skills]
        n = g.live[c.thr] - 1
        if n:
            g.live[c.thr] = n
            return
        # Nothing valid is left in that heap: drop its stale entries, but keep the heap (and its
        # group) for the next call of the kind, so the scan list stays valid and a call that
        # arrives and is routed at once allocates no index structures.
        g.live[c.thr] = 0
        g.heaps[c.thr].clear()
        if qi.flat is not None:
            qi.tops[g.pos[c.thr]] = _INF

    def _apply_due_steps(self, c: _Call, now: float, arm: bool = True) -> None:
        """Apply every escalation step whose time has come, then arm the next one (unless
        `arm` is False: see _enter_waiting)."""
        qi = self._queues[c.queue]
        while c.step_idx < len(qi.steps):
            st = qi.steps[c.step_idx]
            due = c.queue_since + st.after_s
            if due > now:
                if arm:
                    self._push_timer(due, _T_STEP, c.call_id, c.tepoch)
                return
            c.step_idx += 1
            if st.action == "route":
                if st.min_skill_level != c.thr:
                    self._unindex_call(c)
                    c.thr = st.min_skill_level
                    self._index_call(c)
                    self._dirty_calls[c.call_id] = c
            elif st.action == "overflow":
                self._overflow(c, st.target or qi.s.overflow_to, now)
                return  # the new queue's steps took over
            else:
                self._offer_callback(c)

    def _offer_callback(self, c: _Call) -> None:
        if c.state is CallState.WAITING and not c.callback_offered:
            c.callback_offered = True
            self._out.append(OfferCallback(c.call_id, c.queue))

    def _overflow(self, c: _Call, target: str, now: float) -> None:
        if not target or target in c.visited:
            # Nowhere new to go (or a loop between queues): a callback is the way out.
            self._offer_callback(c)
            return
        src = c.queue
        self._leave_waiting(c)
        self.stats.call_overflowed(src, now)
        self._out.append(Overflowed(c.call_id, src, target))
        c.queue = target
        if not c.own_skills:
            c.skills = self._queues[target].skills
        c.visited += (target,)
        c.queue_since = now
        c.step_idx = 0
        c.callback_offered = False
        c.thr = DEFAULT_MIN_LEVEL
        self.stats.call_entered(target, now)
        self._enter_waiting(c, now)

    # ------------------------------------------------------------------------------ timers

    def _token(self) -> int:
        self._seq += 1
        return self._seq

    def _push_timer(self, due: float, kind: int, key: str, token: int) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (due, self._seq, kind, key, token))

    def _catch_up(self, now: float) -> float:
        """Fire every timer due at `now`, then route whatever became matchable. Returns the
        effective now (never behind the last one)."""
        if now < self._now:
            now = self._now  # time never runs backwards inside the engine
        self._now = now
        timers = self._timers
        if timers and timers[0][0] <= now:
            self._fire_timers(now)
        if self._dirty_agents or self._dirty_calls:
            self._match(now)
        return now

    def _fire_timers(self, now: float) -> None:
        timers = self._timers
        # Timers act at their due time, not at `now`: a late tick must not shift when a call
        # entered its overflow queue or when an agent's wrap-up ended.
        while timers and timers[0][0] <= now:
            due, _, kind, key, token = heapq.heappop(timers)
            if kind == _T_WRAPUP:
                w = self._wrap.get(key)
                if w is not None and w[3] == token:
                    a = self._agents[key]
                    if a.state is AgentState.WRAP_UP:
                        self._end_wrapup(a, due)
                continue
            c = self._calls.get(key)
            if c is None or c.tepoch != token or c.state not in _WAITING:
                continue
            if kind == _T_STEP:
                self._apply_due_steps(c, due)
            elif kind == _T_MAXWAIT:
                qi = self._queues[c.queue]
                self._overflow(c, qi.s.overflow_to, due)
            else:
                self._announce(c, now)

    def _announce(self, c: _Call, now: float) -> None:
        qi = self._queues[c.queue]
        if c.state is CallState.WAITING:
            _order_apply(qi)
            pos = bisect_left(qi.order, c.key) + 1
            ewt = self.stats.estimated_wait(c.queue, pos, qi.staffed, now)
            self._out.append(Announce(c.call_id, c.queue, pos, ewt))
        # Next slot strictly after now: a late catch-up announces once, not once per missed slot.
        every = qi.s.announce_every_s
        n = int((now - c.queue_since) // every) + 1
        self._push_timer(c.queue_since + n * every, _T_ANNOUNCE, c.call_id, c.tepoch)

    # ----------------------------------------------------------------------------- routing

    def _match(self, now: float) -> None:
        """Route until stable: always the highest-priority matchable call first."""
        dagents, dcalls = self._dirty_agents, self._dirty_calls
        if not dagents and not dcalls:
            return
        if len(dagents) == 1 and not dcalls:
            # The hot path: one agent freed up, nothing else changed. The engine was stable, so
            # no other available agent is eligible for any waiting call: the agent's best call
            # is theirs, no agent selection needed.
            (a,) = dagents.values()
            dagents.clear()
            if a.state is not _AVAILABLE or a.device_state in UNROUTABLE_DEVICE_STATES:
                return
            e = self._best_call_for(a)
            if e is not None:
                self._offer(self._calls[e[4]], a)
            elif a.agent_id not in self._agent_index:
                self._index_agent(a)
            return
        if len(dcalls) == 1 and not dagents:
            # The other hot path: one call entered waiting, nothing else changed. The engine was
            # stable, so only this call can match: the policy's agent for it, if any.
            (c,) = dcalls.values()
            dcalls.clear()
            if c.state in _WAITING:
                agent = self._pick_agent(c)
                if agent is not None:
                    self._offer(c, agent)
            return
        for a in dagents.values():
            if a.routable and a.agent_id not in self._agent_index:
                self._index_agent(a)
        pending = sorted(
            (c for c in dcalls.values() if c.state in _WAITING), key=lambda c: c.key
        )
        dcalls.clear()
        i = 0
        while True:
            best: _Entry | None = None
            for aid in list(dagents):
                a = dagents[aid]
                if not a.routable:
                    del dagents[aid]
                    continue
                e = self._best_call_for(a)
                if e is None:
                    del dagents[aid]
                elif best is None or e < best:
                    best = e
            while i < len(pending) and pending[i].state not in _WAITING:
                i += 1
            call: _Call | None = None
            from_pending = False
            if i < len(pending) and (best is None or pending[i].key < best[:3]):
                call, from_pending = pending[i], True
            elif best is not None:
                call = self._calls[best[4]]
            if call is None:
                break
            agent = self._pick_agent(call)
            if from_pending:
                i += 1
            if agent is not None:
                self._offer(call, agent)
            elif not from_pending:
                # An agent's best call must have that agent eligible; if the indexes disagree,
                # stop rather than spin.
                raise AssertionError(f"routing indexes disagree about call {call.call_id}")
        dagents.clear()

    def _best_call_for(self, a: Agent) -> _Entry | None:
        best: _Entry | None = None
        askills = a.skills
        get = askills.get
        top = max(askills.values(), default=0)
        queues = self._queues
        calls = self._calls
        for qn in a.queues:
            qi = queues[qn]
            if not qi.n_live:
                continue
            live = qi.thr_live
            for t in range(top + 1):
                if live[t]:
                    break
            else:
                continue  # every call waiting there needs more than the agent's best level
            flat = qi.flat
            if flat is None:
                flat = self._build_scan(qi)
            tops = qi.tops
            for i, lb in enumerate(tops):
                # No better than the best so far: nothing in that heap can be (lb is a lower
                # bound of its valid entries' k0), so skip it untouched.
                if best is not None and lb > best[0]:
                    continue
                skill_list, thr, h = flat[i]
                if not h:
                    continue
                if best is not None and h[0] >= best:
                    continue
                if thr:
                    for s in skill_list:
                        if get(s, 0) < thr:
                            break
                    else:
                        thr = 0
                    if thr:
                        continue
                while h:
                    e = h[0]
                    c = calls.get(e[4])
                    if c is not None and c.epoch == e[3]:
                        tops[i] = e[0]  # now exact
                        if best is None or e < best:
                            best = e
                        break
                    heapq.heappop(h)
        return best

    @staticmethod
    def _build_scan(qi: _Queue) -> list[tuple[tuple[str, ...], int, list[_Entry]]]:
        flat: list[tuple[tuple[str, ...], int, list[_Entry]]] = []
        tops = array("d")
        for g in qi.groups.values():
            for thr, h in g.heaps.items():
                g.pos[thr] = len(flat)
                flat.append((g.skill_list, thr, h))
                # A heap's top, stale or not, is no worse than its best valid entry.
                tops.append(h[0][0] if h else _INF)
        qi.flat, qi.tops = flat, tops
        return flat

    def _pick_agent(self, c: _Call) -> Agent | None:
        qi = self._queues[c.queue]
        if not qi.avail_all:
            return None
        skills, thr = c.skills, c.thr
        policy = qi.s.selection
        top_first = policy == "best_skill" or (
            qi.s.vip_tiers_best_agents_first and c.tier in VIP_TIERS
        )
        if len(skills) > 1:
            return self._pick_generic(c, qi)
        if not skills:
            return self._agents[self._first(qi.avail_all, policy, qi.rr_last)[2]]
        (s,) = skills
        buckets = qi.avail_skill.get(s)
        lo = max(thr, 1)
        if top_first:
            if buckets is not None:
                for lvl in range(MAX_SKILL_LEVEL, lo - 1, -1):
                    if buckets[lvl]:
                        return self._agents[self._first(buckets[lvl], policy, qi.rr_last)[2]]
            if thr == 0:  # nobody available has the skill: all score 0
                return self._agents[self._first(qi.avail_all, policy, qi.rr_last)[2]]
            return None
        if thr == 0:
            return self._agents[self._first(qi.avail_all, policy, qi.rr_last)[2]]
        if buckets is None:
            return None
        lists = [buckets[lvl] for lvl in range(lo, MAX_SKILL_LEVEL + 1) if buckets[lvl]]
        if not lists:
            return None
        if policy == "round_robin":
            after: AgentKey | None = None
            if qi.rr_last is not None:
                probe = (0.0, 0.0, qi.rr_last)
                for lst in lists:
                    j = bisect_right(lst, probe)
                    if j < len(lst) and (after is None or lst[j] < after):
                        after = lst[j]
            if after is None:
                after = min(lst[0] for lst in lists)
            return self._agents[after[2]]
        return self._agents[min(lst[0] for lst in lists)[2]]

    @staticmethod
    def _first(lst: list[AgentKey], policy: str, rr_last: str | None) -> AgentKey:
        if policy == "round_robin" and rr_last is not None:
            j = bisect_right(lst, (0.0, 0.0, rr_last))
            return lst[j] if j < len(lst) else lst[0]
        return lst[0]

    def _pick_generic(self, c: _Call, qi: _Queue) -> Agent | None:
        """Multi-skill calls, in the order select_agent() spells out, without scoring everyone.

        Candidates come from the most selective skill's buckets. Plain policies walk them in key
        order and stop at the first agent with the other skills. Top-first walks that skill's
        levels downwards and stops once a level cannot reach the best score found (an agent's
        score is at most its level in any one of the skills).
        """
        skills, thr = c.skills, c.thr
        policy = qi.s.selection
        top_first = policy == "best_skill" or (
            qi.s.vip_tiers_best_agents_first and c.tier in VIP_TIERS
        )
        rr = qi.rr_last if policy == "round_robin" else None
        agents = self._agents
        if thr == 0:
            if not top_first:
                return agents[self._first(qi.avail_all, policy, qi.rr_last)[2]]
            return self._best_scored(qi.avail_all, skills, 0, rr)
        star: list[list[AgentKey]] | None = None
        star_skill = ""
        best_n = -1
        for s in skills:
            buckets = qi.avail_skill.get(s)
            if buckets is None:
                return None
            n = 0
            for lvl in range(thr, MAX_SKILL_LEVEL + 1):
                n += len(buckets[lvl])
            if best_n < 0 or n < best_n:
                best_n, star, star_skill = n, buckets, s
        assert star is not None
        others = [s for s in skills if s != star_skill]
        if top_first:
            best: tuple[int, bool, AgentKey] | None = None
            for lvl in range(MAX_SKILL_LEVEL, thr - 1, -1):
                if best is not None and lvl < -best[0]:
                    break
                for k in star[lvl]:
                    a_skills = agents[k[2]].skills
                    sc = lvl
                    for s in others:
                        v = a_skills.get(s, 0)
                        if v < sc:
                            sc = v
                    if sc < thr:
                        continue
                    cand = (-sc, rr is not None and k[2] <= rr, k)
                    if best is None or cand < best:
                        best = cand
            return agents[best[2][2]] if best is not None else None
        # Each level's list is in policy order: its first agent with the other skills is its
        # best; the answer is the best of those (round robin: of those after the pointer, else
        # of those before it).
        probe = (0.0, 0.0, rr) if rr is not None else None
        after: AgentKey | None = None
        wrapped: AgentKey | None = None
        for lvl in range(thr, MAX_SKILL_LEVEL + 1):
            lst = star[lvl]
            if not lst:
                continue
            cut = bisect_right(lst, probe) if probe is not None else 0
            for lo, hi, is_after in ((cut, len(lst), True), (0, cut, False)):
                if not is_after and after is not None:
                    break  # something after the pointer exists: wrapped ones cannot win
                for i in range(lo, hi):
                    k = lst[i]
                    if is_after and after is not None and k >= after:
                        break
                    if not is_after and wrapped is not None and k >= wrapped:
                        break
                    a_skills = agents[k[2]].skills
                    for s in others:
                        if a_skills.get(s, 0) < thr:
                            break
                    else:
                        if is_after:
                            after = k
                        else:
                            wrapped = k
                        break
        found = after if after is not None else wrapped
        return agents[found[2]] if found is not None else None

    def _best_scored(
        self, pool: list[AgentKey], skills: frozenset[str], thr: int, rr: str | None
    ) -> Agent | None:
        agents = self._agents
        best: tuple[int, bool, AgentKey] | None = None
        for k in pool:
            a_skills = agents[k[2]].skills
            sc = min(a_skills.get(s, 0) for s in skills)
            if sc < thr:
                continue
            cand = (-sc, rr is not None and k[2] <= rr, k)
            if best is None or cand < best:
                best = cand
        return agents[best[2][2]] if best is not None else None

    def _offer(self, c: _Call, a: Agent, waiting: bool = True) -> None:
        """Reserve `a` for `c`. `waiting=False`: a new call that never entered the waiting
        structures (see enqueue)."""
        now = self._now
        if waiting:
            self._leave_waiting(c)
        qi = self._queues[c.queue]
        qi.rr_last = a.agent_id
        callback = c.state is CallState.CALLBACK_WAITING
        c.state = CallState.OFFERED
        c.agent_id = a.agent_id
        a.call_id = c.call_id
        self._transition(a, E.RESERVE, now)
        if callback:
            self._out.append(PlaceCallback(c.call_id, a.agent_id, a.device, c.queue, c.number))
        else:
            self._out.append(Offer(c.call_id, a.agent_id, a.device, c.queue, qi.s.ring_timeout_s))


def _order_apply(qi: _Queue) -> None:
    added, gone = qi.order_in, qi.order_out
    if not added and not gone:
        return
    order = qi.order
    if len(added) + len(gone) <= 8:
        for k in gone.values():
            _remove_sorted(order, k)
        for k in added.values():
            insort(order, k)
    else:
        if gone:
            drop = set(gone.values())
            order = [k for k in order if k not in drop]
        order.extend(added.values())
        order.sort()
        qi.order = order
    added.clear()
    gone.clear()


def _remove_sorted(lst: list[Any], key: Any) -> None:
    i = bisect_left(lst, key)
    if i < len(lst) and lst[i] == key:
        del lst[i]
