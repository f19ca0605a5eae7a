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

ISSUER = NodeIdentity("did:web:cert.test", [generate_keypair("Ed25519", "k1"), generate_keypair("ES256", "k2")])
HOLDER = new_did_key_identity()
RESOLVER = DidResolver()
RESOLVER.pin(did_document(ISSUER))
TYPES = frozenset({"AccessRoleCredential"})
SUBJECT = {"id": HOLDER.did, "role": "commission", "organisation": "European Commission"}
AUD = "did:web:node.test"
NAMES = (
    "sd-jwt + kb",
    "sd-jwt issued",
    "self-issued",
    "trust list",
    "vc+jwt ES256",
    "vc+jwt Ed25519",
    "vp+jwt",
)

Cases = dict[str, tuple[str, Callable[[str], object]]]


@pytest.fixture(scope="module")
def cases() -> Cases:
    """The tokens, issued when this module's tests start: some live minutes only (presentations,
    key binding, self-issued tokens), and a long suite may reach this module later than that
    after collection."""
    now = dt.datetime.now(dt.UTC)
    registry = TrustRegistry("catena-x")
    registry.add(TrustList("catena-x", ISSUER.did, now, None, (TrustedIssuer(ISSUER.did, "c", TYPES),)))
    verifier = Verifier(RESOLVER, registry, StatusListCache(RESOLVER))
    vc = build_credential(
        issuer=ISSUER.did,
        ctype="AccessRoleCredential",
        subject=SUBJECT,
        valid_from=now,
        valid_until=now + dt.timedelta(days=1),
    )
    vc_ed = issue_vc_jwt(ISSUER, vc)
    sd = issue_sd_jwt(
        ISSUER,
        {"sub": HOLDER.did, "role": "commission", "organisation": "EC", "supplyEvidence": [{"s": "x"}]},
        vct=vct_for("AccessRoleCredential"),
        disclosable=["organisation", "supplyEvidence[]"],
        holder_jwk=HOLDER.keys[0].public_jwk(),
    )
    sd_kb = present_sd_jwt(
        sd, disclose=["organisation", "supplyEvidence[]"], holder_key=HOLDER.keys[0], audience=AUD, nonce="n"
    )
    tl = sign_trust_list(TrustList("catena-x", ISSUER.did, now, None, (TrustedIssuer(ISSUER.did, "c", TYPES),)), ISSUER)
    out: Cases = {
        "vc+jwt Ed25519": (vc_ed, lambda t: verifier.verify(t)),
        "vc+jwt ES256": (issue_vc_jwt(ISSUER, vc, alg="ES256"), lambda t: verifier.verify(t)),
        "sd-jwt issued": (sd, lambda t: verifier.verify(t)),
        "sd-jwt + kb": (sd_kb, lambda t: verifier.verify(t, audience=AUD, nonce="n", require_key_binding=True)),
        "vp+jwt": (
            issue_vp_jwt(HOLDER, [vc_ed], audience=AUD, nonce="n"),
            lambda t: verify_vp_jwt(t, RESOLVER, audience=AUD),
        ),
        "trust list": (tl, lambda t: load_trust_list(t, RESOLVER, operator=ISSUER.did)),
        "self-issued": (
            issue_self_issued_token(HOLDER, audience=AUD, bpn="BPNL00000000000A"),
            lambda t: verify_self_issued_token(t, audience=AUD, resolver=RESOLVER),
        ),
    }
    assert sorted(out) == sorted(NAMES)
    return out


@pytest.mark.parametrize("case", NAMES)
def test_untouched_tokens_verify(cases: Cases, case: str) -> None:
    token, check = cases[case]
    check(token)


@pytest.mark.parametrize("case", NAMES)
@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_any_single_character_change_is_rejected(cases: Cases, case: str, data: st.DataObject) -> None:
    token, check = cases[case]
    pos = data.draw(st.integers(0, len(token) - 1), label="position")
    new = data.draw(st.characters(min_codepoint=0, max_codepoint=255).filter(lambda c: c != token[pos]), label="char")
    tampered = token[:pos] + new + token[pos + 1 :]
    with pytest.raises(CredentialRejected):
        check(tampered)
