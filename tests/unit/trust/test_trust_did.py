from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import httpx
import pytest

from batpass.trust import (
    CredentialRejected,
    DidResolver,
    GuardedFetcher,
    did_document,
    did_key_from_jwk,
    jwk_from_did_key,
    load_or_create_identity,
    new_did_key_identity,
    node_did,
    operator_did,
    rotate_key,
    subject_did_document,
)
from batpass.trust._vc import build_credential, issue_vc_jwt, verify_vc_jwt


def test_operator_did_resolves_to_operators_path() -> None:
    did = operator_did("https://hub.test:8443", "op-42")
    assert did == "did:web:hub.test%3A8443:operators:op-42"
    from batpass.core.ids import Did

    assert Did(did).web_document_url() == "https://hub.test:8443/operators/op-42/did.json"
    assert node_did("https://hub.test") == "did:web:hub.test"


def test_subject_document_has_both_keys_and_services(tmp_path: Path) -> None:
    ident = load_or_create_identity(tmp_path / "k", operator_did("https://hub.test:8443", "op-1"))
    doc = subject_did_document(ident, base_url="https://hub.test:8443", profiles=["ouranos"])
    crvs = {vm["publicKeyJwk"]["crv"] for vm in doc["verificationMethod"]}
    assert crvs == {"Ed25519", "P-256"}
    types = {s["type"] for s in doc["service"]}
    assert {"CredentialService", "BitstringStatusListService", "OuranosDataTransactionService"} <= types
    assert "DataService" not in types


@pytest.mark.parametrize("alg", ["Ed25519", "ES256"])
def test_did_key_round_trip(alg: str) -> None:
    ident = new_did_key_identity(alg)
    assert jwk_from_did_key(ident.did) == ident.keys[0].public_jwk()
    assert did_key_from_jwk(ident.keys[0].public_jwk()) == ident.did
    doc = DidResolver().cached(ident.did)
    assert doc is not None and doc["verificationMethod"][0]["id"] == ident.key_id(ident.keys[0])


def test_rotation_keeps_old_signatures_and_refuses_new_ones(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    ident = load_or_create_identity(folder, "did:web:cert.test")
    now = dt.datetime.now(dt.UTC)
    vc = build_credential(
        issuer=ident.did,
        ctype="AccessRoleCredential",
        subject={"id": "did:web:reader.test", "role": "notified_body", "organisation": "NB 1234"},
        valid_from=now,
        valid_until=now + dt.timedelta(days=1),
    )
    old_token = issue_vc_jwt(ident, vc)
    old_key = ident.active("Ed25519")
    new = rotate_key(folder, ident)
    assert new.kid == "key-ed25519-2" and ident.active("Ed25519") is new
    reloaded = load_or_create_identity(folder, ident.did)
    assert [k.retired for k in reloaded.keys if k.alg == "Ed25519"] == [True, False]
    doc = did_document(reloaded)
    assert ident.key_id(old_key) not in doc["assertionMethod"]
    r = DidResolver()
    r.pin(doc)
    verify_vc_jwt(old_token, r)  # signed before the rotation: still verifies
    verify_vc_jwt(issue_vc_jwt(reloaded, vc), r)
    # a token dated after the rotation but signed with the retired key is refused
    from dataclasses import replace

    forged = replace(reloaded, keys=[k for k in reloaded.keys if k.kid == old_key.kid])
    forged.keys[0] = replace(forged.keys[0], retired=False)
    with pytest.raises(CredentialRejected) as e:
        import time

        time.sleep(1.1)
        verify_vc_jwt(issue_vc_jwt(forged, vc), r)
    assert e.value.reason == "key-retired"


def _mock_client(docs: dict[str, dict[str, object]], calls: list[str]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        body = docs.get(str(request.url))
        return httpx.Response(200, json=body) if body else httpx.Response(404)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def test_resolver_fetches_allow_listed_hosts_only_and_caches() -> None:
    holder = new_did_key_identity()
    did = "did:web:partner.test%3A8443:operators:x"
    doc = {"id": did, "verificationMethod": []}
    calls: list[str] = []
    clock = [0.0]

    async def run() -> None:
        client = _mock_client({"https://partner.test:8443/operators/x/did.json": doc}, calls)
        r = DidResolver(
            GuardedFetcher(allowed_hosts=["partner.test:8443"], client=client), ttl_s=60, clock=lambda: clock[0]
        )
        assert await r.resolve(did) == doc
        assert await r.resolve(did) == doc
        assert len(calls) == 1  # cached
        clock[0] = 61.0
        await r.resolve(did)
        assert len(calls) == 2  # aged out
        with pytest.raises(CredentialRejected) as e:
            await r.resolve("did:web:evil.test")
        assert e.value.reason == "host-not-allowed"
        assert len(calls) == 2  # never fetched
        with pytest.raises(CredentialRejected) as e:
            await r.resolve("did:web:partner.test%3A8443:operators:missing")
        assert e.value.reason == "did-resolution"
        await client.aclose()

    asyncio.run(run())
    assert holder.did.startswith("did:key:z6Mk")


def test_resolver_rejects_document_for_another_did() -> None:
    calls: list[str] = []

    async def run() -> None:
        client = _mock_client({"https://a.test/.well-known/did.json": {"id": "did:web:b.test"}}, calls)
        r = DidResolver(GuardedFetcher(allowed_hosts=["a.test"], client=client))
        with pytest.raises(CredentialRejected) as e:
            await r.resolve("did:web:a.test")
        assert "another subject" in str(e.value)
        await client.aclose()

    asyncio.run(run())
    assert json.dumps(calls)
