"""Callbacks an earlier server process placed and never finished.

A process that dies during a callback's call (or before writing its outcome) leaves the CRM row
pending, and the next process would dial the customer again. Before a callback's first
placement by this process, the CRM is asked whether an interaction exists under one of its call
ids (each placement's call id starts with a prefix fixed by the callback: `fcb-<id>-` for one
with no campaign, `cb<campaign>-<id>-` for a campaign's): if so, that attempt happened and its
outcome is unknown, and the caller marks the row missed for a person to decide.

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

    async def tried(self, prefixes: Mapping[int, str]) -> frozenset[int]:
        """Of the callbacks given (id -> its call-id prefix), those not asked before whose
        prefix begins some interaction's call id."""
        fresh = {cid: p for cid, p in prefixes.items() if cid not in self._asked}
        if not fresh:
            return frozenset()
        used = await self._crm.interactions.call_id_prefixes_used(list(fresh.values()))
        if len(self._asked) + len(fresh) > MAX_REMEMBERED:
            self._asked.clear()
        self._asked.update(fresh)
        return frozenset(cid for cid, p in fresh.items() if p in used)
