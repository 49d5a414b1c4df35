"""Do-not-call lists: one global list and one per campaign, entries optionally expiring.

Pure and in memory: the adapter loads it from the CRM (`dnc` and `campaign_dnc` tables) and
keeps it current when a disposition adds a number, so checking a lead costs a dict lookup.
A lead is never dialled while its number is on either list.
"""

from __future__ import annotations

import math


class DncList:
    def __init__(self) -> None:
        self._global: dict[str, float] = {}  # e164 -> expires_at (inf: never)
        self._campaign: dict[int, dict[str, float]] = {}

    def add(self, e164: str, *, campaign_id: int | None = None,
            expires_at: float | None = None) -> None:
        until = math.inf if expires_at is None else expires_at
        book = self._global if campaign_id is None else self._campaign.setdefault(campaign_id, {})
        book[e164] = max(until, book.get(e164, -math.inf))

    def remove(self, e164: str, *, campaign_id: int | None = None) -> None:
        book = self._global if campaign_id is None else self._campaign.get(campaign_id, {})
        book.pop(e164, None)

    def blocks(self, e164: str, campaign_id: int | None, now: float) -> bool:
        """Whether the number may not be called now for this campaign."""
        if self._global.get(e164, -math.inf) > now:
            return True
        if campaign_id is None:
            return False
        return self._campaign.get(campaign_id, {}).get(e164, -math.inf) > now

    def __len__(self) -> int:
        return len(self._global) + sum(len(b) for b in self._campaign.values())
