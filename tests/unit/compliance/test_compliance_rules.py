"""A test per rule and per boundary date (the day before, the day of), and the rule data itself."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from batpass.compliance import (
    CHECKS,
    Battery,
    BatteryModel,
    Category,
    FootprintDeclaration,
    Operator,
    RecycledShare,
    Recycler,
    Rule,
    Status,
    available_rulesets,
    evaluate,
    load_ruleset,
)
from batpass.core.errors import InvalidInput, NotFound

DAY = dt.timedelta(days=1)
BUNDLED = [load_ruleset(name, version) for name, version in available_rulesets()]
ALL_RULES: list[Rule] = [rule for rs in BUNDLED for rule in rs]


def share(total: str, model: str = "segregated") -> RecycledShare:
    half = D(total) / 2
    return RecycledShare(half, half, model, "scheme-x", "2031", "site-1")


def footprint(fmt: str, **kw: object) -> FootprintDeclaration:
    base: dict[str, object] = {
        "kg_co2e_per_kwh": D("0.006"),
        "source_format": fmt,
        "exempted_share": D("0.01"),
        "primary_data_share": D("0.5"),
        "reference_period_end": dt.date(2025, 12, 31),
        "method_version": "1.1",
        "stages": {
            "raw_material_and_preprocessing": D("0.004"),
            "main_production": D("0.002"),
            "distribution": None,
            "end_of_life": None,
        },
    }
    base.update(kw)
    return FootprintDeclaration(**base)  # type: ignore[arg-type]


def model(
    category: Category = Category.EV, fmt: str = "ouranos-cfp", recycled_model: str = "segregated"
) -> BatteryModel:
    return BatteryModel(
        "M1",
        category,
        D(60),
        cadmium_share=D("0.00001"),
        lead_share=D("0.00001"),
        footprint=footprint(fmt),
        performance_documented=True,
        recycled={m: share("0.9", recycled_model) for m in ("cobalt", "lithium", "nickel", "lead")},
    )


def battery(category: Category = Category.EV) -> Battery:
    return Battery(
        "B1",
        model(category),
        has_passport=True,
        has_qr_code=True,
        status="remanufactured",
        status_history=("original", "remanufactured"),
        filled_data_points=frozenset(),
        access_tiers=frozenset({"public", "legitimate_interest", "authorities", "dynamic"}),
        remanufactured_capacity_share=D("0.95"),
        remanufactured_cell_soh_spread=D("0.02"),
        due_diligence_report_linked=True,
    )


def subject_for(rule: Rule) -> object:
    if rule.applies_to == "operator":
        return Operator("Op", D(50_000_000), True, frozenset({"cobalt", "natural_graphite", "lithium", "nickel"}), 10)
    if rule.applies_to == "recycler":
        efficiency = {"lithium_based": D("0.9"), "lithium_ion": D("0.9")}
        return Recycler("Rec", efficiency, {"cobalt": D("0.99"), "lithium": D("0.9")})
    category = Category.EV
    if rule.categories and "ev" not in rule.categories:
        category = Category(sorted(rule.categories)[0])
    if rule.id == "exchange.pact_v2.exemption_cap":
        return model(category, fmt="pact-v2")
    if rule.id == "exchange.catenax.exemption_cap":
        return model(category, fmt="catenax-pcf")
    if rule.id == "custody.mass_balance":
        return model(category, recycled_model="mass_balance")
    if rule.applies_to == "battery":
        return battery(category)
    return model(category)


def statuses(rule: Rule, at: dt.date) -> set[Status]:
    subject = subject_for(rule)
    found = [f for f in evaluate(subject, at, rulesets=BUNDLED) if f.rule == rule.id]  # type: ignore[arg-type]
    return {f.status for f in found}


def test_every_rule_has_a_check_and_a_reference() -> None:
    assert {r.id for r in ALL_RULES} == set(CHECKS)
    for rule in ALL_RULES:
        assert rule.article and rule.source and rule.text


CONTRACT_RULES = {
    "passport.scope.ev": {},
    "passport.scope.lmt": {},
    "passport.scope.industrial": {"min_kwh": 2},
    "passport.status.values": {"values": ["original", "re-used", "repurposed", "remanufactured", "waste"]},
    "passport.remanufactured.thresholds": {"capacity_min_share": 0.90, "cell_soh_spread_max": 0.03},
    "passport.launch.not_yet_required": {
        "data_points": ["carbon_footprint", "due_diligence", "recycled_content", "instructions_for_use"]
    },
    "passport.hazard.cadmium": {"max_share": 0.00002},
    "passport.hazard.lead": {"max_share": 0.00004},
    "passport.access.tiers": {"tiers": ["public", "legitimate_interest", "authorities", "dynamic"]},
}


@pytest.mark.parametrize("rule_id", sorted(CONTRACT_RULES))
def test_contract_rules_carry_the_agreed_params(rule_id: str) -> None:
    rule = load_ruleset().rule(rule_id)
    assert dict(rule.params) == CONTRACT_RULES[rule_id]
    assert rule.effective is not None


def test_contract_transitions_and_scope_date() -> None:
    rs = load_ruleset(name="eu-2023-1542", version=None)
    params = rs.rule("passport.status.transitions").params
    assert set(params["allowed"]) == {"original", "re-used", "repurposed", "remanufactured", "waste"}
    assert params["new_passport_on"] == ["re-used", "repurposed", "remanufactured"]
    assert rs.rule("passport.scope.ev").effective == dt.date(2027, 2, 18)
    assert rs.rule("passport.scope.ev").article == "Art. 77(1)"


def test_unknown_rule_and_ruleset() -> None:
    with pytest.raises(NotFound):
        load_ruleset().rule("no.such.rule")
    with pytest.raises(InvalidInput):
        load_ruleset("no-such")
    with pytest.raises(InvalidInput):
        load_ruleset(version="0.0")


DATED = [r for r in ALL_RULES if r.effective not in (None, dt.date.min)]


@pytest.mark.parametrize("rule", DATED, ids=[r.id for r in DATED])
def test_dated_rule_boundary(rule: Rule) -> None:
    assert rule.effective is not None
    assert statuses(rule, rule.effective - DAY) == {Status.NOT_YET_REQUIRED}
    on_day = statuses(rule, rule.effective)
    assert (on_day and Status.NOT_YET_REQUIRED not in on_day) or rule.id == "passport.launch.not_yet_required"
    # the day after judges as the day itself: the date is a start, not a one-day window
    assert statuses(rule, rule.effective + DAY) == on_day


UNDATED = [r for r in ALL_RULES if r.effective is None]


@pytest.mark.parametrize("rule", UNDATED, ids=[r.id for r in UNDATED])
def test_rule_whose_act_is_not_adopted(rule: Rule) -> None:
    if rule.earliest is not None:
        assert statuses(rule, rule.earliest - DAY) == {Status.NOT_YET_REQUIRED}
        assert statuses(rule, rule.earliest) == {Status.NOT_YET_DETERMINABLE}
        assert statuses(rule, rule.earliest + DAY) == {Status.NOT_YET_DETERMINABLE}
    assert statuses(rule, dt.date(2040, 1, 1)) == {Status.NOT_YET_DETERMINABLE}


ALWAYS = [r for r in ALL_RULES if r.effective == dt.date.min and r.id != "exchange.dqr.range" and not r.outcome]


@pytest.mark.parametrize("rule", ALWAYS, ids=[r.id for r in ALWAYS])
def test_format_rules_pass_on_good_data(rule: Rule) -> None:
    assert statuses(rule, dt.date(2026, 1, 1)) == {Status.PASS}


# ---- failing values, one per rule kind -----------------------------------------------------------

AT = dt.date(2036, 8, 18)


def rule_status(subject: object, rule_id: str, at: dt.date = AT) -> list[Status]:
    return [f.status for f in evaluate(subject, at) if f.rule == rule_id]  # type: ignore[arg-type]


def test_recycled_minimums_phase1_and_phase2_values() -> None:
    m = BatteryModel(
        "M",
        Category.EV,
        D(60),
        recycled={"cobalt": share("0.16"), "lithium": share("0.06"), "nickel": share("0.059")},
        metals_present=frozenset({"cobalt", "lithium", "nickel"}),
    )
    p1 = {f.subject: f.status for f in evaluate(m, dt.date(2031, 8, 18)) if f.rule == "recycled.minimum.phase1"}
    assert p1 == {"M:cobalt": Status.PASS, "M:lithium": Status.PASS, "M:nickel": Status.FAIL}
    p2 = {f.subject: f.status for f in evaluate(m, dt.date(2036, 8, 18)) if f.rule == "recycled.minimum.phase2"}
    assert set(p2.values()) == {Status.FAIL}  # 26 % / 12 % / 15 %
    bc = BatteryModel(
        "M",
        Category.EV,
        D(60),
        recycled={"cobalt": share("0.5", "book_and_claim")},
        metals_present=frozenset({"cobalt"}),
    )
    assert rule_status(bc, "recycled.minimum.phase1", dt.date(2031, 8, 18)) == [Status.FAIL]
    assert rule_status(bc, "custody.book_and_claim") == [Status.FAIL]


def test_lmt_enters_recycled_minimums_only_in_phase2() -> None:
    m = BatteryModel("L", Category.LMT, D(1), recycled={"cobalt": share("0.3")}, metals_present=frozenset({"cobalt"}))
    assert rule_status(m, "recycled.minimum.phase1") == []
    assert rule_status(m, "recycled.minimum.phase2") == [Status.PASS]


def test_industrial_passport_needs_more_than_2_kwh() -> None:
    small = Battery("S", BatteryModel("I", Category.INDUSTRIAL, D(2)))
    big = Battery("B", BatteryModel("I", Category.INDUSTRIAL, D("2.1")))
    at = dt.date(2027, 2, 18)
    assert rule_status(small, "passport.scope.industrial", at) == []
    assert rule_status(big, "passport.scope.industrial", at) == [Status.FAIL]


def test_portable_and_sli_get_no_passport_finding() -> None:
    for cat in (Category.PORTABLE, Category.SLI):
        b = Battery("P", BatteryModel("P", cat, D(1)))
        assert not [f for f in evaluate(b, AT) if f.rule.startswith("passport.scope")]


def test_hazard_thresholds() -> None:
    over = BatteryModel("H", Category.EV, cadmium_share=D("0.0000201"), lead_share=D("0.00004"))
    assert rule_status(over, "passport.hazard.cadmium") == [Status.FAIL]  # symbol needed, not marked
    assert rule_status(over, "passport.hazard.lead") == [Status.PASS]  # at the threshold: no symbol needed
    missing = BatteryModel("H", Category.EV)
    assert rule_status(missing, "passport.hazard.cadmium") == [Status.FAIL]


def test_remanufactured_thresholds() -> None:
    b = battery()
    low = Battery(**{**b.__dict__, "remanufactured_capacity_share": D("0.89")})
    spread = Battery(**{**b.__dict__, "remanufactured_cell_soh_spread": D("0.031")})
    assert rule_status(b, "passport.remanufactured.thresholds") == [Status.PASS]
    assert rule_status(low, "passport.remanufactured.thresholds") == [Status.FAIL]
    assert rule_status(spread, "passport.remanufactured.thresholds") == [Status.FAIL]


def test_status_transitions() -> None:
    b = battery()
    bad = Battery(**{**b.__dict__, "status_history": ("original", "waste", "re-used")})
    assert rule_status(bad, "passport.status.transitions") == [Status.FAIL]


def test_due_diligence_threshold_and_materials() -> None:
    small = Operator("S", D(39_999_999))
    assert rule_status(small, "due_diligence.scope") == []
    big = Operator("B", D(40_000_000), True, frozenset({"cobalt", "lithium", "nickel"}), 9)
    assert rule_status(big, "due_diligence.scope") == [Status.PASS]
    assert rule_status(big, "due_diligence.materials") == [Status.FAIL]  # natural graphite missing
    assert rule_status(big, "due_diligence.records") == [Status.FAIL]
    assert rule_status(big, "due_diligence.scope", dt.date(2027, 8, 17)) == [Status.NOT_YET_REQUIRED]


def test_recycler_targets() -> None:
    r = Recycler("R", {"lithium_based": D("0.66"), "lead_acid": D("0.75")}, {"lithium": D("0.5"), "cobalt": D("0.94")})
    assert rule_status(r, "recycler.efficiency.2025") == [Status.PASS, Status.PASS]
    assert rule_status(r, "recycler.efficiency.2030") == [Status.FAIL, Status.FAIL]
    assert rule_status(r, "recycler.recovery.2027") == [Status.PASS, Status.PASS]
    assert rule_status(r, "recycler.recovery.2031") == [Status.FAIL, Status.FAIL]


def test_launch_data_points_are_not_yet_required_not_missing() -> None:
    b = Battery("B", model(), has_passport=True)
    [f] = [f for f in evaluate(b, dt.date(2027, 2, 18)) if f.rule == "passport.launch.not_yet_required"]
    assert f.status == Status.NOT_YET_REQUIRED and "carbon_footprint" in f.values["not_filled"]


def test_annex_ii_stages_from_ouranos_are_reported_not_provided() -> None:
    [f] = [f for f in evaluate(model(), AT) if f.rule == "footprint.annex_ii.stages"]
    assert f.status == Status.FAIL and f.values["not_provided"] == ["distribution", "end_of_life"]


def test_meti_method_version_missing_fails_and_findings_serialise() -> None:
    m = BatteryModel("M", Category.EV, D(60), footprint=footprint("ouranos-cfp", method_version=None))
    [f] = [f for f in evaluate(m, AT) if f.rule == "meti.cfp.method_version"]
    assert f.status == Status.FAIL and "METI" in f.text
    assert f.as_dict()["status"] == "fail" and f.as_dict()["reference"]
