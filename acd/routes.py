"""REST endpoints that operate the ACD (agents' own state; supervisors' queue and agent views).

The agent id in the ACD is the user's username; the device comes from the user's extension.
Times in responses (state_since, last_call_end) are Unix timestamps.
Supervisors may act on agents of their own team only; admins on everyone.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

import pydantic
from aiohttp import web

from acd.agent_actions import AgentActions, api_error
from acd.agents import validate_skills
from acd.errors import AcdError, UnknownAgent
from acd.model import AgentSnapshot
from acd.service import AcdService
from acd.stats import QueueReport
from agent_desktop.errors import BadRequest, Forbidden
from agent_desktop.jsonio import json_response
from agent_desktop.routing import Param, RouteRegistry, body_of, principal_of
from agent_desktop.vocabulary import check_skills

if TYPE_CHECKING:
    from crm_core.service import Crm

AGENT_ROLES = frozenset({"agent", "supervisor", "admin"})
SUPERVISORS = frozenset({"supervisor", "admin"})
_EXTENSION = r"^[0-9]{2,6}$"
OVERALL = "ALL"
_SKILL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class LoginBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    extension: str | None = pydantic.Field(default=None, pattern=_EXTENSION)
    queues: list[str] | None = None
    paused_reason: str | None = pydantic.Field(default=None, min_length=1, max_length=40)


class PauseBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    reason: str = pydantic.Field(min_length=1, max_length=40)


class SkillsBody(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    skills: dict[str, int] = pydantic.Field(max_length=50)

    @pydantic.field_validator("skills")
    @classmethod
    def _levels(cls, v: dict[str, int]) -> dict[str, int]:
        for name, level in v.items():
            if not _SKILL_NAME.fullmatch(name):
                raise ValueError(f"skill {name[:40]!r}: 1-32 letters, digits, '_' or '-'")
            if not 1 <= level <= 5:
                raise ValueError(f"skill {name!r}: level must be 1..5")
        return v


def acd_routes(service: AcdService, crm: Crm) -> RouteRegistry:
    routes = RouteRegistry()
    queue_names = {q.name for q in service.settings.acd.queues}

    actions = AgentActions(service, crm)
    user_record = actions.user_record

    async def check_team(request: web.Request, agent_id: str) -> None:
        await actions.check_team(principal_of(request), agent_id)

    run = actions.run
    wall_view = actions.wall_view

    def agent_json(agent_id: str) -> web.Response:
        return json_response(actions.view(agent_id))

    @routes.post("/api/acd/me/login", roles=AGENT_ROLES, request_model=LoginBody,
                 summary="Log in to the ACD on a device (extension); skills come from the CRM",
                 response=AgentSnapshot, tags=("acd",))
    async def acd_login(request: web.Request) -> web.StreamResponse:
        me = principal_of(request)
        body = body_of(request, LoginBody)
        user = await user_record(me.username)
        # Only on one's own phone, whatever the role: calls offered to this agent would ring
        # someone else's desk, and a phone is one user's (users.extension is unique).
        if not user.extension:
            raise Forbidden("you have no extension (phone) of your own; an admin must set "
                            "one on your user before you can log in to the ACD")
        extension = body.extension or user.extension
        if extension != user.extension:
            raise Forbidden(f"extension {extension} is not yours (yours: {user.extension})")
        queues = frozenset(body.queues) if body.queues is not None else None
        if queues is not None and not queues <= queue_names:
            raise BadRequest("unknown queue", {"unknown": sorted(queues - queue_names)})
        skills = {s.skill: s.level for s in await crm.skills.for_user(user.id)}
        try:
            service.agent_login(me.username, extension, queues=queues, skills=skills,
                                pause_reason=body.paused_reason)
        except AcdError as exc:
            raise api_error(exc) from None
        return agent_json(me.username)

    @routes.post("/api/acd/me/logout", roles=AGENT_ROLES, summary="Log out of the ACD",
                 tags=("acd",))
    async def acd_logout(request: web.Request) -> web.StreamResponse:
        run(service.agent_logout, principal_of(request).username)
        return json_response({"status": "logged_out"})

    def logout_now_or_after_call(agent_id: str) -> web.StreamResponse:
        status, body = actions.logout_now_or_after_call(agent_id)
        return json_response(body, status=status)

    @routes.post("/api/acd/me/logout-after-call", roles=AGENT_ROLES,
                 summary="Log out now if between calls (200), else right after the current "
                         "call (202; no new calls meanwhile)", tags=("acd",))
    async def acd_logout_after_call(request: web.Request) -> web.StreamResponse:
        return logout_now_or_after_call(principal_of(request).username)

    @routes.post("/api/acd/me/pause-after-call", roles=AGENT_ROLES, request_model=PauseBody,
                 summary="Pause now if between calls (200), else right after the current call "
                         "(202; no new calls are offered once it ends)", tags=("acd",))
    async def acd_pause_after_call(request: web.Request) -> web.StreamResponse:
        me = principal_of(request).username
        status, body = actions.pause_now_or_after_call(me, body_of(request, PauseBody).reason)
        return json_response(body, status=status)

    @routes.post("/api/acd/me/available", roles=AGENT_ROLES, response=AgentSnapshot,
                 summary="Become available for calls", tags=("acd",))
    async def acd_available(request: web.Request) -> web.StreamResponse:
        return json_response(actions.available(principal_of(request).username))

    @routes.post("/api/acd/me/pause", roles=AGENT_ROLES, request_model=PauseBody,
                 response=AgentSnapshot, summary="Pause with a configured reason code",
                 tags=("acd",))
    async def acd_pause(request: web.Request) -> web.StreamResponse:
        me = principal_of(request).username
        return json_response(actions.pause(me, body_of(request, PauseBody).reason))

    @routes.post("/api/acd/me/end-wrapup", roles=AGENT_ROLES, response=AgentSnapshot,
                 summary="End after-call work now", tags=("acd",))
    async def acd_end_wrapup(request: web.Request) -> web.StreamResponse:
        return json_response(actions.end_wrapup(principal_of(request).username))

    @routes.get("/api/acd/me", roles=AGENT_ROLES, response=AgentSnapshot,
                summary="My ACD state", tags=("acd",))
    async def acd_me(request: web.Request) -> web.StreamResponse:
        return agent_json(principal_of(request).username)

    @routes.get("/api/queues", roles=SUPERVISORS, response=list[QueueReport],
                summary="Live statistics per queue, then the line over all queues "
                "(queue \"ALL\", overall true)", tags=("acd",))
    async def queues(request: web.Request) -> web.StreamResponse:
        # The line over every queue has key "" inside the ACD; clients get a name they can
        # show and test for (queue names are lower-case, so "ALL" is never a queue's).
        return json_response([dataclasses.replace(r, queue=OVERALL) if r.overall else r
                              for r in service.report()])

    @routes.get("/api/agents", roles=SUPERVISORS, response=list[AgentSnapshot],
                summary="Every agent the ACD knows (logged out ones included) and its state",
                tags=("acd",))
    async def agents(request: web.Request) -> web.StreamResponse:
        return json_response([wall_view(a) for a in service.engine.agents()])

    agent_param = (Param("agent_id", "path", required=True, description="username"),)

    @routes.post("/api/agents/{agent_id}/pause", roles=SUPERVISORS, request_model=PauseBody,
                 params=agent_param, response=AgentSnapshot,
                 summary="Force an agent into pause", tags=("acd",))
    async def force_pause(request: web.Request) -> web.StreamResponse:
        agent_id = request.match_info["agent_id"]
        await check_team(request, agent_id)
        return json_response(actions.pause(agent_id, body_of(request, PauseBody).reason))

    @routes.post("/api/agents/{agent_id}/logout", roles=SUPERVISORS, params=agent_param,
                 summary="Force an agent out of the ACD: now (200), or right after the current "
                         "call (202, no new calls meanwhile)", tags=("acd",))
    async def force_logout(request: web.Request) -> web.StreamResponse:
        agent_id = request.match_info["agent_id"]
        await check_team(request, agent_id)
        return logout_now_or_after_call(agent_id)

    @routes.put("/api/agents/{agent_id}/skills", roles=SUPERVISORS, request_model=SkillsBody,
                params=agent_param, summary="Change an agent's skills (CRM and live routing)",
                tags=("acd",))
    async def set_skills(request: web.Request) -> web.StreamResponse:
        agent_id = request.match_info["agent_id"]
        await check_team(request, agent_id)
        skills = body_of(request, SkillsBody).skills
        user = await user_record(agent_id)
        try:
            validate_skills(agent_id, skills)  # before the CRM write: all or nothing
        except AcdError as exc:
            raise api_error(exc) from None
        await check_skills(service.settings, crm, skills)
        await crm.skills.set_skills(user.id, skills)
        try:
            service.agent_set_skills(agent_id, skills)
        except UnknownAgent:
            pass  # not logged in: the CRM change applies at the next login
        except AcdError as exc:
            raise api_error(exc) from None
        return json_response({"agent_id": agent_id, "skills": skills})

    return routes
