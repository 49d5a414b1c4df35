"""Ticket SLA and escalation rules. Pure: times come in as arguments."""

from __future__ import annotations

from collections.abc import Mapping

from crm_core.models import OPEN_TICKET_STATUSES, TICKET_PRIORITIES

COMPLAINT = "complaint"
_HOUR = 3600.0


def sla_due(created_at: float, tier: str, sla_hours: Mapping[str, int]) -> float:
    """Due time for a ticket of a customer in `tier`; a tier missing from the table gets the
    most lenient SLA configured (an unknown tier must not jump the queue)."""
    hours = sla_hours.get(tier)
    if hours is None:
        hours = max(sla_hours.values(), default=48)
    return created_at + hours * _HOUR


def escalation_reason(
    *,
    status: str,
    escalated: bool,
    category: str,
    due_at: float,
    now: float,
    open_complaints: int,
    complaint_threshold: int,
) -> str | None:
    """Why this ticket must be escalated now, or None. Escalation happens once per ticket."""
    if escalated or status not in OPEN_TICKET_STATUSES:
        return None
    if now > due_at:
        return "overdue"
    if category == COMPLAINT and open_complaints >= complaint_threshold:
        return f"{open_complaints} open complaints"
    return None


def escalated_priority(priority: str) -> str:
    """An escalated ticket is at least 'high'."""
    order = TICKET_PRIORITIES
    if priority not in order:
        return "high"
    return order[max(order.index(priority), order.index("high"))]
