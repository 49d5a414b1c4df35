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
    digits = "".join(ch for ch in q if ch.isdigit())
    whole = try_normalize(q, region) if len(digits) >= 7 else None
    if whole is not None:
        return SearchPlan(st.parse_query(q), raw, "e164 = ?", whole.e164)
    if len(digits) >= 3:
        return SearchPlan(st.parse_query(q), raw, "e164 LIKE ?", f"%{digits}%")
    return SearchPlan(st.parse_query(q), raw)


def _phrase(text: str) -> str:
    # A quoted FTS5 phrase: every character in it (%, _, quotes, operators) is literal.
    return '"' + text.replace('"', '""') + '"'


def _hits(plan: SearchPlan) -> tuple[str, list[object]]:
    """The union of (customer id, class) pairs for a query of 3+ characters (or with a phone
    part); the caller keeps each customer's best class."""
    q = plan.query
    parts: list[str] = []
    args: list[object] = []
    if len(q.text) >= 3:
        phrase = _phrase(q.text)
        parts.append(
            f"SELECT s.customer_id, CASE WHEN s.folded = ? THEN {st.EXACT}"
            f" WHEN substr(s.folded, 1, ?) = ? THEN {st.PREFIX} ELSE {st.SUBSTRING} END"
            " FROM customer_search s WHERE s.customer_id IN"
            " (SELECT rowid FROM customer_search_fts WHERE customer_search_fts MATCH ?)")
        args += [q.text, len(q.text), q.text, phrase]
        parts.append(
            f"SELECT id, {st.EMPLOYER} FROM customers WHERE company_id IN"
            " (SELECT rowid FROM customer_search_fts WHERE customer_search_fts MATCH ?)")
        args.append(phrase)
    elif q.text:
        parts.append("SELECT customer_id, cls FROM customer_terms WHERE term = ?")
        args.append(q.text)
    if q.pinyin and not q.short:
        if len(q.pinyin) <= st.PINYIN_PREFIX_MAX:
            parts.append(f"SELECT customer_id, {st.PINYIN} FROM customer_terms"
                         " WHERE term = ? AND py = 1")
            args.append(q.pinyin)
        else:
            parts.append(f"SELECT customer_id, {st.PINYIN} FROM customer_terms"
                         " WHERE term >= ? AND term < ? AND py = 1")
            args += [q.pinyin, q.pinyin + "{"]
    if len(q.text) >= 3 and len(plan.raw) >= 3:
        parts.append(f"SELECT customer_id, {st.EMAIL} FROM emails WHERE id IN"
                     " (SELECT rowid FROM email_fts WHERE email_fts MATCH ?)")
        args.append(_phrase(plan.raw))
    if plan.phone_sql is not None:
        parts.append(f"SELECT customer_id, {st.PHONE} FROM phones WHERE {plan.phone_sql}")
        args.append(plan.phone_arg)
    return " UNION ALL ".join(parts), args


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
    filt = "".join(f" AND {w}" for w in where)
    q = plan.query
    if q.short and q.text and plan.phone_sql is None:
        # One term: an index range already in rank order.
        if not where:
            total = conn.execute("SELECT COUNT(*) FROM customer_terms WHERE term = ?",
                                 (q.text,)).fetchone()[0]
        else:
            total = conn.execute(
                f"SELECT COUNT(*) FROM customer_terms t JOIN customers c"
                f" ON c.id = t.customer_id WHERE t.term = ?{filt}", [q.text, *params]
            ).fetchone()[0]
        order = order_sql or "t.cls, t.tier, t.customer_id"
        rows = conn.execute(
            f"SELECT {cols} FROM customer_terms t JOIN customers c ON c.id = t.customer_id"
            f" WHERE t.term = ?{filt} ORDER BY {order} LIMIT ? OFFSET ?",
            [q.text, *params, limit, offset]).fetchall()
        return Page(tuple(make(r) for r in rows), int(total), limit, offset)
    hits, args = _hits(plan)
    if not hits:
        return Page((), 0, limit, offset)
    best = f"(SELECT cid, MIN(cls) AS cls FROM (SELECT 0 AS cid, 0 AS cls WHERE 0" \
           f" UNION ALL {hits}) GROUP BY cid) h"
    total = conn.execute(
        f"SELECT COUNT(*) FROM {best} JOIN customers c ON c.id = h.cid WHERE 1{filt}",
        [*args, *params]).fetchone()[0]
    order = order_sql or f"h.cls, {_TIER_SQL}, c.id"
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
