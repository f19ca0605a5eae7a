"""Holder and operator routes of the trust capability, on SQLite and PostgreSQL: an operator
signs its trust list over HTTP, a holder asks a certifier for a claim and presents it with key
binding, a verifier consumes its nonce and can demand a fresh status list, and the DCP answer
carries only the holder's own credentials."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jws
from sqlalchemy import Engine
from trust_http import ADMIN, ROLE_TYPES, load_lists, make_app, role_subject
from trust_world import World, identity

from batpass.trust import (
    MIGRATIONS_DIR,
    CredentialRejected,
    StatusListCache,
    TrustedIssuer,
    TrustList,
    TrustService,
    Verifier,
    did_document,
    issue_self_issued_token,
    node_did,
    sign_trust_list,
    verify_vp_jwt,
)
from batpass.trust._status import MIN_BITS, set_bit, status_entry, status_list_credential
from batpass.trust.model import iso

CERT_BASE = "https://cert-node.test:8443"
HOLDER_BASE = "https://holder-node.test:7443"
H = {"X-Api-Key": ADMIN}


def _summary(holder_did: str, key: Any, kid: str) -> str:
    summary = {
        "summaryVersion": "1.0",
        "subject": {"kind": "battery", "id": "https://id.test/01/04012345000010/21/B1", "material": "pack"},
        "issuer": holder_did,
        "computedAt": iso(dt.datetime.now(dt.UTC)),
        "elements": {
            "Co": {
                "originByCountry": {"AU": 0.7, "CA": 0.3},
                "highRiskShare": 0.0,
                "recycled": {"preConsumer": 0.04, "postConsumer": 0.14},
                "custodyModels": {"mass_balance": 1.0},
            }
        },
        "minesReached": 2,
        "tombstones": [],
        "credentials": [],
        "foldedSupplierSummaries": 1,
    }
    return jws.serialize_compact(
        {"alg": "Ed25519", "typ": "application/vnd.batpass.upstream-summary+jws", "kid": kid},
        json.dumps(summary).encode(),
        key,
        algorithms=["Ed25519"],
    )


def test_operator_signs_its_trust_list_over_http(service: TrustService, world: World) -> None:
    client = TestClient(make_app(service))
    tl = TrustList(
        "catena-x", world.cx.did, world.now, None, (TrustedIssuer(world.cx.did, "CX certifier", ROLE_TYPES),)
    ).to_json()
    assert client.post("/v1/trust/lists/sign", json=tl).status_code == 401
    r = client.post("/v1/trust/lists/sign", headers=H, json=tl)
    assert r.status_code == 201, r.text
    signed = r.json()["jws"]
    assert r.json()["ecosystem"] == "catena-x"
    r = client.post("/v1/trust/lists", headers=H, json={"ecosystem": "catena-x", "jws": signed})
    assert r.status_code == 201 and r.json()["issuers"][0]["did"] == world.cx.did
    # a node signs only lists it operates, and only valid ones
    foreign = {**tl, "operator": world.jp.did}
    r = client.post("/v1/trust/lists/sign", headers=H, json=foreign)
    assert r.status_code == 400 and r.json()["field"] == "operator"
    r = client.post("/v1/trust/lists/sign", headers=H, json={**tl, "issuers": "nobody"})
    assert r.status_code == 400 and r.json()["field"] == "issuers"


def test_present_held_sd_jwt_and_nonce_is_single_use(service: TrustService, world: World) -> None:
    load_lists(service, world)
    client = TestClient(make_app(service))
    own_key = service.identity.active("Ed25519").public_jwk()
    evidence = [{"supplier": "Hidden Mine Pty", "quantityKg": 777}]
    issued = service.issue(
        "RecycledContentAttestationCredential",
        {
            "id": service.identity.did,
            "product": "urn:uuid:lot-1",
            "element": "Co",
            "recycledShare": 0.18,
            "preConsumerShare": 0.04,
            "postConsumerShare": 0.14,
            "summaryDigest": "sha-256:" + "0" * 64,
            "supplyEvidence": evidence,
        },
        format="dc+sd-jwt",
        holder_jwk=own_key,
        disclosable=["supplyEvidence[]"],
    )
    wid = client.post("/v1/credentials/wallet", headers=H, json={"credential": issued.token}).json()["id"]
    listed = client.get("/v1/credentials/wallet", headers=H).json()
    assert [(w["id"], w["type"], w["subject"]) for w in listed] == [
        (wid, "RecycledContentAttestationCredential", service.identity.did)
    ]
    nonce = client.get("/v1/auth/nonce").json()["nonce"]
    body = {"walletId": wid, "audience": service.identity.did, "nonce": nonce}
    assert client.post("/v1/credentials/present", json=body).status_code == 401
    r = client.post("/v1/credentials/present", headers=H, json=body)
    assert r.status_code == 200 and r.json()["format"] == "dc+sd-jwt"
    p = r.json()["presentation"]
    assert "Hidden Mine" not in json.dumps([x for x in p.split("~")]) and p.count("~") == 1  # jwt~kb
    req = {"credential": p, "audience": service.identity.did, "nonce": nonce}
    v = client.post("/v1/credentials/verify", json=req).json()
    assert v["verified"] is True, v
    assert [c["check"] for c in v["checks"]][:2] == ["signature", "key-binding"]
    assert v["subject"]["supplyEvidence"] == []
    again = client.post("/v1/credentials/verify", json=req).json()
    assert again["verified"] is False and again["reason"] == "nonce-replayed"
    # a nonce this node never handed out
    bogus = client.post("/v1/credentials/present", headers=H, json={**body, "nonce": "made-up-nonce"}).json()[
        "presentation"
    ]
    v = client.post(
        "/v1/credentials/verify", json={"credential": bogus, "audience": service.identity.did, "nonce": "made-up-nonce"}
    ).json()
    assert v["verified"] is False and v["reason"] == "nonce-unknown"
    # exactly one of walletId and credential; unknown wallet ids are 404
    assert client.post("/v1/credentials/present", headers=H, json={**body, "credential": "x"}).status_code == 400
    assert client.post("/v1/credentials/present", headers=H, json={**body, "walletId": "nope"}).status_code == 404
    # a vc+jwt is presented inside a vp+jwt
    vc = service.issue("AccessRoleCredential", {**role_subject(world), "id": service.identity.did})
    r = client.post("/v1/credentials/present", headers=H, json={**body, "walletId": None, "credential": vc.token})
    assert r.status_code == 200 and r.json()["format"] == "vp+jwt"


def test_verify_can_demand_a_fresh_status_list(world: World) -> None:
    """A cached list hides a revocation until it ages out, unless the caller asks for a list no
    older than statusMaxAgeS."""
    url = "https://cx-cert.test:8443/v1/credentials/status/L1"
    bits = bytearray(MIN_BITS // 8)
    served: list[int] = []

    def local(u: str) -> str | None:
        served.append(1)
        return status_list_credential(world.cx, list_url=url, bits=bytes(bits)) if u == url else None

    clock = [0.0]
    status = StatusListCache(world.resolver, max_age_s=300, local=local, clock=lambda: clock[0])
    verifier = Verifier(world.resolver, world.registry, status)
    from batpass.trust import build_credential, issue_vc_jwt

    vc = build_credential(
        issuer=world.cx.did,
        ctype="AccessRoleCredential",
        subject=role_subject(world),
        valid_from=world.now - dt.timedelta(minutes=1),
        valid_until=world.now + dt.timedelta(days=1),
        status=status_entry(url, 5),
        credential_id="urn:uuid:0196-fresh",
    )
    token = issue_vc_jwt(world.cx, vc)
    assert verifier.verify(token).checks[-2].name == "status" and len(served) == 1
    set_bit(bits, 5)
    clock[0] = 10.0
    verifier.verify(token)  # cached 10 s ago: the revocation is not seen
    assert len(served) == 1
    verifier.verify(token, status_max_age_s=60)  # 10 s old is fresh enough for 60 s
    assert len(served) == 1
    with pytest.raises(CredentialRejected) as e:
        verifier.verify(token, status_max_age_s=5)
    assert e.value.reason == "revoked" and len(served) == 2
    clock[0] = 20.0
    with pytest.raises(CredentialRejected) as e:
        asyncio.run(verifier.averify(token, status_max_age_s=0))
    assert e.value.reason == "revoked" and len(served) == 3  # fetched once, by the prefetch


def test_dcp_answer_holds_only_own_credentials(service: TrustService, world: World) -> None:
    load_lists(service, world)
    own = service.issue(
        "MembershipCredential",
        {"id": service.identity.did, "memberOf": "catena-x", "holderIdentifier": "BPNL00000000000C"},
    )
    hosted = service.issue(
        "MembershipCredential", {"id": world.other.did, "memberOf": "catena-x", "holderIdentifier": "op-7"}
    )
    service.hold(own.token)
    service.hold(hosted.token)
    ask = issue_self_issued_token(world.holder, audience=service.identity.did, bpn=None)
    q = {
        "@context": ["https://w3id.org/dspace-dcp/v1.0/dcp.jsonld"],
        "type": "PresentationQueryMessage",
        "scope": ["org.eclipse.dspace.dcp.vc.type:MembershipCredential:read"],
    }
    answer = asyncio.run(service.answer_query(f"Bearer {ask}", q))
    holder, _nonce, creds = verify_vp_jwt(answer["presentation"][0], service.resolver, audience=world.holder.did)
    assert holder == service.identity.did and creds == [own.token]


def test_holder_requests_certification_over_https(make_store: Callable[[Sequence[Path]], Engine], world: World) -> None:
    """Holder node → certifier node over (in-process) HTTPS: self-issued token, summary, key
    binding to the holder's node key, kept in the wallet; refusals come back as our errors."""
    cert_id = identity(node_did(CERT_BASE))
    holder_id = identity(node_did(HOLDER_BASE))
    certifier = TrustService(
        make_store([MIGRATIONS_DIR]),
        cert_id,
        base_url=CERT_BASE,
        operators={"catena-x": cert_id.did},
    )
    certifier.resolver.pin(did_document(holder_id))
    cx_list = TrustList(
        "catena-x", cert_id.did, world.now, None, (TrustedIssuer(cert_id.did, "certifier", ROLE_TYPES),)
    )
    asyncio.run(certifier.add_trust_list(sign_trust_list(cx_list, cert_id), ecosystem="catena-x"))
    app = make_app(certifier)
    key = holder_id.active("Ed25519")
    summary = _summary(holder_id.did, key.jwk, holder_id.key_id(key))

    async def run() -> None:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
        holder = TrustService(
            make_store([MIGRATIONS_DIR]),
            holder_id,
            base_url=HOLDER_BASE,
            operators={"catena-x": cert_id.did},
            allowed_hosts=["cert-node.test:8443"],
            client=client,
        )
        holder.resolver.pin(certifier.did_document())
        holder.registry.lists = certifier.registry.lists
        got = await holder.request_certification(
            cert_id.did,
            summary,
            claim="recycled-content",
            element="Co",
            threshold=0.16,
            evidence=[{"supplier": "Hidden Mine Pty", "quantityKg": 777}],
        )
        assert got["type"] == "RecycledContentAttestationCredential" and got["format"] == "dc+sd-jwt"
        assert [w["id"] for w in holder.wallet()] == [got["walletId"]]
        nonce = certifier.issue_nonce()
        p = holder.present(got["credential"], audience=cert_id.did, nonce=nonce)
        v = await certifier.verify_presented(p, audience=cert_id.did, nonce=nonce)
        assert v.holder == holder_id.did and v.subject["recycledShare"] == pytest.approx(0.18)
        assert "Hidden Mine" not in json.dumps(dict(v.subject))
        # the certifier refuses what the summary does not support: relayed with its field
        with pytest.raises(Exception) as e:
            await holder.request_certification(
                cert_id.did, summary, claim="recycled-content", element="Co", threshold=0.5
            )
        assert getattr(e.value, "field", None) == "threshold" and "below the claimed" in str(e.value)
        # only node DIDs on the allow-list
        with pytest.raises(Exception) as e:
            await holder.request_certification("did:web:cert-node.test%3A8443:operators:x", summary, claim="x")
        assert getattr(e.value, "field", None) == "certifier"
        with pytest.raises(CredentialRejected) as rej:
            await holder.request_certification("did:web:elsewhere.test", summary, claim="x")
        assert rej.value.reason == "host-not-allowed"
        await client.aclose()

    asyncio.run(run())
