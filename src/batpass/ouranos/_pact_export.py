"""An Ouranos part's CFP as a PACT v3 ProductFootprint: the hub's export to Catena-X partners
until the bridge carries it over the wire. Pure: no SQL, no HTTP.

Mapping (one place; the field mapping itself is ``batpass.footprint``'s ``from_ouranos`` and
``write_pact_v3``, docs/footprint.md):

- the part's stage totals as its owner sees them (pre-processing, main production: own + parts)
  → per declared unit; ``ghgDeclaredUnit`` ``kgCO2e/unit`` → PACT ``piece`` and so on;
- PACT v3 has no Annex II split, so the split travels in a data model extension
  (:data:`STAGES_EXTENSION`, PACT v3 ``ProductFootprint.extensions``): raw material and
  pre-processing, main production, and distribution and end of life as ``null`` ("not
  provided", never zero: Ouranos carries neither — docs/rules.md "Ouranos CFP");
- data-quality ratings: the Ouranos scale is not published, so ratings go out only through the
  hub's configured :class:`~batpass.footprint._ouranos_map.OuranosDqrMapping` (linear onto
  1–5, docs/footprint.md) and only when the owner released TOTALDQR; otherwise ``dqi`` is absent;
- Ouranos carries no reference period and no primary data share: the caller states them (the
  owner's declaration); without a stated period the year before the CFP was last written is
  used and the document's ``comment`` says so.

The document is read back as PACT v3 before it leaves (``read_pact(expect=3)``), so a document
PACT v3 would refuse (e.g. no primary data share for a reference period from 2025) is refused
here with the field and the rule.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from batpass.core.errors import InvalidInput
from batpass.footprint import (
    OuranosCfp,
    OuranosDqrMapping,
    Stage,
    from_ouranos,
    header_for_ouranos,
    read_pact,
    write_pact_v3,
)

__all__ = ["STAGES_EXTENSION", "CfpExport", "pact_v3_of_cfp"]

#: the data model extension carrying the Annex II split of an exported Ouranos CFP
STAGES_EXTENSION = "urn:batpass:pact-extension:annex-ii-stages:1.0.0"
#: namespace of the exported documents' ids (one id per CFP version)
_ID_NAMESPACE = uuid.UUID("0d5c4f1e-7b0a-5b5e-9a57-6f7572616e6f")
_DEFAULT_PERIOD = dt.timedelta(days=365)


@dataclass(frozen=True)
class CfpExport:
    """What the hub knows about one part's CFP, for the export."""

    trace_id: str
    cfp_id: str
    written_at: dt.datetime
    part_name: str
    operator_id: str
    open_operator_id: str
    operator_name: str
    cfp: OuranosCfp  # stage totals as the owner sees them
    dqr_released: bool


def _pct(share: Decimal) -> str:
    return format((share * 100).normalize(), "f")


def pact_v3_of_cfp(
    item: CfpExport,
    *,
    period_start: dt.datetime | None = None,
    period_end: dt.datetime | None = None,
    primary_data_share: Decimal | None = None,
    dqr_mapping: OuranosDqrMapping | None = None,
) -> dict[str, Any]:
    """The PACT v3 ProductFootprint of ``item`` (see the module docstring for the mapping)."""
    notes: list[str] = [
        "Exported by the Ouranos hub from the operator's CFP (METI battery CFP stages).",
        "Distribution and end of life: not provided (Ouranos carries neither).",
    ]
    if (period_start is None) != (period_end is None):
        raise InvalidInput(
            "give both ends of the reference period or neither",
            field="referencePeriodStart" if period_start is None else "referencePeriodEnd",
            rule="PACT v3 CarbonFootprint.referencePeriodStart/End",
        )
    if period_start is None or period_end is None:
        period_end = item.written_at
        period_start = period_end - _DEFAULT_PERIOD
        notes.append("Reference period not carried by Ouranos: the year before the CFP was last written.")
    if primary_data_share is not None and not (Decimal(0) <= primary_data_share <= Decimal(1)):
        raise InvalidInput(
            f"primary data share {_pct(primary_data_share)} % is outside 0–100 %",
            field="primaryDataShare",
            rule="PACT v3 CarbonFootprint.primaryDataShare (percent 0–100)",
            value=str(primary_data_share),
        )
    header = header_for_ouranos(
        trace_id=item.trace_id,
        part_name=item.part_name,
        operator_name=item.operator_name,
        operator_id=item.operator_id,
        period_start=period_start,
        period_end=period_end,
        created=item.written_at,
        method=None,
    )
    header = replace(
        header,
        id=str(uuid.uuid5(_ID_NAMESPACE, f"{item.cfp_id}|{item.written_at.isoformat()}")),
        company_ids=(*header.company_ids, f"urn:ouranos:openOperatorId:{item.open_operator_id}"),
        product_description=f"Ouranos part {item.part_name} (traceId {item.trace_id})",
        comment=" ".join(notes),
    )
    cfp = item.cfp if item.dqr_released else replace(item.cfp, dqr_pre=None, dqr_main=None)
    fp = from_ouranos(cfp, header=header, mapping=dqr_mapping)
    if primary_data_share is not None:
        fp = replace(fp, primary_data_share=primary_data_share)
    doc = write_pact_v3(fp)
    doc["extensions"] = [
        {
            "specVersion": "2.0.0",
            "dataSchema": STAGES_EXTENSION,
            "data": {
                "declaredUnitOfMeasurement": doc["pcf"]["declaredUnitOfMeasurement"],
                "declaredUnitAmount": doc["pcf"]["declaredUnitAmount"],
                "unit": "kg CO2e per declared unit",
                "stages": {
                    stage.value: (None if (v := fp.stages.get(stage)) is None else format(v.normalize(), "f"))
                    for stage in Stage
                },
                "notProvided": [stage.value for stage in fp.stages.not_provided],
                "dqrScale": None if fp.dqr is None else fp.dqr.scale.value,
                "source": {"traceId": item.trace_id, "cfpId": item.cfp_id, "ghgDeclaredUnit": item.cfp.unit},
            },
        }
    ]
    read_pact(doc, expect=3)  # refuse here what a PACT v3 reader would refuse
    return doc
