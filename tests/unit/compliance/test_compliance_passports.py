"""Compliance of a stored passport (``GET /v1/passports/{id}/compliance``) on both stores, and the
evidence rules: each finding names what it was judged on; a certificate from another ecosystem
counts only where the rule allows it and a recognition rule admitted it (both named); a fact the
node does not hold is "not yet determinable", never a fail; a passport the engine cannot evaluate
names the data point; an unknown market names the known ones."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from decimal import Decimal as D
from functools import partial
from pathlib import Path
from typing import Any, cast

import anyio
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from batpass.compliance import (
    BatteryModel,
    Category,
    ComplianceService,
    Evidence,
    RecycledShare,
    Status,
    evaluate,
    evidence_for,
    load_ruleset,
    passport_subjects,
    rulesets_for,
)
from batpass.compliance.routes import router
from batpass.core.clock import FixedClock
from batpass.core.errors import InvalidInput
from batpass.core.ids import BatteryId
from batpass.http import NodeContext, install_error_handlers, require_json
from batpass.ledger import decode_summary
from batpass.passport import MIGRATIONS_DIR, PassportRules, PassportService, load_static_product_data
from batpass.trust import NodeIdentity, generate_keypair

EXAMPLE = Path(__file__).parents[3] / "src/batpass/passport/_data/example-ev-model.yaml"
OPERATOR = "did:web:nordcell.example"
RESOLVER = "https://id.nordcell.example"
KEY = "compliance-admin-key"
BAT = BatteryId("04012345000009", "SN-0001")
ITEM = {
    "manufacturing_place": "Wolfsburg, DE",
    "manufacturing_date": "2027-02-20",
    "manufacturing_facility": "BPNA000000000NC1",
}
SUMMARY: dict[str, Any] = {
    "summaryVersion": "1.0",
    "subject": {"kind": "battery", "id": BAT.digital_link(RESOLVER), "material": "battery"},
    "issuer": OPERATOR,
    "computedAt": "2027-03-01T10:00:00Z",
    "elements": {
        "Co": {
            "originByCountry": {"AU": 1.0},
            "highRiskShare": 0.0,
            "recycled": {"preConsumer": 0.05, "postConsumer": 0.12},
            "custodyModels": {"segregated": 1.0},
        }
    },
    "minesReached": 1,
    "tombstones": [],
    "footprint": None,
    "credentials": [],
    "foldedSupplierSummaries": 0,
}
PHASE1 = dt.date(2031, 8, 18)
CFP = "CertifiedCarbonFootprintCredential"
ORIGIN = "OriginAttestationCredential"


@pytest.fixture
def passports(make_store: Callable[[Sequence[Path]], Engine]) -> PassportService:
    return PassportService(
        make_store([MIGRATIONS_DIR]),
        NodeIdentity(OPERATOR, [generate_keypair("Ed25519", "key-ed25519-1")]),
        rules=PassportRules.from_ruleset(load_ruleset()),
        resolver_base=RESOLVER,
        backup_url="https://backup.example:8443",
        clock=FixedClock(dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)),
    )


@pytest.fixture
def built(passports: PassportService) -> str:
    p = passports.build(load_static_product_data(EXAMPLE), BAT, item=ITEM, summary=decode_summary(SUMMARY))
    return str(p.passport_id)


@pytest.fixture
def client(passports: PassportService) -> TestClient:
    app = FastAPI(dependencies=[Depends(require_json)])  # as the node's app: JSON bodies checked first
    app.include_router(router)
    ctx = NodeContext(
        name="n",
        did=OPERATOR,
        base_url=RESOLVER,
        resolver_base=RESOLVER,
        profiles=("catena-x",),
        engine=passports.engine,
        admin_key_sha256=hashlib.sha256(KEY.encode()).hexdigest(),
        production=False,
        client=cast(Any, None),
        sync_client=cast(Any, None),
        identity=passports.identity,
        settings=None,
    )
    ctx.services[PassportService] = passports
    app.state.ctx = ctx
    install_error_handlers(app, {})
    return TestClient(app)


def _by_rule(report: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["rule"] == rule]


def test_stored_passport_is_judged_with_the_passport_named_as_evidence(passports: PassportService, built: str) -> None:
    svc = ComplianceService(owner=OPERATOR, passports=passports, ledger=None, trust=None)
    report = anyio.run(partial(svc.passport, built, PHASE1, market="EU")).report()
    assert report["rulesets"] == ["eu-2023-1542@2025.2", "footprint-exchange@1.0"]
    (scope,) = _by_rule(report, "passport.scope.ev")
    assert scope["status"] == "pass"
    assert scope["evidence"] == [
        {"purpose": "passport", "source": f"passport urn:uuid:{built} version 1 (tiers "
         "authorities, dynamic, legitimate_interest, public)"}
    ]  # fmt: skip
    # no ledger on this node: the Art. 8 shares are unknown here, not failed and not invented
    phase1 = _by_rule(report, "recycled.minimum.phase1")
    assert phase1 and {f["status"] for f in phase1} == {"not yet determinable"}
    assert all(f["values"]["share"] is None for f in phase1)
    # the operator's turnover and policy are no passport data point: not yet determinable
    (dd,) = _by_rule(report, "due_diligence.scope")
    assert dd["status"] == "not yet determinable" and dd["detail"].startswith("not held on this node")
    # findings cite instruments and articles, never files
    assert all(".py" not in f["reference"] and ".yaml" not in f["reference"] for f in report["findings"])


def test_the_same_passport_at_three_dates_and_two_markets(passports: PassportService, built: str) -> None:
    svc = ComplianceService(owner=OPERATOR, passports=passports, ledger=None, trust=None)
    scope = {
        at: _by_rule(anyio.run(svc.passport, built, at).report(), "passport.scope.ev")[0]["status"]
        for at in (dt.date(2027, 2, 17), dt.date(2027, 2, 18), dt.date(2027, 2, 19))
    }
    assert scope == {
        dt.date(2027, 2, 17): "not yet required",
        dt.date(2027, 2, 18): "pass",
        dt.date(2027, 2, 19): "pass",
    }
    jp = anyio.run(partial(svc.passport, built, PHASE1, market="JP")).report()
    assert jp["rulesets"] == ["jp@2026.1", "footprint-exchange@1.0"]
    assert {f["status"] for f in _by_rule(jp, "jp.recycled.minimum")} == {"not set"}


def test_route_answers_the_report_and_refuses_bad_input_naming_the_field(client: TestClient, built: str) -> None:
    admin = {"X-Api-Key": KEY}
    ok = client.get(f"/v1/passports/{built}/compliance", params={"at": "2031-08-18", "market": "JP"}, headers=admin)
    assert ok.status_code == 200, ok.text
    assert ok.json()["at"] == "2031-08-18" and ok.json()["evidence"][0]["purpose"] == "passport"
    assert client.get(f"/v1/passports/{built}/compliance").status_code == 401
    bad = client.get(f"/v1/passports/{built}/compliance", params={"market": "US"}, headers=admin)
    assert bad.status_code == 400 and "EU" in bad.json()["detail"] and "JP" in bad.json()["detail"]
    day = client.get(f"/v1/passports/{built}/compliance", params={"at": "31.08.2031"}, headers=admin)
    assert day.status_code == 400 and day.json()["field"] == "at"
    missing = client.get("/v1/passports/urn:uuid:00000000-0000-4000-8000-000000000000/compliance", headers=admin)
    assert missing.status_code == 404


DOC: dict[str, Any] = {
    "passportId": "urn:uuid:1",
    "batteryId": "https://r.example/01/04012345000009/21/SN-1",
    "status": "original",
    "version": 2,
    "tiers": ["public"],
    "data": {"category": "ev", "rated_energy": {"value": 60, "unit": "kWh"}, "critical_raw_materials": ["Cobalt"]},
}


@pytest.mark.parametrize("point", ["category", "rated_energy"])
def test_a_passport_the_engine_cannot_evaluate_names_the_data_point(point: str) -> None:
    doc = {**DOC, "data": {k: v for k, v in DOC["data"].items() if k != point}}
    with pytest.raises(InvalidInput) as err:
        passport_subjects(doc, has_qr_code=True)
    assert err.value.field == f"$.data.{point}"


def _cfp(recognition: str | None) -> Evidence:
    return Evidence(
        "verified_footprint",
        f"{CFP} issued by did:web:jp-certifier",
        credential_type=CFP,
        ecosystem="ouranos" if recognition else "catena-x",
        recognition=recognition,
    )


def test_a_recognised_certified_cfp_is_the_declaration_and_names_its_rule() -> None:
    rule = "ouranos-cfp-as-cx-pcf (an Ouranos-certified CFP counts as a certified PCF)"
    battery, _ = passport_subjects(DOC, has_qr_code=True, credentials=[_cfp(rule)])
    eu = rulesets_for("EU")
    (declared,) = [
        f for f in evaluate(battery, dt.date(2040, 1, 1), rulesets=eu) if f.rule == "footprint.declaration.ev"
    ]
    assert declared.values["verified_by"] == [f"{CFP} issued by did:web:jp-certifier"]
    assert [e.recognition for e in declared.evidence if e.credential_type] == [rule]
    # without the certificate the passport declares no footprint: the same rule has nothing
    bare, _ = passport_subjects(DOC, has_qr_code=True)
    (plain,) = [f for f in evaluate(bare, dt.date(2040, 1, 1), rulesets=eu) if f.rule == "footprint.declaration.ev"]
    assert plain.values == {"declared": False} and not [e for e in plain.evidence if e.credential_type]
    # for Japanese purposes it evidences the (undated) third-party verification
    jp = [
        f
        for f in evaluate(battery, dt.date(2040, 1, 1), rulesets=rulesets_for("JP"))
        if f.rule == "jp.cfp.verification"
    ]
    assert jp and jp[0].status == Status.NOT_YET_DETERMINABLE and jp[0].evidence[-1].recognition == rule


def test_a_rule_that_names_no_recognition_does_not_count_a_recognised_certificate() -> None:
    ruleset = load_ruleset("eu-2023-1542")
    rule = dataclasses.replace(ruleset.rule("footprint.declaration.ev"), evidence={"credentials": [CFP]})
    assert evidence_for(rule, [_cfp("some-rule")]) == ()
    assert evidence_for(rule, [_cfp(None)]) == (_cfp(None),)


def test_attestations_cover_due_diligence_materials_natively_or_recognised() -> None:
    creds = [
        Evidence("due_diligence", f"{ORIGIN} Co", credential_type=ORIGIN, ecosystem="ouranos",
                 recognition="ouranos-origin", covers=frozenset({"cobalt"})),
        Evidence("due_diligence", f"{ORIGIN} Li", credential_type=ORIGIN, ecosystem="catena-x",
                 covers=frozenset({"lithium"})),
    ]  # fmt: skip
    _, operator = passport_subjects(DOC, has_qr_code=True, credentials=creds)
    (materials,) = [
        f for f in evaluate(operator, PHASE1, rulesets=rulesets_for("EU")) if f.rule == "due_diligence.materials"
    ]
    assert materials.values["attested"] == ["cobalt", "lithium"]
    assert materials.status == Status.FAIL and materials.detail == "not covered: natural_graphite, nickel"
    assert {e.recognition for e in materials.evidence} == {"ouranos-origin", None}
    (guideline,) = [
        f for f in evaluate(operator, PHASE1, rulesets=rulesets_for("JP")) if f.rule == "jp.due_diligence.guideline"
    ]
    assert guideline.status == Status.INFORMATION and guideline.values["covered"] == ["cobalt", "lithium"]
    # without any attestation the node holds no due-diligence evidence: not yet determinable
    _, none = passport_subjects(DOC, has_qr_code=True)
    (unknown,) = [f for f in evaluate(none, PHASE1, rulesets=rulesets_for("EU")) if f.rule == "due_diligence.materials"]
    assert unknown.status == Status.NOT_YET_DETERMINABLE


def test_ledger_figures_are_the_art8_shares_and_unknown_ones_stay_unknown() -> None:
    groups = [
        {
            "model": "RA-EV-60",
            "year": 2031,
            "plant": "P1",
            "batteries": 4,
            "elements": {
                "Co": {"basis": "active_materials", "pre_consumer": 0.1, "post_consumer": 0.08, "custody_models": {}},
                "Li": {"basis": "active_materials", "pre_consumer": None, "post_consumer": None, "custody_models": {}},
            },
        }
    ]
    doc = {**DOC, "data": {**DOC["data"], "critical_raw_materials": ["Cobalt", "Lithium"]}}
    battery, _ = passport_subjects(doc, has_qr_code=True, recycled=groups)
    found = {
        f.subject: f
        for f in evaluate(battery, PHASE1, rulesets=rulesets_for("EU"))
        if f.rule == "recycled.minimum.phase1"
    }
    assert found["RA-EV-60:cobalt"].status == Status.PASS
    assert found["RA-EV-60:lithium"].status == Status.NOT_YET_DETERMINABLE
    assert [e.source for e in found["RA-EV-60:cobalt"].evidence] == [
        "ledger Art. 8 recycled content of model RA-EV-60, year 2031, plant P1 (4 batteries)"
    ]


def test_html_report_names_the_evidence_under_each_finding(client: TestClient, built: str) -> None:
    admin = {"X-Api-Key": KEY}
    r = client.get(f"/v1/passports/{built}/compliance", params={"at": "2031-08-18", "format": "html"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.text.startswith("<!DOCTYPE html>") and f"evidence (passport): passport urn:uuid:{built}" in r.text


def test_html_report_names_a_recognition_rule() -> None:
    from batpass.compliance import render_report_html

    rule = "ouranos-cfp-as-cx-pcf (an Ouranos-certified CFP counts as a certified PCF)"
    battery, _ = passport_subjects(DOC, has_qr_code=True, credentials=[_cfp(rule)])
    at = dt.date(2040, 1, 1)
    html = render_report_html(battery, at, evaluate(battery, at, rulesets=rulesets_for("EU")), rulesets_for("EU"))
    assert "recognised by rule ouranos-cfp-as-cx-pcf" in html


def _custody(groups_elements: dict[str, Any]) -> dict[str, Any]:
    groups = [{"model": "RA-EV-60", "year": 2031, "plant": "P1", "batteries": 4, "elements": groups_elements}]
    doc = {**DOC, "data": {**DOC["data"], "critical_raw_materials": ["Cobalt", "Nickel"]}}
    battery, _ = passport_subjects(doc, has_qr_code=True, recycled=groups)
    return {
        f.subject: f for f in evaluate(battery, PHASE1, rulesets=rulesets_for("EU")) if f.rule == "custody.claim.record"
    }


def test_a_custody_fact_the_node_holds_no_evidence_of_is_not_yet_determinable_naming_it() -> None:
    found = _custody(
        {
            "Co": {"basis": "active_materials", "pre_consumer": 0.1, "post_consumer": 0.08,
                   "custody_models": {"segregated": 1.0}},
            "Ni": {"basis": "active_materials", "pre_consumer": 0.05, "post_consumer": 0.06, "custody_models": {}},
        }
    )  # fmt: skip
    # the ledger records the custody model, the year and the plant, never a certification scheme
    co, ni = found["RA-EV-60:cobalt"], found["RA-EV-60:nickel"]
    assert co.status == Status.NOT_YET_DETERMINABLE and co.detail == "not held on this node: scheme"
    assert ni.status == Status.NOT_YET_DETERMINABLE and ni.detail == "not held on this node: model, scheme"
    assert co.values["period"] == "2031" and co.values["site"] == "P1"


def test_a_described_claim_without_its_scheme_still_fails() -> None:
    share = RecycledShare(D("0.1"), D("0.08"), custody_model="segregated", period="2031", site="P1")
    model = BatteryModel("M", Category.EV, capacity_kwh=D(60), recycled={"cobalt": share})
    (found,) = [f for f in evaluate(model, PHASE1, rulesets=rulesets_for("EU")) if f.rule == "custody.claim.record"]
    # the caller of a description vouches for every figure: a field left out is a missing value
    assert found.status == Status.FAIL and found.detail == "missing: scheme"
    bad = dataclasses.replace(share, custody_model="guessing", scheme="ISCC PLUS")
    model = dataclasses.replace(model, recycled={"cobalt": bad})
    (found,) = [f for f in evaluate(model, PHASE1, rulesets=rulesets_for("EU")) if f.rule == "custody.claim.record"]
    assert found.status == Status.FAIL and found.detail == "unknown model"
