"""The Japanese ruleset (``jp``, market ``JP``): every rule at its boundary dates (the day before
and the day it takes effect; "not yet determinable" where no date is set; "not set" caps that never
carry a number), its citations (instrument and article, never a file), the METI method check and
its evidence kept as data, and the choice of rulesets by market."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal as D
from typing import Any

import pytest

from batpass.compliance import (
    CHECKS,
    MARKETS,
    Battery,
    BatteryModel,
    Category,
    Finding,
    FootprintDeclaration,
    Operator,
    RecycledShare,
    Recycler,
    Rule,
    Status,
    default_rulesets,
    evaluate,
    load_ruleset,
    rulesets_for,
    subject_from_json,
)
from batpass.core.errors import InvalidInput

DAY = dt.timedelta(days=1)
JP = rulesets_for("JP")
JP_RULESET = load_ruleset("jp")
STAGES = {
    "raw_material_and_preprocessing": D("40"),
    "main_production": D("20"),
    "distribution": None,
    "end_of_life": None,
}


def fp(**kw: Any) -> FootprintDeclaration:
    base: dict[str, Any] = {
        "kg_co2e_per_kwh": D("60"),
        "stages": STAGES,
        "source_format": "ouranos-cfp",
        "method_version": "1.0",
    }
    base.update(kw)
    return FootprintDeclaration(**base)


def ev_model(footprint: FootprintDeclaration | None = None, category: Category = Category.EV) -> BatteryModel:
    return BatteryModel(
        "JP-EV-1",
        category,
        D(60),
        footprint=fp() if footprint is None else footprint,
        recycled={"cobalt": RecycledShare(D("0.1"), D("0.1"), "segregated", "s", "2030", "site")},
    )


OPERATOR = Operator("Op KK", D(50_000_000), True, frozenset({"cobalt", "lithium"}), 10)
RECYCLER = Recycler("Rec KK", {"lithium_ion": D("0.35"), "nickel_cadmium_sealed": D("0.5")})


def subject_for(rule: Rule) -> object:
    if rule.applies_to == "operator":
        return OPERATOR
    if rule.applies_to == "recycler":
        return RECYCLER
    return ev_model()


def found(subject: object, at: dt.date, rule_id: str | None = None) -> list[Finding]:
    return [f for f in evaluate(subject, at, rulesets=JP) if rule_id is None or f.rule == rule_id]  # type: ignore[arg-type]


def statuses(rule_id: str, at: dt.date) -> set[Status]:
    rule = JP_RULESET.rule(rule_id)
    return {f.status for f in found(subject_for(rule), at, rule_id)}


# ---- every rule at its dates ---------------------------------------------------------------------

#: rule id → the day it takes effect and the status it gives from then on
DATED = {
    # FY2024 begins 2024-04-01; the scheme was announced 2024-03-19
    "jp.cev.scoring": (dt.date(2024, 4, 1), Status.INFORMATION),
    # METI human-rights due-diligence guideline of 2022-09-13
    "jp.due_diligence.guideline": (dt.date(2022, 9, 13), Status.INFORMATION),
}
#: no date set by any instrument (or none recorded): "not yet determinable" on every date
NOT_DETERMINABLE = {"jp.cfp.verification", "jp.cev.cfp_condition", "jp.recycling.small_rechargeable"}
#: caps, classes and minimums no instrument sets: "not set" on every date, never a number
NOT_SET = {"jp.cfp.max_threshold", "jp.cfp.performance_class", "jp.recycled.minimum"}
#: a method rule: it holds whenever a CFP is declared for Japanese purposes (no dated obligation)
METHOD = {"jp.cfp.method"}
EARLY, LATE = dt.date(1990, 1, 1), dt.date(2040, 1, 1)


def test_every_jp_rule_has_a_check_and_a_date_test() -> None:
    ids = {r.id for r in JP_RULESET}
    assert ids == set(DATED) | NOT_DETERMINABLE | NOT_SET | METHOD
    assert ids <= set(CHECKS)
    assert all(JP_RULESET.rule(i).effective is None for i in NOT_DETERMINABLE)
    assert all(JP_RULESET.rule(i).effective == dt.date.min for i in NOT_SET | METHOD)


@pytest.mark.parametrize("rule_id", sorted(DATED))
def test_dated_rule_day_before_on_and_after(rule_id: str) -> None:
    day, status = DATED[rule_id]
    assert JP_RULESET.rule(rule_id).effective == day
    assert statuses(rule_id, day - DAY) == {Status.NOT_YET_REQUIRED}
    assert statuses(rule_id, day) == {status}
    assert statuses(rule_id, day + DAY) == {status}
    assert statuses(rule_id, LATE) == {status}
    before = found(subject_for(JP_RULESET.rule(rule_id)), day - DAY, rule_id)[0]
    assert before.detail == f"applies from {day.isoformat()}"


@pytest.mark.parametrize("rule_id", sorted(NOT_DETERMINABLE))
def test_rule_without_a_date_is_not_yet_determinable(rule_id: str) -> None:
    for at in (EARLY, dt.date(2026, 12, 6), LATE):
        assert statuses(rule_id, at) == {Status.NOT_YET_DETERMINABLE}, at
    (finding,) = found(subject_for(JP_RULESET.rule(rule_id)), LATE, rule_id)
    assert finding.detail.startswith("date not set: ")
    assert "act not adopted" not in finding.detail  # the Japanese rules wait for no EU act


@pytest.mark.parametrize("rule_id", sorted(NOT_SET))
def test_unset_caps_are_not_set_and_carry_no_number(rule_id: str) -> None:
    for at in (EARLY, dt.date(2026, 12, 6), LATE):
        assert statuses(rule_id, at) == {Status.NOT_SET}, at
    rule = JP_RULESET.rule(rule_id)
    assert rule.outcome == "not set" and dict(rule.params) == {}
    (finding,) = found(ev_model(), LATE, rule_id)
    numbers = [v for v in finding.values.values() if isinstance(v, (int, float, D)) and not isinstance(v, bool)]
    assert numbers == []
    assert not re.search(r"\d+(\.\d+)?\s*(%|kg)", rule.text)


def test_method_rule_holds_on_any_date() -> None:
    for at in (EARLY, LATE):
        assert statuses("jp.cfp.method", at) == {Status.PASS}


def test_jp_cev_rules_concern_ev_models_only() -> None:
    lmt = ev_model(category=Category.LMT)
    rules = {f.rule for f in found(lmt, LATE)}
    assert "jp.cev.scoring" not in rules and "jp.cev.cfp_condition" not in rules
    assert "jp.recycled.minimum" in rules


def test_small_rechargeable_targets_are_carried_but_not_judged() -> None:
    findings = found(RECYCLER, LATE, "jp.recycling.small_rechargeable")
    assert [f.status for f in findings] == [Status.NOT_YET_DETERMINABLE]
    rule = JP_RULESET.rule("jp.recycling.small_rechargeable")
    assert dict(rule.params["minimums"]) == {"lithium_ion": 0.30, "nickel_cadmium_sealed": 0.60}
    # an EU-shaped recycler (no Japanese chemistry keys) gets no finding from this rule
    assert found(Recycler("EU rec", {"lithium_based": D("0.7")}), LATE, "jp.recycling.small_rechargeable") == []


def test_due_diligence_guideline_is_information_with_the_evidence_accepted() -> None:
    (finding,) = found(OPERATOR, LATE, "jp.due_diligence.guideline")
    assert finding.status == Status.INFORMATION
    assert finding.values["binding"] is False and finding.values["policy"] is True
    assert "due_diligence_credential" in finding.values["accepted_evidence"]


# ---- citations -----------------------------------------------------------------------------------

FILE_NAME = re.compile(r"[\w./-]+\.(ya?ml|md|json|py|txt|csv|html)\b|RULES|docs/|_rulesets|/work/", re.I)
INSTRUMENT = re.compile(r"METI|Act on the Promotion of Effective Utilization of Resources|No Japanese instrument")


def all_jp_findings() -> list[Finding]:
    battery = Battery("B-JP-1", ev_model(), has_passport=True, has_qr_code=True)
    out: list[Finding] = []
    for subject in (ev_model(), battery, OPERATOR, RECYCLER):
        for at in (EARLY, LATE):
            out += evaluate(subject, at, rulesets=JP)
    return out


def test_every_jp_rule_yields_a_finding_in_the_sample() -> None:
    assert {r.id for r in JP_RULESET} <= {f.rule for f in all_jp_findings()}


def test_each_finding_cites_an_instrument_and_article_never_a_file() -> None:
    for finding in all_jp_findings():
        rule = next(rs.rule(finding.rule) for rs in JP if finding.rule in rs.rules)
        assert rule.article.strip() and rule.source.strip(), rule.id
        assert finding.reference == f"{rule.article} — {rule.source}"
        assert not FILE_NAME.search(finding.reference), finding.reference
        assert not FILE_NAME.search(finding.text), finding.text
        assert not FILE_NAME.search(finding.detail), finding.detail
        if rule.id.startswith("jp."):
            assert INSTRUMENT.search(rule.source), rule.source


def test_the_ruleset_names_its_sources_and_date() -> None:
    assert JP_RULESET.name == "jp" and JP_RULESET.as_of == dt.date(2026, 12, 6)
    assert "METI" in JP_RULESET.source and not FILE_NAME.search(JP_RULESET.source)


# ---- the METI method check and its evidence --------------------------------------------------------


def method_finding(footprint: FootprintDeclaration) -> Finding:
    (finding,) = found(ev_model(footprint), LATE, "jp.cfp.method")
    return finding


def test_ouranos_cfp_implies_the_meti_method() -> None:
    finding = method_finding(fp())
    assert finding.status == Status.PASS and finding.values["method"] == "meti-battery-cfp"


def test_provisional_version_passes_with_a_note() -> None:
    finding = method_finding(fp(method_version="1.1"))
    assert finding.status == Status.PASS and "provisional" in finding.detail


@pytest.mark.parametrize(
    ("footprint", "detail"),
    [
        (fp(source_format="pact-v3", method_version=None), "missing: calculation method"),
        (fp(method_version=None), "missing: method version"),
        (fp(method_version="2.0"), "version '2.0'"),
        (fp(source_format="pact-v3", method="eu-2023-1542-annex-ii"), "not accepted for Japanese purposes"),
        (fp(stages={**STAGES, "use": D("1")}), "outside the method's boundary: use"),
    ],
)
def test_method_failures_say_what_is_wrong(footprint: FootprintDeclaration, detail: str) -> None:
    finding = method_finding(footprint)
    assert finding.status == Status.FAIL and detail in finding.detail


def test_no_footprint_no_method_finding() -> None:
    model = dataclasses.replace(ev_model(), footprint=None)
    assert found(model, LATE, "jp.cfp.method") == []
    assert found(model, LATE, "jp.cfp.verification") == []


def test_method_named_in_json_is_read() -> None:
    raw = {
        "model_id": "M",
        "category": "ev",
        "footprint": {"kg_co2e_per_kwh": "60", "method": "meti-battery-cfp", "method_version": "1.0"},
    }
    model = subject_from_json(raw)
    assert isinstance(model, BatteryModel)
    (finding,) = found(model, LATE, "jp.cfp.method")
    assert finding.status == Status.PASS


def test_accepted_methods_are_rule_data_open_to_recognition() -> None:
    """Recognition (another market's evidence counting in Japan) is not built; the accepted
    methods are the rule's evidence data, so extending them needs no change to the check."""
    rule = JP_RULESET.rule("jp.cfp.method")
    other = fp(source_format="catenax-pcf", method="eu-2023-1542-annex-ii", method_version="1")
    assert CHECKS[rule.id](rule, ev_model(other))[0][1][0] == Status.FAIL  # type: ignore[index]
    widened = dataclasses.replace(
        rule, evidence={**rule.evidence, "methods": {**rule.evidence["methods"], "eu-2023-1542-annex-ii": ["1"]}}
    )
    assert CHECKS[rule.id](widened, ev_model(other))[0][1][0] == Status.PASS  # type: ignore[index]


# ---- markets -------------------------------------------------------------------------------------


def test_markets_choose_the_rulesets() -> None:
    assert sorted(MARKETS) == ["EU", "JP"]
    assert [rs.name for rs in rulesets_for("JP")] == ["jp", "footprint-exchange"]
    assert [rs.name for rs in rulesets_for("EU")] == ["eu-2023-1542", "footprint-exchange"]
    assert rulesets_for() == default_rulesets() == rulesets_for("EU")
    assert [(rs.name, rs.version) for rs in rulesets_for(ruleset="jp@2026.1")] == [("jp", "2026.1")]


def test_the_default_stays_the_eu_market() -> None:
    rules = {f.rule for f in evaluate(ev_model(), LATE)}
    assert not any(r.startswith("jp.") for r in rules) and "passport.hazard.lead" in rules


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"market": "US"}, ["EU", "JP"]),
        ({"market": "jp"}, ["EU", "JP"]),
        ({"ruleset": "kr"}, ["eu-2023-1542", "footprint-exchange", "jp"]),
        ({"ruleset": "jp@0.1"}, ["2026.1"]),
        ({"market": "JP", "ruleset": "jp"}, ["market or a ruleset"]),
    ],
)
def test_unknown_market_or_ruleset_names_the_known_ones(kwargs: dict[str, str], named: list[str]) -> None:
    with pytest.raises(InvalidInput) as caught:
        rulesets_for(**kwargs)
    for name in named:
        assert name in str(caught.value)
