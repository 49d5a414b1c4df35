"""Route declarations: one record per endpoint, from which both the aiohttp router and the OpenAPI
document are built, so the two cannot disagree.

Another package adds its endpoints by building a RouteRegistry (or a list of RouteSpec) and passing
it to create_app(..., extra_routes=...). Example:

    routes = RouteRegistry()

    @routes.get("/api/queues", roles={"supervisor", "admin"}, summary="Queue statistics",
                response=list[QueueStats], tags=("acd",))
    async def list_queues(request: web.Request) -> web.StreamResponse:
        return json_response([...])

`roles` empty means public (no token). Otherwise the guard authenticates the bearer token, refuses
other roles with 403, and validates the JSON body against `request_model` (422 with field details)
before the handler runs; handlers read them with `principal_of(request)` / `body_of(request, M)`.

A route that declares query parameters (`params` with location "query") refuses any other query
parameter with 422 naming it, as unknown body fields are refused: a misspelt filter must not
silently return everything. A route that declares none is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import pydantic
from aiohttp import web

from agent_desktop.errors import BadRequest, Forbidden, ValidationFailed
from agent_desktop.jsonio import parse_json
from agent_desktop.policy import Principal

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=pydantic.BaseModel)

PRINCIPAL_KEY: web.RequestKey[Principal] = web.RequestKey("cti.principal", Principal)
BODY_KEY: web.RequestKey[pydantic.BaseModel] = web.RequestKey("cti.body", pydantic.BaseModel)


@dataclass(frozen=True, slots=True)
class Param:
    """A query or path parameter, for the OpenAPI document (parsing is the handler's job)."""

    name: str
    location: Literal["query", "path", "header"] = "query"
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class PageOf:
    """Response marker: {items: [item], total, limit, offset}."""

    item: Any


@dataclass(frozen=True, slots=True)
class RouteSpec:
    method: str
    path: str
    handler: Handler
    roles: frozenset[str]
    summary: str
    request_model: type[pydantic.BaseModel] | None = None
    # A type pydantic can describe (dataclass, BaseModel, list[...], dict), a PageOf, or None.
    response: Any = None
    status: int = 200
    params: tuple[Param, ...] = ()
    tags: tuple[str, ...] = ()
    content_type: str = "application/json"
    operation_id: str = ""

    @property
    def public(self) -> bool:
        return not self.roles

    @property
    def template(self) -> str:
        """The path as people read it: `/api/tickets/{id}`, without aiohttp's `{id:\\d+}`."""
        return route_template(self.path)


_PARAM_REGEX = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):[^}]*\}")


def route_template(path: str) -> str:
    return _PARAM_REGEX.sub(r"{\1}", path)


class Authenticator(Protocol):
    async def authenticate(self, request: web.Request) -> Principal: ...


class RouteRegistry:
    def __init__(self, specs: Iterable[RouteSpec] = ()) -> None:
        self._specs: list[RouteSpec] = []
        for spec in specs:
            self.add(spec)

    def add(self, spec: RouteSpec) -> RouteSpec:
        method = spec.method.upper()
        if any(s.method == method and s.path == spec.path for s in self._specs):
            raise ValueError(f"route {method} {spec.path} declared twice")
        if not spec.summary:
            raise ValueError(f"route {method} {spec.path} needs a summary")
        normalised = RouteSpec(
            method=method, path=spec.path, handler=spec.handler, roles=frozenset(spec.roles),
            summary=spec.summary, request_model=spec.request_model, response=spec.response,
            status=spec.status, params=spec.params, tags=spec.tags,
            content_type=spec.content_type,
            operation_id=spec.operation_id or spec.handler.__name__,
        )
        self._specs.append(normalised)
        return normalised

    def extend(self, specs: Iterable[RouteSpec]) -> None:
        for spec in specs:
            self.add(spec)

    def route(self, method: str, path: str, *, roles: Iterable[str], summary: str,
              request_model: type[pydantic.BaseModel] | None = None, response: Any = None,
              status: int = 200, params: Iterable[Param] = (), tags: Iterable[str] = (),
              content_type: str = "application/json") -> Callable[[Handler], Handler]:
        def deco(handler: Handler) -> Handler:
            self.add(RouteSpec(method, path, handler, frozenset(roles), summary, request_model,
                               response, status, tuple(params), tuple(tags), content_type))
            return handler
        return deco

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kw)

    def __iter__(self) -> Iterator[RouteSpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def install(self, app: web.Application, authenticator: Authenticator) -> None:
        for spec in self._specs:
            handler = guarded(spec, authenticator)
            app.router.add_route(spec.method, spec.path, handler, name=spec.operation_id)
            if spec.method == "GET":
                # HEAD is GET without the body (RFC 9110 9.3.2): monitors probe /healthz so.
                app.router.add_route("HEAD", spec.path, handler)


def guarded(spec: RouteSpec, authenticator: Authenticator) -> Handler:
    allowed_query = frozenset(p.name for p in spec.params if p.location == "query")

    async def handler(request: web.Request) -> web.StreamResponse:
        if spec.roles:
            principal = await authenticator.authenticate(request)
            if principal.role not in spec.roles:
                raise Forbidden(f"role {principal.role!r} may not use "
                                f"{spec.method} {spec.template}",
                                {"allowed_roles": sorted(spec.roles)})
            request[PRINCIPAL_KEY] = principal
        if allowed_query:
            check_query(request, allowed_query)
        if spec.request_model is not None:
            request[BODY_KEY] = await parse_body(request, spec.request_model)
        return await spec.handler(request)

    handler.__name__ = spec.handler.__name__
    return handler


def check_query(request: web.Request, allowed: frozenset[str]) -> None:
    """422 naming every query parameter of the request that is not in `allowed`."""
    # Names are cut short: they are echoed back and a client controls their length.
    unknown = sorted({n[:64] for n in request.query if n not in allowed})
    if unknown:
        raise ValidationFailed(
            f"unknown query parameter {unknown[0]!r}" if len(unknown) == 1
            else f"unknown query parameters {', '.join(map(repr, unknown))}",
            {"fields": [{"loc": ["query", n], "msg": "unknown query parameter",
                         "type": "extra_forbidden"} for n in unknown],
             "allowed": sorted(allowed)})


async def parse_body(request: web.Request, model: type[M]) -> M:
    # Over client_max_size, aiohttp raises HTTPRequestEntityTooLarge: the middleware makes it 413.
    raw = await request.read()
    if not raw:
        raise BadRequest("a JSON body is required")
    data = parse_json(raw)
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationFailed("the body has invalid fields",
                               {"fields": validation_details(exc)}) from None


def validation_details(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    # Input values are left out: they may be passwords.
    return [
        {"loc": [str(p) for p in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def principal_of(request: web.Request) -> Principal:
    principal = request.get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal):
        raise RuntimeError("principal_of() on a public route")
    return principal


def body_of(request: web.Request, model: type[M]) -> M:
    body = request.get(BODY_KEY)
    if not isinstance(body, model):
        raise RuntimeError(f"route has no request_model {model.__name__}")
    return body
