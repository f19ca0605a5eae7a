"""Conformance of what trust emits with the published W3C artefacts bundled in the package:
VC DM 2.0 JSON Schemas (credentials and presentations), the JSON-LD contexts (DID documents and
credentials expand with no dropped term), and the Bitstring Status List encoding rules."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import jsonschema
import referencing
from pyld import jsonld

from batpass.trust import (
    NodeIdentity,
    build_credential,
    generate_keypair,
    issue_vc_jwt,
    issue_vp_jwt,
    new_did_key_identity,
    subject_did_document,
)
from batpass.trust._status import MIN_BITS, set_bit, status_entry, status_list_credential
from batpass.trust._vc import document_loader, expand_strict

DATA = Path(__file__).resolve().parents[2] / "src" / "batpass" / "trust" / "_data"
NOW = dt.datetime.now(dt.UTC)
ISSUER = NodeIdentity("did:web:cert.test%3A8443", [generate_keypair("Ed25519", "k1"), generate_keypair("ES256", "k2")])
HOLDER = new_did_key_identity()


def payload(token: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))
    return body


def w3c_validator(name: str) -> jsonschema.protocols.Validator:
    vc_schema = json.loads((DATA / "schemas" / "w3c" / "verifiable-credential-schema.json").read_text())
    schema = json.loads((DATA / "schemas" / "w3c" / name).read_text())
    registry = referencing.Registry().with_resource(vc_schema["$id"], referencing.Resource.from_contents(vc_schema))
    return jsonschema.Draft202012Validator(schema, registry=registry)


def test_issued_credentials_validate_against_the_w3c_vc_schema() -> None:
    v = w3c_validator("verifiable-credential-schema.json")
    subjects = {
        "MembershipCredential": {"id": HOLDER.did, "memberOf": "ouranos", "holderIdentifier": "1234567"},
        "AccessRoleCredential": {"id": HOLDER.did, "role": "legitimate_interest", "organisation": "Recycler GmbH"},
        "DueDiligenceAttestationCredential": {
            "id": HOLDER.did,
            "reportId": "DD-2026",
            "reportDigest": "sha-256:" + "a" * 64,
            "scheme": "OECD DDG",
            "conclusion": "conformant",
        },
    }
    for ctype, subject in subjects.items():
        vc = build_credential(
            issuer=ISSUER.did,
            ctype=ctype,
            subject=subject,
            valid_from=NOW,
            valid_until=NOW + dt.timedelta(days=1),
            status=status_entry("https://cert.test:8443/s/1", 3),
        )
        body = payload(issue_vc_jwt(ISSUER, vc))
        errors = [e.message for e in v.iter_errors(body)]
        assert errors == [], (ctype, errors)
        assert expand_strict({k: x for k, x in body.items() if k not in {"iss", "iat", "nbf", "exp", "jti"}})


def test_presentations_validate_against_the_w3c_vp_schema() -> None:
    vc = build_credential(
        issuer=ISSUER.did,
        ctype="AccessRoleCredential",
        subject={"id": HOLDER.did, "role": "commission", "organisation": "EC"},
        valid_from=NOW,
        valid_until=None,
    )
    token = issue_vc_jwt(ISSUER, vc)
    vp = payload(issue_vp_jwt(HOLDER, [token], audience="did:web:n.test", nonce="x"))
    # the W3C VP schema only knows embedded credentials; VC-JOSE-COSE §3.2.1 envelopes them
    # (EnvelopedVerifiableCredential, VC DM 2.0 §4.13.1), so the envelope is checked on its own
    envelopes = vp.pop("verifiableCredential")
    assert [e.message for e in w3c_validator("verifiable-presentation-schema.json").iter_errors(vp)] == []
    assert envelopes == [
        {
            "@context": "https://www.w3.org/ns/credentials/v2",
            "type": "EnvelopedVerifiableCredential",
            "id": f"data:application/vc+jwt,{token}",
        }
    ]
    expand_strict(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": vp["type"],
            "holder": vp["holder"],
            "verifiableCredential": envelopes,
        }
    )


def test_did_documents_expand_with_the_did_context() -> None:
    doc = subject_did_document(ISSUER, base_url="https://cert.test:8443", profiles=["catena-x", "ouranos"])
    doc = {**doc, "@context": ["https://www.w3.org/ns/did/v1"]}  # the JWK context is not bundled
    for vm in doc["verificationMethod"]:
        vm.pop("publicKeyJwk")
    expanded = jsonld.expand(doc, {"documentLoader": document_loader})
    assert expanded[0]["@id"] == ISSUER.did


def test_bitstring_status_list_encoding() -> None:
    """§4.1: at least 16 KiB, GZIP, multibase base64url ('u'); index 0 is the first (leftmost) bit."""
    bits = bytearray(MIN_BITS // 8)
    set_bit(bits, 0)
    set_bit(bits, 9)
    token = status_list_credential(ISSUER, list_url="https://cert.test:8443/s/1", bits=bytes(bits))
    body = payload(token)
    assert "BitstringStatusListCredential" in body["type"]
    subject = body["credentialSubject"]
    assert subject["type"] == "BitstringStatusList" and subject["statusPurpose"] == "revocation"
    enc = subject["encodedList"]
    assert enc.startswith("u")
    raw = gzip.decompress(base64.urlsafe_b64decode(enc[1:] + "==="))
    assert len(raw) * 8 >= 131_072 and raw[0] == 0b1000_0000 and raw[1] == 0b0100_0000
    expand_strict({k: x for k, x in body.items() if k not in {"iss", "iat", "nbf", "exp", "jti"}})
