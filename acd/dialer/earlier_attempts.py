"""Callbacks an earlier server process placed and never finished.

A process that dies during a callback's call (or before writing its outcome) leaves the CRM row
pending, and the next process would dial the customer again. Before a callback's first
placement by this process, the CRM is asked whether an interaction exists under one of its call
ids (each placement's call id starts with a prefix fixed by the callback: `fcb-<id>-` for one
with no campaign, `cb<campaign>-<id>-` for a campaign's): if so, that attempt happened and its
outcome is unknown, and the caller marks the row missed for a person to decide. An attempt that
died while it rang, before any interaction existed, is found by the placement each placer
records on the row before its Originate (`placed_call_id`, crm_core migration 26): a pending
row that carries one was placed by an earlier process too.

Each callback is asked once per process (a callback this process placed itself is never asked
again: its own interaction would look like an earlier attempt). Used by the dialer
(acd/dialer/service.py) and by the callbacks with no campaign (free_callbacks_service.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm_core.service import Crm

MAX_REMEMBERED = 100_000  # bounded: a callback asked again costs one indexed lookup


class EarlierAttempts:
    def __init__(self, crm: Crm) -> None:
        self._crm = crm  # (read when asked: a service may be built before its CRM opens)
        self._asked: set[int] = set()

    async def tried(self, prefixes: Mapping[int, str],
                    placed: Mapping[int, str | None] | None = None) -> frozenset[int]:
        """Of the callbacks given (id -> its call-id prefix), those not asked before whose
        prefix begins some interaction's call id, or whose row records a placement (`placed`:
        id -> the row's placed_call_id)."""
        fresh = {cid: p for cid, p in prefixes.items() if cid not in self._asked}
        if not fresh:
            return frozenset()
        marked = {cid for cid in fresh if placed and placed.get(cid)}
        asked = [p for cid, p in fresh.items() if cid not in marked]
        used = await self._crm.interactions.call_id_prefixes_used(asked) if asked else frozenset()
        if len(self._asked) + len(fresh) > MAX_REMEMBERED:
            self._asked.clear()
        self._asked.update(fresh)
        return frozenset(cid for cid, p in fresh.items() if cid in marked or p in used)
