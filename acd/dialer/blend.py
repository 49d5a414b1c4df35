"""Blending with inbound: how many free agents a campaign leaves to inbound queues.

Outbound calls and inbound calls share agents (the ACD picks who takes each call). A predictive
or progressive campaign dials for every free agent of its queue; when an inbound queue those
agents also serve is short of its service level, that would take the agents the next inbound
callers need. `[dialer].inbound_reserve_agents` (0 = off) keeps up to that many of the campaign's
free agents out of its pacing while such a queue is short:

- a queue is short when its service level over the statistics window (answered within
  `service_level_s`, acd/stats.py) is below its `service_level_target`; a queue with no calls in
  the window is not short;
- the campaign's own queue never counts (its figures mix the campaign's own calls in);
- only free agents who serve a short queue are kept back, so a campaign whose agents serve no
  inbound queue dials as before.

Pure: the adapter (acd/dialer/service.py) passes the figures each tick.

Agents held for the lines: claims
---------------------------------
The pacing counts free agents for the lines it dials; until a line is answered by a person the
ACD used to see those agents as free for anyone, so an inbound caller arriving meanwhile took
one, and the person who answered found no agent and was abandoned (the demo's progressive
campaign beside inbound traffic did this). Three designs were weighed:

(a) the ACD holds a claim per ringing line on one free agent of the campaign's queue, which
    inbound routing respects until the line's outcome is known (released on busy / no answer /
    machine, used by the answered call);
(b) the pacing subtracts the inbound calls waiting or about to arrive from the free agents;
(c) an answered outbound call takes the next free agent before waiting inbound calls.

(b) and (c) only make an abandon less likely: inbound arrivals are random, and neither stops one
from taking the agent a line was dialled for in the seconds before the person answers. Only (a)
makes progressive what it must be, a mode that never abandons while its agents stay logged in
(each line is dialled for an agent that nobody else can take), and gives predictive's hard
constraint (at most lines - free agents abandons, acd/dialer/pacing.py) the free agents it
counts. So (a), in the engine (acd/claims.py), with (c) kept as it was (the person waits with
the `platinum` tier, ahead of inbound callers for the next agent freed). Rules:

- `pacing_agents`: an agent the campaign's queue's lines hold counts as free for the pacing (its
  line counts as in flight); one claimed for anything else is not free; one a claim of the
  queue may not hold (without the queue's skills: acd/claims.py `can_hold`) never counts.
- Every paced line claims an agent when one is free (the ACD's policy pick for a person of the
  campaign's queue); in progressive (and predictive backed off to it) a line is dialled only
  with its claim. Predictive dials its extra lines without one.
- A ringing line that lost its claim (the agent paused, or another line of the campaign took
  it: the claims of a campaign stand in for each other) claims again at the next tick, before
  new lines are dialled.
- The cost: a claimed agent waits for the line's outcome (ring time plus detection) while an
  inbound caller may wait; `inbound_reserve_agents` above leaves agents out of the pacing, and
  so out of the claims, while an inbound queue is short of its service level.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Protocol

from acd.claims import ClaimTerms, can_hold
from acd.dialer.pacing import BusyAgent
from acd.model import UNROUTABLE_DEVICE_STATES, AgentState, DeviceState


class AgentView(Protocol):
    """What the pacing reads of an agent (acd.model.AgentSnapshot has it)."""

    @property
    def agent_id(self) -> str: ...
    @property
    def state(self) -> AgentState: ...
    @property
    def state_since(self) -> float: ...
    @property
    def queues(self) -> frozenset[str]: ...
    @property
    def skills(self) -> Mapping[str, int]: ...
    @property
    def routable(self) -> bool: ...
    @property
    def device_state(self) -> DeviceState: ...
    @property
    def claimed_by(self) -> str | None: ...


def pacing_agents(agents: Iterable[AgentView], terms: ClaimTerms, now: float,
                  held: Collection[str]) -> tuple[list[str], list[str], tuple[BusyAgent, ...]]:
    """The agents of the campaign's queue as the pacing sees them: (free and unclaimed, held by
    one of the `held` claims (the lines' call ids), busy ones' phases). Free for the pacing:
    both lists. Only agents a claim of the queue may hold count (`can_hold`, the engine's own
    rule: `AcdEngine.claim_terms`): one without the queue's skills never gets a line's person,
    free or busy."""
    free: list[str] = []
    claimed: list[str] = []
    busy: list[BusyAgent] = []
    for a in agents:
        if not can_hold(a, terms):
            continue
        if a.state is AgentState.AVAILABLE:
            if a.routable:
                free.append(a.agent_id)
            elif a.claimed_by is not None and a.claimed_by in held \
                    and a.device_state not in UNROUTABLE_DEVICE_STATES:
                claimed.append(a.agent_id)
        elif a.state in (AgentState.ON_CALL, AgentState.RESERVED):
            busy.append(BusyAgent("talk", max(0.0, now - a.state_since)))
        elif a.state is AgentState.WRAP_UP:
            busy.append(BusyAgent("wrapup", max(0.0, now - a.state_since)))
    return free, claimed, tuple(busy)


def short_queues(service_levels: Mapping[str, float | None], targets: Mapping[str, float],
                 exclude: Collection[str] = ()) -> frozenset[str]:
    """The queues whose window service level is known and below their target."""
    return frozenset(q for q, sl in service_levels.items()
                     if q not in exclude and sl is not None and q in targets
                     and sl < targets[q])


def kept_for_inbound(reserve: int, free_agents_queues: Iterable[Collection[str]],
                     short: Collection[str]) -> int:
    """How many of the campaign's free agents (each given by the queues it serves) to leave
    out of its pacing: up to `reserve`, among those serving a short queue."""
    if reserve <= 0 or not short:
        return 0
    serving = sum(1 for qs in free_agents_queues if any(q in short for q in qs))
    return min(reserve, serving)
