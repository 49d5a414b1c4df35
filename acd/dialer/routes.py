"""REST for outbound campaigns: lead import, start/pause/stop, live status.

Creating, listing and editing campaigns is the CRM's CRUD (`/api/campaigns`, crm_routes). These
routes add what needs the dialer: CSV import with a report, the run-state actions (transition
table in acd/dialer/campaigns.py; an illegal one is 409), and live status (dial level, lines in
progress, abandon rate over the 24 h and 30 day windows). Supervisors and admins only.

Bodies are limited to the API's 1 MB: send a bigger file in parts to the same list; rows
already in the campaign are reported as duplicates, so a part sent twice imports nothing twice.
"""

from __future__ import annotations

from typing import Any

import pydantic
from aiohttp import web

from acd.dialer.campaigns import IllegalCampaignTransition
from acd.dialer.errors import DialerError
from acd.dialer.service import CampaignStatus, DialerService
from agent_desktop.errors import BadRequest, Conflict
from agent_desktop.jsonio import json_response
from agent_desktop.routing import Param, RouteRegistry, body_of
from crm_core.lead_import import ImportReport, LeadColumns

SUPERVISORS = frozenset({"supervisor", "admin"})
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


def dialer_routes(dialer: DialerService, crm: Any) -> RouteRegistry:
    routes = RouteRegistry()
    cid = (Param("campaign_id", "path", required=True, description="campaign id"),)

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

    return routes
