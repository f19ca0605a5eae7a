"""The demo's ``trust`` step (with the ``ledger`` and ``ouranos`` steps it builds on), run as a
newcomer runs it and checked through ``summary.json`` and the step's artefacts: signed trust
lists from each ecosystem's operator, the JP certifier's certified CFP recognised by the car
maker, certified claims verified, and a revoked claim rejected with its reason."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from demo_runner import DemoRun

pytestmark = pytest.mark.integration


def _segment(token: str, i: int) -> dict[str, Any]:
    part = token.split("~", 1)[0].split(".")[i]
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return value


@pytest.fixture(scope="module")
def demo(demo_run: DemoRun) -> tuple[Path, dict[str, Any]]:
    """The session's full demo run (tests/integration/conftest.py)."""
    return demo_run.out, demo_run.summary


def test_trust_lists_are_signed_by_each_ecosystem_operator(demo: tuple[Path, dict[str, Any]]) -> None:
    out, summary = demo
    did = {n["name"]: n["did"] for n in summary["nodes"]}
    for eco, operator in (("catena-x", "eu-certifier"), ("ouranos", "jp-certifier")):
        jws = (out / f"trust/{eco}.trust-list.jws").read_text().strip()
        header, body = _segment(jws, 0), _segment(jws, 1)
        assert header["typ"] == "application/vnd.batpass.trust-list+jws" and header["alg"] == "Ed25519"
        assert header["kid"].startswith(did[operator] + "#")
        assert body["ecosystem"] == eco and body["operator"] == did[operator]
        assert body["issuers"][0]["did"] == did[operator]
    cx = _segment((out / "trust/catena-x.trust-list.jws").read_text().strip(), 1)
    # the one other Catena-X issuer: the authority, trusted for export authorisations only
    assert [(i["did"], i["credentialTypes"]) for i in cx["issuers"][1:]] == [
        (did["eu-authority"], ["ExportAuthorisationCredential"])
    ]
    assert "RecycledContentAttestationCredential" in cx["issuers"][0]["credentialTypes"]
    policy = json.loads((out / "trust/eu-carmaker.recognition-policy.json").read_text())
    assert policy["rules"][0]["fromEcosystem"] == "ouranos" and policy["rules"][0]["where"] == {
        "framework": "ouranos-cfp"
    }


def test_certified_cfp_is_recognised_by_the_car_maker(demo: tuple[Path, dict[str, Any]]) -> None:
    out, summary = demo
    hub = next(n for n in summary["nodes"] if n["name"] == "jp-hub")
    jp = next(n for n in summary["nodes"] if n["name"] == "jp-certifier")
    v = json.loads((out / "trust/cfp-verification.eu-carmaker.json").read_text())
    assert v["verified"] is True and v["format"] == "vc+jwt"
    assert v["issuer"] == jp["did"] and v["acceptedAs"] == ["CertifiedCarbonFootprintCredential"]
    assert [c["check"] for c in v["checks"]] == ["signature", "issuer-trust", "recognition", "status", "expiry"]
    assert all(c["ok"] for c in v["checks"]) and "ouranos-cfp-as-cx-pcf" in v["checks"][2]["detail"]
    # the subject is the cell maker operator hosted on the hub, the footprint is its cell's CFP
    cell_maker = next(o for o in hub["ouranos"]["operators"] if o["openOperatorId"] == "3120001067890")
    assert v["subject"]["id"] == cell_maker["did"] and v["subject"]["framework"] == "ouranos-cfp"
    fp = v["subject"]["footprint"]
    assert set(fp["cfp"]) == {"preProduction", "mainProduction", "preComponent", "mainComponent"}
    assert fp["total"] == pytest.approx(sum(float(x) for x in fp["cfp"].values()), abs=1e-4) and fp["total"] > 0


def test_claims_verified_and_a_revoked_claim_rejected(demo: tuple[Path, dict[str, Any]]) -> None:
    out, summary = demo
    story = summary["story"]
    assert summary["complete"] is True and "trust" in story["timings_s"]
    # the recognised CFP plus at least a recycled-content and an origin claim
    assert isinstance(story["claims_verified"], int) and story["claims_verified"] >= 3
    recycler = next(n for n in summary["nodes"] if n["name"] == "eu-recycler")
    eu_cert = next(n for n in summary["nodes"] if n["name"] == "eu-certifier")
    r = json.loads((out / "trust/revoked-verification.eu-recycler.json").read_text())
    assert r["verified"] is False and r["reason"] == "revoked"
    names = [c["check"] for c in r["checks"]]
    assert names == ["signature", "key-binding", "issuer-trust", "status"]
    assert r["checks"][-1]["ok"] is False and eu_cert["base_url"] in r["checks"][-1]["detail"]
    assert recycler["did"] in r["checks"][1]["detail"]
    # the summary the certifier computed from is the holder's signed upstream summary
    jws = (out / "trust/upstream-summary.jws").read_text().strip()
    assert _segment(jws, 0)["typ"] == "application/vnd.batpass.upstream-summary+jws"
    car = next(n for n in summary["nodes"] if n["name"] == "eu-carmaker")
    assert _segment(jws, 1)["issuer"] == car["did"]


def test_the_cell_makers_certified_claims_cross_the_bridge_and_count_in_catenax(
    demo: tuple[Path, dict[str, Any]],
) -> None:
    """JP certifier's claims on the cell maker's own summary travel in that summary through the
    bridge (the cell maker released ``certificates`` to the car maker), without their supply
    evidence, and the car maker's recognition policy accepts them."""
    out, _summary = demo
    jp = json.loads((out / "trust" / "jp-claims.json").read_text())
    issued = [a for a in jp["asked"] if a["issued"]]
    assert issued and len(jp["arrived"]) == len(issued)
    assert all(a["verified"] for a in jp["arrived"])
    assert {a["type"] for a in jp["arrived"]} <= {"OriginAttestationCredential", "RecycledContentAttestationCredential"}
    # the high-risk cobalt site makes one origin claim fail at the certifier, not later
    assert any(not a["issued"] and a["element"] == "Co" for a in jp["asked"])
