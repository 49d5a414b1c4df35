"""REST for outbound campaigns: lead import, start/pause/stop, live status; the agent's
dispositions of dialer calls and preview dialling (rules in acd/dialer/desk.py). The routes are
listed in docs/dialer.md.

Creating, listing and editing campaigns is the CRM's CRUD (`/api/campaigns`, crm_routes). These
routes add what needs the dialer: CSV import with a report, the run-state actions (transition
table in acd/dialer/campaigns.py; an illegal one is 409), and live status (dial level, lines in
progress, abandon rate over the 24 h and 30 day windows). Supervisors and admins only.

Bodies are limited to the API's 1 MB: send a bigger file in parts to the same list; rows
already in the campaign are reported as duplicates, so a part sent twice imports nothing twice.
"""

from __future__ import annotations

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
from acd.dialer.errors import DialerError
from acd.dialer.service import CampaignStatus, DialerService
from agent_desktop.errors import (
    ApiError,
    BadGateway,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    ValidationFailed,
)
from agent_desktop.jsonio import json_response
from agent_desktop.routing import Param, RouteRegistry, body_of, principal_of
from agent_desktop.vocabulary import check_disposition
from config.settings import Settings
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
