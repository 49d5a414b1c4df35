"""Migration 5: one user per extension (existing duplicates resolved, not lost) and the
refresh-token families' store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from common.clock import ManualClock
from config.crm import CrmSettings
from crm_core import schema
from crm_core.errors import Conflict
from crm_core.service import Crm

from .conftest import T0


def _version_4_with_duplicates(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    schema.configure(conn)
    schema.migrate(conn, T0, upto=4)
    rows = [(1, "ann", 1, "1001"), (2, "ben", 1, "1001"), (3, "cat", 0, "1002"),
            (4, "dan", 1, "1002"), (5, "eve", 1, "1003"), (6, "fay", 1, None), (7, "gus", 1, ""),
            (8, "hal", 1, "")]
    conn.executemany("INSERT INTO users (id, username, password_hash, active, extension)"
                     " VALUES (?, ?, 'h', ?, ?)", rows)
    conn.close()


async def test_duplicate_extensions_keep_one_owner_and_record_the_others(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _version_4_with_duplicates(path)
    crm = await Crm.open(path, CrmSettings(), clock=ManualClock(T0))
    try:
        assert await crm.schema_version() == schema.LATEST
        ext = {u.username: u.extension for u in (await crm.users.search(limit=100)).items}
        # 1001: both active, the older keeps it; 1002: the active one keeps it over the older.
        assert ext == {"ann": "1001", "ben": None, "cat": None, "dan": "1002", "eve": "1003",
                       "fay": None, "gus": None, "hal": None}
        assert await crm.users.extension_conflicts() == ((2, "1001", 1), (3, "1002", 4))
        with pytest.raises(Conflict, match="extension 1001 already belongs to another user"):
            await crm.users.update(2, extension="1001")
    finally:
        await crm.close()
    # The database itself refuses a duplicate, whoever writes (the index, not only the code).
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE users SET extension = '1003' WHERE id = 1")
    conn.close()


async def test_no_extension_is_no_extension_however_it_is_written(crm: Crm) -> None:
    a = await crm.users.create(username="a", password_hash="h", extension="")
    b = await crm.users.create(username="b", password_hash="h")
    assert (a.extension, b.extension) == (None, None)
    c = await crm.users.create(username="c", password_hash="h", extension="1005")
    assert (await crm.users.update(c.id, extension="1005")).extension == "1005"  # own: fine
    with pytest.raises(Conflict):
        await crm.users.create(username="d", password_hash="h", extension="1005")


async def test_session_store_rotation_reuse_and_revocation(crm: Crm, clock: ManualClock) -> None:
    user = await crm.users.create(username="ann", password_hash="h")
    s = crm.sessions
    await s.start("fam1", user.id, "j1", T0, T0 + 100)
    assert await s.is_active("fam1", user.id)
    assert not await s.is_active("fam1", user.id + 1)  # another user's session
    assert await s.rotate("fam1", "j1", "j2", T0 + 1, T0 + 101) == "rotated"
    assert await s.rotate("fam1", "j2", "j3", T0 + 2, T0 + 102) == "rotated"
    assert await s.rotate("fam1", "nope", "j9", T0 + 2, T0 + 102) == "unknown"
    assert await s.is_active("fam1", user.id)  # an unknown token revokes nothing
    assert await s.rotate("fam1", "j1", "j4", T0 + 3, T0 + 103) == "reused"
    assert not await s.is_active("fam1", user.id)
    assert await s.revoked_reason("fam1") == "refresh token reused"
    assert await s.rotate("fam1", "j3", "j5", T0 + 4, T0 + 104) == "revoked"
    assert await s.rotate("other", "j3", "j5", T0 + 4, T0 + 104) == "unknown"
    await s.start("fam2", user.id, "k1", T0, T0 + 100)
    assert await s.rotate("fam2", "k1", "k2", T0 + 100, T0 + 200) == "expired"
    assert await s.revoke("fam2", T0, "logout")
    assert not await s.revoke("fam2", T0, "logout")  # once


async def test_expired_sessions_are_pruned_and_deleted_users_take_theirs(
        crm: Crm, tmp_path: Path) -> None:
    ann = await crm.users.create(username="ann", password_hash="h")
    ben = await crm.users.create(username="ben", password_hash="h")
    await crm.sessions.start("old", ann.id, "j1", T0, T0 + 10)
    await crm.sessions.start("bens", ben.id, "k1", T0, T0 + 1000)
    await crm.sessions.start("new", ann.id, "j2", T0 + 11, T0 + 1000)  # prunes "old"
    assert await crm.sessions.rotate("old", "j1", "j3", T0 + 11, T0 + 99) == "unknown"
    await crm.users.delete(ben.id)
    assert not await crm.sessions.is_active("bens", ben.id)
    assert await crm.sessions.is_active("new", ann.id)
