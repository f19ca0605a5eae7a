"""Exports: Catena-X battery_pass 6.1.0 (schema), AAS V3.1 (aas-core3.1 + BaSyx compliance tool),
Battery Pass (modules 1.2.0, Performance 1.2.1 or 1.2.0: CarbonFootprint schema; example attribute
names), and round-trips."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from passport_testkit import BACKUP, ITEM, OPERATOR, RESOLVER, make_summary
from passport_validation import (
    BATTERYPASS_PAYLOADS,
    aas_errors,
    attribute_paths,
    batterypass_errors,
    batterypass_payload,
    catenax_errors,
)

from batpass.core.errors import InvalidInput
from batpass.core.ids import BatteryId
from batpass.ledger import decode_summary
from batpass.passport import Passport, Status, Tier
from batpass.passport._export_aas import to_aas_json
from batpass.passport._export_batterypass import MAPPING as BP_MAPPING
from batpass.passport._export_batterypass import MODULES, to_batterypass
from batpass.passport._export_catenax import MAPPING as CX_MAPPING
from batpass.passport._export_catenax import PLACEHOLDERS, to_catenax, validate_catenax
from batpass.passport._importers import read_import
from batpass.passport.model import parse_values, value_to_json
from batpass.passport.service import StaticProductData, summary_values


def _passport(static: StaticProductData, *, dynamic: bool = True, **kw: Any) -> Passport:
    b = BatteryId("04012345000009", "SN-EXP")
    values = {**static.values, **parse_values(ITEM), **summary_values(decode_summary(make_summary(b)), None)}
    if dynamic:
        values.update(
            parse_values(
                {
                    "state_of_health": {"value": 96.5, "unit": "%"},
                    "full_cycles": 140,
                    "negative_events": [{"date": "2027-03-01", "event": "deep discharge"}],
                },
                allow_dynamic=True,
            )
        )
        values["dynamic_updated_at"] = dt.date(2027, 3, 2)
    base: dict[str, Any] = dict(
        passport_id=uuid.uuid4(),
        battery_id=b,
        resolver_base=RESOLVER,
        category=static.category,
        model_id=static.model_id,
        status=Status.ORIGINAL,
        operator=OPERATOR,
        backup_node=BACKUP,
        values=values,
        version=3,
    )
    base.update(kw)
    return Passport(**base)


def _read(fmt: str, doc: Any) -> dict[str, Any]:
    """The data points the importer reads back from ``doc`` (static, item and dynamic)."""
    raw = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
    imported = read_import(fmt, [("document.json", raw)])
    return {**imported.values, **imported.dynamic}


def _same(a: Any, b: Any) -> bool:
    return json.dumps(value_to_json(a), sort_keys=True) == json.dumps(value_to_json(b), sort_keys=True)


@pytest.mark.parametrize("predecessors", [(), (uuid.uuid4(), uuid.uuid4())])
def test_catenax_valid_against_bundled_and_shared_schema(
    static: StaticProductData, predecessors: tuple[uuid.UUID, ...]
) -> None:
    p = _passport(static, predecessors=predecessors)
    doc = to_catenax(p, issued=dt.date(2027, 3, 1))
    assert catenax_errors(doc) == []
    assert doc["metadata"]["passportIdentifier"] == str(p.passport_id)
    assert doc["performance"]["dynamic"]["energy"]["soce"]["value"] == 96.5
    assert doc["sustainability"]["carbonFootprint"][0]["value"] == 71.5
    assert doc["materials"]["active"]["cobalt"]["recycled"] == pytest.approx(17.0)


def test_catenax_round_trip_for_mapped_fields(static: StaticProductData) -> None:
    p = _passport(static)
    doc = to_catenax(p, issued=dt.date(2027, 3, 1))
    back = _read("catenax", doc)
    held = {e.key for e in CX_MAPPING}
    src = p.field_values()
    checked = [k for k in held if k in src]
    assert len(checked) > 30
    for k in checked:
        assert _same(src[k], back.get(k)), k
    imported = read_import("catenax", [("p.json", json.dumps(doc).encode())])
    assert imported.source_id == p.urn and imported.status is Status.ORIGINAL


def test_catenax_public_cut_keeps_restricted_out(static: StaticProductData) -> None:
    doc = to_catenax(_passport(static), issued=dt.date(2027, 3, 1), tiers={Tier.PUBLIC})
    text = json.dumps(doc)
    assert "UN 38.3" not in text and "EVP75-MOD-01" not in text and "deep discharge" not in text


def test_catenax_placeholders_are_listed() -> None:
    paths = {p for p, _ in PLACEHOLDERS}
    assert {"metadata.predecessor", "metadata.backupReference", "metadata.expirationDate"} <= paths
    assert all(rule for _, rule in PLACEHOLDERS)


def test_catenax_validation_names_path() -> None:
    with pytest.raises(InvalidInput) as ei:
        validate_catenax({"identification": {}})
    assert ei.value.rule and "6.1.0" in ei.value.rule


def test_aas_verifies_and_passes_compliance_tool(static: StaticProductData, tmp_path: Path) -> None:
    p = _passport(static, predecessors=(uuid.uuid4(),))
    text = to_aas_json(p)
    path = tmp_path / "passport.json"
    path.write_text(text)
    assert aas_errors(path) == []
    back = _read("aas", text)
    for k, v in p.values.items():
        if k not in ("dynamic_updated_at", "credentials"):
            assert _same(v, back.get(k)), k


def test_aas_tier_cut(static: StaticProductData) -> None:
    text = to_aas_json(_passport(static), tiers={Tier.PUBLIC})
    assert "testReports" not in text and "stateOfHealth" not in text and "ratedCapacity" in text


def test_batterypass_modules_use_example_attribute_names(static: StaticProductData) -> None:
    p = _passport(
        static,
        values={
            **_passport(static).values,
            **parse_values({"due_diligence_report": "https://nordcell.example/dd.pdf"}),
        },
    )
    docs = to_batterypass(p)
    assert set(docs) == set(MODULES)
    assert batterypass_errors(docs) == []
    for module in BATTERYPASS_PAYLOADS:
        assert attribute_paths(docs[module]) <= attribute_paths(batterypass_payload(module)), module
    older = to_batterypass(p, version="1.2.0")
    assert batterypass_errors(older, version="1.2.0") == []


def test_batterypass_1_2_1_layout_and_absolute_footprint(static: StaticProductData) -> None:
    """Performance 1.2.1: energy throughput {energyThroughputValue, lastUpdate}, round-trip efficiency
    at 50 % cycle life under batteryTechicalProperties; 1.2.0 keeps the old places. The absolute
    carbon footprint (kg CO2e, DIN DKE SPEC 99100 6.3.10) is exported when held."""
    p = _passport(
        static,
        values={
            **_passport(static).values,
            **parse_values(
                {
                    "round_trip_efficiency_50": {"value": 91.0, "unit": "%"},
                    "carbon_footprint_absolute": {"value": 5362.5, "unit": "kgCO2e"},
                }
            ),
            **parse_values({"energy_throughput": {"value": 9100.0, "unit": "kWh"}}, allow_dynamic=True),
        },
    )
    new = to_batterypass(p)["Performance"]
    assert new["batteryCondition"]["energyThroughput"] == {
        "energyThroughputValue": 9100.0,
        "lastUpdate": "2027-03-02T00:00:00Z",
    }
    assert new["batteryTechicalProperties"]["roundTripEfficiencyat50PerCentCycleLife"] == 91.0
    old = to_batterypass(p, version="1.2.0")["Performance"]
    assert old["batteryCondition"]["energyThroughput"] == 9100.0
    assert old["batteryCondition"]["roundTripEfficiencyat50PerCentCycleLife"] == 91.0
    cf = to_batterypass(p)["CarbonFootprint"]
    assert cf["absoluteCarbonFootprint"] == 5362.5 and batterypass_errors({"CarbonFootprint": cf}) == []
    with pytest.raises(InvalidInput) as ei:
        to_batterypass(p, version="1.1.0")
    assert ei.value.field == "version"


def test_batterypass_carbon_footprint_valid_against_schema(static: StaticProductData) -> None:
    cf = to_batterypass(_passport(static))["CarbonFootprint"]
    assert batterypass_errors({"CarbonFootprint": cf}) == []
    assert {s["lifecycleStage"] for s in cf["carbonFootprintPerLifecycleStage"]} == {
        "RawMaterialExtraction",
        "MainProduction",
        "Distribution",
    }


def test_batterypass_round_trip(static: StaticProductData) -> None:
    p = _passport(static)
    back = _read("batterypass", to_batterypass(p))
    src = p.field_values()
    keys = [k for _, _, k, _ in BP_MAPPING if k in src] + ["recycled_content", "carbon_footprint_stages"]
    assert len(keys) > 25
    # the Battery Pass model carries the shares, not their basis (the passport's own JSON does)
    src["recycled_content"] = {el: {"pre": v["pre"], "post": v["post"]} for el, v in src["recycled_content"].items()}
    for k in keys:
        assert _same(src[k], back.get(k)), k


def test_validation_helpers_report_problems(static: StaticProductData, tmp_path: Path) -> None:
    """The shared checks fail on broken documents (so a demo test using them can fail)."""
    doc = to_catenax(_passport(static), issued=dt.date(2027, 3, 1))
    del doc["metadata"]
    assert any(e.startswith("(root)") and "metadata" in e for e in catenax_errors(doc))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"assetAdministrationShells": [{"id": "", "assetInformation": {}}]}))
    assert aas_errors(bad)
    docs = to_batterypass(_passport(static))
    docs["Performance"]["notAnAttribute"] = 1
    docs["CarbonFootprint"].pop("carbonFootprintPerLifecycleStage")
    problems = batterypass_errors(docs)
    assert "Performance.notAnAttribute: not an attribute of the published example payload" in problems
    assert any(p.startswith("CarbonFootprint") for p in problems)
    assert batterypass_errors({"Unknown": {}}) == ["Unknown: not a Battery Pass module"]


def test_catenax_inlined_validator_agrees_with_the_schema(static: StaticProductData) -> None:
    """The export's fast validator (``$ref``s inlined) finds exactly what the bundled schema finds."""
    import jsonschema

    from batpass.passport._export_catenax import _schema, _validator

    reference = jsonschema.Draft4Validator(_schema())
    good = to_catenax(_passport(static), issued=dt.date(2027, 3, 1))
    broken: list[dict[str, Any]] = [json.loads(json.dumps(good)) for _ in range(4)]
    del broken[0]["metadata"]["passportIdentifier"]
    broken[1]["performance"]["rated"]["capacity"]["value"] = "many"
    broken[2]["materials"]["active"]["cobalt"]["recycled"] = -5
    broken[3]["identification"]["identification"]["dataCarrier"] = []

    def found(v: Any, doc: Any) -> list[tuple[str, str]]:
        return sorted((".".join(map(str, e.absolute_path)), e.message) for e in v.iter_errors(doc))

    assert found(_validator(), good) == found(reference, good) == []
    for doc in broken:
        errors = found(_validator(), doc)
        assert errors and errors == found(reference, doc)


def test_aas_json_is_basyxs_serialisation_of_the_environment_byte_for_byte(static: StaticProductData) -> None:
    """The JSON export places each data point's element as kept by its value (a fleet shares
    most of them) into the shell and submodel basyx encodes: the text is exactly basyx's
    encoding of the whole environment, for every tier cut, with or without dynamic data, and
    after the kept elements were made from other values of the same data points."""
    from basyx.aas.adapter import json as aas_json

    from batpass.passport._export_aas import to_aas

    cuts: list[frozenset[Tier]] = [frozenset(Tier), frozenset({Tier.PUBLIC}), frozenset({Tier.DYNAMIC}), frozenset()]
    for p in (
        _passport(static),
        _passport(static, dynamic=False),
        _passport(static, battery_id=BatteryId("04012345000009", "SN-OTHER"), passport_id=uuid.uuid4()),
    ):
        for tiers in cuts:
            assert to_aas_json(p, tiers=tiers) == aas_json.object_store_to_json(to_aas(p, tiers=tiers)), tiers
    one = _passport(static)
    soh = dict(one.values)
    soh["state_of_health"] = parse_values({"state_of_health": {"value": 71.0, "unit": "%"}}, allow_dynamic=True)[
        "state_of_health"
    ]
    changed = dataclasses.replace(one, values=soh)
    text = to_aas_json(changed)
    assert text == aas_json.object_store_to_json(to_aas(changed)) and text != to_aas_json(one)


def test_catenax_validation_part_by_part_judges_as_the_schema(static: StaticProductData) -> None:
    """A valid export is recognised part by part, each part remembered by its value: every export
    the whole schema refuses is refused with the same first error, after its valid twin filled the
    remembered parts (a tuple where the twin had a list, a number as text, a missing key)."""
    import jsonschema

    from batpass.passport._export_catenax import _schema, _valid_part, _validator

    reference = jsonschema.Draft4Validator(_schema())
    flat = _validator().schema
    good = to_catenax(_passport(static), issued=dt.date(2027, 3, 1))
    other = to_catenax(_passport(static, dynamic=False), issued=dt.date(2027, 3, 2))
    assert _valid_part(good, flat, 0) and _valid_part(other, flat, 0)  # parts now remembered
    assert _valid_part(json.loads(json.dumps(good)), flat, 0)
    broken: list[dict[str, Any]] = [json.loads(json.dumps(good)) for _ in range(5)]
    del broken[0]["metadata"]["passportIdentifier"]
    broken[1]["performance"]["rated"]["capacity"]["value"] = "many"
    broken[2]["materials"]["active"]["cobalt"]["recycled"] = -5
    broken[3]["identification"]["identification"]["dataCarrier"] = []
    broken[4]["sources"] = tuple(broken[4]["sources"])  # not an array to the schema
    for doc in broken:
        assert not reference.is_valid(doc)
        assert not _valid_part(doc, flat, 0)
        first = sorted(reference.iter_errors(doc), key=lambda e: list(e.absolute_path))[0]
        with pytest.raises(InvalidInput) as got:
            validate_catenax(doc)
        assert got.value.field == (".".join(str(p) for p in first.absolute_path) or "(root)")
