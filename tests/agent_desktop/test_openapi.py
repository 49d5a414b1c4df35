from __future__ import annotations

from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from agent_desktop.app import ROUTES_KEY
from agent_desktop.openapi import openapi_path


async def check_document(client: TestClient) -> dict[str, object]:
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    doc: dict[str, object] = await resp.json()
    validate(doc)  # OpenAPI 3.1 structural validation; raises on any defect
    assert doc["openapi"] == "3.1.0"
    schemes = doc["components"]["securitySchemes"]  # type: ignore[index]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    specs = list(client.app[ROUTES_KEY])  # type: ignore[index]
    documented = {(m.upper(), p) for p, ops in doc["paths"].items()  # type: ignore[attr-defined]
                  for m in ops}
    registered = {(s.method, openapi_path(s.path)) for s in specs}
    assert documented == registered
    # and aiohttp really serves each of them
    served = {(r.method, openapi_path(r.resource.canonical)) for r in client.app.router.routes()
              if r.resource is not None and r.method != "HEAD"}
    assert registered <= served
    for spec in specs:
        op = doc["paths"][openapi_path(spec.path)][spec.method.lower()]  # type: ignore[index]
        assert op["summary"] == spec.summary
        assert str(spec.status) in op["responses"]
        assert "500" in op["responses"]
        if spec.public:
            assert op["security"] == []
        else:
            assert op["security"] == [{"bearerAuth": []}]
            assert {"401", "403"} <= set(op["responses"])
            assert op["x-roles"] == sorted(spec.roles)
        if spec.request_model is not None:
            assert "requestBody" in op and "422" in op["responses"]
    return doc


async def test_openapi_document_without_crm(bare_client: TestClient) -> None:
    doc = await check_document(bare_client)
    login = doc["paths"]["/api/auth/login"]["post"]  # type: ignore[index]
    assert "429" in login["responses"]
    body = login["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/LoginRequest"}
    assert "/api/test/echo" in doc["paths"]  # type: ignore[operator]


def test_path_templates() -> None:
    assert openapi_path(r"/api/customers/{id:\d+}/view") == "/api/customers/{id}/view"
    assert openapi_path("/api/agents/{agent_id}") == "/api/agents/{agent_id}"
