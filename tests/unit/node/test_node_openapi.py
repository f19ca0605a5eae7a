"""The node's OpenAPI document says how each API answers errors (issue 17 item 2): no FastAPI
``HTTPValidationError`` that no route gives, a ``default`` response in the API's own error shape
on every operation, RFC 9457 problem details on batpass's own API with the statuses it gives,
and the admin key as a security scheme where a route needs it. ``ERROR_DOCS`` (what the document
says) and the routes modules' ``ERROR_SHAPES`` (what the node answers) name the same prefixes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from batpass.core.settings import Settings
from batpass.http import ERROR_SCHEMAS
from batpass.node import create_app, init_node
from batpass.node.app import ERROR_DOCS, _routers

KINDS = {
    "catena-x": ["catena-x"],
    "ouranos": ["ouranos"],
    "bridge": ["catena-x", "bridge"],
    "discovery": ["catena-x", "discovery"],
}


def _document(tmp_path: Path, profiles: list[str]) -> tuple[dict[str, Any], TestClient, str]:
    settings = Settings(home=tmp_path / "home", startup_audit=False)
    node, key = init_node("n1", profiles=profiles, settings=settings, bpnl="BPNL00000003AYRE")
    node.close()
    client = TestClient(create_app(settings, node_name="n1"), base_url=node.base_url)
    return client.get("/openapi.json").json(), client, key


def test_the_documented_prefixes_are_the_answered_ones() -> None:
    answered = {p for profiles in KINDS.values() for _, shapes in _routers(tuple(profiles)) for p in shapes}
    undocumented = {a for a in answered if not any(a.startswith(d) for d in ERROR_DOCS)}
    unanswered = {d for d in ERROR_DOCS if not any(a.startswith(d) for a in answered)}
    assert not undocumented and not unanswered, (undocumented, unanswered)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_operation_documents_its_apis_errors(kind: str, tmp_path: Path) -> None:
    doc, _, _ = _document(tmp_path, KINDS[kind])
    assert "HTTPValidationError" not in str(doc)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            assert "default" in responses, (method, path)
            assert method != "get" or "422" not in responses, (method, path)  # reads break no invariant
            assert not path.startswith("/management/") or "422" not in responses  # EDC answers it as 400
            (media, body), *_ = responses["default"]["content"].items()
            ref = body["schema"]["$ref"].rsplit("/", 1)[1]
            if path.startswith("/v1/"):
                assert media == "application/problem+json" and ref == "Problem", (method, path)
                if op.get("parameters"):
                    assert "400" in responses, (method, path)
            assert ref in doc["components"]["schemas"]


def test_admin_routes_name_the_key_and_their_401_is_a_problem(tmp_path: Path) -> None:
    doc, client, key = _document(tmp_path, ["catena-x"])
    op = doc["paths"]["/v1/participants"]["get"]
    assert op["security"] == [{"adminKey": []}] and "401" in op["responses"]
    assert doc["components"]["securitySchemes"]["adminKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": "The node's admin key (batpass init prints it once)",
    }
    assert "security" not in doc["paths"]["/health"]["get"]
    with client:
        r = client.get("/v1/participants")
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
        jsonschema.validate(r.json(), ERROR_SCHEMAS["Problem"])
        r = client.post("/management/v3/assets/request", json={}, headers={"X-Api-Key": "wrong"})
        assert r.status_code == 401
        jsonschema.validate(r.json(), ERROR_SCHEMAS["EdcError"])
        assert client.get("/v1/participants", headers={"X-Api-Key": key}).status_code == 200


def test_no_content_answers_are_documented_as_204(tmp_path: Path) -> None:
    """Found by schemathesis: EDC's PUT and DELETE answer 204 without a body, documented as a 200
    JSON body."""
    doc, client, key = _document(tmp_path, ["catena-x"])
    for method, path in [
        ("delete", "/management/v3/assets/{asset_id}"),
        ("put", "/management/v3/policydefinitions/{policy_id}"),
        ("post", "/management/v3/transferprocesses/{pid}/{action}"),
    ]:
        responses = doc["paths"][path][method]["responses"]
        assert "204" in responses and "200" not in responses and "content" not in responses["204"], (method, path)
    with client:
        r = client.delete("/management/v3/assets/upstream-summary", headers={"X-Api-Key": key})
        assert r.status_code == 204 and r.content == b""


def test_did_documents_are_documented_as_did_json(tmp_path: Path) -> None:
    """Found by schemathesis: the hub's operator DID documents answer application/did+json,
    documented as application/json only."""
    doc, _, _ = _document(tmp_path, ["ouranos"])
    for path in ("/.well-known/did.json", "/operators/{operator_id}/did.json"):
        assert "application/did+json" in doc["paths"][path]["get"]["responses"]["200"]["content"], path
