"""Generic CRUD + search over one table, mapped to a frozen dataclass whose fields are the columns.

The synchronous functions run on the database thread inside one transaction; `Repo` is the async
face the facade exposes. Entity-specific rules (SLA due times, ticket history, rescoring on order
change) are `Repo._prepare` / `Repo._after` overrides that run inside the same transaction.

User input never reaches SQL text: values are bound parameters, column names are checked against
the dataclass, and LIKE wildcards in search terms are escaped.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from common.clock import Clock
from crm_core.db import Database
from crm_core.errors import Conflict, CrmError, NotFound, ValidationError
from crm_core.models import Page
from crm_core.phones import normalize_e164

T = TypeVar("T")

MAX_LIMIT = 1000


@dataclasses.dataclass(frozen=True, slots=True)
class TableSpec(Generic[T]):
    table: str
    model: type[T]
    search_columns: tuple[str, ...] = ()
    choices: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    phone_fields: tuple[str, ...] = ()  # normalised to E.164 on write
    order_by: str = "id"
    immutable: frozenset[str] = frozenset()

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self.model))  # type: ignore[arg-type]

    @property
    def entity(self) -> str:
        return self.model.__name__.lower()


def like_pattern(term: str) -> str:
    """A LIKE pattern matching `term` anywhere, its own % and _ taken literally (ESCAPE '\\')."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_TYPE_CACHE: dict[type[Any], dict[str, tuple[type, ...]]] = {}


def _accepted_types(model: type[Any]) -> dict[str, tuple[type, ...]]:
    cached = _TYPE_CACHE.get(model)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(model)
    out: dict[str, tuple[type, ...]] = {}
    for name, hint in hints.items():
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        accepted: list[type] = []
        for a in args:
            if a is float:
                accepted += [int, float]
            elif isinstance(a, type):
                accepted.append(a)
        out[name] = tuple(accepted)
    _TYPE_CACHE[model] = out
    return out


_I64 = -(2**63)


def check_id(entity: str, row_id: object) -> int:
    """Row ids as SQLite stores them; anything else cannot name a row."""
    if isinstance(row_id, bool) or not isinstance(row_id, int):
        raise ValidationError("id", "must be an integer", row_id)
    if not 0 < row_id < 2**63:
        raise NotFound(entity, row_id)
    return row_id


def check_text(field: str, value: str) -> None:
    """Text SQLite can store: JSON can carry lone UTF-16 surrogates, which UTF-8 cannot."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(field, "not valid Unicode text (lone surrogate)", value) from None


def check_value(spec: TableSpec[Any], field: str, value: object) -> None:
    accepted = _accepted_types(spec.model).get(field)
    if accepted is None:
        raise ValidationError(field, f"unknown field of {spec.entity}", value)
    # bool is an int subclass: an int field must not silently take True.
    if isinstance(value, bool) and bool not in accepted:
        raise ValidationError(field, f"expected {_names(accepted)}", value)
    if not isinstance(value, accepted):
        raise ValidationError(field, f"expected {_names(accepted)}", value)
    if isinstance(value, str):
        check_text(field, value)
    if isinstance(value, int) and not isinstance(value, bool) and not _I64 <= value < -_I64:
        raise ValidationError(field, "integer out of range", value)
    allowed = spec.choices.get(field)
    if allowed is not None and value is not None and value not in allowed:
        raise ValidationError(field, f"must be one of {', '.join(allowed)}", value)


def _names(ts: tuple[type, ...]) -> str:
    return " or ".join("None" if t is type(None) else t.__name__ for t in ts)


def row_factory(spec: TableSpec[T]) -> Callable[[tuple[Any, ...]], T]:
    hints = _accepted_types(spec.model)
    bool_idx = [i for i, c in enumerate(spec.columns) if hints[c] == (bool,)]
    model = spec.model
    if not bool_idx:
        return lambda row: model(*row)

    def make(row: tuple[Any, ...]) -> T:
        vals = list(row)
        for i in bool_idx:
            vals[i] = bool(vals[i])
        return model(*vals)

    return make


def integrity_error(spec: TableSpec[Any], exc: sqlite3.IntegrityError) -> CrmError:
    msg = str(exc)
    if "UNIQUE" in msg:
        return Conflict(f"{spec.entity}: duplicate value ({msg})", {"entity": spec.entity})
    if "FOREIGN KEY" in msg:
        return Conflict(
            f"{spec.entity}: a referenced row does not exist, or rows still refer to this one",
            {"entity": spec.entity},
        )
    return ValidationError(spec.entity, msg)


# ---- synchronous operations (database thread) ----------------------------------------------

def get_row(conn: sqlite3.Connection, spec: TableSpec[T], row_id: int) -> T:
    row = conn.execute(
        f"SELECT {', '.join(spec.columns)} FROM {spec.table} WHERE id = ?", (row_id,)
    ).fetchone()
    if row is None:
        raise NotFound(spec.entity, row_id)
    return row_factory(spec)(row)


def find_row(conn: sqlite3.Connection, spec: TableSpec[T], row_id: int) -> T | None:
    try:
        return get_row(conn, spec, row_id)
    except NotFound:
        return None


def insert_row(conn: sqlite3.Connection, spec: TableSpec[T], values: Mapping[str, object]) -> T:
    cols = [c for c in values if c != "id"]
    sql = (
        f"INSERT INTO {spec.table} ({', '.join(cols)}) "
        f"VALUES ({', '.join('?' for _ in cols)})"
    )
    try:
        cur = conn.execute(sql, [_db_value(values[c]) for c in cols])
    except sqlite3.IntegrityError as exc:
        raise integrity_error(spec, exc) from None
    assert cur.lastrowid is not None
    return get_row(conn, spec, cur.lastrowid)


def update_row(
    conn: sqlite3.Connection, spec: TableSpec[T], row_id: int, changes: Mapping[str, object]
) -> T:
    if changes:
        sets = ", ".join(f"{c} = ?" for c in changes)
        try:
            cur = conn.execute(
                f"UPDATE {spec.table} SET {sets} WHERE id = ?",
                [*(_db_value(v) for v in changes.values()), row_id],
            )
        except sqlite3.IntegrityError as exc:
            raise integrity_error(spec, exc) from None
        if cur.rowcount == 0:
            raise NotFound(spec.entity, row_id)
    return get_row(conn, spec, row_id)


def delete_row(conn: sqlite3.Connection, spec: TableSpec[Any], row_id: int) -> None:
    try:
        cur = conn.execute(f"DELETE FROM {spec.table} WHERE id = ?", (row_id,))
    except sqlite3.IntegrityError as exc:
        raise integrity_error(spec, exc) from None
    if cur.rowcount == 0:
        raise NotFound(spec.entity, row_id)


def search_rows(
    conn: sqlite3.Connection,
    spec: TableSpec[T],
    where: list[str],
    params: list[object],
    limit: int,
    offset: int,
    order_by: str,
) -> Page[T]:
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    total = conn.execute(f"SELECT COUNT(*) FROM {spec.table}{clause}", params).fetchone()[0]
    rows = conn.execute(
        f"SELECT {', '.join(spec.columns)} FROM {spec.table}{clause} "
        f"ORDER BY {order_by} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    make = row_factory(spec)
    return Page(tuple(make(r) for r in rows), int(total), limit, offset)


def _db_value(v: object) -> object:
    return int(v) if isinstance(v, bool) else v


# ---- async face -----------------------------------------------------------------------------

class Repo(Generic[T]):
    """CRUD + search for one entity. Subclasses add the entity's rules in _prepare/_after."""

    def __init__(self, db: Database, spec: TableSpec[T], clock: Clock, region: str) -> None:
        self._db = db
        self.spec = spec
        self._clock = clock
        self._region = region

    async def get(self, row_id: int) -> T:
        check_id(self.spec.entity, row_id)
        return await self._db.point_read(get_row, self.spec, row_id)

    async def create(self, **values: object) -> T:
        """Insert a row; `id` is assigned; created_at/updated_at default to now."""
        return await self._db.write(self._create_sync, dict(values), self._clock.now())

    async def update(self, row_id: int, **changes: object) -> T:
        """Change the given fields; returns the row as stored. Unknown fields are an error."""
        check_id(self.spec.entity, row_id)
        return await self._db.write(self._update_sync, row_id, dict(changes), self._clock.now())

    async def delete(self, row_id: int) -> None:
        check_id(self.spec.entity, row_id)
        await self._db.write(self._delete_sync, row_id, self._clock.now())

    async def search(
        self,
        q: str | None = None,
        *,
        limit: int = 50,
        offset: int = 0,
        order_by: str | None = None,
        descending: bool = False,
        **filters: object,
    ) -> Page[T]:
        """Rows whose search columns contain `q` (case-insensitive) and whose columns equal
        `filters`, ordered by `order_by` (a column name), paginated; `total` ignores paging."""
        self._check_search(q, limit, offset, order_by)
        order = order_by or self.spec.order_by
        order_sql = f"{order} {'DESC' if descending else 'ASC'}, id"
        where, params = self._filters(filters)
        if q:
            w, p = self._search_clause(q)
            where.append(w)
            params.extend(p)
        return await self._db.scan(
            search_rows, self.spec, where, params, limit, offset, order_sql
        )

    def _check_search(self, q: str | None, limit: int, offset: int, order_by: str | None
                      ) -> None:
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError("limit", f"must be 1..{MAX_LIMIT}", limit)
        if offset < 0:
            raise ValidationError("offset", "must be >= 0", offset)
        order = order_by or self.spec.order_by
        if order not in self.spec.columns:
            raise ValidationError("order_by", f"not a column of {self.spec.entity}", order)
        if q:
            check_text("q", q)
        if q and "\x00" in q:
            # SQLite's LIKE stops reading a pattern at NUL: "a\0" would match everything.
            raise ValidationError("q", "NUL character in search text", q)

    # -- hooks -------------------------------------------------------------------------------

    def _search_clause(self, q: str) -> tuple[str, list[object]]:
        if not self.spec.search_columns:
            raise ValidationError("q", f"{self.spec.entity} has no text search")
        pattern = like_pattern(q)
        parts = [f"{c} LIKE ? ESCAPE '\\'" for c in self.spec.search_columns]
        return "(" + " OR ".join(parts) + ")", [pattern] * len(parts)

    def _filters(self, filters: Mapping[str, object], alias: str = ""
                 ) -> tuple[list[str], list[object]]:
        """Equality filters as SQL on the given table alias ("c." or "")."""
        where: list[str] = []
        params: list[object] = []
        for col, val in filters.items():
            if col not in self.spec.columns:
                raise ValidationError(col, f"not a column of {self.spec.entity}", val)
            if val is None:
                where.append(f"{alias}{col} IS NULL")
                continue
            check_value(self.spec, col, val)
            if col in self.spec.phone_fields and isinstance(val, str):
                val = normalize_e164(val, self._region).e164
            where.append(f"{alias}{col} = ?")
            params.append(_db_value(val))
        return where, params

    def _prepare(
        self, conn: sqlite3.Connection, values: dict[str, object], now: float, old: T | None
    ) -> dict[str, object]:
        """Validate and complete values before they are written (old is None on create)."""
        return values

    def _after(self, conn: sqlite3.Connection, old: T | None, new: T | None, now: float) -> None:
        """Side effects in the same transaction (new is None on delete)."""

    # -- synchronous bodies -----------------------------------------------------------------------

    def _validate(self, values: Mapping[str, object], creating: bool) -> dict[str, object]:
        out: dict[str, object] = {}
        for k, v in values.items():
            if k == "id":
                raise ValidationError("id", "is assigned by the database", v)
            if not creating and k in self.spec.immutable:
                raise ValidationError(k, "cannot be changed", v)
            check_value(self.spec, k, v)
            if k in self.spec.phone_fields and isinstance(v, str):
                v = normalize_e164(v, self._region).e164
            out[k] = v
        return out

    def _create_sync(self, conn: sqlite3.Connection, values: dict[str, object], now: float) -> T:
        vals = self._validate(values, creating=True)
        cols = self.spec.columns
        if "created_at" in cols:
            vals.setdefault("created_at", now)
        if "updated_at" in cols:
            vals.setdefault("updated_at", now)
        vals = self._prepare(conn, vals, now, None)
        accepted = _accepted_types(self.spec.model)
        missing = [
            f.name for f in dataclasses.fields(self.spec.model)  # type: ignore[arg-type]
            if f.name != "id" and f.name not in vals and type(None) not in accepted[f.name]
            and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise ValidationError(missing[0], "is required")
        row = insert_row(conn, self.spec, vals)
        self._after(conn, None, row, now)
        return row

    def _update_sync(
        self, conn: sqlite3.Connection, row_id: int, changes: dict[str, object], now: float
    ) -> T:
        vals = self._validate(changes, creating=False)
        old = get_row(conn, self.spec, row_id)
        if "updated_at" in self.spec.columns and vals:
            vals.setdefault("updated_at", now)
        vals = self._prepare(conn, vals, now, old)
        new = update_row(conn, self.spec, row_id, vals)
        self._after(conn, old, new, now)
        return new

    def _delete_sync(self, conn: sqlite3.Connection, row_id: int, now: float) -> None:
        old = get_row(conn, self.spec, row_id)
        delete_row(conn, self.spec, row_id)
        self._after(conn, old, None, now)
