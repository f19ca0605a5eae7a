"""Which shipments need an authorisation (docs/outflows.md): each rule of the shipment rules at
its boundaries — dates, OECD or not, one country, inside the EU — and the node's own
controlled-materials policy. Pure: no store."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

import pytest

from batpass.core.errors import InvalidInput
from batpass.ledger import SHIPMENT_RULES, CustodyModel, Element, Lot, LotId, OutflowPolicy, Unit, parse_policy
from batpass.ledger._shipment_rules import _PATH, parse_rules, requirement
from batpass.ledger.model import EventId, EventKind

BM_DAY = _dt.datetime(2026, 11, 9, tzinfo=_dt.UTC)  # Delegated Decision (EU) 2025/934 applies
JUST_BEFORE = BM_DAY - _dt.timedelta(seconds=1)
LI_BATTERY = {Element.LI: 0.02, Element.NI: 0.1, Element.CO: 0.02}


def lot(material: str, composition: dict[Element, float] | None = None, status: str | None = None) -> Lot:
    return Lot(
        owner="did:web:rec.example",
        id=LotId("L1"),
        material=material,
        unit=Unit.KG,
        quantity=100.0,
        mass_kg=100.0,
        remaining_kg=100.0,
        mass_per_piece_kg=None,
        site="S1",
        country="NL",
        custody=CustodyModel.MASS_BALANCE,
        recycled=None,
        composition=dict(composition or {}),
        produced_at=_dt.datetime(2026, 1, 1, tzinfo=_dt.UTC),
        event_id=EventId("e1"),
        kind=EventKind.RECYCLING,
        status=status,
    )


def req(
    material: str,
    origin: str,
    dest: str,
    at: _dt.datetime = BM_DAY,
    *,
    composition: dict[Element, float] | None = None,
    status: str | None = None,
    policy: OutflowPolicy = OutflowPolicy(),
) -> tuple[str, str]:
    r = requirement(SHIPMENT_RULES, policy, lot(material, composition, status), origin, dest, at)
    return r.requires, r.rule


def test_black_mass_is_hazardous_waste_from_9_november_2026_not_a_second_before() -> None:
    bm = {Element.LI: 0.04, Element.NI: 0.2}
    assert req("black_mass", "NL", "DE", JUST_BEFORE, composition=bm) == ("none", "none")
    assert req("black_mass", "NL", "DE", BM_DAY, composition=bm) == ("consent", "eu.wsr.intra-eu")
    # the date is the calendar date in UTC: 00:30 in Amsterdam on the 9th is still the 8th in UTC
    cet = _dt.timezone(_dt.timedelta(hours=1))
    assert req("black_mass", "NL", "DE", _dt.datetime(2026, 11, 9, 0, 30, tzinfo=cet))[0] == "none"


def test_within_one_country_nothing_is_needed_even_for_hazardous_waste() -> None:
    assert req("black_mass", "NL", "NL") == ("none", "domestic")
    assert req("waste_battery", "DE", "DE", composition=LI_BATTERY) == ("none", "domestic")
    assert req("waste_battery", "JP", "JP", composition={Element.PB: 0.6}) == ("none", "domestic")


def test_outside_the_eu_non_oecd_is_prohibited_and_oecd_needs_consent() -> None:
    assert req("black_mass", "NL", "KR") == ("consent", "eu.wsr.export-oecd")
    assert req("black_mass", "NL", "CR") == ("consent", "eu.wsr.export-oecd")  # OECD member since 2021
    assert req("black_mass", "NL", "NO") == ("consent", "eu.wsr.export-oecd")
    assert req("black_mass", "NL", "IN") == ("prohibited", "eu.wsr.export-non-oecd")
    assert req("black_mass", "NL", "CN") == ("prohibited", "eu.wsr.export-non-oecd")
    assert req("black_mass", "NL", "IN", JUST_BEFORE) == ("none", "none")  # not yet hazardous


def test_lithium_and_nickel_waste_batteries_are_hazardous_from_the_same_date() -> None:
    assert req("waste_battery", "DE", "NL", JUST_BEFORE, composition=LI_BATTERY) == ("none", "none")
    assert req("waste_battery", "DE", "NL", composition=LI_BATTERY) == ("consent", "eu.wsr.intra-eu")
    assert req("waste_battery", "DE", "NL", composition={Element.NI: 0.3}) == ("consent", "eu.wsr.intra-eu")
    assert req("waste_battery", "DE", "VN", composition=LI_BATTERY) == ("prohibited", "eu.wsr.export-non-oecd")
    # a battery whose passport says waste is a waste battery; one in use is a product
    assert req("battery", "DE", "NL", composition=LI_BATTERY, status="waste") == ("consent", "eu.wsr.intra-eu")
    assert req("battery", "DE", "NL", composition=LI_BATTERY, status="original") == ("none", "none")
    # lead-acid waste batteries are not among the classes the EU rules here list: not encoded
    assert req("waste_battery", "DE", "NL", composition={Element.PB: 0.6}) == ("none", "none")


def test_japans_basel_act_classes() -> None:
    jan = _dt.datetime(2026, 1, 10, tzinfo=_dt.UTC)  # no date in the Basel Act's classes
    r = requirement(SHIPMENT_RULES, OutflowPolicy(), lot("waste_battery", {Element.PB: 0.6}), "JP", "KR", jan)
    assert (r.requires, r.rule, r.waste_class) == ("consent", "jp.basel.export-approval", "jp.basel.A1160")
    r = requirement(SHIPMENT_RULES, OutflowPolicy(), lot("waste_battery", LI_BATTERY), "JP", "KR", jan)
    assert (r.requires, r.waste_class) == ("consent", "jp.basel.A1170")
    assert "METI" in r.instrument and "FEFTA Art. 48(3)" in r.instrument
    assert req("black_mass", "JP", "KR", jan) == ("classification", "jp.basel.black-mass")
    # non-waste cells leave Japan freely unless the node's policy says otherwise
    assert req("cell", "JP", "DE", jan, composition=LI_BATTERY) == ("none", "none")


def test_the_node_policy_controls_non_waste_strategic_materials_leaving_the_customs_territory() -> None:
    li = OutflowPolicy(controlled=frozenset({Element.LI}))
    li2co3 = {Element.LI: 0.188}
    assert req("lithium_carbonate", "NL", "US", composition=li2co3) == ("none", "none")
    assert req("lithium_carbonate", "NL", "US", composition=li2co3, policy=li) == (
        "consent",
        "node.controlled-materials",
    )
    # within the EU's customs territory: not an export
    assert req("lithium_carbonate", "NL", "DE", composition=li2co3, policy=li) == ("none", "none")
    assert req("cobalt_sulphate", "NL", "US", composition={Element.CO: 0.2}, policy=li) == ("none", "none")
    assert req("copper", "NL", "US", composition={Element.CU: 1.0}, policy=li) == ("none", "none")
    # outside the EU every border counts
    assert req("cobalt_hydroxide", "CD", "CN", composition={Element.CO: 0.35}, policy=li)[0] == "none"
    co = OutflowPolicy(controlled=frozenset({Element.CO}))
    assert req("cobalt_hydroxide", "CD", "CN", composition={Element.CO: 0.35}, policy=co)[0] == "consent"


def test_rules_are_versioned_data_each_citing_its_instrument() -> None:
    doc: dict[str, Any] = json.loads(_PATH.read_text(encoding="utf-8"))
    assert SHIPMENT_RULES.label == f"{doc['name']}@{doc['version']}"
    assert SHIPMENT_RULES.digest.startswith("sha256:") and len(SHIPMENT_RULES.digest) == 71
    for r in SHIPMENT_RULES.rules:
        assert r.instrument.strip(), r.id
    for c in SHIPMENT_RULES.classes:
        assert c.instrument.strip(), c.id
    cited = " ".join(r.instrument for r in SHIPMENT_RULES.rules) + " ".join(
        c.instrument for c in SHIPMENT_RULES.classes
    )
    for instrument in ("(EU) 2024/1157", "(EU) 2025/934", "Basel Act"):
        assert instrument in cited
    assert len(SHIPMENT_RULES.groups["OECD"]) == 38 and len(SHIPMENT_RULES.groups["EU"]) == 27
    # a change to the data is a new digest
    doc["rules"][1]["requires"] = "none"
    assert parse_rules(doc).digest != SHIPMENT_RULES.digest
    doc["rules"][1]["requires"] = "maybe"
    with pytest.raises(ValueError):
        parse_rules(doc)


@pytest.mark.parametrize(
    ("cfg", "field"),
    [
        ({"mode": "stop"}, "outflows.mode"),
        ({"controlled_materials": ["Zn"]}, "outflows.controlled_materials"),
        ({"controlled_materials": "Li"}, "outflows.controlled_materials"),
        ({"modus": "warn"}, "outflows"),
    ],
)
def test_a_bad_policy_names_its_field(cfg: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_policy(cfg)
    assert exc.value.field == field


def test_the_default_policy_warns_and_controls_nothing() -> None:
    assert parse_policy(None) == OutflowPolicy("warn", frozenset())
    p = parse_policy({"mode": "block", "controlled_materials": ["Li", "C_nat"]})
    assert p.blocks and p.controlled == {Element.LI, Element.C_NAT}
