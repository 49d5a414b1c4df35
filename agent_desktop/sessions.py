"""Where login sessions (refresh-token families) live, as auth.py sees it.

The server keeps them in the CRM database (crm_core.sessions.SessionRepo: they survive a
restart and are shared by every process on that database). An app built without a CRM (tests,
tools) gets MemorySessionStore, which applies the same rules to dicts in this process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

RotateOutcome = Literal["rotated", "reused", "revoked", "unknown", "expired"]


class SessionStore(Protocol):
    async def start(self, family: str, user_id: int, jti: str, now: float,
                    expires_at: float) -> None: ...

    async def rotate(self, family: str, jti: str, new_jti: str, now: float,
                     expires_at: float) -> RotateOutcome: ...

    async def revoke(self, family: str, now: float, reason: str) -> bool: ...

    async def is_active(self, family: str, user_id: int) -> bool: ...


@dataclass(slots=True)
class _Family:
    user_id: int
    expires_at: float
    revoked_at: float | None = None
    revoked_reason: str | None = None


class MemorySessionStore:
    """SessionStore in process memory; the rules are crm_core/sessions.py's."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}
        self._tokens: dict[str, tuple[str, float, float | None]] = {}  # family, expires, used

    async def start(self, family: str, user_id: int, jti: str, now: float,
                    expires_at: float) -> None:
        for fid in [f for f, row in self._families.items() if row.expires_at < now]:
            del self._families[fid]
        self._tokens = {j: t for j, t in self._tokens.items() if t[0] in self._families}
        self._families[family] = _Family(user_id, expires_at)
        self._tokens[jti] = (family, expires_at, None)

    async def rotate(self, family: str, jti: str, new_jti: str, now: float,
                     expires_at: float) -> RotateOutcome:
        fam = self._families.get(family)
        if fam is None:
            return "unknown"
        if fam.revoked_at is not None:
            return "revoked"
        tok = self._tokens.get(jti)
        if tok is None or tok[0] != family:
            return "unknown"
        if tok[2] is not None:
            await self.revoke(family, now, "refresh token reused")
            return "reused"
        if now >= tok[1]:
            return "expired"
        self._tokens[jti] = (family, tok[1], now)
        self._tokens[new_jti] = (family, expires_at, None)
        fam.expires_at = max(fam.expires_at, expires_at)
        return "rotated"

    async def revoke(self, family: str, now: float, reason: str) -> bool:
        fam = self._families.get(family)
        if fam is None or fam.revoked_at is not None:
            return False
        fam.revoked_at, fam.revoked_reason = now, reason
        return True

    async def is_active(self, family: str, user_id: int) -> bool:
        fam = self._families.get(family)
        return fam is not None and fam.user_id == user_id and fam.revoked_at is None
