"""The demo's ``footprint`` and ``compliance`` steps, through ``summary.json`` and the artefacts:
the pack footprint per kWh with the Annex II stages Ouranos does not carry marked null and
listed, and the compliance findings and reports at 2027-02-18, 2031-08-18 and 2036-08-18
(README "What the demo shows")."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from demo_runner import DemoRun

pytestmark = pytest.mark.integration

STEPS = "ledger,ouranos,footprint,passport,compliance"
DATES = ["2027-02-18", "2031-08-18", "2036-08-18"]
STAGES = {"raw_material_and_preprocessing", "main_production", "distribution", "end_of_life"}


@pytest.fixture(scope="module")
def demo(demo_run: DemoRun) -> tuple[Path, dict[str, Any]]:
    """The session's full demo run (tests/integration/conftest.py)."""
    return demo_run.out, demo_run.summary


def test_pack_footprint_per_kwh_with_stages_not_provided(demo: tuple[Path, dict[str, Any]]) -> None:
    _, summary = demo
    fp = summary["story"]["footprint"]
    assert set(fp) == {"battery", "kg_co2e_per_kwh", "stages", "not_provided", "basis", "lifetime_kwh", "model"}
    # the figure states what it is per: kWh of lifetime energy (Annex II), never kWh of capacity
    assert fp["basis"] == "per_kwh_lifetime_energy" and fp["lifetime_kwh"] > 0
    assert fp["battery"] in {b["id"] for b in summary["batteries"]}
    assert set(fp["stages"]) == STAGES
    # Ouranos carries neither distribution nor end of life: null and listed, never zero
    assert fp["stages"]["distribution"] is None and fp["stages"]["end_of_life"] is None
    assert sorted(fp["not_provided"]) == ["distribution", "end_of_life"]
    raw, main = fp["stages"]["raw_material_and_preprocessing"], fp["stages"]["main_production"]
    assert raw > 0 and main > 0
    assert fp["kg_co2e_per_kwh"] == pytest.approx(raw + main, rel=1e-9)
    # kg CO2e per kWh of lifetime energy: far below the per-kWh-of-capacity figure, above zero
    assert 0.001 < fp["kg_co2e_per_kwh"] < 1.0
    assert summary["story"]["timings_s"]["footprint"] > 0


def test_findings_at_the_three_dates(demo: tuple[Path, dict[str, Any]]) -> None:
    _, summary = demo
    findings = summary["story"]["findings"]
    assert findings and all(set(f) == {"rule", "status", "at", "values"} for f in findings)
    assert sorted({f["at"] for f in findings}) == DATES
    allowed = {"pass", "fail", "not yet required", "not yet determinable"}
    assert {f["status"] for f in findings} <= allowed

    def status(rule: str, at: str) -> set[str]:
        return {f["status"] for f in findings if f["rule"] == rule and f["at"] == at}

    # the passport exists from the launch date on; the minimums bind from their own dates
    assert status("passport.scope.ev", "2027-02-18") == {"pass"}
    assert status("recycled.minimum.phase1", "2027-02-18") == {"not yet required"}
    assert status("recycled.minimum.phase1", "2031-08-18") <= {"pass", "fail"}
    assert status("recycled.minimum.phase2", "2031-08-18") == {"not yet required"}
    assert status("recycled.minimum.phase2", "2036-08-18") <= {"pass", "fail"}
    # no footprint class or threshold act is adopted: never judged
    assert status("footprint.performance_class", "2036-08-18") == {"not yet determinable"}
    annex = [f for f in findings if f["rule"] == "footprint.annex_ii.stages" and f["at"] == "2031-08-18"]
    assert annex and annex[0]["values"]["not_provided"] == ["distribution", "end_of_life"]


def test_reports_exist_and_html_loads_nothing_from_outside(demo: tuple[Path, dict[str, Any]]) -> None:
    out, summary = demo
    reports = summary["artefacts"]["compliance"]
    assert [r["at"] for r in reports] == DATES
    for r in reports:
        data = json.loads((out / r["json"]).read_text())
        assert data["at"] == r["at"] and data["findings"]
        html = (out / r["html"]).read_text()
        assert html.startswith("<!DOCTYPE html>") and "new Chart(" in html
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
        assert not re.search(r"""url\(\s*["']?(https?:)?//""", html, re.I)
        assert "<link" not in html and "@import" not in html


def test_the_pack_footprint_travels_in_the_battery_summary(demo: tuple[Path, dict[str, Any]]) -> None:
    """The car maker's signed upstream summary of a battery carries its declared pack footprint."""
    import base64
    import ssl
    from urllib.parse import quote

    import httpx

    out, summary = demo
    car = next(n for n in summary["nodes"] if n["name"] == "eu-carmaker")
    battery = summary["story"]["footprint"]["battery"]
    ctx = ssl.create_default_context(cafile=str(out / summary["ca_cert"]))
    r = httpx.get(
        car["base_url"] + "/v1/ledger/summaries/" + quote(battery, safe=""),
        headers={"X-Api-Key": car["admin_key"]},
        verify=ctx,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    payload = r.text.split(".")[1]
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    fp = body["footprint"]
    assert fp is not None and fp["specVersion"].startswith("3.")
    assert any(pid.startswith("urn:gtin:") for pid in fp["productIds"])


def test_compliance_per_market_and_date_with_evidence_and_recognition(demo: tuple[Path, dict[str, Any]]) -> None:
    """``story.compliance`` (README "summary.json additions"): EU by the car maker, JP by the hub reading the passport
    with its own credential; each side counts a certificate of the other ecosystem through its
    own recognition rule, and every finding names its evidence."""
    out, summary = demo
    compliance = summary["story"]["compliance"]
    keys = {"pass", "fail", "not_yet_required", "not_yet_determinable", "evidence_recognised"}
    assert set(compliance) == {"EU", "JP"}
    for market in ("EU", "JP"):
        assert sorted(compliance[market]) == DATES
        assert all(set(c) == keys and all(isinstance(v, int) for v in c.values()) for c in compliance[market].values())
        assert all(c["evidence_recognised"] > 0 for c in compliance[market].values())
    assert compliance["EU"]["2027-02-18"]["not_yet_required"] > compliance["EU"]["2036-08-18"]["not_yet_required"]

    def recognitions(path: str) -> set[str]:
        report = json.loads((out / path).read_text())
        judged = [f for f in report["findings"] if f["status"] in ("pass", "fail")]
        assert judged and all(f["evidence"] for f in judged), "a pass or fail names no evidence"
        return {
            str(e["recognition"]).split(" ")[0]
            for f in report["findings"]
            for e in f["evidence"]
            if e.get("recognition")
        }

    eu = recognitions("compliance/2031-08-18/report.json")
    assert "ouranos-cfp-as-cx-pcf" in eu
    jp = recognitions("compliance/jp/2031-08-18/report.json")
    assert "cx-pcf-as-ouranos-cfp" in jp
    jp_report = json.loads((out / "compliance/jp/2031-08-18/report.json").read_text())
    assert jp_report["rulesets"][0] == "jp@2026.1"
    # the hub read the legitimate-interest tier with its own credential (the passport's credentials)
    passport = next(e for e in jp_report["evidence"] if e["purpose"] == "passport")
    assert "legitimate_interest" in passport["source"]
    # findings cite instruments and articles, never files
    assert not any(re.search(r"\.(py|ya?ml)\b", f["reference"]) for f in jp_report["findings"])
    # each side applied its own market's recognition rules, and says which
    eu_report = json.loads((out / "compliance/2031-08-18/report.json").read_text())
    assert eu_report["recognition"]["ecosystem"] == "catena-x" and jp_report["recognition"]["ecosystem"] == "ouranos"
    # the ledger records no certification scheme: the custody record is not yet determinable, not a fail
    custody = [f for f in eu_report["findings"] if f["rule"] == "custody.claim.record"]
    assert custody and all(f["status"] == "not yet determinable" for f in custody), custody
    assert all("scheme" in f["detail"] and f["detail"].startswith("not held on this node") for f in custody)
