"""Random event sequences against the engine, checking the invariants after every step.

- an agent never holds two calls, and agent/call links agree both ways;
- a call is never offered to two agents at once;
- no call disappears without a CallRemoved (completed after an answer, or abandoned);
- the engine is stable: no waiting call has an eligible routable agent left idle;
- a higher-priority waiting call is never passed over for an agent that could take it (a call
  reserved for the agent excepted: it comes first);
- a call reserved for one agent is never offered to another before its grace is over;
- a claimed agent (acd/claims.py) is available, offered nothing but a claimed call of its
  claim's pool, and a claimed call whose claim holds a ringable agent goes to that agent;
- a refused input changes nothing.

Eligibility, thresholds and priorities are recomputed here from the settings, independently of
the engine's indexes.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from acd.engine import AcdEngine
from acd.errors import AcdError
from acd.model import (
    AgentLogin,
    AgentSnapshot,
    AgentState,
    AgentStateChanged,
    CallRemoved,
    CallSnapshot,
    CallState,
    Command,
    DeviceState,
    NewCall,
    Offer,
    OfferRetracted,
    PlaceCallback,
)
from config.acd import AcdSettings, EscalationStep, QueueSettings

STEPS = [
    EscalationStep(after_s=0, min_skill_level=3),
    EscalationStep(after_s=20, min_skill_level=1),
    EscalationStep(after_s=40, min_skill_level=0),
]
SETTINGS = AcdSettings(
    queues=[
        QueueSettings(name="support", skills=["support"], escalation=STEPS, max_wait_s=60,
                      overflow_to="sales", wrapup_s=5, announce_every_s=15,
                      selection="longest_idle"),
        QueueSettings(name="sales", skills=["sales"], escalation=STEPS[:2], max_wait_s=45,
                      wrapup_s=0, selection="round_robin"),
        QueueSettings(name="vip", skills=["support"], escalation=STEPS[:1], max_wait_s=30,
                      overflow_to="support", selection="best_skill"),
    ]
)
QUEUES = [q.name for q in SETTINGS.queues]
AGENTS = [f"a{i}" for i in range(5)]
SKILLS = ["support", "sales", "french"]
TIERS = ["platinum", "gold", "silver", "bronze", "unknown"]
WAITING = (CallState.WAITING, CallState.CALLBACK_WAITING)


def threshold(c: CallSnapshot, now: float) -> int:
    q = next(q for q in SETTINGS.queues if q.name == c.queue)
    thr = 1
    for s in q.escalation:
        if s.after_s <= now - c.queue_since and s.action == "route":
            thr = s.min_skill_level
    return thr


def eligible(a: AgentSnapshot, c: CallSnapshot, now: float) -> bool:
    if c.required_agent is not None:
        return a.agent_id == c.required_agent
    if c.queue not in a.queues:
        return False
    thr = threshold(c, now)
    return thr == 0 or all(a.skills.get(s, 0) >= thr for s in c.skills)


def key(c: CallSnapshot, first_in_line: bool = False) -> tuple[float, float]:
    """Its place in the service order; `first_in_line`: a person who answered an outbound call
    and found no claim held for them goes ahead of every call (acd/policy.py)."""
    if first_in_line:
        return (float("-inf"), c.enqueued_at)
    return (SETTINGS.aging_per_s * c.enqueued_at - SETTINGS.tier_weights[c.tier], c.enqueued_at)


class AcdMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.e = AcdEngine(SETTINGS)
        self.now = 0.0
        self.n = 0
        self.live: set[str] = set()
        self.outstanding: dict[str, str] = {}  # call -> agent with an offer out
        self.connected: set[str] = set()
        self.last: list[Command] = []
        self.reserved: dict[str, tuple[str, float]] = {}  # call -> (its agent, grace end)
        self.pools: dict[str, str] = {}  # claim or claimed call -> its pool
        self.claim_of: dict[str, str | None] = {}  # claimed call -> its own claim
        self.claim_until: dict[str, float] = {}  # claim -> when its hold expires
        self.releasing: str | None = None  # the claim the current input releases
        self.claimed_before: dict[str, str] = {}  # agent -> its claim, before the input

    # ------------------------------------------------------------------------------ plumbing

    def run(self, fn, *args) -> None:  # type: ignore[no-untyped-def]
        self.e.tick(self.now)  # catch up first, so a refusal below is judged on its own
        self.absorb(self.e.tick(self.now))
        before = (self.e.agents(), self.e.calls())
        self.claimed_before = {a.agent_id: a.claimed_by for a in before[0] if a.claimed_by}
        try:
            cmds = fn(*args, self.now)
        except AcdError:
            assert (self.e.agents(), self.e.calls()) == before, "refused input changed state"
            self.last = []
            return
        self.absorb(cmds)

    def absorb(self, cmds: list[Command]) -> None:
        self.last = cmds
        for c in cmds:
            if isinstance(c, AgentStateChanged) and c.old is AgentState.RESERVED:
                # The agent's offer is over: answered, not answered, or retracted.
                [cid] = [k for k, v in self.outstanding.items() if v == c.agent_id]
                del self.outstanding[cid]
                if c.new is AgentState.ON_CALL:
                    self.connected.add(cid)
            elif isinstance(c, Offer | PlaceCallback):
                owner, until = self.reserved.get(c.call_id, (c.agent_id, 0.0))
                assert c.agent_id == owner or self.now >= until, (
                    f"{c.call_id} reserved for {owner} until {until} offered to {c.agent_id}")
                assert c.call_id not in self.outstanding, "call offered twice at once"
                assert c.agent_id not in self.outstanding.values(), "agent offered two calls"
                held = self.claimed_before.get(c.agent_id)
                if held is not None and held != self.releasing \
                        and self.now < self.claim_until[held]:
                    pool = self.pools.get(c.call_id)
                    assert self.claim_of.get(c.call_id) == held or (
                        pool and pool == self.pools[held]), (
                        f"{c.agent_id} claimed by {held} offered {c.call_id}")
                self.outstanding[c.call_id] = c.agent_id
            elif isinstance(c, OfferRetracted):
                assert c.call_id not in self.outstanding
            elif isinstance(c, CallRemoved):
                assert c.call_id in self.live
                assert c.call_id not in self.outstanding
                if c.reason == "completed":
                    assert c.call_id in self.connected
                self.live.discard(c.call_id)
                self.connected.discard(c.call_id)

    def ids(self, *states: CallState) -> list[str]:
        return sorted(c.call_id for c in self.e.calls() if c.state in states)

    # --------------------------------------------------------------------------------- rules

    @rule(dt=st.sampled_from([0.0, 1.0, 5.0, 17.0, 30.0]))
    def advance(self, dt: float) -> None:
        self.now += dt
        self.absorb(self.e.tick(self.now))

    @rule(q=st.sampled_from(QUEUES), tier=st.sampled_from(TIERS),
          skills=st.sets(st.sampled_from(SKILLS), max_size=2))
    def enqueue(self, q: str, tier: str, skills: set[str]) -> None:
        self.n += 1
        cid = f"c{self.n}"
        self.live.add(cid)
        self.run(self.e.enqueue, NewCall(cid, q, tier, frozenset(skills)))

    @rule(q=st.sampled_from(QUEUES), tier=st.sampled_from(TIERS),
          owner=st.sampled_from([*AGENTS, "absent"]), grace=st.sampled_from([3.0, 20.0, 600.0]))
    def enqueue_owned(self, q: str, tier: str, owner: str, grace: float) -> None:
        self.n += 1
        cid = f"c{self.n}"
        self.live.add(cid)
        self.reserved[cid] = (owner, self.now + grace)
        self.run(self.e.enqueue, NewCall(cid, q, tier, required_agent=owner,
                                         required_grace_s=grace))

    @rule(q=st.sampled_from(QUEUES), pool=st.sampled_from(["p1", "p2"]),
          tier=st.sampled_from(TIERS), hold=st.sampled_from([3.0, 40.0]))
    def claim(self, q: str, pool: str, tier: str, hold: float) -> None:
        self.n += 1
        kid = f"k{self.n}"
        self.pools[kid] = pool
        self.claim_until[kid] = self.now + hold
        self.run(lambda now: self.e.claim_agent(kid, q, pool, now, hold_s=hold, tier=tier))

    @rule(q=st.sampled_from(QUEUES), pool=st.sampled_from(["p1", "p2"]),
          then=st.sampled_from(["answered", "released", "later"]))
    def dial_line(self, q: str, pool: str, then: str) -> None:
        # The dialer's usual sequence in one step: claim, then the line's outcome.
        self.claim(q, pool, "platinum", 40.0)
        kid = f"k{self.n}"
        if self.e.claimed_agent(kid) is None or then == "later":
            return
        if then == "answered":
            self.claimed_call(q, pool, kid)
        else:
            self.release_one(kid)
            assert self.e.claimed_agent(kid) is None

    def release_one(self, kid: str) -> None:
        self.releasing = kid
        try:
            self.run(self.e.release_claim, kid)
        finally:
            self.releasing = None

    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        self.release_one(data.draw(st.sampled_from(sorted(self.pools) or ["k0"])))

    def held(self) -> dict[str, AgentSnapshot]:
        return {a.claimed_by: a for a in self.e.agents() if a.claimed_by}

    @precondition(lambda self: bool(self.held()))
    @rule(data=st.data(), q=st.sampled_from(QUEUES))
    def claimed_call_arrives(self, data: st.DataObject, q: str) -> None:
        kid = data.draw(st.sampled_from(sorted(self.held())))
        self.claimed_call(q, self.pools[kid], kid)

    @rule(q=st.sampled_from(QUEUES), pool=st.sampled_from(["p1", "p2", ""]))
    def claimed_call_without_its_claim(self, q: str, pool: str) -> None:
        self.claimed_call(q, pool, None)

    def claimed_call(self, q: str, pool: str, kid: str | None) -> None:
        held = self.held()
        self.n += 1
        cid = f"c{self.n}"
        self.live.add(cid)
        self.pools[cid] = pool
        self.claim_of[cid] = kid
        self.run(self.e.enqueue, NewCall(cid, q, "platinum", claim=kid, claim_pool=pool))
        offered = [c.agent_id for c in self.last if isinstance(c, Offer)]
        ringable = {k for k, b in held.items() if b.device_state is not DeviceState.UNAVAILABLE}
        if kid in ringable:
            # Its own claim held a phone that can ring: the call went to that agent at once.
            assert offered == [held[kid].agent_id]
        elif pool and any(self.pools.get(k) == pool for k in ringable):
            # Else an agent held by another claim of its pool.
            mates = {held[k].agent_id for k in ringable if self.pools.get(k) == pool}
            assert len(offered) == 1 and offered[0] in mates
        else:  # routed as any call: never to a claimed agent
            assert not {a.agent_id for a in held.values()} & set(offered)

    @rule(agent=st.sampled_from(AGENTS), queues=st.sets(st.sampled_from(QUEUES), min_size=1),
          levels=st.lists(st.integers(0, 5), min_size=3, max_size=3),
          paused=st.booleans())
    def login(self, agent: str, queues: set[str], levels: list[int], paused: bool) -> None:
        skills = {s: lvl for s, lvl in zip(SKILLS, levels, strict=True) if lvl}
        self.run(self.e.agent_login, AgentLogin(agent, f"PJSIP/{agent}", frozenset(queues),
                                                skills, "break" if paused else None))

    @rule(agent=st.sampled_from(AGENTS),
          op=st.sampled_from(["logout", "available", "pause", "end_wrapup", "bad_pause"]))
    def agent_op(self, agent: str, op: str) -> None:
        fn = {
            "logout": self.e.agent_logout,
            "available": self.e.agent_available,
            "end_wrapup": self.e.agent_end_wrapup,
        }.get(op)
        if fn is not None:
            self.run(fn, agent)
        else:
            reason = "lunch" if op == "pause" else "nap"
            self.run(lambda aid, now: self.e.agent_pause(aid, reason, now), agent)

    @rule(agent=st.sampled_from(AGENTS), levels=st.lists(st.integers(0, 5), min_size=3,
                                                          max_size=3))
    def set_skills(self, agent: str, levels: list[int]) -> None:
        skills = {s: lvl for s, lvl in zip(SKILLS, levels, strict=True) if lvl}
        self.run(lambda aid, now: self.e.agent_set_skills(aid, skills, now), agent)

    @rule(agent=st.sampled_from(AGENTS),
          state=st.sampled_from([DeviceState.UNAVAILABLE, DeviceState.NOT_INUSE]))
    def device(self, agent: str, state: DeviceState) -> None:
        self.run(lambda now: self.e.device_state(f"PJSIP/{agent}", state, now))

    @rule(data=st.data(), what=st.sampled_from(["answer", "fail", "end", "abandon", "callback"]),
          any_call=st.booleans())
    def call_op(self, data: st.DataObject, what: str, any_call: bool) -> None:
        fitting = {
            "answer": (CallState.OFFERED,),
            "fail": (CallState.OFFERED,),
            "end": (CallState.CONNECTED,),
            "abandon": (*WAITING, CallState.OFFERED),
            "callback": (CallState.WAITING,),
        }[what]
        # Mostly calls the operation fits; sometimes any call, to exercise refusals.
        ids = self.ids(*CallState) if any_call else self.ids(*fitting)
        cid = data.draw(st.sampled_from(ids or ["nope"]))
        if what == "answer":
            self.run(self.e.offer_answered, cid)
        elif what == "fail":
            self.run(lambda c, now: self.e.offer_failed(c, "no-answer", now), cid)
        elif what == "end":
            self.run(self.e.call_ended, cid)
        elif what == "abandon":
            self.run(self.e.abandon, cid)
        else:
            self.run(lambda c, now: self.e.request_callback(c, "5551234567", now), cid)

    # The happy path gets its own rules, enabled only when they apply, so that sequences reach
    # answered, ended and wrapped-up calls often.
    @precondition(lambda self: bool(self.ids(CallState.OFFERED)))
    @rule(data=st.data())
    def answer_offer(self, data: st.DataObject) -> None:
        self.run(self.e.offer_answered, data.draw(st.sampled_from(self.ids(CallState.OFFERED))))

    @precondition(lambda self: bool(self.ids(CallState.CONNECTED)))
    @rule(data=st.data())
    def end_call(self, data: st.DataObject) -> None:
        self.run(self.e.call_ended, data.draw(st.sampled_from(self.ids(CallState.CONNECTED))))

    @rule()
    def new_day(self) -> None:
        self.run(self.e.new_day)

    # ---------------------------------------------------------------------------- invariants

    @invariant()
    def indexed_picks_match_reference(self) -> None:
        for a in AGENTS:
            try:
                self.e.agent(a)
            except AcdError:
                continue
            assert self.e.pick_call(a) == self.e.reference_pick_call(a, self.now)
        for c in self.e.calls():
            if c.state in WAITING:
                assert self.e.pick_agent(c.call_id, self.now) == self.e.reference_pick_agent(
                    c.call_id, self.now)

    @invariant()
    def claims_hold_available_agents(self) -> None:
        for a in self.e.agents():
            if a.claimed_by is not None:
                assert a.state is AgentState.AVAILABLE and not a.routable
                assert self.e.claimed_agent(a.claimed_by) == a.agent_id

    @invariant()
    def links_agree(self) -> None:
        calls = {c.call_id: c for c in self.e.calls()}
        holders: dict[str, str] = {}
        for a in self.e.agents():
            if a.state in (AgentState.RESERVED, AgentState.ON_CALL):
                assert a.call_id is not None and calls[a.call_id].agent_id == a.agent_id
                assert a.call_id not in holders, "two agents hold one call"
                holders[a.call_id] = a.agent_id
            else:
                assert a.call_id is None
        for c in calls.values():
            if c.state in (CallState.OFFERED, CallState.CONNECTED):
                assert holders.get(c.call_id) == c.agent_id
            else:
                assert c.agent_id is None and c.call_id not in holders

    @invariant()
    def wrap_up_ends_on_time(self) -> None:
        longest = max(q.wrapup_s for q in SETTINGS.queues)
        for a in self.e.agents():
            if a.state is AgentState.WRAP_UP:
                assert self.now - a.state_since < longest

    @invariant()
    def positions_follow_service_order(self) -> None:
        for q in QUEUES:
            ids = [c.call_id for c in self.e.waiting(q)]
            assert [self.e.position(cid) for cid in ids] == list(range(1, len(ids) + 1))

    @invariant()
    def nothing_disappears(self) -> None:
        assert {c.call_id for c in self.e.calls()} == self.live

    def key(self, c: CallSnapshot) -> tuple[float, float]:
        claimed = self.claim_of.get(c.call_id) is not None or bool(self.pools.get(c.call_id))
        return key(c, first_in_line=claimed)

    @invariant()
    def stable_and_fair(self) -> None:
        now = self.now
        waiting = [c for c in self.e.calls() if c.state in WAITING]
        agents = self.e.agents()
        for a in agents:
            if a.routable:
                assert not any(eligible(a, c, now) for c in waiting), "idle agent, waiting call"
        by_id = {a.agent_id: a for a in agents}
        for cmd in self.last:
            if isinstance(cmd, Offer | PlaceCallback):
                got = next(c for c in self.e.calls() if c.call_id == cmd.call_id)
                if got.required_agent is not None or cmd.agent_id in self.claimed_before:
                    continue  # a reserved call goes before any other, whatever the priorities
                a = by_id[cmd.agent_id]
                for c in waiting:
                    assert not (self.key(c) < self.key(got) and eligible(a, c, now)), (
                        f"{c.call_id} passed over by {got.call_id} for {a.agent_id}")


AcdMachine.TestCase.settings = settings(
    max_examples=120, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestAcdStateful = AcdMachine.TestCase
