from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from batpass.core.errors import ALL_ERRORS, BatpassError, InvalidInput
from batpass.core.settings import Settings
from batpass.dataspace import ConsumerChannels, DspConsumer, InProcessNotifier, PgNotifier
from batpass.http import problem_body
from batpass.node import create_app, init_node
from store_testkit import PG_URL, drop_schema, scratch_schema


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


def test_the_did_data_service_entry_is_the_dsp_binding(node_client: tuple[TestClient, str]) -> None:
    """DSP 2025-1 "Discovery of Service Endpoints": the DataService entry names the version
    metadata endpoint, and its id is the serviceId that endpoint (and the catalog) advertise."""
    client, _ = node_client
    body = client.get("/.well-known/did.json").json()
    (entry,) = [s for s in body["service"] if s["type"] == "DataService"]
    assert entry["id"] == body["id"] + "#dsp"
    endpoint = httpx.URL(entry["serviceEndpoint"])
    assert endpoint.scheme == "https" and endpoint.path == "/.well-known/dspace-version"
    versions = client.get(endpoint.path).json()["protocolVersions"]
    (v2025,) = [v for v in versions if v["version"] == "2025-1"]
    assert v2025["serviceId"] == entry["id"]
    assert v2025["binding"] == "HTTPS" and v2025["path"] == "/api/dsp/2025-1"


def test_the_node_serves_its_catalog_context(node_client: tuple[TestClient, str]) -> None:
    """The JSON-LD context the catalog names beside the DSP context, at the path of its IRI."""
    client, _ = node_client
    r = client.get("/ns/dsp-catalog/v1")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/ld+json")
    terms = r.json()["@context"]
    assert terms["title"]["@id"] == "http://purl.org/dc/terms/title"
    assert terms["semanticId"]["@type"] == "@id"


def test_every_node_has_a_front_door_in_the_readers_language(node_client: tuple[TestClient, str]) -> None:
    client, _ = node_client
    page = client.get("/", headers={"Accept-Language": "ja-JP,ja;q=0.9,en;q=0.5"})
    assert page.status_code == 200 and '<html lang="ja">' in page.text
    assert '<dd id="legal-name">Node One</dd>' in page.text and "BPNL00000003AYRE" in page.text
    assert client.get("/static/pages/vendor/jsqr/jsQR.js").status_code == 200
    miss = client.get("/search", params={"q": "04012345000009 NONE", "lang": "en"})
    assert miss.status_code == 404 and 'role="search"' in miss.text
    assert "batpass_lang=en" in miss.headers["set-cookie"]
    # the pages stay out of the API description
    assert not {"/", "/search"} & set(client.get("/openapi.json").json()["paths"])


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


@pytest.mark.parametrize("store_kind", ["sqlite", "postgresql"], indirect=True)
def test_the_connector_hears_its_callbacks_through_the_stores_notifier(store_kind: str, tmp_path: Path) -> None:
    """On SQLite the consumer's callbacks are heard in-process; on PostgreSQL (several workers may
    share it) through LISTEN/NOTIFY, listening while the app runs."""
    schema = scratch_schema()
    settings = Settings(
        home=tmp_path / "home",
        db_url=PG_URL if store_kind == "postgresql" else None,
        db_schema=schema if store_kind == "postgresql" else None,
    )
    try:  # init_node makes the schema: dropped however the rest ends
        node, _ = init_node("cx", profiles=["catena-x"], settings=settings, bpnl="BPNL00000003AYRE")
        node.close()
        with TestClient(create_app(settings, node_name="cx"), base_url=node.base_url) as client:
            services = client.app.state.ctx.services  # type: ignore[attr-defined]
            notifier = services[DspConsumer].notifier
            if store_kind == "postgresql":
                assert isinstance(notifier, PgNotifier) and notifier.listening
            else:
                assert isinstance(notifier, InProcessNotifier)
            assert services[ConsumerChannels].consumer is services[DspConsumer]
        if store_kind == "postgresql":
            assert not notifier.listening  # stopped with the app
    finally:
        if store_kind == "postgresql":
            drop_schema(schema)
