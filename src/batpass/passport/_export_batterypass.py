"""Export to the Battery Pass consortium data model — one mapping table.

Seven modules: GeneralProductInformation, CarbonFootprint, MaterialComposition, Circularity,
SupplyChainDueDiligence, Labels (``io.BatteryPass.*`` 1.2.0, their newest) and Performance
(1.2.1, the newest: ``energyThroughput`` is ``{energyThroughputValue, lastUpdate}`` and the
round-trip efficiency at 50 % cycle life sits under ``batteryTechicalProperties``; ``version=
"1.2.0"`` writes the 1.2.0 layout, :data:`PERFORMANCE_1_2_0`). CarbonFootprint is
validated against its published JSON Schema (bundled); the other modules' schemas carry a
non-commercial licence and are not bundled, so their attribute names and units follow the
published example payloads (spellings such as ``batteryTechicalProperties``,
``warrentyPeriod`` and ``thirdPartyAussurances`` are the model's own).

:data:`MAPPING` is the table: (module, JSON path, batpass key, codec). Shares in batpass are
fractions 0-1 and percentages in %; the Battery Pass model states shares in percent, so
recycled content is multiplied by 100 on export and divided on import (``_import_batterypass``). A module whose every
data point is absent (e.g. CarbonFootprint before the act that makes it due) is left out.
:data:`PLACEHOLDERS` lists what the model forces although batpass holds no value.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]

from batpass.core.errors import InvalidInput
from batpass.passport.model import ALL_TIERS, Category, Passport, Quantity, Status, Tier, readable_keys

__all__ = [
    "LATEST",
    "MAPPING",
    "MODULES",
    "PERFORMANCE_1_2_0",
    "PLACEHOLDERS",
    "VERSIONS",
    "to_batterypass",
    "validate_carbon_footprint",
]

MODULES = (
    "GeneralProductInformation",
    "CarbonFootprint",
    "MaterialComposition",
    "Circularity",
    "SupplyChainDueDiligence",
    "Performance",
    "Labels",
)
_CF_SCHEMA = Path(__file__).parent / "_data" / "batterypass-CarbonFootprint-1.2.0.schema.json"
_cache: dict[str, Any] = {}

#: (module, path, batpass key, codec); codecs: text, number (quantity value), int, date, datetime, texts
MAPPING: tuple[tuple[str, str, str, str], ...] = (
    ("GeneralProductInformation", "batteryMass", "weight", "number"),
    ("GeneralProductInformation", "manufacturingDate", "manufacturing_date", "datetime"),
    ("GeneralProductInformation", "puttingIntoService", "placed_on_market", "datetime"),
    ("GeneralProductInformation", "manufacturerInformation.contactName", "manufacturer_name", "text"),
    ("GeneralProductInformation", "manufacturerInformation.identifier", "manufacturer_id", "text"),
    (
        "GeneralProductInformation",
        "manufacturerInformation.postalAddress.streetAddress",
        "manufacturer_address",
        "text",
    ),
    ("GeneralProductInformation", "manufacturingPlace.streetAddress", "manufacturing_place", "text"),
    ("CarbonFootprint", "batteryCarbonFootprint", "carbon_footprint", "number"),
    ("CarbonFootprint", "carbonFootprintPerformanceClass", "carbon_footprint_class", "text"),
    ("CarbonFootprint", "carbonFootprintStudy", "carbon_footprint_study", "text"),
    ("CarbonFootprint", "absoluteCarbonFootprint", "carbon_footprint_absolute", "number"),
    ("MaterialComposition", "batteryChemistry.clearName", "chemistry", "text"),
    ("Circularity", "renewableContent", "renewable_content", "number"),
    ("Circularity", "endOfLifeInformation.separateCollection", "separate_collection_info", "text"),
    ("Circularity", "endOfLifeInformation.wastePrevention", "waste_prevention_info", "text"),
    ("Circularity", "safetyMeasures.safetyInstructions", "safety_measures", "text"),
    ("Circularity", "safetyMeasures.extinguishingAgent", "extinguishing_agent", "texts"),
    ("SupplyChainDueDiligence", "supplyChainDueDiligenceReport", "due_diligence_report", "text"),
    ("Performance", "batteryTechicalProperties.ratedCapacity", "rated_capacity", "number"),
    ("Performance", "batteryTechicalProperties.ratedEnergy", "rated_energy", "number"),
    ("Performance", "batteryTechicalProperties.nominalVoltage", "voltage_nominal", "number"),
    ("Performance", "batteryTechicalProperties.minimumVoltage", "voltage_min", "number"),
    ("Performance", "batteryTechicalProperties.maximumVoltage", "voltage_max", "number"),
    ("Performance", "batteryTechicalProperties.ratedMaximumPower", "max_permitted_power", "number"),
    ("Performance", "batteryTechicalProperties.powerCapabilityRatio", "power_capability_ratio", "number"),
    ("Performance", "batteryTechicalProperties.expectedNumberOfCycles", "expected_lifetime_cycles", "int"),
    ("Performance", "batteryTechicalProperties.expectedLifetime", "expected_lifetime_years", "number"),
    (
        "Performance",
        "batteryTechicalProperties.capacityThresholdForExhaustion",
        "capacity_threshold_exhaustion",
        "number",
    ),
    ("Performance", "batteryTechicalProperties.initialSelfDischarge", "self_discharge_initial", "number"),
    ("Performance", "batteryTechicalProperties.roundtripEfficiency", "round_trip_efficiency_initial", "number"),
    ("Performance", "batteryTechicalProperties.cRateLifeCycleTest", "c_rate_cycle_test", "number"),
    (
        "Performance",
        "batteryTechicalProperties.roundTripEfficiencyat50PerCentCycleLife",
        "round_trip_efficiency_50",
        "number",
    ),
    ("Performance", "batteryCondition.numberOfFullCycles.numberOfFullCyclesValue", "full_cycles", "int"),
    ("Performance", "batteryCondition.stateOfCharge.stateOfChargeValue", "state_of_charge", "number"),
    ("Performance", "batteryCondition.stateOfCertifiedEnergy.stateOfCertifiedEnergyValue", "state_of_health", "number"),
    ("Performance", "batteryCondition.remainingCapacity.remainingCapacityValue", "remaining_capacity", "number"),
    ("Performance", "batteryCondition.capacityFade.capacityFadeValue", "capacity_fade", "number"),
    ("Performance", "batteryCondition.energyThroughput.energyThroughputValue", "energy_throughput", "number"),
    ("Performance", "batteryCondition.capacityThroughput.capacityThroughputValue", "capacity_throughput", "number"),
    ("Performance", "batteryCondition.remainingEnergy.remainingEnergyValue", "remaining_energy", "number"),
    (
        "Performance",
        "batteryCondition.remainingRoundTripEnergyEfficiency.remainingRoundTripEnergyEfficiencyValue",
        "remaining_round_trip_efficiency",
        "number",
    ),
    (
        "Performance",
        "batteryCondition.currentSelfDischargingRate.currentSelfDischargingRateValue",
        "self_discharge_current",
        "number",
    ),
    ("Performance", "batteryTechicalProperties.powerFade", "power_fade", "number"),
    ("Performance", "batteryTechicalProperties.roundTripEfficiencyFade", "round_trip_efficiency_fade", "number"),
    ("Labels", "declarationOfConformity", "declaration_of_conformity", "text"),
)

#: the published versions of the Performance module (the others are at 1.2.0); the newest is the default
VERSIONS = ("1.2.1", "1.2.0")
LATEST = VERSIONS[0]
#: where Performance 1.2.0 keeps what 1.2.1 moved or spells otherwise (the model's own spellings,
#: ``remainingEnergyalue`` included): batpass key -> 1.2.0 path
PERFORMANCE_1_2_0: Mapping[str, str] = {
    "round_trip_efficiency_50": "batteryCondition.roundTripEfficiencyat50PerCentCycleLife",
    "energy_throughput": "batteryCondition.energyThroughput",
    "remaining_energy": "batteryCondition.remainingEnergy.remainingEnergyalue",
    "self_discharge_current": "batteryCondition.currentSelfDischargingRate.currentSelfDischargingRateEntity",
    "power_fade": "batteryCondition.powerFade",
    "round_trip_efficiency_fade": "batteryCondition.roundTripEfficiencyFade",
}

PLACEHOLDERS: tuple[tuple[str, str], ...] = (
    ("GeneralProductInformation.batteryCategory", "ev, lmt, industrial; stationary -> industrial"),
    ("GeneralProductInformation.batteryStatus", "Original, Reused, Repurposed, Remanufactured, Waste"),
    ("GeneralProductInformation.*.postalAddress", "batpass keeps the address as one text: streetAddress"),
    ("GeneralProductInformation.warrentyPeriod", "ISO 8601 duration P{n}Y from warranty_years"),
    ("CarbonFootprint.carbonFootprintPerformanceClass", "no class adopted (Art. 7(2)): 'not yet defined'"),
    ("CarbonFootprint.carbonFootprintStudy", "required by the schema: the declaration of conformity URL when no study"),
    (
        "CarbonFootprint.carbonFootprintPerLifecycleStage",
        "Annex II stages: raw_material_and_preprocessing ->"
        " RawMaterialExtraction, main_production -> MainProduction, distribution -> Distribution,"
        " end_of_life -> Recycling; a stage not provided is left out",
    ),
    ("Performance.batteryCondition.*.lastUpdate", "dynamic_updated_at at 00:00Z"),
    ("Circularity.recycledContent", "shares in % (batpass fractions x 100)"),
)

_STATUS = {
    Status.ORIGINAL: "Original",
    Status.REUSED: "Reused",
    Status.REPURPOSED: "Repurposed",
    Status.REMANUFACTURED: "Remanufactured",
    Status.WASTE: "Waste",
}
_STAGES = {
    "raw_material_and_preprocessing": "RawMaterialExtraction",
    "main_production": "MainProduction",
    "distribution": "Distribution",
    "end_of_life": "Recycling",
}


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    cur = doc
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def _get(doc: Mapping[str, Any], path: str) -> Any:
    cur: Any = doc
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _enc(codec: str, v: Any) -> Any:
    if codec == "number":
        return v.value if isinstance(v, Quantity) else float(v)
    if codec == "int":
        return int(v)
    if codec == "datetime":
        return f"{v.isoformat()}T00:00:00Z"
    if codec == "texts":
        return list(v)
    return str(v)


def check_version(version: str) -> str:
    if version not in VERSIONS:
        raise InvalidInput(
            f"version: '{version}' is not a published Battery Pass version ({', '.join(VERSIONS)})",
            field="version",
            rule="Battery Pass data model versions (Performance 1.2.1, the other modules 1.2.0)",
        )
    return version


def path_for(path: str, key: str, version: str) -> str:
    """The JSON path of ``key`` in ``version`` (1.2.0 keeps two Performance attributes elsewhere)."""
    return PERFORMANCE_1_2_0.get(key, path) if version == "1.2.0" else path


def to_batterypass(
    passport: Passport, *, tiers: Iterable[Tier] = ALL_TIERS, version: str = LATEST
) -> dict[str, dict[str, Any]]:
    """The seven modules (those with data), keyed by module name; CarbonFootprint is validated.

    ``version`` 1.2.1 (the default, the newest) or 1.2.0 selects the Performance layout."""
    check_version(version)
    keys = readable_keys(tiers)
    vals = {k: v for k, v in passport.field_values().items() if k in keys and v is not None}
    docs: dict[str, dict[str, Any]] = {m: {} for m in MODULES}
    for module, path, key, codec in MAPPING:
        if key in vals:
            _put(docs[module], path_for(path, key, version), _enc(codec, vals[key]))
    when = vals.get("dynamic_updated_at")
    stamp = f"{when.isoformat()}T00:00:00Z" if isinstance(when, dt.date) else None
    cond = docs["Performance"].get("batteryCondition", {})
    for name, node in list(cond.items()):
        if isinstance(node, dict) and stamp:
            node["lastUpdate"] = stamp
        _ = name
    if "negative_events" in vals:
        cond = docs["Performance"].setdefault("batteryCondition", {})
        cond["negativeEvents"] = [
            {"negativeEvent": json.dumps(e, sort_keys=True), **({"lastUpdate": stamp} if stamp else {})}
            for e in vals["negative_events"]
        ]
    if "original_power" in vals:
        docs["Performance"].setdefault("batteryTechicalProperties", {})["originalPowerCapability"] = [
            {"atSoC": 80.0, "powerCapabilityAt": vals["original_power"].value}
        ]
    if version != "1.2.0" and ("temperature_min" in vals or "temperature_max" in vals):
        # Annex IV Part A (8): the temperature range the battery withstands when idle (1.2.1 only)
        docs["Performance"].setdefault("batteryTechicalProperties", {})["temperatureRangeIdleState"] = {
            attr: vals[key].value
            for key, attr in (("temperature_min", "minimum"), ("temperature_max", "maximum"))
            if key in vals
        }
    if "internal_resistance_increase" in vals:
        docs["Performance"].setdefault("batteryCondition", {})["internalResistanceIncrease"] = [
            {
                "internalResistanceIncreaseValue": vals["internal_resistance_increase"].value,
                "batteryComponent": "pack",
                **({"lastUpdate": stamp} if stamp else {}),
            }
        ]
    if "internal_resistance_initial" in vals:
        docs["Performance"].setdefault("batteryTechicalProperties", {})["initialInternalResistance"] = [
            {"ohmicResistance": vals["internal_resistance_initial"].value, "batteryComponent": "pack"}
        ]
    # General product information
    gpi = docs["GeneralProductInformation"]
    gpi["batteryCategory"] = "industrial" if passport.category is Category.STATIONARY else passport.category.value
    gpi["productIdentifier"] = passport.digital_link
    gpi["batteryPassportIdentifier"] = passport.urn
    gpi["batteryStatus"] = _STATUS[passport.status]
    gpi["operatorInformation"] = {"identifier": passport.responsible()}
    if "warranty_years" in vals:
        gpi["warrentyPeriod"] = f"P{round(vals['warranty_years'].value)}Y"
    # Carbon footprint
    cf = docs["CarbonFootprint"]
    if cf:
        stages = vals.get("carbon_footprint_stages") or {}
        cf["carbonFootprintPerLifecycleStage"] = [
            {"lifecycleStage": _STAGES[s], "carbonFootprint": float(v)} for s, v in stages.items() if s in _STAGES
        ]
        cf.setdefault("carbonFootprintPerformanceClass", "not yet defined")
        cf.setdefault("carbonFootprintStudy", vals.get("declaration_of_conformity", passport.digital_link))
        validate_carbon_footprint(cf)
    # Material composition
    mc = docs["MaterialComposition"]
    if "chemistry" in vals:
        mc["batteryChemistry"] = {"shortName": str(vals["chemistry"]).split()[0], "clearName": vals["chemistry"]}
    mc["hazardousSubstances"] = [
        {
            "hazardousSubstanceClass": str(r.get("hazard_class", "")),
            "hazardousSubstanceName": str(r.get("name", "")),
            "hazardousSubstanceIdentifier": str(r.get("cas", "")),
            "hazardousSubstanceLocation": {"componentName": str(r.get("location", "")), "componentId": ""},
            **({"hazardousSubstanceConcentration": float(r["concentration_pct"])} if "concentration_pct" in r else {}),
            "hazardousSubstanceImpact": [],
        }
        for r in vals.get("hazardous_substances", ())
    ]
    crit = {c.lower() for c in vals.get("critical_raw_materials", ())}
    materials = []
    for key, comp in (
        ("composition_cathode", "Cathode"),
        ("composition_anode", "Anode"),
        ("composition_electrolyte", "Electrolyte"),
    ):
        for r in vals.get(key, ()):
            materials.append(
                {
                    "batteryMaterialName": str(r.get("material", "")),
                    "batteryMaterialIdentifier": str(r.get("cas", "")),
                    "batteryMaterialLocation": {"componentName": comp, "componentId": ""},
                    **({"batteryMaterialMass": float(r["mass_kg"])} if "mass_kg" in r else {}),
                    "isCriticalRawMaterial": any(c in str(r.get("material", "")).lower() for c in crit),
                }
            )
    if materials:
        mc["batteryMaterials"] = materials
    # Circularity
    circ = docs["Circularity"]
    # an unknown share (null, before a supplier's summary arrives) is absent, never 0
    rc = {el: s for el, s in (vals.get("recycled_content") or {}).items() if None not in (s.get("pre"), s.get("post"))}
    if rc:
        circ["recycledContent"] = [
            {
                "recycledMaterial": el.capitalize(),
                "preConsumerShare": round(s["pre"] * 100, 10),
                "postConsumerShare": round(s["post"] * 100, 10),
            }
            for el, s in sorted(rc.items())
        ]
    circ["dismantlingAndRemovalInformation"] = [
        {
            "documentType": str(r.get("document", "")),
            "mimeType": str(r.get("mime", "")),
            "documentURL": str(r.get("url", "")),
        }
        for r in vals.get("dismantling_info", ())
    ]
    circ["sparePartSources"] = [
        {
            "nameOfSupplier": str(r.get("supplier", "")),
            "supplierWebAddress": str(r.get("url", "")),
            "emailAddressOfSupplier": str(r.get("email", "")),
            "components": [
                {"partName": str(p.get("part", "")), "partNumber": str(p.get("number", ""))}
                for p in vals.get("part_numbers", ())
            ],
        }
        for r in vals.get("spare_part_sources", ())
    ]
    # Labels
    lab = docs["Labels"]
    lab["labels"] = [
        {
            "labelingSubject": str(r.get("subject", "")),
            "labelingSymbol": str(r.get("symbol", "")),
            "labelingMeaning": {"en": str(r.get("meaning", ""))},
        }
        for r in vals.get("labels", ())
    ]
    reports = vals.get("test_reports")
    if reports:
        lab["resultOfTestReport"] = str(reports[0].get("url", ""))
    assurance = [r for r in vals.get("manufacturer_documents", ()) if r.get("kind") == "third_party_assurance"]
    if assurance:  # the model holds one link: the first assurance document
        docs["SupplyChainDueDiligence"]["thirdPartyAussurances"] = str(assurance[0].get("url", ""))
    return {m: d for m, d in docs.items() if d}


def validate_carbon_footprint(doc: Mapping[str, Any]) -> None:
    if "s" not in _cache:
        _cache["s"] = json.loads(_CF_SCHEMA.read_bytes().decode("utf-16"))
    errors = sorted(jsonschema.Draft4Validator(_cache["s"]).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        path = ".".join(str(p) for p in errors[0].absolute_path) or "(root)"
        raise InvalidInput(
            f"Battery Pass CarbonFootprint 1.2.0: {path}: {errors[0].message}",
            field=path,
            rule="io.BatteryPass.CarbonFootprint:1.2.0 JSON Schema",
        )
