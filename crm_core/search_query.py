"""Customer search over the index of crm_core/search_index.py: what `/api/customers?q=` runs.

A query matches a customer's name (folded: case, width, traditional/simplified, accents), its
pinyin (full or initials, from any syllable boundary), and for queries of three or more
characters also the employer's name and the e-mail addresses; a query holding 3+ digits also
matches phone numbers as before (a whole number through the caller-ID index). Results are
ranked by class (search_text: exact name, name prefix, substring, pinyin, employer, e-mail,
phone), then tier (platinum first), then id.

- 1-2 characters: one range of customer_terms, already in rank order (no sort, no scan).
- 3+ characters: the trigram index over folded names (and e-mails), the pinyin terms, ranked
  in SQL; such queries are selective.

`scan_customers` is the same search as a plain LIKE scan: the benchmark's baseline.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from crm_core import search_text as st
from crm_core.models import Customer, Page
from crm_core.phones import try_normalize
from crm_core.repo import TableSpec, like_pattern, row_factory
from crm_core.search_index import TIER_RANK

_TIER_SQL = ("CASE c.tier " + " ".join(f"WHEN '{t}' THEN {i}" for t, i in TIER_RANK.items())
             + " ELSE 9 END")


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """A parsed customer search: the folded query, its pinyin form, the raw text for e-mail
    addresses and the phone clause (kept as it was: whole numbers through the caller-ID index,
    3+ digits as a substring of the number)."""

    query: st.Query
    raw: str
    phone_sql: str | None = None
    phone_arg: str | None = None


def plan_search(q: str, region: str) -> SearchPlan:
    raw = q.strip()
    query = st.parse_query(q)
    # In pinyin the digits are tones ("zhang1 wei3"), not part of a phone number.
    digits = "" if query.pinyin else "".join(ch for ch in q if ch.isdigit())
    whole = try_normalize(q, region) if len(digits) >= 7 else None
    if whole is not None:
        return SearchPlan(query, raw, "e164 = ?", whole.e164)
    if len(digits) >= 3:
        return SearchPlan(query, raw, "e164 LIKE ?", f"%{digits}%")
    return SearchPlan(query, raw)


def _phrase(text: str) -> str:
    # A quoted FTS5 phrase: every character in it (%, _, quotes, operators) is literal.
    return '"' + text.replace('"', '""') + '"'


def _hits(plan: SearchPlan, pinyin: bool) -> tuple[str, list[object]]:
    """The union of (customer id, class, tier rank) rows for a query of 3+ characters (or with
    a phone part); a customer's best class counts. `pinyin`: include the pinyin matches."""
    q = plan.query
    parts: list[str] = []
    args: list[object] = []
    if len(q.text) >= 3:
        phrase = _phrase(q.text)
        parts.append(
            f"SELECT s.customer_id, CASE WHEN s.folded = ? THEN {st.EXACT}"
            f" WHEN substr(s.folded, 1, ?) = ? THEN {st.PREFIX} ELSE {st.SUBSTRING} END, s.tier"
            " FROM customer_search s WHERE s.customer_id IN"
            " (SELECT rowid FROM customer_search_fts WHERE customer_search_fts MATCH ?)")
        args += [q.text, len(q.text), q.text, phrase]
        parts.append(
            f"SELECT c.id, {st.EMPLOYER}, {_TIER_SQL} FROM customers c WHERE c.company_id IN"
            " (SELECT rowid FROM customer_search_fts WHERE customer_search_fts MATCH ?)")
        args.append(phrase)
    elif q.text:
        parts.append("SELECT customer_id, cls, tier FROM customer_terms WHERE term = ?")
        args.append(q.text)
    if pinyin and q.pinyin and not q.short:
        if len(q.pinyin) <= st.PINYIN_PREFIX_MAX:
            parts.append(f"SELECT customer_id, {st.PINYIN}, tier FROM customer_terms"
                         " WHERE term = ? AND py = 1")
            args.append(q.pinyin)
        else:
            parts.append(f"SELECT customer_id, {st.PINYIN}, tier FROM customer_terms"
                         " WHERE term >= ? AND term < ? AND py = 1")
            args += [q.pinyin, q.pinyin + "{"]
    if len(q.text) >= 3 and len(plan.raw) >= 3:
        parts.append(f"SELECT c.id, {st.EMAIL}, {_TIER_SQL} FROM emails e"
                     " JOIN customers c ON c.id = e.customer_id WHERE e.id IN"
                     " (SELECT rowid FROM email_fts WHERE email_fts MATCH ?)")
        args.append(_phrase(plan.raw))
    if plan.phone_sql is not None:
        parts.append(f"SELECT c.id, {st.PHONE}, {_TIER_SQL} FROM phones p"
                     f" JOIN customers c ON c.id = p.customer_id WHERE p.{plan.phone_sql}")
        args.append(plan.phone_arg)
    return " UNION ALL ".join(parts), args


def _best(conn: sqlite3.Connection, hits: str, args: list[object]
          ) -> dict[int, tuple[int, int]]:
    """customer id -> (best class, tier rank) over the hit rows."""
    if not hits:
        return {}
    return {cid: (cls, tier) for cid, cls, tier in conn.execute(
        f"SELECT cid, MIN(cls), MIN(tier) FROM (SELECT 0 AS cid, 0 AS cls, 0 AS tier WHERE 0"
        f" UNION ALL {hits}) GROUP BY cid", args)}


def _term_count(conn: sqlite3.Connection, term: str) -> int:
    row = conn.execute("SELECT n FROM customer_term_counts WHERE term = ?", (term,)).fetchone()
    return int(row[0]) if row else 0


def _ranked_ids(conn: sqlite3.Connection, plan: SearchPlan, limit: int, offset: int
                ) -> tuple[int, list[int]]:
    """(total, the page's customer ids in rank order), without filters.

    A short query is one index range in rank order. Otherwise the text, employer, e-mail and
    phone hits are collected and sorted (3+ characters: selective), while pinyin matches of a
    syllable or less (zhang, wang: 5% of all customers each) are read from their index range
    in rank order, only as far as the page needs, and counted."""
    q = plan.query
    if q.short and q.text and plan.phone_sql is None:
        total = _term_count(conn, q.text)
        ids = [r[0] for r in conn.execute(
            "SELECT customer_id FROM customer_terms WHERE term = ?"
            " ORDER BY cls, tier, customer_id LIMIT ? OFFSET ?", (q.text, limit, offset))]
        return int(total), ids
    # Pinyin terms of 3+ letters hold nothing but pinyin rows (class PINYIN).
    stream = q.pinyin if (not q.short and 3 <= len(q.pinyin) <= st.PINYIN_PREFIX_MAX) else ""
    hits, args = _hits(plan, pinyin=not stream)
    if not stream:
        everything = _best(conn, hits, args)
        ranked = sorted(everything, key=lambda cid: (*everything[cid], cid))
        return len(ranked), ranked[offset:offset + limit]
    best: dict[int, tuple[int, int]] = {}
    in_stream: set[int] = set()
    if hits:
        for cid, cls, tier, also in conn.execute(
                f"SELECT g.cid, g.cls, g.tier, EXISTS (SELECT 1 FROM customer_terms t"
                f" WHERE t.term = ? AND t.cls = ? AND t.tier = g.tier AND t.customer_id = g.cid)"
                f" FROM (SELECT cid, MIN(cls) AS cls, MIN(tier) AS tier FROM (SELECT 0 AS cid,"
                f" 0 AS cls, 0 AS tier WHERE 0 UNION ALL {hits}) GROUP BY cid) g",
                [stream, st.PINYIN, *args]):
            best[cid] = (cls, tier)
            if also:
                in_stream.add(cid)
    head = sorted((cid for cid, (cls, _t) in best.items() if cls < st.PINYIN),
                  key=lambda cid: (*best[cid], cid))
    tail = sorted((cid for cid, (cls, _t) in best.items()
                   if cls > st.PINYIN and cid not in in_stream),
                  key=lambda cid: (*best[cid], cid))
    skip = in_stream.intersection(head)
    n_stream = _term_count(conn, stream) - len(skip)
    ids = head[offset:offset + limit]
    start = max(0, offset - len(head))
    want = limit - len(ids)
    if want > 0 and start < n_stream:
        rows = conn.execute(
            "SELECT customer_id FROM customer_terms WHERE term = ? AND cls = ?"
            " ORDER BY tier, customer_id LIMIT ?", (stream, st.PINYIN, start + want + len(skip)))
        middle = [r[0] for r in rows if r[0] not in skip]
        ids += middle[start:start + want]
    want = limit - len(ids)
    if want > 0:
        start = max(0, offset - len(head) - n_stream)
        ids += tail[start:start + want]
    return len(head) + n_stream + len(tail), ids


def search_customers(
    conn: sqlite3.Connection,
    spec: TableSpec[Customer],
    plan: SearchPlan,
    where: list[str],
    params: list[object],
    limit: int,
    offset: int,
    order_sql: str | None,
) -> Page[Customer]:
    """Customers matching `plan` and the column filters `where` (on alias c), ranked (class,
    tier, id) unless `order_sql` (columns of c) says otherwise; `total` ignores paging."""
    cols = ", ".join(f"c.{col}" for col in spec.columns)
    make = row_factory(spec)
    if not where and order_sql is None:
        total, ids = _ranked_ids(conn, plan, limit, offset)
        if not ids:
            return Page((), total, limit, offset)
        by_id = {r[0]: make(r) for r in conn.execute(
            f"SELECT {cols} FROM customers c WHERE c.id IN ({','.join('?' * len(ids))})", ids)}
        return Page(tuple(by_id[i] for i in ids if i in by_id), total, limit, offset)
    # Filters or an explicit order: every match is joined with its row (and sorted).
    filt = "".join(f" AND {w}" for w in where)
    hits, args = _hits(plan, pinyin=True)
    if not hits:
        return Page((), 0, limit, offset)
    best = (f"(SELECT cid, MIN(cls) AS cls, MIN(tier) AS tier FROM (SELECT 0 AS cid,"
            f" 0 AS cls, 0 AS tier WHERE 0 UNION ALL {hits}) GROUP BY cid) h")
    total = conn.execute(
        f"SELECT COUNT(*) FROM {best} JOIN customers c ON c.id = h.cid WHERE 1{filt}",
        [*args, *params]).fetchone()[0]
    order = order_sql or "h.cls, h.tier, c.id"
    rows = conn.execute(
        f"SELECT {cols} FROM {best} JOIN customers c ON c.id = h.cid WHERE 1{filt}"
        f" ORDER BY {order} LIMIT ? OFFSET ?", [*args, *params, limit, offset]).fetchall()
    return Page(tuple(make(r) for r in rows), int(total), limit, offset)


def scan_customers(conn: sqlite3.Connection, plan: SearchPlan, limit: int, offset: int
                   ) -> tuple[int, list[int]]:
    """The same search as a plain scan (LIKE over every normalised name, no term or trigram
    index): the benchmark's baseline and a cross-check. Returns (total, ids of the page)."""
    q = plan.query
    parts: list[str] = []
    args: list[object] = []
    if q.text:
        sub = like_pattern(q.text)
        parts.append(
            f"SELECT s.customer_id AS cid, CASE WHEN s.folded = ? THEN {st.EXACT}"
            f" WHEN s.folded LIKE ? ESCAPE '\\' THEN {st.PREFIX}"
            f" WHEN s.folded LIKE ? ESCAPE '\\' THEN {st.SUBSTRING}"
            f" WHEN ? <> '' AND (' ' || s.pinyin) LIKE ? THEN {st.PINYIN} END AS cls"
            " FROM customer_search s")
        args += [q.text, sub[1:], sub, q.pinyin, f"% {q.pinyin}%"]
        if len(q.text) >= 3:
            parts.append(
                f"SELECT c.id, {st.EMPLOYER} FROM customers c JOIN customer_search s"
                " ON s.customer_id = c.company_id WHERE s.folded LIKE ? ESCAPE '\\'")
            args.append(sub)
    if len(q.text) >= 3 and len(plan.raw) >= 3:
        parts.append(f"SELECT customer_id, {st.EMAIL} FROM emails WHERE address LIKE ?"
                     " ESCAPE '\\'")
        args.append(like_pattern(plan.raw))
    if plan.phone_sql is not None:
        parts.append(f"SELECT customer_id, {st.PHONE} FROM phones WHERE {plan.phone_sql}")
        args.append(plan.phone_arg)
    if not parts:
        return 0, []
    sql = (f"SELECT h.cid FROM (SELECT cid, MIN(cls) AS cls FROM ("
           f"{' UNION ALL '.join(parts)}) WHERE cls IS NOT NULL GROUP BY cid) h"
           f" JOIN customers c ON c.id = h.cid ORDER BY h.cls, {_TIER_SQL}, c.id")
    ids = [r[0] for r in conn.execute(sql, args)]
    return len(ids), ids[offset:offset + limit]
