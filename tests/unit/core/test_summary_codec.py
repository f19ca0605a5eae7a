"""The upstream summary's one codec (docs/contracts.md "The upstream summary"): the wire form
decodes to the typed value and encodes back to the very same object (so to the signed bytes),
in version 2.0 and in the 1.0 older nodes still send; decoding refuses what is no summary of
either with the field and the rule."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from batpass.core.errors import InvalidInput
from batpass.core.ids import Did
from batpass.ledger import (
    SUMMARY_BASIS,
    ActiveMaterial,
    ElementShares,
    Recycled,
    SiteShares,
    SubjectKind,
    SummarySubject,
    Tombstone,
    UpstreamSummary,
    decode_summary,
    encode_summary,
)
from batpass.ledger._summary import validate_summary

WIRE1: dict[str, Any] = {
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


SITES_UNKNOWN = {"certified": None, "flagged": None, "unknown": None}
WIRE: dict[str, Any] = {
    "summaryVersion": "2.0",
    "subject": {"kind": "battery", "id": "https://id.example/01/04012345000009/21/SN-1", "material": "battery"},
    "issuer": "did:web:cells.example",
    "computedAt": "2027-03-01T10:00:00Z",
    "basis": dict(SUMMARY_BASIS),
    "elements": {
        "Co": {
            "minedByCountry": {"AU": 0.25, "CD": 0.5},
            "recycledByCountry": {"NL": 0.125},
            "unknownShare": 0.125,
            "highRiskShare": 0.5,
            "recycled": {"preConsumer": 0, "postConsumer": 0.125},
            "custodyModels": {"mass_balance": 1.0},
            "activeMaterial": {"share": 1.0, "preConsumer": 0, "postConsumer": 0.125},
            "sites": SITES_UNKNOWN,
        },
        "Li": {
            "minedByCountry": None,
            "recycledByCountry": None,
            "unknownShare": 1,
            "highRiskShare": None,
            "recycled": {"preConsumer": None, "postConsumer": None},
            "custodyModels": {},
            "sites": SITES_UNKNOWN,
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
    assert co.mined_by_country == {"AU": 0.25, "CD": 0.5} and co.recycled_by_country == {"NL": 0.125}
    assert co.unknown_share == 0.125 and co.high_risk_share == 0.5
    assert co.recycled == Recycled(pre_consumer=0, post_consumer=0.125)
    assert co.active_material == ActiveMaterial(share=1.0, pre_consumer=0, post_consumer=0.125)
    assert co.sites == SiteShares()
    li = s.elements["Li"]  # nothing known: null, never 0
    assert li.mined_by_country is None and li.recycled_by_country is None and li.unknown_share == 1
    assert li.recycled == Recycled(pre_consumer=None, post_consumer=None) and li.high_risk_share is None
    assert li.active_material is None
    assert s.tombstones == (Tombstone(tier=2, reason="supplier unreachable"),)
    assert s.mines_reached == 3 and s.folded_supplier_summaries == 2 and s.version == "2.0"
    assert s.computed_time().isoformat() == "2027-03-01T10:00:00+00:00"


def test_a_1_0_summary_is_still_read_and_kept_as_signed() -> None:
    s = decode_summary(copy.deepcopy(WIRE1))
    assert s.version == "1.0"
    co = s.elements["Co"]
    # 1.0's origin (which counted recyclers) is held as given; 1.0 stated no split or unknown share
    assert co.mined_by_country == {"AU": 0.25, "CD": 0.75} and co.recycled_by_country is None
    assert co.unknown_share is None and co.sites == SiteShares()
    back = encode_summary(s)
    assert back == WIRE1 and _canonical(back) == _canonical(WIRE1) and list(back) == list(WIRE1)
    validate_summary(back)


@pytest.mark.parametrize("wire", [WIRE, WIRE1], ids=["2.0", "1.0"])
def test_encode_of_decode_is_the_same_wire_form_and_bytes(wire: dict[str, Any]) -> None:
    back = encode_summary(decode_summary(copy.deepcopy(wire)))
    assert back == wire
    assert _canonical(back) == _canonical(wire)  # integer shares stay integers: "CL":1, not 1.0
    assert list(back) == list(wire)  # the members in the order the ledger writes them
    assert [list(e) for e in back["elements"].values()] == [list(e) for e in wire["elements"].values()]


def test_encode_writes_a_built_value_in_2_0() -> None:
    s = UpstreamSummary(
        subject=SummarySubject(kind=SubjectKind.LOT, id="lot-1", material="cobalt_sulphate"),
        issuer=Did("did:web:refiner.example"),
        computed_at="2027-03-01T10:00:00Z",
        elements={
            "Co": ElementShares(
                mined_by_country={"CD": 0.75},
                recycled_by_country={"BE": 0.25},
                unknown_share=0.0,
                high_risk_share=0.0,
                recycled=Recycled(pre_consumer=0.0, post_consumer=0.25),
                custody_models={"segregated": 1.0},
            )
        },
        mines_reached=1,
    )
    wire = encode_summary(s)
    assert wire["summaryVersion"] == "2.0" and wire["basis"] == SUMMARY_BASIS
    assert wire["footprint"] is None and wire["tombstones"] == [] and wire["credentials"] == []
    assert "activeMaterial" not in wire["elements"]["Co"]
    assert wire["elements"]["Co"]["sites"] == SITES_UNKNOWN
    validate_summary(wire)  # what the codec writes is what the schema describes
    assert decode_summary(wire) == s


@pytest.mark.parametrize("version", ["3.0", "1.1", None, 2])
def test_an_unknown_summary_version_is_refused_naming_field_and_rule(version: object) -> None:
    for check in (decode_summary, validate_summary):
        with pytest.raises(InvalidInput) as ei:
            check({**WIRE, "summaryVersion": version})
        assert ei.value.field == "summaryVersion"
        assert ei.value.rule is not None and '"1.0", "2.0"' in ei.value.rule
        assert repr(version) in ei.value.message and "'2.0'" in ei.value.message


def test_a_2_0_summary_whose_shares_do_not_sum_to_1_is_refused() -> None:
    wire = copy.deepcopy(WIRE)
    wire["elements"]["Co"]["unknownShare"] = 0.0  # mined 0.75 + recycled 0.125 + unknown 0 = 0.875
    decode_summary(wire)  # the codec checks structure; the sums are the ledger's
    with pytest.raises(InvalidInput) as ei:
        validate_summary(wire)
    assert ei.value.field == "elements.Co" and ei.value.rule is not None and "sum to 1" in ei.value.rule


def test_a_2_0_summary_on_another_basis_is_refused() -> None:
    wire = copy.deepcopy(WIRE)
    wire["basis"] = {**SUMMARY_BASIS, "recycled": "art8_model_batch_plant"}
    with pytest.raises(InvalidInput) as ei:
        decode_summary(wire)
    assert ei.value.field == "basis"
    with pytest.raises(InvalidInput) as ei:
        validate_summary(wire)
    assert ei.value.field == "basis.recycled"


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
        (lambda w: w["elements"]["Co"]["minedByCountry"].update(CD="0.75"), "elements.Co.minedByCountry.CD"),
        (lambda w: w["elements"]["Co"].update(recycledByCountry=[]), "elements.Co.recycledByCountry"),
        (lambda w: w["elements"]["Co"].update(unknownShare=None), "elements.Co.unknownShare"),
        (lambda w: w["elements"]["Co"].pop("sites"), "elements.Co.sites"),
        (lambda w: w["elements"]["Co"]["sites"].update(certified=2), "elements.Co.sites.certified"),
        (lambda w: w.pop("basis"), "basis"),
        (lambda w: w["elements"]["Co"].pop("custodyModels"), "elements.Co.custodyModels"),
        (lambda w: w["elements"]["Co"].update(purchaseKg=12.0), "elements.Co.purchaseKg"),
        (lambda w: w["tombstones"].append({"tier": 0, "reason": "x"}), "tombstones[1].tier"),
        (lambda w: w.update(minesReached=-1), "minesReached"),
        (lambda w: w.update(footprint=[1]), "footprint"),
        (lambda w: w.update(credentials=[""]), "credentials[0]"),
    ],
)
def test_what_is_no_summary_2_0_is_refused_with_its_field(change: Any, field: str) -> None:
    wire = copy.deepcopy(WIRE)
    change(wire)
    with pytest.raises(InvalidInput) as ei:
        decode_summary(wire)
    assert ei.value.field == field and ei.value.rule


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda w: w["elements"]["Co"].update(highRiskShare=None), "elements.Co.highRiskShare"),
        (lambda w: w["elements"]["Co"].update(minedByCountry={}), "elements.Co.minedByCountry"),
        (lambda w: w.update(basis={}), "basis"),
    ],
)
def test_what_1_0_did_not_allow_is_refused_in_a_1_0_summary(change: Any, field: str) -> None:
    wire = copy.deepcopy(WIRE1)
    change(wire)
    with pytest.raises(InvalidInput) as ei:
        decode_summary(wire)
    assert ei.value.field == field


def test_a_summary_without_footprint_reads_as_none() -> None:
    wire = copy.deepcopy(WIRE)
    del wire["footprint"]
    assert decode_summary(wire).footprint is None


def test_decode_refuses_what_is_not_an_object() -> None:
    for bad in (None, [], "summary", 1):
        with pytest.raises(InvalidInput) as ei:
            decode_summary(bad)
        assert ei.value.field == "summary"
