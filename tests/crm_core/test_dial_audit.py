"""The dial audit log repository and the user-extension lookup the dial policy asks."""

from __future__ import annotations

import pytest

from common.clock import ManualClock
from crm_core.errors import ValidationError
from crm_core.service import Crm
from tests.crm_core.conftest import T0


def row(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "user_id": 1, "username": "agent1", "role": "agent", "team_id": 7, "action": "dial",
        "number": "+499001234567", "target": "+499001234567", "kind": "external",
        "region": "DE", "number_type": "premium_rate", "verdict": "refused",
        "reason": "number_type_not_allowed", "message": "premium", "call_id": "c2d-1"}
    base.update(kw)
    return base


async def test_rows_are_written_in_one_batch_and_listed_newest_first(
        crm: Crm, clock: ManualClock) -> None:
    n = await crm.dial_audit.add_many([row(at=T0 + i, call_id=f"c{i}") for i in range(5)]
                                      + [row(verdict="allowed", reason="allowed", at=T0 + 10)])
    assert n == 6
    page = await crm.dial_audit.search(limit=3)
    assert page.total == 6
    assert [r.at for r in page.items] == [T0 + 10, T0 + 4, T0 + 3]
    assert page.items[0].verdict == "allowed" and page.items[1].call_id == "c4"
    second = await crm.dial_audit.search(limit=3, offset=3)
    assert [r.call_id for r in second.items] == ["c2", "c1", "c0"]


async def test_filters_and_time_range(crm: Crm) -> None:
    await crm.dial_audit.add_many([
        row(at=T0, team_id=1), row(at=T0 + 1, team_id=2, action="transfer"),
        row(at=T0 + 2, team_id=2, verdict="allowed", reason="allowed"), row(at=T0 + 3)])
    assert (await crm.dial_audit.search(team_id=2)).total == 2
    assert (await crm.dial_audit.search(team_id=2, verdict="refused")).total == 1
    assert (await crm.dial_audit.search(action="transfer")).items[0].team_id == 2
    assert (await crm.dial_audit.search(since=T0 + 1, until=T0 + 3)).total == 2
    with pytest.raises(ValidationError):
        await crm.dial_audit.search(password_hash="x")
    with pytest.raises(ValidationError):
        await crm.dial_audit.search(team_id="2")


async def test_hostile_input_is_stored_bounded_and_bad_rows_write_nothing(
        crm: Crm, clock: ManualClock) -> None:
    await crm.dial_audit.add_many([row(number="9" * 10_000 + "'; DROP TABLE users; --",
                                       at=None)])
    got = (await crm.dial_audit.search()).items[0]
    assert len(got.number) <= 203 and got.at == clock.now()
    for bad in (row(verdict="maybe"), row(action="hack"), row(nope=1)):
        with pytest.raises(ValidationError):
            await crm.dial_audit.add_many([row(), bad])
    assert (await crm.dial_audit.search()).total == 1  # the good row of each batch neither


async def test_audit_rows_outlive_the_user(crm: Crm) -> None:
    user = await crm.users.create(username="gone", password_hash="x", extension="1234")
    await crm.dial_audit.add_many([row(user_id=user.id, username="gone")])
    await crm.users.delete(user.id)
    assert (await crm.dial_audit.search(username="gone")).total == 1


async def test_extension_in_use_follows_the_users_table(crm: Crm) -> None:
    user = await crm.users.create(username="a1", password_hash="x", extension="1001")
    assert await crm.users.extension_in_use("1001")
    assert not await crm.users.extension_in_use("1002")
    await crm.users.update(user.id, extension="1002")
    assert not await crm.users.extension_in_use("1001")
    assert await crm.users.extension_in_use("1002")
    await crm.users.update(user.id, active=False)  # a deactivated user's phone is not ours
    assert not await crm.users.extension_in_use("1002")
