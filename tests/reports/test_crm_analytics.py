"""CRM analytics: hand-computed figures from the pure functions, and each report end to end
over a small CRM database (its SQL) through run_report."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.clock import ManualClock
from config.settings import Settings
from crm_core.service import Crm
from reports import crm as r
from reports.errors import BadRequest
from reports.service import run_report

H = 3600.0
T0 = 1_700_006_400.0


def test_value_curve_80_20_by_hand() -> None:
    # 10 customers: the top 2 (20%) bring 800 of 1000
    curve = {p["top_customers_pct"]: p for p in r.value_curve(
        [500, 300, 50, 50, 40, 30, 20, 10, 0, 0])}
    assert (curve[20]["customers"], curve[20]["revenue_cents"]) == (2, 800)
    assert curve[20]["revenue_share"] == 0.8 and curve[10]["revenue_share"] == 0.5
    assert curve[100]["revenue_share"] == 1.0
    assert r.value_curve([])[0]["revenue_share"] is None  # nothing to share
    assert r.value_curve([7, 0, 0])[0]["customers"] == 1  # top 10% of 3 = 1 (rounded up)


def test_ticket_sla_by_hand() -> None:
    now = T0 + 100 * H
    rows = [
        ("high", "general", "resolved", T0, T0 + 8 * H, T0 + 4 * H, 0, None),  # met
        ("high", "general", "closed", T0, T0 + 8 * H, T0 + 10 * H, 1, T0 + 9 * H),  # late
        ("normal", "complaint", "open", T0, T0 + 48 * H, None, 1, T0 + 49 * H),  # overdue
        ("normal", "general", "open", T0 + 90 * H, T0 + 138 * H, None, 0, None),  # not due
    ]
    out = {x["priority"]: x for x in r.ticket_sla(rows, now)}
    assert [x["priority"] for x in r.ticket_sla(rows, now)] == ["high", "normal", ""]
    assert (out["high"]["met"], out["high"]["breached"], out["high"]["compliance"]) == (1, 1,
                                                                                         0.5)
    assert out["high"]["avg_resolution_h"] == 7.0
    assert (out["normal"]["met"], out["normal"]["breached"]) == (0, 1)
    a = out[""]
    assert (a["created"], a["resolved"], a["met"], a["breached"], a["escalated"]) == (
        4, 2, 1, 2, 2)
    assert a["compliance"] == pytest.approx(1 / 3) and a["escalation_rate"] == 0.5


def test_lead_conversion_by_hand() -> None:
    rows = [("spring", "web", "done", 2, 5, 1), ("spring", "web", "new", 3, 0, 0),
            ("spring", "fair", "contacted", 1, 2, 1), ("autumn", "web", "failed", 4, 12, 0)]
    out = {(x["campaign"], x["source"]): x for x in r.lead_conversion(rows)}
    assert out["spring", ""] == {"campaign": "spring", "source": "", "leads": 6, "attempts": 7,
                                 "contacted": 3, "converted": 2, "contact_rate": 0.5,
                                 "conversion_rate": pytest.approx(1 / 3)}
    assert out["spring", "web"]["contact_rate"] == 0.4
    assert (out["autumn", "web"]["contacted"], out["autumn", "web"]["conversion_rate"]) == (0,
                                                                                           0.0)


@pytest.fixture
async def crm(tmp_path: Path) -> Crm:
    clock = ManualClock(T0)
    c = await Crm.open(tmp_path / "crm.sqlite3", Settings().crm, clock)
    big = await c.customers.create(kind="company", name="Big", stage="customer")
    small = await c.customers.create(kind="person", name="Small", stage="customer")
    await c.customers.create(kind="person", name="Prospect")
    p = await c.products.create(sku="X1", name="Thing", department="sales", price_cents=1000)
    await c.orders.create_with_lines(customer_id=big.id, department="sales", lines=[(p.id, 9)])
    await c.orders.create_with_lines(customer_id=small.id, department="sales",
                                     lines=[(p.id, 1)])
    await c.opportunities.create(customer_id=big.id, name="Renewal", stage="proposal",
                                 amount_cents=10_000, probability=0.5,
                                 expected_close=T0 + 40 * 86400)
    await c.opportunities.create(customer_id=small.id, name="Upsell", stage="won",
                                 amount_cents=500, probability=1.0, expected_close=T0)
    t = await c.tickets.create(customer_id=small.id, subject="Broken", priority="high")
    clock.advance(H)
    await c.tickets.update(t.id, status="resolved")
    await c.log_call("call-1", direction="inbound", customer_id=small.id, ended_at=T0 + H)
    camp = await c.campaigns.create(name="spring")
    lst = await c.lead_lists.create(campaign_id=camp.id, name="web")
    await c.leads.create(list_id=lst.id, phone="+12025550101", customer_id=big.id,
                         status="done", attempts=2)
    await c.leads.create(list_id=lst.id, phone="+12025550102")
    await c.recompute_values()
    yield c  # type: ignore[misc]
    await c.close()


async def test_crm_reports_end_to_end(crm: Crm) -> None:
    s = Settings()

    async def run(name: str, **kw: object) -> list[dict[str, object]]:
        return await run_report(crm, s, name, T0 - 86400, T0 + 90 * 86400, now=T0 + 2 * H,
                                **kw)  # type: ignore[arg-type]

    assert [(x["stage"], x["weighted_cents"]) for x in await run("pipeline")] == [
        ("proposal", 5000), ("won", 500)]
    assert [x["weighted_cents"] for x in await run("forecast")] == [5000]
    curve = await run("value_curve")
    # 3 customers: the top 10-30% is Big alone (900 of 1000), the top 40% (2) is everyone
    assert [c["revenue_share"] for c in curve[:4]] == [0.9, 0.9, 0.9, 1.0]
    # Big was never contacted; Small was, an hour after T0 (less than a day ago)
    assert [x["name"] for x in await run("not_contacted", days=1)] == ["Big"]
    assert [x["name"] for x in await run("not_contacted", days=0)] == ["Big", "Small"]
    sla = await run("ticket_sla")
    assert (sla[-1]["created"], sla[-1]["met"], sla[-1]["compliance"]) == (1, 1, 1.0)
    leads = await run("lead_conversion")
    assert (leads[0]["leads"], leads[0]["contacted"], leads[0]["converted"]) == (2, 1, 1)
    assert isinstance(await run("vip_open_tickets"), list)
    with pytest.raises(BadRequest):
        await run("not_contacted", limit=0)
