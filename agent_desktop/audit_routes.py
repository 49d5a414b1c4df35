"""GET /api/audit/dials: the dial and transfer audit log (crm_core/dial_audit.py), newest first.

Supervisors see the attempts of their own team (the team the dialler was in at the time; a
supervisor without a team sees only their own attempts); admins see everything. Filters are
equalities on the row's columns plus a time range (since <= at < until, Unix seconds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from agent_desktop.crm_fields import parse_filter
from agent_desktop.crm_routes import DEFAULT_LIMIT, MAX_LIMIT, page_body
from agent_desktop.errors import Forbidden, ValidationFailed
from agent_desktop.jsonio import json_response
from agent_desktop.policy import Scope, require, roles_for
from agent_desktop.routing import PageOf, Param, RouteSpec, principal_of
from crm_core.dial_audit import ACTIONS, FILTERS, VERDICTS, DialAttempt

if TYPE_CHECKING:
    from crm_core.service import Crm

_DOC = {"action": f"one of {', '.join(ACTIONS)}", "verdict": f"one of {', '.join(VERDICTS)}",
        "reason": "cti.dialpolicy reason code, e.g. number_type_not_allowed",
        "kind": "internal, external, emergency, short_code or invalid"}
_TYPES = {int: "integer", str: "string", float: "number"}


def _params() -> tuple[Param, ...]:
    out = [Param(n, schema={"type": _TYPES[t]}, description=_DOC.get(n, ""))
           for n, t in FILTERS.items()]
    out += [Param("since", schema={"type": "number"}, description="Unix seconds, inclusive"),
            Param("until", schema={"type": "number"}, description="Unix seconds, exclusive"),
            Param("limit", schema={"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                   "default": DEFAULT_LIMIT}),
            Param("offset", schema={"type": "integer", "minimum": 0, "default": 0})]
    return tuple(out)


def _range_error(name: str, msg: str) -> ValidationFailed:
    return ValidationFailed(f"{name} {msg}", {"fields": [{"loc": ["query", name], "msg": msg,
                                                          "type": "range"}]})


def audit_routes(crm: Crm) -> list[RouteSpec]:
    async def list_dial_attempts(request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        q = request.query
        filters: dict[str, Any] = {n: parse_filter(n, q[n], t) for n, t in FILTERS.items()
                                   if n in q}
        kw: dict[str, Any] = {n: parse_filter(n, q[n], float) for n in ("since", "until")
                              if n in q}
        limit = parse_filter("limit", q.get("limit", str(DEFAULT_LIMIT)), int)
        offset = parse_filter("offset", q.get("offset", "0"), int)
        assert isinstance(limit, int) and isinstance(offset, int)
        if not 1 <= limit <= MAX_LIMIT:
            raise _range_error("limit", f"must be 1..{MAX_LIMIT}")
        if offset < 0:
            raise _range_error("offset", "must be >= 0")
        if require(p, "dial_audit", "read") is not Scope.ALL:
            if p.team_id is None:  # no team: the only dialler in "your team" is you
                if filters.setdefault("user_id", p.user_id) != p.user_id:
                    raise Forbidden("you have no team: you may read only your own attempts")
            elif filters.setdefault("team_id", p.team_id) != p.team_id:
                raise Forbidden("you may read only your own team's dial attempts",
                                {"team_id": p.team_id})
        page = await crm.dial_audit.search(limit=limit, offset=offset, **kw, **filters)
        return json_response(page_body(page))

    return [RouteSpec("GET", "/api/audit/dials", list_dial_attempts,
                      roles_for("dial_audit", "read"),
                      "Dial, transfer and callback attempts, allowed or refused (newest first)",
                      response=PageOf(DialAttempt), params=_params(), tags=("audit",))]
