"""The upstream summary's one codec (docs/contracts.md "The upstream summary"): the wire form
decodes to the typed value and encodes back to the very same object (so to the signed bytes);
decoding refuses what is no summary 1.0 with the field and the rule."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from batpass.core.errors import InvalidInput
from batpass.core.ids import Did
from batpass.ledger import (
    ActiveMaterial,
    ElementShares,
    Recycled,
    SubjectKind,
    SummarySubject,
    Tombstone,
    UpstreamSummary,
    decode_summary,
    encode_summary,
)
from batpass.ledger._summary import validate_summary

WIRE: dict[str, Any] = {
    "summaryVersion": "1.0",
    "subject": {"kind": "battery", "id": "https://id.example/01/04012345000009/21/SN-1", "material": "battery"},
    "issuer": "did:web:cells.example",
    "computedAt": "2027-03-01T10:00:00Z",
    "elements": {
        "Co": {
            "originByCountry": {"AU": 0.25, "CD": 0.75},
            "highRiskShare": 0.5,
            "recycled": {"preConsumer": 0.05, "postConsumer": 0.125},
            "custodyModels": {"mass_balance": 1.0},
            "activeMaterial": {"share": 1.0, "preConsumer": 0.05, "postConsumer": 0.125},
        },
        "Li": {
            "originByCountry": {"CL": 1},
            "highRiskShare": 0,
            "recycled": {"preConsumer": 0.0, "postConsumer": 0.0},
            "custodyModels": {},
        },
    },
    "minesReached": 3,
    "tombstones": [{"tier": 2, "reason": "supplier unreachable"}],
    "footprint": {"kg_co2e_per_kwh": 71.5, "stages": {"end_of_life": None}},
    "credentials": ["eyJhbGciOiJFZDI1NTE5In0.e30.c2ln"],
    "foldedSupplierSummaries": 2,
}


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_decode_gives_the_typed_value() -> None:
    s = decode_summary(WIRE)
    assert s.subject == SummarySubject(
        kind=SubjectKind.BATTERY, id="https://id.example/01/04012345000009/21/SN-1", material="battery"
    )
    assert isinstance(s.issuer, Did) and s.issuer == "did:web:cells.example"
    co = s.elements["Co"]
    assert co.origin_by_country == {"AU": 0.25, "CD": 0.75} and co.high_risk_share == 0.5
    assert co.recycled == Recycled(pre_consumer=0.05, post_consumer=0.125)
    assert co.active_material == ActiveMaterial(share=1.0, pre_consumer=0.05, post_consumer=0.125)
    assert s.elements["Li"].active_material is None
    assert s.tombstones == (Tombstone(tier=2, reason="supplier unreachable"),)
    assert s.mines_reached == 3 and s.folded_supplier_summaries == 2 and s.version == "1.0"
    assert s.computed_time().isoformat() == "2027-03-01T10:00:00+00:00"


def test_encode_of_decode_is_the_same_wire_form_and_bytes() -> None:
    back = encode_summary(decode_summary(copy.deepcopy(WIRE)))
    assert back == WIRE
    assert _canonical(back) == _canonical(WIRE)  # integer shares stay integers: "CL":1, not 1.0
    assert list(back) == list(WIRE)  # the members in the order the ledger writes them


def test_encode_writes_a_built_value() -> None:
    s = UpstreamSummary(
        subject=SummarySubject(kind=SubjectKind.LOT, id="lot-1", material="cobalt_sulphate"),
        issuer=Did("did:web:refiner.example"),
        computed_at="2027-03-01T10:00:00Z",
        elements={
            "Co": ElementShares(
                origin_by_country={"CD": 1.0},
                high_risk_share=0.0,
                recycled=Recycled(pre_consumer=0.0, post_consumer=0.0),
                custody_models={"segregated": 1.0},
            )
        },
        mines_reached=1,
    )
    wire = encode_summary(s)
    assert wire["footprint"] is None and wire["tombstones"] == [] and wire["credentials"] == []
    assert "activeMaterial" not in wire["elements"]["Co"]
    validate_summary(wire)  # what the codec writes is what the schema describes
    assert decode_summary(wire) == s


def test_an_unknown_summary_version_is_refused_naming_field_and_rule() -> None:
    with pytest.raises(InvalidInput) as ei:
        decode_summary({**WIRE, "summaryVersion": "2.0"})
    assert ei.value.field == "summaryVersion"
    assert ei.value.rule is not None and 'summaryVersion is "1.0"' in ei.value.rule
    assert "'2.0'" in ei.value.message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda w: w.pop("elements"), "elements"),
        (lambda w: w.update(supplierNames=["x"]), "supplierNames"),
        (lambda w: w["subject"].update(kind="pallet"), "subject.kind"),
        (lambda w: w.update(issuer="cells.example"), "issuer"),
        (lambda w: w.update(computedAt="yesterday"), "computedAt"),
        (lambda w: w["elements"]["Co"].update(highRiskShare=1.5), "elements.Co.highRiskShare"),
        (lambda w: w["elements"]["Co"]["recycled"].update(preConsumer=True), "elements.Co.recycled.preConsumer"),
        (lambda w: w["elements"]["Co"]["originByCountry"].update(CD="0.75"), "elements.Co.originByCountry.CD"),
        (lambda w: w["elements"]["Co"].pop("custodyModels"), "elements.Co.custodyModels"),
        (lambda w: w["elements"]["Co"].update(purchaseKg=12.0), "elements.Co.purchaseKg"),
        (lambda w: w["tombstones"].append({"tier": 0, "reason": "x"}), "tombstones[1].tier"),
        (lambda w: w.update(minesReached=-1), "minesReached"),
        (lambda w: w.update(footprint=[1]), "footprint"),
        (lambda w: w.update(credentials=[""]), "credentials[0]"),
    ],
)
def test_what_is_no_summary_is_refused_with_its_field(change: Any, field: str) -> None:
    wire = copy.deepcopy(WIRE)
    change(wire)
    with pytest.raises(InvalidInput) as ei:
        decode_summary(wire)
    assert ei.value.field == field and ei.value.rule


def test_a_summary_without_footprint_reads_as_none() -> None:
    wire = copy.deepcopy(WIRE)
    del wire["footprint"]
    assert decode_summary(wire).footprint is None


def test_decode_refuses_what_is_not_an_object() -> None:
    for bad in (None, [], "summary", 1):
        with pytest.raises(InvalidInput) as ei:
            decode_summary(bad)
        assert ei.value.field == "summary"
