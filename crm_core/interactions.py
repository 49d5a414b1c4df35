"""Interactions: calls (one row per Asterisk Linkedid), and notes/e-mails agents log."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from common.clock import Clock
from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.models import DIRECTIONS, INTERACTION_KINDS, Interaction
from crm_core.repo import Repo, TableSpec, get_row, insert_row, update_row

INTERACTIONS = TableSpec(
    "interactions", Interaction, ("notes", "disposition", "queue", "call_id"),
    choices={"kind": INTERACTION_KINDS, "direction": DIRECTIONS},
    phone_fields=("phone",),
    order_by="created_at",
)


class InteractionRepo(Repo[Interaction]):
    def __init__(self, db: Database, clock: Clock, region: str) -> None:
        super().__init__(db, INTERACTIONS, clock, region)

    async def by_call_id(self, call_id: str) -> Interaction | None:
        return await self._db.point_read(find_by_call_id, call_id)

    async def call_id_prefixes_used(self, prefixes: Sequence[str]) -> frozenset[str]:
        """Which of `prefixes` begin some interaction's call id (one index range per prefix:
        e.g. whether any attempt of a callback, call ids 'fcb-<id>-<n>', reached the CRM)."""
        if len(prefixes) > 10_000 or any(not isinstance(p, str) or not p for p in prefixes):
            raise ValidationError("prefixes", "must be at most 10000 non-empty strings",
                                  len(prefixes))
        return await self._db.point_read(_prefixes_used, tuple(prefixes))


def find_by_call_id(conn: sqlite3.Connection, call_id: str) -> Interaction | None:
    row = conn.execute("SELECT id FROM interactions WHERE call_id = ?", (call_id,)).fetchone()
    return get_row(conn, INTERACTIONS, row[0]) if row else None


def _prefixes_used(conn: sqlite3.Connection, prefixes: tuple[str, ...]) -> frozenset[str]:
    # A range on the call_id UNIQUE index (LIKE would need escaping and, with the default
    # case-insensitive LIKE, could not use the index): [p, p + U+10FFFF) holds every text
    # that starts with p.
    hit = "SELECT 1 FROM interactions WHERE call_id >= ? AND call_id < ? LIMIT 1"
    return frozenset(p for p in prefixes
                     if conn.execute(hit, (p, p + "\U0010ffff")).fetchone() is not None)


def customer_for_e164(conn: sqlite3.Connection, e164: str) -> int | None:
    row = conn.execute(
        "SELECT customer_id FROM phones WHERE e164 = ? ORDER BY extension != '', id LIMIT 1",
        (e164,),
    ).fetchone()
    return int(row[0]) if row else None


def _durations(offered: float | None, answered: float | None, ended: float | None
               ) -> tuple[float | None, float | None]:
    wait = None
    if offered is not None:
        stop = answered if answered is not None else ended
        if stop is not None:
            wait = max(0.0, stop - offered)
    talk = max(0.0, ended - answered) if answered is not None and ended is not None else None
    return wait, talk


def log_call_sync(
    conn: sqlite3.Connection,
    *,
    call_id: str,
    direction: str | None,
    customer_id: int | None,
    phone: str | None,
    phone_e164: str | None,
    queue: str | None,
    agent_user_id: int | None,
    offered_at: float | None,
    answered_at: float | None,
    ended_at: float | None,
    disposition: str | None,
    notes: str | None,
    now: float,
) -> Interaction:
    if not isinstance(call_id, str) or not call_id.strip():
        raise ValidationError("call_id", "must be a non-empty string", call_id)
    if direction is not None and direction not in DIRECTIONS:
        raise ValidationError("direction", f"must be one of {', '.join(DIRECTIONS)}", direction)
    given: dict[str, object] = {
        k: v for k, v in {
            "direction": direction, "customer_id": customer_id, "phone": phone,
            "queue": queue, "agent_user_id": agent_user_id, "offered_at": offered_at,
            "answered_at": answered_at, "ended_at": ended_at, "disposition": disposition,
            "notes": notes,
        }.items() if v is not None
    }
    old = find_by_call_id(conn, call_id)
    if customer_id is None and (old is None or old.customer_id is None) and phone_e164:
        found = customer_for_e164(conn, phone_e164)
        if found is not None:
            given["customer_id"] = found
    merged_offered = offered_at if offered_at is not None else (old.offered_at if old else None)
    merged_answered = answered_at if answered_at is not None else (
        old.answered_at if old else None)
    merged_ended = ended_at if ended_at is not None else (old.ended_at if old else None)
    wait, talk = _durations(merged_offered, merged_answered, merged_ended)
    if wait is not None:
        given["wait_s"] = wait
    if talk is not None:
        given["talk_s"] = talk
    if old is None:
        given.update(kind="call", call_id=call_id, created_at=now)
        return insert_row(conn, INTERACTIONS, given)
    return update_row(conn, INTERACTIONS, old.id, given)
