"""The screen-pop: one customer's whole picture, read in one transaction on the database thread.

Each query is a short indexed range scan; the cost that matters is the thread hop, so the
facade ships this whole function to the worker thread once (crm_core.db.Database.read).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from crm_core.campaigns import CALLBACKS
from crm_core.customers import CONTACTS, CUSTOMERS, EMAILS, PHONES
from crm_core.errors import NotFound
from crm_core.interactions import INTERACTIONS
from crm_core.models import (
    Customer,
    CustomerView,
    DepartmentTotal,
    Phone,
    PhoneLookup,
    PhoneMatch,
)
from crm_core.repo import TableSpec, row_factory
from crm_core.sales import OPPORTUNITIES
from crm_core.tickets import TICKETS

LAST_INTERACTIONS = 10
MAX_PHONE_MATCHES = 20


def _select(spec: TableSpec[Any], where: str) -> str:
    return f"SELECT {', '.join(spec.columns)} FROM {spec.table} WHERE {where}"


_CUSTOMER = _select(CUSTOMERS, "id = ?")
_COMPANY_CONTACTS = _select(CONTACTS, "company_id = ? ORDER BY name, id")
_PERSON_CONTACTS = _select(CONTACTS, "person_id = ? ORDER BY id")
_PHONES = _select(PHONES, "customer_id = ? ORDER BY id")
_EMAILS = _select(EMAILS, "customer_id = ? ORDER BY id")
_PURCHASES = (
    "SELECT department, COUNT(*), SUM(total_cents) FROM orders"
    " WHERE customer_id = ? AND status != 'cancelled'"
    " GROUP BY department ORDER BY SUM(total_cents) DESC, department"
)
_TICKETS = _select(TICKETS, "customer_id = ? AND status IN ('open', 'pending') ORDER BY due_at, id")
_OPPORTUNITIES = _select(
    OPPORTUNITIES,
    "customer_id = ? AND stage NOT IN ('won', 'lost') ORDER BY expected_close, id")
_INTERACTIONS = _select(
    INTERACTIONS, f"customer_id = ? ORDER BY created_at DESC, id DESC LIMIT {LAST_INTERACTIONS}")
_CALLBACKS = _select(CALLBACKS, "customer_id = ? AND status = 'pending' ORDER BY due_at, id")
_PHONE_MATCH = _select(PHONES, "e164 = ? ORDER BY extension != ?, extension != '', id LIMIT 1")
_TIER_MATCH = (
    "SELECT c.tier FROM phones p JOIN customers c ON c.id = p.customer_id WHERE p.e164 = ?"
    " ORDER BY p.extension != ?, p.extension != '', p.id LIMIT 1"
)

_customer = row_factory(CUSTOMERS)
_contact = row_factory(CONTACTS)
_phone = row_factory(PHONES)
_email = row_factory(EMAILS)
_ticket = row_factory(TICKETS)
_opportunity = row_factory(OPPORTUNITIES)
_interaction = row_factory(INTERACTIONS)
_callback = row_factory(CALLBACKS)


def customer_view_sync(conn: sqlite3.Connection, customer_id: int,
                       matched_phone: Phone | None = None) -> CustomerView:
    ex = conn.execute
    row = ex(_CUSTOMER, (customer_id,)).fetchone()
    if row is None:
        raise NotFound("customer", customer_id)
    customer: Customer = _customer(row)
    company = None
    if customer.company_id is not None:
        crow = ex(_CUSTOMER, (customer.company_id,)).fetchone()
        company = _customer(crow) if crow else None
    contacts_sql = _COMPANY_CONTACTS if customer.kind == "company" else _PERSON_CONTACTS
    return CustomerView(
        customer=customer,
        company=company,
        contacts=tuple(map(_contact, ex(contacts_sql, (customer_id,)))),
        phones=tuple(map(_phone, ex(_PHONES, (customer_id,)))),
        emails=tuple(map(_email, ex(_EMAILS, (customer_id,)))),
        purchases_by_department=tuple(
            DepartmentTotal(d, int(n), int(t)) for d, n, t in ex(_PURCHASES, (customer_id,))),
        open_tickets=tuple(map(_ticket, ex(_TICKETS, (customer_id,)))),
        open_opportunities=tuple(map(_opportunity, ex(_OPPORTUNITIES, (customer_id,)))),
        last_interactions=tuple(map(_interaction, ex(_INTERACTIONS, (customer_id,)))),
        pending_callbacks=tuple(map(_callback, ex(_CALLBACKS, (customer_id,)))),
        matched_phone=matched_phone,
    )


def match_phone(conn: sqlite3.Connection, e164: str, extension: str = "") -> Phone | None:
    """The phone row for a caller ID: same extension first, then the main line, then oldest."""
    row = conn.execute(_PHONE_MATCH, (e164, extension)).fetchone()
    return _phone(row) if row else None


def lookup_by_phone_sync(conn: sqlite3.Connection, e164: str, extension: str = ""
                         ) -> CustomerView | None:
    phone = match_phone(conn, e164, extension)
    if phone is None:
        return None
    return customer_view_sync(conn, phone.customer_id, phone)


_ALL_MATCHES = (
    f"SELECT {', '.join('p.' + c for c in PHONES.columns)}, c.name, c.kind, c.tier"
    " FROM phones p JOIN customers c ON c.id = p.customer_id WHERE p.e164 = ?"
    " ORDER BY p.extension != ?, p.extension != '', p.id LIMIT ?"
)


def lookup_all_sync(conn: sqlite3.Connection, e164: str, extension: str = ""
                    ) -> PhoneLookup | None:
    """Every customer with this number, best first (as match_phone orders them), and the best
    one's view. A caller ID with an extension that some rows carry narrows the match to them."""
    width = len(PHONES.columns)
    rows = conn.execute(_ALL_MATCHES, (e164, extension, 1000)).fetchall()
    if extension and any(r[PHONES.columns.index("extension")] == extension for r in rows):
        rows = [r for r in rows if r[PHONES.columns.index("extension")] == extension]
    matches: dict[int, PhoneMatch] = {}
    for r in rows:
        phone = _phone(r[:width])
        if phone.customer_id not in matches:
            matches[phone.customer_id] = PhoneMatch(phone.customer_id, r[width], r[width + 1],
                                                    r[width + 2], phone)
    if not matches:
        return None
    total = len(matches)
    if len(rows) == 1000:  # the cap cut the rows: count the customers in SQL
        total = int(conn.execute("SELECT COUNT(DISTINCT customer_id) FROM phones"
                                 " WHERE e164 = ?", (e164,)).fetchone()[0])
    listed = tuple(matches.values())[:MAX_PHONE_MATCHES]
    best = listed[0]
    view = customer_view_sync(conn, best.customer_id, best.phone)
    return PhoneLookup(**{f: getattr(view, f) for f in _VIEW_FIELDS},
                       ambiguous=total > 1, matches=listed, matches_total=total)


_VIEW_FIELDS = tuple(CustomerView.__dataclass_fields__)


def tier_for_phone_sync(conn: sqlite3.Connection, e164: str, extension: str = "") -> str:
    row = conn.execute(_TIER_MATCH, (e164, extension)).fetchone()
    return str(row[0]) if row else "unknown"
