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
- customer_search_pending(customer_id): triggers on customers queue every insert, rename, kind
  or tier change and delete; `sync_pending` (pinyin needs Python) re-indexes the queued rows.
  Database.write runs it before every commit and Database.open at start, so readers never see
  a stale index after a write through crm_core, and rows written by other tools (or a schema
  upgrade: migration 11 queues every customer) are indexed when the CRM next opens the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from crm_core import search_text as st
from crm_core.models import TIERS

TIER_RANK = {t: i for i, t in enumerate(TIERS)}  # platinum 0 .. bronze 3
_CHUNK = 500



@dataclass(frozen=True, slots=True)
class Indexed:
    """What the index holds for one customer."""

    folded: str
    keys: tuple[str, ...]
    tier: int

    def terms(self) -> dict[str, tuple[int, int]]:
        return st.name_terms(self.folded, self.keys)


def index_entry(name: str, kind: str, tier: str) -> Indexed:
    folded = st.fold(name)
    return Indexed(folded, st.pinyin_keys(folded, kind == "person"), TIER_RANK.get(tier, 9))


# ---- keeping the index up to date (write transaction) ---------------------------------------

def sync_pending(conn: sqlite3.Connection,
                 progress: Callable[[int], None] | None = None) -> int:
    """Re-index every queued customer (inside the caller's write transaction, or in
    autocommit mode where each chunk commits by itself); returns how many were queued."""
    done = 0
    while True:
        ids = [r[0] for r in conn.execute(
            "SELECT customer_id FROM customer_search_pending ORDER BY customer_id LIMIT ?",
            (_CHUNK * 20,))]
        if not ids:
            return done
        bulk = done == 0 and len(ids) == _CHUNK * 20 and not conn.execute(
            "SELECT 1 FROM customer_search LIMIT 1").fetchone()
        for lo in range(0, len(ids), _CHUNK):
            _reindex(conn, ids[lo:lo + _CHUNK], bulk)
        conn.execute("DELETE FROM customer_search_pending WHERE customer_id BETWEEN ? AND ?",
                     (ids[0], ids[-1]))
        done += len(ids)
        if progress is not None:
            progress(done)


def has_pending(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM customer_search_pending LIMIT 1").fetchone() is not None


def _reindex(conn: sqlite3.Connection, ids: Sequence[int], bulk: bool) -> None:
    marks = ",".join("?" * len(ids))
    old: dict[int, Indexed] = {}
    if not bulk:
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
    for cid in ids:
        before, after = old.get(cid), new.get(cid)
        if before == after:
            continue
        had = before.terms() if before is not None else {}
        has = after.terms() if after is not None else {}
        if before is not None:
            for term, (cls, _py) in had.items():
                if after is None or has.get(term, (None, 0))[0] != cls \
                        or after.tier != before.tier:
                    drop_terms.append((term, cls, before.tier, cid))
            drop_rows.append((cid,))
        if after is not None:
            for term, (cls, py) in has.items():
                put_terms.append((term, cls, after.tier, cid, py))
            put_rows.append((cid, after.folded, " ".join(after.keys), after.tier))
    conn.executemany("DELETE FROM customer_terms WHERE term = ? AND cls = ? AND tier = ?"
                     " AND customer_id = ?", drop_terms)
    conn.executemany("INSERT OR REPLACE INTO customer_terms (term, cls, tier, customer_id, py)"
                     " VALUES (?, ?, ?, ?, ?)", put_terms)
    conn.executemany("DELETE FROM customer_search WHERE customer_id = ?", drop_rows)
    conn.executemany("INSERT INTO customer_search (customer_id, folded, pinyin, tier)"
                     " VALUES (?, ?, ?, ?)", put_rows)
