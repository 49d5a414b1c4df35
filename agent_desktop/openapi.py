"""The OpenAPI 3.1 document, generated from the route declarations (agent_desktop/routing.py).

Schemas come from pydantic: request models directly, responses (the CRM's dataclasses, lists of
them, pages) through TypeAdapter. Nested definitions are hoisted into components/schemas.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pydantic

from agent_desktop.routing import PageOf, RouteSpec

_PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")
_PATH_PARAM_PATTERN = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error_id", "message", "details"],
    "properties": {
        "error_id": {"type": "string", "examples": ["not_found"]},
        "message": {"type": "string"},
        "details": {"type": "object"},
    },
}

_ERROR_DESCRIPTIONS = {
    "400": "Bad request (body not JSON, bad parameter)",
    "401": "Missing, invalid or expired access token",
    "403": "The caller's role or scope does not allow this",
    "404": "Not found",
    "409": "Conflict",
    "413": "Request body too large",
    "422": "Invalid fields",
    "429": "Too many attempts; see Retry-After",
    "500": "Internal error (details.incident_id is in the server log)",
}


class _Components:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}

    def schema_for(self, tp: Any, mode: str) -> dict[str, Any]:
        if isinstance(tp, PageOf):
            return {
                "type": "object",
                "required": ["items", "total", "limit", "offset"],
                "properties": {
                    "items": {"type": "array", "items": self.schema_for(tp.item, mode)},
                    "total": {"type": "integer", "minimum": 0},
                    "limit": {"type": "integer", "minimum": 1},
                    "offset": {"type": "integer", "minimum": 0},
                },
            }
        if isinstance(tp, dict):
            return tp  # already a JSON schema
        schema = pydantic.TypeAdapter(tp).json_schema(
            mode="serialization" if mode == "out" else "validation",
            ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            self.schemas.setdefault(name, _strip_secrets(sub))
        title = schema.get("title")
        if schema.get("type") == "object" and isinstance(title, str):
            self.schemas.setdefault(title, _strip_secrets(schema))
            return {"$ref": f"#/components/schemas/{title}"}
        return _strip_secrets(schema)


def _strip_secrets(schema: dict[str, Any]) -> dict[str, Any]:
    # The encoder drops these fields (jsonio.NEVER_SERIALISED); the document must not promise them.
    from agent_desktop.jsonio import NEVER_SERIALISED

    props = schema.get("properties")
    if not isinstance(props, dict) or not (NEVER_SERIALISED & props.keys()):
        return schema
    out = dict(schema)
    out["properties"] = {k: v for k, v in props.items() if k not in NEVER_SERIALISED}
    if "required" in out:
        out["required"] = [r for r in out["required"] if r not in NEVER_SERIALISED]
    return out


def openapi_path(path: str) -> str:
    return _PATH_PARAM.sub(r"{\1}", path)


def build_openapi(specs: Iterable[RouteSpec], *, title: str = "Call-center CTI API",
                  version: str = "0.1.0") -> dict[str, Any]:
    comps = _Components()
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        path = openapi_path(spec.path)
        op: dict[str, Any] = {
            "operationId": spec.operation_id or spec.handler.__name__,
            "summary": spec.summary,
            "tags": list(spec.tags),
            "security": [] if spec.public else [{"bearerAuth": []}],
            "x-roles": sorted(spec.roles),
        }
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 0} if pattern == r"\d+"
             else {"type": "string"}}
            for name, pattern in _PATH_PARAM_PATTERN.findall(spec.path)
        ]
        declared_path = {p["name"] for p in params}
        for p in spec.params:
            if p.location == "path" and p.name in declared_path:
                params = [q for q in params if q["name"] != p.name]
            entry: dict[str, Any] = {"name": p.name, "in": p.location,
                                     "required": p.required or p.location == "path",
                                     "schema": p.schema}
            if p.description:
                entry["description"] = p.description
            params.append(entry)
        if params:
            op["parameters"] = params
        if spec.request_model is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {
                    "schema": comps.schema_for(spec.request_model, "in")}},
            }
        ok: dict[str, Any] = {"description": spec.summary}
        if spec.response is not None:
            if spec.content_type == "application/json":
                ok["content"] = {"application/json": {
                    "schema": comps.schema_for(spec.response, "out")}}
            else:
                ok["content"] = {spec.content_type: {"schema": {"type": "string"}}}
        responses: dict[str, Any] = {str(spec.status): ok}
        codes = ["500"]
        if not spec.public:
            codes += ["401", "403"]
        if spec.request_model is not None:
            codes += ["400", "413", "422"]
        if params and any(p["in"] == "path" for p in params):
            codes.append("404")
        if spec.method in ("POST", "PATCH", "PUT", "DELETE") and not spec.public:
            codes.append("409")
        if spec.operation_id == "login":
            codes.append("429")
        for code in sorted(set(codes)):
            responses[code] = {
                "description": _ERROR_DESCRIPTIONS[code],
                "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}},
            }
        op["responses"] = responses
        paths.setdefault(path, {})[spec.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "REST API of the call-center CTI server. Errors are "
                                "{error_id, message, details}."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": comps.schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
