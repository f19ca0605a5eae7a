"""TrustService on SQLite and PostgreSQL, through its HTTP routes: issuing, revocation with
status lists, nonces, role presentations and the participant check (docs/contracts.md), trust lists, certification."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jws
from trust_http import ADMIN, ROLE_TYPES, load_lists, make_app, provider_of, role_subject
from trust_world import CX_BASE, POLICY, World

from batpass.core.summary import SUMMARY_BASIS
from batpass.trust import (
    CredentialRejected,
    TrustedIssuer,
    TrustList,
    TrustService,
    issue_self_issued_token,
    issue_vp_jwt,
    present_sd_jwt,
    sign_trust_list,
    verify_self_issued_token,
)


def test_issue_verify_revoke_over_http(service: TrustService, world: World) -> None:
    load_lists(service, world)
    client = TestClient(make_app(service))
    r = client.post("/v1/credentials/issue", json={"type": "AccessRoleCredential", "subject": role_subject(world)})
    assert r.status_code == 401 and r.json()["type"].endswith("unauthorized")
    r = client.post(
        "/v1/credentials/issue",
        headers={"X-Api-Key": ADMIN},
        json={"type": "AccessRoleCredential", "subject": role_subject(world)},
    )
    assert r.status_code == 201, r.text
    cred = r.json()
    v = client.post("/v1/credentials/verify", json={"credential": cred["credential"]}).json()
    assert v["verified"] is True and [c["check"] for c in v["checks"]] == [
        "signature",
        "issuer-trust",
        "status",
        "expiry",
    ]
    # the status list is served signed
    status_url = json.loads(__import__("base64").urlsafe_b64decode(cred["credential"].split(".")[1] + "==="))[
        "credentialStatus"
    ]["statusListCredential"]
    sl = client.get(status_url.removeprefix(CX_BASE))
    assert sl.status_code == 200 and sl.headers["content-type"].startswith("application/vc+jwt")
    assert client.post(f"/v1/credentials/{cred['id']}/revoke", headers={"X-Api-Key": ADMIN}).status_code == 204
    v = client.post("/v1/credentials/verify", json={"credential": cred["credential"]}).json()
    assert v["verified"] is False and v["reason"] == "revoked" and v["checks"][-1]["check"] == "status"
    again = client.post(f"/v1/credentials/{cred['id']}/revoke", headers={"X-Api-Key": ADMIN})
    assert again.status_code == 409
    assert client.post("/v1/credentials/urn:uuid:nope/revoke", headers={"X-Api-Key": ADMIN}).status_code == 404
    assert [c["revoked"] for c in client.get("/v1/credentials/issued", headers={"X-Api-Key": ADMIN}).json()] == [True]


def test_status_cache_max_age_at_a_remote_verifier(service: TrustService, world: World, trust_store: Any) -> None:
    """A verifier on another node fetches the issuer's list over (mock) HTTPS, caches it for
    max_age, and sees a revocation once the cache has aged out."""
    load_lists(service, world)
    app = make_app(service)
    issued = service.issue("AccessRoleCredential", role_subject(world))
    clock = [0.0]
    fetches: list[str] = []

    async def run() -> None:
        inner = httpx.ASGITransport(app=app)

        async def handler(request: httpx.Request) -> httpx.Response:
            fetches.append(str(request.url))
            return await inner.handle_async_request(request)

        client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=CX_BASE)
        remote = provider_of(service, world, trust_store, client, status_max_age_s=60)
        remote.status._clock = lambda: clock[0]
        v = await remote.verify(issued.token)
        assert v.checks[-2].name == "status" and len(fetches) == 1
        service.revoke(issued.id)
        await remote.verify(issued.token)  # still cached: the revocation is not seen yet
        assert len(fetches) == 1
        clock[0] = 61.0
        with pytest.raises(CredentialRejected) as e:
            await remote.verify(issued.token)
        assert e.value.reason == "revoked" and len(fetches) == 2
        await client.aclose()

    asyncio.run(run())


def test_role_presentation_vp_jwt_and_sd_jwt(service: TrustService, world: World) -> None:
    load_lists(service, world)
    client = TestClient(make_app(service))
    cred = service.issue("AccessRoleCredential", role_subject(world)).token
    nonce = client.get("/v1/auth/nonce").json()
    assert nonce["audience"] == service.identity.did
    vp = issue_vp_jwt(world.holder, [cred], audience=service.identity.did, nonce=nonce["nonce"])
    roles = asyncio.run(service.verify_role_presentation(vp))
    assert roles.roles == {"market_surveillance_authority"} and roles.holder == world.holder.did
    with pytest.raises(CredentialRejected) as e:
        asyncio.run(service.verify_role_presentation(vp))
    assert e.value.reason == "nonce-replayed"
    n2 = service.issue_nonce()
    wrong_aud = issue_vp_jwt(world.holder, [cred], audience="did:web:other.test", nonce=n2)
    with pytest.raises(CredentialRejected) as e:
        asyncio.run(service.verify_role_presentation(wrong_aud))
    assert e.value.reason == "audience"
    unknown = issue_vp_jwt(world.holder, [cred], audience=service.identity.did, nonce="made-up")
    with pytest.raises(CredentialRejected) as e:
        asyncio.run(service.verify_role_presentation(unknown))
    assert e.value.reason == "nonce-unknown"
    # someone else presenting the holder's credential
    from batpass.trust import new_did_key_identity

    thief = new_did_key_identity()
    stolen = issue_vp_jwt(thief, [cred], audience=service.identity.did, nonce=service.issue_nonce())
    with pytest.raises(CredentialRejected) as e:
        asyncio.run(service.verify_role_presentation(stolen))
    assert e.value.reason == "holder"
    # SD-JWT VC with key binding
    sd = service.issue(
        "AccessRoleCredential",
        role_subject(world, "notified_body"),
        format="dc+sd-jwt",
        holder_jwk=world.holder.keys[0].public_jwk(),
        disclosable=["organisation"],
    ).token
    n3 = service.issue_nonce()
    p = present_sd_jwt(sd, disclose=[], holder_key=world.holder.keys[0], audience=service.identity.did, nonce=n3)
    assert asyncio.run(service.roles_for(p)) == {"notified_body"}
    with pytest.raises(CredentialRejected) as e:
        asyncio.run(service.roles_for(p))
    assert e.value.reason == "nonce-replayed"
    assert asyncio.run(service.roles_for(None)) == frozenset()
    # a membership credential is not a role
    m = service.issue(
        "MembershipCredential", {"id": world.holder.did, "memberOf": "catena-x", "holderIdentifier": "BPNL00000000000A"}
    ).token
    vp = issue_vp_jwt(world.holder, [m], audience=service.identity.did, nonce=service.issue_nonce())
    with pytest.raises(CredentialRejected) as e:
        asyncio.run(service.verify_role_presentation(vp))
    assert e.value.reason == "issuer-not-trusted-for-type"


def test_trust_list_admin_routes(service: TrustService, world: World) -> None:
    client = TestClient(make_app(service))
    tl = TrustList("catena-x", world.cx.did, world.now, None, (TrustedIssuer(world.cx.did, "CX", ROLE_TYPES),))
    r = client.post(
        "/v1/trust/lists",
        headers={"X-Api-Key": ADMIN},
        json={"ecosystem": "catena-x", "jws": sign_trust_list(tl, world.cx)},
    )
    assert r.status_code == 201, r.text
    assert client.get("/v1/trust/lists").json()[0]["operator"] == world.cx.did
    bad = client.post(
        "/v1/trust/lists",
        headers={"X-Api-Key": ADMIN},
        json={"ecosystem": "ouranos", "jws": sign_trust_list(tl, world.cx)},
    )
    assert bad.status_code == 401 and "trust list" in bad.json()["detail"]
    unknown = client.post(
        "/v1/trust/lists", headers={"X-Api-Key": ADMIN}, json={"ecosystem": "elsewhere", "jws": "x.y.z"}
    )
    assert unknown.status_code == 401 and "no operator" in unknown.json()["detail"]
    r = client.put(
        "/v1/trust/policy", headers={"X-Api-Key": ADMIN}, json={"ecosystem": "catena-x", "rules": [{"id": "x"}]}
    )
    assert r.status_code == 400 and r.json()["field"] == "rules.0"
    assert client.put("/v1/trust/policy", headers={"X-Api-Key": ADMIN}, json=POLICY).status_code == 200
    # a fresh service on the same store loads what was stored
    again = TrustService(service.engine, world.cx, base_url=CX_BASE, operators=service.operators)
    assert again.registry.policy.rules[0].id == "ouranos-cfp-as-cx-pcf" and "catena-x" in again.registry.lists


def signed_summary(w: World, *, co_recycled: tuple[float, float] = (0.05, 0.13), high_risk: float = 0.0) -> str:
    summary = {
        "summaryVersion": "1.0",
        "subject": {"kind": "lot", "id": "urn:uuid:lot-77", "material": "cathode"},
        "issuer": w.holder.did,
        "computedAt": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        "elements": {
            "Co": {
                "originByCountry": {"CD": 0.6, "AU": 0.4},
                "highRiskShare": high_risk,
                "recycled": {"preConsumer": co_recycled[0], "postConsumer": co_recycled[1]},
                "custodyModels": {"mass_balance": 1.0},
            }
        },
        "minesReached": 3,
        "tombstones": [],
        "footprint": {"total": 41.2, "unit": "kgCO2e/kg"},
        "credentials": [],
        "foldedSupplierSummaries": 2,
    }
    key = w.holder.keys[0]
    return jws.serialize_compact(
        {"alg": "Ed25519", "typ": "application/vnd.batpass.upstream-summary+jws", "kid": w.holder.key_id(key)},
        json.dumps(summary).encode(),
        key.jwk,
        algorithms=["Ed25519"],
    )


def test_certification_flow_over_http(service: TrustService, world: World) -> None:
    load_lists(service, world)
    client = TestClient(make_app(service))
    si = issue_self_issued_token(world.holder, audience=service.identity.did, bpn=None)
    evidence = [{"supplier": "Secret Refinery Ltd", "quantityKg": 1250}]
    body = {
        "summary": signed_summary(world),
        "claim": "recycled-content",
        "element": "Co",
        "threshold": 0.16,
        "evidence": evidence,
        "holderJwk": world.holder.keys[0].public_jwk(),
    }
    assert client.post("/v1/credentials/certify", json=body).status_code == 401
    r = client.post("/v1/credentials/certify", json=body, headers={"Authorization": f"Bearer {si}"})
    assert r.status_code == 201, r.text
    sd = r.json()["credential"]
    # the holder presents with suppliers and quantities undisclosed
    n = service.issue_nonce()
    p = present_sd_jwt(sd, disclose=[], holder_key=world.holder.keys[0], audience=service.identity.did, nonce=n)
    assert "Secret Refinery" not in p and "1250" not in json.dumps(
        [__import__("base64").urlsafe_b64decode(x + "===").decode(errors="replace") for x in p.split("~")[1:-1]]
    )
    v = client.post(
        "/v1/credentials/verify", json={"credential": p, "audience": service.identity.did, "nonce": n}
    ).json()
    assert v["verified"] is True and v["subject"]["meetsThreshold"] is True and v["subject"]["recycledShare"] == 0.18
    assert v["subject"]["supplyEvidence"] == []
    # a claim the data does not support is refused
    low = {**body, "summary": signed_summary(world, co_recycled=(0.01, 0.02))}
    r = client.post("/v1/credentials/certify", json=low, headers={"Authorization": f"Bearer {si}"})
    assert r.status_code == 400 and r.json()["field"] == "threshold"
    risky = {**body, "summary": signed_summary(world, high_risk=0.1), "claim": "no-high-risk-origin"}
    assert (
        client.post("/v1/credentials/certify", json=risky, headers={"Authorization": f"Bearer {si}"}).status_code == 400
    )
    origin = {**body, "claim": "no-high-risk-origin"}
    r = client.post("/v1/credentials/certify", json=origin, headers={"Authorization": f"Bearer {si}"})
    assert r.status_code == 201 and r.json()["type"] == "OriginAttestationCredential"
    # a tampered summary, and one computed by someone else
    tampered = body["summary"][:-3] + ("AAA" if not body["summary"].endswith("AAA") else "BBB")
    r = client.post(
        "/v1/credentials/certify", json={**body, "summary": tampered}, headers={"Authorization": f"Bearer {si}"}
    )
    assert r.status_code == 401
    from batpass.trust import new_did_key_identity

    other = new_did_key_identity()
    si2 = issue_self_issued_token(other, audience=service.identity.did, bpn=None)
    r = client.post("/v1/credentials/certify", json=body, headers={"Authorization": f"Bearer {si2}"})
    assert r.status_code == 401 and "not by the holder" in r.json()["detail"]


def test_self_issued_token_and_dcp_query(service: TrustService, world: World, trust_store: Any) -> None:
    load_lists(service, world)
    si = issue_self_issued_token(world.holder, audience=service.identity.did, bpn="BPNL00000000000A")
    got = verify_self_issued_token(si, audience=service.identity.did, resolver=service.resolver)
    assert got.did == world.holder.did and got.bpn == "BPNL00000000000A"
    with pytest.raises(CredentialRejected) as e:
        verify_self_issued_token(si, audience="did:web:else.test", resolver=service.resolver)
    assert e.value.reason == "audience"
    # the certifier node also holds its own membership and answers DCP queries with it
    m = service.issue(
        "MembershipCredential",
        {"id": service.identity.did, "memberOf": "catena-x", "holderIdentifier": "BPNL00000000000C"},
    )
    service.hold(m.token)
    client = TestClient(make_app(service))
    q = {
        "@context": ["https://w3id.org/dspace-dcp/v1.0/dcp.jsonld"],
        "type": "PresentationQueryMessage",
        "scope": ["org.eclipse.dspace.dcp.vc.type:MembershipCredential:read"],
    }
    assert client.post("/dcp/presentations/query", json=q).json()["error"] == "malformed"

    # a provider (a did:key here) verifies the certifier node as a participant, end to end
    provider = world.jp
    app = make_app(service)

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport)
        prov = provider_of(service, world, trust_store, client)  # world.jp
        token = issue_self_issued_token(service.identity, audience=provider.did, bpn="BPNL00000000000C")
        participant = await prov.participant_verifier().verify(f"Bearer {token}")
        assert participant.did == service.identity.did and participant.memberships == {"catena-x"}
        assert participant.bpnl == "BPNL00000000000C"
        with pytest.raises(CredentialRejected):
            await prov.participant_verifier().verify("Bearer " + token[:-2] + "xx")
        await client.aclose()

    asyncio.run(run())


def test_migration_matches_the_tables(trust_store: Any) -> None:
    import sqlalchemy as sa

    from batpass.trust import _sql

    insp = sa.inspect(trust_store)
    for table in (
        _sql.issued,
        _sql.status_lists,
        _sql.nonces,
        _sql.trust_lists,
        _sql.pinned_keys,
        _sql.policies,
        _sql.wallet,
    ):
        cols = {c["name"]: c["nullable"] for c in insp.get_columns(table.name)}
        assert cols == {c.name: c.nullable for c in table.columns}, table.name


def test_certified_carbon_footprint_over_http(service: TrustService, world: World) -> None:
    """A ``carbon-footprint`` claim on a summary carrying a footprint is issued as a
    CertifiedCarbonFootprintCredential naming the framework and the summary it was computed from."""
    load_lists(service, world)
    client = TestClient(make_app(service))
    si = issue_self_issued_token(world.holder, audience=service.identity.did, bpn=None)
    body = {
        "summary": signed_summary(world),
        "claim": "carbon-footprint",
        "framework": "catena-x-pcf",
        "holderJwk": world.holder.keys[0].public_jwk(),
    }
    r = client.post("/v1/credentials/certify", json=body, headers={"Authorization": f"Bearer {si}"})
    assert r.status_code == 201, r.text
    assert r.json()["type"] == "CertifiedCarbonFootprintCredential"
    v = client.post("/v1/credentials/verify", json={"credential": r.json()["credential"]}).json()
    assert v["verified"] is True
    assert v["subject"]["framework"] == "catena-x-pcf" and v["subject"]["summaryIssuer"] == world.holder.did
    assert v["subject"]["footprint"] == {"total": 41.2, "unit": "kgCO2e/kg"}


def _summary_2(w: World, *, flagged: float, findings: list[dict[str, Any]]) -> str:
    """A 2.0 summary whose cobalt is ``flagged`` from sites a CAHRA list flags, with the
    operator's ``findings`` on them (docs/sites.md "Findings")."""
    sites: dict[str, Any] = {"certified": 1.0 - flagged, "flagged": flagged, "unknown": 0.0}
    if findings:
        sites["findings"] = findings
    summary = {
        "summaryVersion": "2.0",
        "basis": dict(SUMMARY_BASIS),
        "subject": {"kind": "lot", "id": "urn:uuid:lot-78", "material": "cobalt_hydroxide"},
        "issuer": w.holder.did,
        "computedAt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "elements": {
            "Co": {
                "minedByCountry": {"CD": 1.0},
                "recycledByCountry": {},
                "unknownShare": 0.0,
                "highRiskShare": flagged,
                "recycled": {"preConsumer": 0.0, "postConsumer": 0.0},
                "custodyModels": {"segregated": 1.0},
                "sites": sites,
            }
        },
        "minesReached": 2,
        "tombstones": [],
        "credentials": [],
        "foldedSupplierSummaries": 0,
    }
    key = w.holder.keys[0]
    return jws.serialize_compact(
        {"alg": "Ed25519", "typ": "application/vnd.batpass.upstream-summary+jws", "kid": w.holder.key_id(key)},
        json.dumps(summary).encode(),
        key.jwk,
        algorithms=["Ed25519"],
    )


def test_no_high_risk_origin_waits_for_the_operators_finding_over_http(service: TrustService, world: World) -> None:
    """A flagged site is a screening signal: the certifier declines "no high-risk origin" (400
    naming the rule) until the operator's finding covers the flagged share; then it issues the
    credential naming the finding, which a verifier reads back."""
    load_lists(service, world)
    client = TestClient(make_app(service))
    si = {"Authorization": "Bearer " + issue_self_issued_token(world.holder, audience=service.identity.did, bpn=None)}
    base = {"claim": "no-high-risk-origin", "element": "Co", "holderJwk": world.holder.keys[0].public_jwk()}
    finding = {"dataset": "eu-indicative-cahra-list@2026-06-30", "reference": "doc:edd-7", "date": "2026-11-30"}
    without = client.post(
        "/v1/credentials/certify", json={**base, "summary": _summary_2(world, flagged=0.25, findings=[])}, headers=si
    )
    assert without.status_code == 400 and "finding" in without.json()["rule"]
    part = [{**finding, "share": 0.1}]  # covers 0.1 of the 0.25 flagged
    r = client.post(
        "/v1/credentials/certify", json={**base, "summary": _summary_2(world, flagged=0.25, findings=part)}, headers=si
    )
    assert r.status_code == 400 and "0.1500 of it without" in r.json()["detail"]
    whole = [{**finding, "share": 0.25}]
    r = client.post(
        "/v1/credentials/certify", json={**base, "summary": _summary_2(world, flagged=0.25, findings=whole)}, headers=si
    )
    assert r.status_code == 201, r.text
    v = client.post("/v1/credentials/verify", json={"credential": r.json()["credential"]}).json()
    assert v["verified"] is True and v["subject"]["dueDiligenceFindings"] == whole
    # nothing flagged: no finding needed, none named
    clean = client.post(
        "/v1/credentials/certify", json={**base, "summary": _summary_2(world, flagged=0.0, findings=[])}, headers=si
    )
    assert (
        clean.status_code == 201
        and "dueDiligenceFindings"
        not in client.post("/v1/credentials/verify", json={"credential": clean.json()["credential"]}).json()["subject"]
    )
