"""Import Battery Pass data model documents (modules 1.2.0, Performance 1.2.0 or 1.2.1).

Input: one object keyed by module name, or module documents one by one (a folder, a multipart
upload) named after the module (``GeneralProductInformation-payload.json``,
``PerformanceAndDurability.json``, ``Labeling-payload.json`` ...), UTF-8 or UTF-16 with a BOM as
the model publishes them. Read through :data:`batpass.passport._export_batterypass.MAPPING` (both
Performance layouts: ``energyThroughput`` a number in 1.2.0, ``{energyThroughputValue,
lastUpdate}`` in 1.2.1; the round-trip efficiency at 50 % cycle life under ``batteryCondition`` or
``batteryTechicalProperties``). The CarbonFootprint module is checked against its schema first.
The model states its units in its attribute definitions (kg, kWh, Ah, V, W, %, kg CO2e/kWh), which
are the units of batpass's data points, so values are taken as they are; shares in % (recycled
content) become batpass fractions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from batpass.core.errors import InvalidInput
from batpass.core.ids import BatteryId
from batpass.core.unicode import check_scalar_text
from batpass.passport._export_batterypass import MAPPING, MODULES, PERFORMANCE_1_2_0, validate_carbon_footprint
from batpass.passport._import import ImportedPassport, Source, passport_uuid
from batpass.passport.model import FIELDS_BY_KEY, Status, parse_category

__all__ = ["decode_document", "module_of", "read_batterypass"]

RULE = "Battery Pass data model 1.2.0 / Performance 1.2.1"
#: file-name stems of the published payloads -> module
_STEMS = {
    "generalproductinformation": "GeneralProductInformation",
    "carbonfootprint": "CarbonFootprint",
    "materialcomposition": "MaterialComposition",
    "circularity": "Circularity",
    "supplychainduediligence": "SupplyChainDueDiligence",
    "performance": "Performance",
    "labels": "Labels",
    "labeling": "Labels",
}
_STATUS = {s.value.replace("-", ""): s for s in Status}
_STAGES = {
    "RawMaterialExtraction": "raw_material_and_preprocessing",
    "MainProduction": "main_production",
    "Distribution": "distribution",
    "Recycling": "end_of_life",
}


def decode_document(raw: bytes, *, name: str) -> Any:
    """A JSON document in UTF-8 or UTF-16 with a BOM (the model's ``gen/`` files are UTF-16LE)."""
    enc = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        doc = json.loads(raw.decode(enc))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"{name}: not a JSON document ({exc})", field=name, rule="RFC 8259 JSON") from exc
    check_scalar_text(doc, field=name)  # a lone surrogate escape: no store can write it
    return doc


def module_of(filename: str) -> str:
    """The module a published payload's file name names (``PerformanceAndDurability.json`` ...)."""
    stem = filename.rsplit("/", 1)[-1].split(".", 1)[0].split("-", 1)[0].lower()
    for prefix, module in _STEMS.items():
        if stem.startswith(prefix):
            return module
    raise InvalidInput(
        f"{filename}: the file name names no Battery Pass module ({', '.join(MODULES)})",
        field=filename,
        rule="Battery Pass module documents are named after their module",
    )


def _dec(src: Source, path: str, key: str, codec: str, raw: Any) -> None:
    spec = FIELDS_BY_KEY[key]
    if codec == "number":
        if isinstance(raw, Mapping) and key == "energy_throughput":  # 1.2.1 layout read at the 1.2.0 path
            src.stamp(f"{path}.lastUpdate", raw.get("lastUpdate"))
            raw = raw.get("energyThroughputValue")
            path = f"{path}.energyThroughputValue"
        src.put(path, key, {"value": src.as_number(path, raw), "unit": spec.unit})
    elif codec == "int":
        value = src.as_number(path, raw)
        if not value.is_integer():
            raise src.bad(path, f"{value} is not a whole number")
        src.put(path, key, int(value))
    elif codec == "datetime":
        src.put(path, key, src.date(path, raw).isoformat())
    elif codec == "texts":
        if not isinstance(raw, list):
            raise src.bad(path, "expected an array of texts")
        src.put(path, key, raw)
    else:
        if not isinstance(raw, str):
            raise src.bad(path, "expected a text")
        src.put(path, key, raw)


def read_batterypass(docs: Mapping[str, Any]) -> ImportedPassport:
    """The passport the Battery Pass modules describe (keyed by module name)."""
    unknown = sorted(set(docs) - set(MODULES))
    if unknown:
        raise InvalidInput(
            f"{unknown[0]}: not a Battery Pass module ({', '.join(MODULES)})", field=unknown[0], rule=RULE
        )
    srcs = {m: Source(docs[m], rule=RULE, prefix=m) for m in MODULES if m in docs}
    if "CarbonFootprint" in docs:
        try:
            validate_carbon_footprint(docs["CarbonFootprint"])
        except InvalidInput as exc:
            raise InvalidInput(
                f"CarbonFootprint.{exc.message}", field=f"CarbonFootprint.{exc.field}", rule=exc.rule
            ) from exc
    gpi = srcs.get("GeneralProductInformation")
    if gpi is None:
        raise InvalidInput(
            "GeneralProductInformation: the module naming the battery (productIdentifier) and its category is missing",
            field="GeneralProductInformation",
            rule=RULE,
        )
    ident = gpi.text("productIdentifier")
    try:
        battery = BatteryId.parse(ident or "")
    except InvalidInput:
        raise gpi.bad(
            "productIdentifier", "not a battery identifier (a GS1 Digital Link URI or 01{gtin}21{serial})"
        ) from None
    raw_cat = gpi.text("batteryCategory") or ""
    category = parse_category(raw_cat)
    raw_status = (gpi.text("batteryStatus") or "Original").lower().replace("-", "")
    if raw_status not in _STATUS:
        raise gpi.bad("batteryStatus", f"'{raw_status}' is not one of {', '.join(sorted(_STATUS))}")
    warranty = gpi.text("warrentyPeriod")
    # one collector for every module's values (each Source names its own module in errors)
    values: dict[str, Any] = {}
    dynamic: dict[str, Any] = {}
    times = []
    for module, path, key, codec in MAPPING:
        src = srcs.get(module)
        if src is None:
            continue
        raw = src.get(path)
        at = path
        if raw is None and key in PERFORMANCE_1_2_0:
            at = PERFORMANCE_1_2_0[key]
            raw = src.get(at)
        elif raw is None and key == "energy_throughput":
            at = "batteryCondition.energyThroughput"
            raw = src.get(at)
        if raw is None:
            continue
        if isinstance(raw, Mapping) and codec == "number" and key != "energy_throughput":
            raise src.bad(at, "expected a number")
        _dec(src, at, key, codec, raw)
        base = at.rsplit(".", 1)[0]
        if base.startswith("batteryCondition.") and base.count(".") == 1:
            node = src.get(base, mark=False)
            if isinstance(node, Mapping):
                src.stamp(f"{base}.lastUpdate", node.get("lastUpdate"))
    if warranty:
        years = _years(gpi, warranty)
        if years is not None:
            gpi.put("warrentyPeriod", "warranty_years", {"value": years, "unit": "year"})
    _extras(srcs)
    source_id = passport_uuid(gpi.get("batteryPassportIdentifier"))
    for src in srcs.values():
        values.update(src.values)
        dynamic.update(src.dynamic)
        times.extend(src.times)
        for known in ("operatorInformation", "batteryPassportIdentifier", "batteryCategory", "batteryStatus"):
            src.read.add(known)
    ignored = tuple(p for src in srcs.values() for p in src.unread())
    return ImportedPassport(
        format="batterypass",
        battery=battery,
        category=category,
        model_id=str(values.get("model_name") or battery.gtin),
        status=_STATUS[raw_status],
        values=values,
        dynamic=dynamic,
        dynamic_at=max(times) if times else None,
        source_id=source_id,
        ignored=ignored,
    )


def _years(src: Source, period: str) -> float | None:
    """An ISO 8601 duration of whole years or months (``P8Y``, ``P96M``) in years; else refused."""
    text = period.strip().upper()
    for suffix, per_year in (("Y", 1), ("M", 12)):
        body = text[1:-1]
        if text.startswith("P") and text.endswith(suffix) and body.isdigit():
            return int(body) / per_year
    raise src.bad("warrentyPeriod", f"'{period}' is not an ISO 8601 duration in years or months (P8Y, P96M)")


def _extras(srcs: Mapping[str, Source]) -> None:
    """What the export writes outside the table: stages, recycled content, records."""
    cf = srcs.get("CarbonFootprint")
    if cf is not None:
        stages = {}
        for n, s in enumerate(cf.items("carbonFootprintPerLifecycleStage")):
            stage = s.get("lifecycleStage") if isinstance(s, Mapping) else None
            if stage not in _STAGES:
                raise cf.bad(f"carbonFootprintPerLifecycleStage[{n}].lifecycleStage", f"unknown stage {stage!r}")
            stages[_STAGES[stage]] = cf.as_number(f"carbonFootprintPerLifecycleStage[{n}]", s.get("carbonFootprint"))
        if stages:
            cf.put("carbonFootprintPerLifecycleStage", "carbon_footprint_stages", stages)
        if cf.values.get("carbon_footprint_class") == "not yet defined":
            del cf.values["carbon_footprint_class"]  # the placeholder the export writes (PLACEHOLDERS)
        study = cf.values.get("carbon_footprint_study")
        placeholders = {
            srcs[m].get(p, mark=False)
            for m, p in (("Labels", "declarationOfConformity"), ("GeneralProductInformation", "productIdentifier"))
            if m in srcs
        }
        if study is not None and study in placeholders:
            del cf.values["carbon_footprint_study"]  # the study the schema forces when none is known
    _records(srcs)
    circ = srcs.get("Circularity")
    if circ is not None:
        shares = {}
        for n, r in enumerate(circ.items("recycledContent")):
            if not isinstance(r, Mapping) or not isinstance(r.get("recycledMaterial"), str):
                raise circ.bad(f"recycledContent[{n}].recycledMaterial", "expected a text")
            pre = circ.as_number(f"recycledContent[{n}].preConsumerShare", r.get("preConsumerShare", 0))
            post = circ.as_number(f"recycledContent[{n}].postConsumerShare", r.get("postConsumerShare", 0))
            shares[r["recycledMaterial"].lower()] = {"pre": round(pre / 100, 12), "post": round(post / 100, 12)}
        if shares:
            circ.put("recycledContent", "recycled_content", shares)


def _texts(src: Source, path: str, rec: Any, names: Mapping[str, str]) -> dict[str, Any]:
    """A flat record from ``rec`` (batpass name <- model attribute), empty texts left out."""
    if not isinstance(rec, Mapping):
        raise src.bad(path, "expected an object")
    out: dict[str, Any] = {}
    for ours, theirs in names.items():
        value = rec.get(theirs)
        if isinstance(value, Mapping):  # a location {componentName, componentId}
            value = value.get("componentName")
        if isinstance(value, str) and value:
            out[ours] = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[ours] = src.as_number(f"{path}.{theirs}", value)
    return out


def _records(srcs: Mapping[str, Source]) -> None:
    """The record data points the export writes outside the table (the model's own arrays)."""
    mc = srcs.get("MaterialComposition")
    if mc is not None:
        haz = [
            _texts(
                mc,
                f"hazardousSubstances[{n}]",
                r,
                {
                    "hazard_class": "hazardousSubstanceClass",
                    "name": "hazardousSubstanceName",
                    "cas": "hazardousSubstanceIdentifier",
                    "location": "hazardousSubstanceLocation",
                    "concentration_pct": "hazardousSubstanceConcentration",
                },
            )
            for n, r in enumerate(mc.items("hazardousSubstances"))
        ]
        if haz:
            mc.put("hazardousSubstances", "hazardous_substances", haz)
        groups: dict[str, list[dict[str, Any]]] = {}
        critical: list[str] = []
        for n, r in enumerate(mc.items("batteryMaterials")):
            path = f"batteryMaterials[{n}]"
            rec = _texts(
                mc,
                path,
                r,
                {
                    "material": "batteryMaterialName",
                    "cas": "batteryMaterialIdentifier",
                    "component": "batteryMaterialLocation",
                    "mass_kg": "batteryMaterialMass",
                },
            )
            component = str(rec.pop("component", "")).lower()
            if component not in ("cathode", "anode", "electrolyte"):
                raise mc.bad(
                    f"{path}.batteryMaterialLocation.componentName",
                    f"'{component}': batpass keeps the materials of the cathode, anode and electrolyte"
                    " (Annex XIII (2)(a))",
                )
            groups.setdefault(f"composition_{component}", []).append(rec)
            if isinstance(r, Mapping) and r.get("isCriticalRawMaterial") is True and rec.get("material"):
                critical.append(str(rec["material"]))
        for key, recs in groups.items():
            mc.put("batteryMaterials", key, recs)
        if critical:
            mc.put("batteryMaterials", "critical_raw_materials", critical)
    circ = srcs.get("Circularity")
    if circ is not None:
        dis = [
            _texts(
                circ,
                f"dismantlingAndRemovalInformation[{n}]",
                r,
                {"document": "documentType", "mime": "mimeType", "url": "documentURL"},
            )
            for n, r in enumerate(circ.items("dismantlingAndRemovalInformation"))
        ]
        if dis:
            circ.put("dismantlingAndRemovalInformation", "dismantling_info", dis)
        sources, parts = [], []
        for n, r in enumerate(circ.items("sparePartSources")):
            path = f"sparePartSources[{n}]"
            sources.append(
                _texts(
                    circ,
                    path,
                    r,
                    {"supplier": "nameOfSupplier", "email": "emailAddressOfSupplier", "url": "supplierWebAddress"},
                )
            )
            for m, c in enumerate(r.get("components") or [] if isinstance(r, Mapping) else []):
                part = _texts(circ, f"{path}.components[{m}]", c, {"part": "partName", "number": "partNumber"})
                if part not in parts:
                    parts.append(part)
        if sources:
            circ.put("sparePartSources", "spare_part_sources", sources)
        if parts:
            circ.put("sparePartSources", "part_numbers", parts)
    sdd = srcs.get("SupplyChainDueDiligence")
    assurance = sdd.text("thirdPartyAussurances") if sdd is not None else None
    if sdd is not None and assurance:
        sdd.put(
            "thirdPartyAussurances",
            "manufacturer_documents",
            [{"kind": "third_party_assurance", "title": "Third-party assurance", "url": assurance}],
        )
    lab = srcs.get("Labels")
    if lab is not None:
        labels = []
        for n, r in enumerate(lab.items("labels")):
            rec = _texts(lab, f"labels[{n}]", r, {"subject": "labelingSubject", "symbol": "labelingSymbol"})
            meaning = r.get("labelingMeaning") if isinstance(r, Mapping) else None
            if isinstance(meaning, Mapping) and isinstance(meaning.get("en"), str) and meaning["en"]:
                rec["meaning"] = meaning["en"]
            labels.append(rec)
        if labels:
            lab.put("labels", "labels", labels)
        report = lab.text("resultOfTestReport")
        if report:
            lab.put("resultOfTestReport", "test_reports", [{"url": report}])
    perf = srcs.get("Performance")
    if perf is not None:
        _performance(perf)


def _performance(perf: Source) -> None:
    props = "batteryTechicalProperties"
    power = perf.items(f"{props}.originalPowerCapability")
    if power and isinstance(power[0], Mapping) and "powerCapabilityAt" in power[0]:
        value = perf.as_number(f"{props}.originalPowerCapability[0].powerCapabilityAt", power[0]["powerCapabilityAt"])
        perf.put(f"{props}.originalPowerCapability", "original_power", {"value": value, "unit": "W"})
    for n, r in enumerate(perf.items(f"{props}.initialInternalResistance")):
        if isinstance(r, Mapping) and r.get("batteryComponent") == "pack":
            value = perf.as_number(f"{props}.initialInternalResistance[{n}].ohmicResistance", r.get("ohmicResistance"))
            perf.put(
                f"{props}.initialInternalResistance", "internal_resistance_initial", {"value": value, "unit": "Ohm"}
            )
    for n, r in enumerate(perf.items("batteryCondition.internalResistanceIncrease")):
        if isinstance(r, Mapping) and r.get("batteryComponent") == "pack":
            at = f"batteryCondition.internalResistanceIncrease[{n}].internalResistanceIncreaseValue"
            value = perf.as_number(at, r.get("internalResistanceIncreaseValue"))
            perf.put(at, "internal_resistance_increase", {"value": value, "unit": "%"})
            perf.stamp(f"batteryCondition.internalResistanceIncrease[{n}].lastUpdate", r.get("lastUpdate"))
    idle = perf.get(f"{props}.temperatureRangeIdleState")
    if isinstance(idle, Mapping):  # 1.2.1: {minimum, maximum} (a single number in 1.2.0, not read)
        for key, attr in (("temperature_min", "minimum"), ("temperature_max", "maximum")):
            if attr in idle:
                value = perf.as_number(f"{props}.temperatureRangeIdleState.{attr}", idle[attr])
                perf.put(f"{props}.temperatureRangeIdleState.{attr}", key, {"value": value, "unit": "Cel"})
    events = []
    for n, r in enumerate(perf.items("batteryCondition.negativeEvents")):
        text = r.get("negativeEvent") if isinstance(r, Mapping) else None
        if not isinstance(text, str):
            raise perf.bad(f"batteryCondition.negativeEvents[{n}].negativeEvent", "expected a text")
        try:
            rec = json.loads(text)
        except ValueError:
            rec = None
        events.append(rec if isinstance(rec, dict) else {"event": text})
        perf.stamp(f"batteryCondition.negativeEvents[{n}].lastUpdate", r.get("lastUpdate"))
    if events:
        perf.put("batteryCondition.negativeEvents", "negative_events", events)
