"""The routing indexes, and the fast picks that read them.

acd.policy says who gets which call, by scanning everything; this module answers the same two
questions (which agent for this call, which call for this agent) from indexes, and must give the
same answer on every state (tests/acd/test_policy_indexes.py, test_stateful.py and
benchmarks/acd_routing.py compare the two). What keeps a pick cheap:

- Available agents sit in sorted lists per queue, in the queue's policy order (`agent_key`), and
  per (queue, skill, level) only for skills the queue's calls can need (built on first need:
  `RoutingIndex.need_skills`). Round robin is a cut in such a list (`rr_cut`).
- Waiting calls sit in per-(queue, skill set, threshold) heaps with lazy deletion (an entry is
  valid while its call's heap token matches); the heaps of a queue are scanned through one shared
  list, each with a lower bound of its best rank beside it, and a queue whose waiting calls all
  need more than an agent's best level is skipped at once.
- Calls reserved for one agent (acd.policy: `required_agent`) sit in no heap: a dict per agent
  (`RoutingIndex.required`), empty for almost every agent, read first by that agent's pick.
- Queue positions are kept lazily (`Positions`): inputs note changes, a position query
  (an announcement) applies them.
- Index records are tuples of plain values where possible (heap entries): the garbage collector
  does not track them, so collections stay short with tens of thousands of calls.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from itertools import chain
from typing import Any, Final, NamedTuple

from acd.agents import Agent
from acd.calls import AcdCall
from acd.model import MAX_SKILL_LEVEL
from acd.policy import CallKey, best_agents_first
from config.acd import EscalationStep, QueueSettings

_INF: Final = float("inf")

# Pending position changes are applied once they outnumber PENDING_FLOOR plus a quarter of the
# sorted list: applying is O(n), so this keeps it amortised O(1) per change and the pending
# dicts' memory bounded; the floor spares a short queue a rebuild on every change.
PENDING_FLOOR: Final = 64
# Up to this many pending changes go into the sorted list one by one (bisect + insert, each an
# O(n) memmove); more are merged by one sort.
FEW_CHANGES: Final = 8


class AgentKey(NamedTuple):
    """An available agent's place in its queue's policy order (smallest first)."""

    rank: float  # longest_idle / best_skill: idle since; fewest_calls: calls today
    tiebreak: float  # fewest_calls: idle since
    agent_id: str  # the last tie-break; round robin orders by it alone


def agent_key(policy: str, a: Agent) -> AgentKey:
    """Sorting available agents by this key is sorting them the way acd.policy.select_agent
    picks among equals (round robin: by id, the pointer being applied by `rr_cut`)."""
    if policy == "fewest_calls":
        fields = (float(a.calls_today), a.idle_since, a.agent_id)
    elif policy == "round_robin":
        fields = (0.0, 0.0, a.agent_id)
    else:
        fields = (a.idle_since, 0.0, a.agent_id)
    # tuple.__new__, not AgentKey(...): the NamedTuple's own __new__ is Python code, twice as
    # slow, and this runs for each of an agent's queues whenever it is indexed.
    return tuple.__new__(AgentKey, fields)


def rr_cut(keys: list[AgentKey], pointer: str | None) -> int:
    """Round robin (acd.policy.round_robin) over a sorted key list: the index of the first agent
    after the pointer. Policy order is keys[cut:] then keys[:cut] (the wrapped ones); for the
    other policies the pointer is None and the cut 0."""
    if pointer is None:
        return 0
    return bisect_right(keys, (0.0, 0.0, pointer))


def first_in_order(keys: list[AgentKey], pointer: str | None) -> tuple[bool, AgentKey]:
    """(wrapped, key) of the first agent of a non-empty list in policy order; (wrapped, key)
    compares across the lists of one queue in that order."""
    cut = rr_cut(keys, pointer)
    return (False, keys[cut]) if cut < len(keys) else (True, keys[0])


def in_policy_order(keys: list[AgentKey], pointer: str | None) -> Iterator[tuple[bool, AgentKey]]:
    """(wrapped, key) for each key in policy order (first_in_order's, then the next...)."""
    cut = rr_cut(keys, pointer)
    for i in chain(range(cut, len(keys)), range(cut)):
        yield i < cut, keys[i]


# A waiting call in its heap: (rank, enqueued_at, seq, heap token, call id), i.e. its CallKey
# then what finds it and says whether the entry is current. Plain values: the garbage collector
# does not track it, and a stale entry does not keep a finished call's record alive.
HeapEntry = tuple[float, float, int, int, str]


class Positions:
    """Where each waiting call of a queue stands (1 = next), kept lazily.

    Routing inputs only note a change in `_added` / `_gone` (call id -> key; ids hash faster
    than keys, their hash is cached); a position query applies them. Inserting into the sorted
    list on every input would be a bisect plus an O(n) memmove on the hot path, for positions
    only announcements read."""

    __slots__ = ("_sorted", "_added", "_gone")

    def __init__(self) -> None:
        self._sorted: list[CallKey] = []
        self._added: dict[str, CallKey] = {}
        self._gone: dict[str, CallKey] = {}

    def add(self, call_id: str, key: CallKey) -> None:
        if self._gone.pop(call_id, None) is None:  # else: left and came back, no change
            self._added[call_id] = key
            if len(self._added) > PENDING_FLOOR + len(self._sorted) // 4:
                self._apply()

    def remove(self, call_id: str, key: CallKey) -> None:
        if self._added.pop(call_id, None) is None:  # else: came and went, no change
            self._gone[call_id] = key
            if len(self._gone) > PENDING_FLOOR + len(self._sorted) // 4:
                self._apply()

    def of(self, key: CallKey) -> int:
        """The position of the waiting call with `key`."""
        self._apply()
        return bisect_left(self._sorted, key) + 1

    def _apply(self) -> None:
        added, gone = self._added, self._gone
        if not added and not gone:
            return
        order = self._sorted
        if len(added) + len(gone) <= FEW_CHANGES:
            for k in gone.values():
                i = bisect_left(order, k)
                if i < len(order) and order[i] == k:
                    del order[i]
            for k in added.values():
                insort(order, k)
        else:
            if gone:
                drop = set(gone.values())
                order = [k for k in order if k not in drop]
            order.extend(added.values())
            order.sort()
            self._sorted = order
        added.clear()
        gone.clear()


class SkillGroup:
    """The waiting calls of one queue that need one skill set: a heap per current threshold
    (only thresholds that hold calls), smallest key on top."""

    __slots__ = ("skills", "skill_list", "heaps", "live", "scan_at")

    def __init__(self, skills: frozenset[str]) -> None:
        self.skills = skills
        self.skill_list = tuple(skills)
        self.heaps: dict[int, list[HeapEntry]] = {}
        self.live: dict[int, int] = {}  # threshold -> valid entries in its heap
        self.scan_at: dict[int, int] = {}  # threshold -> its heap's index in the queue's scan


class ScanEntry(NamedTuple):
    """One heap in a queue's scan list."""

    skill_list: tuple[str, ...]
    min_level: int
    heap: list[HeapEntry]


class QueueIndex:
    """One queue: its settings, its round-robin pointer, and the indexes of its available agents
    and waiting calls."""

    __slots__ = (
        "settings", "skills", "steps", "round_robin", "rr_pointer", "staffed", "positions",
        "groups", "available", "by_skill", "waiting_at_level", "n_waiting", "scan", "scan_floors",
    )

    def __init__(self, settings: QueueSettings) -> None:
        self.settings = settings
        self.skills = frozenset(settings.skills)
        self.steps: tuple[EscalationStep, ...] = tuple(settings.escalation)
        self.round_robin = settings.selection == "round_robin"
        # The agent the queue's last offer went to; kept for round-robin queues only.
        self.rr_pointer: str | None = None
        self.staffed = 0  # agents serving it, logged in and not paused
        self.positions = Positions()
        self.groups: dict[frozenset[str], SkillGroup] = {}  # skill set -> its waiting calls
        self.available: list[AgentKey] = []
        # skill -> one sorted list per level 0..MAX_SKILL_LEVEL (0 unused). Only skills the
        # queue's calls can need are kept (its own, and any a call brought into it: see
        # RoutingIndex.need_skills): an agent's other skills cost nothing when it is indexed.
        self.by_skill: dict[str, list[list[AgentKey]]] = {
            sk: [[] for _ in range(MAX_SKILL_LEVEL + 1)] for sk in self.skills
        }
        # Waiting calls indexed at each threshold 0..MAX_SKILL_LEVEL: lets an agent skip the
        # queue at once when every waiting call there needs more than its best skill level.
        self.waiting_at_level = [0] * (MAX_SKILL_LEVEL + 1)
        self.n_waiting = 0  # their sum
        # Every heap of the queue, for the per-agent scan; None when a heap came since it was
        # built (the set of heaps changes far less often than it is scanned: it is shared by
        # every agent of the queue).
        self.scan: list[ScanEntry] | None = None
        # Beside it, a lower bound of each heap's best valid rank (inf: empty), in one
        # contiguous array: most heaps are ruled out by it without touching the heap at all.
        self.scan_floors = array("d")



def _call_order(c: AcdCall) -> CallKey:
    return c.key


class RoutingIndex:
    """The indexes of every queue, over the engine's own agent and call records (shared dicts:
    the engine adds and removes records, and tells the index when one becomes or stops being
    routable or waiting)."""

    def __init__(
        self, queues: dict[str, QueueIndex], agents: dict[str, Agent], calls: dict[str, AcdCall],
    ) -> None:
        self._queues = queues
        self._agents = agents
        self._calls = calls
        # agent -> every sorted list it sits in, with its key there, flattened (list, key, list,
        # key...): unindexing is a walk, no lookups; one tuple per agent keeps the GC's load low.
        self.agent_entries: dict[str, tuple[Any, ...]] = {}
        # agent -> {call id: call} of the waiting calls reserved for that agent; an agent
        # without one has no entry (so `required` is empty, and skipped, in the common case).
        self.required: dict[str, dict[str, AcdCall]] = {}

    # --------------------------------------------------------------------------------- agents

    def index_agent(self, a: Agent) -> None:
        entries: list[Any] = []
        skills = a.skills.items()
        queues = self._queues
        for q in a.queues:
            qi = queues[q]
            k = agent_key(qi.settings.selection, a)
            lst = qi.available
            # Newest idle goes last under longest_idle / best_skill: one comparison, no search.
            if not lst or lst[-1] < k:
                lst.append(k)
            else:
                insort(lst, k)
            entries += (lst, k)
            by_skill = qi.by_skill
            for s, lvl in skills:
                buckets = by_skill.get(s)
                if buckets is not None:
                    lst = buckets[lvl]
                    if not lst or lst[-1] < k:
                        lst.append(k)
                    else:
                        insort(lst, k)
                    entries += (lst, k)
        self.agent_entries[a.agent_id] = tuple(entries)

    def unindex_agent(self, a: Agent) -> None:
        entries = self.agent_entries.pop(a.agent_id, None)
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

    def need_skills(self, qi: QueueIndex, skills: frozenset[str]) -> None:
        """Make sure `qi` keeps availability buckets for every skill in `skills`: a skill the
        queue has not needed before gets them built from the agents available there now."""
        by_skill = qi.by_skill
        for s in skills:
            if s in by_skill:
                continue
            buckets: list[list[AgentKey]] = [[] for _ in range(MAX_SKILL_LEVEL + 1)]
            for k in qi.available:
                lvl = self._agents[k.agent_id].skills.get(s, 0)
                if lvl:
                    buckets[lvl].append(k)  # `available` is sorted: so is each bucket
                    self.agent_entries[k.agent_id] += (buckets[lvl], k)
            by_skill[s] = buckets

    # ------------------------------------------------------------- calls for one agent

    def add_required(self, c: AcdCall) -> None:
        """A waiting call reserved for `c.required_agent`: only that agent's pick sees it."""
        assert c.required_agent is not None
        self.required.setdefault(c.required_agent, {})[c.call_id] = c

    def drop_required(self, c: AcdCall) -> None:
        assert c.required_agent is not None
        mine = self.required.get(c.required_agent)
        if mine is not None and mine.pop(c.call_id, None) is not None and not mine:
            del self.required[c.required_agent]

    def required_call_for(self, agent_id: str) -> AcdCall | None:
        """The first (smallest key) waiting call reserved for the agent, or None."""
        mine = self.required.get(agent_id)
        if not mine:
            return None
        return min(mine.values(), key=_call_order)

    # ---------------------------------------------------------------------------------- calls

    def index_call(self, c: AcdCall, token: int) -> None:
        """Put a waiting call in its heap, valid while its heap token is `token`."""
        qi = self._queues[c.queue]
        g = qi.groups.get(c.skills)
        if g is None:
            g = qi.groups[c.skills] = SkillGroup(c.skills)
        else:
            # Share the group's set: the caller's equal copy can go (fewer objects to collect).
            c.skills = g.skills
        level = c.min_level
        h = g.heaps.get(level)
        if h is None:
            h = g.heaps[level] = []
            qi.scan = None
            g.live[level] = 0
        g.live[level] += 1
        qi.waiting_at_level[level] += 1
        qi.n_waiting += 1
        c.heap_token = token
        rank, enqueued_at, seq = c.key
        heapq.heappush(h, (rank, enqueued_at, seq, token, c.call_id))
        if qi.scan is not None:
            i = g.scan_at[level]
            if rank < qi.scan_floors[i]:
                qi.scan_floors[i] = rank

    def unindex_call(self, c: AcdCall, token: int) -> None:
        """Take a waiting call out of its heap (lazily: its entry goes stale, its heap token
        becoming `token`)."""
        qi = self._queues[c.queue]
        c.heap_token = token
        level = c.min_level
        qi.waiting_at_level[level] -= 1
        qi.n_waiting -= 1
        g = qi.groups[c.skills]
        n = g.live[level] - 1
        if n:
            g.live[level] = n
            return
        # Nothing valid is left in that heap: drop its stale entries, but keep the heap (and its
        # group) for the next call of the kind, so the scan list stays valid and a call that
        # arrives and is routed at once allocates no index structures.
        g.live[level] = 0
        g.heaps[level].clear()
        if qi.scan is not None:
            qi.scan_floors[g.scan_at[level]] = _INF

    # ------------------------------------------------------------------------ the call pick

    def best_call_for(self, a: Agent) -> AcdCall | None:
        """The call `a` would get if it were available now (acd.policy.reference_pick_call), or
        None."""
        if self.required:
            mine = self.required_call_for(a.agent_id)
            if mine is not None:
                return mine  # a call reserved for the agent comes before any other
        best: HeapEntry | None = None
        best_rank = _INF  # best's rank
        best_call: AcdCall | None = None  # best's call
        askills = a.skills
        get = askills.get
        top = max(askills.values(), default=0)
        queues = self._queues
        calls = self._calls
        for qn in a.queues:
            qi = queues[qn]
            if not qi.n_waiting:
                continue
            counts = qi.waiting_at_level
            for level in range(top + 1):
                if counts[level]:
                    break
            else:
                continue  # every call waiting there needs more than the agent's best level
            scan = qi.scan
            if scan is None:
                scan = self._build_scan(qi)
            floors = qi.scan_floors
            for i, floor in enumerate(floors):
                # No better than the best so far: nothing in that heap can be (the floor is a
                # lower bound of its valid entries' rank), so skip it untouched.
                if floor > best_rank:
                    continue
                skill_list, min_level, heap = scan[i]
                if not heap:
                    continue
                if best is not None and heap[0] >= best:
                    continue
                if min_level:
                    # Every skill of the heap at min_level, as a plain loop: this runs per heap
                    # per pick, where a generator (any()) would cost more than the test.
                    short = False
                    for s in skill_list:
                        if get(s, 0) < min_level:
                            short = True
                            break
                    if short:
                        continue
                while heap:
                    top_entry = heap[0]
                    rank, _, _, token, call_id = top_entry
                    c = calls.get(call_id)
                    if c is not None and c.heap_token == token:
                        floors[i] = rank  # now exact
                        if best is None or top_entry < best:
                            best, best_rank, best_call = top_entry, rank, c
                        break
                    heapq.heappop(heap)
        return best_call

    @staticmethod
    def _build_scan(qi: QueueIndex) -> list[ScanEntry]:
        scan: list[ScanEntry] = []
        floors = array("d")
        for g in qi.groups.values():
            for level, heap in g.heaps.items():
                g.scan_at[level] = len(scan)
                scan.append(ScanEntry(g.skill_list, level, heap))
                # A heap's top, stale or not, is no worse than its best valid entry.
                if heap:
                    top_rank, _, _, _, _ = heap[0]
                    floors.append(top_rank)
                else:
                    floors.append(_INF)
        qi.scan, qi.scan_floors = scan, floors
        return scan

    # ----------------------------------------------------------------------- the agent pick

    def pick_agent(self, c: AcdCall) -> Agent | None:
        """The agent acd.policy.select_agent gives waiting call `c` now, or None, without
        scoring everyone.

        Candidates come from the buckets of the call's most selective skill, at the levels that
        count. A plain policy takes, per level, the first agent in policy order with the other
        skills; top-first walks the levels downwards and stops once a level cannot reach the
        best score found (an agent's score is at most its level in any one of the skills)."""
        if c.required_agent is not None:
            owner = self._agents.get(c.required_agent)
            return owner if owner is not None and owner.routable else None
        qi = self._queues[c.queue]
        available = qi.available
        if not available:
            return None
        skills, level = c.skills, c.min_level
        pointer = qi.rr_pointer
        top_first = best_agents_first(qi.settings, c.tier)
        if not skills or (level == 0 and not top_first):
            # Everyone eligible scores the same: the first in policy order.
            _, first = first_in_order(available, pointer)
            return self._agents[first.agent_id]
        lowest = max(level, 1)  # bucket 0 is unused: no agent has a skill at level 0
        star: list[list[AgentKey]] | None = None
        others: tuple[str, ...] = ()
        if len(skills) == 1:  # (the common case, without a call)
            (only,) = skills
            star = qi.by_skill.get(only)
        if star is None:
            star, others = self._most_selective(qi, skills, lowest)
        if top_first:
            # Level 0: below the buckets, everyone available scores 0.
            found = self._top_scored(star, lowest, others, level, pointer,
                                     available if level == 0 else None)
        else:
            found = self._first_fitting(star, lowest, others, level, pointer)
        return self._agents[found.agent_id] if found is not None else None

    def _most_selective(
        self, qi: QueueIndex, skills: frozenset[str], lowest: int,
    ) -> tuple[list[list[AgentKey]], tuple[str, ...]]:
        """The buckets of the skill the fewest available agents have at `lowest` or more, and
        the call's other skills."""
        self.need_skills(qi, skills)  # (they exist already: enqueue and the probe see to it)
        by_skill = qi.by_skill
        star: list[list[AgentKey]] = []
        star_skill = ""
        fewest = -1
        for s in skills:
            buckets = by_skill[s]
            n = 0
            for lvl in range(lowest, MAX_SKILL_LEVEL + 1):
                n += len(buckets[lvl])
            if fewest < 0 or n < fewest:
                fewest, star, star_skill = n, buckets, s
        return star, tuple(s for s in skills if s != star_skill)

    def _first_fitting(
        self, buckets: list[list[AgentKey]], lowest: int, check: tuple[str, ...], level: int,
        pointer: str | None,
    ) -> AgentKey | None:
        """The first agent in policy order, across the buckets from `lowest` up, with every
        skill in `check` at `level` or more. Each bucket is walked in policy order up to its
        first fit or to the best found so far."""
        agents = self._agents
        best: tuple[bool, AgentKey] | None = None
        for lvl in range(lowest, MAX_SKILL_LEVEL + 1):
            keys = buckets[lvl]
            if not keys:
                continue
            if not check:  # (the common case: one skill) everyone fits, the first wins
                cand = first_in_order(keys, pointer)
                if best is None or cand < best:
                    best = cand
                continue
            for cand in in_policy_order(keys, pointer):
                if best is not None and cand >= best:
                    break
                wrapped, k = cand
                a_skills = agents[k.agent_id].skills
                if all(a_skills.get(s, 0) >= level for s in check):
                    best = cand
                    break
        if best is None:
            return None
        _, found = best
        return found

    def _top_scored(
        self, buckets: list[list[AgentKey]], lowest: int, check: tuple[str, ...], level: int,
        pointer: str | None, pool: list[AgentKey] | None,
    ) -> AgentKey | None:
        """The top-score agent, first in policy order among equals, with a score of `level` or
        more, from the buckets (walked from the top level down to `lowest`), then `pool`, whose
        agents score 0. An agent's score is the least of its bucket's level and its levels in
        `check`."""
        agents = self._agents
        best: tuple[int, bool, AgentKey] | None = None  # (-score, wrapped, key): smallest wins
        best_score = -1
        for bound in range(MAX_SKILL_LEVEL, lowest - 1, -1):
            if bound < best_score:
                break  # nobody further down can reach the best score
            keys = buckets[bound]
            if not keys:
                continue
            if not check:  # (the common case: one skill) all score `bound`: the first wins
                wrapped, k = first_in_order(keys, pointer)
                best, best_score = (-bound, wrapped, k), bound
                break  # (the first non-empty bucket from the top: nobody below can match it)
            for wrapped, k in in_policy_order(keys, pointer):
                sc = bound
                a_skills = agents[k.agent_id].skills
                for s in check:
                    v = a_skills.get(s, 0)
                    if v < sc:
                        sc = v
                if sc < level:
                    continue
                cand = (-sc, wrapped, k)
                if best is None or cand < best:
                    best, best_score = cand, sc
                if sc == bound:
                    break  # the rest of this bucket come later in policy order, no higher score
        if pool and best_score <= 0:
            wrapped, k = first_in_order(pool, pointer)
            cand = (0, wrapped, k)
            if best is None or cand < best:
                best = cand
        if best is None:
            return None
        _, _, found = best
        return found
