"""The CRM facade: the only object the rest of the system needs from crm_core.

    from crm_core.service import Crm
    crm = await Crm.open(path, settings.crm, clock=WallClock())
    ...
    await crm.close()

Repositories (each a `crm_core.repo.Repo[Model]`, models in crm_core/models.py):

    crm.customers crm.contacts crm.phones crm.emails crm.interactions crm.tickets
    crm.products crm.orders crm.opportunities crm.campaigns crm.lead_lists crm.leads
    crm.dnc crm.callbacks crm.users crm.teams crm.skills

  all with:
    await repo.get(id) -> Model                       NotFound
    await repo.create(**fields) -> Model              ValidationError, Conflict (unique / FK)
    await repo.update(id, **changes) -> Model         NotFound, ValidationError, Conflict
    await repo.delete(id) -> None                     NotFound, Conflict (rows still refer to it)
    await repo.search(q=None, *, limit=50, offset=0, order_by=None, descending=False,
                      **equal_filters) -> Page[Model]  (Page.items, Page.total, limit, offset)

  Field names are the model's; phone fields take any human spelling and are stored as E.164.
  Extras:
    crm.customers.search(q)       q matches name (any script, pinyin), employer, e-mail or
                                  phone digits, ranked (crm_core/search_query.py)
    crm.phones.create(customer_id=, e164="(555) 555-0123 x12")  extension split off
    crm.tickets.create(customer_id=, subject=, category=, priority=)  due_at from the tier's SLA
    crm.tickets.update(id, by_user_id=None, **changes)   each change recorded in history
    crm.tickets.history(id) -> tuple[TicketChange, ...]
    crm.tickets.escalate_overdue() -> tuple[Ticket, ...]  escalates open tickets past due
      (call it periodically; the Nth open complaint of a customer escalates on create/update)
    crm.orders.create_with_lines(customer_id=, department=, lines=[(product_id, qty)], ...)
    crm.orders.add_line(order_id, product_id, quantity) ; crm.orders.lines(order_id)
      (any order or opportunity change rescores its customer in the same transaction)
    crm.opportunities.forecast(since=None, until=None) -> tuple[ForecastMonth, ...]
    crm.dnc.contains(phone) -> bool
    crm.leads.due(campaign_id, limit) -> tuple[Lead, ...]    next leads for the dialer
    crm.leads.record_attempt(lead_id, result, *, status=None, next_attempt=None) -> Lead
    crm.callbacks.due(until, assigned_user_id=None) -> tuple[Callback, ...]
    crm.lead_import.import_csv(list_id, text, LeadColumns(phone=, name=, timezone=))
      -> ImportReport (crm_core/lead_import.py: E.164, invalid/duplicate report)
    crm.campaign_dnc (per-campaign do-not-call; crm.dnc is the global list)
    crm.campaign_rules.get / put / delete / all: a campaign's own calling window, days,
      holidays, zone and retry delays (crm_core/campaign_rules.py; NULL = the [dialer] default)
    crm.users.by_username(name) -> User ; crm.skills.for_user(user_id) -> tuple[Skill, ...]
    crm.users.extension_in_use(ext) -> bool   an active user has this extension (dial policy)
    crm.dial_audit.add_many(rows) ; crm.dial_audit.search(since=, until=, **filters)
      (the dial/transfer audit log, crm_core/dial_audit.py: append-only, newest first)
    crm.dialer_state.add_counts / counts_since / prune / due_callbacks(campaign_id, until)
      (the dialer's abandon counts per campaign and minute, campaign callbacks:
      crm_core/dialer_store.py)
    crm.skills.set_skills(user_id, {"billing": 3, ...}) -> tuple[Skill, ...]
    crm.interactions.by_call_id(call_id) -> Interaction | None
    crm.selfservice.facts(customer_id) / check_pin / set_pin / set_language   (the IVR's;
      account numbers: crm_core.selfservice.account_number / customer_id_of_account)
    crm.history: the call-center event log and its 15-minute aggregates (crm_core/history.py)
    crm.skills.names() -> frozenset[str]   every skill name some user has
    crm.users.extension_conflicts()        users whose duplicate extension migration 8 cleared
    crm.sessions: refresh-token families (start, rotate, revoke, is_active): crm_core/sessions.py
    crm.kiosk: read-only wallboard kiosk tokens, stored hashed: crm_core/kiosk.py
    crm.wallboard_trend.save / day / prune: the wallboard's trend: crm_core/trend_store.py
    crm.analytics: pipeline, revenue per customer, churn risk, tickets, leads (reports' SQL)

Facade methods:
    await crm.customer_view(customer_id) -> CustomerView           NotFound
    await crm.lookup_by_phone(number) -> CustomerView | None       InvalidPhoneNumber
    await crm.lookup_phone(number) -> PhoneLookup | None   the same + every customer with the
                                              number (matches, ambiguous)
    await crm.tier_for_phone(number) -> str   "platinum".."bronze" or "unknown" (never raises
                                              on a bad number: the ACD calls it per call)
    await crm.log_call(call_id, ...) -> Interaction   upsert by Asterisk Linkedid
    await crm.recompute_values() -> ValueRecompute    score + tier every customer
    await crm.rescore_customer(customer_id) -> Customer
    await crm.schema_version() -> int

Threads: CrmSettings.inline_reads (default on) runs point reads (screen-pop, lookup, tier,
get(id), dnc.contains, users.by_username) on the loop thread; writes go to one aiosqlite worker
thread, searches and listings to a second one, so a slow search never delays a screen-pop.

Errors: crm_core.errors (CrmError -> NotFound, Conflict, ValidationError -> InvalidPhoneNumber,
SchemaError, StorageError), each with .details. A failed call writes nothing.

Demo data (synchronous, before Crm.open): crm_core.demo_data.build_demo_database /
ensure_demo_database, demo_agents(n) for the users the server creates.
"""

from __future__ import annotations

from pathlib import Path

from common.clock import Clock, WallClock
from config.crm import CrmSettings
from crm_core import scoring, view
from crm_core.analytics import AnalyticsRepo
from crm_core.campaign_rules import CampaignRulesRepo
from crm_core.campaigns import (
    CallbackRepo,
    CampaignDncRepo,
    CampaignRepo,
    DncRepo,
    LeadListRepo,
    LeadRepo,
)
from crm_core.customers import ContactRepo, CustomerRepo, EmailRepo, PhoneRepo
from crm_core.db import Database
from crm_core.dial_audit import DialAuditRepo
from crm_core.dialer_store import DialerStateRepo
from crm_core.history import HistoryRepo
from crm_core.interactions import InteractionRepo, log_call_sync
from crm_core.kiosk import KioskRepo
from crm_core.lead_import import LeadImporter
from crm_core.models import Customer, CustomerView, Interaction, PhoneLookup, ValueRecompute
from crm_core.phones import normalize_e164, try_normalize
from crm_core.repo import check_id
from crm_core.sales import OpportunityRepo, OrderRepo, ProductRepo
from crm_core.schema import current_version
from crm_core.segments import CallSegment, replace_segments_sync, segments_for_call_sync
from crm_core.selfservice import SelfServiceRepo
from crm_core.sessions import SessionRepo
from crm_core.staff import SkillRepo, TeamRepo, UserRepo
from crm_core.tickets import TicketRepo
from crm_core.trend_store import TrendRepo


class Crm:
    """See the module docstring for the whole surface."""

    def __init__(self, db: Database, settings: CrmSettings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        region = settings.default_region
        self.customers = CustomerRepo(db, clock, region)
        self.contacts = ContactRepo(db, clock, region)
        self.phones = PhoneRepo(db, clock, region)
        self.emails = EmailRepo(db, clock, region)
        self.interactions = InteractionRepo(db, clock, region)
        self.tickets = TicketRepo(db, clock, region, settings)
        self.products = ProductRepo(db, clock, region)
        self.orders = OrderRepo(db, clock, region, settings)
        self.opportunities = OpportunityRepo(db, clock, region, settings)
        self.campaigns = CampaignRepo(db, clock, region)
        self.lead_lists = LeadListRepo(db, clock, region)
        self.leads = LeadRepo(db, clock, region)
        self.dnc = DncRepo(db, clock, region)
        self.campaign_dnc = CampaignDncRepo(db, clock, region)
        self.campaign_rules = CampaignRulesRepo(db, clock)
        self.callbacks = CallbackRepo(db, clock, region)
        self.users = UserRepo(db, clock, region)
        self.teams = TeamRepo(db, clock, region)
        self.skills = SkillRepo(db, clock, region)
        self.selfservice = SelfServiceRepo(db)
        self.history = HistoryRepo(db)
        self.sessions = SessionRepo(db)
        self.kiosk = KioskRepo(db)
        self.analytics = AnalyticsRepo(db)
        self.dial_audit = DialAuditRepo(db, clock)
        self.dialer_state = DialerStateRepo(db)
        self.wallboard_trend = TrendRepo(db)
        self.lead_import = LeadImporter(db, region)

    @classmethod
    async def open(
        cls, path: str | Path, settings: CrmSettings, clock: Clock | None = None
    ) -> Crm:
        """Open (creating and migrating if needed) the database file at `path`."""
        clk: Clock = clock if clock is not None else WallClock()
        db = await Database.open(path, clk.now(), inline_reads=settings.inline_reads)
        return cls(db, settings, clk)

    async def close(self) -> None:
        await self.db.close()

    async def schema_version(self) -> int:
        return await self.db.call(current_version)

    # -- screen-pop -------------------------------------------------------------------------

    async def customer_view(self, customer_id: int) -> CustomerView:
        check_id("customer", customer_id)
        return await self.db.point_read(view.customer_view_sync, customer_id)

    async def lookup_by_phone(self, number: str) -> CustomerView | None:
        parsed = normalize_e164(number, self.settings.default_region)
        return await self.db.point_read(view.lookup_by_phone_sync, parsed.e164, parsed.extension)

    async def lookup_phone(self, number: str) -> PhoneLookup | None:
        """Like lookup_by_phone, plus every customer the number belongs to (`matches`) and
        whether there is more than one (`ambiguous`)."""
        parsed = normalize_e164(number, self.settings.default_region)
        return await self.db.point_read(view.lookup_all_sync, parsed.e164, parsed.extension)

    async def tier_for_phone(self, number: str) -> str:
        parsed = try_normalize(number, self.settings.default_region)
        if parsed is None:
            return "unknown"
        return await self.db.point_read(view.tier_for_phone_sync, parsed.e164, parsed.extension)

    # -- calls ------------------------------------------------------------------------------

    async def log_call(
        self,
        call_id: str,
        *,
        direction: str | None = None,
        customer_id: int | None = None,
        phone: str | None = None,
        queue: str | None = None,
        agent_user_id: int | None = None,
        offered_at: float | None = None,
        answered_at: float | None = None,
        ended_at: float | None = None,
        disposition: str | None = None,
        notes: str | None = None,
    ) -> Interaction:
        """Create or update the call interaction with this call_id (Asterisk Linkedid).

        Arguments left None keep what is stored; wait_s and talk_s are derived from the times.
        When customer_id is not given, the phone number identifies the customer if it can.
        """
        e164 = None
        if phone is not None:
            parsed = try_normalize(phone, self.settings.default_region)
            e164 = parsed.e164 if parsed else None
        return await self.db.write(
            log_call_sync,
            call_id=call_id,
            direction=direction,
            customer_id=customer_id,
            phone=e164 if e164 is not None else phone,
            phone_e164=e164,
            queue=queue,
            agent_user_id=agent_user_id,
            offered_at=offered_at,
            answered_at=answered_at,
            ended_at=ended_at,
            disposition=disposition,
            notes=notes,
            now=self.clock.now(),
        )

    async def log_call_segments(self, call_id: str, segments: list[CallSegment]) -> int:
        """Store each agent's part of a call (replacing what was stored for that call)."""
        return await self.db.write(replace_segments_sync, call_id, segments)

    async def call_segments(self, call_id: str) -> list[CallSegment]:
        return await self.db.read(segments_for_call_sync, call_id)

    # -- customer value -----------------------------------------------------------------------

    async def recompute_values(self) -> ValueRecompute:
        return await self.db.write(scoring.recompute_all, self.settings, self.clock.now())

    async def rescore_customer(self, customer_id: int) -> Customer:
        return await self.db.write(
            scoring.rescore_customer, customer_id, self.settings, self.clock.now()
        )


__all__ = ["Crm"]
