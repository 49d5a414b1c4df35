"""Keeping the customer search index up to date. Normalisation is crm_core/search_text.py, the
tables are migration 11 in crm_core/schema.py, the searches crm_core/search_query.py.

Tables:
- customer_search(customer_id, folded, pinyin, tier): each customer's folded name, its pinyin
  keys (space-separated) and the tier rank they were indexed with; customer_search_fts is a
  trigram index over `folded` (queries of 3+ characters).
- customer_terms(term, cls, tier, customer_id, py) WITHOUT ROWID, keyed in rank order: every
  character and character pair of a folded name and every short pinyin key prefix, with its best
  match class. A 1-2 character query, or a pinyin query up to PINYIN_PREFIX_MAX letters, is one
  index range already sorted by (class, tier, id): the first page is read and the rest is only
  counted, so a surname that matches 5% of a million customers costs a count, not a sort.
- customer_term_counts(term, n): how many customers hold each term (migration 13), so the
  total of a big result is one row.
- customer_search_pending(customer_id): triggers on customers queue every insert, rename, kind
  or tier change and delete; `sync_pending` (pinyin needs Python) re-indexes the queued rows.
  Database.write runs it before every commit and Database.open at start, so readers never see
  a stale index after a write through crm_core, and rows written by other tools (or a schema
  upgrade: migration 11 queues every customer) are indexed when the CRM next opens the file.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from crm_core import search_text as st
from crm_core.models import TIERS

TIER_RANK = {t: i for i, t in enumerate(TIERS)}  # platinum 0 .. bronze 3
_CHUNK = 500
_BULK_MIN = 20_000


@dataclass(frozen=True, slots=True)
class Indexed:
    """What the index holds for one customer."""

    folded: str
    keys: tuple[str, ...]
    tier: int

    def terms(self) -> dict[str, tuple[int, int]]:
        return _terms(self.folded, self.keys)


@functools.lru_cache(maxsize=1 << 16)
def _terms(folded: str, keys: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    # Shared between calls: callers only read it. Names repeat a lot (Wang Wei, Li Na...).
    return st.name_terms(folded, keys)


@functools.lru_cache(maxsize=1 << 16)
def _entry(name: str, person: bool) -> tuple[str, tuple[str, ...]]:
    folded = st.fold(name)
    return folded, st.pinyin_keys(folded, person)


def index_entry(name: str, kind: str, tier: str) -> Indexed:
    folded, keys = _entry(name, kind == "person")
    return Indexed(folded, keys, TIER_RANK.get(tier, 9))


# ---- keeping the index up to date (write transaction) ---------------------------------------

def sync_pending(conn: sqlite3.Connection,
                 progress: Callable[[int], None] | None = None) -> int:
    """Re-index every queued customer inside the caller's write transaction; returns how many
    were queued. An empty index is filled in bulk (terms sorted once, then appended)."""
    if not conn.execute("SELECT 1 FROM customer_search LIMIT 1").fetchone():
        pending = conn.execute("SELECT COUNT(*) FROM customer_search_pending").fetchone()[0]
        if pending >= _BULK_MIN:
            return _fill(conn, progress)
    done = 0
    while True:
        ids = [r[0] for r in conn.execute(
            "SELECT customer_id FROM customer_search_pending ORDER BY customer_id LIMIT ?",
            (_CHUNK,))]
        if not ids:
            return done
        _reindex(conn, ids)
        conn.execute("DELETE FROM customer_search_pending WHERE customer_id BETWEEN ? AND ?",
                     (ids[0], ids[-1]))
        done += len(ids)
        if progress is not None and done % (_CHUNK * 100) == 0:
            progress(done)


def _fill(conn: sqlite3.Connection, progress: Callable[[int], None] | None) -> int:
    # Inserting millions of terms in name order into a b-tree keyed by term is random I/O;
    # collecting them first and inserting them sorted is several times faster.
    conn.execute("CREATE TEMP TABLE bulk_terms (term, cls, tier, customer_id, py)")
    done = 0
    cur = conn.execute("SELECT c.id, c.name, c.kind, c.tier FROM customers c"
                       " JOIN customer_search_pending p ON p.customer_id = c.id ORDER BY c.id")
    while batch := cur.fetchmany(_CHUNK * 20):
        rows: list[tuple[int, str, str, int]] = []
        terms: list[tuple[str, int, int, int, int]] = []
        for cid, name, kind, tier_name in batch:
            e = index_entry(name, kind, tier_name)
            rows.append((cid, e.folded, " ".join(e.keys), e.tier))
            tier = e.tier
            terms += [(t, cls, tier, cid, py) for t, (cls, py) in e.terms().items()]
        conn.executemany("INSERT INTO customer_search (customer_id, folded, pinyin, tier)"
                         " VALUES (?, ?, ?, ?)", rows)
        conn.executemany("INSERT INTO temp.bulk_terms VALUES (?, ?, ?, ?, ?)", terms)
        done += len(batch)
        if progress is not None:
            progress(done)
    conn.execute("INSERT INTO customer_terms (term, cls, tier, customer_id, py)"
                 " SELECT * FROM temp.bulk_terms ORDER BY 1, 2, 3, 4")
    conn.execute("DROP TABLE temp.bulk_terms")
    conn.execute("DELETE FROM customer_term_counts")
    conn.execute("INSERT INTO customer_term_counts (term, n)"
                 " SELECT term, COUNT(*) FROM customer_terms GROUP BY term")
    conn.execute("DELETE FROM customer_search_pending")
    return done


def has_pending(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM customer_search_pending LIMIT 1").fetchone() is not None


def _reindex(conn: sqlite3.Connection, ids: Sequence[int]) -> None:
    marks = ",".join("?" * len(ids))
    old: dict[int, Indexed] = {}
    for cid, folded, pinyin, tier in conn.execute(
            f"SELECT customer_id, folded, pinyin, tier FROM customer_search"
            f" WHERE customer_id IN ({marks})", ids):
        old[cid] = Indexed(folded, tuple(pinyin.split()), tier)
    new = {cid: index_entry(name, kind, tier) for cid, name, kind, tier in conn.execute(
        f"SELECT id, name, kind, tier FROM customers WHERE id IN ({marks})", ids)}
    drop_terms: list[tuple[str, int, int, int]] = []
    put_terms: list[tuple[str, int, int, int, int]] = []
    drop_rows: list[tuple[int]] = []
    put_rows: list[tuple[int, str, str, int]] = []
    retier: list[tuple[int, int]] = []
    counts: dict[str, int] = {}
    for cid in ids:
        before, after = old.get(cid), new.get(cid)
        if before == after:
            continue
        had = before.terms() if before is not None else {}
        has = after.terms() if after is not None else {}
        # A customer holds each term once: the count moves when a term comes or goes.
        for term in had.keys() - has.keys():
            counts[term] = counts.get(term, 0) - 1
        for term in has.keys() - had.keys():
            counts[term] = counts.get(term, 0) + 1
        moved = before is None or after is None or before.tier != after.tier
        for term, (cls, _py) in had.items():
            if moved or has.get(term, (None, 0))[0] != cls:
                assert before is not None
                drop_terms.append((term, cls, before.tier, cid))
        if after is not None:
            for term, (cls, py) in has.items():
                if moved or had.get(term) != (cls, py):
                    put_terms.append((term, cls, after.tier, cid, py))
        if before is not None and after is not None and (before.folded, before.keys) == (
                after.folded, after.keys):
            retier.append((after.tier, cid))  # same name: the trigram index stays as it is
            continue
        if before is not None:
            drop_rows.append((cid,))
        if after is not None:
            put_rows.append((cid, after.folded, " ".join(after.keys), after.tier))
    conn.executemany("DELETE FROM customer_terms WHERE term = ? AND cls = ? AND tier = ?"
                     " AND customer_id = ?", drop_terms)
    conn.executemany("INSERT OR REPLACE INTO customer_terms (term, cls, tier, customer_id, py)"
                     " VALUES (?, ?, ?, ?, ?)", put_terms)
    conn.executemany("UPDATE customer_search SET tier = ? WHERE customer_id = ?", retier)
    conn.executemany("INSERT INTO customer_term_counts (term, n) VALUES (?, ?)"
                     " ON CONFLICT (term) DO UPDATE SET n = n + excluded.n",
                     [(t, n) for t, n in counts.items() if n])
    conn.executemany("DELETE FROM customer_search WHERE customer_id = ?", drop_rows)
    conn.executemany("INSERT INTO customer_search (customer_id, folded, pinyin, tier)"
                     " VALUES (?, ?, ?, ?)", put_rows)
