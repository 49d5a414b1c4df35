"""Customers (people and companies), a company's contacts, phone numbers and e-mail addresses."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping

from common.clock import Clock
from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.models import (
    CUSTOMER_KINDS,
    STAGES,
    TIERS,
    Contact,
    Customer,
    Email,
    Page,
    Phone,
)
from crm_core.phones import normalize_e164
from crm_core.repo import Repo, TableSpec, find_row
from crm_core.search_query import plan_search, search_customers

CUSTOMERS = TableSpec(
    "customers", Customer, ("name",),
    choices={"kind": CUSTOMER_KINDS, "stage": STAGES, "tier": TIERS},
    order_by="name",
)
CONTACTS = TableSpec("contacts", Contact, ("name", "role"), immutable=frozenset({"company_id"}))
PHONES = TableSpec("phones", Phone, ("e164", "label"), phone_fields=("e164",))
EMAILS = TableSpec("emails", Email, ("address", "label"))

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _require_company(conn: sqlite3.Connection, field: str, cid: object) -> None:
    if cid is None:
        return
    row = conn.execute("SELECT kind FROM customers WHERE id = ?", (cid,)).fetchone()
    if row is None:
        raise ValidationError(field, "no such customer", cid)
    if row[0] != "company":
        raise ValidationError(field, "must be a company customer", cid)


class CustomerRepo(Repo[Customer]):
    def __init__(self, db: Database, clock: Clock, region: str) -> None:
        super().__init__(db, CUSTOMERS, clock, region)

    async def search(
        self,
        q: str | None = None,
        *,
        limit: int = 50,
        offset: int = 0,
        order_by: str | None = None,
        descending: bool = False,
        **filters: object,
    ) -> Page[Customer]:
        """Customers by name (any script, traditional or simplified), pinyin, employer, e-mail
        or phone number, ranked (see crm_core/search_query.py) unless `order_by` is given."""
        if not q or not q.strip():
            return await super().search(None, limit=limit, offset=offset, order_by=order_by,
                                        descending=descending, **filters)
        self._check_search(q, limit, offset, order_by)
        where, params = self._filters(filters, alias="c.")
        order_sql = None
        if order_by is not None:
            order_sql = f"c.{order_by} {'DESC' if descending else 'ASC'}, c.id"
        plan = plan_search(q, self._region)
        return await self._db.scan(search_customers, self.spec, plan, where, params, limit,
                                   offset, order_sql)

    def _prepare(self, conn: sqlite3.Connection, values: dict[str, object], now: float,
                 old: Customer | None) -> dict[str, object]:
        if "name" in values and not str(values["name"]).strip():
            raise ValidationError("name", "must not be empty", values["name"])
        kind = values.get("kind", old.kind if old else None)
        employer = values.get("company_id", old.company_id if old else None)
        if kind == "company" and employer is not None:
            raise ValidationError("company_id", "a company has no employer", employer)
        if "company_id" in values:
            if old is not None and values["company_id"] == old.id:
                raise ValidationError("company_id", "a customer cannot employ itself", old.id)
            _require_company(conn, "company_id", values["company_id"])
        return values


class ContactRepo(Repo[Contact]):
    def __init__(self, db: Database, clock: Clock, region: str) -> None:
        super().__init__(db, CONTACTS, clock, region)

    def _prepare(self, conn: sqlite3.Connection, values: dict[str, object], now: float,
                 old: Contact | None) -> dict[str, object]:
        if "company_id" in values:
            _require_company(conn, "company_id", values["company_id"])
        person = values.get("person_id")
        if person is not None:
            row = conn.execute("SELECT kind FROM customers WHERE id = ?", (person,)).fetchone()
            if row is None or row[0] != "person":
                raise ValidationError("person_id", "must be a person customer", person)
        return values


class PhoneRepo(Repo[Phone]):
    """Numbers in any human spelling; an extension written in the number is split off."""

    def __init__(self, db: Database, clock: Clock, region: str) -> None:
        super().__init__(db, PHONES, clock, region)

    def _validate(self, values: Mapping[str, object], creating: bool) -> dict[str, object]:
        vals = dict(values)
        raw = vals.get("e164")
        if isinstance(raw, str):
            parsed = normalize_e164(raw, self._region)
            vals["e164"] = parsed.e164
            if parsed.extension and not vals.get("extension"):
                vals["extension"] = parsed.extension
        ext = vals.get("extension")
        if isinstance(ext, str) and ext and not ext.isdigit():
            raise ValidationError("extension", "digits only", ext)
        return super()._validate(vals, creating)

    def _prepare(self, conn: sqlite3.Connection, values: dict[str, object], now: float,
                 old: Phone | None) -> dict[str, object]:
        contact_id = values.get("contact_id")
        if contact_id is not None:
            contact = find_row(conn, CONTACTS, int(str(contact_id)))
            owner = values.get("customer_id", old.customer_id if old else None)
            if contact is None or contact.company_id != owner:
                raise ValidationError("contact_id", "not a contact of this customer", contact_id)
        return values


    async def primary(self, customer_id: int) -> str | None:
        """The customer's primary number: its own (not one of its contacts'), without an
        extension if it has one, the first added; None when it has none."""
        return await self._db.point_read(_primary_phone, customer_id)


def _primary_phone(conn: sqlite3.Connection, customer_id: int) -> str | None:
    r = conn.execute("SELECT e164 FROM phones WHERE customer_id = ? ORDER BY"
                     " contact_id IS NOT NULL, extension != '', id LIMIT 1",
                     (customer_id,)).fetchone()
    return str(r[0]) if r is not None else None


class EmailRepo(Repo[Email]):
    def __init__(self, db: Database, clock: Clock, region: str) -> None:
        super().__init__(db, EMAILS, clock, region)

    def _prepare(self, conn: sqlite3.Connection, values: dict[str, object], now: float,
                 old: Email | None) -> dict[str, object]:
        if "address" in values:
            address = str(values["address"]).strip()
            if not _EMAIL.match(address):
                raise ValidationError("address", "not an e-mail address", values["address"])
            values["address"] = address
        return values
