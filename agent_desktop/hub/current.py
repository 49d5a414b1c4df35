"""The agents' current calls as the hub keeps them for snapshots, indexed both ways.

By agent (a snapshot asks "what is this agent on?") and by call id (a call's end asks "whose
desktops showed it?"). The end of a call used to walk every agent's current call: O(agents) per
pbx.call.ended and acd.call.ended, i.e. a thousand comparisons per call at a thousand desktops,
on the loop that also sends the screen-pops. Pure: no asyncio.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Current:
    """An agent's current call, for snapshots: the offer and its screen-pop. `call_id` never
    changes once the entry is stored (the index by call id relies on it)."""

    call_id: str
    queue: str
    offered_at: float
    answered: bool = False
    pop: Any = None  # the screen-pop, as JSON-able data
    held: bool = False


class CurrentCalls:
    """agent -> Current, with the reverse index call id -> agents kept in step."""

    __slots__ = ("_by_agent", "_by_call")

    def __init__(self) -> None:
        self._by_agent: dict[str, Current] = {}
        self._by_call: dict[str, set[str]] = {}

    def get(self, agent: str) -> Current | None:
        return self._by_agent.get(agent)

    def __getitem__(self, agent: str) -> Current:
        return self._by_agent[agent]

    def __contains__(self, agent: object) -> bool:
        return agent in self._by_agent

    def __len__(self) -> int:
        return len(self._by_agent)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_agent)

    def __setitem__(self, agent: str, cur: Current) -> None:
        self.pop(agent)
        self._by_agent[agent] = cur
        self._by_call.setdefault(cur.call_id, set()).add(agent)

    def __delitem__(self, agent: str) -> None:
        if self.pop(agent) is None:
            raise KeyError(agent)

    def pop(self, agent: str) -> Current | None:
        cur = self._by_agent.pop(agent, None)
        if cur is not None:
            agents = self._by_call.get(cur.call_id)
            if agents is not None:
                agents.discard(agent)
                if not agents:
                    del self._by_call[cur.call_id]
        return cur

    def agents_on(self, call_id: str) -> frozenset[str]:
        """The agents whose current call this is."""
        return frozenset(self._by_call.get(call_id, ()))

    def end(self, call_id: str, agent: str = "") -> list[str]:
        """The call is over: for `agent` only if given, else for everyone it is current for.
        Returns the agents whose current call it was (and no longer is)."""
        agents = self._by_call.get(call_id)
        if not agents:
            return []
        gone = [agent] if agent else sorted(agents)
        if agent and agent not in agents:
            return []
        for name in gone:
            self.pop(name)
        return gone
