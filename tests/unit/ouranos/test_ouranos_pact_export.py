"""The hub's PACT v3 export of a released CFP (``GET /v1/ouranos/operators/{id}/pact/{traceId}``):
stage totals per declared unit, the Annex II split in an extension with distribution and end of
life not provided (null, never zero), ratings only through a configured mapping and a TOTALDQR
release, the release rule, who may call, and bad input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from ouranos_testkit import BASE, Api

from batpass.footprint._ouranos_map import OuranosDqrMapping
from batpass.footprint._pact import read_pact
from batpass.ouranos import OuranosHub
from batpass.ouranos._harness import ADMIN_KEY, build_app
from batpass.ouranos._pact_export import STAGES_EXTENSION

DT = "/api/v1/datatransport"
ADMIN = {"X-Api-Key": ADMIN_KEY}
PERIOD = {"referencePeriodStart": "2025-01-01T00:00:00Z", "referencePeriodEnd": "2025-12-31T23:59:59Z"}


def _part(api: Api, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "amountRequired": None,
        "amountRequiredUnit": "unit",
        "operatorId": api.op.operator_id,
        "partsName": name,
        "plantId": api.op.plant_id,
        "supportPartsName": "cellA",
        "terminatedFlag": False,
        "traceId": None,
        "partsLabelName": None,
        "partsAddInfo1": None,
        "partsAddInfo2": None,
        "partsAddInfo3": None,
        **extra,
    }


def _cfp(trace: str, values: tuple[Any, Any, Any, Any], dqr: dict[str, Any]) -> list[dict[str, Any]]:
    kinds = [
        ("preProduction", "preProcessing"),
        ("mainProduction", "mainProcessing"),
        ("preComponent", "preProcessing"),
        ("mainComponent", "mainProcessing"),
    ]
    return [
        {
            "cfpId": None,
            "traceId": trace,
            "ghgEmission": v,
            "ghgDeclaredUnit": "kgCO2e/unit",
            "cfpType": c,
            "dqrType": d,
            "dqrValue": dqr,
        }
        for (c, d), v in zip(kinds, values, strict=True)
    ]


def _cell(maker: Api) -> tuple[str, str]:
    """A cell (parent) with one child part (2 per cell) whose CFP the maker registered itself."""
    r = maker.put(
        DT,
        {
            "parentPartsModel": _part(maker, "Cell"),
            "childrenPartsModel": [_part(maker, "Tab", amountRequired=2)],
        },
        dataTarget="partsStructure",
    )
    assert r.status_code == 201, r.text
    parent, child = r.json()["parentPartsModel"]["traceId"], r.json()["childrenPartsModel"][0]["traceId"]
    dqr = {"TeR": 2, "GeR": 2, "TiR": 2}
    assert maker.put(DT, _cfp(child, (0.5, 0.25, 0, 0), dqr), dataTarget="cfp").status_code == 201
    assert maker.put(DT, _cfp(parent, (3, 4, 0.5, 0), dqr), dataTarget="cfp").status_code == 201
    return parent, child


def _release(maker: Api, trace: str, to: Api, *groups: str) -> None:
    body = {
        "traceId": trace,
        "releasedToOperatorId": to.op.operator_id,
        "acl": [{"aclItemGroup": g, "releasedFlag": True} for g in groups],
    }
    assert maker.put(DT, body, dataTarget="cfpAcl").status_code == 201


def _path(api: Api, trace: str) -> str:
    return f"/v1/ouranos/operators/{api.op.operator_id}/pact/{trace}"


def test_released_cfp_exports_as_pact_v3_with_stage_extension(apis: list[Api]) -> None:
    maker, buyer, _ = apis
    cell, _ = _cell(maker)
    params = {**PERIOD, "primaryDataShare": "62.5"}
    # not released: not exported (and not said to exist)
    r = maker.client.get(_path(maker, cell), params=params, headers=ADMIN)
    assert r.status_code == 404 and "released" in r.json()["detail"]
    _release(maker, cell, buyer, "TOTALCFP")
    r = maker.client.get(_path(maker, cell), params=params, headers=ADMIN)
    assert r.status_code == 200, r.text
    doc = r.json()
    # totals as the owner sees them: pre = 3 + 0.5 + 2 × 0.5 = 4.5; main = 4 + 0 + 2 × 0.25 = 4.5
    assert doc["specVersion"] == "3.0.0" and doc["pcf"]["declaredUnitOfMeasurement"] == "piece"
    assert Decimal(doc["pcf"]["pcfExcludingBiogenicUptake"]) == Decimal("9")
    assert Decimal(doc["pcf"]["primaryDataShare"]) == Decimal("62.5")
    assert doc["pcf"]["referencePeriodStart"] == "2025-01-01T00:00:00Z"
    assert f"urn:ouranos:traceId:{cell}" in doc["productIds"]
    assert "dqi" not in doc["pcf"]  # no DQR released, no mapping configured
    [ext] = doc["extensions"]
    assert ext["dataSchema"] == STAGES_EXTENSION
    stages = ext["data"]["stages"]
    assert Decimal(stages["raw_material_and_preprocessing"]) == Decimal("4.5")
    assert Decimal(stages["main_production"]) == Decimal("4.5")
    assert stages["distribution"] is None and stages["end_of_life"] is None  # not provided, never zero
    assert ext["data"]["notProvided"] == ["distribution", "end_of_life"]
    fp = read_pact(doc, expect=3)
    assert fp.total == Decimal("9") and fp.primary_data_share == Decimal("0.625")


def test_ratings_need_a_mapping_and_a_dqr_release(hub: OuranosHub, apis: list[Api]) -> None:
    maker, buyer, _ = apis
    cell, _ = _cell(maker)
    _release(maker, cell, buyer, "TOTALCFP", "TOTALDQR")
    params = {**PERIOD, "primaryDataShare": "50"}
    assert "dqi" not in maker.client.get(_path(maker, cell), params=params, headers=ADMIN).json()["pcf"]
    hub.pact_dqr_mapping = OuranosDqrMapping(raw_best=Decimal(1), raw_worst=Decimal(3))
    dqi = maker.client.get(_path(maker, cell), params=params, headers=ADMIN).json()["pcf"]["dqi"]
    # raw 2 on a configured 1 (best) .. 3 (worst) scale → 3 on 1–5 (linear, docs/footprint.md)
    assert {k: Decimal(v) for k, v in dqi.items()} == {
        "technologicalDQR": 3,
        "geographicalDQR": 3,
        "temporalDQR": 3,
    }


def test_operator_exports_its_own_only(apis: list[Api]) -> None:
    maker, buyer, other = apis
    cell, _ = _cell(maker)
    _release(maker, cell, buyer, "TOTALCFP")
    params = {**PERIOD, "primaryDataShare": "50"}
    own = maker.client.get(_path(maker, cell), params=params, headers=maker.headers)
    assert own.status_code == 200, own.text
    assert other.client.get(_path(maker, cell), params=params, headers=other.headers).status_code == 403
    assert maker.client.get(_path(maker, cell), params=params).status_code in (401, 403)
    assert maker.client.get(_path(maker, cell), params=params, headers={"X-Api-Key": "nope"}).status_code == 401


def test_bad_input_names_the_field(apis: list[Api]) -> None:
    maker, buyer, _ = apis
    cell, _ = _cell(maker)
    _release(maker, cell, buyer, "TOTALCFP")
    # no primary data share for a 2025 reference period: PACT v3 would refuse it
    r = maker.client.get(_path(maker, cell), params=PERIOD, headers=ADMIN)
    assert r.status_code == 400 and "primaryDataShare" in r.text
    r = maker.client.get(_path(maker, cell), params={**PERIOD, "primaryDataShare": "abc"}, headers=ADMIN)
    assert r.status_code == 400 and "primaryDataShare" in r.text
    r = maker.client.get(_path(maker, cell), params={**PERIOD, "primaryDataShare": "120"}, headers=ADMIN)
    assert r.status_code == 400 and "primaryDataShare" in r.text
    r = maker.client.get(_path(maker, cell), params={"referencePeriodStart": "2024-01-01T00:00:00Z"}, headers=ADMIN)
    assert r.status_code == 400 and "referencePeriodEnd" in r.text
    other_trace = "0190a000-0000-7000-8000-000000000000"
    assert maker.client.get(_path(maker, other_trace), params=PERIOD, headers=ADMIN).status_code == 404
    assert maker.client.get(_path(maker, "not-a-uuid"), headers=ADMIN).status_code == 400


def test_default_period_is_stated_in_the_comment(hub: OuranosHub, apis: list[Api]) -> None:
    maker, buyer, _ = apis
    cell, _ = _cell(maker)
    _release(maker, cell, buyer, "TOTALCFP")
    with TestClient(build_app(hub, base_url=BASE), base_url=BASE) as client:
        r = client.get(_path(maker, cell), params={"primaryDataShare": "10"}, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert "Reference period not carried by Ouranos" in r.json()["comment"]
