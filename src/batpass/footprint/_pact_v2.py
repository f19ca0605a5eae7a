"""PACT v2.3 ⇄ PACT v3 ProductFootprint documents, each converted value stated in the document.

Sources: PACT Technical Specifications v2.3 (the conformance tool's ``openapi_v2_3.yaml``,
info.version 2.3.3) and v3 (bundled ``_data/pact-openapi-3.0.4.yaml``). The node keeps one store of
v3 documents; the v2.3 API serves them converted, and a footprint given as v2 is kept as given (for
the v2 API) and served as v3 converted. Nothing is converted silently: every value whose number,
unit or scale changes is listed — property, value before and after, and the rule — in a Data
Model Extension (``DataModelExtension``, both versions: ``specVersion``, ``dataSchema``, ``data``)
whose schema the node serves at :func:`extension_schema_url`, and ``comment`` says in one sentence
that the document was converted. What the other version cannot carry is listed in ``notCarried``
with the reason, never dropped without a word.

The rules (one place, :data:`RULES`):

* amounts: v2 emission and carbon-content values are per declared unit (``kgCO2e / declaredUnit``)
  and ``unitaryProductAmount`` is informational; v3 values are for ``declaredUnitAmount`` units:
  v3 = v2 × amount, v2 = v3 ÷ amount (the mass: v2 ``productMassPerDeclaredUnit`` is per unit, v3
  for the declared amount, the same rule);
* units: v2 has no ``piece``; a v3 footprint per piece is served in v2 per kilogram through its
  ``productMassPerDeclaredUnit`` (v2 per kg = v3 value ÷ the mass of the declared amount); one
  without a mass cannot be expressed in v2 and is not offered there (``hour`` and
  ``megabit second`` neither);
* data quality ratings: v2 rates 1–3, v3 1–5, both lower is better, linear: ``x5 = 1 + 2 (x3 − 1)``
  and ``x3 = 1 + (x5 − 1) / 2`` (1↔1, 2↔3, 3↔5). v2's ``dqi`` also needs coverage, completeness
  and reliability, which v3 does not rate, so a v3 ``dqi`` is not carried into v2 (its converted
  values are stated in the extension), and v2's three extra ratings are stated, not carried, in v3.

This module knows the two wire formats only; no store, no HTTP.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from batpass.core.errors import InvalidInput

__all__ = [
    "EXTENSION_NAME",
    "EXTENSION_SCHEMA",
    "RULES",
    "V2_SPEC_VERSION",
    "extension_schema_url",
    "v2_to_v3",
    "v3_to_v2",
]

V2_SPEC_VERSION = "2.3.0"
V3_SPEC_VERSION = "3.0.0"
#: the Data Model Extension that states the conversions (its schema is served by the node)
EXTENSION_NAME = "batpass-pact-conversion"
EXTENSION_VERSION = "1.0.0"
#: Data Model Extensions specification version the extension follows
EXTENSIONS_SPEC_VERSION = "2.0.0"

RULES = {
    "amount": "PACT v3 values are for declaredUnitAmount units, PACT v2 values per declared unit: v3 = v2 × {amount}",
    "amount_back": "PACT v2 values are per declared unit, PACT v3 values for declaredUnitAmount units: "
    "v2 = v3 ÷ {amount}",
    "piece": (
        "PACT v2 has no declared unit 'piece': served per kilogram, v2 = v3 ÷ productMassPerDeclaredUnit "
        "({mass} kg for {amount} piece(s))"
    ),
    "dqr_up": "data quality rating, PACT v2 scale 1–3 → PACT v3 scale 1–5, linear, lower is better: "
    "x5 = 1 + 2 (x3 − 1)",
    "dqr_down": "data quality rating, PACT v3 scale 1–5 → PACT v2 scale 1–3, linear, lower is better: "
    "x3 = 1 + (x5 − 1) / 2",
}

#: CarbonFootprint values per declared unit (v2) / for the declared amount (v3): v2 name → v3 name
AMOUNT_FIELDS: tuple[tuple[str, str], ...] = (
    ("pCfExcludingBiogenic", "pcfExcludingBiogenicUptake"),
    ("pCfIncludingBiogenic", "pcfIncludingBiogenicUptake"),
    ("fossilGhgEmissions", "fossilGhgEmissions"),
    ("fossilCarbonContent", "fossilCarbonContent"),
    ("biogenicCarbonContent", "biogenicCarbonContent"),
    ("aircraftGhgEmissions", "aircraftGhgEmissions"),
    ("packagingGhgEmissions", "packagingGhgEmissions"),
    ("productMassPerDeclaredUnit", "productMassPerDeclaredUnit"),
)
#: CarbonFootprint members with the same name, meaning and unit in both versions
SAME_PCF = (
    "referencePeriodStart",
    "referencePeriodEnd",
    "geographyRegionOrSubregion",
    "geographyCountry",
    "geographyCountrySubdivision",
    "boundaryProcessesDescription",
    "exemptedEmissionsDescription",
    "allocationRulesDescription",
    "packagingEmissionsIncluded",
    "secondaryEmissionFactorSources",
    "productOrSectorSpecificRules",
)
#: ProductFootprint members with the same name and meaning in both versions
SAME_PF = (
    "id",
    "created",
    "updated",
    "status",
    "statusComment",
    "validityPeriodStart",
    "validityPeriodEnd",
    "companyName",
    "companyIds",
    "productDescription",
    "productIds",
    "productClassifications",
    "productNameCompany",
    "precedingPfIds",
    "version",
)
DQR = ("technologicalDQR", "geographicalDQR", "temporalDQR")
V2_ONLY_DQR = ("completenessDQR", "reliabilityDQR", "coveragePercent")
#: v2.3 crossSectoralStandardsUsed enum ⇄ v3 crossSectoralStandards enum
STANDARDS_V2_V3 = {
    "GHG Protocol Product standard": "GHGP-Product",
    "ISO Standard 14067": "ISO14067",
    "ISO Standard 14044": "ISO14040-44",
}
STANDARDS_V3_V2 = {v: k for k, v in STANDARDS_V2_V3.items()}
#: v3 verification.coverage → v2 assurance.coverage (the one value both enums share)
COVERAGE_V3_V2 = {"product level": "product level"}
UN_CPC = "urn:pact:productclassification:un-cpc:"
V2_UNITS = ("liter", "kilogram", "cubic meter", "kilowatt hour", "megajoule", "ton kilometer", "square meter")


def extension_schema_url(base_url: str) -> str:
    """Where a node serves the conversion extension's JSON Schema (public, no token)."""
    return f"{base_url.rstrip('/')}/pact/extensions/{EXTENSION_NAME}/{EXTENSION_VERSION}/schema.json"


#: the JSON Schema of the extension's ``data`` (served at :func:`extension_schema_url`)
EXTENSION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "batpass PACT version conversion",
    "description": (
        "States every value of a PACT ProductFootprint converted between Technical Specifications versions "
        "(v2.3 and v3): the property, the value before and after, and the rule; and what the other version "
        "cannot carry."
    ),
    "type": "object",
    "required": ["convertedFrom", "convertedTo", "conversions", "notCarried"],
    "properties": {
        "convertedFrom": {"type": "string", "description": "specVersion of the document as it was given"},
        "convertedTo": {"type": "string", "description": "specVersion of this document"},
        "conversions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["property", "from", "to", "rule"],
                "properties": {
                    "property": {"type": "string", "description": "the property in this document (dotted path)"},
                    "sourceProperty": {"type": "string", "description": "the property in the given document"},
                    "from": {"description": "the value as given"},
                    "to": {"description": "the value in this document"},
                    "rule": {"type": "string"},
                },
            },
        },
        "notCarried": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["property", "value", "reason"],
                "properties": {
                    "property": {"type": "string", "description": "the property in the given document"},
                    "value": {"description": "its value there"},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}


def _dec(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise InvalidInput(f"{field} is not a number", field=field, rule="PACT decimal")
    try:
        out = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"{field} {value!r} is not a decimal", field=field, rule="PACT decimal") from exc
    if not out.is_finite():
        raise InvalidInput(f"{field} {value!r} is not finite", field=field, rule="PACT decimal")
    return out


def _fmt(value: Decimal) -> str:
    """A decimal as PACT writes it (a string, no exponent, no trailing zeros); divisions are
    rounded to 12 significant digits first."""
    text = format(value.normalize(), "f")
    return text if text not in ("-0", "") else "0"


def _div(a: Decimal, b: Decimal) -> Decimal:
    return (a / b).quantize(Decimal(1).scaleb((a / b).adjusted() - 11)) if a else Decimal(0)


class _Record:
    def __init__(self, given: str, to: str) -> None:
        self.given, self.to = given, to
        self.conversions: list[dict[str, Any]] = []
        self.not_carried: list[dict[str, Any]] = []

    def converted(self, prop: str, before: Any, after: Any, rule: str, *, source: str | None = None) -> None:
        row: dict[str, Any] = {"property": prop}
        if source is not None and source != prop:
            row["sourceProperty"] = source
        row |= {"from": before, "to": after, "rule": rule}
        self.conversions.append(row)

    def dropped(self, prop: str, value: Any, reason: str) -> None:
        self.not_carried.append({"property": prop, "value": value, "reason": reason})

    def extension(self, base_url: str) -> dict[str, Any]:
        return {
            "specVersion": EXTENSIONS_SPEC_VERSION,
            "dataSchema": extension_schema_url(base_url),
            "data": {
                "convertedFrom": self.given,
                "convertedTo": self.to,
                "conversions": self.conversions,
                "notCarried": self.not_carried,
            },
        }

    def sentence(self, node: str) -> str:
        return (
            f"Converted by {node} from PACT {self.given} to PACT {self.to}: {len(self.conversions)} value(s) "
            f"converted and {len(self.not_carried)} not carried, each with its rule in the {EXTENSION_NAME} "
            "extension."
        )


def _comment(original: Any, sentence: str) -> str:
    original = str(original or "").strip()
    return f"{original} [{sentence}]" if original else sentence


def v2_to_v3(doc: Mapping[str, Any], *, base_url: str) -> dict[str, Any]:
    """The PACT v3 ProductFootprint of a v2 one (the v2 document is assumed checked by
    :func:`batpass.footprint._pact.read_pact`)."""
    src = copy.deepcopy(dict(doc))
    pcf2: dict[str, Any] = src["pcf"]
    rec = _Record(str(src.get("specVersion")), V3_SPEC_VERSION)
    out: dict[str, Any] = {k: src[k] for k in SAME_PF if k in src}
    out["specVersion"] = V3_SPEC_VERSION
    amount = _dec(pcf2["unitaryProductAmount"], "pcf.unitaryProductAmount")
    pcf: dict[str, Any] = {
        "declaredUnitOfMeasurement": pcf2["declaredUnit"],
        "declaredUnitAmount": _fmt(amount),
    }
    rule = RULES["amount"].format(amount=_fmt(amount))
    for v2_name, v3_name in AMOUNT_FIELDS:
        if pcf2.get(v2_name) is None:
            continue
        given = pcf2[v2_name]
        value = _fmt(_dec(given, f"pcf.{v2_name}") * amount)
        pcf[v3_name] = value
        rec.converted(f"pcf.{v3_name}", given, value, rule, source=f"pcf.{v2_name}")
    if "pcfIncludingBiogenicUptake" not in pcf:
        # optional in v2, required in v3: without biogenic carbon the two are the same figure
        if _dec(pcf2.get("biogenicCarbonContent", "0"), "pcf.biogenicCarbonContent") != 0:
            raise InvalidInput(
                "pCfIncludingBiogenic is missing and the product holds biogenic carbon, so the PACT v3 "
                "pcfIncludingBiogenicUptake cannot be derived",
                field="pcf.pCfIncludingBiogenic",
                rule="PACT v3 CarbonFootprint.pcfIncludingBiogenicUptake required",
            )
        pcf["pcfIncludingBiogenicUptake"] = pcf["pcfExcludingBiogenicUptake"]
        rec.converted(
            "pcf.pcfIncludingBiogenicUptake",
            None,
            pcf["pcfIncludingBiogenicUptake"],
            "not given in PACT v2 (optional there), required in PACT v3: biogenicCarbonContent is 0, so the "
            "footprint including biogenic uptake equals pcfExcludingBiogenicUptake",
        )
    if "productMassPerDeclaredUnit" not in pcf:
        # v3 requires it; v2.3 leaves it optional. 0 is what v2.3 asks for when mass is not relevant
        pcf["productMassPerDeclaredUnit"] = "0"
        rec.converted(
            "pcf.productMassPerDeclaredUnit",
            None,
            "0",
            "not given in PACT v2 (optional there), required in PACT v3: 0, the value PACT v2.3 prescribes "
            "when the mass is not relevant",
        )
    for name in SAME_PCF:
        if pcf2.get(name) not in (None, ""):
            pcf[name] = pcf2[name]
    pcf["ipccCharacterizationFactors"] = list(pcf2.get("ipccCharacterizationFactorsSources") or ["AR6"])
    if pcf2.get("characterizationFactors") is not None:
        rec.dropped(
            "pcf.characterizationFactors",
            pcf2["characterizationFactors"],
            "deprecated in PACT v2.3 and removed in v3; ipccCharacterizationFactors carries the sources",
        )
    standards = []
    for s in pcf2.get("crossSectoralStandardsUsed") or ():
        if s in STANDARDS_V2_V3:
            standards.append(STANDARDS_V2_V3[s])
        else:
            rec.dropped("pcf.crossSectoralStandardsUsed", s, "no PACT v3 crossSectoralStandards value names it")
    pcf["crossSectoralStandards"] = standards or list(pcf2.get("crossSectoralStandards") or ["ISO14067"])
    for name in ("exemptedEmissionsPercent", "primaryDataShare"):
        if pcf2.get(name) is not None:
            pcf[name] = _fmt(_dec(pcf2[name], f"pcf.{name}"))  # a number in v2, a decimal string in v3
    dqi = pcf2.get("dqi")
    if isinstance(dqi, dict):
        pcf["dqi"] = {}
        for name in DQR:
            given = dqi.get(name)
            value = _fmt(1 + 2 * (_dec(given, f"pcf.dqi.{name}") - 1))
            pcf["dqi"][name] = value
            rec.converted(f"pcf.dqi.{name}", given, value, RULES["dqr_up"])
        for name in V2_ONLY_DQR:
            if dqi.get(name) is not None:
                rec.dropped(f"pcf.dqi.{name}", dqi[name], "PACT v3 DataQualityIndicators has no such rating")
    assurance = pcf2.get("assurance")
    if isinstance(assurance, dict) and assurance.get("assurance") and assurance.get("providerName"):
        ver = {k: assurance[k] for k in ("providerName", "completedAt", "standardName", "comments") if k in assurance}
        if assurance.get("coverage") == "product level":
            ver["coverage"] = "product level"
        elif assurance.get("coverage"):
            rec.dropped("pcf.assurance.coverage", assurance["coverage"], "not a PACT v3 verification coverage value")
        pcf["verification"] = ver
    for name in ("dLucGhgEmissions", "landManagementGhgEmissions", "otherBiogenicGhgEmissions", "iLucGhgEmissions"):
        if pcf2.get(name) is not None:
            rec.dropped(f"pcf.{name}", pcf2[name], "PACT v3 splits land-use emissions differently; not mapped")
    if pcf2.get("biogenicCarbonWithdrawal") is not None:
        rec.dropped("pcf.biogenicCarbonWithdrawal", pcf2["biogenicCarbonWithdrawal"], "no PACT v3 counterpart")
    if src.get("productCategoryCpc"):
        cpc = f"{UN_CPC}{src['productCategoryCpc']}"
        classes = list(out.get("productClassifications") or ())
        if cpc not in classes:
            classes.append(cpc)
            rec.converted(
                "productClassifications",
                src["productCategoryCpc"],
                cpc,
                "productCategoryCpc (deprecated in PACT v2.3) becomes a UN CPC classification URN in PACT v3",
                source="productCategoryCpc",
            )
        out["productClassifications"] = classes
    out["pcf"] = pcf
    out["extensions"] = [*(src.get("extensions") or ()), rec.extension(base_url)]
    out["comment"] = _comment(src.get("comment"), rec.sentence(base_url))
    return out


def v3_to_v2(doc: Mapping[str, Any], *, base_url: str) -> dict[str, Any] | None:
    """The PACT v2.3 ProductFootprint of a v3 one, or ``None`` when v2 cannot express it (a
    declared unit v2 lacks, with no mass to convert through)."""
    src = copy.deepcopy(dict(doc))
    pcf3: dict[str, Any] = src["pcf"]
    rec = _Record(str(src.get("specVersion")), V2_SPEC_VERSION)
    unit = pcf3["declaredUnitOfMeasurement"]
    amount = _dec(pcf3["declaredUnitAmount"], "pcf.declaredUnitAmount")
    mass = _dec(pcf3.get("productMassPerDeclaredUnit", "0"), "pcf.productMassPerDeclaredUnit")
    out: dict[str, Any] = {k: src[k] for k in SAME_PF if k in src}
    out["specVersion"] = V2_SPEC_VERSION
    pcf: dict[str, Any] = {}
    if unit in V2_UNITS:
        pcf["declaredUnit"] = unit
        pcf["unitaryProductAmount"] = _fmt(amount)
        divisor, rule = amount, RULES["amount_back"].format(amount=_fmt(amount))
    elif unit == "piece" and mass > 0:
        pcf["declaredUnit"] = "kilogram"
        pcf["unitaryProductAmount"] = _fmt(mass)
        divisor = mass
        rule = RULES["piece"].format(mass=_fmt(mass), amount=_fmt(amount))
        rec.converted("pcf.declaredUnit", unit, "kilogram", rule, source="pcf.declaredUnitOfMeasurement")
        rec.converted("pcf.unitaryProductAmount", _fmt(amount), _fmt(mass), rule, source="pcf.declaredUnitAmount")
    else:
        return None
    for v2_name, v3_name in AMOUNT_FIELDS:
        given = pcf3.get(v3_name)
        if given is None or (v2_name == "productMassPerDeclaredUnit" and unit == "piece"):
            continue
        value = _fmt(_div(_dec(given, f"pcf.{v3_name}"), divisor))
        pcf[v2_name] = value
        rec.converted(f"pcf.{v2_name}", given, value, rule, source=f"pcf.{v3_name}")
    if unit == "piece":
        pcf["productMassPerDeclaredUnit"] = "1"  # per kilogram, by definition (PACT v2.3)
    for name in ("biogenicCarbonContent",):
        if name not in pcf:
            pcf[name] = "0"
            rec.converted(
                f"pcf.{name}",
                None,
                "0",
                "not given in PACT v3 (optional there), required in PACT v2.3: 0 (no biogenic carbon stated)",
            )
    for name in SAME_PCF:
        if pcf3.get(name) is not None:
            pcf[name] = pcf3[name]
    pcf.setdefault("boundaryProcessesDescription", "")
    pcf.setdefault("exemptedEmissionsDescription", "")
    pcf.setdefault("packagingEmissionsIncluded", "packagingGhgEmissions" in pcf)
    sources = list(pcf3.get("ipccCharacterizationFactors") or ["AR6"])
    pcf["ipccCharacterizationFactorsSources"] = sources
    # v2.3's deprecated characterizationFactors: the earliest report used (AR5 or AR6 only)
    pcf["characterizationFactors"] = "AR5" if "AR5" in sources else "AR6"
    used = [STANDARDS_V3_V2[s] for s in pcf3.get("crossSectoralStandards") or () if s in STANDARDS_V3_V2]
    for s in pcf3.get("crossSectoralStandards") or ():
        if s not in STANDARDS_V3_V2:
            rec.dropped("pcf.crossSectoralStandards", s, "no PACT v2.3 crossSectoralStandardsUsed value names it")
    pcf["crossSectoralStandardsUsed"] = used or ["ISO Standard 14067"]
    if not used:
        rec.converted(
            "pcf.crossSectoralStandardsUsed",
            pcf3.get("crossSectoralStandards"),
            ["ISO Standard 14067"],
            "PACT v2.3 requires one of its three standards; none given maps, ISO 14067 (the PCF standard) stated",
        )
    pcf["exemptedEmissionsPercent"] = float(_dec(pcf3.get("exemptedEmissionsPercent", "0"), "exempted"))
    if pcf3.get("primaryDataShare") is not None:
        pcf["primaryDataShare"] = float(_dec(pcf3["primaryDataShare"], "pcf.primaryDataShare"))
    dqi = pcf3.get("dqi")
    if isinstance(dqi, dict):
        for name in DQR:
            given = dqi.get(name)
            value = _fmt(1 + (_dec(given, f"pcf.dqi.{name}") - 1) / 2)
            rec.dropped(
                f"pcf.dqi.{name}",
                given,
                f"PACT v2.3 DataQualityIndicators also requires completenessDQR, reliabilityDQR and coveragePercent, "
                f"which PACT v3 does not rate, so dqi is not served; on the v2 scale this rating is {value} "
                f"({RULES['dqr_down']})",
            )
    ver = pcf3.get("verification")
    if isinstance(ver, dict) and ver.get("providerName"):
        assurance: dict[str, Any] = {"assurance": True, "providerName": ver["providerName"]}
        for k in ("completedAt", "standardName", "comments"):
            if k in ver:
                assurance[k] = ver[k]
        if ver.get("coverage") in COVERAGE_V3_V2:
            assurance["coverage"] = COVERAGE_V3_V2[ver["coverage"]]
        elif ver.get("coverage"):
            rec.dropped("pcf.verification.coverage", ver["coverage"], "not a PACT v2.3 assurance coverage value")
        pcf["assurance"] = assurance
    out["pcf"] = pcf
    out.setdefault("version", 1)
    classes = list(src.get("productClassifications") or ())
    cpc = next((c[len(UN_CPC) :] for c in classes if c.lower().startswith(UN_CPC)), None)
    out["productCategoryCpc"] = cpc or "not provided"
    if cpc is None:
        rec.converted(
            "productCategoryCpc",
            None,
            "not provided",
            f"required in PACT v2.3 (deprecated there); taken from a {UN_CPC}<code> classification, and this "
            "footprint has none",
        )
    out["extensions"] = [*(src.get("extensions") or ()), rec.extension(base_url)]
    out["comment"] = _comment(src.get("comment"), rec.sentence(base_url))
    return out
