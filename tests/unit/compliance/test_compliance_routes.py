"""``/v1/compliance``: findings for a described battery at a date, the JSON and HTML reports,
the admin key, and bad input answered as problem details naming the field."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any, cast

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from batpass.compliance.routes import router
from batpass.http import NodeContext, install_error_handlers, require_json

KEY = "compliance-admin-key"
ADMIN = {"X-Api-Key": KEY}
MODEL: dict[str, Any] = {
    "model_id": "RA-EV-60",
    "category": "ev",
    "capacity_kwh": "60",
    "footprint": {
        "kg_co2e_per_kwh": "1.25",
        "stages": {
            "raw_material_and_preprocessing": "0.8",
            "main_production": "0.45",
            "distribution": None,
            "end_of_life": None,
        },
        "source_format": "pact-v3",
    },
    "recycled": {
        "cobalt": {"pre_consumer": "0.10", "post_consumer": "0.08"},
        "lithium": {"pre_consumer": "0.04", "post_consumer": "0.03"},
        "nickel": {"pre_consumer": "0.05", "post_consumer": "0.02"},
    },
    "metals_present": ["cobalt", "lithium", "nickel"],
}
BATTERY: dict[str, Any] = {
    "battery_id": "https://resolver.test/01/04012345000016/21/RA0000001",
    "model": MODEL,
    "has_passport": True,
    "has_qr_code": True,
    "status": "original",
}


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = FastAPI(dependencies=[Depends(require_json)])  # as the node's app: JSON bodies checked first
    app.include_router(router)
    app.state.ctx = NodeContext(
        name="n",
        did="did:web:n.test",
        base_url="https://n.test",
        resolver_base="https://n.test",
        profiles=("catena-x",),
        engine=cast(Any, None),
        admin_key_sha256=hashlib.sha256(KEY.encode()).hexdigest(),
        production=False,
        client=cast(Any, None),
        sync_client=cast(Any, None),
        identity=None,
        settings=None,
    )
    install_error_handlers(app, {})
    with TestClient(app) as c:
        yield c


def _status(findings: list[dict[str, Any]], rule: str) -> dict[str, str]:
    return {f["subject"]: f["status"] for f in findings if f["rule"] == rule}


def test_findings_change_with_the_date(client: TestClient) -> None:
    before = client.post("/v1/compliance/evaluate", json={"subject": BATTERY, "at": "2027-02-17"}, headers=ADMIN)
    at = client.post("/v1/compliance/evaluate", json={"subject": BATTERY, "at": "2027-02-18"}, headers=ADMIN)
    assert before.status_code == 200 and at.status_code == 200, at.text
    assert set(_status(before.json()["findings"], "passport.scope.ev").values()) == {"not yet required"}
    assert set(_status(at.json()["findings"], "passport.scope.ev").values()) == {"pass"}
    p1 = client.post("/v1/compliance/evaluate", json={"subject": BATTERY, "at": "2031-08-18"}, headers=ADMIN).json()
    phase1 = _status(p1["findings"], "recycled.minimum.phase1")
    # cobalt 18 % ≥ 16 %, lithium 7 % ≥ 6 %, nickel 7 % ≥ 6 % (Art. 8(2))
    assert set(phase1.values()) == {"pass"} and len(phase1) == 3
    p2 = client.post("/v1/compliance/evaluate", json={"subject": BATTERY, "at": "2036-08-18"}, headers=ADMIN).json()
    phase2 = {k.split(":")[-1]: v for k, v in _status(p2["findings"], "recycled.minimum.phase2").items()}
    # cobalt 18 % < 26 %, lithium 7 % < 12 %, nickel 7 % < 15 % (Art. 8(3))
    assert phase2 == {"cobalt": "fail", "lithium": "fail", "nickel": "fail"}
    assert p2["at"] == "2036-08-18" and p2["footprint"]["stages"]["distribution"] is None
    annex = next(f for f in p2["findings"] if f["rule"] == "footprint.annex_ii.stages")
    assert annex["status"] == "fail" and annex["values"]["not_provided"] == ["distribution", "end_of_life"]


def test_reports_render_json_and_self_contained_html(client: TestClient) -> None:
    body = {"subject": MODEL, "at": "2031-08-18"}
    html = client.post("/v1/compliance/report", params={"format": "html"}, json=body, headers=ADMIN)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "new Chart(" in html.text and "RA-EV-60" in html.text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html.text, re.I)
    negotiated = client.post("/v1/compliance/report", json=body, headers={**ADMIN, "Accept": "text/html"})
    assert negotiated.headers["content-type"].startswith("text/html")
    js = client.post("/v1/compliance/report", json=body, headers=ADMIN)
    assert js.status_code == 200 and js.json()["subject"] == "RA-EV-60"


def test_admin_key_required(client: TestClient) -> None:
    r = client.post("/v1/compliance/evaluate", json={"subject": MODEL})
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": {**MODEL, "category": "spaceship"}}, "$.category"),
        ({"subject": {**MODEL, "capacity_kwh": "lots"}}, "$.capacity_kwh"),
        ({"subject": {**MODEL, "colour": "red"}}, "$.colour"),
        ({"subject": {"category": "ev"}}, "$.model_id"),
        ({"subject": MODEL, "at": "18.08.2031"}, "at"),
        ({"at": "2031-08-18"}, "subject"),
        ({"subject": {**BATTERY, "model": {**MODEL, "recycled": {"cobalt": {"pre_consumer": "x"}}}}}, "$.model"),
    ],
)
def test_bad_input_names_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    r = client.post("/v1/compliance/evaluate", json=body, headers=ADMIN)
    assert r.status_code == 400, r.text
    problem = r.json()
    assert field in str(problem), problem


def test_unknown_format_refused(client: TestClient) -> None:
    r = client.post("/v1/compliance/report", params={"format": "pdf"}, json={"subject": MODEL}, headers=ADMIN)
    assert r.status_code == 400 and "format" in r.text


def test_market_jp_evaluates_the_japanese_ruleset(client: TestClient) -> None:
    jp_model = {**MODEL, "footprint": {**MODEL["footprint"], "source_format": "ouranos-cfp", "method_version": "1.0"}}
    body = {"subject": jp_model, "at": "2026-12-06", "market": "JP"}
    r = client.post("/v1/compliance/evaluate", json=body, headers=ADMIN)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["rulesets"] == ["jp@2026.1", "footprint-exchange@1.0"]
    assert report["recycled_minimums"] == {}  # Japan sets no recycled-content minimums
    assert set(_status(report["findings"], "jp.cfp.method").values()) == {"pass"}
    assert set(_status(report["findings"], "jp.recycled.minimum").values()) == {"not set"}
    assert set(_status(report["findings"], "jp.cfp.verification").values()) == {"not yet determinable"}
    assert not any(f["rule"].startswith("recycled.minimum") for f in report["findings"])
    assert report["summary"]["not set"] == 3 and report["summary"]["information"] == 1
    html = client.post("/v1/compliance/report", params={"format": "html"}, json=body, headers=ADMIN)
    assert html.status_code == 200 and "jp.cfp.method" in html.text and "against jp@2026.1" in html.text


def test_without_a_selector_the_eu_market_is_evaluated(client: TestClient) -> None:
    report = client.post("/v1/compliance/evaluate", json={"subject": MODEL, "at": "2031-08-18"}, headers=ADMIN).json()
    assert report["rulesets"] == ["eu-2023-1542@2025.2", "footprint-exchange@1.0"]
    assert not any(f["rule"].startswith("jp.") for f in report["findings"])
    one = {"subject": MODEL, "at": "2031-08-18", "ruleset": "jp"}
    only_jp = client.post("/v1/compliance/evaluate", json=one, headers=ADMIN).json()
    assert {f["rule"].split(".")[0] for f in only_jp["findings"]} == {"jp"}


@pytest.mark.parametrize(
    ("route", "extra", "field", "named"),
    [
        ("/v1/compliance/evaluate", {"market": "US"}, "market", ["EU", "JP"]),
        ("/v1/compliance/report", {"market": "XX"}, "market", ["EU", "JP"]),
        ("/v1/compliance/evaluate", {"ruleset": "kr"}, "ruleset", ["eu-2023-1542", "jp"]),
        ("/v1/compliance/report", {"ruleset": "jp@9"}, "ruleset.version", ["2026.1"]),
    ],
)
def test_unknown_market_or_ruleset_is_a_400_naming_the_known_ones(
    client: TestClient, route: str, extra: dict[str, str], field: str, named: list[str]
) -> None:
    r = client.post(route, params={"format": "json"}, json={"subject": MODEL, **extra}, headers=ADMIN)
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert field in str(r.json())
    for name in named:
        assert name in r.text
