"""Typed rows of the CRM. Field names and order are the table's columns, so repositories map
rows to these dataclasses positionally (see crm_core/repo.py). Money is integer cents; times are
Unix seconds (float) from the injected wall clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

T = TypeVar("T")

CustomerKind = Literal["person", "company"]
Stage = Literal["prospect", "lead", "opportunity", "customer", "lost"]
Tier = Literal["platinum", "gold", "silver", "bronze"]
Role = Literal["agent", "supervisor", "admin"]

CUSTOMER_KINDS = ("person", "company")
STAGES = ("prospect", "lead", "opportunity", "customer", "lost")
TIERS = ("platinum", "gold", "silver", "bronze")
ROLES = ("agent", "supervisor", "admin")
INTERACTION_KINDS = ("call", "note", "email")
DIRECTIONS = ("inbound", "outbound")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_STATUSES = ("open", "pending", "resolved", "closed")
OPEN_TICKET_STATUSES = ("open", "pending")
ORDER_STATUSES = ("open", "paid", "cancelled")
PIPELINE_STAGES = ("qualification", "proposal", "negotiation", "won", "lost")
CLOSED_PIPELINE_STAGES = ("won", "lost")
CAMPAIGN_STATUSES = ("draft", "active", "paused", "finished")
DIAL_MODES = ("preview", "progressive", "predictive")
LEAD_STATUSES = ("new", "dialing", "contacted", "callback", "done", "dnc", "failed")
CALLBACK_STATUSES = ("pending", "done", "cancelled", "missed")
CALLBACK_KINDS = ("callback", "task")
AMD_ACTIONS = ("hangup", "message")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    total: int  # rows matching the query, ignoring limit/offset
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class Team:
    id: int
    name: str
    supervisor_id: int | None = None


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    password_hash: str  # hashed by the caller; never serialise it to clients
    role: str = "agent"
    display_name: str = ""
    team_id: int | None = None
    extension: str | None = None
    active: bool = True
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Skill:
    id: int
    user_id: int
    skill: str
    level: int = 1


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    kind: str
    name: str
    company_id: int | None = None  # a person's employer (a company customer)
    stage: str = "prospect"
    tier: str = "bronze"
    value_score: float = 0.0
    timezone: str = ""
    notes: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Contact:
    """A person acting for a company customer, with a role there."""

    id: int
    company_id: int
    name: str
    role: str = ""
    person_id: int | None = None  # the same person as a customer, when known
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Phone:
    id: int
    customer_id: int
    e164: str
    extension: str = ""
    label: str = ""
    contact_id: int | None = None


@dataclass(frozen=True, slots=True)
class Email:
    id: int
    customer_id: int
    address: str
    label: str = ""
    contact_id: int | None = None


@dataclass(frozen=True, slots=True)
class Interaction:
    id: int
    customer_id: int | None
    kind: str = "call"
    direction: str | None = None
    queue: str | None = None
    agent_user_id: int | None = None
    offered_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    wait_s: float | None = None
    talk_s: float | None = None
    disposition: str | None = None
    notes: str = ""
    call_id: str | None = None  # Asterisk Linkedid for calls
    phone: str | None = None
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    customer_id: int
    subject: str
    category: str = "general"  # "complaint" counts toward escalation
    priority: str = "normal"
    status: str = "open"
    owner_user_id: int | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    due_at: float = 0.0
    escalated: bool = False
    escalated_at: float | None = None
    escalation_reason: str | None = None


@dataclass(frozen=True, slots=True)
class TicketChange:
    id: int
    ticket_id: int
    at: float
    user_id: int | None
    field: str
    old_value: str | None
    new_value: str | None


@dataclass(frozen=True, slots=True)
class Product:
    id: int
    sku: str
    name: str
    department: str
    price_cents: int = 0
    active: bool = True


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    customer_id: int
    department: str
    status: str = "paid"
    ordered_at: float = 0.0
    total_cents: int = 0  # kept equal to the sum of its lines


@dataclass(frozen=True, slots=True)
class OrderLine:
    id: int
    order_id: int
    product_id: int
    quantity: int = 1
    unit_price_cents: int = 0


@dataclass(frozen=True, slots=True)
class Opportunity:
    id: int
    customer_id: int
    name: str
    stage: str = "qualification"
    amount_cents: int = 0
    probability: float = 0.1
    expected_close: float = 0.0
    owner_user_id: int | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class ForecastMonth:
    month: str  # "YYYY-MM" (UTC) of expected_close
    weighted_cents: int  # sum of amount x probability of open opportunities
    opportunities: int


@dataclass(frozen=True, slots=True)
class Campaign:
    id: int
    name: str
    status: str = "draft"
    dial_mode: str = "progressive"
    queue: str | None = None
    created_at: float = 0.0
    caller_id: str = ""
    script: str = ""
    max_attempts: int = 5
    priority: int = 0
    amd_action: str = "hangup"  # what a machine gets: hang up, or the campaign's message


@dataclass(frozen=True, slots=True)
class LeadList:
    id: int
    campaign_id: int
    name: str
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Lead:
    id: int
    list_id: int
    phone: str  # E.164
    customer_id: int | None = None
    name: str = ""
    timezone: str = ""
    status: str = "new"
    attempts: int = 0
    next_attempt: float | None = None
    last_result: str | None = None


@dataclass(frozen=True, slots=True)
class DncEntry:
    id: int
    phone: str  # E.164
    reason: str = ""
    added_at: float = 0.0
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class CampaignDncEntry:
    id: int
    campaign_id: int
    phone: str  # E.164
    reason: str = ""
    added_at: float = 0.0
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class Callback:
    id: int
    customer_id: int | None
    phone: str | None
    due_at: float
    assigned_user_id: int | None = None
    status: str = "pending"
    kind: str = "callback"
    notes: str = ""
    created_at: float = 0.0
    campaign_id: int | None = None  # placed by this campaign's dialer (acd/dialer), first
    lead_id: int | None = None  # the campaign lead it continues (its disposition set it)
    # Why it left 'pending' without reaching the customer (missed, cancelled): for a person.
    reason: str = ""
    # The call id of its last automatic placement, written before the Originate (a restart
    # finding it on a pending row knows an earlier process may have dialled it).
    placed_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class DepartmentTotal:
    department: str
    orders: int
    total_cents: int


@dataclass(frozen=True, slots=True)
class CustomerView:
    """Everything a screen-pop shows, read in one consistent snapshot."""

    customer: Customer
    company: Customer | None
    contacts: tuple[Contact, ...]
    phones: tuple[Phone, ...]
    emails: tuple[Email, ...]
    purchases_by_department: tuple[DepartmentTotal, ...]
    open_tickets: tuple[Ticket, ...]
    open_opportunities: tuple[Opportunity, ...]
    last_interactions: tuple[Interaction, ...]  # newest first, at most 10
    pending_callbacks: tuple[Callback, ...]  # soonest first
    matched_phone: Phone | None = None  # set by lookup_by_phone

    @property
    def tier(self) -> str:
        return self.customer.tier

    @property
    def value_score(self) -> float:
        return self.customer.value_score


@dataclass(frozen=True, slots=True)
class PhoneMatch:
    """One customer a looked-up number belongs to (for the desktop's chooser)."""

    customer_id: int
    name: str
    kind: str
    tier: str
    phone: Phone  # the matching phone row (its extension and label tell them apart)


@dataclass(frozen=True, slots=True)
class PhoneLookup(CustomerView):
    """A screen-pop by number: the best match's whole view (the CustomerView fields, as before)
    plus every customer the number belongs to. A shared number (a switchboard, a family line)
    is `ambiguous`: the desktop should let the agent choose rather than trust the first."""

    ambiguous: bool = False
    matches: tuple[PhoneMatch, ...] = ()  # best first, at most MAX_PHONE_MATCHES
    matches_total: int = 0  # all customers with the number, even beyond the list


@dataclass(frozen=True, slots=True)
class ValueRecompute:
    """Result of a full recompute; a tier's minimum score is None when the tier is empty."""

    customers: int
    platinum_min: float | None
    gold_min: float | None
    silver_min: float | None
    computed_at: float


@dataclass(frozen=True, slots=True)
class DemoAgent:
    """A demo agent the server should create as a user (it hashes the password)."""

    username: str
    display_name: str
    extension: str
    team: str
    skills: tuple[tuple[str, int], ...]  # (skill, level 1..5)
    role: str = "agent"
