"""What the ACD keeps in the CRM database so a restart loses nothing: agent logins, today's
queue-statistics outcomes, and the calls it has not finished recording.

Calls themselves are ordinary `interactions` rows (one per call, upserted by call_id through
`Crm.log_call`); an inbound call whose row has no `ended_at` is a call some server instance was
still following when it stopped or died. `open_calls` lists them for the next instance.

Usage (the ACD's continuity module is the only user):

    store = AcdStore(crm.db)
    await store.save_agent(AgentSessionRow(...)); await store.delete_agent("agent1")
    await store.agents() -> tuple[AgentSessionRow, ...]
    await store.append_outcomes([(at, queue, kind, value), ...]); await store.outcomes(since)
    await store.open_calls(since) -> tuple[OpenCall, ...]
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from crm_core.db import Database
from crm_core.errors import ValidationError

Outcome = tuple[float, str, str, float]  # (unix time, queue, kind, value)


@dataclass(frozen=True, slots=True)
class AgentSessionRow:
    agent_id: str
    device: str
    queues: tuple[str, ...]
    skills: dict[str, int]
    pause_reason: str | None  # None: available (or busy with a call) when last saved
    updated_at: float


@dataclass(frozen=True, slots=True)
class OpenCall:
    call_id: str
    queue: str | None
    phone: str | None
    agent_user_id: int | None
    offered_at: float | None
    answered_at: float | None
    notes: str


class AcdStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def save_agent(self, row: AgentSessionRow) -> None:
        if not row.agent_id or not row.device:
            raise ValidationError("agent_id", "agent_id and device must not be empty", row)
        await self._db.write(_save_agent, row)

    async def delete_agent(self, agent_id: str) -> None:
        await self._db.write(_delete_agent, agent_id)

    async def agents(self) -> tuple[AgentSessionRow, ...]:
        return await self._db.read(_agents)

    async def append_outcomes(self, rows: Sequence[Outcome]) -> None:
        if rows:
            await self._db.write(_append_outcomes, list(rows))

    async def outcomes(self, since: float) -> tuple[Outcome, ...]:
        """Outcomes recorded at or after `since` (Unix time), oldest first; older ones are
        deleted on the way (they can no longer be part of "today")."""
        return await self._db.write(_outcomes, since)

    async def open_calls(self, since: float) -> tuple[OpenCall, ...]:
        return await self._db.read(_open_calls, since)


def _save_agent(conn: sqlite3.Connection, row: AgentSessionRow) -> None:
    conn.execute(
        "INSERT INTO acd_agent_sessions (agent_id, device, queues, skills, pause_reason,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET"
        " device = excluded.device, queues = excluded.queues, skills = excluded.skills,"
        " pause_reason = excluded.pause_reason, updated_at = excluded.updated_at",
        (row.agent_id, row.device, json.dumps(sorted(row.queues)),
         json.dumps(dict(sorted(row.skills.items()))), row.pause_reason, row.updated_at),
    )


def _delete_agent(conn: sqlite3.Connection, agent_id: str) -> None:
    conn.execute("DELETE FROM acd_agent_sessions WHERE agent_id = ?", (agent_id,))


def _agents(conn: sqlite3.Connection) -> tuple[AgentSessionRow, ...]:
    rows = conn.execute(
        "SELECT agent_id, device, queues, skills, pause_reason, updated_at"
        " FROM acd_agent_sessions ORDER BY agent_id").fetchall()
    return tuple(AgentSessionRow(r[0], r[1], tuple(json.loads(r[2])),
                                 {str(k): int(v) for k, v in json.loads(r[3]).items()},
                                 r[4], float(r[5])) for r in rows)


def _append_outcomes(conn: sqlite3.Connection, rows: list[Outcome]) -> None:
    conn.executemany(
        "INSERT INTO acd_stat_outcomes (at, queue, kind, value) VALUES (?, ?, ?, ?)", rows)


def _outcomes(conn: sqlite3.Connection, since: float) -> tuple[Outcome, ...]:
    conn.execute("DELETE FROM acd_stat_outcomes WHERE at < ?", (since,))
    rows = conn.execute("SELECT at, queue, kind, value FROM acd_stat_outcomes WHERE at >= ?"
                        " ORDER BY at, id", (since,)).fetchall()
    return tuple((float(r[0]), str(r[1]), str(r[2]), float(r[3])) for r in rows)


def _open_calls(conn: sqlite3.Connection, since: float) -> tuple[OpenCall, ...]:
    rows = conn.execute(
        "SELECT call_id, queue, phone, agent_user_id, offered_at, answered_at, notes"
        " FROM interactions WHERE ended_at IS NULL AND kind = 'call'"
        " AND direction = 'inbound' AND call_id IS NOT NULL AND offered_at >= ?"
        " ORDER BY offered_at", (since,)).fetchall()
    return tuple(OpenCall(r[0], r[1], r[2], r[3], r[4], r[5], r[6] or "") for r in rows)
