"""Catena-X PCF 9.0 (``urn:samm:io.catenax.pcf:9.0.0``) ⇄ the normalised footprint.

Source: the Catena-X PCF aspect model, eclipse-tractusx/sldt-semantic-models ``io.catenax.pcf/9.0.0`` (schema bundled as
``_data/catenax-pcf-9.0.0.schema.json``). The PCF is "based on the declared unit amount" (as PACT
v3); data-quality ratings are 1–5 (``DqiNumberTrait``); ``productionStage`` is cradle-to-gate
without an Annex II split ("stage split not provided"); ``distributionStage`` is carried when
``distributionStageIncluded``; exempted emissions are capped at 3 % by the Catena-X rulebook.
Entities are one-element arrays, as the aspect model has them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import jsonschema  # type: ignore[import-untyped]

from batpass.core.errors import InvalidInput
from batpass.footprint._pact import (
    HUNDRED,
    PACT_UNIT_NAMES,
    PACT_UNITS,
    PRIMARY_DATA_SHARE_FROM_YEAR,
    _dec,
    _iso,
    _time,
)
from batpass.footprint.model import DataQuality, DqrScale, FootprintHeader, ProductFootprint, StageSplit, Verification

SPEC_VERSION = "urn:io.catenax.pcf:datamodel:version:9.0.0"
EXEMPTION_CAP = Decimal(3)  # percent, Catena-X PCF rulebook
_RULE = "Catena-X PCF 9.0 (io.catenax.pcf:9.0.0)"


@cache
def _validator() -> jsonschema.Draft4Validator:
    text = (resources.files("batpass.footprint") / "_data" / "catenax-pcf-9.0.0.schema.json").read_text("utf-8")
    return jsonschema.Draft4Validator(json.loads(text))


def validate_catenax(doc: dict[str, Any]) -> None:
    """Validate against the bundled aspect schema; the first error names its path."""
    error = next(iter(sorted(_validator().iter_errors(doc), key=lambda e: list(e.path))), None)
    if error is not None:
        path = ".".join(str(p) for p in error.path) or "(root)"
        raise InvalidInput(f"{path}: {error.message}", field=path, rule=_RULE)


def _one(doc: dict[str, Any], *path: str) -> dict[str, Any]:
    node: Any = doc
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, list):
            node = node[0] if node else None
    return node if isinstance(node, dict) else {}


def read_catenax(doc: dict[str, Any]) -> ProductFootprint:
    validate_catenax(doc)
    product = _one(doc, "companyAndProductInformation", "productInformation")
    company = _one(doc, "companyAndProductInformation", "companyInformation")
    method = _one(doc, "pcfAssessmentAndMethodology")
    quality = _one(method, "dataSourcesAndQuality")
    info = _one(method, "pcfAssessmentInformation")
    time = _one(info, "time")
    idv = _one(info, "idAndVersion")
    geo = _one(info, "geography")
    boundary = _one(info, "boundarySpecifications")
    production = _one(doc, "productLifeCycleStagesAndEmissions", "productionStage")
    distribution = _one(doc, "productLifeCycleStagesAndEmissions", "distributionStage")
    mass_bal = _one(method, "pcfMethodology", "massBalancingInformation")
    standards = _one(method, "pcfMethodology", "standards")

    amount = _dec(product.get("declaredUnitAmount"), "declaredUnitAmount", _RULE)
    total = _dec(production.get("pcfExcludingBiogenicUptake"), "productionStage.pcfExcludingBiogenicUptake", _RULE)
    per_unit = total / amount
    dist: Decimal | None = None
    if (
        distribution.get("distributionStageIncluded")
        and distribution.get("distributionStagePcfExcludingBiogenicUptake") is not None
    ):
        dist = (
            _dec(
                distribution["distributionStagePcfExcludingBiogenicUptake"],
                "distributionStagePcfExcludingBiogenicUptake",
                _RULE,
            )
            / amount
        )
    exempted = _dec(boundary.get("exemptedEmissionsPercent"), "exemptedEmissionsPercent", _RULE)
    if exempted > EXEMPTION_CAP:
        raise InvalidInput(
            f"exempted emissions {exempted} % exceed the cap of {EXEMPTION_CAP} %",
            field="exemptedEmissionsPercent",
            rule="exempted emissions ≤ 3 % (Catena-X PCF rulebook)",
            value=str(exempted),
        )
    start = _time(time.get("referencePeriodStart"), "referencePeriodStart")
    end = _time(time.get("referencePeriodEnd"), "referencePeriodEnd")
    pds = None
    if quality.get("primaryDataShare") is not None:
        pds = _dec(quality["primaryDataShare"], "primaryDataShare", _RULE) / HUNDRED
    elif end is not None and end.year >= PRIMARY_DATA_SHARE_FROM_YEAR:
        raise InvalidInput(
            "primaryDataShare is missing for a reference period including 2025 or later",
            field="primaryDataShare",
            rule="primary data share mandatory from reference periods including 2025",
        )
    dqr = None
    if all(quality.get(k) is not None for k in ("technologicalDQR", "geographicalDQR", "temporalDQR")):
        dqr = DataQuality(
            _dec(quality["technologicalDQR"], "technologicalDQR", _RULE),
            _dec(quality["geographicalDQR"], "geographicalDQR", _RULE),
            _dec(quality["temporalDQR"], "temporalDQR", _RULE),
            DqrScale.ONE_TO_FIVE,
        )
    attest = _one(doc, "attestationOfConformance")
    verification = (
        Verification(
            str(attest["providerName"]),
            attest.get("standardName"),
            attest.get("attestationType"),
            _time(attest.get("completedAt"), "completedAt"),
        )
        if attest.get("providerName")
        else None
    )
    unit = product.get("declaredUnitOfMeasurement")
    if unit not in PACT_UNITS:
        raise InvalidInput(f"declared unit {unit!r}", field="declaredUnitOfMeasurement", rule=_RULE)
    header = FootprintHeader(
        id=str(idv.get("id", "")),
        product_ids=tuple(product.get("productIds") or ()),
        product_name=str(product.get("productNameCompany", "")),
        company_name=str(company.get("companyName", "")),
        company_ids=tuple(company.get("companyIds") or ()),
        reference_period_start=start,
        reference_period_end=end,
        created=_time(time.get("created"), "created") or start,  # type: ignore[arg-type]
        product_description=str(product.get("productDescription", "")),
        classifications=tuple(product.get("productClassifications") or ()),
        geography=geo.get("geographyCountry") or geo.get("geographyRegionOrSubregion"),
        standards=tuple(standards.get("crossSectoralStandards") or ()),
        method="Catena-X PCF Rulebook",
        status=str(idv.get("status", "Active")),
        validity_start=_time(time.get("validityPeriodStart"), "validityPeriodStart"),
        validity_end=_time(time.get("validityPeriodEnd"), "validityPeriodEnd"),
    )
    return ProductFootprint(
        header=header,
        declared_unit=PACT_UNITS[unit],
        declared_unit_amount=amount,
        per_unit=per_unit + (dist or Decimal(0)),
        stages=StageSplit(distribution=dist, unsplit=per_unit),
        mass_per_declared_unit_kg=_dec(product.get("productMassPerDeclaredUnit"), "productMassPerDeclaredUnit", _RULE),
        primary_data_share=pds,
        dqr=dqr,
        exempted_share=exempted / HUNDRED,
        mass_balance=bool(mass_bal.get("massBalancingUsed", False)),
        verification=verification,
        source="catenax-pcf-9.0",
    )


def write_catenax(fp: ProductFootprint) -> dict[str, Any]:
    """The Catena-X PCF 9.0 aspect of ``fp``; validated against the bundled schema."""
    h = fp.header
    amount = fp.declared_unit_amount
    dist = fp.stages.distribution
    gate = (fp.per_unit - (dist or Decimal(0))) * amount
    quality: dict[str, Any] = {}
    if fp.primary_data_share is not None:
        quality["primaryDataShare"] = float(fp.primary_data_share * HUNDRED)
    if fp.dqr is not None and fp.dqr.scale != DqrScale.UNSPECIFIED:
        d = fp.dqr.to_scale(DqrScale.ONE_TO_FIVE)
        quality.update(
            technologicalDQR=float(d.technological),
            geographicalDQR=float(d.geographical),
            temporalDQR=float(d.temporal),
        )
    geography: dict[str, Any] = {"geographyRegionOrSubregion": h.geography or "Global"}
    if h.geography and len(h.geography) == 2:
        geography = {"geographyRegionOrSubregion": "Global", "geographyCountry": h.geography}
    doc: dict[str, Any] = {
        "scopeOfPcfForm": [{"partialFullPcf": "Cradle-to-gate", "specVersion": SPEC_VERSION}],
        "companyAndProductInformation": [
            {
                "productInformation": [
                    {
                        "declaredUnitOfMeasurement": PACT_UNIT_NAMES[fp.declared_unit],
                        "productNameCompany": h.product_name or h.id,
                        "productIds": list(h.product_ids),
                        "declaredUnitAmount": float(amount),
                        "productMassPerDeclaredUnit": float(fp.mass_per_declared_unit_kg or 0),
                        "productDescription": h.product_description,
                    }
                ],
                "companyInformation": [{"companyIds": list(h.company_ids), "companyName": h.company_name}],
            }
        ],
        "pcfAssessmentAndMethodology": [
            {
                "dataSourcesAndQuality": [quality],
                "pcfAssessmentInformation": [
                    {
                        "technology": [{"ccsTechnologicalCO2CaptureIncluded": False}],
                        "boundarySpecifications": [
                            {"exemptedEmissionsPercent": float((fp.exempted_share or Decimal(0)) * HUNDRED)}
                        ],
                        "time": [
                            {
                                "referencePeriodStart": _iso(h.reference_period_start),
                                "referencePeriodEnd": _iso(h.reference_period_end),
                                "created": _iso(h.created),
                                "validityPeriodEnd": _iso(h.validity_end or h.reference_period_end),
                            }
                        ],
                        "geography": [geography],
                        "idAndVersion": [
                            {
                                "id": h.id,
                                "version": 0,
                                "status": h.status,
                                "retroOrProspectivePcfType": "Retrospective PCF",
                            }
                        ],
                    }
                ],
            }
        ],
        "productLifeCycleStagesAndEmissions": [
            {
                "productionStage": [
                    {"pcfExcludingBiogenicUptake": float(gate), "pcfIncludingBiogenicUptake": float(gate)}
                ],
                "distributionStage": [
                    {
                        "distributionStageIncluded": dist is not None,
                        **(
                            {"distributionStagePcfExcludingBiogenicUptake": float(dist * amount)}
                            if dist is not None
                            else {}
                        ),
                    }
                ],
                "packagingStage": [{"packagingEmissionsIncluded": False}],
            }
        ],
        "general": [{}],
        "carbonContent": [{}],
    }
    validate_catenax(doc)
    return doc
