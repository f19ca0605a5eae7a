"""Materials the ledger knows, with their element mass fractions.

Pure data and arithmetic; it knows no storage. Fractions of compounds are computed from their
chemical formulas with the IUPAC standard atomic weights (CIAAW, "Standard atomic weights of the
elements 2021", Pure Appl. Chem. 2022, abridged values), so every number can be re-derived.
Ores, concentrates and intermediates of variable grade carry a *typical* grade with its source;
a lot may always declare its own assay, which then wins. Materials whose composition depends on
what went into them (black mass, cells, modules, packs, batteries, scrap) have no fixed
fractions: a lot of them declares an assay, or the ledger derives its composition from the
inputs of the event that produced it.

Tracked elements are the ones the Battery Regulation counts: Li, Co, Ni (Art. 8 recycled
content, Annex X due diligence), natural graphite (Annex X), Mn (strategic, outflow watch),
synthetic graphite, Cu and Al (Annex XII material recovery), Pb (Art. 8).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "ATOMIC_WEIGHTS",
    "ELEMENTS",
    "MATERIALS",
    "Element",
    "Material",
    "formula_fractions",
    "material",
]


class Element(StrEnum):
    """Element symbols as the upstream summary spells them (docs/contracts.md)."""

    LI = "Li"
    CO = "Co"
    NI = "Ni"
    MN = "Mn"
    C_NAT = "C_nat"
    C_SYN = "C_syn"
    CU = "Cu"
    AL = "Al"
    PB = "Pb"


ELEMENTS: tuple[Element, ...] = tuple(Element)

#: IUPAC/CIAAW 2021 abridged standard atomic weights (g/mol) of the atoms used in formulas below
ATOMIC_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "H": 1.008,
        "Li": 6.94,
        "C": 12.011,
        "O": 15.999,
        "Al": 26.982,
        "P": 30.974,
        "S": 32.06,
        "Mn": 54.938,
        "Fe": 55.845,
        "Co": 58.933,
        "Ni": 58.693,
        "Cu": 63.546,
        "Pb": 207.2,
    }
)


def formula_fractions(atoms: Mapping[str, float], *, carbon_as: Element | None = None) -> dict[Element, float]:
    """Element mass fractions of a compound given as ``{atom: count per formula unit}``.

    Carbon counts as a tracked element only when ``carbon_as`` says which graphite it is
    (carbonate carbon is not graphite).
    """
    total = sum(ATOMIC_WEIGHTS[a] * n for a, n in atoms.items())
    out: dict[Element, float] = {}
    for a, n in atoms.items():
        if a == "C":
            if carbon_as is not None:
                out[carbon_as] = ATOMIC_WEIGHTS[a] * n / total
            continue
        try:
            el = Element(a)
        except ValueError:
            continue
        out[el] = ATOMIC_WEIGHTS[a] * n / total
    return out


@dataclass(frozen=True)
class Material:
    """A material code with its element mass fractions (kg element per kg material).

    ``fractions`` is ``None`` for materials of variable composition (assay or derived).
    ``active_material`` marks cathode/anode active materials: Art. 8 measures Co, Li and Ni
    recycled content against the element's mass in active materials.
    ``strategic`` marks materials the outflow watch follows: the due-diligence raw materials
    (Annex X: cobalt, natural graphite, lithium, nickel and their compounds), manganese and
    black mass.
    """

    code: str
    name: str
    fractions: Mapping[Element, float] | None
    source: str
    active_material: bool = False
    strategic: bool = False
    form: str = "bulk"  # "bulk" (mass units) or "piece" (counted; mass per piece declared)
    chemistry: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


_STOICH = "stoichiometry with IUPAC 2021 atomic weights"


def _m(code: str, name: str, fractions: Mapping[Element, float] | None, source: str, **kw: object) -> Material:
    return Material(code, name, MappingProxyType(dict(fractions)) if fractions is not None else None, source, **kw)  # type: ignore[arg-type]


_LIST: list[Material] = [
    # --- mined products and concentrates (typical grades; lots may declare an assay) ---
    _m(
        "spodumene_concentrate",
        "Spodumene concentrate (SC6)",
        {Element.LI: 0.06 * 2 * 6.94 / (2 * 6.94 + 15.999)},
        "SC6 grade = 6.0 % Li2O (industry benchmark grade, e.g. Pilbara Minerals and Talison "
        "product specifications); Li from Li2O stoichiometry",
        strategic=True,
    ),
    _m(
        "lithium_brine_concentrate",
        "Lithium brine concentrate (evaporation ponds)",
        {Element.LI: 0.06},
        "concentrated brine of about 6 % Li from Salar de Atacama evaporation ponds (SQM process "
        "description; USGS Mineral Commodity Summaries, Lithium)",
        strategic=True,
    ),
    _m(
        "cobalt_hydroxide",
        "Cobalt hydroxide intermediate",
        {Element.CO: 0.35},
        "DR Congo cobalt hydroxide is traded at 30-40 % Co (Fastmarkets/Cobalt Institute market "
        "descriptions); 35 % typical",
        strategic=True,
    ),
    _m(
        "nickel_mhp",
        "Mixed hydroxide precipitate (HPAL)",
        {Element.NI: 0.39, Element.CO: 0.04},
        "Indonesian HPAL MHP typically 35-40 % Ni and 3-5 % Co on a dry basis (Nickel Institute; producer disclosures)",
        strategic=True,
    ),
    _m(
        "natural_graphite_concentrate",
        "Natural graphite flake concentrate",
        {Element.C_NAT: 0.95},
        "flake concentrate 94-97 % fixed carbon (USGS Mineral Commodity Summaries, Graphite)",
        strategic=True,
    ),
    _m(
        "manganese_ore",
        "Manganese ore",
        {Element.MN: 0.44},
        "high-grade manganese ore 44-48 % Mn (USGS Mineral Commodity Summaries, Manganese)",
        strategic=True,
    ),
    # --- refined chemicals (stoichiometric) ---
    _m(
        "lithium_carbonate",
        "Lithium carbonate Li2CO3",
        formula_fractions({"Li": 2, "C": 1, "O": 3}),
        _STOICH,
        strategic=True,
    ),
    _m(
        "lithium_hydroxide",
        "Lithium hydroxide monohydrate LiOH·H2O",
        formula_fractions({"Li": 1, "O": 2, "H": 3}),
        _STOICH,
        strategic=True,
    ),
    _m(
        "cobalt_sulphate",
        "Cobalt sulphate heptahydrate CoSO4·7H2O",
        formula_fractions({"Co": 1, "S": 1, "O": 11, "H": 14}),
        _STOICH,
        strategic=True,
    ),
    _m(
        "nickel_sulphate",
        "Nickel sulphate hexahydrate NiSO4·6H2O",
        formula_fractions({"Ni": 1, "S": 1, "O": 10, "H": 12}),
        _STOICH,
        strategic=True,
    ),
    _m(
        "manganese_sulphate",
        "Manganese sulphate monohydrate MnSO4·H2O",
        formula_fractions({"Mn": 1, "S": 1, "O": 5, "H": 2}),
        _STOICH,
        strategic=True,
    ),
    _m(
        "spherical_graphite",
        "Spherical purified natural graphite",
        {Element.C_NAT: 0.9995},
        "battery-grade anode graphite ≥ 99.95 % C (producer specifications)",
        strategic=True,
        active_material=True,
    ),
    _m(
        "synthetic_graphite",
        "Synthetic graphite anode material",
        {Element.C_SYN: 0.9995},
        "battery-grade anode graphite ≥ 99.95 % C (producer specifications)",
        active_material=True,
    ),
    # --- precursors and cathode active materials (stoichiometric) ---
    _m(
        "pcam_nmc811",
        "NMC811 precursor Ni0.8Mn0.1Co0.1(OH)2",
        formula_fractions({"Ni": 0.8, "Mn": 0.1, "Co": 0.1, "O": 2, "H": 2}),
        _STOICH,
        strategic=True,
    ),
    _m(
        "cam_nmc811",
        "NMC811 cathode active material LiNi0.8Mn0.1Co0.1O2",
        formula_fractions({"Li": 1, "Ni": 0.8, "Mn": 0.1, "Co": 0.1, "O": 2}),
        _STOICH,
        strategic=True,
        active_material=True,
        chemistry="NMC811",
    ),
    _m(
        "cam_nmc622",
        "NMC622 cathode active material LiNi0.6Mn0.2Co0.2O2",
        formula_fractions({"Li": 1, "Ni": 0.6, "Mn": 0.2, "Co": 0.2, "O": 2}),
        _STOICH,
        strategic=True,
        active_material=True,
        chemistry="NMC622",
    ),
    _m(
        "cam_lfp",
        "LFP cathode active material LiFePO4",
        formula_fractions({"Li": 1, "Fe": 1, "P": 1, "O": 4}),
        _STOICH,
        strategic=True,
        active_material=True,
        chemistry="LFP",
    ),
    _m("iron_phosphate", "Iron(III) phosphate FePO4 (LFP precursor)", {}, _STOICH),
    # --- metals ---
    _m(
        "copper_foil",
        "Copper foil (anode current collector)",
        {Element.CU: 0.998},
        "battery foil ≥ 99.8 % Cu (producer specifications)",
    ),
    _m(
        "aluminium_foil",
        "Aluminium foil (cathode current collector)",
        {Element.AL: 0.998},
        "battery foil ≥ 99.8 % Al (1xxx-series alloys, EN 573-3)",
    ),
    _m("aluminium", "Aluminium (housings)", {Element.AL: 0.99}, "wrought alloys ≥ 99 % Al (EN 573-3)"),
    _m("copper", "Copper cathode", {Element.CU: 0.9999}, "LME grade A ≥ 99.99 % Cu"),
    _m("lead", "Refined lead", {Element.PB: 0.9997}, "refined lead ≥ 99.97 % Pb (EN 12659)"),
    # --- variable composition: assay or derived from inputs ---
    _m(
        "black_mass",
        "Black mass (shredded electrode material)",
        None,
        "varies with the feed: declared by assay or derived from the recycled input",
        strategic=True,
    ),
    _m("production_scrap", "Battery manufacturing scrap (pre-consumer)", None, "derived"),
    _m("cell", "Battery cell", None, "derived", form="piece"),
    _m("module", "Battery module", None, "derived", form="piece"),
    _m("pack", "Battery pack", None, "derived", form="piece"),
    _m("battery", "Battery placed on the market", None, "derived", form="piece"),
    _m("waste_battery", "Waste battery (collected)", None, "derived", form="piece"),
]

MATERIALS: Mapping[str, Material] = MappingProxyType({m.code: m for m in _LIST})


def material(code: str) -> Material | None:
    return MATERIALS.get(code)
