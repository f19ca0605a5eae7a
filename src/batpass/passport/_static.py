"""What a passport is built from besides its own records: the static product data of a battery
model (YAML or JSON, checked against ``_data/static-product-data.schema.json``; docs/passport-static-data.md)
and the data points an upstream summary and a footprint give (origin, recycled content, carbon
footprint). Pure: no SQL, no HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import yaml

from batpass.core.errors import InvalidInput
from batpass.ledger import UpstreamSummary
from batpass.passport.model import FIELDS_BY_KEY, Category, Quantity, coerce_value, parse_category, parse_values

__all__ = ["ELEMENT_NAMES", "StaticProductData", "load_static_product_data", "summary_values"]

_SCHEMA_PATH = Path(__file__).parent / "_data" / "static-product-data.schema.json"
_SCHEMA: dict[str, Any] | None = None


#: element symbols of the upstream summary (docs/contracts.md) and the names the passport uses
ELEMENT_NAMES: Mapping[str, str] = {
    "Li": "lithium",
    "Co": "cobalt",
    "Ni": "nickel",
    "Mn": "manganese",
    "C_nat": "natural graphite",
    "C_syn": "synthetic graphite",
    "Cu": "copper",
    "Al": "aluminium",
    "Pb": "lead",
}


def _schema() -> dict[str, Any]:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = json.loads(_SCHEMA_PATH.read_text(encoding="utf-8"))
    return _SCHEMA


@dataclass(frozen=True, slots=True)
class StaticProductData:
    """Model-level data of one battery model (``docs/passport-static-data.md``)."""

    model_id: str
    category: Category
    gtin: str
    values: Mapping[str, Any]


_VALIDATOR: Any = None


def _validator() -> Any:
    """The schema's validator, built once (building it resolved the schema again for each build)."""
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = jsonschema.Draft202012Validator(_schema())
    return _VALIDATOR


#: documents the schema accepted, by their content (:func:`_content_key`): a fleet's passports
#: are built from one model's data again and again, and the schema's answer is the same for the
#: same content; a changed document has another key and is validated again
_VALID: dict[Any, None] = {}
_VALID_MAX = 64


def _content_key(value: Any) -> Any:
    """``value`` as a hashable key that tells apart every two values the schema may judge apart:
    an object from an array, 1 from 1.0 and from True, a key 1 from a key "1", a date from its
    text (YAML reads dates)."""
    if isinstance(value, dict):
        return ("o", tuple(((type(k), k), _content_key(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (type(value), tuple(_content_key(v) for v in value))
    return (type(value), value)


def _schema_errors(raw: Any) -> list[Any]:
    """The schema's errors for ``raw``, in path order; a document it accepted before is not
    validated again (an unhashable value, a set say, is validated each time)."""
    try:
        key = _content_key(raw)
        hash(key)
    except TypeError:
        key = None
    if key is not None and key in _VALID:
        return []
    errors = sorted(_validator().iter_errors(raw), key=lambda e: list(e.absolute_path))
    if not errors and key is not None:
        if len(_VALID) >= _VALID_MAX:  # a node serves a few models: start afresh (one step, thread-safe)
            _VALID.clear()
        _VALID[key] = None
    return errors


def load_static_product_data(source: str | Path | Mapping[str, Any]) -> StaticProductData:
    """Parse static product data strictly: JSON Schema first, then each data point's rule."""
    if isinstance(source, Mapping):
        raw: Any = source
    else:
        text = Path(source).read_text(encoding="utf-8") if isinstance(source, Path) else source
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"static product data is not YAML: {exc}", rule="YAML 1.1") from exc
    errors = _schema_errors(raw)
    if errors:
        err = errors[0]
        path = ".".join(str(p) for p in err.absolute_path) or "(root)"
        if path == "category" or (err.validator == "enum" and "category" in path):
            parse_category(raw.get("category") if isinstance(raw, Mapping) else None)
        raise InvalidInput(
            f"{path}: {err.message}",
            field=path,
            rule="static-product-data.schema.json (docs/passport-static-data.md)",
        )
    category = parse_category(raw["category"])
    values = parse_values(raw["values"])
    for key, _v in values.items():
        if FIELDS_BY_KEY[key].level.value == "item":
            raise InvalidInput(
                f"values.{key}: item-level data point, given per battery when the passport is built",
                field=f"values.{key}",
                rule=f"{FIELDS_BY_KEY[key].source} (item level)",
            )
    return StaticProductData(model_id=raw["model_id"], category=category, gtin=raw["gtin"], values=values)


#: the basis of a battery's own recycled shares (its upstream summary's, by mass balance)
BATTERY_MASS_BALANCE = "battery_mass_balance"


def _share(x: float | None) -> float | None:
    return None if x is None else float(x)


def summary_values(
    summary: UpstreamSummary | None, footprint: Mapping[str, Any] | None, *, art8: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Data points taken from an upstream summary (docs/contracts.md), the Art. 8 recycled
    content and a footprint.

    ``material_origin`` <- each element's mined origin by country; ``mined_site_status`` <- the
    shares of its mined part from certified, flagged or unknown sites (``cahra_findings``: the
    CAHRA edition each operator's finding was made against, and its share); ``recycled_content``
    <- the Art. 8 figure of the battery's model and batch per plant (``art8``, the ledger's
    ``recycled_content_of``; basis ``art8_model_batch_plant``), else the summary's per-battery
    recycled shares labelled ``battery_mass_balance``: per metal ``pre``, ``post`` (None where
    unknown, never 0), ``basis`` and ``unknown_mass_share``; ``carbon_footprint`` and
    ``carbon_footprint_stages`` <- the footprint given, else the summary's (``kg_co2e_per_kwh``,
    ``stages`` in kg CO2e/kWh, a stage not provided stays absent, never zero);
    ``carbon_footprint_absolute`` <- its ``kg_co2e_per_battery``.
    """
    out: dict[str, Any] = {}
    if summary is not None:
        origin: dict[str, Any] = {}
        recycled: dict[str, Any] = {}
        sites: dict[str, Any] = {}
        for sym, el in sorted(summary.elements.items()):
            name = ELEMENT_NAMES.get(sym, sym)
            if el.mined_by_country:  # mined origin only (summary 2.0): a recycler is no origin
                origin[name] = {c: float(v) for c, v in sorted(el.mined_by_country.items())}
            recycled[name] = {
                "pre": _share(el.recycled.pre_consumer),
                "post": _share(el.recycled.post_consumer),
                "basis": BATTERY_MASS_BALANCE,
                "unknown_mass_share": _share(el.unknown_share),
            }
            s = el.sites
            if s.certified is not None and s.flagged is not None and s.unknown is not None:
                sites[name] = {
                    "certified": float(s.certified),
                    "flagged": float(s.flagged),
                    "unknown": float(s.unknown),
                }
                if s.findings:  # the CAHRA edition each finding was made against, and its share
                    sites[name]["cahra_findings"] = [
                        {"dataset": f.dataset, "date": f.date, "share": float(f.share)} for f in s.findings
                    ]
        if origin:
            out["material_origin"] = origin
        if sites:  # which share of each mined part comes from certified, flagged or unknown sites
            out["mined_site_status"] = sites
        if recycled and art8 is None:
            out["recycled_content"] = coerce_value(FIELDS_BY_KEY["recycled_content"], recycled)
    if art8 is not None:
        figures = {
            ELEMENT_NAMES.get(sym, sym): {
                "pre": _share(f["pre_consumer"]),
                "post": _share(f["post_consumer"]),
                "basis": f["basis"],
                "unknown_mass_share": _share(f["unknown_mass_share"]),
            }
            for sym, f in sorted(art8["elements"].items())
        }
        if figures:
            out["recycled_content"] = coerce_value(FIELDS_BY_KEY["recycled_content"], figures)
    fp = footprint if footprint is not None else (summary.footprint if summary is not None else None)
    if fp:
        total = fp.get("kg_co2e_per_kwh")
        if total is not None:
            out["carbon_footprint"] = Quantity(float(total), "kgCO2e/kWh")
        absolute = fp.get("kg_co2e_per_battery")
        if absolute is not None:
            out["carbon_footprint_absolute"] = Quantity(float(absolute), "kgCO2e")
        stages = {k: float(v) for k, v in (fp.get("stages") or {}).items() if v is not None}
        if stages:
            out["carbon_footprint_stages"] = stages
        if fp.get("study"):
            out["carbon_footprint_study"] = fp["study"]
    return out
