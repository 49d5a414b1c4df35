"""`crm.campaign_rules` (migration 24): a campaign's own calling rules, stored and read back as
given, NULL meaning the [dialer] default; shapes the dialer could not read are refused before
SQL, and the table's CHECKs refuse them even when written around the repository."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from types import MappingProxyType

import pytest

from common.clock import ManualClock
from config.crm import CrmSettings
from crm_core import schema
from crm_core.campaign_rules import CampaignRulesRow
from crm_core.errors import NotFound, StaleVersion, ValidationError
from crm_core.service import Crm

from .conftest import T0


async def test_rules_round_trip_and_replace(crm: Crm, clock: ManualClock) -> None:
    camp = await crm.campaigns.create(name="Renewals", queue="sales")
    assert await crm.campaign_rules.get(camp.id) is None
    row = CampaignRulesRow(camp.id, "09:30", "24:00", ("mon", "wed"), ("2026-12-25",),
                           "Asia/Shanghai",
                           MappingProxyType({"busy": 300.0, "machine": 86_400.0}))
    stored = await crm.campaign_rules.put(row)
    assert stored == CampaignRulesRow(camp.id, "09:30", "24:00", ("mon", "wed"),
                                      ("2026-12-25",), "Asia/Shanghai",
                                      {"busy": 300.0, "machine": 86_400.0}, updated_at=T0,
                                      version=1)
    assert await crm.campaign_rules.get(camp.id) == stored
    # Replaced whole: what the new row leaves None is None again; empty lists stay empty.
    clock.t = T0 + 60
    again = await crm.campaign_rules.put(CampaignRulesRow(camp.id, holidays=(),
                                                          default_timezone=""))
    assert again == CampaignRulesRow(camp.id, holidays=(), default_timezone="",
                                     updated_at=T0 + 60, version=2)
    assert (await crm.campaign_rules.all()) == {camp.id: again}
    assert await crm.campaign_rules.delete(camp.id) is True
    assert await crm.campaign_rules.get(camp.id) is None
    assert await crm.campaign_rules.delete(camp.id) is False


async def test_unknown_campaign_and_cascade(crm: Crm) -> None:
    with pytest.raises(NotFound):
        await crm.campaign_rules.put(CampaignRulesRow(999, days=("mon",)))
    camp = await crm.campaigns.create(name="Gone")
    await crm.campaign_rules.put(CampaignRulesRow(camp.id, days=("mon",)))
    await crm.campaigns.delete(camp.id)
    assert await crm.campaign_rules.all() == {}


@pytest.mark.parametrize(("row", "field"), [
    (CampaignRulesRow(1, "9:00", "17:00"), "window_start"),
    (CampaignRulesRow(1, "09:00", "25:00"), "window_end"),
    (CampaignRulesRow(1, "09:00", None), "window_end"),
    (CampaignRulesRow(1, days=("mon\n",)), "days"),
    (CampaignRulesRow(1, days=("mon",) * 8), "days"),
    (CampaignRulesRow(1, holidays=("2026-12-25'); DROP TABLE campaigns; --",)), "holidays"),
    (CampaignRulesRow(1, default_timezone="Europe/Paris\r\n"), "default_timezone"),
    (CampaignRulesRow(1, retry_delay_s={"busy": 0.0}), "retry_delay_s.busy"),
    (CampaignRulesRow(1, retry_delay_s={"busy": float("nan")}), "retry_delay_s.busy"),
    (CampaignRulesRow(1, retry_delay_s={"invalid": 60.0}), "retry_delay_s"),
])
async def test_shapes_the_dialer_cannot_read_are_refused(crm: Crm, row: CampaignRulesRow,
                                                         field: str) -> None:
    await crm.campaigns.create(name="One")
    with pytest.raises(ValidationError) as caught:
        await crm.campaign_rules.put(row)
    assert caught.value.field == field
    assert await crm.campaign_rules.get(1) is None  # nothing written


def test_the_table_checks_refuse_what_bypasses_the_repository(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "raw.sqlite3", isolation_level=None)
    schema.configure(conn)
    schema.migrate(conn, T0)
    conn.execute("INSERT INTO campaigns (id, name) VALUES (1, 'c')")
    for sql in (
        "INSERT INTO campaign_rules (campaign_id, window_start) VALUES (1, '09:00')",
        "INSERT INTO campaign_rules (campaign_id, window_start, window_end)"
        " VALUES (1, '9am', '17:00')",
        "INSERT INTO campaign_rules (campaign_id, days) VALUES (1, 'mon')",
        "INSERT INTO campaign_rules (campaign_id, retry_busy_s) VALUES (1, 0)",
        "INSERT INTO campaign_rules (campaign_id, retry_failed_s) VALUES (1, 1e12)",
        "INSERT INTO campaign_rules (campaign_id, days) VALUES (2, '[\"mon\"]')",
    ):
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(sql)
    conn.execute("INSERT INTO campaign_rules (campaign_id, days) VALUES (1, '[\"mon\"]')")
    conn.close()


async def test_migration_keeps_existing_campaigns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    schema.configure(conn)
    version = next(m.version for m in schema.MIGRATIONS if m.sql is schema._CAMPAIGN_RULES)
    schema.migrate(conn, T0, upto=version - 1)
    conn.execute("INSERT INTO campaigns (id, name, max_attempts) VALUES (7, 'old', 4)")
    conn.close()
    crm = await Crm.open(path, CrmSettings(), clock=ManualClock(T0))
    try:
        assert await crm.schema_version() == schema.LATEST
        assert (await crm.campaigns.get(7)).max_attempts == 4
        assert await crm.campaign_rules.get(7) is None  # inherits everything
    finally:
        await crm.close()


# ------------------------------------------------------------------ versions (migration 25)

def test_every_write_takes_a_new_version_whoever_writes(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "raw.sqlite3", isolation_level=None)
    schema.configure(conn)
    schema.migrate(conn, T0)
    conn.execute("INSERT INTO campaigns (id, name) VALUES (1, 'a'), (2, 'b')")

    def version(cid: int) -> int | None:
        r = conn.execute("SELECT version FROM campaign_rules WHERE campaign_id = ?",
                         (cid,)).fetchone()
        return r[0] if r else None

    # Written by hand, around the repository: the triggers still number every write.
    conn.execute("INSERT INTO campaign_rules (campaign_id, days) VALUES (1, '[\"mon\"]')")
    assert version(1) == 1
    conn.execute("UPDATE campaign_rules SET days = '[\"tue\"]' WHERE campaign_id = 1")
    assert version(1) == 2
    conn.execute("INSERT INTO campaign_rules (campaign_id, days) VALUES (2, '[\"mon\"]')")
    assert (version(1), version(2)) == (2, 3)
    # Deleted and written again: never an old number back (one sequence for the table).
    conn.execute("DELETE FROM campaign_rules WHERE campaign_id = 1")
    conn.execute("INSERT INTO campaign_rules (campaign_id, days) VALUES (1, '[\"mon\"]')")
    assert version(1) == 4
    conn.close()


async def test_the_migration_numbers_rows_written_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    schema.configure(conn)
    version = next(m.version for m in schema.MIGRATIONS if m.sql is schema._CAMPAIGN_RULES_VERSION)
    schema.migrate(conn, T0, upto=version - 1)
    conn.execute("INSERT INTO campaigns (id, name) VALUES (7, 'old')")
    conn.execute("INSERT INTO campaign_rules (campaign_id, days) VALUES (7, '[\"mon\"]')")
    conn.close()
    crm = await Crm.open(path, CrmSettings(), clock=ManualClock(T0))
    try:
        assert await crm.campaign_rules.versions() == {7: 1}
        row = await crm.campaign_rules.get(7)
        assert row is not None and row.days == ("mon",) and row.version == 1
    finally:
        await crm.close()


async def test_a_change_is_a_read_modify_write_that_loses_nothing(crm: Crm) -> None:
    camp = await crm.campaigns.create(name="Renewals", queue="sales")
    outcomes = ["busy", "no_answer", "machine", "abandoned", "failed"]

    def add(outcome: str, seconds: float) -> object:
        def change(row: CampaignRulesRow | None) -> CampaignRulesRow:
            delays = dict(row.retry_delay_s) if row is not None else {}
            delays[outcome] = seconds
            return CampaignRulesRow(camp.id, retry_delay_s=MappingProxyType(delays))
        return change

    # Twenty changes at once, each adding to what it reads: every one is kept.
    await asyncio.gather(*(crm.campaign_rules.update(camp.id, add(o, 60.0 * (i + 1)))  # type: ignore[arg-type]
                           for i, o in enumerate(outcomes * 4)))
    row = await crm.campaign_rules.get(camp.id)
    assert row is not None and set(row.retry_delay_s) == set(outcomes) and row.version == 20
    assert await crm.campaign_rules.versions() == {camp.id: 20}


async def test_a_change_against_a_version_someone_else_replaced_writes_nothing(
        crm: Crm) -> None:
    camp = await crm.campaigns.create(name="Renewals", queue="sales")
    first = await crm.campaign_rules.update(
        camp.id, lambda _: CampaignRulesRow(camp.id, days=("mon",)), if_version=0)
    assert first is not None and first.version == 1
    with pytest.raises(StaleVersion) as err:
        await crm.campaign_rules.update(
            camp.id, lambda _: CampaignRulesRow(camp.id, days=("tue",)), if_version=0)
    assert (err.value.expected, err.value.found) == (0, 1)
    assert (await crm.campaign_rules.get(camp.id)) == first

    def refuse(_: CampaignRulesRow | None) -> CampaignRulesRow:
        raise ValidationError("days", "no")

    with pytest.raises(ValidationError):  # what the change raises rolls it all back
        await crm.campaign_rules.update(camp.id, refuse, if_version=1)
    assert (await crm.campaign_rules.get(camp.id)) == first
    assert await crm.campaign_rules.update(camp.id, lambda _: None, if_version=1) is None
    assert await crm.campaign_rules.versions() == {}
