"""vc+jwt and SD-JWT VC verification through the trust lists: the chain of reasons and every
rejection of the issue's "bad input" list, each with its specific reason."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import OctKey
from trust_world import World

from batpass.trust import CredentialRejected, RecognitionPolicy, TrustRegistry, Verifier, sign_trust_list
from batpass.trust._sdjwt import issue_sd_jwt, present_sd_jwt
from batpass.trust._vc import build_credential, issue_vc_jwt
from batpass.trust.model import TrustedIssuer, TrustList, vct_for

DAY = dt.timedelta(days=1)


def recycled_subject(holder: str) -> dict[str, Any]:
    return {
        "id": holder,
        "product": "urn:uuid:lot-1",
        "element": "Co",
        "recycledShare": 0.18,
        "preConsumerShare": 0.05,
        "postConsumerShare": 0.13,
        "threshold": 0.16,
        "meetsThreshold": True,
        "summaryDigest": "sha-256:" + "0" * 64,
    }


def vc_token(
    w: World,
    *,
    issuer: Any = None,
    ctype: str = "RecycledContentAttestationCredential",
    subject: dict[str, Any] | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    alg: str = "Ed25519",
) -> str:
    iss = issuer or w.cx
    start = start or w.now - DAY
    vc = build_credential(
        issuer=iss.did,
        ctype=ctype,
        subject=subject or recycled_subject(w.holder.did),
        valid_from=start,
        valid_until=end or w.now + DAY,
    )
    return issue_vc_jwt(iss, vc, alg=alg)


def reason(w: World, token: str, **kw: Any) -> str:
    with pytest.raises(CredentialRejected) as e:
        w.verifier.verify(token, **kw)
    assert e.value.checks and not e.value.checks[-1].ok
    return str(e.value.reason)


def b64(d: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", ["Ed25519", "ES256"])
def test_vc_jwt_verifies_with_chain_of_reasons(world: World, alg: str) -> None:
    v = world.verifier.verify(vc_token(world, alg=alg))
    assert [c.name for c in v.checks] == ["signature", "issuer-trust", "status", "expiry"]
    assert all(c.ok for c in v.checks)
    assert v.accepted_as == {"RecycledContentAttestationCredential"}
    assert v.holder == world.holder.did


def test_alg_none_and_hmac_with_public_key_are_refused(world: World) -> None:
    token = vc_token(world)
    h, p, _s = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(h + "==="))
    assert reason(world, b64({**header, "alg": "none"}) + "." + p + ".") == "algorithm"
    # HS256 keyed with the issuer's public key bytes (the classic key-confusion attack)
    pub = json.dumps(world.cx.active().public_jwk()).encode()
    forged = jws.serialize_compact(
        {**header, "alg": "HS256"}, base64.urlsafe_b64decode(p + "==="), OctKey.import_key(pub), algorithms=["HS256"]
    )
    assert reason(world, forged) == "algorithm"


def test_time_window(world: World) -> None:
    assert reason(world, vc_token(world, start=world.now - 10 * DAY, end=world.now - DAY)) == "expired"
    assert reason(world, vc_token(world, start=world.now + DAY, end=world.now + 2 * DAY)) == "not-yet-valid"


def test_unknown_issuer_and_issuer_trusted_for_another_type(world: World) -> None:
    from trust_world import identity

    from batpass.trust import did_document

    stranger = identity("did:web:stranger.test")
    world.resolver.pin(did_document(stranger))
    assert reason(world, vc_token(world, issuer=stranger)) == "unknown-issuer"
    assert reason(world, vc_token(world, issuer=world.other)) == "issuer-not-trusted-for-type"


def test_mutual_recognition_ouranos_cfp_counts_as_certified_pcf(world: World) -> None:
    subject = {"id": world.holder.did, "product": "urn:x", "framework": "ouranos-cfp", "footprint": {"total": 12.3}}
    token = vc_token(world, issuer=world.jp, ctype="CertifiedCarbonFootprintCredential", subject=subject)
    v = world.verifier.verify(token, require_type="CertifiedCarbonFootprintCredential")
    names = [c.name for c in v.checks]
    assert names == ["signature", "issuer-trust", "recognition", "status", "expiry"]
    assert "ouranos-cfp-as-cx-pcf" in v.checks[2].detail
    # without the rule, the Ouranos certifier is not accepted on the Catena-X side
    bare = Verifier(world.resolver, TrustRegistry("catena-x", RecognitionPolicy("catena-x")), world.status)
    bare.registry.lists = world.registry.lists
    with pytest.raises(CredentialRejected) as e:
        bare.verify(token)
    assert e.value.reason == "not-recognised"
    # the rule's condition: a pact-framework footprint from Ouranos is not covered
    other = vc_token(
        world, issuer=world.jp, ctype="CertifiedCarbonFootprintCredential", subject={**subject, "framework": "pact"}
    )
    assert reason(world, other) == "not-recognised"


def test_schema_violation_is_rejected(world: World) -> None:
    vc = build_credential(
        issuer=world.cx.did,
        ctype="AccessRoleCredential",
        subject={"id": world.holder.did, "role": "king", "organisation": "X"},
        valid_from=world.now,
        valid_until=world.now + DAY,
    )
    from batpass.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as e:
        issue_vc_jwt(world.cx, vc)
    assert e.value.field == "credentialSubject.role"
    token = issue_vc_jwt(world.cx, vc, validate=False)
    assert reason(world, token) == "schema"


def test_undefined_json_ld_term_is_refused_at_issuance(world: World) -> None:
    from batpass.core.errors import InvalidInput
    from batpass.trust._vc import expand_strict

    vc = build_credential(
        issuer=world.cx.did,
        ctype="MembershipCredential",
        subject={"id": world.holder.did, "memberOf": "catena-x", "holderIdentifier": "BPNL000000000001"},
        valid_from=world.now,
        valid_until=None,
    )
    assert expand_strict(vc)
    with pytest.raises(InvalidInput) as e:
        expand_strict({**vc, "surprise": 1})
    assert e.value.field == "surprise"
    with pytest.raises(InvalidInput):
        expand_strict({**vc, "@context": [*vc["@context"], "https://example.org/ctx"]})


def sd_token(w: World, **kw: Any) -> str:
    claims = {
        "sub": w.holder.did,
        "product": "urn:uuid:lot-1",
        "element": "Co",
        "recycledShare": 0.18,
        "supplyEvidence": [
            {"supplier": "Secret Refinery Ltd", "quantityKg": 1250},
            {"supplier": "Mine B", "quantityKg": 80},
        ],
    }
    return issue_sd_jwt(
        w.cx,
        claims,
        vct=vct_for("RecycledContentAttestationCredential"),
        disclosable=["recycledShare", "supplyEvidence[]", "product"],
        holder_jwk=w.holder.keys[0].public_jwk(),
        **kw,
    )


def test_sd_jwt_with_key_binding_hides_suppliers(world: World) -> None:
    p = present_sd_jwt(
        sd_token(world),
        disclose=["recycledShare", "product"],
        holder_key=world.holder.keys[0],
        audience="did:web:oem.test",
        nonce="n-1",
    )
    assert "Secret Refinery" not in base64.urlsafe_b64decode(p.split(".")[1] + "===").decode()
    v = world.verifier.verify(p, audience="did:web:oem.test", nonce="n-1", require_key_binding=True)
    assert v.subject["recycledShare"] == 0.18 and v.subject["supplyEvidence"] == []
    assert [c.name for c in v.checks] == ["signature", "key-binding", "issuer-trust", "status", "expiry"]


def test_sd_jwt_bad_inputs(world: World) -> None:
    sd = sd_token(world)
    key = world.holder.keys[0]
    ok = present_sd_jwt(sd, disclose=["recycledShare"], holder_key=key, audience="did:web:oem.test", nonce="n-1")
    kw = {"audience": "did:web:oem.test", "nonce": "n-1", "require_key_binding": True}
    assert reason(world, ok, audience="did:web:else.test", nonce="n-1", require_key_binding=True) == "audience"
    assert reason(world, ok, audience="did:web:oem.test", nonce="n-2", require_key_binding=True) == "nonce-unknown"
    # a disclosure the payload does not reference (taken from another credential)
    foreign = sd_token(world).split("~")[1]
    jwt, *discs = sd.split("~")[:-1]
    extra = "~".join([jwt, *discs, foreign]) + "~"
    assert reason(world, extra) == "disclosure-unreferenced"
    dup = "~".join([jwt, discs[0], discs[0]]) + "~"
    assert reason(world, dup) == "disclosure-duplicate"
    # dropping a disclosure after key binding breaks sd_hash
    full = present_sd_jwt(
        sd, disclose=["recycledShare", "product"], holder_key=key, audience="did:web:oem.test", nonce="n-1"
    )
    parts = full.split("~")
    assert reason(world, "~".join([parts[0], *parts[2:]]), **kw) == "key-binding"
    assert reason(world, present_sd_jwt(sd, disclose=["recycledShare"]), **kw) == "key-binding"
    # a stale key binding
    old = present_sd_jwt(
        sd, disclose=[], holder_key=key, audience="did:web:oem.test", nonce="n-1", iat=world.now - dt.timedelta(hours=1)
    )
    assert reason(world, old, **kw) == "key-binding"
    # expired and not yet valid
    assert reason(world, sd_token(world, now=world.now - 3 * DAY, valid_for=DAY)) == "expired"
    assert reason(world, sd_token(world, now=world.now + 3 * DAY)) == "not-yet-valid"
    # wrong typ
    h, p, _s = jwt.split(".")
    from batpass.trust._jose import sign_compact

    header = json.loads(base64.urlsafe_b64decode(h + "==="))
    retyped = sign_compact({**header, "typ": "example+sd-jwt"}, base64.urlsafe_b64decode(p + "==="), world.cx.active())
    assert reason(world, retyped + "~") == "type-header"


def test_trust_list_unsigned_or_wrongly_signed(world: World) -> None:
    from batpass.trust import load_trust_list

    tl = TrustList(
        "catena-x",
        world.cx.did,
        world.now,
        None,
        (TrustedIssuer(world.cx.did, "x", frozenset({"MembershipCredential"})),),
    )
    signed = sign_trust_list(tl, world.cx)
    h, p, _ = signed.split(".")
    for bad in (h + "." + p + ".", json.dumps(tl.to_json()), "not a jws"):
        with pytest.raises(CredentialRejected) as e:
            load_trust_list(bad, world.resolver, operator=world.cx.did)
        assert e.value.reason == "trust-list"
    # signed by someone else than the ecosystem operator
    forged = TrustList("catena-x", world.jp.did, world.now, None, tl.issuers)
    with pytest.raises(CredentialRejected) as e:
        load_trust_list(sign_trust_list(forged, world.jp), world.resolver, operator=world.cx.did)
    assert e.value.reason == "trust-list" and "not by the ecosystem operator" in str(e.value)
    # right kid, wrong key: the payload re-signed by another key under the operator's kid
    from batpass.trust._jose import sign_compact

    hdr = json.loads(base64.urlsafe_b64decode(h + "==="))
    other_key = world.jp.active()
    from dataclasses import replace

    resigned = sign_compact(hdr, base64.urlsafe_b64decode(p + "==="), replace(other_key, kid=world.cx.active().kid))
    with pytest.raises(CredentialRejected) as e:
        load_trust_list(resigned, world.resolver, operator=world.cx.did)
    assert e.value.reason == "trust-list" and "signature" in str(e.value)
    # lists never roll back
    newer = TrustList("catena-x", world.cx.did, world.now, None, tl.issuers, sequence=5)
    world.registry.add(newer)
    with pytest.raises(CredentialRejected):
        world.registry.add(tl)
