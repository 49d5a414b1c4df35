"""crm_core.acd_store: what the ACD keeps across restarts (migration 5)."""

from __future__ import annotations

import pytest

from crm_core import schema
from crm_core.acd_store import AcdStore, AgentSessionRow
from crm_core.errors import ValidationError
from crm_core.service import Crm

from .conftest import T0


async def test_agent_sessions_are_saved_updated_and_deleted(crm: Crm) -> None:
    store = AcdStore(crm.db)
    await store.save_agent(AgentSessionRow("bob", "PJSIP/1002", ("sales", "support"),
                                           {"support": 3}, None, T0))
    await store.save_agent(AgentSessionRow("al'; DROP TABLE users;--", "PJSIP/1001",
                                           ("support",), {}, "break", T0))
    await store.save_agent(AgentSessionRow("bob", "PJSIP/1003", ("support",), {"sales": 5},
                                           "lunch", T0 + 1))
    rows = await store.agents()
    assert [(r.agent_id, r.device, r.queues, r.skills, r.pause_reason) for r in rows] == [
        ("al'; DROP TABLE users;--", "PJSIP/1001", ("support",), {}, "break"),
        ("bob", "PJSIP/1003", ("support",), {"sales": 5}, "lunch")]
    await store.delete_agent("bob")
    assert [r.agent_id for r in await store.agents()] == ["al'; DROP TABLE users;--"]
    assert await crm.users.search(limit=1) is not None  # the users table is still there


async def test_an_empty_agent_is_refused_and_nothing_is_written(crm: Crm) -> None:
    store = AcdStore(crm.db)
    with pytest.raises(ValidationError):
        await store.save_agent(AgentSessionRow("", "PJSIP/1001", (), {}, None, T0))
    assert await store.agents() == ()


async def test_outcomes_since_a_time_and_older_ones_pruned(crm: Crm) -> None:
    store = AcdStore(crm.db)
    await store.append_outcomes([(T0 - 10, "support", "entered", 0.0),
                                 (T0 + 1, "support", "entered", 0.0),
                                 (T0 + 2, "support", "answered_sl", 4.5)])
    await store.append_outcomes([])
    assert await store.outcomes(T0) == ((T0 + 1, "support", "entered", 0.0),
                                        (T0 + 2, "support", "answered_sl", 4.5))
    assert len(await store.outcomes(0.0)) == 2  # the older one was pruned


async def test_open_calls_are_inbound_calls_without_an_end(crm: Crm) -> None:
    store = AcdStore(crm.db)
    await crm.log_call("open-1", direction="inbound", queue="support", offered_at=T0,
                       notes="handed back")
    await crm.log_call("done-1", direction="inbound", queue="support", offered_at=T0,
                       ended_at=T0 + 5)
    await crm.log_call("out-1", direction="outbound", offered_at=T0)
    await crm.log_call("old-1", direction="inbound", queue="support", offered_at=T0 - 90_000)
    await crm.log_call("talk-1", direction="inbound", queue="support", offered_at=T0 + 1,
                       answered_at=T0 + 3)
    calls = await store.open_calls(T0 - 3600)
    assert [(c.call_id, c.queue, c.answered_at, c.notes) for c in calls] == [
        ("open-1", "support", None, "handed back"), ("talk-1", "support", T0 + 3, "")]


def test_the_migration_is_the_latest() -> None:
    # Registered once, in order; migrations appended later (customer search) come after it.
    acd = [m for m in schema.MIGRATIONS if m.description.startswith("ACD agent sessions")]
    assert len(acd) == 1
    versions = [m.version for m in schema.MIGRATIONS]
    assert versions == sorted(set(versions))
    assert schema.LATEST == schema.MIGRATIONS[-1].version >= acd[0].version
