"""Agent claims: a free agent held for an outbound call that has not reached the ACD yet.

The dialer (acd/dialer/) dials a line for an agent before anyone answers it: ring time plus
answering-machine detection pass before a person, if any, is handed to the ACD, and the abandon
rule then leaves 2 s to find an agent. Without a hold, an inbound caller arriving meanwhile takes
the agent the line was dialled for, and the person who answers is abandoned. A claim is that
hold, made by the engine (acd/engine.py) and kept in its records:

- `claim_agent(claim_id, queue, pool, ...)` takes the agent a call of `queue` (with that tier
  and skills) would be offered now by the routing policy (acd/policy.py), with every agent of
  the queue who has those skills eligible, at any level (threshold 1, or the ladder's own if
  lower: an escalation ladder that first waits seconds for the most skilled agents is longer
  than the 2 s a person who answered may wait; the queue's order, best skills first for a VIP
  tier, still picks; an agent without the skills does not work the campaign), and marks it
  claimed. A claimed agent stays `available`
  (state, time in state, wallboards) but is not routable: no call is offered to it, inbound,
  callback or reserved for it; so the reference and the fast picks both pass it over
  (`Agent.routable`).
- The claim ends when its call arrives (`NewCall.claim` names it: the call goes straight to its
  agent, whatever else waits: it is the call the agent was held for), when the dialer releases
  it (the line was busy, not answered, a machine), or when it expires (`hold_s`: a line whose
  outcome never came must not hold an agent for ever).
- Its agent leaving `available` (pause, logout: the agent's choice wins) moves the claim to
  another free agent its terms allow (`ClaimTerms`, `can_hold`; the queue's order picks), its
  expiry unchanged. With nobody free the claim ends and the engine says so (`ClaimLost`): the
  dialer hangs up the line if it is still ringing (nobody answered: no abandon), else its
  person will arrive with no agent held.
- A call whose own claim is gone takes another claim of the same `pool` (the dialer's
  campaign): claims protect a campaign's agents from other traffic, not one line's from the
  campaign's other lines. A predictive campaign dials more lines than it has agents: the first
  person to answer gets the first held agent. Else it waits first in line, ahead of every
  other call, at a claim's level (acd/policy.py `first_in_line_key`): it has 2 s.

Released or expired, the agent is routed at once: a waiting call takes it before the dialer can
claim it again.
"""

from __future__ import annotations

from dataclasses import dataclass

from acd import policy


@dataclass(frozen=True, slots=True)
class ClaimTerms:
    """Who a claim of a queue may hold: an agent of `queue` with `skills` at >= `min_level`
    (`AcdEngine.claim_terms` gives them). The dialer counts as free for its pacing exactly the
    agents these terms let a claim take (`can_hold`): an agent it counted but no claim would
    take made progressive dial short and predictive's model count agents no line would get."""

    queue: str
    skills: frozenset[str]
    min_level: int


def claim_level(entry_level: int) -> int:
    """The level a claim asks: the queue's level for a new call, but at most the first
    rung's default (an escalation ladder that first waits for the most skilled is longer than
    the 2 s a person who answered may wait)."""
    return min(entry_level, policy.DEFAULT_MIN_LEVEL)


def can_hold(agent: policy.Staffing, terms: ClaimTerms) -> bool:
    """THE claim predicate, whatever the agent is doing now (the engine adds: available, its
    device can ring, not claimed): the engine's claims take only such agents, and the dialer's
    pacing counts only such agents (acd/dialer/blend.py)."""
    return policy.qualifies(agent, terms.queue, terms.skills, terms.min_level)


@dataclass(slots=True, eq=False)
class Claim:
    """One claim, owned by the engine."""

    claim_id: str
    pool: str  # claims of one pool stand in for each other (the dialer: its campaign)
    agent_id: str
    token: int  # its expiry timer's (a timer with another token is stale)
    terms: ClaimTerms  # whom it may hold (a claim whose agent leaves moves under them)
    tier: str = "unknown"  # the tier it was made for (the queue's order among its agents)
