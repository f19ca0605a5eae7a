"""Shared builders for the trust tests (imported by name; pytest puts this folder on sys.path):
two ecosystems, each with a certifier that is also its
operator, a holder on did:key, trust lists signed by the operators, a recognition policy."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from batpass.trust import (
    DidResolver,
    NodeIdentity,
    RecognitionPolicy,
    StatusListCache,
    TrustedIssuer,
    TrustList,
    TrustRegistry,
    Verifier,
    did_document,
    generate_keypair,
    load_trust_list,
    new_did_key_identity,
    operator_did,
    sign_trust_list,
)

CX_BASE = "https://cx-cert.test:8443"
JP_BASE = "https://jp-cert.test:9443"
POLICY = {
    "ecosystem": "catena-x",
    "rules": [
        {
            "id": "ouranos-cfp-as-cx-pcf",
            "fromEcosystem": "ouranos",
            "credentialType": "CertifiedCarbonFootprintCredential",
            "acceptedAs": "CertifiedCarbonFootprintCredential",
            "where": {"framework": "ouranos-cfp"},
            "label": "an Ouranos-certified CFP counts as a certified PCF",
        }
    ],
}


def identity(did: str) -> NodeIdentity:
    return NodeIdentity(did, [generate_keypair("Ed25519", "key-ed25519-1"), generate_keypair("ES256", "key-p256-1")])


@dataclass
class World:
    cx: NodeIdentity  # Catena-X certifier + operator
    jp: NodeIdentity  # Ouranos certifier + operator
    other: NodeIdentity  # an issuer trusted for memberships only
    holder: NodeIdentity  # did:key
    resolver: DidResolver
    registry: TrustRegistry
    status: StatusListCache
    verifier: Verifier
    now: dt.datetime


def make_world() -> World:
    now = dt.datetime.now(dt.UTC)
    cx = identity(operator_did(CX_BASE, "cx-operator"))
    jp = identity(operator_did(JP_BASE, "jp-operator"))
    other = identity(operator_did(CX_BASE, "membership-only"))
    resolver = DidResolver()
    for i in (cx, jp, other):
        resolver.pin(did_document(i))
    cx_list = TrustList(
        "catena-x",
        cx.did,
        now,
        None,
        (
            TrustedIssuer(
                cx.did,
                "CX certifier",
                frozenset(
                    {
                        "MembershipCredential",
                        "RecycledContentAttestationCredential",
                        "OriginAttestationCredential",
                        "CertifiedCarbonFootprintCredential",
                        "AccessRoleCredential",
                        "DueDiligenceAttestationCredential",
                    }
                ),
            ),
            TrustedIssuer(other.did, "Membership issuer", frozenset({"MembershipCredential"})),
        ),
    )
    jp_list = TrustList(
        "ouranos",
        jp.did,
        now,
        None,
        (
            TrustedIssuer(
                jp.did, "JP certifier", frozenset({"CertifiedCarbonFootprintCredential", "MembershipCredential"})
            ),
        ),
    )
    registry = TrustRegistry("catena-x", RecognitionPolicy.from_json(POLICY))
    registry.add(load_trust_list(sign_trust_list(cx_list, cx), resolver, operator=cx.did, ecosystem="catena-x"))
    registry.add(load_trust_list(sign_trust_list(jp_list, jp), resolver, operator=jp.did, ecosystem="ouranos"))
    status = StatusListCache(resolver)
    return World(
        cx, jp, other, new_did_key_identity(), resolver, registry, status, Verifier(resolver, registry, status), now
    )
