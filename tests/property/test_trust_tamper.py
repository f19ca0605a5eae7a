"""Property: any single-character change of an issued token is rejected with a
``CredentialRejected`` (never accepted, never another exception) — vc+jwt, SD-JWT VC with key
binding, vp+jwt, signed trust list and DCP self-issued token."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batpass.trust import (
    CredentialRejected,
    DidResolver,
    NodeIdentity,
    StatusListCache,
    TrustedIssuer,
    TrustList,
    TrustRegistry,
    Verifier,
    build_credential,
    did_document,
    generate_keypair,
    issue_sd_jwt,
    issue_self_issued_token,
    issue_vc_jwt,
    issue_vp_jwt,
    load_trust_list,
    new_did_key_identity,
    present_sd_jwt,
    sign_trust_list,
    verify_self_issued_token,
    verify_vp_jwt,
)
from batpass.trust.model import vct_for

NOW = dt.datetime.now(dt.UTC)
ISSUER = NodeIdentity("did:web:cert.test", [generate_keypair("Ed25519", "k1"), generate_keypair("ES256", "k2")])
HOLDER = new_did_key_identity()
RESOLVER = DidResolver()
RESOLVER.pin(did_document(ISSUER))
TYPES = frozenset({"AccessRoleCredential"})
REGISTRY = TrustRegistry("catena-x")
REGISTRY.add(TrustList("catena-x", ISSUER.did, NOW, None, (TrustedIssuer(ISSUER.did, "c", TYPES),)))
VERIFIER = Verifier(RESOLVER, REGISTRY, StatusListCache(RESOLVER))
SUBJECT = {"id": HOLDER.did, "role": "commission", "organisation": "European Commission"}
AUD = "did:web:node.test"

VC = build_credential(
    issuer=ISSUER.did,
    ctype="AccessRoleCredential",
    subject=SUBJECT,
    valid_from=NOW,
    valid_until=NOW + dt.timedelta(days=1),
)
VC_ED = issue_vc_jwt(ISSUER, VC)
VC_ES = issue_vc_jwt(ISSUER, VC, alg="ES256")
SD = issue_sd_jwt(
    ISSUER,
    {"sub": HOLDER.did, "role": "commission", "organisation": "EC", "supplyEvidence": [{"s": "x"}]},
    vct=vct_for("AccessRoleCredential"),
    disclosable=["organisation", "supplyEvidence[]"],
    holder_jwk=HOLDER.keys[0].public_jwk(),
)
SD_KB = present_sd_jwt(
    SD, disclose=["organisation", "supplyEvidence[]"], holder_key=HOLDER.keys[0], audience=AUD, nonce="n"
)
VP = issue_vp_jwt(HOLDER, [VC_ED], audience=AUD, nonce="n")
TL = sign_trust_list(TrustList("catena-x", ISSUER.did, NOW, None, (TrustedIssuer(ISSUER.did, "c", TYPES),)), ISSUER)
SI = issue_self_issued_token(HOLDER, audience=AUD, bpn="BPNL00000000000A")

CASES: dict[str, tuple[str, Callable[[str], object]]] = {
    "vc+jwt Ed25519": (VC_ED, lambda t: VERIFIER.verify(t)),
    "vc+jwt ES256": (VC_ES, lambda t: VERIFIER.verify(t)),
    "sd-jwt issued": (SD, lambda t: VERIFIER.verify(t)),
    "sd-jwt + kb": (SD_KB, lambda t: VERIFIER.verify(t, audience=AUD, nonce="n", require_key_binding=True)),
    "vp+jwt": (VP, lambda t: verify_vp_jwt(t, RESOLVER, audience=AUD)),
    "trust list": (TL, lambda t: load_trust_list(t, RESOLVER, operator=ISSUER.did)),
    "self-issued": (SI, lambda t: verify_self_issued_token(t, audience=AUD, resolver=RESOLVER)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_untouched_tokens_verify(case: str) -> None:
    token, check = CASES[case]
    check(token)


@pytest.mark.parametrize("case", sorted(CASES))
@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_any_single_character_change_is_rejected(case: str, data: st.DataObject) -> None:
    token, check = CASES[case]
    pos = data.draw(st.integers(0, len(token) - 1), label="position")
    new = data.draw(st.characters(min_codepoint=0, max_codepoint=255).filter(lambda c: c != token[pos]), label="char")
    tampered = token[:pos] + new + token[pos + 1 :]
    with pytest.raises(CredentialRejected):
        check(tampered)
