"""Ouranos CFP record ⇄ the normalised footprint: the mapping table.

Source: the Ouranos data transaction API (``CfpModel``: ``cfpType`` preProduction / mainProduction /
preComponent / mainComponent, ``dqrType`` preProcessing / mainProcessing with ``{TeR, GeR, TiR}``,
``ghgDeclaredUnit``); docs/rules.md "Ouranos CFP".

- pre-processing total (own + parts) → Annex II raw material acquisition and pre-processing;
  main production total → main product production (the METI method mirrors the EU stages);
- distribution and end of life: **not provided**, never zero;
- the rating scale is not published with the API: ratings are kept raw with scale "unspecified"
  and converted only through an :class:`OuranosDqrMapping` the node configures (documented in
  docs/footprint.md); the stage ratings are emission-weighted into one set.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from batpass.core.errors import InvalidInput
from batpass.footprint._ouranos_cfp import OuranosCfp, OuranosDqr, ouranos_round, ouranos_weighted_dqr
from batpass.footprint.model import (
    DataQuality,
    DeclaredUnit,
    DqrScale,
    FootprintHeader,
    ProductFootprint,
    StageSplit,
)

#: ``ghgDeclaredUnit`` ⇄ normalised declared unit
OURANOS_UNITS: Mapping[str, DeclaredUnit] = {
    "kgCO2e/liter": DeclaredUnit.LITER,
    "kgCO2e/kilogram": DeclaredUnit.KILOGRAM,
    "kgCO2e/cubic-meter": DeclaredUnit.CUBIC_METER,
    "kgCO2e/kilowatt-hour": DeclaredUnit.KILOWATT_HOUR,
    "kgCO2e/megajoule": DeclaredUnit.MEGAJOULE,
    "kgCO2e/ton-kilometer": DeclaredUnit.TON_KILOMETER,
    "kgCO2e/square-meter": DeclaredUnit.SQUARE_METER,
    "kgCO2e/unit": DeclaredUnit.PIECE,
}
OURANOS_UNIT_NAMES = {v: k for k, v in OURANOS_UNITS.items()}

#: the four cfpType values a record must carry, → OuranosCfp field
CFP_TYPES: Mapping[str, str] = {
    "preProduction": "pre_production",
    "mainProduction": "main_production",
    "preComponent": "pre_component",
    "mainComponent": "main_component",
}
DQR_TYPES: Mapping[str, str] = {"preProcessing": "dqr_pre", "mainProcessing": "dqr_main"}


@dataclass(frozen=True)
class OuranosDqrMapping:
    """A configured linear mapping of raw Ouranos ratings onto batpass's 1–5 scale.

    ``raw_best`` maps to 1 and ``raw_worst`` to 5 (either may be the larger number); values outside
    the configured range are refused. No mapping is assumed by default.
    """

    raw_best: Decimal
    raw_worst: Decimal

    def convert(self, value: Decimal, field: str) -> Decimal:
        low, high = sorted((self.raw_best, self.raw_worst))
        if not (low <= value <= high) or self.raw_best == self.raw_worst:
            raise InvalidInput(
                f"Ouranos rating {value} is outside the configured range {low}–{high}",
                field=field,
                rule="configured Ouranos DQR mapping (docs/footprint.md)",
                value=str(value),
            )
        return Decimal(1) + Decimal(4) * (value - self.raw_best) / (self.raw_worst - self.raw_best)

    def apply(self, dqr: DataQuality) -> DataQuality:
        if dqr.scale != DqrScale.UNSPECIFIED:
            return dqr
        return DataQuality(
            self.convert(dqr.technological, "dqr.TeR"),
            self.convert(dqr.geographical, "dqr.GeR"),
            self.convert(dqr.temporal, "dqr.TiR"),
            DqrScale.ONE_TO_FIVE,
        )


def cfp_from_records(records: list[dict[str, Any]]) -> OuranosCfp:
    """An :class:`OuranosCfp` from the API's CfpModel rows (one per ``cfpType``, sharing a unit).

    All four types must be present (the API's PUT rule); a missing one is refused naming it.
    """
    values: dict[str, Any] = {}
    dqrs: dict[str, OuranosDqr] = {}
    units: set[str] = set()
    for index, row in enumerate(records):
        cfp_type = str(row.get("cfpType"))
        if cfp_type in CFP_TYPES:
            values[CFP_TYPES[cfp_type]] = row.get("ghgEmission")
            units.add(str(row.get("ghgDeclaredUnit")))
        dqr_type = str(row.get("dqrType"))
        dqr_value = row.get("dqrValue")
        if dqr_type in DQR_TYPES and isinstance(dqr_value, dict):
            try:
                dqrs[DQR_TYPES[dqr_type]] = OuranosDqr(ter=dqr_value["TeR"], ger=dqr_value["GeR"], tir=dqr_value["TiR"])
            except KeyError as exc:
                raise InvalidInput(
                    f"row {index} dqrValue lacks {exc.args[0]}",
                    field=f"cfp[{index}].dqrValue.{exc.args[0]}",
                    rule="Ouranos dqrValue {TeR, GeR, TiR}",
                ) from exc
    missing = [wire for wire, name in CFP_TYPES.items() if values.get(name) is None]
    if missing:
        raise InvalidInput(
            f"the CFP lacks cfpType {', '.join(missing)}: all four values travel together",
            field=f"cfp.{missing[0]}",
            rule="Ouranos CFP PUT: preProduction, mainProduction, preComponent and mainComponent are sent together",
        )
    if len(units) != 1:
        raise InvalidInput(
            f"the four CFP rows carry units {sorted(units)}",
            field="cfp.ghgDeclaredUnit",
            rule="Ouranos CFP PUT: the four rows share one unit",
        )
    return OuranosCfp(
        pre_production=values["pre_production"],
        main_production=values["main_production"],
        pre_component=values["pre_component"],
        main_component=values["main_component"],
        unit=units.pop(),
        dqr_pre=dqrs.get("dqr_pre"),
        dqr_main=dqrs.get("dqr_main"),
    )


def cfp_to_records(cfp: OuranosCfp, *, cfp_id: str, trace_id: str) -> list[dict[str, Any]]:
    """The four CfpModel rows of ``cfp`` (with the stage ratings on the pre/main rows)."""
    rows: list[dict[str, Any]] = []
    for wire, name in CFP_TYPES.items():
        row: dict[str, Any] = {
            "cfpId": cfp_id,
            "traceId": trace_id,
            "ghgEmission": float(getattr(cfp, name)),
            "ghgDeclaredUnit": cfp.unit,
            "cfpType": wire,
        }
        dqr = cfp.dqr_pre if wire.startswith("pre") else cfp.dqr_main
        if dqr is not None:
            row["dqrType"] = "preProcessing" if wire.startswith("pre") else "mainProcessing"
            row["dqrValue"] = {"TeR": float(dqr.ter), "GeR": float(dqr.ger), "TiR": float(dqr.tir)}
        rows.append(row)
    return rows


def from_ouranos(
    cfp: OuranosCfp,
    *,
    header: FootprintHeader,
    mapping: OuranosDqrMapping | None = None,
    mass_per_declared_unit_kg: Decimal | None = None,
) -> ProductFootprint:
    """The normalised footprint of an Ouranos CFP (per declared unit; distribution and end of
    life not provided). Ratings stay raw (scale unspecified) unless ``mapping`` is given."""
    if cfp.unit not in OURANOS_UNITS:
        raise InvalidInput(f"unit {cfp.unit!r}", field="cfp.ghgDeclaredUnit", rule="Ouranos ghgDeclaredUnit enum")
    weighted = ouranos_weighted_dqr(
        [(w, d) for w, d in ((cfp.pre_total, cfp.dqr_pre), (cfp.main_total, cfp.dqr_main)) if d is not None]
    )
    dqr: DataQuality | None = None
    if weighted is not None:
        dqr = DataQuality(weighted.ter, weighted.ger, weighted.tir, DqrScale.UNSPECIFIED)
        if mapping is not None:
            dqr = mapping.apply(dqr)
    stages = StageSplit(raw_material=cfp.pre_total, main_production=cfp.main_total)
    return ProductFootprint(
        header=header,
        declared_unit=OURANOS_UNITS[cfp.unit],
        declared_unit_amount=Decimal(1),
        per_unit=stages.total,
        stages=stages,
        mass_per_declared_unit_kg=mass_per_declared_unit_kg,
        dqr=dqr,
        source="ouranos-cfp",
        notes=("distribution and end of life not provided by Ouranos",),
    )


def to_ouranos(fp: ProductFootprint) -> OuranosCfp:
    """An Ouranos CFP (as released to a buyer: stage totals in the own fields) of ``fp``.

    Needs the raw-material / main-production split; distribution and end-of-life values have no
    place in the Ouranos record and are refused rather than folded in.
    """
    if not fp.stages.split_provided or fp.stages.raw_material is None or fp.stages.main_production is None:
        raise InvalidInput(
            "an Ouranos CFP needs the pre-processing / main-production split",
            field="stages",
            rule="Ouranos CFP: pre-processing and main-production stages",
        )
    for stage_value, name in ((fp.stages.distribution, "distribution"), (fp.stages.end_of_life, "end_of_life")):
        if stage_value:
            raise InvalidInput(
                f"Ouranos carries no {name} stage",
                field=f"stages.{name}",
                rule="Ouranos CFP has no distribution or end-of-life stage",
            )
    unit = OURANOS_UNIT_NAMES.get(fp.declared_unit)
    if unit is None:
        raise InvalidInput(
            f"no Ouranos unit for {fp.declared_unit}", field="declared_unit", rule="Ouranos ghgDeclaredUnit enum"
        )
    dqr: OuranosDqr | None = None
    if fp.dqr is not None and fp.dqr.scale == DqrScale.UNSPECIFIED:
        # only raw Ouranos ratings go back raw; a 1–5 rating has no published Ouranos equivalent
        dqr = OuranosDqr(fp.dqr.technological, fp.dqr.geographical, fp.dqr.temporal)
    return OuranosCfp(
        pre_production=ouranos_round(fp.stages.raw_material),
        main_production=ouranos_round(fp.stages.main_production),
        pre_component=Decimal(0),
        main_component=Decimal(0),
        unit=unit,
        dqr_pre=dqr,
        dqr_main=dqr,
    )


def header_for_ouranos(
    *,
    trace_id: str,
    part_name: str,
    operator_name: str,
    operator_id: str,
    period_start: dt.datetime | None,
    period_end: dt.datetime | None,
    created: dt.datetime,
    method: str | None,
) -> FootprintHeader:
    """A header for an Ouranos part's footprint (the API carries no reference period: the caller
    must supply it). ``method`` records the METI method version the CFP was computed with."""
    return FootprintHeader(
        id=trace_id,
        product_ids=(f"urn:ouranos:traceId:{trace_id}",),
        product_name=part_name,
        company_name=operator_name,
        company_ids=(f"urn:ouranos:operatorId:{operator_id}",),
        reference_period_start=period_start,
        reference_period_end=period_end,
        created=created,
        method=method,
    )
