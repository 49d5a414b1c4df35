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
    enqueue(NewCall, now)              the IVR hands over a call (queue, tier, skills; or a call
                                       for one agent: NewCall.required_agent, see acd.policy)
    enqueue_callback(NewCall, now)     a scheduled callback (nobody on the line): PlaceCallback
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
    claim_agent(claim_id, queue, pool, now, hold_s=...)  hold the agent a call of `queue` would
                                       get now for an outbound call on its way (acd/claims.py);
                                       `claimed_agent(claim_id)` says whom (None: nobody free)
    release_claim(claim_id, now)       the call will not come (busy, no answer, machine)
    tick(now)                          escalation, overflow, wrap-up expiry, announcements; call it
                                       about once a second (every other input also catches up)

Queries (no state change): agent(id) / agents() / call(id) / calls() -> frozen snapshots;
waiting(queue) in service order; position(call_id); report(now, day_start) -> QueueReport per
queue plus the overall one (acd.stats); pick_agent(NewCall | call_id, now) and pick_call(agent_id)
are dry runs of the routing decision through the indexes; reference_pick_agent/_call are the same
decisions by acd.policy's naive scan (tests and benchmarks compare the two). `engine.stats` is the
QueueStats the engine feeds.

Time: `now` is seconds on a monotonic clock; an input with a `now` older than the engine's last
is treated as happening at the last `now` (time never runs backwards inside the engine).

Every input first catches up with `now` (fires due timers and routes), then applies itself, then
routes again, so the engine is always *stable*: no waiting call has an eligible available agent.
A refused input raises an AcdError before changing anything; commands produced while catching up
with time are kept and delivered by the next call that succeeds.

Where things are
----------------
- acd.policy: the routing policy as a readable specification, with the reference picks.
- acd.indexes: the indexes that make routing cheap, and the fast picks that read them.
- acd.agents / acd.calls: the agent and call records, each with its transition table.
- acd.timers: what is due when.
- this module: the engine, which applies inputs to those and emits the commands.

Hot path (what keeps a whole input cheap; see benchmarks/acd_routing.py)
-------------------------------------------------------------------------
- One agent freed / one call arrived (the common inputs) are routed without the general matching
  loop (`_match`): the engine was stable, so only that agent or that call can match.
- A new call that an agent can take at once goes straight to them, without entering the waiting
  indexes; its timers are armed only if it still waits once routed.
- An agent is indexed as available only when routing it found nothing to take (deferred through
  `_dirty_agents`).
- acd.indexes: the indexes themselves. Statistics recording appends one tuple (acd.stats).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from itertools import count
from typing import TypeVar

from acd import policy
from acd.agents import Agent, AgentEvent, validate_skills
from acd.calls import WAITING_STATES, AcdCall, CallEvent
from acd.claims import Claim, ClaimTerms, claim_level
from acd.errors import (
    AcdError,
    DuplicateCall,
    IllegalTransition,
    InvalidRequest,
    InvalidSkills,
    StateConflict,
    UnknownAgent,
    UnknownCall,
    UnknownQueue,
)
from acd.indexes import QueueIndex, RoutingIndex
from acd.model import (
    UNROUTABLE_DEVICE_STATES,
    AgentLogin,
    AgentSnapshot,
    AgentState,
    AgentStateChanged,
    Announce,
    CallRemoved,
    CallSnapshot,
    CallState,
    ClaimLost,
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
from acd.timers import (
    ANNOUNCE,
    CLAIM,
    MAX_WAIT,
    REQUIRED,
    STEP,
    WRAP_UP,
    Timers,
    WrapUp,
    next_slot,
)
from config.acd import AcdSettings

E = AgentEvent
C = CallEvent
_NUMBER = re.compile(r"\+?[0-9]{3,20}")  # (fullmatch: "$" would let a final "\n" through)
_AVAILABLE, _LOGGED_OUT, _PAUSED = AgentState.AVAILABLE, AgentState.LOGGED_OUT, AgentState.PAUSED



_T = TypeVar("_T")


def _lookup(records: Mapping[str, _T], key: str, unknown: Callable[[], AcdError]) -> _T:
    record = records.get(key)
    if record is None:
        raise unknown()
    return record


class AcdEngine:
    def __init__(self, settings: AcdSettings, *, stats_window_s: float = 900.0) -> None:
        self.settings = settings
        self._queues = {q.name: QueueIndex(q) for q in settings.queues}
        self._pause_codes = frozenset(settings.pause_codes)
        self._agents: dict[str, Agent] = {}
        self._calls: dict[str, AcdCall] = {}
        self._index = RoutingIndex(self._queues, self._agents, self._calls)
        # The agents indexed as available (membership is asked on every agent transition).
        self._indexed = self._index.agent_entries
        self._devices: dict[str, DeviceState] = {}
        self._device_owner: dict[str, str] = {}  # device -> logged-in agent
        self._wrap: dict[str, WrapUp] = {}
        self._claims: dict[str, Claim] = {}  # by claim id (acd/claims.py)
        # Claims whose agent left during this input, with that agent: moved (or lost) once the
        # input is routed (_rehome).
        self._orphans: list[tuple[Claim, str]] = []
        # One sequence for calls' arrival order, heap and timer tokens and the timers' order: a
        # token is then unique engine-wide, so a later call with the same id never matches an
        # earlier one's stale heap entries or timers.
        self._ids = count(1)
        self._timers = Timers(self._ids)
        self._out: list[Command] = []
        # What changed since the engine was last stable: routed by _match.
        self._dirty_agents: dict[str, Agent] = {}
        self._dirty_calls: dict[str, AcdCall] = {}
        self._now = float("-inf")
        self.stats = QueueStats(settings.queues, window_s=stats_window_s)

    # ================================================================================== inputs

    def tick(self, now: float) -> list[Command]:
        now = self._catch_up(now)
        return self._flush()

    def enqueue_callback(self, call: NewCall, now: float) -> list[Command]:
        """A scheduled callback (nobody on the line; `call.number` to dial): it waits as a
        callback from the start, and the agent it goes to gets PlaceCallback (a call for one
        agent: that agent first, see NewCall.required_agent)."""
        if not _NUMBER.fullmatch(call.number):
            raise InvalidRequest(f"call {call.call_id}: callback number {call.number!r} is not "
                                 "a number")
        return self.enqueue(call, now, callback=True)

    def enqueue(self, call: NewCall, now: float, *, callback: bool = False) -> list[Command]:
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
        grace = 0.0
        if call.required_agent is not None:
            grace = self._required_grace(call)
        claimed = call.claim is not None or bool(call.claim_pool)
        if claimed and (callback or call.required_agent is not None):
            raise InvalidRequest(f"call {call.call_id}: a claimed call is a person on the line "
                                 "for any agent, not a callback or a call for one agent")
        now = self._catch_up(now)
        name = qi.settings.name
        c = AcdCall(
            call_id=call.call_id, queue=name, tier=call.tier, skills=call.skills or qi.skills,
            number=call.number, enqueued_at=now, queue_since=now,
            key=policy.call_key(self.settings.aging_per_s, weight, now, next(self._ids)),
            own_skills=bool(call.skills), visited=(name,),
        )
        if callback:
            c.state, c.is_callback = CallState.CALLBACK_WAITING, True
        self._calls[c.call_id] = c
        self.stats.call_entered(name, now)
        # Route steps due at once set the threshold (as _enter_waiting would).
        c.min_level, c.next_step = policy.escalate(qi.steps, 0, c.min_level, now, now)
        if grace > 0:
            c.required_agent, c.required_until = call.required_agent, now + grace
            self._enter_required(c)
            return self._settle(now)
        if claimed:
            held = self._take_claim(call.claim, call.claim_pool)
            if held is not None:  # the agent held for it: at once, whatever else waits
                self._offer(c, held, waiting=False)
                return self._settle(now)
            # Its agent left and no other could be held (acd/claims.py): a person is on the
            # line with seconds to find an agent. First in line, at a claim's level.
            c.key = policy.first_in_line_key(now, c.key[2])
            c.min_level = claim_level(c.min_level)
        if not self._step_due(qi, c, now) and not (self._dirty_agents or self._dirty_calls):
            # The engine is stable and nothing else is pending: if an agent can take the call
            # now, it goes straight to them, without entering (and at once leaving) the waiting
            # structures. Same outcome as waiting + the single-call match below.
            if c.skills is not qi.skills and c.skills not in qi.groups:
                self._index.need_skills(qi, c.skills)
            agent = self._index.pick_agent(c)
            if agent is not None:
                self._offer(c, agent, waiting=False)
                return self._settle(now)
        self._enter_waiting(c, now, arm=False)
        token = c.timer_token
        out = self._settle(now)
        if c.timer_token == token:  # still waiting where it entered: it needs its timers
            self._arm_deferred(c, now)
        return out

    def offer_answered(self, call_id: str, now: float) -> list[Command]:
        c = self._call(call_id)
        c.require(C.ANSWER)
        now = self._catch_up(now)
        self._transition(self._agent_of(c), E.ANSWER, now)
        c.apply(C.ANSWER)
        c.answered_at = now
        self.stats.call_answered(c.queue, now - c.enqueued_at, now)
        return self._settle(now)

    def offer_failed(self, call_id: str, reason: str, now: float) -> list[Command]:
        """Ring-no-answer (or busy, unreachable): the agent pauses, the call keeps its place."""
        c = self._call(call_id)
        c.require(c.no_answer_event)
        now = self._catch_up(now)
        self._part(c, E.NO_ANSWER, c.no_answer_event, now)
        if c.required_agent is not None and now < c.required_until:
            self._enter_required(c)  # its agent (now paused) still has the rest of the grace
        else:
            self._join_queue(c, now)
        return self._settle(now)

    def call_ended(self, call_id: str, now: float) -> list[Command]:
        c = self._call(call_id)
        c.require(C.HANGUP)
        now = self._catch_up(now)
        a = self._part(c, E.HANGUP, C.HANGUP, now)
        qi = self._queues[c.queue]
        answered_at = c.answered_at if c.answered_at is not None else now
        token = next(self._ids)
        self._wrap[a.agent_id] = (c.queue, now - answered_at, now, token)
        del self._calls[call_id]
        waited = answered_at - c.enqueued_at
        self._out.append(CallRemoved(call_id, c.queue, "completed", a.agent_id, waited))
        if qi.settings.wrapup_s <= 0:
            self._end_wrapup(a, now)
        else:
            self._timers.push(now + qi.settings.wrapup_s, WRAP_UP, a.agent_id, token)
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
        event = C.ABANDON if reason == "abandoned" else C.HAND_BACK
        c = self._call(call_id)
        c.require(event)
        now = self._catch_up(now)
        if c.state is CallState.OFFERED:  # (catching up may have routed a waiting call)
            a = self._part(c, E.RETRACT, event, now)
            self._out.append(OfferRetracted(call_id, a.agent_id, a.device))
        else:
            self._leave_waiting(c)
            c.apply(event)
        c.timer_token = next(self._ids)
        del self._calls[call_id]
        waited = now - c.enqueued_at
        if reason == "abandoned":
            self.stats.call_abandoned(c.queue, waited, now)
        self._out.append(CallRemoved(call_id, c.queue, reason, None, waited))
        return self._settle(now)

    def request_callback(self, call_id: str, number: str, now: float) -> list[Command]:
        c = self._call(call_id)
        c.require(C.LEAVE_LINE)
        if not _NUMBER.fullmatch(number):
            raise InvalidRequest(f"call {call_id}: callback number {number!r} is not a number")
        now = self._catch_up(now)
        # Catching up with time may have routed it meanwhile (the offer is in the buffered
        # commands): then this refuses.
        c.apply(C.LEAVE_LINE)
        # The heap entry and queue position stay as they are: the caller keeps their place.
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
        self._index.unindex_agent(a)
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
            self._index.unindex_agent(a)
            a.calls_today = 0
            self._sync_agent(a)
        return self._settle(now)

    def claim_agent(self, claim_id: str, queue: str, pool: str, now: float, *, hold_s: float,
                    tier: str = "unknown", skills: frozenset[str] = frozenset()
                    ) -> list[Command]:
        """Hold the agent of `queue` a call (`tier`, `skills`) would be offered now, any
        agent of the queue with those skills (at any level) being eligible, for the outbound
        call `claim_id`, for at most
        `hold_s` (acd/claims.py). Nobody free: no claim (`claimed_agent` says None). A claim
        already held is kept as it is."""
        qi = self._queue(queue)
        if not claim_id or not pool:
            raise InvalidRequest("claim_id and pool must not be empty")
        if claim_id in self._calls:
            raise DuplicateCall(f"call {claim_id!r} is already in the ACD: nothing to claim for")
        if not 0 < hold_s <= 3_600:  # (also refuses NaN)
            raise InvalidRequest(f"claim {claim_id}: hold_s must be in (0, 3600], not {hold_s!r}")
        if tier not in self.settings.tier_weights:
            raise InvalidRequest(f"claim {claim_id}: unknown tier {tier!r}")
        if "" in skills:
            raise InvalidSkills(f"claim {claim_id}: empty skill name")
        now = self._catch_up(now)
        if claim_id not in self._claims:
            terms = self.claim_terms(qi.settings.name, now, skills)
            a = self._claimable(claim_id, terms, tier, now)
            if a is not None:
                token = next(self._ids)
                r = Claim(claim_id, pool, a.agent_id, token, terms, tier)
                self._claims[claim_id] = r
                self._hold(r, a)
                self._timers.push(now + hold_s, CLAIM, claim_id, token)
        return self._settle(now)

    def claim_terms(self, queue: str, now: float, skills: frozenset[str] = frozenset()
                    ) -> ClaimTerms:
        """Whom a claim of `queue` (for a call needing `skills`, else the queue's) may hold
        (acd/claims.py: `can_hold`): the dialer counts its free agents by the same terms."""
        qi = self._queue(queue)
        return ClaimTerms(qi.settings.name, skills or qi.skills,
                          claim_level(self._entry_level(qi, now)))

    def release_claim(self, claim_id: str, now: float) -> list[Command]:
        """The claim's call will not come: its agent is routed again. A claim no longer held
        (used by its call or another of its pool, expired, its agent gone) is no error: the
        dialer cannot know."""
        now = self._catch_up(now)
        r = self._claims.get(claim_id)
        if r is not None:
            self._end_claim(r, route=True)
        return self._settle(now)

    # ================================================================================= queries

    def claimed_agent(self, claim_id: str) -> str | None:
        """The agent held by claim `claim_id`, or None."""
        r = self._claims.get(claim_id)
        return r.agent_id if r is not None else None

    def agent(self, agent_id: str) -> AgentSnapshot:
        return self._agent(agent_id).snapshot()

    def agents(self) -> tuple[AgentSnapshot, ...]:
        return tuple(a.snapshot() for a in self._agents.values())

    def call(self, call_id: str) -> CallSnapshot:
        return self._call(call_id).snapshot()

    def calls(self) -> tuple[CallSnapshot, ...]:
        return tuple(c.snapshot() for c in self._calls.values())

    def waiting(self, queue: str) -> tuple[CallSnapshot, ...]:
        """Callers of `queue` in priority order (the order they will be served)."""
        self._queue(queue)
        cs = [c for c in self._calls.values()
              if c.queue == queue and c.state in WAITING_STATES and c.required_agent is None]
        cs.sort(key=lambda c: c.key)
        return tuple(c.snapshot() for c in cs)

    def position(self, call_id: str) -> int:
        c = self._call(call_id)
        if c.state not in WAITING_STATES:
            raise InvalidRequest(f"call {call_id} is not waiting")
        if c.required_agent is not None:
            raise InvalidRequest(f"call {call_id} waits for agent {c.required_agent}, not in "
                                 "its queue's line")
        return self._queues[c.queue].positions.of(c.key)

    def report(self, now: float, day_start: float) -> tuple[QueueReport, ...]:
        waits: dict[str, list[float]] = {}
        for c in self._calls.values():
            if c.state in WAITING_STATES:
                waits.setdefault(c.queue, []).append(now - c.enqueued_at)
        return self.stats.report(now, day_start, waits, self.agents())

    def pick_agent(self, call: NewCall | str, now: float) -> str | None:
        """Dry run through the indexes: whom a new call (or a waiting one) would go to now.
        Changes nothing; `now` must not be behind the engine (call tick(now) first)."""
        a = self._index.pick_agent(self._probe(call, now))
        return a.agent_id if a is not None else None

    def pick_call(self, agent_id: str) -> str | None:
        """Dry run through the indexes: the call this agent would get if it were available now
        (its current state is ignored). Changes nothing."""
        c = self._index.best_call_for(self._agent(agent_id))
        return c.call_id if c is not None else None

    def reference_pick_agent(self, call: NewCall | str, now: float) -> str | None:
        """acd.policy's naive scan of every agent: whom the policy gives this call (a new one,
        or a waiting one) now. For tests and the benchmark; the engine uses its indexes."""
        if isinstance(call, str):
            c = self._call(call)
            queue, skills, tier, level = c.queue, c.skills, c.tier, c.min_level
            required = policy.is_reserved_for(c, now)
        else:
            qi = self._queue(call.queue)
            queue, skills, tier = call.queue, call.skills or qi.skills, call.tier
            level = self._entry_level(qi, now)
            required = call.required_agent if call.required_agent is not None \
                and self._required_grace(call) > 0 else None
        qi = self._queues[queue]
        # Agents with a call reserved for them waiting take no other. (Scanned only when some
        # call is reserved at all: the scan would double this reference's time on the
        # benchmark's 10,000 calls, none reserved, and skew its speedup figure.)
        busy = {owner for c in self._calls.values() if c.state in WAITING_STATES
                and (owner := policy.is_reserved_for(c, now)) is not None} \
            if self._index.required else set()
        pick = policy.reference_pick_agent(
            self._agents.values(), queue, skills, tier, level, qi.settings, qi.rr_pointer,
            required_agent=required, busy=busy)
        return pick.agent_id if pick is not None else None

    def reference_pick_call(self, agent_id: str, now: float) -> str | None:
        """acd.policy's naive scan of every waiting call: which one this agent would get if it
        were available now (its current state is ignored)."""
        a = self._agent(agent_id)
        return policy.reference_pick_call(
            a, (c for c in self._calls.values() if c.state in WAITING_STATES), now)

    def _probe(self, call: NewCall | str, now: float) -> AcdCall:
        """The record pick_agent routes: a waiting call's own, or a new call's as enqueue would
        make it (never stored)."""
        if isinstance(call, str):
            return self._call(call)
        qi = self._queue(call.queue)
        weight = self.settings.tier_weights.get(call.tier)
        if weight is None:
            raise InvalidRequest(f"unknown tier {call.tier!r}")
        c = AcdCall(call_id=call.call_id, queue=qi.settings.name, tier=call.tier,
                    skills=call.skills or qi.skills, number=call.number, enqueued_at=now,
                    queue_since=now, key=policy.call_key(self.settings.aging_per_s, weight, now, 0))
        c.min_level = self._entry_level(qi, now)
        if call.required_agent is not None and self._required_grace(call) > 0:
            c.required_agent = call.required_agent
        self._index.need_skills(qi, c.skills)  # index upkeep only: routing state is unchanged
        return c

    def _required_grace(self, call: NewCall) -> float:
        """How long a call for one agent waits for them (InvalidRequest for a bad request)."""
        if not call.required_agent or call.required_agent.strip() != call.required_agent:
            raise InvalidRequest(f"call {call.call_id}: required agent "
                                 f"{call.required_agent!r} is not an agent id")
        grace = self.settings.owner_grace_s if call.required_grace_s is None \
            else call.required_grace_s
        if not 0 <= grace <= 86_400:  # (also refuses NaN)
            raise InvalidRequest(f"call {call.call_id}: required_grace_s must be 0..86400 "
                                 f"seconds, not {grace!r}")
        return grace

    @staticmethod
    def _entry_level(qi: QueueIndex, now: float) -> int:
        """The threshold a call entering `qi` now would need once its due steps are applied."""
        level, _ = policy.escalate(qi.steps, 0, policy.DEFAULT_MIN_LEVEL, now, now,
                                   past_other_actions=True)
        return level

    # ============================================================================== internals

    def _queue(self, name: str) -> QueueIndex:
        return _lookup(self._queues, name, lambda: UnknownQueue(
            f"no queue {name!r}; configured: {sorted(self._queues)}"))

    def _call(self, call_id: str) -> AcdCall:
        return _lookup(self._calls, call_id, lambda: UnknownCall(
            f"no call {call_id!r} in the ACD"))

    def _agent(self, agent_id: str) -> Agent:
        return _lookup(self._agents, agent_id, lambda: UnknownAgent(f"no agent {agent_id!r}"))

    def _agent_of(self, c: AcdCall) -> Agent:
        """The agent an offered or connected call is with."""
        if c.agent_id is None:
            raise AssertionError(f"call {c.call_id} is {c.state.value} with no agent")
        return self._agents[c.agent_id]

    def _take_claim(self, claim_id: str | None, pool: str) -> Agent | None:
        """The agent held for a claimed call arriving: its own claim's, else another claim's
        of its pool (the oldest); the claim ends. None when no such agent can ring."""
        own = self._claims.get(claim_id) if claim_id is not None else None
        mates = (r for r in self._claims.values() if pool and r.pool == pool and r is not own)
        for r in (own, *mates) if own is not None else mates:
            a = self._agents[r.agent_id]
            if a.device_ok:  # (claimed: available)
                self._end_claim(r, route=False)
                return a
        return None

    def _claimable(self, claim_id: str, terms: ClaimTerms, tier: str, now: float
                   ) -> Agent | None:
        """The agent a claim under `terms` takes now: a routable one that `can_hold` allows,
        the first in the queue's order (best first for a VIP tier)."""
        probe = self._probe(NewCall(claim_id, terms.queue, tier, terms.skills), now)
        probe.min_level = terms.min_level
        return self._index.pick_agent(probe)

    def _hold(self, r: Claim, a: Agent) -> None:
        self._index.unindex_agent(a)
        self._dirty_agents.pop(a.agent_id, None)
        a.claimed_by = r.claim_id
        r.agent_id = a.agent_id

    def _end_claim(self, r: Claim, *, route: bool) -> None:
        del self._claims[r.claim_id]
        a = self._agents[r.agent_id]
        a.claimed_by = None
        if route:
            self._sync_agent(a)

    def _part(self, c: AcdCall, agent_event: AgentEvent, call_event: CallEvent,
              now: float) -> Agent:
        """End the link between an offered or connected call and its agent: the agent moves by
        `agent_event`, the call by `call_event`. Returns the agent."""
        a = self._agent_of(c)
        a.call_id = None
        self._transition(a, agent_event, now)
        c.agent_id = None
        c.apply(call_event)
        return a

    def _check_reason(self, reason: str) -> None:
        if reason not in self._pause_codes:
            raise InvalidRequest(
                f"pause reason {reason!r} is not one of {sorted(self._pause_codes)}"
            )

    def _require(self, a: Agent, event: AgentEvent) -> None:
        if not a.can_apply(event):
            raise IllegalTransition(a.agent_id, a.state.value, event.value)

    def _flush(self) -> list[Command]:
        out, self._out = self._out, []
        return out

    def _settle(self, now: float) -> list[Command]:
        """Route what the input changed (and any timer it made due), hand out the commands.
        `now` is already the effective now (the input caught up with it)."""
        if self._timers.next_due <= now:
            self._fire_timers(now)
        if self._dirty_agents or self._dirty_calls:
            self._match(now)
        if self._orphans:
            self._rehome(now)
        out, self._out = self._out, []
        return out

    def _rehome(self, now: float) -> None:
        """Claims whose agent paused or logged out (acd/claims.py): each holds another free
        agent its terms allow (the engine is stable: no waiting call can take one), the first
        in the queue's order; its expiry stays. None free: ClaimLost, and the claim is gone."""
        orphans, self._orphans = self._orphans, []
        for r, left in orphans:
            a = self._claimable(r.claim_id, r.terms, r.tier, now)
            if a is None:
                self._out.append(ClaimLost(r.claim_id, r.pool, left))
                continue
            self._claims[r.claim_id] = r
            self._hold(r, a)

    # ------------------------------------------------------------------------------ agents

    @staticmethod
    def _staffed(a: Agent) -> bool:
        return a.state not in (AgentState.LOGGED_OUT, AgentState.PAUSED)

    def _transition(
        self, a: Agent, event: AgentEvent, now: float, reason: str | None = None
    ) -> None:
        if a.claimed_by is not None:
            # Leaving available (pause, logout): the agent's choice ends its hold; the claim
            # moves to another agent its terms allow once the input is routed (_rehome).
            r = self._claims.pop(a.claimed_by)
            a.claimed_by = None
            self._orphans.append((r, a.agent_id))
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
            if aid not in self._indexed:
                self._dirty_agents[aid] = a
        elif aid in self._indexed:
            self._index.unindex_agent(a)

    def _sync_agent(self, a: Agent) -> None:
        """Keep the availability index in step with routability. Indexing is deferred to _match:
        an agent that takes a call at once is never indexed at all."""
        if a.routable:
            if a.agent_id not in self._indexed:
                self._dirty_agents[a.agent_id] = a
        elif a.agent_id in self._indexed:
            self._index.unindex_agent(a)

    def _close_wrap(self, a: Agent, now: float) -> None:
        w = self._wrap.pop(a.agent_id, None)
        if w is not None and a.state is AgentState.WRAP_UP:
            queue, talk_s, started_at, _ = w
            self.stats.call_handled(queue, talk_s + (now - started_at), now)

    def _end_wrapup(self, a: Agent, now: float) -> None:
        self._close_wrap(a, now)
        self._transition(a, E.END_WRAPUP, now)

    # ------------------------------------------------------------------------------- calls

    @staticmethod
    def _step_due(qi: QueueIndex, c: AcdCall, now: float) -> bool:
        """Whether the call's next escalation step is due (one escalate() stopped at: an
        overflow or a callback to carry out)."""
        steps = qi.steps
        return c.next_step < len(steps) and policy.step_due(c.queue_since,
                                                            steps[c.next_step]) <= now

    def _enter_waiting(self, c: AcdCall, now: float, arm: bool = True) -> None:
        """`arm=False` leaves the call's timers to the caller (enqueue arms them only if the call
        is still waiting once routed: a call that goes straight to an agent never needs them).
        """
        qi = self._queues[c.queue]
        c.timer_token = next(self._ids)
        if c.skills is not qi.skills and c.skills not in qi.groups:
            self._index.need_skills(qi, c.skills)  # (a known group's skills are known)
        qi.positions.add(c.call_id, c.key)
        # Route steps already due set the threshold before the call is indexed (a new call's
        # first step is usually due at once): no index-then-move churn.
        c.min_level, c.next_step = policy.escalate(
            qi.steps, c.next_step, c.min_level, c.queue_since, now)
        self._index.index_call(c, next(self._ids))
        if arm:
            self._push_entry_timers(qi, c, now)
        self._apply_due_steps(c, now, arm)
        self._dirty_calls[c.call_id] = c

    def _push_entry_timers(self, qi: QueueIndex, c: AcdCall, now: float) -> None:
        every = qi.settings.announce_every_s
        if every > 0:
            self._timers.push(next_slot(c.queue_since, every, now), ANNOUNCE, c.call_id,
                              c.timer_token)
        self._timers.push(c.queue_since + qi.settings.max_wait_s, MAX_WAIT, c.call_id,
                          c.timer_token)

    def _arm_deferred(self, c: AcdCall, now: float) -> None:
        """The timers _enter_waiting(arm=False) left out, pushed in the order it would have."""
        qi = self._queues[c.queue]
        self._push_entry_timers(qi, c, now)
        if c.next_step < len(qi.steps):
            due = policy.step_due(c.queue_since, qi.steps[c.next_step])
            self._timers.push(due, STEP, c.call_id, c.timer_token)

    def _enter_required(self, c: AcdCall) -> None:
        """The call waits for its one agent (outside its queue's line) until required_until;
        if that agent is free now, routing offers it to them at once."""
        c.timer_token = next(self._ids)
        self._index.add_required(c)
        self._timers.push(c.required_until, REQUIRED, c.call_id, c.timer_token)
        assert c.required_agent is not None
        a = self._agents.get(c.required_agent)
        if a is not None and a.routable:
            self._dirty_agents[a.agent_id] = a

    def _join_queue(self, c: AcdCall, now: float) -> None:
        """Into its queue's line: at once for a call any agent may take; for one that waited
        for its agent, when that ends (its escalation and max wait count from then)."""
        if c.required_agent is not None:
            c.required_agent = None
            c.queue_since = now
        self._enter_waiting(c, now)

    def _leave_waiting(self, c: AcdCall) -> None:
        if c.required_agent is not None:
            self._index.drop_required(c)
            c.timer_token = next(self._ids)
            return
        self._queues[c.queue].positions.remove(c.call_id, c.key)
        self._index.unindex_call(c, next(self._ids))
        c.timer_token = next(self._ids)

    def _apply_due_steps(self, c: AcdCall, now: float, arm: bool = True) -> None:
        """Apply every escalation step whose time has come, then arm the next one (unless
        `arm` is False: see _enter_waiting)."""
        qi = self._queues[c.queue]
        steps = qi.steps
        while True:
            level, c.next_step = policy.escalate(
                steps, c.next_step, c.min_level, c.queue_since, now)
            if level != c.min_level:
                self._index.unindex_call(c, next(self._ids))
                c.min_level = level
                self._index.index_call(c, next(self._ids))
                self._dirty_calls[c.call_id] = c
            if c.next_step == len(steps):
                return
            st = steps[c.next_step]
            due = policy.step_due(c.queue_since, st)
            if due > now:
                if arm:
                    self._timers.push(due, STEP, c.call_id, c.timer_token)
                return
            # A due step escalate() does not apply: carry it out.
            c.next_step += 1
            if st.action == "overflow":
                self._overflow(c, st.target or qi.settings.overflow_to, now)
                return  # the new queue's steps took over
            self._offer_callback(c)

    def _offer_callback(self, c: AcdCall) -> None:
        if c.state is CallState.WAITING and not c.callback_offered:
            c.callback_offered = True
            self._out.append(OfferCallback(c.call_id, c.queue))

    def _overflow(self, c: AcdCall, target: str, now: float) -> None:
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
        c.next_step = 0
        c.callback_offered = False
        c.min_level = policy.DEFAULT_MIN_LEVEL
        self.stats.call_entered(target, now)
        self._enter_waiting(c, now)

    # ------------------------------------------------------------------------------ timers

    def _catch_up(self, now: float) -> float:
        """Fire every timer due at `now`, then route whatever became matchable. Returns the
        effective now (never behind the last one)."""
        if now < self._now:
            now = self._now  # time never runs backwards inside the engine
        self._now = now
        if self._timers.next_due <= now:
            self._fire_timers(now)
        if self._dirty_agents or self._dirty_calls:
            self._match(now)
        return now

    def _fire_timers(self, now: float) -> None:
        # Timers act at their due time, not at `now`: a late tick must not shift when a call
        # entered its overflow queue or when an agent's wrap-up ended.
        for due, kind, key, token in self._timers.pop_due(now):
            if kind == WRAP_UP:
                w = self._wrap.get(key)
                if w is not None:
                    _, _, _, wrap_token = w
                    a = self._agents[key]
                    if wrap_token == token and a.state is AgentState.WRAP_UP:
                        self._end_wrapup(a, due)
                continue
            if kind == CLAIM:
                r = self._claims.get(key)
                if r is not None and r.token == token:
                    self._end_claim(r, route=True)
                continue
            c = self._calls.get(key)
            if c is None or c.timer_token != token or c.state not in WAITING_STATES:
                continue
            if kind == STEP:
                self._apply_due_steps(c, due)
            elif kind == REQUIRED:
                self._index.drop_required(c)
                self._join_queue(c, due)
            elif kind == MAX_WAIT:
                self._overflow(c, self._queues[c.queue].settings.overflow_to, due)
            else:
                self._announce(c, now)

    def _announce(self, c: AcdCall, now: float) -> None:
        qi = self._queues[c.queue]
        if c.state is CallState.WAITING:
            pos = qi.positions.of(c.key)
            ewt = self.stats.estimated_wait(c.queue, pos, qi.staffed, now)
            self._out.append(Announce(c.call_id, c.queue, pos, ewt))
        self._timers.push(next_slot(c.queue_since, qi.settings.announce_every_s, now), ANNOUNCE,
                          c.call_id, c.timer_token)

    # ----------------------------------------------------------------------------- routing

    def _match(self, now: float) -> None:
        """Route until stable: always the highest-priority matchable call first."""
        dagents, dcalls = self._dirty_agents, self._dirty_calls
        if not dagents and not dcalls:
            return
        index = self._index
        if index.required and dagents:
            # A call reserved for an agent goes first to that agent, before any other matching
            # (it can go to nobody else, and it comes before the agent's other work).
            for aid in [aid for aid in dagents if aid in index.required]:
                a = dagents[aid]
                if a.routable:
                    c = index.required_call_for(aid)
                    if c is not None:
                        del dagents[aid]
                        self._offer(c, a)
            if not dagents and not dcalls:
                return
        if len(dagents) == 1 and not dcalls:
            # The hot path: one agent freed up, nothing else changed. The engine was stable, so
            # no other available agent is eligible for any waiting call: the agent's best call
            # is theirs, no agent selection needed.
            (a,) = dagents.values()
            dagents.clear()
            if not a.routable:
                return
            c = index.best_call_for(a)
            if c is not None:
                self._offer(c, a)
            elif a.agent_id not in self._indexed:
                index.index_agent(a)
            return
        if len(dcalls) == 1 and not dagents:
            # The other hot path: one call entered waiting, nothing else changed. The engine was
            # stable, so only this call can match: the policy's agent for it, if any.
            (c,) = dcalls.values()
            dcalls.clear()
            if c.state in WAITING_STATES:
                agent = index.pick_agent(c)
                if agent is not None:
                    self._offer(c, agent)
            return
        for a in dagents.values():
            if a.routable and a.agent_id not in self._indexed:
                index.index_agent(a)
        pending = sorted(
            (c for c in dcalls.values() if c.state in WAITING_STATES), key=lambda c: c.key
        )
        dcalls.clear()
        i = 0
        while True:
            # The best call any changed agent could take...
            best: AcdCall | None = None
            for aid in list(dagents):
                a = dagents[aid]
                if not a.routable:
                    del dagents[aid]
                    continue
                c = index.best_call_for(a)
                if c is None:
                    del dagents[aid]
                elif best is None or c.key < best.key:
                    best = c
            # ...against the best changed call: the higher priority goes first.
            while i < len(pending) and pending[i].state not in WAITING_STATES:
                i += 1
            call: AcdCall | None = None
            from_pending = False
            if i < len(pending) and (best is None or pending[i].key < best.key):
                call, from_pending = pending[i], True
            elif best is not None:
                call = best
            if call is None:
                break
            agent = index.pick_agent(call)
            if from_pending:
                i += 1
            if agent is not None:
                self._offer(call, agent)
            elif not from_pending:
                # An agent's best call must have that agent eligible; if the indexes disagree,
                # stop rather than spin.
                raise AssertionError(f"routing indexes disagree about call {call.call_id}")
        dagents.clear()

    def _offer(self, c: AcdCall, a: Agent, waiting: bool = True) -> None:
        """Reserve `a` for `c`. `waiting=False`: a new call that never entered the waiting
        structures (see enqueue)."""
        now = self._now
        if waiting:
            self._leave_waiting(c)
        qi = self._queues[c.queue]
        if qi.round_robin and c.required_agent is None:  # (a reserved call is no queue pick)
            qi.rr_pointer = a.agent_id
        callback = c.state is CallState.CALLBACK_WAITING
        c.apply(C.OFFER)
        c.agent_id = a.agent_id
        a.call_id = c.call_id
        self._transition(a, E.RESERVE, now)
        if callback:
            self._out.append(PlaceCallback(c.call_id, a.agent_id, a.device, c.queue, c.number))
        else:
            self._out.append(Offer(c.call_id, a.agent_id, a.device, c.queue,
                                   qi.settings.ring_timeout_s))
