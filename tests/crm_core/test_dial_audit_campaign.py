"""The dial audit accepts the dialer's `campaign` action; the migration that widens its CHECK
keeps every existing row."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from common.clock import ManualClock
from config.crm import CrmSettings
from crm_core import schema
from crm_core.errors import ValidationError
from crm_core.service import Crm

from .conftest import T0

VERSION = next(m.version for m in schema.MIGRATIONS if m.sql is schema._DIAL_AUDIT_CAMPAIGN)


def _before(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    schema.configure(conn)
    schema.migrate(conn, T0, upto=VERSION - 1)
    conn.execute("INSERT INTO dial_audit (at, username, action, number, kind, verdict, reason,"
                 " call_id) VALUES (?, 'ann', 'transfer', '+12025550100', 'external', "
                 "'allowed', 'allowed', 'c-1')", (T0,))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO dial_audit (at, action, number, kind, verdict, reason)"
                     " VALUES (?, 'campaign', '+1', 'external', 'allowed', 'allowed')", (T0,))
    conn.close()


async def test_existing_rows_survive_and_campaign_rows_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _before(path)
    crm = await Crm.open(path, CrmSettings(), clock=ManualClock(T0))
    try:
        assert await crm.schema_version() == schema.LATEST
        await crm.dial_audit.add_many([{
            "username": "campaign:3", "role": "agent", "action": "campaign",
            "number": "+18095550123", "kind": "external", "region": "DO",
            "verdict": "refused", "reason": "country_not_allowed", "call_id": "dl3-1-1-1"}])
        rows = (await crm.dial_audit.search()).items
        assert [(r.action, r.username, r.call_id) for r in rows] == [
            ("campaign", "campaign:3", "dl3-1-1-1"), ("transfer", "ann", "c-1")]
        assert (await crm.dial_audit.search(action="campaign")).total == 1
        with pytest.raises(ValidationError):
            await crm.dial_audit.add_many([{"action": "robocall", "verdict": "allowed",
                                            "number": "1", "kind": "x", "reason": "x"}])
    finally:
        await crm.close()
