"""The CRM's SQLite connections, and how work reaches their threads.

Each aiosqlite call is a hop to its worker thread and back (tens of microseconds). A screen-pop
needs ten queries, so instead of ten hops we ship one synchronous function to the worker thread
and run all of it there: `await db.read(fn, *args)` / `await db.write(fn, *args)`.

Two aiosqlite connections (WAL lets readers run beside the writer): the main one for writes and
short reads, and a query-only one for `scan` (searches, listings), so a search that has to read
a million rows never sits in front of a screen-pop or a call log in the main queue.
`point_read` is for bounded indexed lookups, which CrmSettings.inline_reads may run on the loop
thread over a third, plain sqlite3 connection.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import aiosqlite

from crm_core import schema, search_index
from crm_core.errors import Conflict, StorageError, ValidationError

P = ParamSpec("P")
R = TypeVar("R")


async def _connect(path: str) -> aiosqlite.Connection:
    """An aiosqlite connection; when opening fails, its worker thread is gone before the error
    is raised.

    aiosqlite (0.22.1) answers a failed connect by queueing its worker thread's stop without
    waiting for it. The thread then posts the stop's result to this event loop, which may be
    closed by the time it gets there: a "RuntimeError: Event loop is closed" in that thread
    (the test suite showed it as a warning in whichever test ran next). Waiting here costs a
    failed open a thread join and nothing else.
    """
    pending = aiosqlite.connect(path, isolation_level=None)
    try:
        return await pending
    except sqlite3.Error:
        worker = getattr(pending, "_thread", None)  # (aiosqlite has no public join)
        if isinstance(worker, threading.Thread) and worker.is_alive():
            await asyncio.to_thread(worker.join, 5.0)
        raise


class Database:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._scan: aiosqlite.Connection | None = None
        self._reader: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: str | Path, now: float, *, inline_reads: bool = False
                   ) -> Database:
        """inline_reads: run point_read() on the event-loop thread over a second, query-only
        connection instead of hopping to the worker thread. A cached screen-pop costs ~100 us
        of CPU, less than the two thread wake-ups of a hop, whose tail on a loaded machine is
        milliseconds; the price is that a read from a cold disk blocks the loop."""
        try:
            conn = await _connect(str(path))
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the CRM database {str(path)!r}: {exc}",
                               {"path": str(path)}) from exc
        db = cls(conn)
        try:
            await db.call(_setup, now)
            scan = await _connect(str(path))
            db._scan = scan
            await db._hop_on(scan, None, _setup_reader)
            if inline_reads:
                reader = sqlite3.connect(str(path), isolation_level=None)
                _setup_reader(reader)
                db._reader = reader
        except sqlite3.DatabaseError as exc:  # e.g. "file is not a database"
            await db.close()
            raise StorageError(f"cannot open the CRM database {str(path)!r}: {exc}",
                               {"path": str(path)}) from exc
        except BaseException:
            await db.close()
            raise
        return db

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._scan is not None:
            await self._scan.close()
            self._scan = None
        await self._conn.close()

    async def call(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Run fn(conn, ...) on the worker thread, outside any transaction (one hop)."""
        return await self._hop(None, fn, *args, **kwargs)

    async def read(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Run fn in one read transaction: every query in it sees the same WAL snapshot."""
        return await self._hop("BEGIN", fn, *args, **kwargs)

    async def point_read(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Like read(), for a bounded set of indexed lookups (a screen-pop, a row by id): with
        inline_reads it runs right here on the loop thread. Never use it for scans."""
        if self._reader is not None:
            return _in_tx(self._reader, "BEGIN", lambda c: fn(c, *args, **kwargs))
        return await self._hop("BEGIN", fn, *args, **kwargs)

    async def write(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Run fn in one write transaction; any exception rolls all of it back. Customers it
        changed are re-indexed for search in the same transaction."""
        return await self._hop("BEGIN IMMEDIATE", _indexed(fn), *args, **kwargs)

    async def scan(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, P], R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Like read(), on the query-only scan connection: for searches and listings."""
        conn = self._scan if self._scan is not None else self._conn
        return await self._hop_on(conn, "BEGIN", fn, *args, **kwargs)

    async def _hop(
        self,
        begin: str | None,
        fn: Callable[Concatenate[sqlite3.Connection, P], R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        return await self._hop_on(self._conn, begin, fn, *args, **kwargs)

    @staticmethod
    async def _hop_on(
        raw: aiosqlite.Connection,
        begin: str | None,
        fn: Callable[Concatenate[sqlite3.Connection, P], R],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:

        def job() -> R:
            # aiosqlite has no public "run this on your thread"; _execute/_conn are the
            # mechanism behind every one of its public methods (stable across 0.17..0.22).
            conn: sqlite3.Connection = raw._conn
            if begin is None:
                return fn(conn, *args, **kwargs)
            return _in_tx(conn, begin, lambda c: fn(c, *args, **kwargs))

        result: R = await raw._execute(job)  # type: ignore[no-untyped-call]
        return result


def _indexed(fn: Callable[Concatenate[sqlite3.Connection, P], R]
             ) -> Callable[Concatenate[sqlite3.Connection, P], R]:
    def run(conn: sqlite3.Connection, /, *args: P.args, **kwargs: P.kwargs) -> R:
        result = fn(conn, *args, **kwargs)
        if search_index.has_pending(conn):
            search_index.sync_pending(conn)
        return result
    return run


def _setup(conn: sqlite3.Connection, now: float) -> None:
    schema.configure(conn)
    schema.migrate(conn, now)
    # Customers written by other tools, or queued by the migration that built the index.
    if search_index.has_pending(conn):
        _in_tx(conn, "BEGIN IMMEDIATE", search_index.sync_pending)


def _setup_reader(conn: sqlite3.Connection) -> None:
    schema.configure(conn)
    conn.execute("PRAGMA query_only = ON")


def _in_tx(conn: sqlite3.Connection, begin: str, fn: Callable[[sqlite3.Connection], R]) -> R:
    try:
        conn.execute(begin)
        try:
            result = fn(conn)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except sqlite3.IntegrityError as exc:
        # Repositories map the constraint errors they expect; this is the backstop.
        raise Conflict(f"constraint failed: {exc}") from exc
    except UnicodeEncodeError as exc:
        # A lone surrogate (JSON "\ud800") in any bound text: UTF-8 cannot carry it.
        raise ValidationError("text", "not valid Unicode text (lone surrogate)",
                              exc.object[max(0, exc.start - 10):exc.end + 10]) from exc
    except sqlite3.Error as exc:
        raise StorageError(f"database error: {exc}") from exc
    return result


def run_read(conn: sqlite3.Connection, fn: Callable[..., R], *args: object) -> R:
    """The synchronous twin of Database.read, for scripts holding a plain sqlite3 connection."""
    return _in_tx(conn, "BEGIN", lambda c: fn(c, *args))


def run_write(conn: sqlite3.Connection, fn: Callable[..., R], *args: object) -> R:
    return _in_tx(conn, "BEGIN IMMEDIATE", lambda c: _indexed(fn)(c, *args))
