"""A seeded day of traffic driven through the real routing engine, with the event-log deriver
watching every input the way AcdService feeds it (tests and the wallboard-equals-report check)."""

from __future__ import annotations

import heapq
import random
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from acd.engine import AcdEngine
from acd.errors import AcdError
from acd.history import HistoryDeriver, interval_deltas
from acd.history_writer import queue_limits
from acd.model import AgentLogin, CallState, Command, NewCall, Offer, OfferCallback, PlaceCallback
from config.acd import AcdSettings, EscalationStep, QueueSettings
from crm_core import schema
from crm_core.history import HistoryEvent, append_sync

EPOCH = 1_700_006_400.0  # 2023-11-15 00:00 UTC: the simulated day starts at midnight


def day_settings() -> AcdSettings:
    steps = [EscalationStep(after_s=0, min_skill_level=3),
             EscalationStep(after_s=15, min_skill_level=0),
             EscalationStep(after_s=45, min_skill_level=0, action="callback")]
    return AcdSettings(queues=[
        QueueSettings(name="support", skills=["support"], wrapup_s=10, max_wait_s=150,
                      overflow_to="sales", escalation=steps, announce_every_s=40),
        QueueSettings(name="sales", skills=["sales"], wrapup_s=5, max_wait_s=200,
                      escalation=steps, announce_every_s=0, short_abandon_s=8),
    ])


@dataclass
class Day:
    engine: AcdEngine
    deriver: HistoryDeriver
    end: float
    events: list[HistoryEvent] = field(default_factory=list)


def simulate_day(seed: int = 7, hours: float = 4.0, agents: int = 12) -> Day:
    rng = random.Random(seed)
    eng = AcdEngine(day_settings())
    der = HistoryDeriver(lambda t: EPOCH + t)
    todo: list[tuple[float, int, str, tuple[Any, ...]]] = []
    seq = 0

    def at(t: float, kind: str, *args: Any) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(todo, (t, seq, kind, args))

    def feed(name: str, *args: Any, now: float) -> list[Command]:
        try:
            cmds: list[Command] = getattr(eng, name)(*args, now)
        except AcdError:
            return []
        der.observe(name, args, now, cmds)
        for c in cmds:
            if isinstance(c, PlaceCallback):
                at(now + 5, "answer", c.call_id, c.agent_id)
            elif isinstance(c, Offer):
                if rng.random() < 0.06:
                    at(now + c.ring_timeout_s, "rona", c.call_id, c.agent_id)
                else:
                    at(now + 2, "answer", c.call_id, c.agent_id)
            elif isinstance(c, OfferCallback) and rng.random() < 0.3:
                at(now + 1, "callback", c.call_id)
        return cmds

    start = 8 * 3600.0
    for i in range(agents):
        skills = {"support": rng.randint(1, 5), "sales": rng.randint(1, 5)}
        at(start - 60 + i, "login", f"a{i:02d}", skills)
        for _ in range(2):
            at(start + rng.uniform(0, hours * 3600), "pause", f"a{i:02d}",
               rng.choice(["break", "lunch", "training"]))
    t = start
    n = 0
    while True:
        t += rng.expovariate(1 / 9.0)
        if t > start + hours * 3600:
            break
        n += 1
        cid = f"c{n:05d}"
        q = "support" if rng.random() < 0.7 else "sales"
        number = f"+1555{rng.randint(0, 300):07d}"
        at(t, "arrive", cid, q, number, rng.choice(["gold", "silver", "bronze", "unknown"]))
        patience = rng.expovariate(1 / 160.0) if rng.random() < 0.9 else rng.uniform(0, 8)
        at(t + patience, "abandon", cid)
    tick = start - 60
    end = start + hours * 3600 + 900
    while tick < end:
        at(tick, "tick")
        tick += 1.0
    while todo:
        now, _, kind, args = heapq.heappop(todo)
        if now > end:
            break
        if kind == "tick":
            feed("tick", now=now)
        elif kind == "login":
            feed("agent_login", AgentLogin(args[0], f"PJSIP/{args[0]}",
                                           frozenset({"support", "sales"}), args[1]), now=now)
        elif kind == "pause":
            if feed("agent_pause", args[0], args[1], now=now):
                at(now + rng.uniform(300, 900), "ready", args[0])
            else:
                at(now + 30, "pause", *args)  # busy: try again shortly
        elif kind == "ready":
            feed("agent_available", args[0], now=now)
        elif kind == "arrive":
            feed("enqueue", NewCall(args[0], args[1], args[3], frozenset(), args[2]), now=now)
        elif kind == "abandon":
            c = _call(eng, args[0])
            if c is not None and c.state in (CallState.WAITING, CallState.OFFERED):
                feed("abandon", args[0], now=now)
        elif kind == "callback":
            c = _call(eng, args[0])
            if c is not None and c.state is CallState.WAITING:
                feed("request_callback", args[0], "+15550001234", now=now)
        elif kind in ("answer", "rona"):
            c = _call(eng, args[0])
            if c is not None and c.state is CallState.OFFERED and c.agent_id == args[1]:
                if kind == "answer":
                    feed("offer_answered", args[0], now=now)
                    at(now + rng.expovariate(1 / 110.0), "end", args[0])
                else:
                    feed("offer_failed", args[0], "no_answer", now=now)
                    at(now + 30, "ready", args[1])
        elif kind == "end":
            feed("call_ended", args[0], now=now)
    day = Day(eng, der, end)
    day.events = der.drain()
    return day


def _call(eng: AcdEngine, call_id: str) -> Any:
    try:
        return eng.call(call_id)
    except AcdError:
        return None


def persist(events: Sequence[HistoryEvent], settings: AcdSettings, batches: int = 7,
            repeat_window_s: float = 3 * 86400.0) -> sqlite3.Connection:
    """The events in an in-memory CRM database, written in several batches like the writer."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    schema.configure(conn)
    schema.migrate(conn, 0.0)
    limits = queue_limits(settings)
    size = max(1, len(events) // batches + 1)
    for i in range(0, len(events), size):
        batch = events[i:i + size]
        conn.execute("BEGIN")
        append_sync(conn, batch, interval_deltas(batch, limits), repeat_window_s)
        conn.execute("COMMIT")
    return conn
