"""Admin REST endpoints of the IVR: the loaded menus, a picture of each, reload, statistics."""

from __future__ import annotations

import asyncio

import pydantic
from aiohttp import web

from agent_desktop.errors import ApiError, NotFound, ServiceUnavailable, ValidationFailed
from agent_desktop.jsonio import json_response
from agent_desktop.routing import Param, RouteRegistry
from ivr.errors import IvrError
from ivr.graph import dot_available, to_dot, to_svg
from ivr.service import IvrService

ADMINS = frozenset({"admin"})
VIEWERS = frozenset({"supervisor", "admin"})


class MenuInfo(pydantic.BaseModel):
    name: str
    file: str
    version: int
    start: str
    nodes: int
    languages: list[str]
    default_queue: str


class ReloadInfo(pydantic.BaseModel):
    ok: bool
    version: int
    menus: list[str]


class IvrStatsInfo(pydantic.BaseModel):
    calls: int
    active: int
    outcomes: dict[str, int]
    fallbacks: int
    reloads: int
    reloads_refused: int
    version: int


def ivr_routes(service: IvrService) -> RouteRegistry:
    routes = RouteRegistry()

    @routes.get("/api/ivr/menus", roles=VIEWERS, summary="The IVR menus now in use",
                response=list[MenuInfo], tags=("ivr",))
    async def list_menus(request: web.Request) -> web.StreamResponse:
        return json_response([MenuInfo(
            name=m.name, file=m.file, version=m.version, start=m.start,
            nodes=len(m.nodes) - 1, languages=list(m.languages), default_queue=m.default_queue,
        ).model_dump() for m in service.registry.menus.values()])

    @routes.get("/api/ivr/menus/{name}/graph", roles=VIEWERS,
                summary="A picture of a menu: Graphviz DOT, or SVG (?format=svg, needs `dot`)",
                response={"type": "string"}, content_type="text/vnd.graphviz", tags=("ivr",),
                params=[Param("name", "path", required=True),
                        Param("format", schema={"type": "string", "enum": ["dot", "svg"]})])
    async def menu_graph(request: web.Request) -> web.StreamResponse:
        menu = service.registry.menus.get(request.match_info["name"])
        if menu is None:
            raise NotFound(f"no menu {request.match_info['name']!r}",
                           {"menus": sorted(service.registry.menus)})
        fmt = request.query.get("format", "dot")
        if fmt not in ("dot", "svg"):
            raise ValidationFailed("format must be dot or svg", {"format": fmt[:20]})
        dot = to_dot(menu)
        if fmt == "dot":
            return web.Response(text=dot, content_type="text/vnd.graphviz")
        if not dot_available():
            raise ServiceUnavailable("Graphviz `dot` is not installed on the server",
                                     {"fix": "install the graphviz package, or use format=dot"})
        try:
            svg = await asyncio.to_thread(to_svg, dot)
        except IvrError as exc:
            raise ApiError(str(exc)) from None
        return web.Response(text=svg, content_type="image/svg+xml")

    @routes.post("/api/ivr/reload", roles=ADMINS,
                 summary="Reload every menu file; an invalid set is refused (422) and the "
                         "running menus stay; calls in progress keep their version",
                 response=ReloadInfo, tags=("ivr",))
    async def reload_menus(request: web.Request) -> web.StreamResponse:
        res = service.reload()
        if not res.ok:
            raise ValidationFailed(f"menus not reloaded: {res.error}",
                                   {"running_version": res.version})
        return json_response(ReloadInfo(ok=True, version=res.version,
                                        menus=list(res.menus)).model_dump())

    @routes.get("/api/ivr/stats", roles=VIEWERS,
                summary="IVR outcomes since start (self-service, queued, abandoned in IVR...)",
                response=IvrStatsInfo, tags=("ivr",))
    async def ivr_stats(request: web.Request) -> web.StreamResponse:
        st = service.stats
        return json_response(IvrStatsInfo(
            calls=st.calls, active=service.active, outcomes=dict(st.outcomes),
            fallbacks=st.fallbacks, reloads=st.reloads, reloads_refused=st.reloads_refused,
            version=service.registry.version).model_dump())

    return routes
