"""Helpers for the tests of export authorisations issued as credentials by an authority: the
operator and the authority (real keys), the operator's signed trust list naming issuers, and the
recycler's black mass and its shipments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ledger_testkit import ev, out

from batpass.trust import (
    DidResolver,
    NodeIdentity,
    RecognitionPolicy,
    TrustedIssuer,
    TrustList,
    TrustRegistry,
    generate_keypair,
    load_trust_list,
    operator_did,
    sign_trust_list,
)

REC = "did:web:recycler.example"
AFTER = "2026-11-16T09:00:00Z"  # black mass is hazardous waste (EU consent needed) from 2026-11-09
BASE = "https://cx-operator.test:8443"
CTYPE = "ExportAuthorisationCredential"


def operator_identity(name: str) -> NodeIdentity:
    return NodeIdentity(operator_did(BASE, name), [generate_keypair("Ed25519", "key-ed25519-1")])


OPERATOR = operator_identity("operator")
AUTHORITY = operator_identity("eu-authority")  # on the lists for ExportAuthorisationCredential


def trust_registry(
    resolver: DidResolver, issued: dt.datetime, until: dt.datetime | None, issuers: Sequence[TrustedIssuer]
) -> TrustRegistry:
    """A catena-x registry holding the operator's signed list of ``issuers``."""
    listed = TrustList("catena-x", OPERATOR.did, issued, until, tuple(issuers))
    registry = TrustRegistry("catena-x", RecognitionPolicy.from_json({"ecosystem": "catena-x", "rules": []}))
    registry.add(
        load_trust_list(sign_trust_list(listed, OPERATOR), resolver, operator=OPERATOR.did, ecosystem="catena-x")
    )
    return registry


def authority(types: frozenset[str] = frozenset({CTYPE})) -> TrustedIssuer:
    return TrustedIssuer(AUTHORITY.did, "EU market surveillance (test)", types)


def authorisation_subject(**subject: Any) -> dict[str, Any]:
    """An export authorisation's subject for the recycler (black mass, EU hazardous waste)."""
    return {
        "id": REC,
        "authorisationId": "EU-CONSENT-1",
        "materials": ["black_mass"],
        "wasteClasses": ["eu.hazardous.black-mass"],
        "destinations": ["DE", "BE"],
        "capKg": 25.0,
        "periodStart": "2026-11-01T00:00:00Z",
        "periodEnd": "2027-10-31T23:59:59Z",
        **subject,
    }


def black_mass(lot: str, kg: float = 100.0) -> dict[str, Any]:
    return ev(
        "extraction",
        owner=REC,
        site="REC-NL-1",
        country="NL",
        outputs=[out(lot, "black_mass", kg, assay={"Li": 0.04, "Ni": 0.2, "Co": 0.05})],
    )


def ship(lot: str, kg: float, to: str, at: str = AFTER, *, n: int = 0) -> dict[str, Any]:
    return ev(
        "shipment",
        owner=REC,
        site="REC-NL-1",
        country="NL",
        at=at,
        inputs=[(lot, kg)],
        outputs=[out(f"{lot}-{to}-{n}", "black_mass", kg)],
        shipment={"to_site": {"id": f"S-{to}", "country": to}, "destination_country": to, "document": f"BL-{to}-{n}"},
    )
