"""Export to Catena-X ``io.catenax.battery.battery_pass:6.1.0`` — one mapping table.

The aspect requires restricted-tier sections (test reports, composition, dismantling), so the
export is the *full view* for entitled partners and authorities; pass ``tiers`` to cut it, and a
field outside them is left out (or given its placeholder where the model forces it).

:data:`MAPPING` lists every batpass data point the aspect can hold (JSON path, batpass key,
codec); the importer (``_import_catenax``) reads the same table back, so model -> export ->
model round-trips for those.
:data:`PLACEHOLDERS` lists what the aspect forces although batpass has no value, with the rule
used. Numbers the model requires but batpass lacks follow :data:`MISSING_NUMBER_RULE` and arrays
:data:`MISSING_ARRAY_RULE`. The document is checked against the bundled schema (draft-04).

Source: eclipse-tractusx/sldt-semantic-models ``io.catenax.battery.battery_pass/6.1.0`` (CC-BY-4.0).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]

from batpass.core.errors import InvalidInput
from batpass.passport.model import (
    ALL_TIERS,
    FIELDS_BY_KEY,
    Category,
    Passport,
    Quantity,
    Tier,
    readable_keys,
    value_to_json,
)

__all__ = [
    "ASPECT_URN",
    "DOCUMENT_SLOTS",
    "MAPPING",
    "MISSING_ARRAY_RULE",
    "MISSING_NUMBER_RULE",
    "PLACEHOLDERS",
    "SOURCE_KEYS",
    "STAGE_NAMES",
    "to_catenax",
    "validate_catenax",
]

ASPECT_URN = "urn:samm:io.catenax.battery.battery_pass:6.1.0#BatteryPass"
_SCHEMA_FILE = Path(__file__).parent / "_data" / "catenax-battery_pass-6.1.0.schema.json"
_schema_cache: dict[str, Any] = {}

MISSING_NUMBER_RULE = (
    "a number the aspect requires and batpass does not hold is written as -1 and read back as absent;"
    " where the aspect forbids negatives (PositiveTrait, PercentageTrait) it is written as 0, which the"
    " importer cannot tell from a true 0 (it reads 0)"
)
MISSING_ARRAY_RULE = "an array the aspect requires and batpass does not hold is written empty ([])"
NIL_UUID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of the mapping table: JSON path (dots; ``[]`` = the list itself), key, codec."""

    path: str
    key: str
    codec: str  # number | integer | text | date | doc | recdocs | dyn | dyn_int | texts_media
    note: str = ""


MAPPING: tuple[Entry, ...] = (
    Entry("identification.chemistry", "chemistry", "text"),
    Entry("identification.identification.type.nameAtManufacturer", "model_name", "text"),
    Entry("operation.manufacturer.manufacturer", "manufacturer_id", "text", "BPNL"),
    Entry("operation.manufacturer.manufacturingDate", "manufacturing_date", "date"),
    Entry("characteristics.physicalDimension.weight.value", "weight", "number", "unit:kilogram"),
    Entry("characteristics.warranty.lifeValue", "warranty_years", "number", "lifeUnit unit:year"),
    Entry("sustainability.documents.separateCollection", "separate_collection_info", "doc"),
    Entry("sustainability.documents.wastePrevention", "waste_prevention_info", "doc"),
    Entry("materials.hazardous.cadmium.concentration", "cadmium_share", "number", "unit:percent"),
    Entry("materials.hazardous.mercury.concentration", "mercury_share", "number", "unit:percent"),
    Entry("materials.hazardous.lead.concentration", "lead_share", "number", "unit:percent"),
    Entry("performance.rated.voltage.min", "voltage_min", "number", "V"),
    Entry("performance.rated.voltage.max", "voltage_max", "number", "V"),
    Entry("performance.rated.voltage.nominal", "voltage_nominal", "number", "V"),
    Entry("performance.rated.roundTripEfficiency.initial", "round_trip_efficiency_initial", "number", "%"),
    Entry("performance.rated.roundTripEfficiency.50PercentLife", "round_trip_efficiency_50", "number", "%"),
    Entry("performance.rated.energy.value", "rated_energy", "number", "kWh"),
    Entry("performance.rated.resistance.pack", "internal_resistance_initial", "number", "Ohm"),
    Entry("performance.rated.power.value", "original_power", "number", "W"),
    Entry("performance.rated.capacity.value", "rated_capacity", "number", "Ah"),
    Entry("performance.rated.capacity.thresholdExhaustion", "capacity_threshold_exhaustion", "number", "%"),
    Entry("performance.rated.temperature.lower", "temperature_min", "number", "Cel"),
    Entry("performance.rated.temperature.upper", "temperature_max", "number", "Cel"),
    Entry("performance.rated.selfDischargingRate", "self_discharge_initial", "number", "%/month"),
    Entry("performance.rated.lifetime.expectedYears", "expected_lifetime_years", "number", "year"),
    Entry("performance.rated.lifetime.cycleLifeTesting.cycles", "expected_lifetime_cycles", "integer"),
    Entry("performance.rated.lifetime.cycleLifeTesting.appliedChargeRate", "c_rate_cycle_test", "number", "1/h"),
    Entry("performance.rated.testReport", "test_reports", "recdocs", "authorities tier"),
    *(
        Entry(f"performance.rated.{p}.temperature", "rated_test_temperature", "number", "Cel")
        for p in (
            "voltage",
            "roundTripEfficiency",
            "energy",
            "resistance",
            "power",
            "capacity",
            "lifetime.cycleLifeTesting",
        )
    ),
    Entry(
        "performance.rated.lifetime.cycleLifeTesting.depthOfDischarge", "cycle_test_depth_of_discharge", "number", "%"
    ),
    Entry("performance.rated.lifetime.cycleLifeTesting.appliedDischargeRate", "c_rate_cycle_test_discharge", "number"),
    Entry("performance.rated.power.at20SoC", "power_at_20_soc", "number", "W"),
    Entry("performance.rated.power.at80SoC", "power_at_80_soc", "number", "W"),
    Entry("performance.rated.resistance.cell", "internal_resistance_cell", "number", "Ohm"),
    Entry("performance.rated.resistance.module", "internal_resistance_module", "number", "Ohm"),
    Entry("characteristics.physicalDimension.height", "height", "length", "unit:millimetre"),
    Entry("characteristics.physicalDimension.length", "length", "length", "unit:millimetre"),
    Entry("characteristics.physicalDimension.width", "width", "length", "unit:millimetre"),
    Entry("conformity.declarationOfConformityId", "declaration_of_conformity_id", "text"),
    Entry("performance.dynamic.capacity.throughput", "capacity_throughput", "dyn", "Ah"),
    Entry("performance.dynamic.energy.remaining", "remaining_energy", "dyn", "kWh"),
    Entry("performance.dynamic.power.remaining", "remaining_power", "dyn", "W"),
    Entry("performance.dynamic.power.fade", "power_fade", "dyn", "%"),
    Entry("performance.dynamic.roundTripEfficiency.remaining", "remaining_round_trip_efficiency", "dyn", "%"),
    Entry("performance.dynamic.roundTripEfficiency.fade", "round_trip_efficiency_fade", "dyn", "%"),
    Entry("performance.dynamic.resistance.remaining.pack", "internal_resistance_current", "dyn", "Ohm"),
    Entry("performance.dynamic.resistance.increase.pack", "internal_resistance_increase", "dyn", "%"),
    Entry("performance.dynamic.selfDischargingRate", "self_discharge_current", "number", "%/month"),
    Entry("performance.dynamic.stateOfCharge", "state_of_charge", "dyn", "%"),
    Entry("performance.dynamic.fullCycles", "full_cycles", "dyn_int"),
    Entry("performance.dynamic.capacity.fade", "capacity_fade", "dyn", "%"),
    Entry("performance.dynamic.capacity.capacity", "remaining_capacity", "dyn", "Ah"),
    Entry("performance.dynamic.energy.soce", "state_of_health", "dyn", "state of certified energy, %"),
    Entry("performance.dynamic.energy.throughput", "energy_throughput", "dyn", "kWh"),
    Entry("performance.dynamic.negativeEvents", "negative_events", "recdocs"),
    Entry("performance.dynamic.operatingEnvironment", "operating_environment", "recdocs"),
    Entry("conformity.declarationOfConformity", "declaration_of_conformity", "doc"),
    Entry("conformity.resultOfTestReport", "test_reports", "recdocs", "authorities tier (also rated.testReport)"),
    Entry("conformity.dueDiligencePolicy", "due_diligence_report", "doc"),
    Entry("safety.usableExtinguishAgent", "extinguishing_agent", "texts_media"),
    Entry("safety.safetyMeasures", "safety_measures", "doc"),
    Entry("safety.meaningOfLabels", "labels", "recdocs"),
    Entry("safety.dismantling", "dismantling_info", "recdocs"),
    Entry("metadata.economicOperatorId", "economic_operator_id", "text", "BPNL"),
    Entry("commercial.placedOnMarket", "placed_on_market", "date"),
    Entry("sources", "spare_part_sources", "recdocs", "as 'Manufacturer Information' sources"),
)

#: Data points the aspect has no attribute for, written as one ``sources`` entry each: header the
#: data point's label, category :data:`SOURCE_CATEGORY`, type ``application/json``, content
#: ``{"dataPoint": key, "value": value}`` (the importer reads them back).
SOURCE_KEYS: tuple[str, ...] = (
    "manufacturer_name",
    "manufacturer_address",
    "manufacturing_place",
    "instructions_for_use",
    "critical_raw_materials",
    "renewable_content",
    "max_permitted_power",
    "power_capability_ratio",
    "carbon_footprint_absolute",
    "composition_cathode",
    "composition_anode",
    "composition_electrolyte",
    "hazardous_substances",
    "material_origin",
)
SOURCE_CATEGORY = {
    "instructions_for_use": "User Manuals and Guides",
    "manufacturer_name": "Manufacturer Information",
    "manufacturer_address": "Manufacturer Information",
    "manufacturing_place": "Manufacturer Information",
    "carbon_footprint_absolute": "Environmental Impact",
    "renewable_content": "Material and Substance Information",
    "critical_raw_materials": "Material and Substance Information",
    "composition_cathode": "Material and Substance Information",
    "composition_anode": "Material and Substance Information",
    "composition_electrolyte": "Material and Substance Information",
    "hazardous_substances": "Material and Substance Information",
    "material_origin": "Supply Chain Information",
}
#: ``manufacturer_documents`` kinds and the aspect's document list each goes to
DOCUMENT_SLOTS: dict[str, str] = {
    "sustainability_report": "sustainability.documents.sustainabilityReport",
    "eu_taxonomy_disclosure": "sustainability.documents.euTaxonomyDisclosureStatement",
    "third_party_assurance": "conformity.thirdPartyAssurance",
    "performance_document": "performance.rated.performanceDocument",
    "lifetime_report": "performance.rated.lifetime.report",
    "safe_discharging": "safety.safeDischarging",
    "removal_from_appliance": "safety.removalFromAppliance",
    **{f"{el}_impact": f"materials.hazardous.{el}.impactOfSubstances" for el in ("cadmium", "mercury", "lead")},
    **{f"{el}_documentation": f"materials.hazardous.{el}.documentation" for el in ("cadmium", "mercury", "lead")},
}

#: life-cycle stage names read as batpass's stages (the export writes the batpass key; Annex II names)
STAGE_NAMES: dict[str, str] = {
    "raw_material_and_preprocessing": "raw_material_and_preprocessing",
    "raw material acquisition and pre-processing": "raw_material_and_preprocessing",
    "main_production": "main_production",
    "main product production": "main_production",
    "distribution": "distribution",
    "end_of_life": "end_of_life",
    "end of life and recycling": "end_of_life",
}

#: Values the aspect forces where batpass holds none; (path, rule).
PLACEHOLDERS: tuple[tuple[str, str], ...] = (
    ("identification.identification.dataCarrier.carrierType", "always 'QR' (ISO/IEC 18004, Art. 13(6))"),
    (
        "identification.identification.dataCarrier.carrierLayout",
        "fixed text: printed or engraved QR code, error correction H",
    ),
    (
        "identification.identification.classification",
        "one entry: standard 'Regulation (EU) 2023/1542 Art. 3', id = category",
    ),
    ("operation.manufacturer.manufacturer", "manufacturer_id absent: BPNL000000000000 (no BPNL known)"),
    ("operation.manufacturer.facility", "manufacturing_facility absent: BPNA000000000000 (no BPNA known)"),
    ("characteristics.warranty", "warranty_years absent: lifeValue -1, lifeUnit unit:year"),
    (
        "materials.active.*.location",
        "'cathode active material' (Co, Ni, Li) or 'battery' (Pb): batpass has no per-element location",
    ),
    (
        "materials.active.*.recycled",
        "pre- plus post-consumer share in % from recycled_content; 0 when absent (PercentageTrait)",
    ),
    ("materials.active.*.critical", "true iff the element is listed in critical_raw_materials"),
    (
        "materials.active.other",
        "one entry per other critical raw material: identified by its IUPAC name, location 'battery'",
    ),
    ("materials.hazardous.*.location", "'battery' (whole battery, Art. 13(4))"),
    ("materials.*.materialUnit", "unit:percent (batpass shares are % w/w)"),
    (
        "materials.composition",
        "one entry per composition_cathode/anode/electrolyte record; concentration = mass_kg / weight (%);"
        " recycled and renewable 0 (not held)",
    ),
    ("safety.usableExtinguishAgent[].fireClass", "'not classified' (batpass records the agent only)"),
    ("metadata.issueDate", "the date of the first version"),
    ("metadata.lastModification", "the date of the version exported"),
    (
        "identification.identification.classification[0].classificationDescription",
        "fixed text: battery category of Regulation (EU) 2023/1542, Art. 3",
    ),
    (
        "metadata.expirationDate",
        "issueDate + 10 years (batpass passports do not expire; records kept 10 years, Art. 49)",
    ),
    (
        "metadata.predecessor",
        "no predecessor: nil UUID (RFC 9562 §5.9); several: the first (all are in the batpass record)",
    ),
    ("metadata.backupReference", "the backup node's base URL"),
    ("metadata.economicOperatorId", "economic_operator_id absent: manufacturer_id, else BPNL000000000000"),
    (
        "commercial.purpose",
        "from the category: ev -> 'electric vehicle traction', lmt -> 'light means of transport',"
        " industrial -> 'industrial', stationary -> 'stationary energy storage'",
    ),
    ("handling", "producer = manufacturer_id; sparePart = part_numbers; applicable = any part numbers"),
    ("performance.dynamic.*.time", "dynamic_updated_at at 00:00Z, else the issue date"),
)

_CATEGORY = {
    Category.EV: "EV",
    Category.LMT: "LMT",
    Category.INDUSTRIAL: "industrial",
    Category.STATIONARY: "industrial",
}
_PURPOSE = {
    Category.EV: "electric vehicle traction",
    Category.LMT: "light means of transport",
    Category.INDUSTRIAL: "industrial",
    Category.STATIONARY: "stationary energy storage",
}
_ELEMENTS = {"nickel": "nickel", "lithium": "lithium", "cobalt": "cobalt"}


def _schema() -> dict[str, Any]:
    if "s" not in _schema_cache:
        _schema_cache["s"] = json.loads(_SCHEMA_FILE.read_text(encoding="utf-8"))
    schema: dict[str, Any] = _schema_cache["s"]
    return schema


def _resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
    comps = _schema()["components"]["schemas"]
    while "$ref" in node:
        node = comps[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _skeleton(node: Mapping[str, Any]) -> Any:
    """Required structure of the aspect with the generic placeholders (-1, [], False, "")."""
    n = _resolve(node)
    t = n.get("type")
    if t == "object":
        props = n.get("properties", {})
        return {k: _skeleton(props[k]) for k in n.get("required", []) if k in props}
    if t == "array":
        return []
    if t == "number":
        return 0 if n.get("minimum", -1) >= 0 else -1
    if t == "boolean":
        return False
    return ""


def _doc(header: str, content: str, content_type: str = "URL") -> dict[str, str]:
    return {"header": header, "contentType": content_type, "content": content}


def _get(doc: Mapping[str, Any], path: str) -> Any:
    cur: Any = doc
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    cur = doc
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def _time(p: Passport, issued: dt.date) -> str:
    d = p.values.get("dynamic_updated_at")
    return f"{(d if isinstance(d, dt.date) else issued).isoformat()}T00:00:00Z"


def _encode(entry: Entry, value: Any, time: str) -> Any:
    c = entry.codec
    if c == "number":
        return value.value if isinstance(value, Quantity) else float(value)
    if c == "integer":
        return int(value)
    if c in ("text",):
        return str(value)
    if c == "date":
        return value.isoformat()
    if c == "length":
        return {"value": value.value, "unit": "unit:millimetre"}
    if c == "doc":
        return [_doc(FIELDS_BY_KEY[entry.key].label, value)]
    if c == "recdocs":
        if entry.path == "sources":
            return [
                {
                    "header": FIELDS_BY_KEY[entry.key].label,
                    "category": "Manufacturer Information",
                    "type": "application/json",
                    "content": json.dumps(r, sort_keys=True),
                }
                for r in value
            ]
        return [_doc(FIELDS_BY_KEY[entry.key].label, json.dumps(r, sort_keys=True), "application/json") for r in value]
    if c == "dyn":
        return {"value": value.value, "time": time}
    if c == "dyn_int":
        return {"value": int(value), "time": time}
    if c == "texts_media":
        return [{"media": m, "fireClass": "not classified"} for m in value]
    raise AssertionError(c)  # pragma: no cover


def to_catenax(
    passport: Passport,
    *,
    issued: dt.date,
    tiers: Iterable[Tier] = ALL_TIERS,
    validate: bool = True,
    modified: dt.date | None = None,
) -> dict[str, Any]:
    """The aspect JSON for ``passport`` holding the fields of ``tiers``; validated by default.

    ``issued`` is the date of the first version, ``modified`` of this one (default: ``issued``)."""
    keys = readable_keys(tiers)
    vals = {k: v for k, v in passport.field_values().items() if k in keys}
    doc: dict[str, Any] = _skeleton(_schema())
    doc["specVersion"] = ASPECT_URN.split("#", 1)[0]
    time = _time(passport, issued)
    # --- identification
    ident = doc["identification"]
    ident["category"] = _CATEGORY[passport.category]
    ident["idDmc"] = passport.digital_link
    inner = ident["identification"]
    inner["serial"] = [{"key": "partInstanceId", "value": str(passport.battery_id.serial)}]
    inner["type"] = {"manufacturerPartId": passport.model_id, "nameAtManufacturer": passport.model_id}
    inner["codes"] = [{"key": "GTIN", "value": str(passport.battery_id.gtin)}]
    inner["dataCarrier"] = {"carrierType": "QR", "carrierLayout": "printed or engraved QR code, error correction H"}
    inner["classification"] = [
        {"classificationStandard": "Regulation (EU) 2023/1542 Art. 3", "classificationID": passport.category.value}
    ]
    bpnl = vals.get("manufacturer_id")
    doc["operation"]["manufacturer"] = {
        "manufacturer": bpnl or "BPNL000000000000",
        "facility": [{"facility": vals.get("manufacturing_facility") or "BPNA000000000000"}],
    }
    doc["characteristics"]["warranty"] = {"lifeValue": -1, "lifeUnit": "unit:year"}
    doc["characteristics"]["physicalDimension"]["weight"] = {"value": -1, "unit": "unit:kilogram"}
    # --- sustainability
    sus = doc["sustainability"]
    sus["status"] = passport.status.value
    cf = vals.get("carbon_footprint")
    if isinstance(cf, Quantity):
        plant = [{"facility": vals["manufacturing_facility"]}] if vals.get("manufacturing_facility") else []
        study = (
            [_doc("Carbon footprint study", vals["carbon_footprint_study"])]
            if vals.get("carbon_footprint_study")
            else []
        )
        entries = [("total", cf.value), *sorted((vals.get("carbon_footprint_stages") or {}).items())]
        sus["carbonFootprint"] = [
            {
                "value": float(v),
                "unit": "kgCO2e/kWh",
                "type": "Climate Change Total",
                "lifecycle": stage,
                "rulebook": study,
                "manufacturingPlant": plant,
                "declaration": study,
                **({"performanceClass": vals["carbon_footprint_class"]} if vals.get("carbon_footprint_class") else {}),
            }
            for stage, v in entries
        ]
    # --- materials
    mats = doc["materials"]
    crit = {c.lower() for c in vals.get("critical_raw_materials", ())}
    # an unknown share (null, before a supplier's summary arrives) is absent, as the aspect has it
    recycled = {k: s for k, s in (vals.get("recycled_content") or {}).items() if _known(s)}
    for el in ("nickel", "lithium", "cobalt"):
        share = recycled.get(el)
        mats["active"][el] = {
            "location": "cathode active material",
            "recycled": round((share["pre"] + share["post"]) * 100, 9) if share else 0,
            "documentation": _recycled_split(share),
            "critical": el in crit,
        }
    lead = recycled.get("lead")
    mats["active"]["other"] = [
        {
            "location": "battery",
            "recycled": round((share["pre"] + share["post"]) * 100, 9) if share else 0,
            "documentation": _recycled_split(share),
            "critical": True,
            "materialIdentification": [{"id": name, "type": "IUPAC", "name": name}],
        }
        for name in vals.get("critical_raw_materials", ())
        if name.lower() not in ("nickel", "lithium", "cobalt", "lead")
        for share in [recycled.get(name.lower())]
    ]
    mats["active"]["lead"] = {
        "impactOfSubstances": [],
        "critical": False,
        "documentation": _recycled_split(lead),
        "recycled": round((lead["pre"] + lead["post"]) * 100, 9) if lead else 0,
        "location": "battery",
        "concentration": 0,
        "materialUnit": "unit:percent",
    }
    for haz in ("cadmium", "mercury", "lead"):
        mats["hazardous"][haz] = {
            "impactOfSubstances": [],
            "concentration": 0,
            "location": "battery",
            "materialUnit": "unit:percent",
            "critical": False,
            "documentation": [],
            **({"recycled": 0} if haz == "lead" else {}),
        }
    others = []
    for rec in vals.get("hazardous_substances", ()):
        others.append(
            {
                "impactOfSubstances": [_doc("hazard class", str(rec.get("hazard_class", "")), "text/plain")]
                if rec.get("hazard_class")
                else [],
                "materialUnit": "unit:percent",
                "concentration": float(rec.get("concentration_pct", 0)),
                "materialIdentification": [
                    {"id": str(rec.get("cas", "")), "type": "CAS", "name": str(rec.get("name", ""))}
                ],
                "documentation": [],
                "critical": False,
                "location": str(rec.get("location", "battery")),
            }
        )
    mats["hazardous"]["other"] = others
    weight = vals.get("weight")
    comp = []
    for key, loc in (
        ("composition_cathode", "cathode"),
        ("composition_anode", "anode"),
        ("composition_electrolyte", "electrolyte"),
    ):
        for rec in vals.get(key, ()):
            mass = rec.get("mass_kg")
            conc = (
                round(float(mass) / weight.value * 100, 6)
                if isinstance(mass, (int, float)) and isinstance(weight, Quantity) and weight.value
                else 0
            )
            comp.append(
                {
                    "id": [{"id": str(rec.get("cas", "")), "type": "CAS", "name": str(rec.get("material", ""))}],
                    "concentration": conc,
                    "unit": "unit:percent",
                    "critical": any(c in str(rec.get("material", "")).lower() for c in crit),
                    "documentation": [],
                    "recycled": 0,
                    "location": loc,
                    "renewable": 0,
                }
            )
    mats["composition"] = comp
    # --- metadata, commercial, handling
    meta = doc["metadata"]
    meta["version"] = str(passport.version)
    meta["status"] = "expired" if passport.ended else "approved"
    meta["issueDate"] = issued.isoformat()
    meta["expirationDate"] = issued.replace(year=issued.year + 10).isoformat()
    meta["economicOperatorId"] = bpnl or "BPNL000000000000"
    meta["passportIdentifier"] = str(passport.passport_id)
    meta["predecessor"] = str(passport.predecessors[0]) if passport.predecessors else NIL_UUID
    meta["backupReference"] = passport.backup_node
    doc["commercial"]["purpose"] = [_PURPOSE[passport.category]]
    parts = vals.get("part_numbers", ())
    doc["handling"] = {
        "applicable": bool(parts),
        "content": {
            "producer": [{"id": bpnl}] if bpnl else [],
            "sparePart": [
                {"manufacturerPartId": str(p.get("number", "")), "nameAtManufacturer": str(p.get("part", ""))}
                for p in parts
            ],
        },
    }
    # --- the mapping table (last, so it wins over the skeleton's placeholders)
    for entry in MAPPING:
        if entry.key in vals and vals[entry.key] is not None:
            _put(doc, entry.path, _encode(entry, vals[entry.key], time))
    doc["sources"] = [*doc.get("sources", []), *_extra_sources(vals)]
    for rec in vals.get("manufacturer_documents", ()):
        slot = DOCUMENT_SLOTS.get(str(rec.get("kind", "")))
        if slot is not None:
            _put(
                doc,
                slot,
                [*(_get(doc, slot) or []), _doc(str(rec.get("title", rec["kind"]))[:100], str(rec.get("url", "")))],
            )
    meta["lastModification"] = (modified or issued).isoformat()
    inner["classification"][0]["classificationDescription"] = "battery category of Regulation (EU) 2023/1542, Art. 3"
    for path in ("performance.dynamic.stateOfCharge", "performance.dynamic.fullCycles"):
        node = _get(doc, path)
        if isinstance(node, dict) and "time" in node and not node["time"]:
            node["time"] = time
    _fill_times(doc["performance"]["dynamic"], time)
    if validate:
        validate_catenax(doc)
    return doc


def _recycled_split(share: Mapping[str, float] | None) -> list[dict[str, str]]:
    """The pre- and post-consumer split of a recycled share (Art. 8), which the aspect's one
    ``recycled`` number cannot carry, as a JSON document beside it."""
    if not share:
        return []
    split = {"preConsumer": round(share["pre"] * 100, 10), "postConsumer": round(share["post"] * 100, 10)}
    return [_doc("Recycled content, pre- and post-consumer (% w/w)", json.dumps(split), "application/json")]


def _extra_sources(vals: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "header": FIELDS_BY_KEY[key].label[:100],
            "category": SOURCE_CATEGORY.get(key, "Product Specifications"),
            "type": "application/json",
            "content": json.dumps({"dataPoint": key, "value": value_to_json(vals[key])}, sort_keys=True),
        }
        for key in SOURCE_KEYS
        if vals.get(key) is not None
    ]


def _fill_times(node: Any, time: str) -> None:
    if isinstance(node, dict):
        if "time" in node and node["time"] == "":
            node["time"] = time
        for v in node.values():
            _fill_times(v, time)


def _inline_refs(node: Any, schema: Mapping[str, Any], depth: int = 0) -> Any:
    """``node`` with every local ``$ref`` replaced by its target (the aspect schema has no
    recursive definitions; a cycle raises ``RecursionError``)."""
    if depth > 64:
        raise RecursionError("recursive $ref in the aspect schema")
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = schema
            for part in ref[2:].split("/"):
                target = target[part]
            return _inline_refs(target, schema, depth + 1)
        return {k: _inline_refs(v, schema, depth) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(x, schema, depth) for x in node]
    return node


def _validator() -> Any:
    """The aspect schema's validator, built once. Every export is validated, so the schema is
    used with its ``$ref``s inlined (the same constraints, about three times faster than
    resolving each reference per instance); a schema with recursive references is used as is."""
    if "v" not in _schema_cache:
        schema = _schema()
        try:
            flat = {k: _inline_refs(v, schema) for k, v in schema.items() if k != "components"}
        except RecursionError:
            flat = schema
        _schema_cache["v"] = jsonschema.Draft4Validator(flat)
    return _schema_cache["v"]


#: whether a part of an export is valid against a part of the schema, by the schema part's
#: identity (parts of the inlined schema, held for the process) and the value (:func:`_frozen`)
_VALID_PARTS: dict[tuple[int, Any], bool] = {}
_VALID_PARTS_MAX = 8192
#: how deep an export is judged part by part (below, a part is judged whole)
_PART_DEPTH = 3
_part_validators: dict[int, Any] = {}


def _frozen(value: Any) -> Any:
    """``value`` as a hashable key that tells apart every value the schema may judge apart (an
    object from an array, a tuple from a list, 1 from 1.0 and from True)."""
    if isinstance(value, dict):
        return ("o", tuple((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("a", tuple(_frozen(v) for v in value))
    if isinstance(value, tuple):
        return ("t", tuple(_frozen(v) for v in value))
    return (type(value), value)


def _part_validator(schema: Mapping[str, Any], *, shell: bool) -> Any:
    """A validator of ``schema`` (``shell``: with each named property's schema made ``{}``, so
    only the object's own keywords judge it: required, additional and pattern properties...)."""
    key = id(schema) * 2 + shell
    v = _part_validators.get(key)
    if v is None:
        sub = {**schema, "properties": {k: {} for k in schema["properties"]}} if shell else schema
        v = _part_validators[key] = jsonschema.Draft4Validator(sub)
    return v


def _valid_part(value: Any, schema: Any, depth: int) -> bool:
    """Whether ``value`` is valid against ``schema`` (a part of the inlined schema), judged per
    named property down to :data:`_PART_DEPTH` and remembered per part: in draft 4 an object is
    valid exactly when its schema's keywords other than ``properties`` accept it and each named
    property's value is valid against its own schema, and a fleet's exports share most parts."""
    if not isinstance(schema, dict):  # not a draft 4 schema part: the whole export is validated
        return False
    key = (id(schema), _frozen(value)) if depth else None
    if key is not None:
        hit = _VALID_PARTS.get(key)
        if hit is not None:
            return hit
    props = schema.get("properties")
    if depth < _PART_DEPTH and isinstance(value, dict) and isinstance(props, dict):
        ok = bool(_part_validator(schema, shell=True).is_valid(value)) and all(
            _valid_part(value[k], props[k], depth + 1) for k in props if k in value
        )
    else:
        ok = bool(_part_validator(schema, shell=False).is_valid(value))
    if key is not None:
        if len(_VALID_PARTS) >= _VALID_PARTS_MAX:
            _VALID_PARTS.clear()
        _VALID_PARTS[key] = ok
    return ok


def validate_catenax(doc: Mapping[str, Any]) -> None:
    """Validate against the bundled aspect schema; the first error names the JSON path.

    A valid export is recognised part by part (:func:`_valid_part`); one that is not is
    validated whole, so its errors and their order are the schema's."""
    flat = _validator().schema
    if "components" not in flat and _valid_part(doc, flat, 0):
        return
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        path = ".".join(str(p) for p in err.absolute_path) or "(root)"
        raise InvalidInput(
            f"catena-x battery_pass 6.1.0: {path}: {err.message}",
            field=path,
            rule="io.catenax.battery.battery_pass:6.1.0 JSON Schema",
        )


def _known(share: Any) -> bool:
    return isinstance(share, Mapping) and share.get("pre") is not None and share.get("post") is not None
