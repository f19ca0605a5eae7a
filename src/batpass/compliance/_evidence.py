"""What the compliance engine judges, built from the evidence a node holds (pure): a passport
document (its Annex XIII data points, as ``GET /v1/passports/{id}`` serves it), the ledger's Art. 8
recycled-content figures of the battery's model, year and plant, the model's declared footprint
(a PACT v3 document with batpass's per-kWh stage extension), and verified credentials.

Every figure is read from one of these and named as evidence on the subject; nothing is assumed:
a fact no evidence gives is left missing (``None``) or, where the node holds no source for it at
all, named in ``unknown`` so the rule says "not yet determinable". A passport the engine cannot
evaluate (no category, no rated energy) is refused naming the data point.

Knows the wire shapes it reads (passport document, ledger recycled-content groups, PACT); knows
no store, HTTP or trust internals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from batpass.compliance.model import (
    Battery,
    BatteryModel,
    Category,
    Evidence,
    FootprintDeclaration,
    Operator,
    RecycledShare,
)
from batpass.core.errors import InvalidInput

__all__ = ["DATA_POINTS", "MATERIALS", "METALS", "STAGES", "footprint_from_pact", "passport_subjects"]

#: ledger element symbol → the metal names of Art. 8 in the ruleset
METALS: Mapping[str, str] = {"Co": "cobalt", "Li": "lithium", "Ni": "nickel", "Pb": "lead"}
#: ledger element symbol → the due-diligence materials of Annex X(1)
MATERIALS: Mapping[str, str] = {"Co": "cobalt", "Li": "lithium", "Ni": "nickel", "C_nat": "natural_graphite"}
#: passport data point → the engine's data-point name (Commission guidance, rule
#: ``passport.launch.not_yet_required``)
DATA_POINTS: Mapping[str, str] = {
    "carbon_footprint": "carbon_footprint",
    "due_diligence_report": "due_diligence",
    "recycled_content": "recycled_content",
    "instructions_for_use": "instructions_for_use",
}
#: Annex IV performance and durability values the model documents (Art. 10)
PERFORMANCE = (
    "rated_capacity",
    "rated_energy",
    "original_power",
    "expected_lifetime_cycles",
    "internal_resistance_initial",
)
#: Annex II life-cycle stages (the use stage excluded)
STAGES = ("raw_material_and_preprocessing", "main_production", "distribution", "end_of_life")
_RULE = "a passport the compliance engine can evaluate (Annex XIII data points)"


def _dec(value: Any, where: str) -> Decimal:
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"{where} {value!r} is not a number", field=where, rule=_RULE, value=value) from exc
    if not out.is_finite():
        raise InvalidInput(f"{where} {value!r} is not finite", field=where, rule=_RULE, value=value)
    return out


def _share(value: Any, where: str) -> Decimal | None:
    """A ``{"value", "unit": "%"}`` data point as a fraction (w/w)."""
    if not isinstance(value, dict) or value.get("value") is None:
        return None
    return _dec(value["value"], where) / 100


def footprint_from_pact(doc: Mapping[str, Any]) -> FootprintDeclaration | None:
    """A model's declaration from a PACT v3 footprint that carries batpass's per-kWh extension
    (``perKwhLifetimeEnergy`` and the Annex II ``stages`` per declared unit); ``None`` without it
    (a PACT footprint alone is per declared unit, not per kWh of lifetime energy)."""
    ext = next(
        (e["data"] for e in doc.get("extensions") or [] if "perKwhLifetimeEnergy" in (e.get("data") or {})), None
    )
    if ext is None:
        return None
    per_kwh = _dec(ext["perKwhLifetimeEnergy"]["kgCo2ePerKwh"], "footprint.perKwhLifetimeEnergy")
    stages_raw: Mapping[str, Any] = ext.get("stages") or {}
    total = sum((_dec(v, f"footprint.stages.{k}") for k, v in stages_raw.items() if v is not None), Decimal(0))
    pcf: Mapping[str, Any] = doc.get("pcf") or {}
    end = pcf.get("referencePeriodEnd")
    return FootprintDeclaration(
        kg_co2e_per_kwh=per_kwh,
        # per-kWh share of each stage: the stage's kg per declared unit scaled like the total
        stages={
            s: None if (v := stages_raw.get(s)) is None or total == 0 else _dec(v, s) / total * per_kwh for s in STAGES
        },
        source_format="pact-v3",
        primary_data_share=None if pcf.get("primaryDataShare") is None else _dec(pcf["primaryDataShare"], "pds") / 100,
        reference_period_end=None if not end else dt.date.fromisoformat(str(end)[:10]),
    )


def _passport_footprint(data: Mapping[str, Any]) -> FootprintDeclaration | None:
    cf = data.get("carbon_footprint")
    if not isinstance(cf, dict) or cf.get("value") is None:
        return None
    stages: Mapping[str, Any] = data.get("carbon_footprint_stages") or {}
    return FootprintDeclaration(
        kg_co2e_per_kwh=_dec(cf["value"], "$.data.carbon_footprint"),
        stages={s: None if stages.get(s) is None else _dec(stages[s], f"$.data.carbon_footprint_stages.{s}")
                for s in STAGES},
        source_format="batpass",
    )  # fmt: skip


def _recycled(
    groups: Sequence[Mapping[str, Any]] | None,
) -> tuple[dict[str, RecycledShare], frozenset[str], tuple[Evidence, ...]]:
    """Shares per Art. 8 metal from the ledger's group of the battery (model, year, plant), the
    metals whose share the ledger does not know (``null``), and the evidence."""
    if not groups:
        return {}, frozenset(), ()
    group = groups[0]
    shares: dict[str, RecycledShare] = {}
    unknown: set[str] = set()
    for symbol, share in (group.get("elements") or {}).items():
        metal = METALS.get(symbol)
        if metal is None:
            continue
        pre, post = share.get("pre_consumer"), share.get("post_consumer")
        if pre is None or post is None:
            unknown.add(metal)
            continue
        models: Mapping[str, float] = share.get("custody_models") or {}
        shares[metal] = RecycledShare(
            pre_consumer=_dec(pre, f"recycled.{symbol}.pre_consumer"),
            post_consumer=_dec(post, f"recycled.{symbol}.post_consumer"),
            custody_model=max(models, key=lambda m: models[m]) if models else None,
            period=str(group["year"]),
            site=str(group["plant"]),
            basis=share.get("basis"),
            # the ledger records the custody model (when the summaries state one), never a scheme
            unknown=frozenset({"scheme"}) | (frozenset() if models else frozenset({"model"})),
        )
    source = (
        f"ledger Art. 8 recycled content of model {group['model']}, year {group['year']}, plant {group['plant']}"
        f" ({group.get('batteries', '?')} batteries)"
    )
    return shares, frozenset(unknown), (Evidence("recycled_content", source, covers=frozenset(shares)),)


def passport_subjects(
    doc: Mapping[str, Any],
    *,
    has_qr_code: bool,
    recycled: Sequence[Mapping[str, Any]] | None = None,
    footprint: Mapping[str, Any] | None = None,
    credentials: Sequence[Evidence] = (),
    operator: str | None = None,
) -> tuple[Battery, Operator]:
    """The battery (with its model) and its economic operator described by a passport document
    and the node's evidence. ``recycled``: the ledger's recycled-content groups of the battery
    (``None`` when the node holds no ledger for it); ``footprint``: the model's PACT footprint, if
    the node declared one (else the passport's carbon-footprint data points); ``credentials``: the
    verified credentials as evidence. Raises :class:`InvalidInput` naming a data point the engine
    needs and the passport does not give."""
    data = doc.get("data")
    if not isinstance(data, dict):
        raise InvalidInput("the passport document has no data", field="$.data", rule=_RULE)
    raw_category = data.get("category")
    if raw_category is None:
        raise InvalidInput("$.data.category is missing", field="$.data.category", rule=_RULE)
    try:
        category = Category(str(raw_category))
    except ValueError as exc:
        raise InvalidInput(
            f"$.data.category {raw_category!r} is not one of {[c.value for c in Category]}",
            field="$.data.category",
            rule="battery categories of Art. 3(1)",
            value=raw_category,
        ) from exc
    energy = data.get("rated_energy")
    if not isinstance(energy, dict) or energy.get("value") is None:
        raise InvalidInput("$.data.rated_energy is missing", field="$.data.rated_energy", rule=_RULE)
    pid, version = doc.get("passportId"), doc.get("version")
    passport = Evidence("passport", f"passport {pid} version {version} (tiers {', '.join(doc.get('tiers') or [])})")
    shares, unknown_metals, recycled_evidence = _recycled(recycled)
    declared = footprint_from_pact(footprint) if footprint is not None else None
    footprint_evidence: tuple[Evidence, ...] = ()
    if declared is not None and footprint is not None:
        footprint_evidence = (Evidence("footprint", f"PACT footprint {footprint.get('id')} (declared by this node)"),)
    else:
        declared = _passport_footprint(data)
        if declared is not None:
            footprint_evidence = (Evidence("footprint", f"passport {pid} data point carbon_footprint"),)
    metals = {str(m).lower() for m in data.get("critical_raw_materials") or []} | set(shares) | unknown_metals
    model_id = str((recycled or [{}])[0].get("model") or data.get("model_name") or data.get("battery_model") or pid)
    model = BatteryModel(
        model_id=model_id,
        category=category,
        capacity_kwh=_dec(energy["value"], "$.data.rated_energy"),
        cadmium_share=_share(data.get("cadmium_share"), "$.data.cadmium_share"),
        lead_share=_share(data.get("lead_share"), "$.data.lead_share"),
        footprint=declared,
        recycled=shares,
        performance_documented=all(data.get(k) is not None for k in PERFORMANCE),
        # not stated: every Art. 8 metal is checked (None), never "contains none"
        metals_present=frozenset(metals & set(METALS.values())) or None,
        evidence=(passport, *footprint_evidence, *recycled_evidence, *credentials),
        unknown=unknown_metals if recycled is not None else frozenset(METALS.values()),
    )
    filled = sorted(name for point, name in DATA_POINTS.items() if data.get(point) not in (None, {}, []))
    battery = Battery(
        battery_id=str(doc.get("batteryId") or pid),
        model=model,
        has_passport=True,
        has_qr_code=has_qr_code,
        status=None if doc.get("status") == "ended" else doc.get("status"),
        filled_data_points=frozenset(filled),
        access_tiers=frozenset(doc.get("tiers") or []),
        due_diligence_report_linked=bool(data.get("due_diligence_report")),
        evidence=(passport,),
    )
    attested = frozenset().union(*(e.covers for e in credentials if e.purpose == "due_diligence"))
    op = Operator(
        name=operator or str(data.get("operator") or data.get("manufacturer") or "economic operator"),
        # a passport states neither turnover, nor a policy, nor how long records are kept
        unknown=frozenset({"turnover_eur", "due_diligence_policy", "records_retention_years"})
        | (frozenset() if attested else frozenset({"due_diligence_materials"})),
        evidence=tuple(e for e in credentials if e.purpose == "due_diligence"),
    )
    return battery, op
