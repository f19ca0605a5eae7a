"""The evaluator: judges a battery, battery model, operator or recycler against the rulesets at a
date. Checks are a table (rule id → check); dates and scope come from the rule data only.

A rule whose act is not adopted (or whose date is otherwise not set) gives "not yet
determinable"; before its date "not yet required"; a missing value is a ``fail`` naming what is
missing (never "not yet required"), except a fact the evaluating node says it does not hold
(``unknown``), which is "not yet determinable". A rule with an ``outcome`` ("information", "not
set") reports that outcome once it applies.

Evidence: each finding names the evidence it was judged on (:func:`evidence_for`): what the rule
uses (its ``evidence.uses``, or by default what its kind reads: :data:`USES`), and of the
credentials only the types the rule names — ``evidence.credentials`` for credentials admitted in
the node's own ecosystem, ``evidence.recognised`` for those that count only through a
mutual-recognition rule (the finding names that rule).

The rulesets are chosen by market (:data:`MARKETS`: ``EU``, the default, and ``JP``) or by name
(:func:`rulesets_for`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from batpass.compliance._rules import Rule, Ruleset, load_ruleset
from batpass.compliance.model import (
    Battery,
    BatteryModel,
    Category,
    Evidence,
    Finding,
    Operator,
    Recycler,
    Status,
)
from batpass.core.errors import InvalidInput

Subject = Battery | BatteryModel | Operator | Recycler
Outcome = tuple[Status, dict[str, Any], str]
Check = Callable[[Rule, Any], Iterable[tuple[str, Outcome]]]

D = Decimal


#: market → the rulesets evaluated for it (newest versions); the footprint exchange rules hold
#: whatever the market
MARKETS: Mapping[str, tuple[str, ...]] = {
    "EU": ("eu-2023-1542", "footprint-exchange"),
    "JP": ("jp", "footprint-exchange"),
}
DEFAULT_MARKET = "EU"


def default_rulesets() -> tuple[Ruleset, ...]:
    return rulesets_for(DEFAULT_MARKET)


def rulesets_for(market: str | None = None, ruleset: str | None = None) -> tuple[Ruleset, ...]:
    """The rulesets for ``market`` (``EU`` | ``JP``; default ``EU``), or the one ruleset named
    ``ruleset`` (``name`` or ``name@version``). Not both; an unknown one is refused naming the known
    ones (:class:`InvalidInput`)."""
    if market is not None and ruleset is not None:
        raise InvalidInput("give a market or a ruleset, not both", field="ruleset", rule="one selector")
    if ruleset is not None:
        name, _, version = ruleset.partition("@")
        return (load_ruleset(name, version or None),)
    chosen = DEFAULT_MARKET if market is None else market
    if chosen not in MARKETS:
        raise InvalidInput(
            f"market {chosen!r} is not one of {sorted(MARKETS)}", field="market", rule="known markets", value=chosen
        )
    return tuple(load_ruleset(name) for name in MARKETS[chosen])


#: rule id prefix → the evidence purposes its check reads, when the rule names none (longest wins)
USES: Mapping[str, frozenset[str]] = {
    "passport.": frozenset({"passport"}),
    "labelling.": frozenset({"passport"}),
    "performance.": frozenset({"passport"}),
    "footprint.": frozenset({"footprint", "verified_footprint"}),
    "exchange.": frozenset({"footprint"}),
    "meti.": frozenset({"footprint"}),
    "jp.cfp.": frozenset({"footprint", "verified_footprint"}),
    "jp.cev.": frozenset({"footprint"}),
    "recycled.": frozenset({"recycled_content"}),
    "custody.": frozenset({"recycled_content"}),
    "jp.recycled.": frozenset({"recycled_content"}),
    "due_diligence.": frozenset({"due_diligence"}),
    "due_diligence.report": frozenset({"passport"}),
    "jp.due_diligence.": frozenset({"due_diligence"}),
    "recycler.": frozenset({"recycling_figures"}),
    "jp.recycling.": frozenset({"recycling_figures"}),
}


def _uses(rule: Rule) -> frozenset[str]:
    named = rule.evidence.get("uses")
    if named is not None:
        return frozenset(str(u) for u in named)
    best = max((p for p in USES if rule.id.startswith(p)), key=len, default=None)
    return USES[best] if best is not None else frozenset()


def evidence_for(rule: Rule, held: Iterable[Evidence]) -> tuple[Evidence, ...]:
    """The evidence ``rule`` is judged on among ``held``: the purposes it uses; a credential only
    when the rule names its type (``evidence.credentials`` natively, ``evidence.recognised`` when a
    recognition rule admitted it from another ecosystem)."""
    uses = _uses(rule)
    native = {str(t) for t in rule.evidence.get("credentials", ())}
    recognised = {str(t) for t in rule.evidence.get("recognised", ())}
    out: list[Evidence] = []
    for e in held:
        if e.purpose not in uses:
            continue
        # a figure always counts; a credential when the rule names its type, as native or recognised
        allowed = native | recognised if e.recognition is None else recognised
        if e.credential_type is None or e.credential_type in allowed:
            out.append(e)
    return tuple(out)


def _credentials(rule: Rule, held: Iterable[Evidence], purpose: str) -> list[Evidence]:
    return [e for e in evidence_for(rule, held) if e.purpose == purpose and e.credential_type is not None]


def _ok(cond: bool) -> Status:
    return Status.PASS if cond else Status.FAIL


def _in_scope(rule: Rule, model: BatteryModel) -> bool:
    if rule.categories and model.category.value not in rule.categories:
        return False
    params = rule.params
    if model.category == Category.INDUSTRIAL:
        for key in ("min_kwh", "industrial_min_kwh"):
            if key in params and (model.capacity_kwh is None or model.capacity_kwh <= D(str(params[key]))):
                return False
        if "exclusively_external_storage" in params.get("excludes", ()) and model.exclusively_external_storage:
            return False
    return True


def _single(status: Status, values: dict[str, Any], detail: str = "") -> list[tuple[str, Outcome]]:
    return [("", (status, values, detail))]


# ---- battery checks ------------------------------------------------------------------------------


def _passport(rule: Rule, b: Battery) -> list[tuple[str, Outcome]]:
    return _single(
        _ok(b.has_passport),
        {"category": b.model.category.value, "capacity_kwh": b.model.capacity_kwh, "has_passport": b.has_passport},
    )


def _qr(rule: Rule, b: Battery) -> list[tuple[str, Outcome]]:
    return _single(_ok(b.has_qr_code), {"has_qr_code": b.has_qr_code})


def _tiers(rule: Rule, b: Battery) -> list[tuple[str, Outcome]]:
    need = set(rule.params["tiers"])
    missing = sorted(need - b.access_tiers)
    return _single(
        _ok(not missing),
        {"required": sorted(need), "served": sorted(b.access_tiers)},
        f"missing tiers: {', '.join(missing)}" if missing else "",
    )


def _status_values(rule: Rule, b: Battery) -> list[tuple[str, Outcome]]:
    return _single(_ok(b.status in rule.params["values"]), {"status": b.status, "allowed": rule.params["values"]})


def _transitions(rule: Rule, b: Battery) -> list[tuple[str, Outcome]]:
    allowed: Mapping[str, list[str]] = rule.params["allowed"]
    bad = [
        f"{a}→{c}" for a, c in zip(b.status_history, b.status_history[1:], strict=False) if c not in allowed.get(a, [])
    ]
    return _single(_ok(not bad), {"history": list(b.status_history)}, f"not allowed: {', '.join(bad)}" if bad else "")


def _reman(rule: Rule, b: Battery) -> list[tuple[str, Outcome]]:
    if b.status != "remanufactured":
        return []
    cap, spread = b.remanufactured_capacity_share, b.remanufactured_cell_soh_spread
    values = {
        "capacity_share": cap,
        "capacity_min_share": rule.params["capacity_min_share"],
        "cell_soh_spread": spread,
        "cell_soh_spread_max": rule.params["cell_soh_spread_max"],
    }
    if cap is None or spread is None:
        return _single(Status.FAIL, values, "missing: capacity share or cell state-of-health spread")
    ok = cap >= D(str(rule.params["capacity_min_share"])) and spread <= D(str(rule.params["cell_soh_spread_max"]))
    return _single(_ok(ok), values)


def _launch(rule: Rule, b: Battery) -> list[tuple[str, Outcome]]:
    points = list(rule.params["data_points"])
    missing = [p for p in points if p not in b.filled_data_points]
    status = Status.NOT_YET_REQUIRED if missing else Status.PASS
    return _single(
        status,
        {"not_filled": missing, "filled": [p for p in points if p not in missing]},
        "not to be filled yet at launch (Commission guidance): not missing" if missing else "",
    )


def _dd_report(rule: Rule, b: Battery) -> list[tuple[str, Outcome]]:
    return _single(_ok(b.due_diligence_report_linked), {"report_linked": b.due_diligence_report_linked})


# ---- model checks ---------------------------------------------------------------------------------


def _performance(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
    if not m.rechargeable:
        return []
    return _single(
        _ok(bool(m.performance_documented)),
        {"performance_documented": m.performance_documented},
        "missing: performance and durability values" if m.performance_documented is None else "",
    )


def _hazard(metal: str) -> Check:
    def check(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
        share = m.cadmium_share if metal == "Cd" else m.lead_share
        symbol = m.cd_symbol if metal == "Cd" else m.pb_symbol
        limit = D(str(rule.params["max_share"]))
        values = {"share": share, "max_share": limit, "symbol": symbol}
        if share is None:
            return _single(Status.FAIL, values, f"missing: {metal} content by weight")
        needs = share > limit
        return _single(_ok(symbol or not needs), {**values, "symbol_required": needs})

    return check


def _declared(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
    """A declaration is the model's footprint or a certified footprint the rule accepts (its
    ``evidence``: e.g. an Ouranos-certified CFP recognised as the verified declaration)."""
    certified = _credentials(rule, m.evidence, "verified_footprint")
    values: dict[str, Any] = {"declared": m.footprint is not None or bool(certified)}
    if certified:
        values["verified_by"] = [e.source for e in certified]
    return _single(_ok(bool(values["declared"])), values)


def _annex_ii(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
    if m.footprint is None:
        return []
    stages = list(rule.params["stages"])
    missing = [s for s in stages if m.footprint.stages.get(s) is None]
    return _single(
        _ok(not missing),
        {"kg_co2e_per_kwh": m.footprint.kg_co2e_per_kwh, "not_provided": missing},
        f"stages not provided: {', '.join(missing)}" if missing else "",
    )


def _recycled_doc(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
    return _single(
        _ok(bool(m.recycled)),
        {"documented_metals": sorted(m.recycled)},
        "" if m.recycled else "missing: recycled-content documentation",
    )


def _minimums(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
    out: list[tuple[str, Outcome]] = []
    for metal, minimum in rule.params["minimums"].items():
        if m.metals_present is not None and metal not in m.metals_present:
            continue  # Art. 8 concerns the metals the battery contains
        share = m.recycled.get(metal)
        limit = D(str(minimum))
        if share is None and metal in m.unknown:
            values = {"metal": metal, "minimum": limit, "share": None}
            out.append((metal, (Status.NOT_YET_DETERMINABLE, values, f"recycled {metal} share not known on this node")))
            continue
        if share is None:
            out.append(
                (
                    metal,
                    (
                        Status.FAIL,
                        {"metal": metal, "minimum": limit, "share": None},
                        f"missing: recycled {metal} share",
                    ),
                )
            )
            continue
        counted = D(0) if share.custody_model == "book_and_claim" else share.total
        out.append(
            (
                metal,
                (
                    _ok(counted >= limit),
                    {
                        "metal": metal,
                        "minimum": limit,
                        "share": counted,
                        "pre_consumer": share.pre_consumer,
                        "post_consumer": share.post_consumer,
                        "denominator": rule.params["denominators"][metal],
                    },
                    "book-and-claim share not counted" if share.custody_model == "book_and_claim" else "",
                ),
            )
        )
    return out


def _pre_post(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
    if not m.recycled:
        return []
    return _single(
        Status.PASS, {metal: {"pre": s.pre_consumer, "post": s.post_consumer} for metal, s in m.recycled.items()}
    )


def _custody_record(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
    """Each claim records its custody model, scheme, period and site: a field a description leaves
    out is missing (fail); one the evaluating node holds no evidence of is "not yet determinable"."""
    out: list[tuple[str, Outcome]] = []
    for metal, share in m.recycled.items():
        absent = [f for f in rule.params["required"] if getattr(share, "custody_model" if f == "model" else f) is None]
        missing = [f for f in absent if f not in share.unknown]
        not_held = [f for f in absent if f in share.unknown]
        bad_model = share.custody_model is not None and share.custody_model not in rule.params["models"]
        values = {"metal": metal, "model": share.custody_model, "scheme": share.scheme, "period": share.period,
                  "site": share.site}  # fmt: skip
        if missing or bad_model:
            outcome: Outcome = (
                Status.FAIL,
                values,
                f"missing: {', '.join(missing)}" if missing else "unknown model",
            )
        elif not_held:
            outcome = (Status.NOT_YET_DETERMINABLE, values, f"not held on this node: {', '.join(not_held)}")
        else:
            outcome = (Status.PASS, values, "")
        out.append((metal, outcome))
    return out


def _book_and_claim(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
    flagged = sorted(metal for metal, s in m.recycled.items() if s.custody_model in rule.params["not_accepted"])
    if not m.recycled:
        return []
    return _single(
        _ok(not flagged),
        {"book_and_claim_metals": flagged},
        "book and claim is not accepted for Art. 8" if flagged else "",
    )


def _mass_balance(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
    used = sorted(metal for metal, s in m.recycled.items() if s.custody_model in rule.params["models"])
    return _single(Status.NOT_YET_DETERMINABLE, {"mass_balance_metals": used}) if used else []


# ---- footprint exchange checks -------------------------------------------------------------------


def _exemption(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
    fp = m.footprint
    if fp is None or fp.exempted_share is None or not (fp.source_format or "").startswith(str(rule.params["format"])):
        return []
    cap = D(str(rule.params["max_share"]))
    return _single(_ok(fp.exempted_share <= cap), {"exempted_share": fp.exempted_share, "max_share": cap})


def _pds(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
    fp = m.footprint
    if (
        fp is None
        or fp.reference_period_end is None
        or fp.reference_period_end.year < int(rule.params["from_reference_period_year"])
    ):
        return []
    return _single(
        _ok(fp.primary_data_share is not None),
        {"primary_data_share": fp.primary_data_share, "reference_period_end": fp.reference_period_end.isoformat()},
    )


def _ouranos_values(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
    fp = m.footprint
    if fp is None or fp.source_format != "ouranos-cfp":
        return []
    zeroed = [s for s in rule.params["not_provided"] if fp.stages.get(s) is not None and fp.stages.get(s) == 0]
    return _single(
        _ok(not zeroed),
        {"zero_not_provided": zeroed},
        "stages Ouranos does not carry must be 'not provided', not zero" if zeroed else "",
    )


def _meti(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
    fp = m.footprint
    if fp is None or fp.source_format != "ouranos-cfp":
        return []
    known = [str(v) for v in rule.params["known_versions"]]
    return _single(
        _ok(fp.method_version in known),
        {"method_version": fp.method_version, "known_versions": known},
        "missing: METI method version" if fp.method_version is None else "",
    )


# ---- Japanese rules (ruleset jp) -----------------------------------------------------------------


def _jp_method(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
    """The CFP names an accepted method and version (the rule's ``evidence``: recognition of other
    markets' methods will extend that data, not this check)."""
    fp = m.footprint
    if fp is None:
        return []
    accepted = {str(k): [str(v) for v in vs] for k, vs in rule.evidence["methods"].items()}
    implied: Mapping[str, str] = rule.evidence.get("implied_by_format", {})
    method = fp.method or implied.get(fp.source_format or "")
    version = fp.method_version
    in_use = [s for s in rule.params["excluded_stages"] if fp.stages.get(s) is not None]
    values = {"method": method, "method_version": version, "accepted": accepted, "excluded_stages_given": in_use}
    if method is None:
        return _single(Status.FAIL, values, "missing: calculation method")
    if method not in accepted:
        return _single(Status.FAIL, values, f"method {method!r} is not accepted for Japanese purposes")
    if version is None:
        return _single(Status.FAIL, values, "missing: method version")
    if version not in accepted[method]:
        return _single(Status.FAIL, values, f"version {version!r} of {method} is not known")
    if in_use:
        return _single(Status.FAIL, values, f"outside the method's boundary: {', '.join(in_use)}")
    provisional = version in [str(v) for v in rule.params["provisional_versions"]]
    return _single(Status.PASS, values, f"version {version} is provisional" if provisional else "")


# The next two only report what a rule would look at: each of their rules is undated ("not yet
# determinable") or states an outcome, so their status never stands; should an instrument set a
# date, the rule needs a real check, and until then it stays "not yet determinable".


def _footprint_values(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
    certified = _credentials(rule, m.evidence, "verified_footprint")
    if m.footprint is None and not certified:
        return []
    values: dict[str, Any] = {
        "footprint_declared": m.footprint is not None,
        "source_format": None if m.footprint is None else m.footprint.source_format,
    }
    if certified:
        values["verified_by"] = [e.source for e in certified]
    return _single(Status.NOT_YET_DETERMINABLE, values)


def _model_values(rule: Rule, m: BatteryModel) -> list[tuple[str, Outcome]]:
    return _single(Status.NOT_YET_DETERMINABLE, {"footprint_declared": m.footprint is not None, **dict(rule.params)})


def _attested(rule: Rule, o: Operator) -> frozenset[str]:
    """Materials covered by the due-diligence evidence the rule accepts (attestations)."""
    covered: set[str] = set()
    for e in _credentials(rule, o.evidence, "due_diligence"):
        covered |= e.covers
    return frozenset(covered)


def _dd_guideline(rule: Rule, o: Operator) -> list[tuple[str, Outcome]]:
    return _single(
        Status.INFORMATION,
        {
            **dict(rule.params),
            "policy": None if "due_diligence_policy" in o.unknown else o.due_diligence_policy,
            "covered": sorted(o.due_diligence_materials | _attested(rule, o)),
            "accepted_evidence": list(rule.evidence.get("accepted", [])),
        },
    )


# ---- operator / recycler checks ------------------------------------------------------------------


def _dd_applies(rule: Rule, o: Operator) -> bool:
    return o.turnover_eur is None or o.turnover_eur >= D(str(rule.params["min_turnover_eur"]))


def _not_held(o: Operator | Recycler, facts: Iterable[str]) -> str:
    """``"not held on this node: ..."`` for the facts the evaluating node does not hold, or ``""``."""
    missing = [f for f in facts if f in o.unknown]
    return f"not held on this node: {', '.join(missing)}" if missing else ""


def _dd_scope(rule: Rule, o: Operator) -> list[tuple[str, Outcome]]:
    if not _dd_applies(rule, o):
        return []
    values = {
        "turnover_eur": o.turnover_eur,
        "min_turnover_eur": rule.params["min_turnover_eur"],
        "policy": None if "due_diligence_policy" in o.unknown else o.due_diligence_policy,
    }
    unknown = _not_held(o, ("turnover_eur", "due_diligence_policy"))
    if unknown:
        return _single(Status.NOT_YET_DETERMINABLE, values, unknown)
    return _single(
        _ok(o.due_diligence_policy and o.turnover_eur is not None),
        values,
        "missing: turnover" if o.turnover_eur is None else "",
    )


def _dd_materials(rule: Rule, o: Operator) -> list[tuple[str, Outcome]]:
    """Covered: the policy's materials, and those a due-diligence attestation the rule accepts
    covers (a certifier's origin or recycled-content attestation, natively or recognised)."""
    if not _dd_applies(rule, o):
        return []
    attested = _attested(rule, o)
    covered = o.due_diligence_materials | attested
    missing = sorted(set(rule.params["materials"]) - covered)
    values = {"covered": sorted(covered), "required": rule.params["materials"], "attested": sorted(attested)}
    if missing and "due_diligence_materials" in o.unknown:
        return _single(Status.NOT_YET_DETERMINABLE, values, f"no evidence held for: {', '.join(missing)}")
    return _single(_ok(not missing), values, f"not covered: {', '.join(missing)}" if missing else "")


def _dd_records(rule: Rule, o: Operator) -> list[tuple[str, Outcome]]:
    if not _dd_applies(rule, o):
        return []
    years = o.records_retention_years
    values = {"years": years, "min_years": rule.params["min_years"]}
    unknown = _not_held(o, ("records_retention_years",))
    if unknown:
        return _single(Status.NOT_YET_DETERMINABLE, values, unknown)
    return _single(_ok(years is not None and years >= int(rule.params["min_years"])), values)


def _targets(attr: str) -> Check:
    def check(rule: Rule, r: Recycler) -> list[tuple[str, Outcome]]:
        achieved: Mapping[str, Decimal] = getattr(r, attr)
        out: list[tuple[str, Outcome]] = []
        for key, minimum in rule.params["minimums"].items():
            if key not in achieved:
                if attr in r.unknown:  # the node holds no such figure: not left out, not a fail
                    out.append((key, (Status.NOT_YET_DETERMINABLE, {key: None}, f"not held on this node: {attr}")))
                continue
            limit = D(str(minimum))
            out.append((key, (_ok(achieved[key] >= limit), {key: achieved[key], "minimum": limit}, "")))
        return out

    return check


#: rule id → check. Every rule of the bundled rulesets has an entry (a test keeps it so).
CHECKS: Mapping[str, Check] = {
    "passport.scope.ev": _passport,
    "passport.scope.lmt": _passport,
    "passport.scope.industrial": _passport,
    "labelling.qr_code": _qr,
    "performance.durability.values": _performance,
    "passport.access.tiers": _tiers,
    "passport.status.values": _status_values,
    "passport.status.transitions": _transitions,
    "passport.remanufactured.thresholds": _reman,
    "passport.launch.not_yet_required": _launch,
    "passport.hazard.cadmium": _hazard("Cd"),
    "passport.hazard.lead": _hazard("Pb"),
    "footprint.declaration.ev": _declared,
    "footprint.declaration.industrial": _declared,
    "footprint.declaration.lmt": _declared,
    "footprint.annex_ii.stages": _annex_ii,
    "footprint.performance_class": _declared,
    "footprint.max_threshold": _declared,
    "recycled.documentation": _recycled_doc,
    "recycled.documentation.lmt": _recycled_doc,
    "recycled.minimum.phase1": _minimums,
    "recycled.minimum.phase2": _minimums,
    "recycled.pre_post_separate": _pre_post,
    "custody.claim.record": _custody_record,
    "custody.book_and_claim": _book_and_claim,
    "custody.mass_balance": _mass_balance,
    "due_diligence.scope": _dd_scope,
    "due_diligence.materials": _dd_materials,
    "due_diligence.records": _dd_records,
    "due_diligence.report": _dd_report,
    "recycler.efficiency.2025": _targets("efficiency"),
    "recycler.efficiency.2030": _targets("efficiency"),
    "recycler.recovery.2027": _targets("recovery"),
    "recycler.recovery.2031": _targets("recovery"),
    "exchange.pact_v2.exemption_cap": _exemption,
    "exchange.catenax.exemption_cap": _exemption,
    # enforced when a footprint is read (InvalidInput); a declaration carries no DQR to judge here
    "exchange.dqr.range": lambda rule, m: [],
    "exchange.primary_data_share": _pds,
    "exchange.ouranos.values": _ouranos_values,
    "meti.cfp.method_version": _meti,
    # ruleset jp; a rule with an outcome ("information", "not set") reports that outcome
    "jp.cfp.method": _jp_method,
    "jp.cfp.max_threshold": _model_values,
    "jp.cfp.performance_class": _model_values,
    "jp.cfp.verification": _footprint_values,
    "jp.cev.scoring": _model_values,
    "jp.cev.cfp_condition": _model_values,
    "jp.recycled.minimum": _model_values,
    "jp.due_diligence.guideline": _dd_guideline,
    "jp.recycling.small_rechargeable": _targets("efficiency"),
}


def _gate(rule: Rule, at: dt.date) -> Status | None:
    if rule.effective is None:
        if rule.earliest is not None and at < rule.earliest:
            return Status.NOT_YET_REQUIRED
        return Status.NOT_YET_DETERMINABLE
    if at < rule.effective:
        return Status.NOT_YET_REQUIRED
    return None


def _judge(rule: Rule, target: Any, name: str, at: dt.date, model: BatteryModel | None) -> list[Finding]:
    if model is not None and not _in_scope(rule, model):
        return []
    used = evidence_for(rule, target.evidence)
    check = CHECKS[rule.id]
    gated = _gate(rule, at)
    outcomes = list(check(rule, target))
    if not outcomes:
        return []  # the rule does not concern this subject (e.g. no mass-balance claim, not remanufactured)
    if gated is not None:
        # the rule does not bind yet: report the date status (once), with what would be compared
        values = outcomes[0][1][1] if outcomes else {}
        if rule.effective is not None:
            detail = f"applies from {rule.effective.isoformat()}"
        elif rule.pending is not None:  # a date no instrument sets (yet)
            detail = f"date not set: {rule.pending}"
        elif rule.earliest is not None:
            detail = f"applies from {rule.earliest.isoformat()} or later (act not adopted)"
        else:
            detail = "applies from act not adopted"
        return [Finding(rule.id, gated, at, name, values, rule.text, rule.reference, detail, used)]
    fixed = None if rule.outcome is None else Status(rule.outcome)
    return [
        Finding(
            rule.id,
            fixed or status,
            at,
            f"{name}:{part}" if part else name,
            values,
            rule.text,
            rule.reference,
            detail,
            used,
        )
        for part, (status, values, detail) in outcomes
    ]


def evaluate(subject: Subject, at: dt.date, *, rulesets: Sequence[Ruleset] | None = None) -> list[Finding]:
    """Findings for ``subject`` at ``at`` over ``rulesets`` (default: every bundled ruleset)."""
    findings: list[Finding] = []
    for ruleset in rulesets if rulesets is not None else default_rulesets():
        for rule in ruleset:
            if isinstance(subject, Battery):
                if rule.applies_to == "battery":
                    findings += _judge(rule, subject, subject.battery_id, at, subject.model)
                elif rule.applies_to in ("model", "footprint"):
                    findings += _judge(rule, subject.model, subject.model.model_id, at, subject.model)
            elif isinstance(subject, BatteryModel):
                if rule.applies_to in ("model", "footprint"):
                    findings += _judge(rule, subject, subject.model_id, at, subject)
            elif isinstance(subject, Operator):
                if rule.applies_to == "operator":
                    findings += _judge(rule, subject, subject.name, at, None)
            elif rule.applies_to == "recycler":
                findings += _judge(rule, subject, subject.name, at, None)
    return findings
