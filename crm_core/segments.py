"""Call segments: each agent's stretch of a call (who, from when to when, talk seconds) and the
transfer that ended it, as the call log writes them when a call ends (acd.call_log)."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from crm_core.errors import ValidationError

_ENDED_BY = frozenset({"", "transfer", "hangup"})
_KINDS = frozenset({"blind", "attended"})


@dataclass(frozen=True, slots=True)
class CallSegment:
    call_id: str
    seq: int
    agent_user_id: int | None
    agent: str  # username, or the device when no user owns it
    device: str
    started_at: float
    ended_at: float | None
    talk_s: float
    ended_by: str = ""
    transfer_kind: str | None = None
    transfer_target: str | None = None


def _check(s: CallSegment) -> None:
    if not s.call_id.strip():
        raise ValidationError("call_id", "must be a non-empty string", s.call_id)
    if s.seq < 0:
        raise ValidationError("seq", "must be >= 0", s.seq)
    for name in ("started_at", "talk_s"):
        value = getattr(s, name)
        if not math.isfinite(value):
            raise ValidationError(name, "must be a finite number", value)
    if s.talk_s < 0:
        raise ValidationError("talk_s", "must be >= 0", s.talk_s)
    if s.ended_by not in _ENDED_BY:
        raise ValidationError("ended_by", "must be '', 'transfer' or 'hangup'", s.ended_by)
    if s.transfer_kind is not None and s.transfer_kind not in _KINDS:
        raise ValidationError("transfer_kind", "must be 'blind' or 'attended'", s.transfer_kind)


def replace_segments_sync(conn: sqlite3.Connection, call_id: str,
                          segments: Sequence[CallSegment]) -> int:
    """Store a call's segments, replacing what was stored for it (writing twice is harmless)."""
    for s in segments:
        _check(s)
        if s.call_id != call_id:
            raise ValidationError("call_id", "every segment must belong to the call", s.call_id)
    conn.execute("DELETE FROM call_segments WHERE call_id = ?", (call_id,))
    conn.executemany(
        "INSERT INTO call_segments (call_id, seq, agent_user_id, agent, device, started_at,"
        " ended_at, talk_s, ended_by, transfer_kind, transfer_target)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(s.call_id, s.seq, s.agent_user_id, s.agent, s.device, s.started_at, s.ended_at,
          s.talk_s, s.ended_by, s.transfer_kind, s.transfer_target) for s in segments],
    )
    return len(segments)


def segments_for_call_sync(conn: sqlite3.Connection, call_id: str) -> list[CallSegment]:
    rows = conn.execute(
        "SELECT call_id, seq, agent_user_id, agent, device, started_at, ended_at, talk_s,"
        " ended_by, transfer_kind, transfer_target FROM call_segments WHERE call_id = ?"
        " ORDER BY seq", (call_id,)).fetchall()
    return [CallSegment(*row) for row in rows]
