"""REST for outbound campaigns: lead import, start/pause/stop, live status; the agent's
dispositions of dialer calls and preview dialling (rules in acd/dialer/desk.py). The routes are
listed in docs/dialer.md.

Creating, listing and editing campaigns is the CRM's CRUD (`/api/campaigns`, crm_routes). These
routes add what needs the dialer: CSV import with a report, the run-state actions (transition
table in acd/dialer/campaigns.py; an illegal one is 409), and live status (dial level, lines in
progress, abandon rate over the 24 h and 30 day windows). Supervisors and admins only.

A campaign's own calling rules (window, days, holidays, default zone, retry delay per outcome;
acd/dialer/rules.py) are read and written here too: GET/PUT/PATCH `/rules` (a rule left null is
the [dialer] default) and GET `/rules/effective` (the merged rules and which came from the
defaults). A refused rule is a 422 naming its field; nothing is stored.

Bodies are limited to the API's 1 MB: send a bigger file in parts to the same list; rows
already in the campaign are reported as duplicates, so a part sent twice imports nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pydantic
from aiohttp import web

from acd.dialer.campaigns import IllegalCampaignTransition
from acd.dialer.desk import (
    AgentDesk,
    Caller,
    DeskError,
    DispositionResult,
    PreviewCard,
    PreviewDial,
)
from acd.dialer.errors import DialerError, InvalidRule
from acd.dialer.rule_store import StoredRules, change_rules, read_rules
from acd.dialer.rules import CampaignRules, EffectiveRules
from acd.dialer.service import CampaignStatus, DialerService
from agent_desktop.errors import (
    ApiError,
    BadGateway,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ServiceUnavailable,
    TooManyRequests,
    ValidationFailed,
)
from agent_desktop.jsonio import json_response
from agent_desktop.routing import Param, RouteRegistry, body_of, principal_of
from agent_desktop.vocabulary import check_disposition
from config.settings import Settings
from crm_core.errors import StaleVersion
from crm_core.lead_import import ImportReport, LeadColumns
from cti.dialpolicy import INVALID_REASONS
from cti.errors import AmiConnectionError, CtiError, DialRateLimited, DialRefused

if TYPE_CHECKING:
    from crm_core.service import Crm

SUPERVISORS = frozenset({"supervisor", "admin"})
EVERYONE = frozenset({"agent", "supervisor", "admin"})
_COLUMN = pydantic.Field(min_length=1, max_length=200)


class ColumnsBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    phone: str = _COLUMN
    name: str | None = pydantic.Field(default=None, min_length=1, max_length=200)
    timezone: str | None = pydantic.Field(default=None, min_length=1, max_length=200)


class ImportBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    csv: str = pydantic.Field(min_length=1)
    columns: ColumnsBody
    list_id: int | None = pydantic.Field(default=None, ge=1)
    list_name: str | None = pydantic.Field(default=None, min_length=1, max_length=200)


class DispositionBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    call_id: str = pydantic.Field(min_length=1, max_length=120)
    disposition: str = pydantic.Field(min_length=1, max_length=40)
    outcome: Literal["done", "retry", "callback", "dnc"] = "done"
    callback_at: float | None = pydantic.Field(default=None, allow_inf_nan=False)
    callback_owner: Literal["me", "anyone"] = "me"
    dnc_scope: Literal["campaign", "global"] = "campaign"
    notes: str = pydantic.Field(default="", max_length=2000)


class RulesBody(pydantic.BaseModel):
    """A campaign's own rules; null (or absent, for PUT) = the [dialer] default. Strict types:
    "600" is not a number of seconds. The meaning of each value is checked by parse_rules."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)
    window_start: str | None = pydantic.Field(default=None, max_length=16)
    window_end: str | None = pydantic.Field(default=None, max_length=16)
    days: list[str] | None = pydantic.Field(default=None, max_length=14)
    holidays: list[str] | None = pydantic.Field(default=None, max_length=1000)
    default_timezone: str | None = pydantic.Field(default=None, max_length=100)
    retry_delay_s: dict[str, float | None] | None = pydantic.Field(default=None, max_length=16)
    # The campaign's own column (no default to inherit): left as it is when absent.
    max_attempts: int | None = pydantic.Field(default=None, ge=1, le=100)


@dataclass(frozen=True, slots=True)
class OwnRules:
    window_start: str | None
    window_end: str | None
    days: list[str] | None
    holidays: list[str] | None
    default_timezone: str | None
    retry_delay_s: dict[str, float]


@dataclass(frozen=True, slots=True)
class EffectiveRulesView:
    campaign_id: int
    window_start: str
    window_end: str
    days: list[str]
    holidays: list[str]
    default_timezone: str
    retry_delay_s: dict[str, float]
    max_attempts: int
    from_defaults: list[str]  # the rules [dialer] gives, the campaign setting none


@dataclass(frozen=True, slots=True)
class CampaignRulesView:
    campaign_id: int
    own: OwnRules  # the campaign's own rules (null: inherited)
    max_attempts: int
    effective: EffectiveRulesView
    # The stored rules' version (0: none stored), also sent as the ETag; a PUT or PATCH with
    # If-Match: "<version>" is refused with 412 if someone wrote them since.
    version: int = 0


def etag(version: int) -> str:
    return f'"{version}"'


def if_match(request: web.Request) -> int | None:
    """The version an If-Match header names (None: no header, or "*": unconditional)."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip()
    if len(value) < 3 or not (value[0] == value[-1] == '"') or not value[1:-1].isdigit() \
            or len(value) > 22:
        raise BadRequest('If-Match must be one ETag of these rules, e.g. "12" (from GET)',
                         {"header": "If-Match", "value": raw})
    return int(value[1:-1])


def _own(rules: CampaignRules) -> OwnRules:
    return OwnRules(rules.window_start, rules.window_end,
                    list(rules.days) if rules.days is not None else None,
                    list(rules.holidays) if rules.holidays is not None else None,
                    rules.default_timezone, dict(rules.retry_delay_s))


def _effective(campaign_id: int, e: EffectiveRules) -> EffectiveRulesView:
    return EffectiveRulesView(campaign_id, e.window_start, e.window_end, list(e.days),
                              list(e.holidays), e.default_timezone, dict(e.retry_delay_s),
                              e.max_attempts, e.inherited())


def _rule_error(exc: InvalidRule) -> ValidationFailed:
    return ValidationFailed(str(exc), {"field": exc.field, "fields": [
        {"loc": ["body", *exc.field.split(".", 1)], "msg": exc.message, "type": "value_error"}]})


_STATUS_ERRORS: dict[int, type[ApiError]] = {
    403: Forbidden, 404: NotFound, 409: Conflict, 422: ValidationFailed}


def _api_error(exc: DeskError) -> ApiError:
    return _STATUS_ERRORS.get(exc.status, BadRequest)(str(exc), exc.details)


def _dial_error(exc: CtiError) -> ApiError:
    if isinstance(exc, DialRateLimited):
        return TooManyRequests(exc.decision.message, exc.retry_after_s)
    if isinstance(exc, DialRefused):
        d = exc.decision
        details = {"field": "phone", "reason": d.reason, "target": d.target.dial}
        if d.reason in INVALID_REASONS:
            return ValidationFailed(d.message, details)
        return Forbidden(f"dialling refused: {d.message}", details)
    if isinstance(exc, AmiConnectionError):
        return ServiceUnavailable(f"the PBX link is down, nothing was dialled: {exc}")
    return BadGateway(f"the PBX refused the call: {exc}")


def dialer_routes(dialer: DialerService, crm: Crm,
                  settings: Settings | None = None) -> RouteRegistry:
    routes = RouteRegistry()
    cid = (Param("campaign_id", "path", required=True, description="campaign id"),)
    lead = (*cid, Param("lead_id", "path", required=True, description="lead id"))
    desk = AgentDesk(dialer)
    cfg = settings or Settings()

    def caller(request: web.Request) -> Caller:
        p = principal_of(request)
        return Caller(p.user_id, p.username, p.role, p.team_id)

    def lead_id(request: web.Request) -> int:
        raw = request.match_info["lead_id"]
        if not raw.isdigit() or len(raw) > 18:
            raise BadRequest(f"lead id must be a positive integer, got {raw[:40]!r}")
        return int(raw)

    def campaign_id(request: web.Request) -> int:
        raw = request.match_info["campaign_id"]
        if not raw.isdigit() or len(raw) > 18:
            raise BadRequest(f"campaign id must be a positive integer, got {raw[:40]!r}")
        return int(raw)

    @routes.post("/api/campaigns/{campaign_id}/import", roles=SUPERVISORS, params=cid,
                 request_model=ImportBody, response=ImportReport, tags=("dialer",),
                 summary="Import leads from CSV (header row; column mapping) into a list of "
                         "the campaign; reports invalid and duplicate rows")
    async def import_leads(request: web.Request) -> web.StreamResponse:
        c = await crm.campaigns.get(campaign_id(request))
        body = body_of(request, ImportBody)
        if body.list_id is not None:
            lst = await crm.lead_lists.get(body.list_id)
            if lst.campaign_id != c.id:
                raise BadRequest(f"lead list {lst.id} belongs to another campaign")
        else:
            lst = await crm.lead_lists.create(campaign_id=c.id,
                                              name=body.list_name or "import")
        cols = LeadColumns(phone=body.columns.phone, name=body.columns.name,
                           timezone=body.columns.timezone)
        report = await crm.lead_import.import_csv(lst.id, body.csv, cols)
        return json_response(report)

    def control(action: str) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                c = await dialer.control(campaign_id(request), action)
            except IllegalCampaignTransition as exc:
                raise Conflict(str(exc), {"status": exc.status, "action": exc.action}) from None
            except DialerError as exc:
                raise BadRequest(str(exc)) from None
            return json_response(dialer.status(c))
        handler.__name__ = f"campaign_{action}"
        return handler

    for action, what in (("start", "Start (or resume) dialling a campaign"),
                         ("pause", "Pause a campaign (calls in progress finish)"),
                         ("stop", "Stop a campaign for good")):
        routes.post(f"/api/campaigns/{{campaign_id}}/{action}", roles=SUPERVISORS, params=cid,
                    response=CampaignStatus, tags=("dialer",), summary=what)(control(action))

    @routes.get("/api/campaigns/{campaign_id}/status", roles=SUPERVISORS, params=cid,
                response=CampaignStatus, tags=("dialer",),
                summary="Live status: dial level, lines in progress, abandon rate per window")
    async def campaign_status(request: web.Request) -> web.StreamResponse:
        c = await crm.campaigns.get(campaign_id(request))
        return json_response(dialer.status(c))

    def rules_view(c: Any, stored: StoredRules) -> web.Response:
        own = stored.rules
        if isinstance(own, InvalidRule):
            raise Conflict(f"campaign {c.id}'s stored rules cannot be applied ({own}): "
                           "replace them with PUT", {"field": own.field}) from None
        own = own or CampaignRules()
        try:
            effective = dialer.rules_changed(c, own, stored.version)
        except InvalidRule as exc:  # (parse_rules accepted them: cannot happen)
            raise _rule_error(exc) from None
        view = CampaignRulesView(c.id, _own(own), c.max_attempts, _effective(c.id, effective),
                                 stored.version)
        return json_response(view, headers={"ETag": etag(stored.version)})

    @routes.get("/api/campaigns/{campaign_id}/rules", roles=SUPERVISORS, params=cid,
                response=CampaignRulesView, tags=("dialer",),
                summary="A campaign's own calling rules (null: the [dialer] default) and the "
                        "effective ones")
    async def campaign_rules(request: web.Request) -> web.StreamResponse:
        c = await crm.campaigns.get(campaign_id(request))
        return rules_view(c, await read_rules(crm, c.id))

    async def write_rules(request: web.Request, *, replace: bool) -> web.StreamResponse:
        c = await crm.campaigns.get(campaign_id(request))
        expected = if_match(request)
        body = body_of(request, RulesBody)
        given = body.model_dump(exclude_unset=True)
        max_attempts = given.pop("max_attempts", None)
        try:
            stored = await change_rules(crm, c.id, given, replace=replace,
                                        if_version=expected)
        except InvalidRule as exc:
            raise _rule_error(exc) from None
        except StaleVersion as exc:
            raise PreconditionFailed(
                f"campaign {c.id}'s rules were changed since version {exc.expected} (now "
                f"{exc.found}): read them again and apply your change to what is there",
                {"expected": exc.expected, "current": exc.found}) from None
        if max_attempts is not None and max_attempts != c.max_attempts:
            c = await crm.campaigns.update(c.id, max_attempts=max_attempts)
        return rules_view(c, stored)

    @routes.put("/api/campaigns/{campaign_id}/rules", roles=SUPERVISORS, params=cid,
                request_model=RulesBody, response=CampaignRulesView, tags=("dialer",),
                summary="Set a campaign's calling rules (window, days, holidays, zone, retry "
                        "delays); a rule left out or null is the [dialer] default")
    async def put_campaign_rules(request: web.Request) -> web.StreamResponse:
        return await write_rules(request, replace=True)

    @routes.patch("/api/campaigns/{campaign_id}/rules", roles=SUPERVISORS, params=cid,
                  request_model=RulesBody, response=CampaignRulesView, tags=("dialer",),
                  summary="Change some of a campaign's calling rules (null: back to the "
                          "[dialer] default; retry_delay_s per outcome)")
    async def patch_campaign_rules(request: web.Request) -> web.StreamResponse:
        return await write_rules(request, replace=False)

    @routes.get("/api/campaigns/{campaign_id}/rules/effective", roles=SUPERVISORS, params=cid,
                response=EffectiveRulesView, tags=("dialer",),
                summary="The rules a campaign is dialled under: its own over the [dialer] "
                        "defaults, and which come from the defaults")
    async def effective_campaign_rules(request: web.Request) -> web.StreamResponse:
        c = await crm.campaigns.get(campaign_id(request))
        try:
            return json_response(_effective(c.id, await dialer.rules_of(c)))
        except InvalidRule as exc:
            raise Conflict(f"campaign {c.id}'s stored rules cannot be applied ({exc}): it is "
                           "not dialled until they are replaced with PUT",
                           {"field": exc.field}) from None

    @routes.post("/api/campaigns/{campaign_id}/dispositions", roles=EVERYONE, params=cid,
                 request_model=DispositionBody, response=DispositionResult, tags=("dialer",),
                 summary="Record the disposition of a dialer call: updates the lead (done, "
                         "retry, callback, do-not-call), the call's interaction and history")
    async def campaign_disposition(request: web.Request) -> web.StreamResponse:
        camp = await crm.campaigns.get(campaign_id(request))
        body = body_of(request, DispositionBody)
        check_disposition(cfg, camp.queue, body.disposition)
        try:
            result = await desk.dispose(
                caller(request), camp.id, call_id=body.call_id, disposition=body.disposition,
                outcome=body.outcome, callback_at=body.callback_at,
                callback_owner=body.callback_owner, dnc_scope=body.dnc_scope,
                notes=body.notes)
        except DeskError as exc:
            raise _api_error(exc) from None
        return json_response(result)

    @routes.post("/api/campaigns/{campaign_id}/preview/next", roles=EVERYONE, params=cid,
                 response=PreviewCard, tags=("dialer",),
                 summary="Preview mode: the next lead for me (held for me a while); 204 when "
                         "none is due")
    async def preview_next(request: web.Request) -> web.StreamResponse:
        try:
            card = await desk.next_preview(caller(request), campaign_id(request))
        except DeskError as exc:
            raise _api_error(exc) from None
        return web.Response(status=204) if card is None else json_response(card)

    @routes.post("/api/campaigns/{campaign_id}/preview/{lead_id}/dial", roles=EVERYONE,
                 params=lead, response=PreviewDial, tags=("dialer",),
                 summary="Preview mode: dial the lead held for me (my phone rings first)")
    async def preview_dial(request: web.Request) -> web.StreamResponse:
        try:
            out = await desk.dial_preview(caller(request), campaign_id(request),
                                          lead_id(request))
        except DeskError as exc:
            raise _api_error(exc) from None
        except CtiError as exc:
            raise _dial_error(exc) from None
        return json_response(out)

    @routes.post("/api/campaigns/{campaign_id}/preview/{lead_id}/skip", roles=EVERYONE,
                 params=lead, status=204, tags=("dialer",),
                 summary="Preview mode: skip the lead held for me (it comes back later; no "
                         "attempt counted)")
    async def preview_skip(request: web.Request) -> web.StreamResponse:
        try:
            await desk.skip_preview(caller(request), campaign_id(request), lead_id(request))
        except DeskError as exc:
            raise _api_error(exc) from None
        return web.Response(status=204)

    return routes
