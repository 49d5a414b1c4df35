"""What the IVR needs from the CRM to serve a caller on their own: account numbers, the
customer's preferred language, a telephone PIN, and the latest open ticket and order.

Account numbers are the customer id (at least 5 digits, zero-padded) followed by a Luhn check
digit, so a mistyped digit is caught by the IVR before any lookup. PINs are stored as salted
scrypt hashes and only ever compared here; neither the PIN nor its hash leaves this module.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass

from common.luhn import luhn_complete, luhn_ok
from crm_core.db import Database
from crm_core.errors import NotFound, ValidationError
from crm_core.repo import check_id

LANGUAGE_CODE_MAX = 8
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def account_number(customer_id: int) -> str:
    body = f"{customer_id:05d}"
    return luhn_complete(body)


def customer_id_of_account(account: str) -> int | None:
    """The customer id an account number names, or None when it is not a valid one."""
    if not account.isdigit() or len(account) < 6 or not luhn_ok(account):
        return None
    return int(account[:-1])


@dataclass(frozen=True, slots=True)
class SelfServiceFacts:
    customer_id: int
    language: str
    has_pin: bool
    open_ticket_id: int | None
    open_ticket_status: str
    open_ticket_subject: str
    last_order_id: int | None
    last_order_status: str
    last_order_total_cents: int
    last_order_at: float


def _hash(pin: str, salt: bytes) -> str:
    return hashlib.scrypt(pin.encode(), salt=salt, **_SCRYPT).hex()  # type: ignore[arg-type]


def _check_pin_shape(pin: str) -> None:
    if not pin.isdigit() or not 4 <= len(pin) <= 8:
        raise ValidationError("pin", "4 to 8 digits")


def _ensure_customer(conn: sqlite3.Connection, customer_id: int) -> None:
    if conn.execute("SELECT 1 FROM customers WHERE id = ?", (customer_id,)).fetchone() is None:
        raise NotFound("customer", customer_id)


def _set_pin(conn: sqlite3.Connection, customer_id: int, pin: str) -> None:
    _ensure_customer(conn, customer_id)
    salt = secrets.token_bytes(16)
    stored = f"scrypt${salt.hex()}${_hash(pin, salt)}"
    conn.execute("INSERT INTO customer_selfservice (customer_id, pin_hash) VALUES (?, ?) "
                 "ON CONFLICT(customer_id) DO UPDATE SET pin_hash = excluded.pin_hash",
                 (customer_id, stored))


def _set_language(conn: sqlite3.Connection, customer_id: int, language: str) -> None:
    _ensure_customer(conn, customer_id)
    conn.execute("INSERT INTO customer_selfservice (customer_id, language) VALUES (?, ?) "
                 "ON CONFLICT(customer_id) DO UPDATE SET language = excluded.language",
                 (customer_id, language))


def _check_pin(conn: sqlite3.Connection, customer_id: int, pin: str) -> bool:
    row = conn.execute("SELECT pin_hash FROM customer_selfservice WHERE customer_id = ?",
                       (customer_id,)).fetchone()
    if row is None or not row[0]:
        return False
    try:
        kind, salt_hex, digest = str(row[0]).split("$")
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    return kind == "scrypt" and hmac.compare_digest(_hash(pin, salt), digest)


def _facts(conn: sqlite3.Connection, customer_id: int) -> SelfServiceFacts:
    _ensure_customer(conn, customer_id)
    row = conn.execute("SELECT language, pin_hash FROM customer_selfservice "
                       "WHERE customer_id = ?", (customer_id,)).fetchone()
    ticket = conn.execute(
        "SELECT id, status, subject FROM tickets WHERE customer_id = ? "
        "AND status NOT IN ('resolved', 'closed') ORDER BY created_at DESC, id DESC LIMIT 1",
        (customer_id,)).fetchone()
    order = conn.execute(
        "SELECT id, status, total_cents, ordered_at FROM orders WHERE customer_id = ? "
        "ORDER BY ordered_at DESC, id DESC LIMIT 1", (customer_id,)).fetchone()
    return SelfServiceFacts(
        customer_id=customer_id,
        language=str(row[0]) if row else "",
        has_pin=bool(row and row[1]),
        open_ticket_id=int(ticket[0]) if ticket else None,
        open_ticket_status=str(ticket[1]) if ticket else "",
        open_ticket_subject=str(ticket[2]) if ticket else "",
        last_order_id=int(order[0]) if order else None,
        last_order_status=str(order[1]) if order else "",
        last_order_total_cents=int(order[2]) if order else 0,
        last_order_at=float(order[3]) if order else 0.0,
    )


class SelfServiceRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set_pin(self, customer_id: int, pin: str) -> None:
        check_id("customer", customer_id)
        _check_pin_shape(pin)
        await self._db.write(_set_pin, customer_id, pin)

    async def check_pin(self, customer_id: int, pin: str) -> bool:
        """True only for the customer's stored PIN (hashing runs off the event loop)."""
        check_id("customer", customer_id)
        if not pin.isdigit() or len(pin) > 16:
            return False
        return await self._db.read(_check_pin, customer_id, pin)

    async def set_language(self, customer_id: int, language: str) -> None:
        check_id("customer", customer_id)
        if len(language) > LANGUAGE_CODE_MAX or not (language == "" or language.replace(
                "_", "").isalpha()):
            raise ValidationError("language", "a language code such as \"en\" or \"zh\"")
        await self._db.write(_set_language, customer_id, language)

    async def facts(self, customer_id: int) -> SelfServiceFacts:
        check_id("customer", customer_id)
        return await self._db.point_read(_facts, customer_id)
