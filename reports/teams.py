"""Which team an inbound call counts for: the one definition the figures by team use (inbound
summary and distributions with by_team; docs/reports.md quotes it).

A call counts for ONE team per queue it went through, chosen by what happened to it there, at
the moment it happened (as the queue figures count it, reports/inbound.py):

- answered in the queue: the team of the agent who answered it. Everything that follows from
  the answer goes with it: its wait (ASA, service level), its handle time (AHT), its transfer
  (a call answered by a north agent and transferred to a south agent is north's transfer; the
  south agent's part is not a queue answer) and its first-call resolution. A ring-no-answer
  counts for the team of the agent who did not answer.
- not answered there (abandoned, short abandon, overflowed to another queue, callback asked
  for): the team that owns the queue, [reports].queue_teams (queue -> team). Overflow moves the
  call on: an overflowed call answered in the next queue is the owner's of the first queue as an
  overflow and the answering agent's team's in the next one, as it is in each queue's figures.
- no such team (an agent in no team, a queue with no owner): the line "(none)".

`offered` for a team is the calls whose outcome counts for it: answered + abandoned +
overflowed out (queue lines count a call when it enters; a team cannot be known then).
Service level, ASA, AHT, abandon rate, transfer rate and first-call resolution are the same
formulas (acd/metrics.py) over the team's counts. Teams are looked up when the report is read
(the users' teams now): an agent who changed teams brings their history along.
"""

from __future__ import annotations

from collections.abc import Mapping

NONE = "(none)"

# Counters of the 15-minute queue rows that belong to the queue's owner (not answered there).
OWNER_COUNTERS: tuple[str, ...] = ("abandoned", "abandoned_short", "overflowed_out",
                                   "callbacks", "wait_abandoned_s")
# Histograms of the unanswered side (the rest come per agent).
OWNER_HISTOGRAMS: frozenset[str] = frozenset({"wait_abandoned"})


def agent_team(agent: str, teams: Mapping[str, str]) -> str:
    """The team an answered call counts for: its agent's (`teams`: username -> team)."""
    return teams.get(agent, NONE) if agent else NONE


def owner_team(queue: str, owners: Mapping[str, str]) -> str:
    """The team an unanswered call counts for: its queue's owner (`owners`: queue -> team)."""
    return owners.get(queue) or NONE


def team_offered(answered: float, abandoned: float, overflowed_out: float) -> float:
    """A team's offered calls: those whose outcome counts for it."""
    return answered + abandoned + overflowed_out
