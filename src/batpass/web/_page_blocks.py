"""The passport page's blocks a person reads first (issue 20): the carbon footprint with its bases
and stages, the hazardous substances with the symbols the battery bears, the operators by legal
name, the battery's life so far, and the version history.

Every figure comes from the reader's view (already cut to its tiers) or from a function of
``batpass.passport`` that the API's figures come from too (``footprint_per_capacity``,
``hazard_marks``): the page never computes a figure its own way. Labels are message ids (``N_``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from babel import Locale

from batpass.passport import (
    FIELDS_BY_KEY,
    FOOTPRINT_STAGES,
    PassportRules,
    footprint_per_capacity,
    hazard_marks,
)
from batpass.web._i18n import N_, current, gettext_for
from batpass.web._pages import Footprint, HistoryRow, Operator, PageRow, StageRow, Substances, Symbol

__all__ = [
    "MATERIAL_NAMES",
    "Names",
    "country_name",
    "footprint_block",
    "history_rows",
    "lifecycle_rows",
    "material",
    "operator",
    "sig",
    "substances_block",
]

#: a DID's legal name, if the node knows it (its participant register)
Names = Callable[[str], str | None]

CO2E_PER_KWH = "kg CO₂e/kWh"
STAGE_NAMES = {
    "raw_material_and_preprocessing": N_("Raw material acquisition and pre-processing"),
    "main_production": N_("Main product production"),
    "distribution": N_("Distribution"),
    "end_of_life": N_("End of life and recycling"),
}
#: materials as the passport names them (ELEMENT_NAMES of batpass.passport and recyclers' outputs)
MATERIAL_NAMES = {
    "lithium": N_("lithium"),
    "cobalt": N_("cobalt"),
    "nickel": N_("nickel"),
    "manganese": N_("manganese"),
    "natural graphite": N_("natural graphite"),
    "synthetic graphite": N_("synthetic graphite"),
    "copper": N_("copper"),
    "aluminium": N_("aluminium"),
    "lead": N_("lead"),
    "iron": N_("iron"),
    "phosphorus": N_("phosphorus"),
}
_SUBSTANCE_COLUMNS = (
    ("name", N_("Substance")),
    ("cas", N_("CAS number")),
    ("hazard_class", N_("Hazard class")),
    ("location", N_("Where in the battery")),
)
_CHANGES = {
    "built": N_("Passport built"),
    "updated": N_("Data updated"),
    "dynamic": N_("State of health and usage recorded"),
    "status:waste": N_("Became waste; responsibility passed on"),
    "ended:recycled": N_("Battery recycled; passport ended and archived"),
    "created:repurposed": N_("New passport for the repurposed battery"),
    "created:re-used": N_("New passport for the re-used battery"),
    "created:remanufactured": N_("New passport for the remanufactured battery"),
    "successor:repurposed": N_("Linked to the repurposed battery's new passport"),
    "successor:re-used": N_("Linked to the re-used battery's new passport"),
    "successor:remanufactured": N_("Linked to the remanufactured battery's new passport"),
}


def sig(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant figures (83.9, 0.0549); whole numbers from 100 up, with a
    thin space between thousands (5 034)."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    decimals = digits - 1 - math.floor(math.log10(abs(x)))
    if decimals <= 0:
        return f"{x:,.0f}".replace(",", " ")
    return f"{x:.{decimals}f}"


def material(name: str) -> str:
    return gettext_for()(MATERIAL_NAMES.get(name, name))


def country_name(code: str) -> str:
    """An ISO 3166 code as the country's name in the reader's language (the code if unknown)."""
    return str(_territories(current().locale).get(code, code))


_TERRITORIES: dict[str, Mapping[str, str]] = {}


def _territories(locale: str) -> Mapping[str, str]:
    if locale not in _TERRITORIES:
        _TERRITORIES[locale] = Locale.parse(locale).territories
    return _TERRITORIES[locale]


def _quantity(view: Mapping[str, Any], key: str) -> float | None:
    v = view.get(key)
    return float(v["value"]) if isinstance(v, Mapping) and isinstance(v.get("value"), (int, float)) else None


def footprint_block(view: Mapping[str, Any]) -> Footprint | None:
    """The footprint per kWh of lifetime energy and per kWh of capacity, the absolute figure,
    and the Annex II stages (a stage not provided said so, never zero); None if nothing is declared."""
    _ = gettext_for()
    total = _quantity(view, "carbon_footprint")
    per_capacity = footprint_per_capacity(view)
    absolute = _quantity(view, "carbon_footprint_absolute")
    stages_raw = view.get("carbon_footprint_stages")
    declared = ("carbon_footprint_class", "carbon_footprint_study")
    nothing = total is None and per_capacity is None and absolute is None and not stages_raw
    if nothing and not any(view.get(k) for k in declared):
        return None
    not_declared = _("not declared")
    rows = [
        PageRow(
            "carbon_footprint",
            _("Per kWh of total energy the battery provides over its service life (Annex II functional unit)"),
            sig(total) if total is not None else not_declared,
            CO2E_PER_KWH if total is not None else "",
        ),
        PageRow(
            "carbon_footprint_capacity",
            _("Per kWh of rated energy (capacity): the whole battery's footprint divided by its rated energy"),
            sig(per_capacity) if per_capacity is not None else not_declared,
            CO2E_PER_KWH if per_capacity is not None else "",
        ),
        PageRow(
            "carbon_footprint_absolute",
            _("Whole battery, from raw materials to end of life (use stage excluded)"),
            sig(absolute) if absolute is not None else not_declared,
            "kg CO₂e" if absolute is not None else "",
        ),
        PageRow(
            "carbon_footprint_class",
            _(FIELDS_BY_KEY["carbon_footprint_class"].label),
            str(view.get("carbon_footprint_class") or _("none: no performance classes have been adopted yet")),
        ),
    ]
    if isinstance(view.get("carbon_footprint_study"), str):
        study = str(view["carbon_footprint_study"])
        rows.append(
            PageRow("carbon_footprint_study", _(FIELDS_BY_KEY["carbon_footprint_study"].label), study, href=study)
        )
    stages: list[StageRow] = []
    given = stages_raw if isinstance(stages_raw, Mapping) else {}
    if given or total is not None:
        for key in FOOTPRINT_STAGES:
            v = given.get(key)
            value = float(v) if isinstance(v, (int, float)) else None
            share = f"{value / total * 100:.0f} %" if value is not None and total else ""
            stages.append(
                StageRow(key, _(STAGE_NAMES[key]), value, sig(value) if value is not None else _("not provided"), share)
            )
    summary = "; ".join(f"{s.label}: {s.shown}" + (f" {CO2E_PER_KWH}" if s.value is not None else "") for s in stages)
    return Footprint(
        rows=tuple(rows), stages=tuple(stages), unit=_("kg CO₂e per kWh of lifetime energy"), summary=summary
    )


def substances_block(view: Mapping[str, Any], rules: PassportRules, assets: str) -> Substances:
    """The hazardous substances as a table, and the separate-collection symbol (every battery,
    Art. 13(1)) with the Cd / Pb marks the declared shares call for (Art. 13(5))."""
    _ = gettext_for()
    records = [r for r in view.get("hazardous_substances") or () if isinstance(r, Mapping)]
    known = [k for k, _label in _SUBSTANCE_COLUMNS]
    extra = sorted({k for r in records for k in r} - set(known))
    columns = [(k, label) for k, label in _SUBSTANCE_COLUMNS if any(k in r for r in records)] + [
        (k, k.replace("_", " ")) for k in extra
    ]
    rows = tuple(tuple(str(r.get(k, "–")) for k, _label in columns) for r in records)
    symbols = [
        Symbol(
            f"{assets}/symbols/separate-collection.svg",
            _("A crossed-out wheeled bin"),
            _("Collect separately: never with household waste (Art. 13(1))"),
        )
    ]
    for mark in hazard_marks(view, rules):
        element = _("cadmium") if mark == "Cd" else _("lead")
        symbols.append(
            Symbol(
                f"{assets}/symbols/{mark.lower()}.svg",
                _("The chemical symbol %(symbol)s") % {"symbol": mark},
                _("Contains %(element)s above the limit that requires the mark (Art. 13(5))") % {"element": element},
            )
        )
    return Substances(tuple(_(label) for _k, label in columns), rows, tuple(symbols))


def operator(role: str, did: str, names: Names | None) -> Operator:
    """A party by legal name; a DID the node has not registered is named by its host."""
    name = names(did) if names is not None else None
    if not name:
        host = did.removeprefix("did:web:").split(":")[0].replace("%3A", ":") if did.startswith("did:web:") else did
        _ = gettext_for()
        name = _("Operator not registered on this node (%(host)s)") % {"host": host}
    return Operator(role, name, did)


def lifecycle_rows(
    view: Mapping[str, Any], status: str, ended: bool, names: Names | None
) -> tuple[tuple[PageRow, ...], tuple[Operator, ...]]:
    """What the battery's life so far says, and who answered for it, in the reader's language."""
    _ = gettext_for()
    rows: list[PageRow] = []
    ops: list[Operator] = []
    if isinstance(view.get("economic_operator"), str):
        ops.append(operator(_("Economic operator (responsible for this passport)"), view["economic_operator"], names))
    if isinstance(view.get("intended_use"), str):
        rows.append(PageRow("intended_use", _(FIELDS_BY_KEY["intended_use"].label), str(view["intended_use"])))
    restored, rated = _quantity(view, "restored_capacity"), _quantity(view, "rated_capacity")
    if restored is not None:
        text = f"{sig(restored)} Ah"
        if rated:
            text = _("%(restored)s (%(share)s of the original rated capacity, %(rated)s)") % {
                "restored": text,
                "share": f"{restored / rated * 100:.0f} %",
                "rated": f"{sig(rated)} Ah",
            }
        rows.append(PageRow("restored_capacity", _(FIELDS_BY_KEY["restored_capacity"].label), text))
    if isinstance(view.get("waste_operator"), str) and (status == "waste" or ended):
        ops.append(operator(_(FIELDS_BY_KEY["waste_operator"].label), view["waste_operator"], names))
    if isinstance(view.get("recycler"), str):
        ops.append(operator(_(FIELDS_BY_KEY["recycler"].label), view["recycler"], names))
    if isinstance(view.get("recycled_on"), str):
        rows.append(PageRow("recycled_on", _(FIELDS_BY_KEY["recycled_on"].label), str(view["recycled_on"])))
    recovered = [r for r in view.get("recovered_materials") or () if isinstance(r, Mapping)]
    if recovered:
        items = tuple(f"{material(str(r.get('material')))}: {sig(float(r.get('mass_kg') or 0))} kg" for r in recovered)
        rows.append(PageRow("recovered_materials", _(FIELDS_BY_KEY["recovered_materials"].label), "", items=items))
    elif ended:
        rows.append(PageRow("recovered_materials", _(FIELDS_BY_KEY["recovered_materials"].label), _("not recorded")))
    return tuple(rows), tuple(ops)


def history_rows(versions: Sequence[Mapping[str, Any]], names: Names | None) -> tuple[HistoryRow, ...]:
    """Each version, newest first: date (UTC), operator by name, the change in words, the data
    points it changed (those the reader may see) and its SHA-256 digest."""
    _ = gettext_for()
    out: list[HistoryRow] = []
    for v in reversed(versions):
        change = str(v.get("change", ""))
        text = _CHANGES.get(change)
        if text is None and change.startswith("imported:"):
            described = _("Imported from %(format)s") % {"format": change.partition(":")[2]}
        else:
            described = _(text) if text is not None else change
        first = change == "built" or change.startswith(("created:", "imported:"))  # every data point is new
        fields = "" if first else ", ".join(_(FIELDS_BY_KEY[k].label) for k in v.get("diff", {}) if k in FIELDS_BY_KEY)
        actor = str(v.get("actor", ""))
        out.append(
            HistoryRow(
                version=int(v.get("version", 0)),
                date=str(v.get("createdAt", ""))[:16].replace("T", " ") + " UTC",
                operator=operator("", actor, names).name,
                did=actor,
                change=described,
                fields=fields,
                digest=str(v.get("digest", "")),
            )
        )
    return tuple(out)
