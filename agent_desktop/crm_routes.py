"""REST routes over the CRM (crm_core.service.Crm): CRUD + search for every entity, the screen-pop
view, phone lookup, forecast, ticket history, order lines, user skills.

Every entity gets the same five routes from one declaration (RESOURCES):

    GET    /api/<name>?q=&<filters>&limit=&offset=&order_by=&desc=   -> {items,total,limit,offset}
    POST   /api/<name>                                               -> 201 row
    GET    /api/<name>/{id}                                          -> row
    PATCH  /api/<name>/{id}                                          -> row
    DELETE /api/<name>/{id}                                          -> 204

Allowed roles come from policy.POLICY; row scopes (OWN, TEAM) are checked here against the stored
row before anything changes. Users and skills are special: team scope, password hashing and the
rule that nobody grants a role above what they may assign.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

import pydantic
from aiohttp import web

from agent_desktop.crm_fields import (
    MAX_ID,
    body_model,
    changes_of,
    filter_params,
    parse_filter,
)
from agent_desktop.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from agent_desktop.jsonio import json_response
from agent_desktop.passwords import hash_password
from agent_desktop.policy import (
    Action,
    Principal,
    Scope,
    check_assign_role,
    check_row,
    require,
    roles_for,
)
from agent_desktop.routing import PageOf, Param, RouteSpec, body_of, principal_of
from agent_desktop.vocabulary import check_disposition, check_skills
from common.messages import CrmUserDeleted, CrmUserUpdated
from config.settings import Settings
from crm_core import models as m
from crm_core.errors import NotFound as CrmNotFound

if TYPE_CHECKING:
    from common.bus import Bus
    from crm_core.service import Crm

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
ID = r"{id:\d+}"  # no braces inside: OpenAPI path templates cannot nest them


@dataclasses.dataclass(frozen=True, slots=True)
class Resource:
    name: str  # URL segment
    repo: str  # attribute of Crm
    model: type[Any]
    policy: str  # resource name in policy.POLICY
    server_fields: frozenset[str] = frozenset({"created_at", "updated_at"})
    filters: tuple[str, ...] = ()
    owner_field: str | None = None  # for Scope.OWN
    searchable: bool = False
    updatable: bool = True


_TS = frozenset({"created_at", "updated_at"})

RESOURCES: tuple[Resource, ...] = (
    Resource("customers", "customers", m.Customer, "customers",
             _TS | {"value_score", "tier"}, ("kind", "stage", "tier", "company_id"),
             searchable=True),
    Resource("contacts", "contacts", m.Contact, "contacts", _TS, ("company_id", "person_id")),
    Resource("phones", "phones", m.Phone, "phones", _TS, ("customer_id", "contact_id", "e164")),
    Resource("emails", "emails", m.Email, "contacts", _TS, ("customer_id", "contact_id")),
    Resource("interactions", "interactions", m.Interaction, "interactions",
             _TS | {"wait_s", "talk_s"},
             ("customer_id", "agent_user_id", "kind", "direction", "queue", "call_id"),
             owner_field="agent_user_id"),
    Resource("tickets", "tickets", m.Ticket, "tickets",
             _TS | {"escalated", "escalated_at", "escalation_reason", "due_at"},
             ("customer_id", "status", "priority", "category", "owner_user_id", "escalated"),
             owner_field="owner_user_id"),
    Resource("products", "products", m.Product, "products", _TS,
             ("department", "active", "sku")),
    Resource("orders", "orders", m.Order, "orders", _TS | {"total_cents"},
             ("customer_id", "department", "status")),
    Resource("opportunities", "opportunities", m.Opportunity, "opportunities", _TS,
             ("customer_id", "stage", "owner_user_id"), owner_field="owner_user_id"),
    Resource("campaigns", "campaigns", m.Campaign, "campaigns", _TS,
             ("status", "dial_mode", "queue")),
    Resource("lead-lists", "lead_lists", m.LeadList, "leads", _TS, ("campaign_id",)),
    Resource("leads", "leads", m.Lead, "leads", _TS, ("list_id", "status", "customer_id", "phone")),
    Resource("dnc", "dnc", m.DncEntry, "dnc", _TS | {"added_at"}, ("phone",), updatable=False),
    Resource("callbacks", "callbacks", m.Callback, "callbacks", _TS,
             ("status", "kind", "assigned_user_id", "customer_id"),
             owner_field="assigned_user_id"),
    Resource("teams", "teams", m.Team, "teams", _TS, ("supervisor_id",)),
)

PAGING_PARAMS = (
    Param("limit", schema={"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                           "default": DEFAULT_LIMIT}),
    Param("offset", schema={"type": "integer", "minimum": 0, "default": 0}),
    Param("order_by", description="a column name"),
    Param("desc", schema={"type": "boolean", "default": False}),
)


def paging(request: web.Request) -> dict[str, Any]:
    q = request.query
    out: dict[str, Any] = {
        "limit": int(parse_filter("limit", q.get("limit", str(DEFAULT_LIMIT)), int)),  # type: ignore[call-overload]
        "offset": int(parse_filter("offset", q.get("offset", "0"), int)),  # type: ignore[call-overload]
    }
    if not 1 <= out["limit"] <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be 1..{MAX_LIMIT}",
                               {"fields": [{"loc": ["query", "limit"], "msg": "out of range",
                                            "type": "range"}]})
    if out["offset"] < 0:
        raise ValidationFailed("offset must be >= 0",
                               {"fields": [{"loc": ["query", "offset"], "msg": "out of range",
                                            "type": "range"}]})
    if "order_by" in q:
        out["order_by"] = q["order_by"]
    if "desc" in q:
        out["descending"] = parse_filter("desc", q["desc"], bool)
    return out


def path_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    v = int(raw) if len(raw) <= 19 else MAX_ID + 1
    if v > MAX_ID:
        raise NotFound("no such row")
    return v


def page_body(page: Any) -> dict[str, Any]:
    return {"items": page.items, "total": page.total, "limit": page.limit, "offset": page.offset}


def _choices(repo: Any) -> Mapping[str, tuple[str, ...]]:
    spec = getattr(repo, "spec", None)
    choices = getattr(spec, "choices", None)
    return choices if isinstance(choices, Mapping) else {}


def _query_params(filters: Mapping[str, type], searchable: bool) -> tuple[Param, ...]:
    names = {str: "string", int: "integer", float: "number", bool: "boolean"}
    params = [Param(n, schema={"type": names[t]}) for n, t in filters.items()]
    if searchable:
        params.insert(0, Param("q", description="text search"))
    return (*params, *PAGING_PARAMS)


def _filters_from(request: web.Request, filters: Mapping[str, type]) -> dict[str, object]:
    return {n: parse_filter(n, request.query[n], t) for n, t in filters.items()
            if n in request.query}


def _spec(method: str, path: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
          policy: str, action: Action, summary: str, **kw: Any) -> RouteSpec:
    return RouteSpec(method, path, handler, roles_for(policy, action), summary, **kw)


# A check of a row's values before it is written: (values given, stored row or None on create).
RowCheck = Callable[[Mapping[str, object], Any], None]


def resource_routes(crm: Crm, res: Resource, check: RowCheck | None = None) -> list[RouteSpec]:
    repo = getattr(crm, res.repo)
    choices = _choices(repo)
    title = "".join(p.capitalize() for p in res.name.split("-"))
    create_model = body_model(f"{title}Create", res.model, exclude=res.server_fields,
                              choices=choices, partial=False)
    update_model = body_model(f"{title}Update", res.model, exclude=res.server_fields,
                              choices=choices, partial=True)
    filters = filter_params(res.model, res.filters)
    searchable = res.searchable or bool(getattr(getattr(repo, "spec", None), "search_columns", ()))
    base = f"/api/{res.name}"
    tags = (res.name,)

    def owner_of(row: Any) -> int | None:
        return getattr(row, res.owner_field) if res.owner_field else None

    async def list_rows(request: web.Request) -> web.StreamResponse:
        q = request.query.get("q") if searchable else None
        page = await repo.search(q or None, **paging(request), **_filters_from(request, filters))
        return json_response(page_body(page))

    async def get_row(request: web.Request) -> web.StreamResponse:
        return json_response(await repo.get(path_id(request)))

    async def create_row(request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        values = changes_of(body_of(request, create_model))
        if res.owner_field and require(p, res.policy, "update") is Scope.OWN:
            # Someone with only OWN scope records work as themselves, never as someone else.
            owner = values.setdefault(res.owner_field, p.user_id)
            if owner != p.user_id:
                raise Forbidden(f"you may only create {res.name} owned by yourself",
                                {"field": res.owner_field})
        if check is not None:
            check(values, None)
        return json_response(await repo.create(**values), status=201)

    async def update_row(request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        row_id = path_id(request)
        changes = changes_of(body_of(request, update_model))
        if not changes:
            raise ValidationFailed("no fields to change")
        old = await repo.get(row_id)
        owner = owner_of(old)
        if res.name == "interactions" and owner != p.user_id and old.call_id:
            # A call transferred to another agent keeps the interaction of the agent it was
            # offered to; the agent who took it over talked on it too (their call segment) and
            # records its outcome when it ends, as the first agent may.
            segments = await crm.call_segments(old.call_id)
            if any(s.agent_user_id == p.user_id for s in segments):
                owner = p.user_id
        check_row(p, res.policy, "update", owner_id=owner)
        if check is not None:
            check(changes, old)
        if res.name == "tickets":
            return json_response(await repo.update(row_id, by_user_id=p.user_id, **changes))
        return json_response(await repo.update(row_id, **changes))

    async def delete_row(request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        row_id = path_id(request)
        old = await repo.get(row_id)
        check_row(p, res.policy, "delete", owner_id=owner_of(old))
        await repo.delete(row_id)
        return web.Response(status=204)

    for fn, verb in ((list_rows, "list"), (get_row, "get"), (create_row, "create"),
                     (update_row, "update"), (delete_row, "delete")):
        fn.__name__ = f"{verb}_{res.name.replace('-', '_')}"

    specs = [
        _spec("GET", base, list_rows, res.policy, "read", f"Search {res.name}",
              response=PageOf(res.model), params=_query_params(filters, searchable),
              tags=tags),
        _spec("GET", f"{base}/{ID}", get_row, res.policy, "read", f"One of {res.name}",
              response=res.model, tags=tags),
        _spec("DELETE", f"{base}/{ID}", delete_row, res.policy, "delete",
              f"Delete one of {res.name}", status=204, tags=tags),
    ]
    if res.name != "orders":  # orders are created with their lines (see order_routes)
        specs.append(_spec("POST", base, create_row, res.policy, "create",
                           f"Create one of {res.name}", request_model=create_model,
                           response=res.model, status=201, tags=tags))
    if res.updatable:
        specs.append(_spec("PATCH", f"{base}/{ID}", update_row, res.policy, "update",
                           f"Change fields of one of {res.name}", request_model=update_model,
                           response=res.model, tags=tags))
    return specs


# ---- users and skills (team scope) --------------------------------------------------------

class UserCreate(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    username: str = pydantic.Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = pydantic.Field(min_length=8, max_length=1024)
    role: str = pydantic.Field(default="agent", pattern=r"^(agent|supervisor|admin)$")
    display_name: str = pydantic.Field(default="", max_length=200)
    team_id: int | None = pydantic.Field(default=None, ge=1, le=MAX_ID)
    extension: str | None = pydantic.Field(default=None, pattern=r"^[0-9]{2,6}$")
    active: bool = True


class UserUpdate(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    password: str | None = pydantic.Field(default=None, min_length=8, max_length=1024)
    role: str | None = pydantic.Field(default=None, pattern=r"^(agent|supervisor|admin)$")
    display_name: str | None = pydantic.Field(default=None, max_length=200)
    team_id: int | None = pydantic.Field(default=None, ge=1, le=MAX_ID)
    extension: str | None = pydantic.Field(default=None, pattern=r"^[0-9]{2,6}$")
    active: bool | None = None


class SkillCreate(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    user_id: int = pydantic.Field(ge=1, le=MAX_ID)
    skill: str = pydantic.Field(min_length=1, max_length=64)
    level: int = pydantic.Field(default=1, ge=1, le=5)


class SkillUpdate(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    level: int = pydantic.Field(ge=1, le=5)


class SkillSet(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    skills: dict[str, int] = pydantic.Field(max_length=100)

    @pydantic.field_validator("skills")
    @classmethod
    def _levels(cls, v: dict[str, int]) -> dict[str, int]:
        for name, level in v.items():
            if not name or len(name) > 64:
                raise ValueError("skill names are 1..64 characters")
            if not 1 <= level <= 5:
                raise ValueError(f"skill {name!r}: level must be 1..5")
        return v


def _team_filter(p: Principal, scope: Scope) -> dict[str, object]:
    if scope is Scope.ALL:
        return {}
    if p.team_id is None:  # no team: the only user in "your team" is you
        return {"id": p.user_id}
    return {"team_id": p.team_id}


def user_routes(crm: Crm, bus: Bus, settings: Settings | None = None) -> list[RouteSpec]:
    """`bus`: user changes are published (the ACD and the hub cut off deactivated users)."""
    users, skills = crm.users, crm.skills
    publish = bus.publish
    user_filters = filter_params(m.User, ("role", "team_id", "active", "extension"))
    tags = ("users",)

    async def load_user(p: Principal, user_id: int, action: Action) -> m.User:
        user: m.User = await users.get(user_id)
        try:
            check_row(p, "users", action, team_id=user.team_id)
        except Forbidden:
            if action == "read":  # do not confirm that another team's user exists
                raise NotFound(f"user {user_id} not found") from None
            raise
        return user

    async def list_users(request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        scope = require(p, "users", "read")
        filters = _filters_from(request, user_filters)
        filters.update(_team_filter(p, scope))
        page = await users.search(request.query.get("q") or None, **paging(request),
                                  **cast(dict[str, Any], filters))
        return json_response(page_body(page))

    async def get_user(request: web.Request) -> web.StreamResponse:
        return json_response(await load_user(principal_of(request), path_id(request), "read"))

    async def create_user(request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        body = body_of(request, UserCreate)
        check_assign_role(p, body.role)
        check_row(p, "users", "create", team_id=body.team_id)
        values = body.model_dump(exclude={"password"})
        values["password_hash"] = await asyncio.to_thread(hash_password, body.password)
        return json_response(await users.create(**values), status=201)

    async def update_user(request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        user_id = path_id(request)
        body = body_of(request, UserUpdate)
        changes = body.model_dump(exclude_unset=True, exclude={"password"})
        if body.password is not None:
            changes["password_hash"] = await asyncio.to_thread(hash_password, body.password)
        if not changes:
            raise ValidationFailed("no fields to change")
        old = await load_user(p, user_id, "update")
        check_assign_role(p, old.role)  # a supervisor cannot edit another supervisor or admin
        if "role" in changes:
            if changes["role"] is None:
                raise ValidationFailed("role cannot be null")
            check_assign_role(p, str(changes["role"]))
        if "team_id" in changes:
            check_row(p, "users", "update", team_id=changes["team_id"])
        updated = await users.update(user_id, **changes)
        # The ACD listens: a deactivated agent stops taking calls.
        # users.role is CHECK-constrained to the three roles in the schema.
        role = cast(Literal["agent", "supervisor", "admin"], updated.role)
        publish(CrmUserUpdated(updated.id, updated.username, updated.active,
                                                    role))
        return json_response(updated)

    async def delete_user(request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        user_id = path_id(request)
        if user_id == p.user_id:
            raise Conflict("you cannot delete yourself")
        old = await load_user(p, user_id, "delete")
        check_assign_role(p, old.role)
        await users.delete(user_id)
        publish(CrmUserDeleted(old.id, old.username))
        return web.Response(status=204)

    async def user_skills(request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        user = await load_user(p, path_id(request), "read")
        require(p, "skills", "read")
        return json_response(list(await skills.for_user(user.id)))

    async def set_user_skills(request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        user_id = path_id(request)
        user: m.User = await users.get(user_id)
        check_row(p, "skills", "update", team_id=user.team_id)
        body = body_of(request, SkillSet)
        if settings is not None:
            await check_skills(settings, crm, body.skills)
        return json_response(list(await skills.set_skills(user_id, body.skills)))

    async def list_skills(request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        scope = require(p, "skills", "read")
        filters: dict[str, object] = _filters_from(
            request, {"user_id": int, "skill": str, "level": int})
        if scope is not Scope.ALL:
            if "user_id" not in filters:
                raise BadRequest("user_id is required for your role",
                                 {"param": "user_id"})
            await load_user(p, int(filters["user_id"]), "read")  # type: ignore[call-overload]
        page = await skills.search(None, **paging(request), **cast(dict[str, Any], filters))
        return json_response(page_body(page))

    async def create_skill(request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        body = body_of(request, SkillCreate)
        user: m.User = await users.get(body.user_id)
        check_row(p, "skills", "create", team_id=user.team_id)
        if settings is not None:
            await check_skills(settings, crm, (body.skill,))
        return json_response(await skills.create(**body.model_dump()), status=201)

    async def skill_and_user(p: Principal, skill_id: int, action: Action) -> m.Skill:
        skill: m.Skill = await skills.get(skill_id)
        user: m.User = await users.get(skill.user_id)
        check_row(p, "skills", action, team_id=user.team_id)
        return skill

    async def update_skill(request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        skill_id = path_id(request)
        await skill_and_user(p, skill_id, "update")
        body = body_of(request, SkillUpdate)
        return json_response(await skills.update(skill_id, level=body.level))

    async def delete_skill(request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        skill_id = path_id(request)
        await skill_and_user(p, skill_id, "delete")
        await skills.delete(skill_id)
        return web.Response(status=204)

    list_params = (Param("q", description="text search"),
                   *(Param(n, schema={"type": "string"}) for n in user_filters), *PAGING_PARAMS)
    skill_params = (Param("user_id", schema={"type": "integer"},
                          description="required unless admin"),
                    Param("skill"), Param("level", schema={"type": "integer"}), *PAGING_PARAMS)
    return [
        _spec("GET", "/api/users", list_users, "users", "read",
              "Search users (your team's unless admin)", response=PageOf(m.User),
              params=list_params, tags=tags),
        _spec("GET", f"/api/users/{ID}", get_user, "users", "read", "One user",
              response=m.User, tags=tags),
        _spec("POST", "/api/users", create_user, "users", "create", "Create a user",
              request_model=UserCreate, response=m.User, status=201, tags=tags),
        _spec("PATCH", f"/api/users/{ID}", update_user, "users", "update",
              "Change a user (password, role, team, extension, active)",
              request_model=UserUpdate, response=m.User, tags=tags),
        _spec("DELETE", f"/api/users/{ID}", delete_user, "users", "delete", "Delete a user",
              status=204, tags=tags),
        _spec("GET", f"/api/users/{ID}/skills", user_skills, "skills", "read",
              "A user's skills", response=list[m.Skill], tags=tags),
        _spec("PUT", f"/api/users/{ID}/skills", set_user_skills, "skills", "update",
              "Replace a user's skills", request_model=SkillSet, response=list[m.Skill],
              tags=tags),
        _spec("GET", "/api/skills", list_skills, "skills", "read", "Search skill assignments",
              response=PageOf(m.Skill), params=skill_params, tags=("skills",)),
        _spec("POST", "/api/skills", create_skill, "skills", "create", "Give a user a skill",
              request_model=SkillCreate, response=m.Skill, status=201, tags=("skills",)),
        _spec("PATCH", f"/api/skills/{ID}", update_skill, "skills", "update",
              "Change a skill level", request_model=SkillUpdate, response=m.Skill,
              tags=("skills",)),
        _spec("DELETE", f"/api/skills/{ID}", delete_skill, "skills", "delete",
              "Remove a skill from a user", status=204, tags=("skills",)),
    ]


# ---- views and entity-specific operations ----------------------------------------------------

class OrderLineIn(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    product_id: int = pydantic.Field(ge=1, le=MAX_ID)
    quantity: int = pydantic.Field(default=1, ge=1, le=1_000_000)


class OrderCreate(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    customer_id: int = pydantic.Field(ge=1, le=MAX_ID)
    department: str = pydantic.Field(min_length=1, max_length=100)
    status: str | None = pydantic.Field(default=None, pattern=r"^(open|paid|cancelled)$")
    lines: list[OrderLineIn] = pydantic.Field(min_length=1, max_length=500)


class Forecast(pydantic.BaseModel):
    months: list[dict[str, Any]]


def view_routes(crm: Crm) -> list[RouteSpec]:
    async def lookup(request: web.Request) -> web.StreamResponse:
        phone = request.query.get("phone", "")
        if not phone:
            raise BadRequest("the phone query parameter is required", {"param": "phone"})
        if len(phone) > 64:
            raise ValidationFailed("phone is too long", {"param": "phone"})
        found = await crm.lookup_phone(phone)
        if found is None:
            raise NotFound("no customer has this phone number", {"phone": phone})
        return json_response(found)

    async def customer_view(request: web.Request) -> web.StreamResponse:
        return json_response(await crm.customer_view(path_id(request)))

    async def forecast(request: web.Request) -> web.StreamResponse:
        kw: dict[str, Any] = {}
        for name in ("since", "until"):
            if name in request.query:
                kw[name] = parse_filter(name, request.query[name], float)
        return json_response(list(await crm.opportunities.forecast(**kw)))

    async def ticket_history(request: web.Request) -> web.StreamResponse:
        return json_response(list(await crm.tickets.history(path_id(request))))

    async def create_order(request: web.Request) -> web.StreamResponse:
        body = body_of(request, OrderCreate)
        kw: dict[str, Any] = {"customer_id": body.customer_id, "department": body.department,
                              "lines": [(ln.product_id, ln.quantity) for ln in body.lines]}
        if body.status is not None:
            kw["status"] = body.status
        return json_response(await crm.orders.create_with_lines(**kw), status=201)

    async def order_lines(request: web.Request) -> web.StreamResponse:
        return json_response(list(await crm.orders.lines(path_id(request))))

    async def recompute_values(request: web.Request) -> web.StreamResponse:
        return json_response(await crm.recompute_values())

    return [
        _spec("GET", "/api/lookup", lookup, "customers", "read",
              "Screen-pop by phone number (any spelling; extension allowed): the best "
              "match's view, every customer with the number in matches, ambiguous if several",
              response=m.PhoneLookup, tags=("customers",),
              params=(Param("phone", required=True),)),
        _spec("GET", f"/api/customers/{ID}/view", customer_view, "customers", "read",
              "Screen-pop view of a customer", response=m.CustomerView, tags=("customers",)),
        _spec("GET", "/api/forecast", forecast, "forecast", "read",
              "Weighted pipeline forecast by month of expected close",
              response=list[m.ForecastMonth], tags=("opportunities",),
              params=(Param("since", schema={"type": "number"}, description="Unix seconds"),
                      Param("until", schema={"type": "number"}, description="Unix seconds"))),
        _spec("GET", f"/api/tickets/{ID}/history", ticket_history, "tickets", "read",
              "Every recorded change of a ticket", response=list[m.TicketChange],
              tags=("tickets",)),
        _spec("POST", "/api/orders", create_order, "orders", "create",
              "Create an order with its lines", request_model=OrderCreate, response=m.Order,
              status=201, tags=("orders",)),
        _spec("GET", f"/api/orders/{ID}/lines", order_lines, "orders", "read",
              "An order's lines", response=list[m.OrderLine], tags=("orders",)),
        _spec("POST", "/api/values/recompute", recompute_values, "value", "update",
              "Recompute every customer's value score and tier", response=m.ValueRecompute,
              tags=("customers",)),
    ]


def crm_routes(crm: Crm, bus: Bus, settings: Settings | None = None) -> list[RouteSpec]:
    checks: dict[str, RowCheck] = {}
    if settings is not None:
        checks["interactions"] = _disposition_check(settings)
    specs: list[RouteSpec] = []
    for res in RESOURCES:
        specs.extend(resource_routes(crm, res, checks.get(res.name)))
    specs.extend(user_routes(crm, bus, settings))
    specs.extend(view_routes(crm))
    return specs


def _disposition_check(settings: Settings) -> RowCheck:
    """Agents record a call's outcome as one of the configured codes (its queue's, if any)."""
    def check(values: Mapping[str, object], old: Any) -> None:
        if values.get("disposition") is not None:
            queue = values["queue"] if "queue" in values else getattr(old, "queue", None)
            check_disposition(settings, queue if isinstance(queue, str) else None,
                              values["disposition"])
    return check


class CrmUserStore:
    """auth.UserStore over crm.users."""

    def __init__(self, crm: Crm) -> None:
        self._users = crm.users

    async def user_by_id(self, user_id: int) -> m.User | None:
        try:
            user: m.User = await self._users.get(user_id)
        except CrmNotFound:
            return None
        return user

    async def user_by_username(self, username: str) -> m.User | None:
        try:
            user: m.User | None = await self._users.by_username(username)
        except CrmNotFound:
            return None
        return user
