from __future__ import annotations

from fastapi.testclient import TestClient

from batpass.core.errors import ALL_ERRORS, BatpassError, InvalidInput
from batpass.core.settings import Settings
from batpass.http import problem_body
from batpass.node import create_app, init_node


def test_health_and_did_document(node_client: tuple[TestClient, str]) -> None:
    client, _ = node_client
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["name"] == "n1"
    doc = client.get("/.well-known/did.json")
    assert doc.headers["content-type"].startswith("application/did+json")
    body = doc.json()
    assert body["id"] == h["did"]
    algs = {vm["publicKeyJwk"]["crv"] for vm in body["verificationMethod"]}
    assert algs == {"Ed25519", "P-256"}
    assert all(vm["controller"] == body["id"] for vm in body["verificationMethod"])
    assert any(s["type"] == "DataService" for s in body["service"])


def test_admin_routes_need_the_key(node_client: tuple[TestClient, str]) -> None:
    client, key = node_client
    r = client.get("/v1/participants")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/unauthorized")
    assert client.get("/v1/participants", headers={"X-Api-Key": "wrong"}).status_code == 401
    ok = client.get("/v1/participants", headers={"X-Api-Key": key})
    assert ok.status_code == 200
    assert ok.json()[0]["bpnl"] == "BPNL00000003AYRE"


def test_bad_input_answers_problem_details_naming_field_and_rule(node_client: tuple[TestClient, str]) -> None:
    client, key = node_client
    r = client.put(
        "/v1/participants",
        headers={"X-Api-Key": key},
        json={"legalName": "X", "country": "DE", "did": "did:web:x.example", "bpnl": "BPNL-bad"},
    )
    assert r.status_code == 400
    p = r.json()
    assert p["field"] == "BPNL" or p["field"] == "bpnl"
    assert "12 upper-case" in p["rule"]
    # nothing stored
    assert len(client.get("/v1/participants", headers={"X-Api-Key": key}).json()) == 1


def test_unknown_route_is_problem_details(node_client: tuple[TestClient, str]) -> None:
    client, _ = node_client
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["status"] == 404


def test_openapi_is_served(node_client: tuple[TestClient, str]) -> None:
    client, _ = node_client
    spec = client.get("/openapi.json").json()
    assert "/health" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_every_error_class_maps_to_a_problem() -> None:
    for cls in ALL_ERRORS:
        err = cls("x", id_kind="k", rule="r") if cls.__name__ == "InvalidIdentifier" else cls("x")  # type: ignore[call-arg]
        body = problem_body(err)
        assert body["status"] == cls.status and body["type"].endswith(cls.kind)
        assert 400 <= body["status"] < 600
    assert issubclass(InvalidInput, BatpassError)


def test_routers_follow_the_profiles(settings: Settings) -> None:
    """A bridge node (which implies catena-x) serves the crosswalk and the connector; a hub node
    serves the Ouranos API and neither of those."""
    bridge, bkey = init_node("br", profiles=["bridge"], settings=settings)
    bridge.close()
    hub, hkey = init_node("hub", profiles=["ouranos"], settings=settings)
    hub.close()
    with TestClient(create_app(settings, node_name="br"), base_url=bridge.base_url) as c:
        assert c.get("/v1/bridge/crosswalk", headers={"X-Api-Key": bkey}).status_code == 200
        assert c.get("/.well-known/dspace-version").status_code == 200
        assert c.get("/api/v1/authInfo", params={"dataTarget": "operator"}).status_code == 404
    with TestClient(create_app(settings, node_name="hub"), base_url=hub.base_url) as c:
        assert c.get("/v1/bridge/crosswalk", headers={"X-Api-Key": hkey}).status_code == 404
        assert c.get("/.well-known/dspace-version").status_code == 404
        assert c.get("/api/v1/authInfo", params={"dataTarget": "operator"}).status_code in (400, 401, 403)
