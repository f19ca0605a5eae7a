"""Import a Catena-X ``io.catenax.battery.battery_pass:6.1.0`` document — the export's table read back.

The document is first checked against the bundled schema (the first error names its JSON path),
then read through :data:`batpass.passport._export_catenax.MAPPING` and the parts the export writes
outside it. Units are converted from the model's catalogues (``_import_units``) or refused;
placeholders the export forces (``-1``, ``BPNL000000000000``, the nil UUID) read as absent.
Documents (``{header, contentType, content}``) whose content is JSON become records; any other
document (a URL, a text) is kept as the record ``{header, contentType, content}``.

Source: eclipse-tractusx/sldt-semantic-models ``io.catenax.battery.battery_pass/6.1.0`` (CC-BY-4.0).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from batpass.core.errors import InvalidInput
from batpass.core.ids import BatteryId
from batpass.core.unicode import check_scalar_text
from batpass.passport._export_catenax import (
    DOCUMENT_SLOTS,
    MAPPING,
    SOURCE_KEYS,
    STAGE_NAMES,
    Entry,
    validate_catenax,
)
from batpass.passport._import import ImportedPassport, Source, passport_uuid
from batpass.passport._import_units import convert
from batpass.passport.model import FIELDS_BY_KEY, Category, Status, parse_category, value_to_json

__all__ = ["read_catenax"]

RULE = "io.catenax.battery.battery_pass:6.1.0"
_NO_BPN = ("", "BPNL000000000000", "BPNA000000000000")
#: Catena-X category spellings; ``industrial`` is stationary when the export's classification says so
_CATEGORY = {"EV": Category.EV, "LMT": Category.LMT, "industrial": Category.INDUSTRIAL}
#: spellings of the carbon footprint's unit (a free text in the model) read as kg CO2e per kWh
_CF_UNITS = frozenset({"kgco2e/kwh", "kgco2eq/kwh", "kgco2-eq/kwh", "kgco2/kwh"})
_COMPOSITION = {
    "cathode": "composition_cathode",
    "anode": "composition_anode",
    "electrolyte": "composition_electrolyte",
}
_HAZARD_UNIT = {"cadmium_share": "cadmium", "mercury_share": "mercury", "lead_share": "lead"}


def _record(src: Source, path: str, doc: Any) -> dict[str, Any]:
    if not isinstance(doc, Mapping):
        raise src.bad(path, "expected a document {header, contentType, content}")
    content = doc.get("content")
    kind = doc.get("contentType", doc.get("type"))
    if kind == "application/json" and isinstance(content, str):
        try:
            parsed = json.loads(content)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            # JSON inside the text: its escapes may spell a lone surrogate no store can write
            check_scalar_text(parsed, field=f"{src.where(path)}.content")
            return parsed
    return {k: doc[k] for k in ("header", "contentType", "type", "category", "content") if k in doc}


def _entry(src: Source, entry: Entry) -> None:
    path, key, codec = entry.path, entry.key, entry.codec
    if key in _HAZARD_UNIT:
        base = path.rsplit(".", 1)[0]
        value = src.number(path)
        if value is None or value == -1:
            return
        unit = src.get(f"{base}.materialUnit")
        src.put(
            path,
            key,
            {"value": convert(value, unit, "%", field=src.where(f"{base}.materialUnit"), rule=RULE), "unit": "%"},
        )
        return
    if key == "weight":
        value = src.number(path)
        unit = src.get("characteristics.physicalDimension.weight.unit")
        if value is not None and value != -1:
            kg = convert(value, unit, "kg", field=src.where("characteristics.physicalDimension.weight.unit"), rule=RULE)
            src.put(path, key, {"value": kg, "unit": "kg"})
        return
    if key == "warranty_years":
        value = src.number(path)
        unit = src.get("characteristics.warranty.lifeUnit")
        if value is not None and value != -1:
            years = convert(value, unit, "year", field=src.where("characteristics.warranty.lifeUnit"), rule=RULE)
            src.put(path, key, {"value": years, "unit": "year"})
        return
    spec = FIELDS_BY_KEY[key]
    if codec == "length":
        value = src.number(f"{path}.value")
        if value is not None and value != -1:
            mm = convert(value, src.get(f"{path}.unit"), "mm", field=src.where(f"{path}.unit"), rule=RULE)
            src.put(f"{path}.value", key, {"value": mm, "unit": "mm"})
        return
    if codec in ("number", "integer"):
        value = src.number(path)
        if value is None or value == -1:
            return
        if codec == "integer" or spec.kind.value == "integer":
            if not value.is_integer():
                raise src.bad(path, f"{value} is not a whole number")
            src.put(path, key, int(value))
        else:
            src.put(path, key, {"value": value, "unit": spec.unit})
    elif codec == "text":
        text = src.text(path)
        if text not in (None, *_NO_BPN):
            src.put(path, key, text)
    elif codec == "date":
        text = src.text(path)
        if text:
            src.put(path, key, src.date(path, text).isoformat())
    elif codec == "doc":
        docs = src.items(path)
        if docs:
            first = docs[0]
            if not isinstance(first, Mapping) or not isinstance(first.get("content"), str):
                raise src.bad(f"{path}[0].content", "expected a document with a text content")
            src.put(f"{path}[0].content", key, first["content"])
    elif codec == "recdocs":
        records = [_record(src, f"{path}[{n}]", d) for n, d in enumerate(src.items(path))]
        if entry.path == "sources":
            records = [r for r in records if set(r) != {"dataPoint", "value"}]
        if records:
            src.put(path, key, _merge(src.values.get(key), records))
    elif codec in ("dyn", "dyn_int"):
        node = src.get(path)
        if node is None:
            return
        if not isinstance(node, Mapping):
            raise src.bad(path, "expected {value, time}")
        value = src.as_number(f"{path}.value", node.get("value"))
        if value == -1:
            return
        src.stamp(f"{path}.time", node.get("time"))
        if codec == "dyn_int":
            if not value.is_integer():
                raise src.bad(f"{path}.value", f"{value} is not a whole number")
            src.put(f"{path}.value", key, int(value))
        else:
            src.put(f"{path}.value", key, {"value": value, "unit": spec.unit})
    elif codec == "texts_media":
        media = []
        for n, agent in enumerate(src.items(path)):
            if not isinstance(agent, Mapping) or not isinstance(agent.get("media"), str):
                raise src.bad(f"{path}[{n}].media", "expected a text")
            media.append(agent["media"])
        if media:
            src.put(path, key, media)


def _merge(before: Any, records: list[dict[str, Any]]) -> list[Any]:
    """Records of a data point two paths fill (test reports): each once, in order."""
    out = [value_to_json(r) for r in before or ()]
    for r in records:
        if r not in out:
            out.append(r)
    return out


def _battery(src: Source) -> tuple[BatteryId, str]:
    codes = src.items("identification.identification.codes")
    gtin = next(
        (c.get("value") for c in codes if isinstance(c, Mapping) and str(c.get("key", "")).upper() in ("GTIN", "EAN")),
        None,
    )
    serials = src.items("identification.identification.serial")
    serial = next(
        (s.get("value") for s in serials if isinstance(s, Mapping) and s.get("key") == "partInstanceId"), None
    )
    model_id = src.text("identification.identification.type.manufacturerPartId") or ""
    src.get("identification.idDmc")
    if isinstance(gtin, str) and isinstance(serial, str):
        return BatteryId(gtin, serial), model_id
    dmc = src.text("identification.idDmc")
    try:
        return BatteryId.parse(dmc or ""), model_id
    except InvalidInput:
        raise src.bad(
            "identification.identification.codes",
            "no battery identifier: a GTIN code (key 'GTIN') with a serial (key 'partInstanceId'),"
            " or a GS1 Digital Link in idDmc, names the battery the passport is filed under",
        ) from None


def _category(src: Source) -> Category:
    raw = src.text("identification.category")
    if raw not in _CATEGORY:
        return parse_category(raw)  # raises: SLI, portable and incorporated batteries take no passport
    cat = _CATEGORY[raw]
    classes = src.items("identification.identification.classification")
    if cat is Category.INDUSTRIAL and any(
        isinstance(c, Mapping) and c.get("classificationID") == Category.STATIONARY.value for c in classes
    ):
        return Category.STATIONARY
    return cat


def _carbon_footprint(src: Source) -> None:
    stages: dict[str, float] = {}
    for n, fp in enumerate(src.items("sustainability.carbonFootprint")):
        path = f"sustainability.carbonFootprint[{n}]"
        if not isinstance(fp, Mapping) or fp.get("type") != "Climate Change Total":
            continue  # another impact category: batpass keeps climate change only (listed as ignored)
        unit = str(fp.get("unit", "")).replace(" ", "").lower()
        if unit not in _CF_UNITS:
            raise src.bad(f"{path}.unit", f"'{fp.get('unit')}' is not kg CO2e per kWh (Art. 7(1), Annex II)")
        value = src.as_number(f"{path}.value", fp.get("value"))
        stage = str(fp.get("lifecycle", "")).strip().lower()
        if stage == "total":
            src.put(f"{path}.value", "carbon_footprint", {"value": value, "unit": "kgCO2e/kWh"})
            if fp.get("performanceClass"):
                src.put(f"{path}.performanceClass", "carbon_footprint_class", fp["performanceClass"])
            rulebook = fp.get("rulebook") or []
            if rulebook and isinstance(rulebook[0], Mapping) and rulebook[0].get("content"):
                src.put(f"{path}.rulebook[0].content", "carbon_footprint_study", rulebook[0]["content"])
        elif stage in STAGE_NAMES:
            stages[STAGE_NAMES[stage]] = value
        else:
            raise src.bad(
                f"{path}.lifecycle",
                f"'{fp.get('lifecycle')}' is not 'total' or an Annex II life-cycle stage ({', '.join(STAGE_NAMES)})",
            )
        src.read.add(path)
    if stages:
        src.put("sustainability.carbonFootprint", "carbon_footprint_stages", stages)


def _recycled(src: Source) -> None:
    """Recycled content from the pre-/post-consumer split the export documents beside each
    element's ``recycled`` share (a share without the split is not read: listed as ignored)."""
    nodes: list[tuple[str, str, Any]] = [
        (el, f"materials.active.{el}", src.get(f"materials.active.{el}", mark=False))
        for el in ("nickel", "lithium", "cobalt", "lead")
    ]
    for n, rec in enumerate(src.items("materials.active.other")):
        ids = rec.get("materialIdentification") if isinstance(rec, Mapping) else None
        name = ids[0].get("name") if isinstance(ids, list) and ids and isinstance(ids[0], Mapping) else None
        if isinstance(name, str) and name:
            nodes.append((name.lower(), f"materials.active.other[{n}]", rec))
    shares: dict[str, Any] = {}
    for el, base, node in nodes:
        docs = node.get("documentation") if isinstance(node, Mapping) else None
        for n, doc in enumerate(docs if isinstance(docs, list) else []):
            rec = _record(src, f"{base}.documentation[{n}]", doc)
            if {"preConsumer", "postConsumer"} <= set(rec):
                pre = src.as_number(f"{base}.documentation[{n}].preConsumer", rec["preConsumer"])
                post = src.as_number(f"{base}.documentation[{n}].postConsumer", rec["postConsumer"])
                shares[el] = {"pre": round(pre / 100, 12), "post": round(post / 100, 12)}
        if el in ("nickel", "lithium", "cobalt", "lead"):
            for leaf in ("location", "critical", "documentation", *(("recycled",) if el in shares else ())):
                src.get(f"{base}.{leaf}")
    if shares:
        src.put("materials.active", "recycled_content", shares)
    crit = [el for el in ("nickel", "lithium", "cobalt") if src.get(f"materials.active.{el}.critical") is True]
    if crit and "critical_raw_materials" not in src.values:
        src.put("materials.active", "critical_raw_materials", crit)


def _hazardous(src: Source) -> None:
    out = []
    for n, rec in enumerate(src.items("materials.hazardous.other")):
        path = f"materials.hazardous.other[{n}]"
        if not isinstance(rec, Mapping):
            raise src.bad(path, "expected an object")
        ids = rec.get("materialIdentification") or [{}]
        ident = ids[0] if isinstance(ids[0], Mapping) else {}
        conc = src.as_number(f"{path}.concentration", rec.get("concentration"))
        pct = convert(conc, rec.get("materialUnit"), "%", field=src.where(f"{path}.materialUnit"), rule=RULE)
        item: dict[str, Any] = {"name": ident.get("name", ""), "cas": ident.get("id", ""), "concentration_pct": pct}
        impacts = rec.get("impactOfSubstances") or []
        if impacts and isinstance(impacts[0], Mapping) and impacts[0].get("contentType") == "text/plain":
            item["hazard_class"] = impacts[0].get("content", "")
        item["location"] = rec.get("location", "")
        out.append(item)
    src.read.add("materials.hazardous.other")
    for haz in ("cadmium", "mercury", "lead"):
        for leaf in ("location", "critical", "impactOfSubstances", "documentation", "recycled"):
            src.get(f"materials.hazardous.{haz}.{leaf}")
    if out and "hazardous_substances" not in src.values:
        src.put("materials.hazardous.other", "hazardous_substances", out)


def _composition(src: Source) -> None:
    weight = src.values.get("weight")
    groups: dict[str, list[dict[str, Any]]] = {}
    for n, rec in enumerate(src.items("materials.composition")):
        path = f"materials.composition[{n}]"
        if not isinstance(rec, Mapping):
            raise src.bad(path, "expected an object")
        loc = str(rec.get("location", "")).lower()
        if loc not in _COMPOSITION:
            raise src.bad(
                f"{path}.location",
                f"'{rec.get('location')}': batpass keeps the composition of the cathode, anode and electrolyte"
                " (Annex XIII (2)(a))",
            )
        ids = rec.get("id") or [{}]
        ident = ids[0] if isinstance(ids[0], Mapping) else {}
        item: dict[str, Any] = {"material": ident.get("name", ""), "cas": ident.get("id", "")}
        conc = src.as_number(f"{path}.concentration", rec.get("concentration"))
        pct = convert(conc, rec.get("unit"), "%", field=src.where(f"{path}.unit"), rule=RULE)
        if weight is not None and pct:
            item["mass_kg"] = round(pct / 100 * weight.value, 9)
        groups.setdefault(_COMPOSITION[loc], []).append(item)
    src.read.add("materials.composition")
    for key, records in groups.items():
        if key not in src.values:  # the export's lossless copy (sources) wins
            src.put("materials.composition", key, records)


def _documents(src: Source) -> None:
    """``manufacturer_documents``: the documents of the aspect's lists :data:`DOCUMENT_SLOTS` names."""
    out = []
    for kind, path in DOCUMENT_SLOTS.items():
        for n, doc in enumerate(src.items(path)):
            if not isinstance(doc, Mapping) or not isinstance(doc.get("content"), str):
                raise src.bad(f"{path}[{n}].content", "expected a document with a text content")
            out.append({"kind": kind, "title": str(doc.get("header", "")), "url": doc["content"]})
    if out:
        src.put("(documents)", "manufacturer_documents", out)


def _extra_sources(src: Source) -> None:
    """Data points the export writes as ``sources`` ``{dataPoint, value}`` (no slot in the model)."""
    for n, doc in enumerate(src.items("sources")):
        rec = _record(src, f"sources[{n}]", doc)
        if set(rec) == {"dataPoint", "value"} and rec["dataPoint"] in SOURCE_KEYS:
            src.put(f"sources[{n}].content", str(rec["dataPoint"]), rec["value"])


def read_catenax(doc: Any) -> ImportedPassport:
    """The passport a battery_pass 6.1.0 document describes (validated first)."""
    if not isinstance(doc, Mapping):
        raise InvalidInput("(root): expected a JSON object", field="(root)", rule=RULE)
    validate_catenax(doc)
    src = Source(doc, rule=f"{RULE} (batpass import)")
    battery, model_id = _battery(src)
    category = _category(src)
    raw_status = src.text("sustainability.status") or "original"
    status = Status(raw_status)
    for entry in MAPPING:
        if entry.path != "sources":
            _entry(src, entry)
    _extra_sources(src)
    _entry(src, next(e for e in MAPPING if e.path == "sources"))
    _documents(src)
    facilities = src.items("operation.manufacturer.facility")
    if facilities and isinstance(facilities[0], Mapping) and facilities[0].get("facility") not in _NO_BPN:
        src.put("operation.manufacturer.facility[0].facility", "manufacturing_facility", facilities[0]["facility"])
    _carbon_footprint(src)
    _recycled(src)
    _hazardous(src)
    _composition(src)
    parts = src.items("handling.content.sparePart")
    if parts:
        src.put(
            "handling.content.sparePart",
            "part_numbers",
            [
                {"part": p.get("nameAtManufacturer", ""), "number": p.get("manufacturerPartId", "")}
                for p in parts
                if isinstance(p, Mapping)
            ],
        )
    for known in ("specVersion", "metadata", "commercial.purpose", "handling", "identification", "operation"):
        src.read.add(known)
    return ImportedPassport(
        format="catenax",
        battery=battery,
        category=category,
        model_id=model_id or str(src.values.get("model_name") or battery.gtin),
        status=status,
        values=src.values,
        dynamic=src.dynamic,
        dynamic_at=max(src.times) if src.times else None,
        source_id=passport_uuid(src.get("metadata.passportIdentifier")),
        ignored=src.unread(),
    )
