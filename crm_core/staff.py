"""Users (agents, supervisors, admins), teams and agent skills."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from common.clock import Clock
from crm_core.db import Database
from crm_core.errors import Conflict, NotFound, ValidationError
from crm_core.models import ROLES, Skill, Team, User
from crm_core.repo import Repo, TableSpec, get_row, row_factory

USERS = TableSpec("users", User, ("username", "display_name", "extension"),
                  choices={"role": ROLES}, order_by="username")
TEAMS = TableSpec("teams", Team, ("name",), order_by="name")
SKILLS = TableSpec("skills", Skill, ("skill",), order_by="skill",
                   immutable=frozenset({"user_id"}))


class UserRepo(Repo[User]):
    """password_hash arrives hashed; this package never sees or makes a plain password."""

    def __init__(self, db: Database, clock: Clock, region: str) -> None:
        super().__init__(db, USERS, clock, region)
        self._ids: dict[str, int] = {}  # username -> id, for id_of

    async def by_username(self, username: str) -> User:
        return await self._db.point_read(_by_username, username)

    async def id_of(self, username: str | None) -> int | None:
        """The id of the user with this username, or None (no name, no such user, or the
        lookup failed: call records still get written, without the agent). Found ids are
        cached; a miss is not, since the user may be created later. Usernames never change
        owner (rows are deactivated, not reused), so a cached id stays right."""
        if not username:
            return None
        found = self._ids.get(username)
        if found is None:
            try:
                found = self._ids[username] = (await self.by_username(username)).id
            except Exception:
                return None
        return found

    async def extension_in_use(self, extension: str) -> bool:
        """An active user has this extension: the dial policy's test for "a phone of ours"
        (asked on each dial, so a changed or removed extension counts at once)."""
        return await self._db.point_read(_extension_in_use, extension)

    def _prepare(self, conn: sqlite3.Connection, values: dict[str, object], now: float,
                 old: User | None) -> dict[str, object]:
        for f in ("username", "password_hash"):
            if f in values and not str(values[f]).strip():
                raise ValidationError(f, "must not be empty")
        extension = values.get("extension")
        if extension == "":
            values["extension"] = None  # "no phone", one way only (the unique index skips both)
        elif isinstance(extension, str):
            row = conn.execute("SELECT id FROM users WHERE extension = ? AND id != ?",
                               (extension, old.id if old is not None else 0)).fetchone()
            if row is not None:
                # The unique index would refuse it too; this says which extension and why.
                raise Conflict(f"extension {extension} already belongs to another user; an "
                               "extension is one user's phone",
                               {"field": "extension", "extension": extension})
        return values

    async def extension_conflicts(self) -> tuple[tuple[int, str, int | None], ...]:
        """(user_id, extension, kept_by_user_id) for each user whose duplicate extension the
        one-user-per-extension migration cleared."""
        return await self._db.read(_extension_conflicts)


def _extension_conflicts(conn: sqlite3.Connection) -> tuple[tuple[int, str, int | None], ...]:
    return tuple((int(u), str(e), None if k is None else int(k)) for u, e, k in conn.execute(
        "SELECT user_id, extension, kept_by_user_id FROM user_extension_conflicts ORDER BY id"))


def _extension_in_use(conn: sqlite3.Connection, extension: str) -> bool:
    return conn.execute("SELECT 1 FROM users WHERE extension = ? AND active = 1 LIMIT 1",
                        (extension,)).fetchone() is not None


def _by_username(conn: sqlite3.Connection, username: str) -> User:
    row = conn.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
    if row is None:
        raise NotFound("user", username)
    return get_row(conn, USERS, row[0])


class TeamRepo(Repo[Team]):
    def __init__(self, db: Database, clock: Clock, region: str) -> None:
        super().__init__(db, TEAMS, clock, region)


class SkillRepo(Repo[Skill]):
    def __init__(self, db: Database, clock: Clock, region: str) -> None:
        super().__init__(db, SKILLS, clock, region)

    async def for_user(self, user_id: int) -> tuple[Skill, ...]:
        return await self._db.read(_for_user, user_id)

    async def names(self) -> frozenset[str]:
        """Every skill name some user has (read from the skill index, not the rows)."""
        return await self._db.read(_skill_names)

    async def set_skills(self, user_id: int, skills: Mapping[str, int]) -> tuple[Skill, ...]:
        """Replace the user's skills with exactly these (name -> level 1..5)."""
        for name, level in skills.items():
            if not isinstance(name, str) or not name.strip():
                raise ValidationError("skill", "must be a non-empty string", name)
            if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
                raise ValidationError("level", "must be an integer 1..5", level)
        return await self._db.write(_set_skills, user_id, dict(skills))

    def _prepare(self, conn: sqlite3.Connection, values: dict[str, object], now: float,
                 old: Skill | None) -> dict[str, object]:
        level = values.get("level")
        if isinstance(level, int) and not 1 <= level <= 5:
            raise ValidationError("level", "must be 1..5", level)
        return values


def _for_user(conn: sqlite3.Connection, user_id: int) -> tuple[Skill, ...]:
    get_row(conn, USERS, user_id)
    make = row_factory(SKILLS)
    return tuple(make(r) for r in conn.execute(
        "SELECT id, user_id, skill, level FROM skills WHERE user_id = ? ORDER BY skill",
        (user_id,)))


def _skill_names(conn: sqlite3.Connection) -> frozenset[str]:
    return frozenset(r[0] for r in conn.execute("SELECT DISTINCT skill FROM skills"))


def _set_skills(conn: sqlite3.Connection, user_id: int, skills: dict[str, int]
                ) -> tuple[Skill, ...]:
    get_row(conn, USERS, user_id)
    conn.execute("DELETE FROM skills WHERE user_id = ?", (user_id,))
    conn.executemany("INSERT INTO skills (user_id, skill, level) VALUES (?, ?, ?)",
                     [(user_id, k, v) for k, v in skills.items()])
    return _for_user(conn, user_id)
