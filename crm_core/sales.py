"""Products, orders with lines, opportunities and the weighted pipeline forecast.

Any change to a customer's orders or open opportunities rescores that customer's value in the
same transaction (crm_core.scoring.rescore_customer).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from common.clock import Clock
from config.crm import CrmSettings
from crm_core import scoring
from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.models import (
    ORDER_STATUSES,
    PIPELINE_STAGES,
    ForecastMonth,
    Opportunity,
    Order,
    OrderLine,
    Product,
)
from crm_core.repo import Repo, TableSpec, get_row, insert_row, update_row

PRODUCTS = TableSpec("products", Product, ("sku", "name", "department"), order_by="sku")
ORDERS = TableSpec("orders", Order, ("department",), choices={"status": ORDER_STATUSES},
                   order_by="ordered_at")
ORDER_LINES = TableSpec("order_lines", OrderLine)
OPPORTUNITIES = TableSpec("opportunities", Opportunity, ("name",),
                          choices={"stage": PIPELINE_STAGES}, order_by="expected_close")


def _nonempty(values: dict[str, object], field: str) -> None:
    if field in values and not str(values[field]).strip():
        raise ValidationError(field, "must not be empty", values[field])


class ProductRepo(Repo[Product]):
    def __init__(self, db: Database, clock: Clock, region: str) -> None:
        super().__init__(db, PRODUCTS, clock, region)

    def _prepare(self, conn: sqlite3.Connection, values: dict[str, object], now: float,
                 old: Product | None) -> dict[str, object]:
        for f in ("sku", "name", "department"):
            _nonempty(values, f)
        return values


class _Rescoring:
    """Rescore the customers an entity change touches, inside the same transaction."""

    _settings: CrmSettings

    def _rescore(self, conn: sqlite3.Connection, now: float, *customer_ids: int | None) -> None:
        for cid in sorted({c for c in customer_ids if c is not None}):
            if conn.execute("SELECT 1 FROM customers WHERE id = ?", (cid,)).fetchone():
                scoring.rescore_customer(conn, cid, self._settings, now)


class OrderRepo(_Rescoring, Repo[Order]):
    def __init__(self, db: Database, clock: Clock, region: str, settings: CrmSettings) -> None:
        super().__init__(db, ORDERS, clock, region)
        self._settings = settings

    async def create_with_lines(
        self,
        *,
        customer_id: int,
        department: str,
        lines: Sequence[tuple[int, int]],
        status: str = "paid",
        ordered_at: float | None = None,
    ) -> Order:
        """An order and its lines (product_id, quantity) at the products' current prices."""
        now = self._clock.now()
        return await self._db.write(
            self._create_with_lines, customer_id, department, list(lines), status,
            now if ordered_at is None else ordered_at, now)

    async def add_line(self, order_id: int, product_id: int, quantity: int = 1,
                       unit_price_cents: int | None = None) -> Order:
        return await self._db.write(self._add_line, order_id, product_id, quantity,
                                    unit_price_cents, self._clock.now())

    async def lines(self, order_id: int) -> tuple[OrderLine, ...]:
        return await self._db.read(_lines, order_id)

    def _prepare(self, conn: sqlite3.Connection, values: dict[str, object], now: float,
                 old: Order | None) -> dict[str, object]:
        _nonempty(values, "department")
        if old is None:
            values.setdefault("ordered_at", now)
        tc = values.get("total_cents")
        if isinstance(tc, int) and tc < 0:
            raise ValidationError("total_cents", "must be >= 0", tc)
        return values

    def _after(self, conn: sqlite3.Connection, old: Order | None, new: Order | None,
               now: float) -> None:
        self._rescore(conn, now, old.customer_id if old else None,
                      new.customer_id if new else None)

    def _create_with_lines(self, conn: sqlite3.Connection, customer_id: int, department: str,
                           lines: list[tuple[int, int]], status: str, ordered_at: float,
                           now: float) -> Order:
        if not lines:
            raise ValidationError("lines", "an order needs at least one line", lines)
        order = self._create_sync(conn, {"customer_id": customer_id, "department": department,
                                         "status": status, "ordered_at": ordered_at}, now)
        for product_id, quantity in lines:
            _insert_line(conn, order.id, product_id, quantity, None)
        return self._refresh_total(conn, order.id, now)

    def _add_line(self, conn: sqlite3.Connection, order_id: int, product_id: int, quantity: int,
                  unit_price_cents: int | None, now: float) -> Order:
        get_row(conn, ORDERS, order_id)
        _insert_line(conn, order_id, product_id, quantity, unit_price_cents)
        return self._refresh_total(conn, order_id, now)

    def _refresh_total(self, conn: sqlite3.Connection, order_id: int, now: float) -> Order:
        total = conn.execute(
            "SELECT COALESCE(SUM(quantity * unit_price_cents), 0) FROM order_lines"
            " WHERE order_id = ?", (order_id,)).fetchone()[0]
        order = update_row(conn, ORDERS, order_id, {"total_cents": int(total)})
        self._rescore(conn, now, order.customer_id)
        return order


def _insert_line(conn: sqlite3.Connection, order_id: int, product_id: int, quantity: int,
                 unit_price_cents: int | None) -> None:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise ValidationError("quantity", "must be a positive integer", quantity)
    product = get_row(conn, PRODUCTS, product_id)
    price = product.price_cents if unit_price_cents is None else unit_price_cents
    if price < 0:
        raise ValidationError("unit_price_cents", "must be >= 0", price)
    insert_row(conn, ORDER_LINES, {"order_id": order_id, "product_id": product_id,
                                   "quantity": quantity, "unit_price_cents": price})


def _lines(conn: sqlite3.Connection, order_id: int) -> tuple[OrderLine, ...]:
    get_row(conn, ORDERS, order_id)
    return tuple(OrderLine(*r) for r in conn.execute(
        "SELECT id, order_id, product_id, quantity, unit_price_cents FROM order_lines"
        " WHERE order_id = ? ORDER BY id", (order_id,)))


class OpportunityRepo(_Rescoring, Repo[Opportunity]):
    def __init__(self, db: Database, clock: Clock, region: str, settings: CrmSettings) -> None:
        super().__init__(db, OPPORTUNITIES, clock, region)
        self._settings = settings

    async def forecast(self, since: float | None = None, until: float | None = None
                       ) -> tuple[ForecastMonth, ...]:
        """Open opportunities' sum of amount x probability per month (UTC) of expected close,
        for expected_close in [since, until)."""
        return await self._db.scan(forecast_sync, since, until)

    def _prepare(self, conn: sqlite3.Connection, values: dict[str, object], now: float,
                 old: Opportunity | None) -> dict[str, object]:
        _nonempty(values, "name")
        p = values.get("probability")
        if isinstance(p, int | float) and not 0.0 <= float(p) <= 1.0:
            raise ValidationError("probability", "must be between 0 and 1", p)
        a = values.get("amount_cents")
        if isinstance(a, int) and a < 0:
            raise ValidationError("amount_cents", "must be >= 0", a)
        return values

    def _after(self, conn: sqlite3.Connection, old: Opportunity | None,
               new: Opportunity | None, now: float) -> None:
        self._rescore(conn, now, old.customer_id if old else None,
                      new.customer_id if new else None)


def forecast_sync(conn: sqlite3.Connection, since: float | None, until: float | None
                  ) -> tuple[ForecastMonth, ...]:
    rows = conn.execute(
        "SELECT strftime('%Y-%m', expected_close, 'unixepoch') AS month,"
        " SUM(amount_cents * probability), COUNT(*) FROM opportunities"
        " WHERE stage NOT IN ('won', 'lost') AND expected_close >= ? AND expected_close < ?"
        " GROUP BY month ORDER BY month",
        (float("-inf") if since is None else since, float("inf") if until is None else until),
    )
    return tuple(ForecastMonth(m, int(round(w)), int(n)) for m, w, n in rows)
