"""The pure model: catalogue, tiers, states, values, lifecycle rules."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from batpass.core.errors import InvalidInput
from batpass.core.ids import BatteryId
from batpass.passport import (
    FIELDS,
    Category,
    FieldState,
    LifecycleViolation,
    Passport,
    PassportRules,
    Status,
    Tier,
    UnitMismatch,
    WrongCategory,
    field_state,
    tiers_for_roles,
    visible_view,
)
from batpass.passport.model import (
    FIELDS_BY_KEY,
    check_remanufacturing,
    check_scope,
    coerce_value,
    missing_on_publish,
    parse_category,
    parse_values,
    transition,
)
from batpass.passport.service import StaticProductData


def _passport(static: StaticProductData, **kw: object) -> Passport:
    base = dict(
        passport_id=uuid.uuid4(),
        battery_id=BatteryId("04012345000009", "SN1"),
        resolver_base="https://id.example",
        category=static.category,
        model_id=static.model_id,
        status=Status.ORIGINAL,
        operator="did:web:op.example",
        backup_node="https://backup.example",
        values={**static.values, "manufacturing_place": "Wolfsburg", "manufacturing_date": dt.date(2027, 2, 1)},
    )
    base.update(kw)
    return Passport(**base)  # type: ignore[arg-type]


def test_every_field_has_exactly_one_tier_and_unique_key() -> None:
    assert len({f.key for f in FIELDS}) == len(FIELDS)
    assert all(isinstance(f.tier, Tier) for f in FIELDS)
    assert {f.tier for f in FIELDS} == set(Tier)


def test_quantities_declare_units() -> None:
    for f in FIELDS:
        if f.kind.value == "quantity":
            assert f.unit, f.key


def test_role_tiers() -> None:
    assert tiers_for_roles([]) == {Tier.PUBLIC}
    assert tiers_for_roles(["legitimate_interest"]) == {Tier.PUBLIC, Tier.LEGITIMATE_INTEREST, Tier.DYNAMIC}
    assert tiers_for_roles(["market_surveillance_authority"]) == {
        Tier.PUBLIC,
        Tier.LEGITIMATE_INTEREST,
        Tier.AUTHORITIES,
    }
    assert tiers_for_roles(["nobody"]) == {Tier.PUBLIC}


def test_public_view_hides_restricted(static: StaticProductData) -> None:
    p = _passport(static)
    view = visible_view(p, {Tier.PUBLIC})
    assert "test_reports" not in view and "composition_cathode" not in view
    assert view["rated_capacity"] == {"value": 202.0, "unit": "Ah"}
    full = visible_view(p, set(Tier))
    assert "test_reports" in full


def test_states_missing_vs_not_yet_required(static: StaticProductData, rules: PassportRules) -> None:
    p = _passport(static)
    after = dt.date(2027, 3, 1)
    assert field_state(p, FIELDS_BY_KEY["carbon_footprint"], after, rules) is FieldState.NOT_YET_REQUIRED
    assert field_state(p, FIELDS_BY_KEY["rated_capacity"], after, rules) is FieldState.PRESENT
    q = p.with_values({"rated_capacity": None})
    assert field_state(q, FIELDS_BY_KEY["rated_capacity"], after, rules) is FieldState.MISSING
    assert field_state(q, FIELDS_BY_KEY["rated_capacity"], dt.date(2026, 1, 1), rules) is FieldState.NOT_YET_REQUIRED
    assert [s.key for s in missing_on_publish(q, after, rules)] == ["rated_capacity"]
    # applicability: round-trip efficiency is an industrial data point (Annex IV Part A (9))
    assert field_state(p, FIELDS_BY_KEY["round_trip_efficiency_initial"], after, rules) is FieldState.NOT_APPLICABLE


def test_unit_mismatch_names_field_and_rule() -> None:
    with pytest.raises(UnitMismatch) as ei:
        coerce_value(FIELDS_BY_KEY["weight"], {"value": 452000, "unit": "g"})
    assert ei.value.field == "weight" and "kg" in str(ei.value.rule)


def test_wrong_category() -> None:
    with pytest.raises(WrongCategory) as ei:
        parse_category("portable")
    assert ei.value.field == "category" and "Art. 77(1)" in str(ei.value.rule)
    assert parse_category("EV") is Category.EV


def test_industrial_threshold(rules: PassportRules) -> None:
    from batpass.passport import Quantity

    with pytest.raises(WrongCategory):
        check_scope(Category.INDUSTRIAL, Quantity(1.5, "kWh"), rules)
    check_scope(Category.INDUSTRIAL, Quantity(2.5, "kWh"), rules)
    check_scope(Category.LMT, None, rules)


def test_parse_values_refuses_unknown_and_derived_and_dynamic() -> None:
    for raw in ({"colour": "red"}, {"passport_id": "x"}, {"state_of_health": {"value": 90, "unit": "%"}}):
        with pytest.raises(InvalidInput):
            parse_values(raw)


def test_transition_table(static: StaticProductData, rules: PassportRules) -> None:
    p = _passport(static)
    w = transition(p, Status.WASTE, rules, waste_operator="did:web:recycler.example")
    assert w.status is Status.WASTE and w.responsible() == "did:web:recycler.example"
    with pytest.raises(LifecycleViolation) as ei:
        transition(w, Status.ORIGINAL, rules)
    assert "waste -> original" in str(ei.value) and "passport.status.transitions" in str(ei.value.rule)
    with pytest.raises(LifecycleViolation):
        transition(p, Status.REPURPOSED, rules)  # needs a new passport
    with pytest.raises(InvalidInput):
        transition(p, Status.WASTE, rules)  # who takes over?


@pytest.mark.parametrize("status", ["original", "re-used", "repurposed", "remanufactured", "waste"])
@pytest.mark.parametrize("to", ["original", "re-used", "repurposed", "remanufactured", "waste"])
def test_every_pair_follows_the_table(static: StaticProductData, rules: PassportRules, status: str, to: str) -> None:
    p = _passport(static, status=Status(status))
    allowed = to in rules.allowed[status] and to not in rules.new_passport_on
    if allowed:
        assert transition(p, Status(to), rules, waste_operator="did:web:w.example").status.value == to
    else:
        with pytest.raises(LifecycleViolation):
            transition(p, Status(to), rules, waste_operator="did:web:w.example")


def test_remanufacturing_thresholds(rules: PassportRules) -> None:
    check_remanufacturing(rated_capacity_ah=200, restored_capacity_ah=181, cell_soh=[95, 97.5], rules=rules)
    with pytest.raises(LifecycleViolation) as ei:
        check_remanufacturing(rated_capacity_ah=200, restored_capacity_ah=179, cell_soh=[95, 96], rules=rules)
    assert ei.value.details["field"] == "restored_capacity"
    with pytest.raises(LifecycleViolation) as ei:
        check_remanufacturing(rated_capacity_ah=200, restored_capacity_ah=190, cell_soh=[92, 96], rules=rules)
    assert "Art. 3(1)(32)" in str(ei.value.rule)


def test_record_round_trip(static: StaticProductData) -> None:
    p = _passport(static, predecessors=(uuid.uuid4(),))
    assert Passport.from_record(p.to_record()) == p
