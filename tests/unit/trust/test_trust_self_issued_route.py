"""``POST /v1/auth/self-issued``: the node's operator gets a DCP self-issued token for another
node (admin key), which that node verifies against this node's DID document; the token is bound
to the audience asked for. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from trust_http import ADMIN, make_app
from trust_world import World

from batpass.trust import CredentialRejected, DidResolver, TrustService, did_document, verify_self_issued_token

H = {"X-Api-Key": ADMIN}


def test_self_issued_token_for_an_audience(service: TrustService, world: World) -> None:
    client = TestClient(make_app(service))
    r = client.post("/v1/auth/self-issued", json={"audience": world.jp.did}, headers=H)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["issuer"] == world.cx.did and body["audience"] == world.jp.did and body["expiresIn"] == 300
    # the audience node checks it against the issuer's DID document
    at_audience = DidResolver()
    at_audience.pin(did_document(world.cx))
    caller = verify_self_issued_token(body["token"], audience=world.jp.did, resolver=at_audience)
    assert caller.did == world.cx.did
    # bound to that audience: another node refuses it
    with pytest.raises(CredentialRejected) as exc:
        verify_self_issued_token(body["token"], audience=world.other.did, resolver=at_audience)
    assert exc.value.reason == "audience"


def test_self_issued_token_needs_admin_key_and_a_did(service: TrustService, world: World) -> None:
    client = TestClient(make_app(service))
    r = client.post("/v1/auth/self-issued", json={"audience": world.jp.did})
    assert r.status_code == 401 and "token" not in r.json()
    r = client.post("/v1/auth/self-issued", json={"audience": "https://jp-cert.test"}, headers=H)
    assert r.status_code == 400 and r.json()["field"] == "audience", r.text
    r = client.post("/v1/auth/self-issued", json={}, headers=H)
    assert r.status_code == 400 and "audience" in r.text
