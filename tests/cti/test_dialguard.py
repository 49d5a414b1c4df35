"""DialGuard over a real CRM: known extensions, team rules, per-user rate limit, audit rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from common.clock import ManualClock
from config.crm import CrmSettings
from config.cti import DialingSettings
from crm_core.service import Crm
from cti.dialguard import DialAuditWriter, Dialer, DialGuard
from cti.errors import DialRateLimited, DialRefused

T0 = 1_750_000_000.0


@pytest.fixture
async def crm(tmp_path: Path) -> AsyncIterator[Crm]:
    c = await Crm.open(tmp_path / "crm.sqlite3", CrmSettings(), clock=ManualClock(T0))
    try:
        yield c
    finally:
        await c.close()


async def make(crm: Crm, **dialing: object) -> tuple[DialGuard, DialAuditWriter, ManualClock]:
    writer = DialAuditWriter(crm)
    await writer.start()
    clock = ManualClock(100.0)
    guard = DialGuard(DialingSettings.model_validate(dialing), crm, audit=writer, clock=clock,
                      wall=ManualClock(T0))
    return guard, writer, clock


async def test_user_extensions_are_looked_up_on_each_dial(crm: Crm) -> None:
    guard, writer, _ = await make(crm)
    me = Dialer(1, "agent1", "agent")
    user = await crm.users.create(username="bob", password_hash="x", extension="1002")
    assert (await guard.authorize(me, "1002", "dial")).dial == "1002"
    await crm.users.update(user.id, extension="1003")
    with pytest.raises(DialRefused) as ei:
        await guard.authorize(me, "1002", "transfer", call_id="1.5")
    assert ei.value.decision.reason == "unknown_extension"
    await writer.stop()
    rows = (await crm.dial_audit.search()).items
    assert [(r.action, r.verdict, r.reason, r.call_id) for r in rows] == [
        ("transfer", "refused", "unknown_extension", "1.5"),
        ("dial", "allowed", "internal_extension", "")]
    assert rows[0].at == T0 and rows[0].username == "agent1"


async def test_rate_limit_counts_every_attempt_and_lifts_after_the_window(crm: Crm) -> None:
    guard, writer, clock = await make(crm, dials_per_minute=3)
    me = Dialer(1, "agent1", "agent")
    await guard.authorize(me, "+12025550100", "dial")
    with pytest.raises(DialRefused):
        await guard.authorize(me, "+499001234567", "dial")  # refused ones count too
    await guard.authorize(me, "+12025550101", "transfer")
    with pytest.raises(DialRateLimited) as ei:
        await guard.authorize(me, "+12025550102", "dial")
    assert 59 < ei.value.retry_after_s <= 60
    assert ei.value.decision.reason == "rate_limited"
    # Another user has a budget of their own.
    await guard.authorize(Dialer(2, "agent2", "agent"), "+12025550103", "dial")
    clock.advance(60.0)
    await guard.authorize(me, "+12025550104", "dial")
    await writer.stop()
    limited = await crm.dial_audit.search(reason="rate_limited")
    assert limited.total == 1 and limited.items[0].target == "+12025550102"


async def test_team_rules_by_team_name(crm: Crm) -> None:
    team = await crm.teams.create(name="Caribbean")
    guard, writer, _ = await make(
        crm, allowed_prefixes=["1", "44", "33", "49"],
        teams={"Caribbean": {"allowed_countries": ["US", "CA", "DO"]}})
    dom = "+18095551234"
    with pytest.raises(DialRefused):
        await guard.authorize(Dialer(1, "a", "agent", None), dom, "dial")
    assert (await guard.authorize(Dialer(2, "b", "agent", team.id), dom, "dial")).dial == dom
    await writer.stop()


async def test_callbacks_follow_the_agents_rules_without_rate_limit(crm: Crm) -> None:
    team = await crm.teams.create(name="Domestic")
    await crm.users.create(username="alice", password_hash="x", team_id=team.id)
    guard, writer, _ = await make(crm, dials_per_minute=1,
                                  teams={"Domestic": {"allowed_countries": ["US"]}})
    for i in range(3):
        await guard.authorize_callback("alice", f"+1202555010{i}", call_id=f"cb-{i}")
    with pytest.raises(DialRefused) as ei:
        await guard.authorize_callback("alice", "+442079460018")  # GB: not for this team
    assert ei.value.decision.reason == "country_not_allowed"
    await writer.stop()
    rows = (await crm.dial_audit.search(action="callback")).items
    assert len(rows) == 4 and rows[0].username == "alice" and rows[0].team_id == team.id


async def test_the_writer_survives_a_bad_batch(crm: Crm) -> None:
    writer = DialAuditWriter(crm)
    await writer.start()
    writer.submit({"action": "dial", "verdict": "nonsense", "number": "1", "kind": "x",
                   "reason": "x"})
    await writer.flush()
    writer.submit({"action": "dial", "verdict": "refused", "number": "1", "kind": "invalid",
                   "reason": "not_a_number"})
    await writer.stop()
    assert (await crm.dial_audit.search()).total == 1


async def test_a_full_queue_drops_rows_instead_of_blocking(crm: Crm) -> None:
    writer = DialAuditWriter(crm, max_queue=2)  # not started: nothing drains
    for _ in range(5):
        writer.submit({"action": "dial", "verdict": "refused", "number": "1", "kind": "invalid",
                       "reason": "not_a_number"})
    assert writer.dropped == 3


async def test_a_check_ahead_of_the_dial_audits_only_a_refusal(crm: Crm) -> None:
    # The dialer checks an agent-owned callback before the ACD places it (and decides it again,
    # audited): an allowed check writes no row, a refused one does (nothing else will).
    guard, writer, _ = await make(crm)
    me = Dialer(None, "campaign:1", "agent")
    assert (await guard.authorize(me, "+12025550100", "campaign", call_id="cb1",
                                  audit_allowed=False)).dial == "+12025550100"
    with pytest.raises(DialRefused):
        await guard.authorize(me, "+499001234567", "campaign", call_id="cb2",
                              audit_allowed=False)
    await writer.stop()
    rows = (await crm.dial_audit.search()).items
    assert [(r.call_id, r.verdict) for r in rows] == [("cb2", "refused")]
