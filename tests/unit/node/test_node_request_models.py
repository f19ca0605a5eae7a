"""Typed request bodies on every write route (issue 17): OpenAPI documents the fields of every
``/v1`` write body; a caller without credentials gets 401/403 on a protected route whatever body it
sends (credentials are checked before the body); hostile bodies (non-finite numbers, deep nesting)
get a 400 in the route's error shape; the ledger's refusals name the field and the rule."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from node_kinds_testkit import PROFILES, node_app

from batpass.core.settings import Settings
from batpass.node import create_app, init_node

WRITE = ("post", "put", "patch", "delete")

#: write routes without credentials by design, and what stands for them
PUBLIC = {
    "/v1/passports/backup": "a signed passport version: the issuer's JWS signature is checked",
    "/v1/credentials/verify": "verification offered to partners (no data of this node is written)",
    "/v1/bridge/relay": "a hub operator's question: its delegation credential in the body is checked",
}


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[FastAPI, str, str]]:
    home = tmp_path_factory.mktemp("typed") / "home"
    settings = Settings(home=home, startup_audit=False)
    return {name: node_app(name, settings) for name in PROFILES}


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _resolve(spec["components"]["schemas"][ref.rsplit("/", 1)[-1]], spec)
    return schema


def _typed(schema: dict[str, Any], spec: dict[str, Any]) -> bool:
    """An object schema with properties, an array of them (an event batch), or a choice of
    such schemas (one message or a batch of them)."""
    schema = _resolve(schema, spec)
    choice = schema.get("anyOf") or schema.get("oneOf")
    if choice:
        return all(_typed(alt, spec) for alt in choice)
    if schema.get("type") == "array":
        return _typed(schema.get("items", {}), spec)
    return bool(schema.get("properties"))


@pytest.mark.parametrize("kind", sorted(PROFILES))
def test_no_write_operation_has_an_untyped_body(apps: dict[str, tuple[FastAPI, str, str]], kind: str) -> None:
    """Before: 25 ``/v1`` and ``/dcp`` write bodies were bare objects (``dict[str, Any]``)."""
    app, _, _ = apps[kind]
    spec = app.openapi()
    untyped = []
    for path, ops in spec["paths"].items():
        if not path.startswith(("/v1/", "/dcp/")):
            continue
        for method, op in ops.items():
            body = op.get("requestBody") if method in WRITE else None
            for media, content in (body or {}).get("content", {}).items():
                if "json" in media and not _typed(content.get("schema", {}), spec):
                    untyped.append(f"{method.upper()} {path} ({media})")
    assert untyped == []
    events = spec["paths"]["/v1/ledger/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"id", "kind", "owner", "at", "site", "inputs", "outputs"} <= set(events["items"]["properties"])
    auth = _resolve(
        spec["paths"]["/v1/ledger/authorisations"]["post"]["requestBody"]["content"]["application/json"]["schema"],
        spec,
    )
    assert auth["properties"]["cap_kg"]["exclusiveMinimum"] == 0 and auth["properties"]["destinations"]["maxItems"]


def _deep(levels: int) -> bytes:
    return ('{"a":' * levels + "1" + "}" * levels).encode()


BAD_BODIES = {
    "wrong type": (b"[1]", "application/json"),
    "malformed JSON": (b'{"bad', "application/json"),
    "nested 40 deep": (_deep(40), "application/json"),
    "non-finite": (b'{"cap_kg": NaN, "values": {"x": Infinity}}', "application/json"),
    "lone surrogate": (b'{"id": "a\\ud800", "values": {"x": "\\udc00"}}', "application/json"),
    "not JSON": (b"{}", "text/plain"),
}
BAD_CREDENTIALS = {
    "none": {},
    "forged": {"X-Api-Key": "not-the-key", "Authorization": "Bearer forged.token.value", "apiKey": "forged"},
}


@pytest.mark.parametrize("kind", sorted(PROFILES))
def test_a_bad_body_without_credentials_is_401_on_every_protected_write_route(
    apps: dict[str, tuple[FastAPI, str, str]], kind: str
) -> None:
    """Before: 40 of these routes answered 400 for malformed JSON or a deep body without a token,
    and ``/dcp/presentations/query``, ``/v1/credentials/certify`` and ``PUT /v1/ouranos/bridge/
    releases`` read the body before the caller's token."""
    app, base, _ = apps[kind]
    wrong: list[str] = []
    checked = 0
    with TestClient(app, base_url=base) as client:
        for path, ops in app.openapi()["paths"].items():
            if not path.startswith(("/v1/", "/dcp/")):
                continue
            url = re.sub(r"\{[^}]+\}", "x", path)
            for method in (m for m in ops if m in WRITE):
                for body_name, (body, media) in BAD_BODIES.items():
                    for cred_name, headers in BAD_CREDENTIALS.items():
                        r = client.request(
                            method.upper(), url, content=body, headers={**headers, "Content-Type": media}
                        )
                        checked += 1
                        answer = r.json() if r.content else {}
                        if path in PUBLIC:
                            ok = r.status_code in (400, 404, 415)
                        elif r.status_code == 404 and isinstance(answer, dict) and answer.get("rule") == "node profile":
                            ok = True  # the route's service is not enabled on this node
                        else:
                            ok = r.status_code in (401, 403)
                        if not ok:
                            wrong.append(f"{method.upper()} {path} [{body_name}, {cred_name}]: {r.status_code}")
    assert checked > 100 and wrong == []


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    settings = Settings(home=tmp_path / "home", startup_audit=False)
    node, key = init_node("n1", profiles=["catena-x", "ouranos"], settings=settings, bpnl="BPNL00000003AYRE")
    node.close()
    with TestClient(create_app(settings, node_name="n1"), base_url=node.base_url) as client:
        yield client, key


@pytest.mark.parametrize("levels", [40, 100_000])
def test_deep_json_is_400_in_each_apis_shape(hub: tuple[TestClient, str], levels: int) -> None:
    """Before: 100,000 levels answered 500 (RecursionError) on each of these; 40 levels reached
    the routes' own checks."""
    client, key = hub
    headers = {"X-Api-Key": key, "Content-Type": "application/json"}
    body = _deep(levels)
    r = client.post("/v1/ledger/events", content=body, headers=headers)
    assert r.status_code == 400 and "nesting" in r.json()["rule"]
    r = client.post("/v1/ledger/events", content=b"[" * levels + b"]" * levels, headers=headers)
    assert r.status_code == 400 and r.json()["field"] == "(body)" and "nesting" in r.json()["rule"]
    r = client.post("/v1/ledger/summaries", content=body, headers=headers)
    assert r.status_code == 400 and "nesting" in r.json()["rule"]
    r = client.post("/api/v3/shell-descriptors", content=body, headers=headers)
    assert r.status_code == 400 and "nests deeper" in r.json()["messages"][0]["text"]
    r = client.post("/management/v3/assets", content=body, headers=headers)
    assert r.status_code == 400 and "nests deeper" in r.json()[0]["message"]
    r = client.post("/auth/login", content=body, headers={"Content-Type": "application/json", "apiKey": "x"})
    assert r.status_code == 400 and "nests deeper" in r.json()["message"]
    r = client.post("/v1/passports", content=body, headers=headers)
    assert r.status_code == 400 and "nesting" in r.json()["rule"]


def _authorisation(**over: Any) -> dict[str, Any]:
    return {
        "id": "auth-1",
        "holder": "did:web:refiner.example",
        "material": "cobalt_hydroxide",
        "destinations": ["EU"],
        "cap_kg": 1000.0,
        "valid_from": "2026-01-01T00:00:00Z",
        "valid_to": "2027-01-01T00:00:00Z",
        **over,
    }


def _problem(r: Any, status: int, *fields: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body.get("field") in fields and body.get("rule"), body
    return body


@pytest.mark.parametrize("cap", ["NaN", "Infinity", "-Infinity", "1e300", "-5", "0", '"5"', "true"])
def test_an_authorisation_with_a_cap_not_a_finite_positive_mass_is_400_and_not_stored(
    hub: tuple[TestClient, str], cap: str
) -> None:
    """Before: ``cap_kg: NaN`` was stored (NaN <= 0 is false) and its answer could not be
    serialised; 1e300 kg was accepted."""
    client, key = hub
    headers = {"X-Api-Key": key, "Content-Type": "application/json"}
    raw = json.dumps(_authorisation()).replace('"cap_kg": 1000.0', f'"cap_kg": {cap}')
    _problem(client.post("/v1/ledger/authorisations", content=raw, headers=headers), 400, "cap_kg")
    r = client.post("/v1/ledger/authorisations", json=_authorisation(), headers=headers)
    assert r.status_code == 201, r.text  # the same id: nothing was stored by the refused one


def test_the_ledger_service_refuses_a_non_finite_cap_itself() -> None:
    """The command line records authorisations through the same check."""
    from batpass.core.errors import InvalidInput
    from batpass.ledger._outflow import validate_authorisation

    for cap in (float("nan"), float("inf"), 1e300, -1.0):
        with pytest.raises(InvalidInput) as exc:
            validate_authorisation(_authorisation(cap_kg=cap))
        assert exc.value.field == "authorisation.cap_kg" and exc.value.rule
    for field, value in (("material", ["cobalt_hydroxide"]), ("destinations", [{"EU": 1}]), ("holder", 5)):
        with pytest.raises(InvalidInput) as exc:
            validate_authorisation(_authorisation(**{field: value}))
        assert exc.value.field == f"authorisation.{field}"


def test_ledger_refusals_name_the_field_and_the_rule(hub: tuple[TestClient, str]) -> None:
    client, key = hub
    admin = {"X-Api-Key": key}
    did = client.get("/health").json()["did"]
    post = client.post
    _problem(
        post("/v1/ledger/authorisations", json=_authorisation(material="gold"), headers=admin),
        400,
        "authorisation.material",
    )
    _problem(
        post("/v1/ledger/authorisations", json=_authorisation(destinations=["XX"]), headers=admin),
        400,
        "authorisation.destinations",
    )
    _problem(
        post("/v1/ledger/authorisations", json=_authorisation(valid_to="2025-01-01T00:00:00Z"), headers=admin),
        400,
        "authorisation.valid_to",
    )
    _problem(
        post("/v1/ledger/authorisations", json=_authorisation(valid_from="soon"), headers=admin),
        400,
        "authorisation.valid_from",
    )
    assert post("/v1/ledger/authorisations", json=_authorisation(), headers=admin).status_code == 201
    _problem(post("/v1/ledger/authorisations", json=_authorisation(cap_kg=5.0), headers=admin), 409, "authorisation.id")
    event = {
        "id": "ev-1",
        "kind": "extraction",
        "owner": did,
        "at": "2026-01-01T00:00:00Z",
        "site": {"id": "M1", "country": "CL"},
        "outputs": [{"lot": "L1", "material": "lithium_brine_concentrate", "quantity": {"value": 1, "unit": "kg"}}],
    }
    _problem(post("/v1/ledger/events", json=[{**event, "kind": "teleport"}], headers=admin), 400, "events[0].kind")
    assert post("/v1/ledger/events", json=[event], headers=admin).status_code == 200
    changed = {**event, "at": "2026-01-02T00:00:00Z"}
    _problem(post("/v1/ledger/events", json=[changed], headers=admin), 409, "events[0].id")
    _problem(post("/v1/ledger/summaries", json={"jws": "not.a.jws"}, headers=admin), 400, "jws", "summary")
    claim = {"id": "c1", "lot": "L1", "element": "Co", "kg": 1e300, "claimant": did, "subject": "L1"}
    _problem(post("/v1/ledger/claims", json=claim, headers=admin), 400, "kg")
    _problem(post("/v1/ledger/claims", json={**claim, "kg": 1.0, "element": "Au"}, headers=admin), 400, "element")


def test_a_guard_takes_the_request_and_the_context() -> None:
    """authenticate_first calls every guard as guard(request, ctx)."""
    from batpass.http import guard

    def bad(request: Any) -> None:
        return None

    with pytest.raises(TypeError, match=r"\(request, ctx\)"):
        guard(bad)


def test_participant_and_connector_bodies_name_the_field(hub: tuple[TestClient, str]) -> None:
    """Before: a site location without a longitude answered 500 (KeyError), a latitude given as
    text 500 (ValueError); a dspEndpoint that is not a URL reached the outbound client (502)."""
    client, key = hub
    admin = {"X-Api-Key": key}
    me = {"legalName": "Node One", "country": "DE", "did": client.get("/health").json()["did"]}
    for location, field in (
        ({"latitude": 48.1}, "sites.0.location.longitude"),
        ({"latitude": "x", "longitude": 1}, "sites.0.location.latitude"),
        ({"latitude": 91, "longitude": 1}, "sites.0.location.latitude"),
    ):
        r = client.put(
            "/v1/participants",
            json={**me, "sites": [{"name": "P", "country": "DE", "location": location}]},
            headers=admin,
        )
        _problem(r, 400, field)
    r = client.post(
        "/v1/connector/pcf/requests",
        json={"provider": "did:web:x", "productId": "p", "dspEndpoint": "x"},
        headers=admin,
    )
    _problem(r, 400, "dspEndpoint")
    r = client.post(
        "/v1/connector/twins/batteries", json={"battery": "x", "readers": "BPNL00000003AYRE"}, headers=admin
    )
    _problem(r, 400, "readers")
