"""Which shipments need an authorisation: rules kept as versioned data with their sources
(``_data/shipment-rules.json``, docs/outflows.md), and a node's own controlled-materials policy.

A lot shipped is first placed in the waste classes whose criteria it meets on the shipment date
(black mass; a waste battery — the ``waste_battery`` material, or a battery, pack, module or cell
whose passport status is ``waste`` — carrying one of the listed elements). The rules are then
tried in order, the first whose route (same country), origin, destination, waste classes and
dates match deciding what the shipment requires: nothing, an authorisation (prior notification
and consent, an export approval), classification first, or nothing can authorise it
(prohibited). A lot in no waste class, not waste, and of a strategic material carrying an
element of the node's controlled-materials policy needs the shipper's export authorisation when
it leaves the shipper's customs territory (the EU's member states count as one). Anything else
needs none, and raises no alert.

Pure: data and a decision per lot; identified by the rules' version and the SHA-256 of their
canonical JSON (RFC 8785), recorded with every alert.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import rfc8785

from batpass.core.errors import InvalidInput
from batpass.ledger._materials import MATERIALS, Element, material
from batpass.ledger.model import Lot

__all__ = [
    "MODES",
    "RULES",
    "OutflowPolicy",
    "Requirement",
    "ShipmentRules",
    "parse_policy",
    "parse_rules",
    "requirement",
]

Requires = Literal["none", "consent", "prohibited", "classification"]
MODES = ("warn", "block")
#: materials that are a waste battery once their passport status is ``waste``
_BATTERY_FORMS = frozenset({"battery", "pack", "module", "cell"})
_REQUIRES = frozenset({"none", "consent", "prohibited", "classification"})


@dataclass(frozen=True)
class WasteClass:
    id: str
    instrument: str
    materials: frozenset[str] = frozenset()
    waste_battery: bool = False
    elements_any: frozenset[Element] = frozenset()
    from_date: _dt.date | None = None

    def holds(self, lot: Lot, on: _dt.date) -> bool:
        if self.from_date is not None and on < self.from_date:
            return False
        if self.materials and lot.material not in self.materials:
            return False
        if self.waste_battery and not is_waste_battery(lot):
            return False
        if self.elements_any and not any(lot.composition.get(el, 0.0) > 0 for el in self.elements_any):
            return False
        return bool(self.materials) or self.waste_battery


@dataclass(frozen=True)
class Rule:
    id: str
    requires: Requires
    instrument: str
    route: str | None = None  # "domestic": origin and destination in one country
    origin: str | None = None  # a country code or a group
    destination: str | None = None  # a country code, a group, "non-<group>" or "abroad"
    waste_classes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ShipmentRules:
    """The rules as data: name, version, digest, groups of countries, waste classes, rules."""

    name: str
    version: str
    digest: str
    groups: Mapping[str, frozenset[str]]
    classes: tuple[WasteClass, ...]
    rules: tuple[Rule, ...]
    policy_id: str
    policy_instrument: str
    policy_elements: frozenset[Element]

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    @cached_property
    def waste_materials(self) -> frozenset[str]:
        """Materials some waste class names (waste batteries are recognised apart)."""
        return frozenset(m for c in self.classes for m in c.materials)

    def in_place(self, country: str, place: str) -> bool:
        """Whether ``country`` is ``place``: a country code, a group, or ``non-<group>``."""
        if place.startswith("non-"):
            return not self.in_place(country, place[4:])
        group = self.groups.get(place)
        return country in group if group is not None else country == place

    def territory(self, country: str) -> str:
        """The customs territory of ``country``: the EU's member states count as one."""
        return "EU" if country in self.groups.get("EU", frozenset()) else country


@dataclass(frozen=True)
class OutflowPolicy:
    """A node's outflow policy (config ``outflows``): ``mode`` ``warn`` records a shipment outside
    every valid authorisation and alerts; ``block`` refuses it, nothing written. ``controlled``
    are the elements of its controlled-materials policy for non-waste strategic materials."""

    mode: str = "warn"
    controlled: frozenset[Element] = frozenset()

    @property
    def blocks(self) -> bool:
        return self.mode == "block"

    def warning(self) -> OutflowPolicy:
        """The same policy in ``warn`` mode (what a replay of the recorded log uses: shipments
        recorded before a node turned to ``block`` stay in its log)."""
        return OutflowPolicy("warn", self.controlled)


@dataclass(frozen=True)
class Requirement:
    """What one lot's shipment requires, and the rule (with its instrument) that says so."""

    requires: Requires
    rule: str
    instrument: str
    waste_class: str | None = None

    def evidence(self, rules: ShipmentRules) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requires": self.requires,
            "rule": self.rule,
            "instrument": self.instrument,
            "rules": rules.label,
            "rules_digest": rules.digest,
        }
        if self.waste_class is not None:
            out["waste_class"] = self.waste_class
        return out


_NONE = Requirement("none", "none", "no rule requires an authorisation")


def is_waste_battery(lot: Lot) -> bool:
    return lot.material == "waste_battery" or (lot.material in _BATTERY_FORMS and lot.status == "waste")


def requirement(
    rules: ShipmentRules, policy: OutflowPolicy, lot: Lot, origin: str, destination: str, at: _dt.datetime
) -> Requirement:
    """What shipping ``lot`` from ``origin`` to ``destination`` (country codes) on ``at`` requires."""
    if not policy.controlled and lot.material not in rules.waste_materials and not is_waste_battery(lot):
        return _NONE  # most shipments: no waste class can hold, no policy to ask (the fast path)
    held: set[str] | None = None  # the lot's waste classes, found when a rule first asks
    for r in rules.rules:
        if r.route == "domestic" and origin != destination:
            continue
        if r.origin is not None and not rules.in_place(origin, r.origin):
            continue
        if r.destination is not None:
            if r.destination == "abroad":
                if destination == origin:
                    continue
            elif not rules.in_place(destination, r.destination):
                continue
        if held is None and r.waste_classes:
            held = _classes(rules, lot, at)
        hit = sorted(held & r.waste_classes) if held else []
        if r.waste_classes and not hit:
            continue
        return Requirement(r.requires, r.id, r.instrument, hit[0] if hit else None)
    mat = MATERIALS.get(lot.material) or material(lot.material)  # or a node extension's
    if (
        not (_classes(rules, lot, at) if held is None else held)
        and mat is not None
        and mat.strategic
        and lot.material != "black_mass"
        and not is_waste_battery(lot)
        and rules.territory(origin) != rules.territory(destination)
    ):
        carried = sorted(el.value for el in policy.controlled if lot.composition.get(el, 0.0) > 0)
        if carried:
            return Requirement(
                "consent", rules.policy_id, f"{rules.policy_instrument}; controlled elements carried: {carried}"
            )
    return _NONE


def _classes(rules: ShipmentRules, lot: Lot, at: _dt.datetime) -> set[str]:
    on = at.astimezone(_dt.UTC).date()
    return {c.id for c in rules.classes if c.holds(lot, on)}


def parse_rules(doc: Mapping[str, Any]) -> ShipmentRules:
    """:class:`ShipmentRules` from their JSON form (``_data/shipment-rules.json``)."""
    groups = {k: frozenset(v["members"]) for k, v in doc["groups"].items()}
    classes = tuple(
        WasteClass(
            c["id"],
            c["instrument"],
            frozenset(c.get("materials", ())),
            bool(c.get("wasteBattery", False)),
            frozenset(Element(e) for e in c.get("elementsAny", ())),
            _dt.date.fromisoformat(c["from"]) if "from" in c else None,
        )
        for c in doc["wasteClasses"]
    )
    known = {c.id for c in classes}
    rules: list[Rule] = []
    for r in doc["rules"]:
        if r["requires"] not in _REQUIRES or not set(r.get("wasteClasses", ())) <= known:
            raise ValueError(f"shipment rule {r['id']}: unknown requirement or waste class")
        rules.append(
            Rule(
                r["id"],
                r["requires"],
                r["instrument"],
                r.get("route"),
                r.get("origin"),
                r.get("destination"),
                frozenset(r.get("wasteClasses", ())),
            )
        )
    pol = doc["policy"]
    digest = "sha256:" + hashlib.sha256(rfc8785.dumps(doc)).hexdigest()
    return ShipmentRules(
        str(doc["name"]),
        str(doc["version"]),
        digest,
        MappingProxyType(groups),
        classes,
        tuple(rules),
        str(pol["id"]),
        str(pol["instrument"]),
        frozenset(Element(e) for e in pol["elements"]),
    )


_PATH = Path(__file__).resolve().parent / "_data" / "shipment-rules.json"
#: the rules this code checks shipments with
RULES: ShipmentRules = parse_rules(json.loads(_PATH.read_text(encoding="utf-8")))


def parse_policy(cfg: Mapping[str, Any] | None, *, rules: ShipmentRules = RULES) -> OutflowPolicy:
    """A node's outflow policy from its config ``outflows`` (``{"mode": "warn"|"block",
    "controlled_materials": ["Li", "Co", ...]}``; absent: ``warn`` and no controlled element)."""
    if cfg is None:
        return OutflowPolicy()
    if not isinstance(cfg, Mapping) or not set(cfg) <= {"mode", "controlled_materials"}:
        raise InvalidInput(
            "outflows must be an object with mode and controlled_materials",
            field="outflows",
            rule="ledger.outflows.policy",
        )
    mode = cfg.get("mode", "warn")
    if mode not in MODES:
        raise InvalidInput(
            f"outflows.mode must be one of {', '.join(MODES)}, got {mode!r}",
            field="outflows.mode",
            rule="ledger.outflows.policy",
        )
    els = cfg.get("controlled_materials", [])
    allowed = sorted(e.value for e in rules.policy_elements)
    if not isinstance(els, list) or any(not isinstance(e, str) or e not in allowed for e in els):
        raise InvalidInput(
            f"outflows.controlled_materials must list elements among {', '.join(allowed)}",
            field="outflows.controlled_materials",
            rule="ledger.outflows.policy",
        )
    return OutflowPolicy(str(mode), frozenset(Element(e) for e in els))


def blocking(alerts: Iterable[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """The alerts a ``block`` node refuses a shipment for: outside every valid authorisation
    (none, another destination, over the cap) or prohibited. ``needs-classification`` alerts."""
    return [a for a in alerts if a["rule"] != "outflow.needs-classification"]
