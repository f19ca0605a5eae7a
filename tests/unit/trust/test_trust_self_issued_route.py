"""``POST /v1/auth/self-issued``: the node's operator gets a DCP self-issued token for another
node (admin key), which that node verifies against this node's DID document; the token is bound
to the audience asked for. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient
from trust_http import ADMIN, make_app
from trust_world import World

from batpass.trust import (
    CredentialRejected,
    DidResolver,
    TrustService,
    did_document,
    issue_self_issued_token,
    verify_self_issued_token,
)

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


def test_a_delegation_names_its_actor_and_cannot_be_reassigned(world: World) -> None:
    """RFC 8693 ``act``: a hub operator lets its bridge ask a supplier on its behalf. The token
    stays the operator's (iss = sub), bound to the supplier, and names the one connector allowed
    to present it; changing the actor breaks the signature."""
    at_supplier = DidResolver()
    at_supplier.pin(did_document(world.cx))
    token = issue_self_issued_token(world.cx, audience=world.jp.did, bpn=None, actor=world.other.did)
    caller = verify_self_issued_token(token, audience=world.jp.did, resolver=at_supplier)
    assert caller.did == world.cx.did and caller.actor == world.other.did
    # an ordinary token names no actor
    plain = verify_self_issued_token(
        issue_self_issued_token(world.cx, audience=world.jp.did, bpn=None), audience=world.jp.did, resolver=at_supplier
    )
    assert plain.actor is None
    # re-pointing the delegation at another actor is a different payload: the signature fails
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["act"] = {"sub": world.jp.did}
    forged = ".".join([head, base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode(), sig])
    with pytest.raises(CredentialRejected):
        verify_self_issued_token(forged, audience=world.jp.did, resolver=at_supplier)
