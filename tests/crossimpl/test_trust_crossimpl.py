"""SD-JWT cross-implementation tests (issue 4 "Show"): batpass against the independent
TypeScript implementation ``@sd-jwt/core@0.19.0`` (+ ``@sd-jwt/crypto-nodejs@0.19.0``, pinned in
``package-lock.json`` here), driven through ``sdjwt.mjs``; and against the Python reference
library ``sd-jwt`` 0.10.4. Both directions each time."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from batpass.trust import (
    CredentialRejected,
    DidResolver,
    NodeIdentity,
    generate_keypair,
    issue_sd_jwt,
    new_did_key_identity,
    present_sd_jwt,
    verify_sd_jwt,
)
from batpass.trust.model import vct_for

HERE = Path(__file__).resolve().parent
VCT = vct_for("AccessRoleCredential")


@pytest.fixture(scope="session")
def node_ready() -> None:
    if shutil.which("node") is None:
        pytest.fail("node is required for the cross-implementation tests (it is on every machine here)")
    if not (HERE / "node_modules" / "@sd-jwt" / "core").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, capture_output=True, timeout=300)


def node(request: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        ["node", str(HERE / "sdjwt.mjs")],
        input=json.dumps(request),
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def ours(alg: str) -> tuple[NodeIdentity, NodeIdentity, str]:
    issuer = NodeIdentity("did:web:cx-cert.test", [generate_keypair(alg, "key-1")])
    holder = new_did_key_identity(alg)
    claims = {
        "sub": holder.did,
        "role": "notified_body",
        "organisation": "NB 0123",
        "supplyEvidence": [
            {"supplier": "Secret Refinery Ltd", "quantityKg": 1250},
            {"supplier": "Mine B", "quantityKg": 80},
        ],
    }
    sd = issue_sd_jwt(
        issuer,
        claims,
        vct=VCT,
        disclosable=["organisation", "supplyEvidence[]"],
        holder_jwk=holder.keys[0].public_jwk(),
        alg=alg,
    )
    return issuer, holder, sd


@pytest.mark.parametrize("alg", ["Ed25519", "ES256"])
def test_batpass_sd_jwt_verifies_in_sd_jwt_core(node_ready: None, alg: str) -> None:
    issuer, holder, sd = ours(alg)
    p = present_sd_jwt(
        sd, disclose=["organisation"], holder_key=holder.keys[0], audience="did:web:oem.test", nonce="n-42"
    )
    res = node({"mode": "verify", "token": p, "issuerJwk": issuer.keys[0].public_jwk(), "nonce": "n-42"})
    assert res["ok"], res
    assert res["payload"]["organisation"] == "NB 0123" and res["payload"]["supplyEvidence"] == []
    assert res["kb"]["aud"] == "did:web:oem.test" and res["kb"]["nonce"] == "n-42"
    # one disclosure removed after key binding: rejected there
    parts = p.split("~")
    cut = "~".join([parts[0], *parts[2:]])
    res = node({"mode": "verify", "token": cut, "issuerJwk": issuer.keys[0].public_jwk(), "nonce": "n-42"})
    assert res["ok"] is False and "sd_hash" in res["error"]
    # a wrong nonce: rejected there too
    res = node({"mode": "verify", "token": p, "issuerJwk": issuer.keys[0].public_jwk(), "nonce": "other"})
    assert res["ok"] is False


def test_sd_jwt_core_sd_jwt_verifies_in_batpass(node_ready: None) -> None:
    out = node(
        {
            "mode": "issue",
            "aud": "did:web:oem.test",
            "nonce": "n-7",
            "issuerDid": "did:web:jp-cert.test",
            "vct": VCT,
            "holderDid": "did:web:reader.test",
        }
    )
    jwk = {k: out["issuerJwk"][k] for k in ("kty", "crv", "x", "y")}
    r = DidResolver()
    r.pin(
        {
            "id": "did:web:jp-cert.test",
            "verificationMethod": [
                {"id": out["kid"], "type": "JsonWebKey", "controller": "did:web:jp-cert.test", "publicKeyJwk": jwk}
            ],
        }
    )
    v = verify_sd_jwt(
        out["presentation"],
        lambda kid, iss: r.method(kid, controller=iss),
        require_key_binding=True,
        audience="did:web:oem.test",
        nonce="n-7",
        expected_vct=VCT,
    )
    assert v.key_bound and v.claims["organisation"] == "NB 0123"
    assert v.claims["supplyEvidence"] == [{"supplier": "Mine B", "quantityKg": 80}]
    # their issuance without key binding verifies too, with all disclosures
    v = verify_sd_jwt(out["token"], lambda kid, iss: r.method(kid, controller=iss), require_key_binding=False)
    assert len(v.claims["supplyEvidence"]) == 2
    # and a disclosure removed from their key-bound presentation is rejected here
    parts = out["presentation"].split("~")
    with pytest.raises(CredentialRejected) as e:
        verify_sd_jwt(
            "~".join([parts[0], *parts[2:]]),
            lambda kid, iss: r.method(kid, controller=iss),
            require_key_binding=True,
            audience="did:web:oem.test",
            nonce="n-7",
        )
    assert e.value.reason == "key-binding"


def test_against_the_python_sd_jwt_library_both_ways() -> None:
    from jwcrypto.jwk import JWK
    from sd_jwt.common import SDObj
    from sd_jwt.holder import SDJWTHolder
    from sd_jwt.issuer import SDJWTIssuer
    from sd_jwt.verifier import SDJWTVerifier

    issuer, holder, sd = ours("ES256")
    p = present_sd_jwt(
        sd, disclose=["organisation"], holder_key=holder.keys[0], audience="did:web:oem.test", nonce="n-1"
    )
    ik = JWK.from_json(json.dumps(issuer.keys[0].public_jwk()))
    payload = SDJWTVerifier(
        p, lambda iss, hdr: ik, expected_aud="did:web:oem.test", expected_nonce="n-1"
    ).get_verified_payload()
    assert payload["organisation"] == "NB 0123"

    lib_issuer, lib_holder = JWK.generate(kty="EC", crv="P-256"), JWK.generate(kty="EC", crv="P-256")
    iss = SDJWTIssuer(
        {"iss": "did:web:lib.test", "vct": VCT, SDObj("organisation"): "NB 9", "role": "commission"},
        lib_issuer,
        holder_key=lib_holder,
        sign_alg="ES256",
        extra_header_parameters={"typ": "dc+sd-jwt", "kid": "did:web:lib.test#k"},
    )
    h = SDJWTHolder(iss.sd_jwt_issuance)
    h.create_presentation(
        {"organisation": True}, nonce="n-2", aud="did:web:oem.test", holder_key=lib_holder, sign_alg="ES256"
    )
    r = DidResolver()
    r.pin(
        {
            "id": "did:web:lib.test",
            "verificationMethod": [
                {
                    "id": "did:web:lib.test#k",
                    "type": "JsonWebKey",
                    "controller": "did:web:lib.test",
                    "publicKeyJwk": json.loads(lib_issuer.export_public()),
                }
            ],
        }
    )
    v = verify_sd_jwt(
        h.sd_jwt_presentation,
        lambda kid, i: r.method(kid, controller=i),
        require_key_binding=True,
        audience="did:web:oem.test",
        nonce="n-2",
    )
    assert v.claims["organisation"] == "NB 9" and v.claims["role"] == "commission"
