"""A judgement for a market applies that market's recognition rules: the car maker (Catena-X)
judging for the Japanese market counts certificates as the Japanese side's rules admit them (the
rule named on the finding), not through its own EU-side policy; a node given no rules for a
market counts no certificate from outside that market's ecosystem, and says so."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from batpass.compliance import (
    MARKET_ECOSYSTEMS,
    Evidence,
    MarketRecognition,
    Status,
    evaluate,
    passport_subjects,
    rulesets_for,
)
from batpass.core.errors import InvalidInput
from batpass.trust import MIGRATIONS_DIR, NodeIdentity, RecognitionPolicy, TrustService, generate_keypair

CFP = "CertifiedCarbonFootprintCredential"
ORIGIN = "OriginAttestationCredential"
#: the demo's two sides (demo/_story/trust.py): each recognises the other's certificates
EU_POLICY: dict[str, Any] = {
    "ecosystem": "catena-x",
    "rules": [
        {"id": "ouranos-cfp-as-cx-pcf", "fromEcosystem": "ouranos", "credentialType": CFP, "acceptedAs": CFP,
         "where": {"framework": "ouranos-cfp"}, "label": "an Ouranos-certified CFP counts as a certified PCF"},
        {"id": "ouranos-origin", "fromEcosystem": "ouranos", "credentialType": ORIGIN, "acceptedAs": ORIGIN},
    ],
}  # fmt: skip
JP_POLICY: dict[str, Any] = {
    "ecosystem": "ouranos",
    "rules": [
        {"id": "cx-pcf-as-ouranos-cfp", "fromEcosystem": "catena-x", "credentialType": CFP, "acceptedAs": CFP,
         "where": {"framework": "catena-x-pcf"}, "label": "a Catena-X-certified PCF counts as a certified CFP"},
    ],
}  # fmt: skip
CX_PCF = (frozenset({"VerifiableCredential", CFP}), {"framework": "catena-x-pcf"})
OURANOS_CFP = (frozenset({"VerifiableCredential", CFP}), {"framework": "ouranos-cfp"})
DOC: dict[str, Any] = {
    "passportId": "urn:uuid:1",
    "batteryId": "https://r.example/01/04012345000009/21/SN-1",
    "status": "original",
    "version": 1,
    "tiers": ["public"],
    "data": {"category": "ev", "rated_energy": {"value": 60, "unit": "kWh"}},
}


@pytest.fixture
def car_maker(make_store: Callable[[Sequence[Path]], Engine]) -> TrustService:
    """A Catena-X node with its own (EU-side) policy and the Japanese side's rules for market JP."""
    svc = TrustService(
        make_store([MIGRATIONS_DIR]),
        NodeIdentity("did:web:car.example", [generate_keypair("Ed25519", "key-ed25519-1")]),
        base_url="https://car.example:8443",
        ecosystem="catena-x",
        market_policies=[JP_POLICY],
    )
    svc.set_policy(EU_POLICY)
    return svc


def test_each_market_is_judged_by_its_own_sides_recognition_rules(car_maker: TrustService) -> None:
    assert MARKET_ECOSYSTEMS == {"EU": "catena-x", "JP": "ouranos"}
    eu, jp = MarketRecognition.of(car_maker, "EU"), MarketRecognition.of(car_maker, "JP")
    assert (eu.ecosystem, eu.source) == ("catena-x", "this node's recognition policy")
    assert (jp.ecosystem, jp.source) == ("ouranos", "the ouranos side's rules for market JP (node configuration)")
    # for the EU market the Ouranos CFP is recognised by the car maker's own rule; a Catena-X PCF is native
    assert eu.admit("ouranos", *OURANOS_CFP) == (True, "ouranos-cfp-as-cx-pcf (an Ouranos-certified CFP counts as a "
                                                 "certified PCF)", "")  # fmt: skip
    assert eu.admit("catena-x", *CX_PCF) == (True, None, "")
    # for the JP market the Ouranos CFP is native and the Catena-X PCF counts by the JP side's rule
    assert jp.admit("ouranos", *OURANOS_CFP) == (True, None, "")
    assert jp.admit("catena-x", *CX_PCF) == (
        True, "cx-pcf-as-ouranos-cfp (a Catena-X-certified PCF counts as a certified CFP)", "")  # fmt: skip
    # the EU-side rule for origin attestations is not the JP side's: no JP rule admits a Catena-X origin claim
    ok, rule, reason = jp.admit("catena-x", frozenset({ORIGIN}), {"element": "Co"})
    assert (ok, rule) == (False, None)
    assert reason == f"no rule of the ouranos side's rules for market JP admits catena-x {ORIGIN}"


def test_the_recognised_certificate_on_a_jp_finding_names_the_jp_rule(car_maker: TrustService) -> None:
    jp = MarketRecognition.of(car_maker, "JP")
    counts, rule, _ = jp.admit("catena-x", *CX_PCF)
    cred = Evidence("verified_footprint", f"{CFP} issued by did:web:cx-cert", credential_type=CFP,
                    ecosystem="catena-x", recognition=rule)  # fmt: skip
    battery, _ = passport_subjects(DOC, has_qr_code=True, credentials=[cred] if counts else [])
    (found,) = [
        f
        for f in evaluate(battery, dt.date(2040, 1, 1), rulesets=rulesets_for("JP"))
        if f.rule == "jp.cfp.verification"
    ]
    assert found.status == Status.NOT_YET_DETERMINABLE
    assert [e.recognition for e in found.evidence if e.credential_type] == [
        "cx-pcf-as-ouranos-cfp (a Catena-X-certified PCF counts as a certified CFP)"
    ]


def test_a_market_without_rules_on_this_node_counts_nothing_from_outside_it(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    svc = TrustService(
        make_store([MIGRATIONS_DIR]),
        NodeIdentity("did:web:recycler.example", [generate_keypair("Ed25519", "key-ed25519-1")]),
        base_url="https://recycler.example:8443",
        ecosystem="catena-x",
    )
    jp = MarketRecognition.of(svc, "JP")
    assert jp.source == "none: this node holds no recognition rules for market JP"
    assert jp.admit("catena-x", *CX_PCF)[:2] == (False, None)
    assert jp.admit("ouranos", *OURANOS_CFP) == (True, None, "")
    # a ruleset named instead of a market is judged with the node's own policy
    assert MarketRecognition.of(svc, None).ecosystem == "catena-x"


def test_rules_for_a_market_are_checked_when_the_node_is_configured(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    def make(policies: list[Any]) -> TrustService:
        return TrustService(
            make_store([MIGRATIONS_DIR]),
            NodeIdentity("did:web:n.example", [generate_keypair("Ed25519", "key-ed25519-1")]),
            base_url="https://n.example:8443",
            ecosystem="catena-x",
            market_policies=policies,
        )

    with pytest.raises(InvalidInput) as own:
        make([{**EU_POLICY}])  # its own ecosystem's policy is the stored, signed one (PUT /v1/trust/policy)
    assert own.value.field == "market_recognition[0].ecosystem"
    with pytest.raises(InvalidInput) as bad:
        make([{"ecosystem": "ouranos", "rules": [{"id": "x"}]}])
    assert bad.value.field is not None and bad.value.field.startswith("market_recognition[0]")
    assert isinstance(make([JP_POLICY]).market_policies["ouranos"], RecognitionPolicy)
