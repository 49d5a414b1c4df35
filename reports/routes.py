"""GET /api/reports/{name}: a historical report as JSON or CSV (supervisors and admins).

Query: from, to (YYYY-MM-DD, date-time or Unix seconds; a date `to` includes that day),
interval (15min / hour / day / total), queue, agent, team, menu and campaign (repeatable),
by_team, by (outbound_summary: campaign / agent / team), days and limit (CRM reports), format
(json / csv). Supervisors get agent reports (and outbound figures by agent or team) for their own
team's agents only (the policy's TEAM scope); queue, IVR and campaign figures are not per team;
the inbound summary and distributions by team (reports/teams.py), the CRM pipeline and the
ticket SLA split by team with by_team (a supervisor then sees their own team's lines).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from agent_desktop.errors import BadRequest, Forbidden
from agent_desktop.jsonio import json_response
from agent_desktop.policy import Scope, require
from agent_desktop.routing import Param, RouteRegistry, principal_of
from config.settings import Settings
from crm_core.service import Crm
from reports.dates import parse_time
from reports.errors import ReportError
from reports.pages import report_page_routes
from reports.service import (
    CALL_CENTER_REPORTS,
    CRM_TEAM_REPORTS,
    INBOUND_TEAM_REPORTS,
    OUTBOUND_REPORTS,
    REPORTS,
    report_tz,
    report_zone_name,
    run_report,
    to_csv,
)

SUPERVISORS = frozenset({"supervisor", "admin"})
# Reports whose by-team lines are filtered to a supervisor's own team.
TEAM_SPLIT_REPORTS = (*CRM_TEAM_REPORTS, *INBOUND_TEAM_REPORTS)


def report_routes(settings: Settings, crm: Crm) -> RouteRegistry:
    routes = RouteRegistry()
    params = (
        Param("name", "path", required=True,
              schema={"type": "string", "enum": list(REPORTS)}),
        Param("from", required=True, description="YYYY-MM-DD, date-time or Unix seconds"),
        Param("to", required=True, description="last day (included) or exclusive date-time"),
        Param("interval", schema={"type": "string",
                                  "enum": ["15min", "hour", "day", "total"]}),
        Param("queue", description="only this queue (repeatable)"),
        Param("agent", description="only this agent (repeatable)"),
        Param("team", description="only this team's lines or agents (repeatable)"),
        Param("menu", description="IVR reports: only this menu (repeatable)"),
        Param("campaign", description="outbound reports: only this campaign (repeatable)"),
        Param("by", schema={"type": "string", "enum": ["campaign", "agent", "team"]},
              description="outbound_summary: one row per campaign (default), agent or team"),
        Param("by_team", schema={"type": "boolean"}),
        Param("days", schema={"type": "number"}, description="not_contacted: days"),
        Param("limit", schema={"type": "integer"}),
        Param("format", schema={"type": "string", "enum": ["json", "csv"]}),
    )

    @routes.get("/api/reports/{name}", roles=SUPERVISORS, params=params, tags=("reports",),
                summary="A historical report (call center or CRM) as JSON or CSV")
    async def report(request: web.Request) -> web.StreamResponse:
        me = principal_of(request)
        scope = require(me, "reports", "read")
        name = request.match_info["name"]
        q = request.query
        fmt = q.get("format", "json")
        if fmt not in ("json", "csv"):
            raise BadRequest("format must be json or csv", {"format": fmt[:20]})
        tz = report_tz(settings)
        try:
            start = parse_time(q.get("from", ""), tz, name="from")
            end = parse_time(q.get("to", ""), tz, end=True, name="to")
            days = float(q.get("days", "90"))
            limit = int(q.get("limit", "500"))
        except ReportError as exc:
            raise BadRequest(str(exc), exc.details) from None
        except ValueError:
            raise BadRequest("days must be a number and limit an integer") from None
        agents: list[str] | None = q.getall("agent") if "agent" in q else None
        if scope is Scope.TEAM and name in (*CALL_CENTER_REPORTS, *OUTBOUND_REPORTS):
            if me.team_id is None:
                raise Forbidden("you lead no team: agent reports need one")
            team = await crm.history.team_members(me.team_id)
            if agents is not None and not set(agents) <= set(team):
                raise Forbidden("agents outside your team",
                                {"agents": sorted(set(agents) - set(team))})
            agents = agents if agents is not None else team
        by_team = q.get("by_team", "") in ("1", "true", "yes")
        try:
            rows = await run_report(
                crm, settings, name, start, end, interval=q.get("interval", "day"),
                queues=q.getall("queue") if "queue" in q else None, agents=agents,
                by_team=by_team, now=crm.clock.now(),
                days=days, limit=limit, menus=q.getall("menu") if "menu" in q else None,
                campaigns=q.getall("campaign") if "campaign" in q else None,
                by=q.get("by", "campaign"),
                teams=q.getall("team") if "team" in q else None)
        except ReportError as exc:
            raise BadRequest(str(exc), exc.details) from None
        split = by_team or ("team" in q and name in INBOUND_TEAM_REPORTS)
        if scope is Scope.TEAM and split and name in TEAM_SPLIT_REPORTS:
            # Split by team, a supervisor sees their own team's line only.
            mine = (await crm.teams.get(me.team_id)).name if me.team_id is not None else None
            rows = [r for r in rows if r.get("team") == mine]
        if fmt == "csv":
            return web.Response(
                text=to_csv(rows), content_type="text/csv", charset="utf-8",
                headers={"Content-Disposition":
                         f'attachment; filename="{name}-{int(start)}-{int(end)}.csv"'})
        body: dict[str, Any] = {"report": name, "from": start, "to": end,
                                "interval": q.get("interval", "day"),
                                "timezone": report_zone_name(settings), "rows": rows}
        return json_response(body)

    routes.extend(report_page_routes())  # /reports, the page over this API
    return routes
