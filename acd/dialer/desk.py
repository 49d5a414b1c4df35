"""The agent's side of a campaign: dispositions of dialer calls, and preview dialling.

Disposition (`AgentDesk.dispose`) of a dialer call (its call id: `dl<campaign>-<lead>-...`,
`pv<campaign>-<lead>-...` for preview dials, `cb<campaign>-<callback>-...` for callbacks):

    who      the agent who talked on the call (the CRM interaction's agent), or a supervisor
             or admin (agent_desktop.policy: interactions/update; anyone else gets 403)
    code     `disposition` must be a configured code for the campaign's queue (422 otherwise)
    outcome  what happens to the lead (acd/dialer/leads.py transition table; 409 when the lead
             is not in a state that takes it, e.g. it was never connected):
               done      the lead is finished
               retry     tried again after the no-answer delay (attempts permitting)
               callback  a scheduled callback (crm callbacks row: campaign, lead, `callback_at`,
                         owned by the agent or "anyone"); the dialer places it before leads
               dnc       the number goes on the campaign's do-not-call list, or the global one
                         (`dnc_scope`), and the lead is closed as dnc
    writes   the lead (status, next attempt), the call's CRM interaction (disposition, notes),
             a `dialer_disposition` event-log row (crm_core/history.py)

Preview (`next_preview`, `dial_preview`, `skip_preview`): in a preview campaign nothing is dialled
by the pacing. An agent asks for the next lead (due, not on a DNC list, inside the calling window,
through the same scheduler as every dial); it is held for that agent for `preview_hold_s`. The
agent dials it (the agent's phone rings first, then the lead's number: the dial policy decides
by the agent's own rules and rate limit, and audits it as a `campaign` dial) or skips it (the lead
comes back after `preview_skip_s`, no attempt counted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from acd.dialer.errors import DialerError, InvalidNumber, InvalidRule, InvalidWindow
from acd.dialer.rules import EffectiveRules
from acd.dialer.scheduler import LeadCandidate, pick
from acd.dialer.windows import zones_for_number
from common.messages import CallDialling
from crm_core.errors import Conflict as CrmConflict
from crm_core.history import HistoryEvent
from cti.call_views import OriginKind
from cti.commands import originate_action_id

log = structlog.get_logger("acd.dialer")

Outcome = Literal["done", "retry", "callback", "dnc"]
DIALER_CALL = re.compile(r"(dl|pv|cb)([0-9]{1,18})-([0-9]{1,18})-[0-9A-Za-z-]{1,40}")


class DeskError(DialerError):
    """A request the desk refuses; `status` is the HTTP status the routes answer with."""

    def __init__(self, status: int, message: str, details: dict[str, Any] | None = None
                 ) -> None:
        self.status = status
        self.details = details or {}
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class DispositionResult:
    call_id: str
    campaign_id: int
    disposition: str
    outcome: str
    lead_id: int | None
    lead_status: str | None
    next_attempt: float | None
    callback_id: int | None
    dnc: str | None  # "campaign" / "global" when the number was added to a list


@dataclass(frozen=True, slots=True)
class PreviewCard:
    campaign_id: int
    lead_id: int
    name: str
    phone: str
    attempts: int
    last_result: str | None
    script: str
    held_until: float
    # The called person's zones (IANA names: the lead's own, else the number's; [dialer]
    # default_timezone when neither is known), so the agent sees their local time before dialling.
    timezones: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PreviewDial:
    campaign_id: int
    lead_id: int
    call_id: str


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking (agent_desktop.policy.Principal's fields the desk needs)."""

    user_id: int
    username: str
    role: str
    team_id: int | None = None


def parse_call_id(call_id: str) -> tuple[str, int, int]:
    """(kind, campaign id, lead or callback id) of a dialer call id; DeskError 422 otherwise."""
    m = DIALER_CALL.fullmatch(call_id)
    if m is None:
        raise DeskError(422, f"{call_id[:60]!r} is not a dialer call id (dl<campaign>-<lead>-..."
                             ", pv... or cb...)", {"field": "call_id"})
    return m.group(1), int(m.group(2)), int(m.group(3))


class AgentDesk:
    def __init__(self, dialer: Any) -> None:
        self.dialer = dialer  # acd.dialer.service.DialerService
        self.crm = dialer.crm
        self._held: dict[int, tuple[str, float]] = {}  # lead id -> (agent, until)

    # ------------------------------------------------------------------ dispositions

    async def dispose(self, me: Caller, campaign_id: int, *, call_id: str, disposition: str,
                      outcome: Outcome, callback_at: float | None = None,
                      callback_owner: Literal["me", "anyone"] = "me",
                      dnc_scope: Literal["campaign", "global"] = "campaign",
                      notes: str = "") -> DispositionResult:
        kind, cid, ref = parse_call_id(call_id)
        if cid != campaign_id:
            raise DeskError(422, f"call {call_id} belongs to campaign {cid}, not {campaign_id}",
                            {"field": "call_id"})
        campaign = await self.crm.campaigns.get(campaign_id)
        interaction = await self.crm.interactions.by_call_id(call_id)
        if interaction is None:
            raise DeskError(404, f"no call {call_id} is on record (not connected yet, or not a "
                                 "call of this server)", {"call_id": call_id})
        if me.role == "agent" and interaction.agent_user_id != me.user_id:
            raise DeskError(403, "this call is not yours: an agent may record the disposition "
                                 "only of a call they talked on", {"call_id": call_id})
        now = self.dialer.wall.now()
        if outcome == "callback":
            if callback_at is None:
                raise DeskError(422, "a callback needs callback_at (Unix seconds)",
                                {"field": "callback_at"})
            if callback_at <= now:
                raise DeskError(422, "callback_at must be in the future",
                                {"field": "callback_at", "value": callback_at})
        lead_id = ref if kind in ("dl", "pv") else None
        phone = None
        if kind == "cb":
            cb = await self.crm.callbacks.get(ref)
            lead_id, phone = cb.lead_id, cb.phone
        lead = await self.crm.leads.get(lead_id) if lead_id is not None else None
        phone = lead.phone if lead is not None else (phone or interaction.phone)
        retry = (await self._rules(campaign)).retry_policy()
        update = None
        if lead is not None:
            try:
                update = retry.after_disposition(lead.id, lead.status, lead.attempts, outcome,
                                                 now, callback_at)
            except DialerError as exc:
                raise DeskError(409, f"lead {lead.id} is {lead.status}: {exc}",
                                {"lead_id": lead.id, "status": lead.status}) from None
        callback_id = None
        if outcome == "callback" and phone:
            row = await self.crm.callbacks.create(
                phone=phone, due_at=callback_at, campaign_id=campaign_id, lead_id=lead_id,
                customer_id=interaction.customer_id,
                assigned_user_id=me.user_id if callback_owner == "me" else None,
                notes=f"campaign {campaign.name}: {disposition}. {notes}".strip()[:2000])
            callback_id = row.id
        dnc = None
        if outcome == "dnc" and phone:
            dnc = dnc_scope
            await self._add_dnc(phone, campaign_id if dnc_scope == "campaign" else None,
                                f"disposition {disposition} by {me.username} on {call_id}")
        if lead is not None and update is not None:
            await self.crm.leads.update(lead.id, status=update.status,
                                        next_attempt=update.next_attempt,
                                        last_result=disposition)
        await self.crm.interactions.update(
            interaction.id, disposition=disposition,
            **({"notes": notes} if notes else {}))
        self.dialer.record_row(HistoryEvent(
            now, "dialer_disposition", queue=str(campaign_id), agent=me.username,
            call_id=call_id, number=phone or "", state=outcome, reason=disposition,
            detail=str(lead_id or "")))
        self.dialer.disposed(campaign_id, call_id, lead_id, disposition, outcome, me.username)
        log.info("dialer_disposition", call_id=call_id, campaign_id=campaign_id,
                 lead_id=lead_id, disposition=disposition, outcome=outcome, by=me.username)
        return DispositionResult(
            call_id, campaign_id, disposition, outcome, lead_id,
            update.status if update else None, update.next_attempt if update else None,
            callback_id, dnc)

    async def _add_dnc(self, phone: str, campaign_id: int | None, reason: str) -> None:
        try:
            if campaign_id is None:
                await self.crm.dnc.create(phone=phone, reason=reason[:200])
            else:
                await self.crm.campaign_dnc.create(campaign_id=campaign_id, phone=phone,
                                                   reason=reason[:200])
        except CrmConflict:
            pass  # already on the list: that is what was asked
        self.dialer.dnc.add(phone, campaign_id=campaign_id)

    # ------------------------------------------------------------------ preview

    async def _preview_campaign(self, campaign_id: int) -> Any:
        c = await self.crm.campaigns.get(campaign_id)
        if c.dial_mode != "preview" or c.status != "active":
            raise DeskError(409, f"campaign {campaign_id} is a {c.status} {c.dial_mode} "
                                 "campaign: preview needs an active preview campaign",
                            {"status": c.status, "dial_mode": c.dial_mode})
        return c

    async def next_preview(self, me: Caller, campaign_id: int) -> PreviewCard | None:
        """The next lead for this agent to preview (held for them), or None."""
        c = await self._preview_campaign(campaign_id)
        rules = await self._rules(c)
        now = self.dialer.wall.now()
        hold = self.dialer.settings.preview_hold_s
        self._held = {k: v for k, v in self._held.items() if v[1] > now}
        for lead_id, (agent, until) in self._held.items():
            if agent == me.username:  # asking again: the same card
                lead = await self.crm.leads.get(lead_id)
                if lead.status in ("new", "callback"):
                    return self._card(c, lead, until, rules.default_timezone)
        due = await self.crm.leads.due(c.id, limit=200)
        held = set(self._held)
        d = self.dialer
        picked = pick(
            now=now, lines=1, campaign_id=c.id,
            leads=[LeadCandidate(ld.id, ld.phone, ld.status, ld.attempts, ld.next_attempt,
                                 ld.timezone) for ld in due if ld.id not in held],
            dnc=d.dnc, window=rules.window, default_zone=rules.default_timezone,
            max_attempts=rules.max_attempts,
            in_flight_phones={ln.phone for ln in d.lines.values()},
            unknown_leads={ln.lead_id for ln in d.lines.values()})
        await d.apply_skips(picked.skipped, now)
        if not picked.dials:
            return None
        lead = next(ld for ld in due if ld.id == picked.dials[0].ref_id)
        self._held[lead.id] = (me.username, now + hold)
        return self._card(c, lead, now + hold, rules.default_timezone)

    @staticmethod
    def _card(c: Any, lead: Any, until: float, default_zone: str) -> PreviewCard:
        try:
            zones = tuple(z.key for z in zones_for_number(lead.phone, lead.timezone or "",
                                                          default_zone))
        except (InvalidWindow, InvalidNumber):
            zones = ()  # no zone known (or a bad one): the card shows no local time
        return PreviewCard(c.id, lead.id, lead.name, lead.phone, lead.attempts,
                           lead.last_result, c.script, until, zones)

    async def _rules(self, campaign: Any) -> EffectiveRules:
        try:
            rules: EffectiveRules = await self.dialer.rules_of(campaign)
        except InvalidRule as exc:
            raise DeskError(409, f"campaign {campaign.id}'s stored calling rules cannot be "
                                 f"applied ({exc}): fix them with PUT /api/campaigns/"
                                 f"{campaign.id}/rules", {"field": exc.field}) from None
        return rules

    def _holder(self, me: Caller, lead_id: int) -> None:
        held = self._held.get(lead_id)
        now = self.dialer.wall.now()
        if held is None or held[1] <= now or held[0] != me.username:
            raise DeskError(409, f"lead {lead_id} is not held for you: ask for the next "
                                 "preview lead first", {"lead_id": lead_id})

    async def dial_preview(self, me: Caller, campaign_id: int, lead_id: int) -> PreviewDial:
        c = await self._preview_campaign(campaign_id)
        self._holder(me, lead_id)
        lead = await self.crm.leads.get(lead_id)
        # Held for up to preview_hold_s: the window may have closed (or a holiday begun) since.
        rules = await self._rules(c)
        now = self.dialer.wall.now()
        try:
            open_now = rules.window.allows(now, zones_for_number(
                lead.phone, lead.timezone or "", rules.default_timezone))
        except (InvalidWindow, InvalidNumber):
            open_now = False
        if not open_now:
            self._held.pop(lead_id, None)
            raise DeskError(409, f"lead {lead_id} is outside campaign {c.id}'s calling window "
                                 "now: not dialled", {"lead_id": lead_id, "reason": "window"})
        user = await self.crm.users.get(me.user_id)
        if not user.extension:
            raise DeskError(409, f"user {me.username} has no extension: preview dials ring "
                                 "the agent's phone first", {"user": me.username})
        call_id = await self.dialer.originate_preview(c, lead, me, user.extension)
        self._held.pop(lead_id, None)
        if self.dialer.publish is not None:  # the agent's desktop shows it dialling at once
            device = self.dialer.dialing.agent_device_template.format(extension=user.extension)
            self.dialer.publish(CallDialling(
                call_id, originate_action_id(call_id), OriginKind.DIALER, me.username, device,
                lead.phone, round(self.dialer.wall.now(), 3)))
        return PreviewDial(c.id, lead.id, call_id)

    async def skip_preview(self, me: Caller, campaign_id: int, lead_id: int) -> None:
        await self._preview_campaign(campaign_id)
        self._holder(me, lead_id)
        self._held.pop(lead_id, None)
        nxt = self.dialer.wall.now() + self.dialer.settings.preview_skip_s
        await self.crm.leads.update(lead_id, next_attempt=nxt)
        log.info("preview_skipped", campaign_id=campaign_id, lead_id=lead_id, by=me.username)
