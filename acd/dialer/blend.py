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
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping


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
