"""A judgement for a market applies that market's recognition rules: the car maker (Catena-X)
judging for the Japanese market counts certificates as the Japanese side's rules admit them (the
rule named on the finding), not through its own EU-side policy; a node given no rules for a
market counts no certificate from outside that market's ecosystem, and says so."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import anyio
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


# --- end to end: the car maker's node judges a passport with a Catena-X-certified PCF it holds ---


@pytest.fixture
def judged(make_store: Callable[[Sequence[Path]], Engine]) -> Callable[[str, bool], dict[str, Any]]:
    """Judge a stored passport on a Catena-X node holding a Catena-X-certified PCF of the battery
    (issued by a certifier on the Catena-X list), for a market, with or without the JP side's rules."""
    from test_compliance_passports import BAT, EXAMPLE, ITEM, OPERATOR, RESOLVER, SUMMARY

    from batpass.compliance import ComplianceService, load_ruleset
    from batpass.core.clock import FixedClock
    from batpass.ledger import decode_summary
    from batpass.passport import MIGRATIONS_DIR as PASSPORT_MIGRATIONS
    from batpass.passport import PassportRules, PassportService, load_static_product_data
    from batpass.trust import TrustedIssuer, TrustList, did_document, operator_did, sign_trust_list

    passports = PassportService(
        make_store([PASSPORT_MIGRATIONS]),
        NodeIdentity(OPERATOR, [generate_keypair("Ed25519", "key-ed25519-1")]),
        rules=PassportRules.from_ruleset(load_ruleset()),
        resolver_base=RESOLVER,
        backup_url="https://backup.example:8443",
        clock=FixedClock(dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)),
    )
    built = passports.build(load_static_product_data(EXAMPLE), BAT, item=ITEM, summary=decode_summary(SUMMARY))
    operator = NodeIdentity(operator_did("https://cx-op.example:8443", "cx-operator"),
                            [generate_keypair("Ed25519", "key-ed25519-1")])  # fmt: skip
    identity = NodeIdentity("did:web:car.example", [generate_keypair("Ed25519", "key-ed25519-1")])

    def run(market: str, with_jp_rules: bool) -> dict[str, Any]:
        car = TrustService(
            make_store([MIGRATIONS_DIR]),
            identity,
            base_url="https://car.example:8443",
            ecosystem="catena-x",
            operators={"catena-x": operator.did},
            market_policies=[JP_POLICY] if with_jp_rules else [],
        )
        car.resolver.pin(did_document(operator))
        now = dt.datetime.now(dt.UTC)
        listed = TrustList("catena-x", operator.did, now, None, (TrustedIssuer(car.identity.did, "CX certifier",
                           frozenset({CFP})),))  # fmt: skip
        anyio.run(partial(car.add_trust_list, sign_trust_list(listed, operator), ecosystem="catena-x"))
        car.set_policy(EU_POLICY)
        subject = {"id": car.identity.did, "product": built.digital_link, "framework": "catena-x-pcf",
                   "footprint": {"kgCo2ePerKwh": "0.0549"}}  # fmt: skip
        car.hold(car.issue(CFP, subject).token)
        svc = ComplianceService(owner=OPERATOR, passports=passports, ledger=None, trust=car)
        return anyio.run(partial(svc.passport, str(built.passport_id), dt.date(2031, 8, 18), market=market)).report()

    return run


def _recognitions(report: dict[str, Any], rule: str) -> list[str | None]:
    found = [f for f in report["findings"] if f["rule"] == rule]
    return [e.get("recognition") for f in found for e in f["evidence"] if e.get("credential_type") == CFP]


def test_the_car_maker_judging_for_jp_counts_its_certificate_by_the_jp_sides_rule(
    judged: Callable[[str, bool], dict[str, Any]],
) -> None:
    eu = judged("EU", True)
    # for its own market the Catena-X certificate is native: no recognition rule
    assert _recognitions(eu, "footprint.declaration.ev") == [None]
    assert eu["recognition"]["source"] == "this node's recognition policy"
    jp = judged("JP", True)
    rule = "cx-pcf-as-ouranos-cfp (a Catena-X-certified PCF counts as a certified CFP)"
    assert _recognitions(jp, "jp.cfp.verification") == [rule]
    assert jp["recognition"] == {
        "market": "JP",
        "ecosystem": "ouranos",
        "source": "the ouranos side's rules for market JP (node configuration)",
        "rules": ["cx-pcf-as-ouranos-cfp"],
    }
    assert jp["evidence_recognised"] >= 1 and jp["refused"] == []
    # without the JP side's rules the certificate does not count for JP, and the report says why
    bare = judged("JP", False)
    assert _recognitions(bare, "jp.cfp.verification") == []
    assert [r["reason"] for r in bare["refused"]] == [
        f"{CFP} issued by did:web:car.example: no rule of any rules for market JP admits catena-x {CFP}"
    ]
