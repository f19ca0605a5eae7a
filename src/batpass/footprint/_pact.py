"""PACT v2 and v3 ProductFootprint ⇄ the normalised footprint: the mapping tables.

Sources: PACT v2 data model (sine-fdn/impact-protocols ``pact-data-model/schema/data-model-schema.json``:
``pCfExcludingBiogenic`` per declared unit, ``unitaryProductAmount``, DQRs 1–3,
``exemptedEmissionsPercent`` 0–5, ``primaryDataShare`` percent) and PACT v3 (wbcsd/pact-conformance-service
``src/schemas/openapi_v3_0.yaml``, bundled as ``_data/pact-openapi-3.0.4.yaml``: ``CarbonFootprint``:
``pcfExcludingBiogenicUptake`` for ``declaredUnitAmount`` units, DQRs 1–5); hence:
v2 product total = ``pCfExcludingBiogenic × unitaryProductAmount``; v3 is already for
``declaredUnitAmount`` units (300 kg CO2e/kg × 2,000 kg in v2 = 600,000 in v3).

PACT footprints are cradle-to-gate without an Annex II split: they are carried as one
"stage split not provided" value; distribution and end of life are not provided.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from batpass.core.errors import InvalidInput
from batpass.footprint.model import (
    DataQuality,
    DeclaredUnit,
    DqrScale,
    FootprintHeader,
    ProductFootprint,
    StageSplit,
    Verification,
)

HUNDRED = Decimal(100)

#: declared unit names, wire ⇄ normalised (v2 has no "piece"; v3 adds piece, hour, megabit second)
PACT_UNITS: dict[str, DeclaredUnit] = {
    "liter": DeclaredUnit.LITER,
    "kilogram": DeclaredUnit.KILOGRAM,
    "cubic meter": DeclaredUnit.CUBIC_METER,
    "kilowatt hour": DeclaredUnit.KILOWATT_HOUR,
    "megajoule": DeclaredUnit.MEGAJOULE,
    "ton kilometer": DeclaredUnit.TON_KILOMETER,
    "square meter": DeclaredUnit.SQUARE_METER,
    "piece": DeclaredUnit.PIECE,
}
PACT_UNIT_NAMES = {v: k for k, v in PACT_UNITS.items()}
V2_UNITS = frozenset(PACT_UNITS) - {"piece"}

#: the exemption cap of PACT v2; PACT v3 states no cap there
EXEMPTION_CAP_V2 = Decimal(5)  # percent, PACT v2 ExemptedEmissionsPercent maximum 5
#: reference periods including this year or later must give the primary data share
PRIMARY_DATA_SHARE_FROM_YEAR = 2025

#: field names per version (one place)
FIELDS = {
    2: {
        "unit": "declaredUnit",
        "amount": "unitaryProductAmount",
        "pcf": "pCfExcludingBiogenic",
        "dqi": "dqi",
        "verification": "assurance",
        "standards": "crossSectoralStandardsUsed",
    },
    3: {
        "unit": "declaredUnitOfMeasurement",
        "amount": "declaredUnitAmount",
        "pcf": "pcfExcludingBiogenicUptake",
        "dqi": "dqi",
        "verification": "verification",
        "standards": "crossSectoralStandards",
    },
}


def _dec(value: Any, field: str, rule: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise InvalidInput(f"{field} is missing or not a number", field=field, rule=rule, value=value)
    try:
        out = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"{field} {value!r} is not a decimal", field=field, rule=rule, value=value) from exc
    if not out.is_finite():
        raise InvalidInput(f"{field} {value!r} is not finite", field=field, rule=rule, value=value)
    return out


def _time(value: Any, field: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(
            f"{field} {value!r} is not an RFC 3339 date-time", field=field, rule="date-time", value=value
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fmt(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def _version_of(doc: dict[str, Any]) -> int:
    spec = str(doc.get("specVersion", ""))
    if spec.startswith("2."):
        return 2
    if spec.startswith("3."):
        return 3
    raise InvalidInput(f"specVersion {spec!r} is neither 2.x nor 3.x", field="specVersion", rule="PACT specVersion")


def read_pact(doc: dict[str, Any], *, expect: int | None = None) -> ProductFootprint:
    """Read a PACT ProductFootprint (v2 or v3). ``expect`` refuses the other version."""
    if not isinstance(doc, dict) or not isinstance(doc.get("pcf"), dict):
        raise InvalidInput(
            "a ProductFootprint needs a pcf object", field="pcf", rule="PACT ProductFootprint.pcf required"
        )
    version = _version_of(doc)
    pcf = doc["pcf"]
    if expect == 3 and (version == 2 or "unitaryProductAmount" in pcf or "pCfExcludingBiogenic" in pcf):
        raise InvalidInput(
            "this is a PACT v2 document (specVersion 2.x, unitaryProductAmount / pCfExcludingBiogenic); read it as v2",
            field="specVersion" if version == 2 else "pcf.unitaryProductAmount",
            rule="PACT v3 CarbonFootprint: declaredUnitAmount and pcfExcludingBiogenicUptake "
            "(v2 per-unit values are not v3 totals)",
            value=doc.get("specVersion"),
        )
    if expect == 2 and version == 3:
        raise InvalidInput(
            "this is a PACT v3 document; read it as v3",
            field="specVersion",
            rule="PACT v2 ProductFootprint",
            value=doc.get("specVersion"),
        )
    names = FIELDS[version]
    rule_v = f"PACT v{version} CarbonFootprint"

    unit_name = pcf.get(names["unit"])
    allowed = V2_UNITS if version == 2 else frozenset(PACT_UNITS)
    if unit_name not in allowed:
        raise InvalidInput(
            f"declared unit {unit_name!r} is not one of {sorted(allowed)}",
            field=f"pcf.{names['unit']}",
            rule=f"{rule_v}.{names['unit']} enum",
            value=unit_name,
        )
    amount = _dec(pcf.get(names["amount"]), f"pcf.{names['amount']}", f"{rule_v}.{names['amount']} > 0")
    if amount <= 0:
        raise InvalidInput(
            f"{names['amount']} is {amount}, must be > 0",
            field=f"pcf.{names['amount']}",
            rule=f"{rule_v}.{names['amount']} > 0",
            value=str(amount),
        )
    value = _dec(pcf.get(names["pcf"]), f"pcf.{names['pcf']}", f"{rule_v}.{names['pcf']}")
    # v2: per declared unit; v3: for declaredUnitAmount units (PACT Technical Specifications v2, v3)
    per_unit = value if version == 2 else value / amount

    start = _time(pcf.get("referencePeriodStart"), "pcf.referencePeriodStart")
    end = _time(pcf.get("referencePeriodEnd"), "pcf.referencePeriodEnd")
    if start is None or end is None:
        raise InvalidInput(
            "the reference period is missing",
            field="pcf.referencePeriodStart" if start is None else "pcf.referencePeriodEnd",
            rule=f"{rule_v}.referencePeriodStart/End required",
        )

    exempted = pcf.get("exemptedEmissionsPercent")
    exempted_share: Decimal | None = None
    if exempted is not None:
        pct = _dec(exempted, "pcf.exemptedEmissionsPercent", rule_v)
        if pct < 0 or (version == 2 and pct > EXEMPTION_CAP_V2):
            raise InvalidInput(
                f"exempted emissions {pct} % exceed the cap of {EXEMPTION_CAP_V2} %"
                if pct > 0
                else "exempted emissions are negative",
                field="pcf.exemptedEmissionsPercent",
                rule="exempted emissions ≤ 5 % (PACT v2)",
                value=str(pct),
            )
        if pct > HUNDRED:
            raise InvalidInput(
                "exempted emissions above 100 %", field="pcf.exemptedEmissionsPercent", rule="percent 0–100"
            )
        exempted_share = pct / HUNDRED

    pds_raw = pcf.get("primaryDataShare")
    pds: Decimal | None = None
    if pds_raw is not None:
        pct = _dec(pds_raw, "pcf.primaryDataShare", rule_v)
        if not (0 <= pct <= HUNDRED):
            raise InvalidInput(
                f"primaryDataShare {pct} is outside 0–100",
                field="pcf.primaryDataShare",
                rule=f"{rule_v}.primaryDataShare percent",
                value=str(pct),
            )
        pds = pct / HUNDRED
    elif end.year >= PRIMARY_DATA_SHARE_FROM_YEAR:
        raise InvalidInput(
            "primaryDataShare is missing for a reference period including 2025 or later",
            field="pcf.primaryDataShare",
            rule="primary data share mandatory from reference periods including 2025 (PACT)",
        )

    dqr: DataQuality | None = None
    dqi = pcf.get("dqi")
    if isinstance(dqi, dict):
        scale = DqrScale.ONE_TO_THREE if version == 2 else DqrScale.ONE_TO_FIVE
        dqr = DataQuality(
            _dec(dqi.get("technologicalDQR"), "pcf.dqi.technologicalDQR", rule_v),
            _dec(dqi.get("geographicalDQR"), "pcf.dqi.geographicalDQR", rule_v),
            _dec(dqi.get("temporalDQR"), "pcf.dqi.temporalDQR", rule_v),
            scale,
        )

    verification: Verification | None = None
    ver = pcf.get(names["verification"])
    if isinstance(ver, dict) and ver.get("providerName"):
        verification = Verification(
            provider=str(ver["providerName"]),
            standard=ver.get("standardName"),
            coverage=ver.get("coverage"),
            completed_at=_time(ver.get("completedAt"), f"pcf.{names['verification']}.completedAt"),
        )
    mass = pcf.get("productMassPerDeclaredUnit")
    geography = (
        pcf.get("geographyCountry") or pcf.get("geographyCountrySubdivision") or pcf.get("geographyRegionOrSubregion")
    )
    created = _time(doc.get("created"), "created") or start
    header = FootprintHeader(
        id=str(doc.get("id", "")),
        product_ids=tuple(doc.get("productIds") or ()),
        product_name=str(doc.get("productNameCompany", "")),
        company_name=str(doc.get("companyName", "")),
        company_ids=tuple(doc.get("companyIds") or ()),
        reference_period_start=start,
        reference_period_end=end,
        created=created,
        product_description=str(doc.get("productDescription", "")),
        classifications=tuple(doc.get("productClassifications") or ()),
        geography=geography,
        standards=tuple(pcf.get(names["standards"]) or ()),
        method=f"PACT-{version}",
        status=str(doc.get("status", "Active")),
        validity_start=_time(doc.get("validityPeriodStart"), "validityPeriodStart"),
        validity_end=_time(doc.get("validityPeriodEnd"), "validityPeriodEnd"),
        comment=str(doc.get("comment", "")),
    )
    return ProductFootprint(
        header=header,
        declared_unit=PACT_UNITS[unit_name],
        declared_unit_amount=amount,
        per_unit=per_unit,
        stages=StageSplit(unsplit=per_unit),
        mass_per_declared_unit_kg=None if mass is None else _dec(mass, "pcf.productMassPerDeclaredUnit", rule_v),
        primary_data_share=pds,
        dqr=dqr,
        exempted_share=exempted_share,
        verification=verification,
        source=f"pact-v{version}",
    )


def write_pact_v3(fp: ProductFootprint) -> dict[str, Any]:
    """The PACT v3 ProductFootprint of ``fp`` (``pcfExcludingBiogenicUptake`` for ``declaredUnitAmount`` units)."""
    h = fp.header
    total = _fmt(fp.total)
    pcf: dict[str, Any] = {
        "declaredUnitOfMeasurement": PACT_UNIT_NAMES[fp.declared_unit],
        "declaredUnitAmount": _fmt(fp.declared_unit_amount),
        "productMassPerDeclaredUnit": _fmt(fp.mass_per_declared_unit_kg or Decimal(0)),
        "referencePeriodStart": _iso(h.reference_period_start),
        "referencePeriodEnd": _iso(h.reference_period_end),
        "pcfExcludingBiogenicUptake": total,
        "pcfIncludingBiogenicUptake": total,
        "fossilGhgEmissions": total,
        "fossilCarbonContent": "0",
        "ipccCharacterizationFactors": ["AR6"],
        "crossSectoralStandards": list(h.standards) or ["ISO14067"],
        "exemptedEmissionsPercent": _fmt((fp.exempted_share or Decimal(0)) * HUNDRED),
        "boundaryProcessesDescription": "Cradle-to-gate",
    }
    if h.geography and len(h.geography) == 2 and h.geography.isupper():
        pcf["geographyCountry"] = h.geography
    if fp.primary_data_share is not None:
        pcf["primaryDataShare"] = _fmt(fp.primary_data_share * HUNDRED)
    if fp.dqr is not None and fp.dqr.scale != DqrScale.UNSPECIFIED:
        d = fp.dqr.to_scale(DqrScale.ONE_TO_FIVE)
        pcf["dqi"] = {
            "technologicalDQR": _fmt(d.technological),
            "geographicalDQR": _fmt(d.geographical),
            "temporalDQR": _fmt(d.temporal),
        }
    if fp.verification is not None:
        ver: dict[str, Any] = {"providerName": fp.verification.provider}
        if fp.verification.standard:
            ver["standardName"] = fp.verification.standard
        if fp.verification.coverage in ("PCF calculation model", "PCF program", "product level"):
            ver["coverage"] = fp.verification.coverage
        if fp.verification.completed_at:
            ver["completedAt"] = _iso(fp.verification.completed_at)
        pcf["verification"] = ver
    doc: dict[str, Any] = {
        "id": h.id,
        "specVersion": "3.0.0",
        "created": _iso(h.created),
        "status": h.status if h.status in ("Active", "Deprecated") else "Active",
        "companyName": h.company_name,
        "companyIds": list(h.company_ids),
        "productDescription": h.product_description,
        "productIds": list(h.product_ids),
        "productNameCompany": h.product_name,
        "pcf": pcf,
    }
    if h.classifications:
        doc["productClassifications"] = list(h.classifications)
    if h.validity_start:
        doc["validityPeriodStart"] = _iso(h.validity_start)
    if h.validity_end:
        doc["validityPeriodEnd"] = _iso(h.validity_end)
    if h.comment:
        doc["comment"] = h.comment
    return doc


def write_pact_v2(fp: ProductFootprint, *, product_category_cpc: str) -> dict[str, Any]:
    """The PACT v2 ProductFootprint of ``fp`` (``pCfExcludingBiogenic`` per declared unit).

    v2 requires completeness and reliability ratings and a coverage the normalised footprint does
    not hold: ``dqi`` is left out rather than invented.
    """
    h = fp.header
    if fp.declared_unit == DeclaredUnit.PIECE:
        raise InvalidInput(
            "PACT v2 has no declared unit 'piece'", field="pcf.declaredUnit", rule="PACT v2 DeclaredUnit enum"
        )
    per = _fmt(fp.per_unit)
    pcf: dict[str, Any] = {
        "declaredUnit": PACT_UNIT_NAMES[fp.declared_unit],
        "unitaryProductAmount": _fmt(fp.declared_unit_amount),
        "pCfExcludingBiogenic": per,
        "fossilGhgEmissions": per,
        "fossilCarbonContent": "0",
        "biogenicCarbonContent": "0",
        "characterizationFactors": "AR6",
        "ipccCharacterizationFactorsSources": ["AR6"],
        "crossSectoralStandardsUsed": [
            s for s in h.standards if s in ("GHG Protocol Product standard", "ISO Standard 14067", "ISO Standard 14044")
        ]
        or ["ISO Standard 14067"],
        "boundaryProcessesDescription": "Cradle-to-gate",
        "referencePeriodStart": _iso(h.reference_period_start),
        "referencePeriodEnd": _iso(h.reference_period_end),
        "exemptedEmissionsPercent": float((fp.exempted_share or Decimal(0)) * HUNDRED),
        "exemptedEmissionsDescription": "",
        "packagingEmissionsIncluded": False,
    }
    if h.geography and len(h.geography) == 2 and h.geography.isupper():
        pcf["geographyCountry"] = h.geography
    if fp.primary_data_share is not None:
        pcf["primaryDataShare"] = float(fp.primary_data_share * HUNDRED)
    return {
        "id": h.id,
        "specVersion": "2.2.0",
        "version": 1,
        "created": _iso(h.created),
        "status": "Active",
        "companyName": h.company_name,
        "companyIds": list(h.company_ids),
        "productDescription": h.product_description,
        "productIds": list(h.product_ids),
        "productCategoryCpc": product_category_cpc,
        "productNameCompany": h.product_name,
        "comment": h.comment,
        "pcf": pcf,
    }
