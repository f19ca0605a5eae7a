"""Materials the ledger knows, with their element mass fractions: a versioned catalogue kept as
data (``_data/materials.json``: name, version, atomic weights, each material's formula or grade
and its source), identified by its version and the SHA-256 of its canonical JSON.

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

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import rfc8785

from batpass.core.errors import InvalidInput

__all__ = [
    "ATOMIC_WEIGHTS",
    "CATALOGUE",
    "CATALOGUES",
    "ELEMENTS",
    "MATERIALS",
    "Catalogue",
    "Element",
    "Material",
    "extend_catalogue",
    "formula_fractions",
    "load_extension",
    "material",
    "parse_catalogue",
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

#: the catalogue as shipped: versioned data (``_data/materials.json``, docs/ledger-events.md
#: "Materials"), read once at import
_DOC_PATH = Path(__file__).resolve().parent / "_data" / "materials.json"
_DOC: Mapping[str, Any] = json.loads(_DOC_PATH.read_text(encoding="utf-8"))

#: IUPAC/CIAAW 2021 abridged standard atomic weights (g/mol) of the atoms used in formulas
ATOMIC_WEIGHTS: Mapping[str, float] = MappingProxyType(dict(_DOC["atomicWeights"]["values"]))


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
    ``strategic`` marks materials the outflow watch can follow under a node's controlled-materials
    policy (docs/outflows.md): the due-diligence raw materials (Annex X: cobalt, natural
    graphite, lithium, nickel and their compounds), manganese and black mass (waste: governed by
    the shipment rules instead).
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


@dataclass(frozen=True)
class Catalogue:
    """A versioned material catalogue: its name, version, the SHA-256 of its canonical JSON
    (RFC 8785) and its materials, whose compound fractions are computed from their formulas."""

    name: str
    version: str
    digest: str
    materials: Mapping[str, Material]

    @property
    def label(self) -> str:
        """``name@version``, as refusals of an unknown material name it."""
        return f"{self.name}@{self.version}"


def _fractions(m: Mapping[str, Any]) -> Mapping[Element, float] | None:
    """A material's fractions: from its ``formula`` (carbon as ``carbonAs`` graphite, if any), a
    ``grade`` (mass fraction of a compound) or the typical ``fractions`` its source states."""
    if "formula" in m:
        carbon = m.get("carbonAs")
        return formula_fractions(m["formula"], carbon_as=None if carbon is None else Element(carbon))
    if "grade" in m:
        g = m["grade"]
        return {el: g["massFraction"] * v for el, v in formula_fractions(g["formula"]).items()}
    fr = m["fractions"]
    return None if fr is None else {Element(k): float(v) for k, v in fr.items()}


def _materials(items: Any) -> dict[str, Material]:
    mats: dict[str, Material] = {}
    for m in items:
        fr = _fractions(m)
        mats[m["code"]] = Material(
            m["code"],
            m["name"],
            None if fr is None else MappingProxyType(dict(fr)),
            m["source"],
            active_material=bool(m.get("activeMaterial", False)),
            strategic=bool(m.get("strategic", False)),
            form=str(m.get("form", "bulk")),
            chemistry=m.get("chemistry"),
        )
    return mats


def parse_catalogue(doc: Mapping[str, Any]) -> Catalogue:
    """A :class:`Catalogue` from its JSON form (``_data/materials.json``)."""
    if list(doc["elements"]) != [e.value for e in ELEMENTS]:
        raise ValueError("the catalogue's tracked elements differ from batpass.ledger.Element")
    mats = _materials(doc["materials"])
    digest = "sha256:" + hashlib.sha256(rfc8785.dumps(doc)).hexdigest()
    return Catalogue(str(doc["catalogue"]), str(doc["version"]), digest, MappingProxyType(mats))


_EXT_RULE = "ledger.catalogue.extension (docs/ledger-events.md 'Materials')"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")


def _refuse(message: str, field: str) -> InvalidInput:
    return InvalidInput(f"material catalogue extension: {message}", field=field, rule=_EXT_RULE)


def extend_catalogue(base: Catalogue, doc: Any) -> Catalogue:
    """A node's effective catalogue: ``base`` plus the materials of its extension ``doc``
    (``{"catalogue", "version", "materials": [...]}``, each material in the shipped form: a
    ``formula`` over the shipped atomic weights, a ``grade`` or typical ``fractions``, and its
    ``source``). Labelled ``base+name@version`` and identified by the SHA-256 of the canonical JSON
    of the base's digest and the extension; it is registered (:data:`CATALOGUES`) so events
    checked with it replay and verify with it. A code the base has, a duplicate, an unknown atom
    or element, a fraction outside 0..1 or a material without source is refused naming it."""
    if not isinstance(doc, Mapping):
        raise _refuse("not a JSON object", "$")
    name, version, items = doc.get("catalogue"), doc.get("version"), doc.get("materials")
    for key, value in (("catalogue", name), ("version", version)):
        if not isinstance(value, str) or not _NAME.match(value):
            raise _refuse(f"$.{key} must be a name (1-64 of A-Z a-z 0-9 . _ -)", f"$.{key}")
    if not isinstance(items, list) or not items:
        raise _refuse("$.materials must be a non-empty list", "$.materials")
    seen: set[str] = set()
    for i, m in enumerate(items):
        path = f"$.materials[{i}]"
        code = m.get("code") if isinstance(m, Mapping) else None
        if not isinstance(code, str) or not _CODE.match(code):
            raise _refuse(f"{path}.code must be a material code (a-z 0-9 _)", f"{path}.code")
        if code in base.materials or code in seen:
            raise _refuse(f"{path}.code {code!r} is already in {base.label}", f"{path}.code")
        seen.add(code)
        if not isinstance(m.get("name"), str) or not isinstance(m.get("source"), str) or not m["source"].strip():
            raise _refuse(f"{path} needs a name and its source", f"{path}.source")
        try:
            fr = _fractions(m)
        except (KeyError, ValueError, TypeError) as exc:
            raise _refuse(f"{path}: no formula, grade or fractions this catalogue reads ({exc})", path) from exc
        if fr is not None and (any(not 0.0 <= v <= 1.0 for v in fr.values()) or sum(fr.values()) > 1.0 + 1e-9):
            raise _refuse(f"{path}: element fractions must lie in 0..1 and sum to at most 1", path)
    mats = {**base.materials, **_materials(items)}
    digest = "sha256:" + hashlib.sha256(rfc8785.dumps({"base": base.digest, "extension": dict(doc)})).hexdigest()
    cat = Catalogue(f"{base.name}+{name}", f"{base.version}+{version}", digest, MappingProxyType(mats))
    _KNOWN.setdefault(digest, cat)
    return _KNOWN[digest]


def load_extension(path: Path, base: Catalogue | None = None) -> Catalogue:
    """:func:`extend_catalogue` of a node's extension file (unreadable or non-JSON refused)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", field="materials", rule=_EXT_RULE) from exc
    except json.JSONDecodeError as exc:
        raise _refuse(f"not JSON ({exc.msg} at line {exc.lineno})", "$") from exc
    return extend_catalogue(base or CATALOGUE, doc)


#: the catalogue this code checks events with
CATALOGUE: Catalogue = parse_catalogue(_DOC)

MATERIALS: Mapping[str, Material] = CATALOGUE.materials

_KNOWN: dict[str, Catalogue] = {CATALOGUE.digest: CATALOGUE}
#: the catalogues this process checks and replays events with, by digest: the shipped one and
#: the node's extensions once loaded (:func:`extend_catalogue`); an event recorded with another
#: (a newer node's, or an extension this node no longer loads) is reported by ``ledger verify``
#: and does not replay
CATALOGUES: Mapping[str, Catalogue] = MappingProxyType(_KNOWN)


def material(code: str) -> Material | None:
    """A material of the shipped catalogue, else of an extension loaded in this process."""
    found = MATERIALS.get(code)
    if found is None:
        for cat in _KNOWN.values():
            found = cat.materials.get(code)
            if found is not None:
                break
    return found
