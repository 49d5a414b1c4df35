"""A campaign beside inbound traffic on one shared queue, in simulated seconds (deterministic).

The real cores decide everything that matters: the ACD engine (acd/engine.py, its claims in
acd/claims.py) routes inbound callers and the people who answered the campaign's lines; the
dialer's agent accounting (`blend.pacing_agents`) and the pacing (`pace`) decide how many lines
to dial each second; the lines claim agents, claim again, require a claim in progressive and
release it on their outcome in the order acd/dialer/service.py does. `claims=False` runs the
dialer as it was before claims (the pacing counted free agents, nobody held them): the test of
that mode shows the abandons the demo saw.

Traffic from seeded streams: inbound arrivals (Poisson) with their talk times, and per line its
outcome (a person with `live_rate`, else busy / no answer / machine), its ring time and talk
time. An agent answers an offer at once; a person who answered waits at most 2 s for an agent
(then abandoned, as the ACD's deadline does). Optional agent pauses (`pause_per_min`): an agent
on a break leaves its claim: the engine moves it to another free agent of the queue, or says
ClaimLost, and the dialer then hangs up the line if it is still ringing (counted in
`cancelled`: nobody answered, no abandon) as acd/dialer/service.py does.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Any

from acd.dialer.abandon import AbandonTracker
from acd.dialer.blend import pacing_agents
from acd.dialer.pacing import PacingConfig, PacingState, PacingStats, pace
from acd.engine import AcdEngine
from acd.model import AgentLogin, AgentState, CallState, ClaimLost, NewCall, Offer
from config.acd import AcdSettings, EscalationStep, QueueSettings

QUEUE = "sales"
POOL = "campaign:1"
GRACE_S = 2.0
AMD_S = 2.0
HOLD_S = 30.0 + 30.0  # ring timeout + the service's CLAIM_MARGIN_S
TEN_MINUTES = (("10m", 600.0, 10.0),)


@dataclass(frozen=True)
class Mix:
    agents: int = 8
    mode: str = "progressive"  # or predictive
    claims: bool = True
    inbound_per_min: float = 3.0
    inbound_talk_s: float = 90.0
    live_rate: float = 0.4
    ring_s: tuple[float, float] = (3.0, 20.0)  # dial -> outcome (a person: + AMD_S)
    talk_s: float = 60.0
    wrapup_s: float = 5.0
    minutes: float = 30.0
    pause_per_min: float = 0.0  # agents going on a 60 s break, per minute (all agents)
    seed: int = 1
    skill_levels: tuple[int, int] = (1, 5)  # agents' "sales" level, drawn in this range
    check_picks: bool = False  # compare the engine's fast and reference picks every second


@dataclass
class Result:
    lines: int = 0
    live: int = 0  # people who answered (connected + abandoned)
    connected: int = 0
    abandoned: int = 0
    without_claim: int = 0  # people who answered a line that held no agent when they did
    cancelled: int = 0  # lines hung up while ringing: their agent left, nobody else was free
    lost_after_answer: int = 0  # claims lost after the line was answered
    inbound: int = 0
    inbound_answered: int = 0
    max_outbound_wait_s: float = 0.0
    max_window_rate: float = 0.0  # the 10-minute window's rate after each abandon
    window_violations: int = 0
    picks_checked: int = 0
    picks_differ: int = 0
    decisions: dict[str, int] = field(default_factory=dict)


@dataclass(eq=False)
class _Line:
    lid: str
    placed_at: float
    answered_at: float = 0.0  # when the callee picks up (then AMD, for a person)
    human_at: float | None = None  # the person reached the ACD


class MixedDay:
    def __init__(self, mix: Mix) -> None:
        self.mix = mix
        self.r = Result()
        # The ladder these days were measured with (level 3 for a call's first 5 s), pinned:
        # the shipped one now holds 1 s (acd/policy.py), which leaves the pacing's agents to
        # inbound callers less often.
        qs = QueueSettings(name=QUEUE, skills=["sales"], wrapup_s=mix.wrapup_s,
                           max_wait_s=100_000.0, escalation=[
                               EscalationStep(after_s=0, min_skill_level=3),
                               EscalationStep(after_s=5, min_skill_level=1),
                               EscalationStep(after_s=20, min_skill_level=0)])
        self.e = AcdEngine(AcdSettings(queues=[qs]))
        self.now = 0.0
        self._heap: list[tuple[float, int, str, Any]] = []
        self._seq = 0
        self.lines: dict[str, _Line] = {}
        self.waiting_out: dict[str, float] = {}  # outbound person -> entered the ACD
        self.talk: dict[str, float] = {}  # call -> its talk time
        self.tracker = AbandonTracker(TEN_MINUTES)
        self.inbound_rng = random.Random(mix.seed * 1_000_003 + 1)
        self.line_rng = random.Random(mix.seed * 1_000_003 + 2)
        self.agent_rng = random.Random(mix.seed * 1_000_003 + 3)
        self.cfg = PacingConfig(mode=mix.mode, grace_s=GRACE_S)  # type: ignore[arg-type]
        lo, hi = mix.ring_s
        self.stats = PacingStats(live_rate=mix.live_rate, answer_delay_s=(lo + hi) / 2 + AMD_S,
                                 aht_s=mix.talk_s, wrapup_s=mix.wrapup_s)
        self.n = 0

    # ------------------------------------------------------------------ plumbing

    def push(self, t: float, kind: str, data: Any = None) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, data))

    def feed(self, cmds: list[Any]) -> None:
        """Execute the engine's commands: an offer is answered at once."""
        todo = list(cmds)
        while todo:
            cmd = todo.pop(0)
            if isinstance(cmd, ClaimLost):
                self.claim_lost(cmd.claim_id)
                continue
            if not isinstance(cmd, Offer):
                continue
            cid = cmd.call_id
            if cid in self.waiting_out:
                wait = self.now - self.waiting_out.pop(cid)
                self.r.max_outbound_wait_s = max(self.r.max_outbound_wait_s, wait)
                self.r.connected += 1
                self.tracker.live_answer(self.now)
                del self.lines[cid]  # talking: no longer in flight for the pacing
            else:
                self.r.inbound_answered += 1
            todo += self.e.offer_answered(cid, self.now)
            self.push(self.now + self.talk.pop(cid), "end", cid)

    # ------------------------------------------------------------------ the run

    def run(self) -> Result:
        m = self.mix
        for i in range(m.agents):
            lvl = self.agent_rng.randint(*m.skill_levels)
            self.feed(self.e.agent_login(AgentLogin(f"a{i:02d}", f"PJSIP/a{i:02d}",
                                                    frozenset({QUEUE}), {"sales": lvl}), 0.0))
        end = m.minutes * 60.0
        self.push(0.0, "tick")
        if m.inbound_per_min > 0:
            self.push(self.inbound_rng.expovariate(m.inbound_per_min / 60.0), "arrival")
        if m.pause_per_min > 0:
            self.push(self.agent_rng.expovariate(m.pause_per_min / 60.0), "pause")
        while self._heap:
            t, _, kind, data = heapq.heappop(self._heap)
            if t > end and kind in ("tick", "arrival", "pause"):
                continue  # no new traffic after the end; calls in progress finish
            self.now = t
            getattr(self, "on_" + kind)(data)
        return self.r

    def on_arrival(self, _: Any) -> None:
        self.n += 1
        cid = f"in{self.n}"
        self.r.inbound += 1
        self.talk[cid] = self.inbound_rng.expovariate(1.0 / self.mix.inbound_talk_s)
        tier = self.inbound_rng.choice(["gold", "silver", "unknown"])
        self.feed(self.e.enqueue(NewCall(cid, QUEUE, tier), self.now))
        self.push(self.now + self.inbound_rng.expovariate(self.mix.inbound_per_min / 60.0),
                  "arrival")

    def on_pause(self, _: Any) -> None:
        free = [a.agent_id for a in self.e.agents() if a.state is AgentState.AVAILABLE]
        if free:
            agent = self.agent_rng.choice(sorted(free))
            self.feed(self.e.agent_pause(agent, "break", self.now))
            self.push(self.now + 60.0, "ready", agent)
        self.push(self.now + self.agent_rng.expovariate(self.mix.pause_per_min / 60.0), "pause")

    def on_ready(self, agent: str) -> None:
        self.feed(self.e.agent_available(agent, self.now))

    def on_end(self, cid: str) -> None:
        self.feed(self.e.call_ended(cid, self.now))

    def on_tick(self, _: Any) -> None:
        """One dialer tick, in acd/dialer/service.py's order."""
        m = self.mix
        self.feed(self.e.tick(self.now))
        if m.check_picks:
            self.check_picks()
        mine = {lid for lid in self.lines}
        free, held, busy = pacing_agents(self.e.agents(), self.e.claim_terms(QUEUE, self.now),
                                         self.now,
                                         mine if m.claims else ())
        waiting = sum(1 for ln in self.lines.values() if ln.human_at is not None)
        state = PacingState(idle_agents=len(free) + len(held), busy=busy,
                            lines_ringing=len(self.lines) - waiting, humans_waiting=waiting)
        lookahead = self.stats.answer_delay_s + 30.0 + GRACE_S
        decision = pace(self.cfg, state, self.stats, self.tracker.snapshot(self.now, lookahead))
        self.r.decisions[decision.mode] = self.r.decisions.get(decision.mode, 0) + 1
        room = len(free)
        if m.claims:
            holding = {a.claimed_by for a in self.e.agents() if a.claimed_by is not None}
            for ln in sorted(self.lines.values(), key=lambda ln: ln.placed_at):
                if room <= 0:
                    break
                if ln.human_at is None and ln.lid not in holding:
                    hold = ln.placed_at + HOLD_S - self.now
                    if hold > 0 and self.claim(ln.lid, hold):
                        room -= 1
        need_agent = not decision.mode.startswith(("predictive", "ratio"))
        for _ in range(decision.lines):
            if m.claims and need_agent and room <= 0:
                break
            self.n += 1
            lid = f"L{self.n}"
            held_one = m.claims and room > 0 and self.claim(lid, HOLD_S)
            if m.claims and need_agent and not held_one:
                break
            if held_one:
                room -= 1
            self.dial(lid)
        self.push(self.now + 1.0, "tick")

    def claim(self, lid: str, hold_s: float) -> bool:
        self.feed(self.e.claim_agent(lid, QUEUE, POOL, self.now, hold_s=hold_s,
                                     tier="platinum"))
        return self.e.claimed_agent(lid) is not None

    def dial(self, lid: str) -> None:
        rng = self.line_rng
        self.r.lines += 1
        ring = rng.uniform(*self.mix.ring_s)
        self.lines[lid] = _Line(lid, self.now, self.now + ring)
        human = rng.random() < self.mix.live_rate
        self.talk[lid] = rng.expovariate(1.0 / self.mix.talk_s)
        if human:
            self.push(self.now + ring + AMD_S, "human", lid)
        else:
            self.push(self.now + ring, "no_person", lid)

    def claim_lost(self, lid: str) -> None:
        """DialerService.on_claim_lost: a line still ringing is hung up."""
        line = self.lines.get(lid)
        if line is None or line.human_at is not None:
            return
        if self.now < line.answered_at:
            del self.lines[lid]
            self.talk.pop(lid, None)
            self.r.cancelled += 1
        else:
            self.r.lost_after_answer += 1

    def on_no_person(self, lid: str) -> None:
        if lid not in self.lines:
            return  # cancelled
        del self.lines[lid]
        self.talk.pop(lid, None)
        if self.mix.claims:
            self.feed(self.e.release_claim(lid, self.now))

    def on_human(self, lid: str) -> None:
        """AMD found a person: to the ACD with the line's claim (acd/dialer/service.py)."""
        if lid not in self.lines:
            return  # cancelled while ringing: nobody answered
        self.r.live += 1
        self.lines[lid].human_at = self.now
        if self.e.claimed_agent(lid) is None:
            self.r.without_claim += 1
        self.waiting_out[lid] = self.now
        claim = {"claim": lid, "claim_pool": POOL} if self.mix.claims else {}
        self.feed(self.e.enqueue(NewCall(lid, QUEUE, "platinum", **claim), self.now))
        self.push(self.now + GRACE_S, "deadline", lid)

    def on_deadline(self, lid: str) -> None:
        self.feed(self.e.tick(self.now))  # an agent freed at this very second still counts
        if lid not in self.waiting_out:
            return  # connected in time
        del self.waiting_out[lid]
        del self.lines[lid]
        self.talk.pop(lid, None)
        self.feed(self.e.abandon(lid, self.now))
        self.r.abandoned += 1
        self.tracker.abandon(self.now)
        rate = self.tracker.snapshot(self.now)[0].rate
        self.r.max_window_rate = max(self.r.max_window_rate, rate)
        if rate > self.cfg.abandon_target + 1e-12:
            self.r.window_violations += 1

    def check_picks(self) -> None:
        for c in self.e.calls():
            if c.state in (CallState.WAITING, CallState.CALLBACK_WAITING):
                self.r.picks_checked += 1
                if self.e.pick_agent(c.call_id, self.now) != self.e.reference_pick_agent(
                        c.call_id, self.now):
                    self.r.picks_differ += 1
        for a in self.e.agents():
            self.r.picks_checked += 1
            if self.e.pick_call(a.agent_id) != self.e.reference_pick_call(a.agent_id, self.now):
                self.r.picks_differ += 1

