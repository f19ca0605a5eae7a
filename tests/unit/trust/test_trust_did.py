from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import httpx
import pytest

from batpass.trust import (
    BRIDGE_SERVICE,
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


def test_a_hubs_document_names_its_bridge_and_no_connector_of_its_own(tmp_path: Path) -> None:
    ident = load_or_create_identity(tmp_path / "k", "did:web:hub.test")
    bridge = "did:web:bridge.test"
    doc = subject_did_document(ident, base_url="https://hub.test", profiles=["ouranos"], bridge=bridge)
    named = [s for s in doc["service"] if s["type"] == BRIDGE_SERVICE]
    assert named == [{"id": "did:web:hub.test#bridge", "type": BRIDGE_SERVICE, "serviceEndpoint": bridge}]
    assert "DataService" not in {s["type"] for s in doc["service"]}
    # a node that is no hub names no bridge, whatever it is given
    cx = subject_did_document(ident, base_url="https://hub.test", profiles=["catena-x"], bridge=bridge)
    assert BRIDGE_SERVICE not in {s["type"] for s in cx["service"]}


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


def test_an_identity_follows_a_rotation_made_by_another_process(tmp_path: Path) -> None:
    # a serving node and `batpass keys rotate` each load the key folder; the CLI rotates
    folder = tmp_path / "keys"
    serving = load_or_create_identity(folder, "did:web:node.test")
    cli = load_or_create_identity(folder, "did:web:node.test")
    old = serving.active("Ed25519")
    new = rotate_key(folder, cli)
    assert serving.active("Ed25519").kid == new.kid != old.kid  # the next signature uses the new key
    doc = did_document(serving)
    assert sorted(doc["assertionMethod"]) == [serving.key_id(new), "did:web:node.test#key-p256-1"]
    retired = next(vm for vm in doc["verificationMethod"] if vm["id"] == serving.key_id(old))
    assert "expires" in retired  # still listed: signatures made before verify
    assert serving.find(cli.key_id(new)) is not None and serving.find("did:web:node.test#key-9") is None


def test_a_node_rotating_under_its_resolver_verifies_its_new_signatures(tmp_path: Path) -> None:
    from batpass.trust._dcp import issue_self_issued_token, verify_self_issued_token

    folder = tmp_path / "keys"
    serving = load_or_create_identity(folder, "did:web:node.test")
    r = DidResolver()
    r.pin_live(serving.did, lambda: did_document(serving))
    rotate_key(folder, load_or_create_identity(folder, serving.did))
    other = load_or_create_identity(folder, serving.did)  # a second worker signs with the new key
    token = issue_self_issued_token(other, audience=serving.did, bpn=None)
    assert verify_self_issued_token(token, audience=serving.did, resolver=r).did == serving.did


def _rotating_partner() -> tuple[str, dict[str, object], list[str], list[float], DidResolver]:
    """A partner's did:web document behind a mock transport, and a resolver with a settable clock."""
    did = "did:web:partner.test"
    docs: dict[str, object] = {}
    calls: list[str] = []
    clock = [0.0]

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        if docs.get("down"):
            return httpx.Response(503)
        return httpx.Response(200, json=docs["current"])

    fetcher = GuardedFetcher(
        allowed_hosts={"partner.test"}, sync_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    return did, docs, calls, clock, DidResolver(fetcher, clock=lambda: clock[0])


def test_a_key_missing_from_a_cached_document_fetches_it_again(tmp_path: Path) -> None:
    did, docs, calls, clock, resolver = _rotating_partner()
    partner = load_or_create_identity(tmp_path / "p", did)
    docs["current"] = did_document(partner)
    old_kid = partner.key_id(partner.active("Ed25519"))
    assert resolver.method(old_kid).id == old_kid and len(calls) == 1
    new_kid = partner.key_id(rotate_key(tmp_path / "p", partner))
    docs["current"] = did_document(partner)
    clock[0] = 2.0  # well inside the 300 s cache, past the 1 s between fetches for a missing key
    assert resolver.method(new_kid).jwk == partner.active("Ed25519").public_jwk() and len(calls) == 2
    assert resolver.method(old_kid).expires is not None  # the old key: retired, in the fresh copy
    # a key the partner never had: one fetch per second at most, then refused
    clock[0] = 2.5
    with pytest.raises(CredentialRejected) as e:
        resolver.method(did + "#key-ed25519-9")
    assert e.value.reason == "unknown-key" and len(calls) == 2
    clock[0] = 3.5
    with pytest.raises(CredentialRejected):
        resolver.method(did + "#key-ed25519-9")
    assert len(calls) == 3


def test_a_prefetch_naming_a_new_key_fetches_the_document_again(tmp_path: Path) -> None:
    did = "did:web:partner.test"
    partner = load_or_create_identity(tmp_path / "p", did)
    docs = {"https://partner.test/.well-known/did.json": did_document(partner)}
    calls: list[str] = []
    clock = [0.0]

    async def run() -> None:
        fetcher = GuardedFetcher(allowed_hosts={"partner.test"}, client=_mock_client(docs, calls))
        r = DidResolver(fetcher, clock=lambda: clock[0])
        await r.resolve(did)
        new_kid = partner.key_id(rotate_key(tmp_path / "p", partner))
        docs["https://partner.test/.well-known/did.json"] = did_document(partner)
        clock[0] = 2.0
        await r.resolve(did)  # no key named: the cached copy serves
        assert len(calls) == 1
        await r.resolve(did, kid=new_kid)
        assert len(calls) == 2 and r.method(new_kid, fetch=False).id == new_kid

    asyncio.run(run())


def test_a_partner_unreachable_on_a_refetch_leaves_the_cached_copy_and_the_key_unknown(tmp_path: Path) -> None:
    did, docs, calls, clock, resolver = _rotating_partner()
    partner = load_or_create_identity(tmp_path / "p", did)
    docs["current"] = did_document(partner)
    old_kid = partner.key_id(partner.active("Ed25519"))
    resolver.method(old_kid)
    docs["down"] = True
    clock[0] = 2.0
    with pytest.raises(CredentialRejected) as e:
        resolver.method(did + "#key-ed25519-2")
    assert e.value.reason == "unknown-key" and len(calls) == 2  # tried once, refused as unknown
    assert resolver.method(old_kid).id == old_kid  # the cached copy still serves the known key
    with pytest.raises(CredentialRejected):
        resolver.method(did + "#key-ed25519-2")
    assert len(calls) == 2  # a failed fetch counts: no second try within the second
