"""Routes added through create_app(extra_routes=...) the way another package would add them."""

from __future__ import annotations

import pydantic
from aiohttp import web

from agent_desktop.errors import ApiError, BadGateway, GatewayTimeout, ServiceUnavailable
from agent_desktop.jsonio import json_response
from agent_desktop.routing import RouteRegistry, body_of, principal_of

UPSTREAM_ERRORS: dict[str, type[ApiError]] = {
    "bad-gateway": BadGateway, "unavailable": ServiceUnavailable, "timeout": GatewayTimeout,
}


class Echo(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    text: str = pydantic.Field(max_length=10_000)
    count: int = pydantic.Field(ge=0, le=10)


def sample_routes() -> RouteRegistry:
    routes = RouteRegistry()

    @routes.post("/api/test/echo", roles={"agent", "supervisor", "admin"}, summary="Echo",
                 request_model=Echo, response=Echo, tags=("test",))
    async def echo(request: web.Request) -> web.StreamResponse:
        return json_response(body_of(request, Echo))

    @routes.get("/api/test/boom", roles={"admin"}, summary="Raises an unexpected error")
    async def boom(request: web.Request) -> web.StreamResponse:
        raise RuntimeError("secret internal detail /etc/passwd")

    @routes.get("/api/test/supervisors", roles={"supervisor", "admin"},
                summary="Supervisor-only", response={"type": "object"})
    async def supervisors_only(request: web.Request) -> web.StreamResponse:
        return json_response({"user": principal_of(request).username})

    @routes.get("/api/test/upstream/{kind}", roles=set(), summary="Raises an upstream error")
    async def upstream(request: web.Request) -> web.StreamResponse:
        raise UPSTREAM_ERRORS[request.match_info["kind"]]("the PBX did not cooperate",
                                                          {"upstream": "ami"})

    return routes
