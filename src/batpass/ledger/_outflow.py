"""Outflow watch: export authorisations and the shipments they cover.

Whether a lot's shipment needs an authorisation comes from the shipment rules (data with their
sources, :mod:`batpass.ledger._shipment_rules`, docs/outflows.md) and the node's own
controlled-materials policy. One that does needs an authorisation held by the shipper for that
material, valid on the shipment date, naming the destination (a country code or a region:
``EU``, ``EEA``) and with room under its cap; one that is prohibited can have none. Otherwise an
alert is raised with the evidence, naming the rule and its instrument; in ``warn`` mode the
shipment itself is still recorded (the watch reports, it does not rewrite history), in
``block`` mode the recording refuses it. A shipment that needs nothing raises nothing. Pure.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from batpass.core.countries import EU27, ISO3166_ALPHA2
from batpass.core.errors import InvalidInput
from batpass.core.limits import MAX_MASS_KG, MAX_TEXT, check_number
from batpass.ledger._materials import CATALOGUE, MATERIALS, material
from batpass.ledger._shipment_rules import RULES, OutflowPolicy, Requirement, ShipmentRules, requirement
from batpass.ledger.model import Event, Lot

__all__ = [
    "CREDENTIAL",
    "EU27",
    "REGIONS",
    "SELF_DECLARED",
    "Authorisation",
    "check_shipment",
    "parse_authorisation",
    "validate_authorisation",
]

REGIONS: Mapping[str, frozenset[str]] = {"EU": EU27, "EEA": EU27 | {"IS", "LI", "NO"}}


#: how an authorisation was given (the ``kind`` of its stored record, its alerts and the API)
SELF_DECLARED = "self_declared"
CREDENTIAL = "credential"


@dataclass
class Authorisation:
    """An export authorisation: holder, materials (and waste classes, when it names them),
    destinations, quantity cap, validity, and how it was given (``self_declared`` by the shipper
    or an authority's ``credential``, with its issuer)."""

    id: str
    holder: str
    materials: frozenset[str]
    destinations: frozenset[str]
    cap_kg: float
    valid_from: _dt.datetime
    valid_to: _dt.datetime
    used_kg: float = 0.0
    used_changed: bool = False
    waste_classes: frozenset[str] = frozenset()
    kind: str = SELF_DECLARED
    issuer: str | None = None
    #: why a held credential authorises nothing any more (re-checked: revoked, expired, its
    #: issuer no longer an authority) — ``{at, reason, rule, detail}`` — or ``None``
    withdrawn: Mapping[str, Any] | None = None

    def covers_destination(self, country: str) -> bool:
        return any(d == country or country in REGIONS.get(d, frozenset()) for d in self.destinations)

    def covers_waste_class(self, waste_class: str | None) -> bool:
        """Naming waste classes restricts it to lots in one of them; naming none, to any lot."""
        return not self.waste_classes or waste_class in self.waste_classes

    def shown(self) -> dict[str, Any]:
        """How an alert's evidence names it: which one, and which kind authorised (or not)."""
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "self_declared": self.kind == SELF_DECLARED}
        if self.issuer is not None:
            out["issuer"] = self.issuer
        if self.withdrawn is not None:
            out["withdrawn"] = dict(self.withdrawn)
        return out


def parse_authorisation(r: Any) -> Authorisation:
    return Authorisation(
        r.id,
        r.holder,
        frozenset(json.loads(r.materials)) if r.materials else frozenset({r.material}),
        frozenset(json.loads(r.destinations)),
        r.cap_kg,
        r.valid_from,
        r.valid_to,
        r.used_kg,
        waste_classes=frozenset(json.loads(r.waste_classes)) if r.waste_classes else frozenset(),
        kind=r.kind,
        issuer=r.issuer,
        withdrawn=json.loads(r.withdrawn) if r.withdrawn else None,
    )


def validate_authorisation(d: Mapping[str, Any]) -> dict[str, Any]:
    """Check the input form of an authorisation (docs/ledger-events.md, "Export authorisations")."""
    for k in ("id", "holder", "material", "destinations", "cap_kg", "valid_from", "valid_to"):
        if k not in d:
            raise InvalidInput(
                f"authorisation.{k} is required", field=f"authorisation.{k}", rule="ledger.authorisation.schema"
            )
    for k in ("id", "holder", "material"):
        if not isinstance(d[k], str) or not d[k] or len(d[k]) > MAX_TEXT:
            raise InvalidInput(
                f"authorisation.{k} must be a non-empty string of at most {MAX_TEXT} characters",
                field=f"authorisation.{k}",
                rule="ledger.authorisation.schema",
            )
    if d["material"] not in MATERIALS and material(str(d["material"])) is None:
        raise InvalidInput(
            f"authorisation.material {d['material']!r} is not a known material in catalogue {CATALOGUE.label}",
            field="authorisation.material",
            rule="ledger.material.known",
        )
    dests = d["destinations"]
    if not isinstance(dests, list) or not dests:
        raise InvalidInput(
            "authorisation.destinations must be a non-empty list",
            field="authorisation.destinations",
            rule="ledger.authorisation.schema",
        )
    for x in dests:
        if not isinstance(x, str) or (x not in ISO3166_ALPHA2 and x not in REGIONS):
            raise InvalidInput(
                f"authorisation.destinations: {x!r} is neither an ISO 3166-1 alpha-2 code nor a region "
                f"({', '.join(REGIONS)})",
                field="authorisation.destinations",
                rule="ISO 3166-1 alpha-2",
            )
    cap = check_number(
        d["cap_kg"],
        field="authorisation.cap_kg",
        rule="ledger.authorisation.schema",
        low=0.0,
        high=MAX_MASS_KG,
        positive=True,
    )
    out: dict[str, Any] = {}
    for k in ("valid_from", "valid_to"):
        try:
            v = _dt.datetime.fromisoformat(d[k])
        except (TypeError, ValueError):
            v = None
        if v is None or v.tzinfo is None:
            raise InvalidInput(
                f"authorisation.{k} must be an RFC 3339 timestamp", field=f"authorisation.{k}", rule="RFC 3339"
            )
        out[k] = v
    if out["valid_to"] <= out["valid_from"]:
        raise InvalidInput(
            "authorisation.valid_to must be after valid_from",
            field="authorisation.valid_to",
            rule="ledger.authorisation.validity",
        )
    return {
        "id": str(d["id"]),
        "holder": str(d["holder"]),
        "material": d["material"],
        "destinations": sorted(dests),
        "cap_kg": cap,
        **out,
    }


def check_shipment(
    ev: Event,
    inputs: Sequence[Lot],
    auths: Sequence[Authorisation],
    policy: OutflowPolicy = OutflowPolicy(),
    rules: ShipmentRules = RULES,
) -> list[dict[str, Any]]:
    """Alerts for one shipment event: empty when no lot of it needs an authorisation under
    ``rules`` and the node's ``policy``, or a valid authorisation covers each that does."""
    assert ev.shipment is not None
    out: list[dict[str, Any]] = []
    dest = ev.shipment.destination_country
    for lot, inp in zip(inputs, ev.inputs, strict=True):
        req = requirement(rules, policy, lot, ev.site.country, dest, ev.at)
        if req.requires == "none":
            continue
        kg = (
            inp.quantity.value * (lot.mass_per_piece_kg or 1.0)
            if inp.quantity.unit.value == "piece"
            else inp.quantity.value * _TO_KG[inp.quantity.unit.value]
        )
        if req.requires == "prohibited":  # no authorisation can cover it
            out.append({"rule": "outflow.prohibited", "evidence": _evidence(ev, lot, kg, req, rules)})
            continue
        scoped = [
            a
            for a in auths
            if a.holder == ev.owner
            and lot.material in a.materials
            and a.valid_from <= ev.at <= a.valid_to
            and a.covers_waste_class(req.waste_class)
        ]
        valid = [a for a in scoped if a.withdrawn is None]
        covering = [a for a in valid if a.covers_destination(dest)]
        gone = [a for a in scoped if a.withdrawn is not None and a.covers_destination(dest)]
        if gone and not covering:  # it would have covered it, but authorises nothing any more
            evidence = _evidence(ev, lot, kg, req, rules)
            evidence["authorisations"] = [a.shown() for a in gone]
            out.append({"rule": "outflow.authorisation-withdrawn", "evidence": evidence})
            continue
        if req.requires == "classification" and not covering:
            out.append({"rule": "outflow.needs-classification", "evidence": _evidence(ev, lot, kg, req, rules)})
            continue
        if not valid:
            out.append({"rule": "outflow.no-authorisation", "evidence": _evidence(ev, lot, kg, req, rules)})
            continue
        if not covering:
            evidence = _evidence(ev, lot, kg, req, rules)
            evidence["authorisations"] = [{**a.shown(), "destinations": sorted(a.destinations)} for a in valid]
            out.append({"rule": "outflow.destination", "evidence": evidence})
            continue
        a = covering[0]
        if a.used_kg + kg > a.cap_kg * (1 + 1e-9):
            evidence = _evidence(ev, lot, kg, req, rules)
            evidence["authorisation"] = {**a.shown(), "cap_kg": a.cap_kg, "used_kg": a.used_kg}
            out.append({"rule": "outflow.cap", "evidence": evidence})
        a.used_kg += kg
        a.used_changed = True
    return out


_TO_KG = {"kg": 1.0, "t": 1000.0, "g": 0.001}


def _evidence(ev: Event, lot: Lot, kg: float, req: Requirement, rules: ShipmentRules) -> dict[str, Any]:
    """What an alert on ``lot`` shipped by ``ev`` shows (built only when there is an alert)."""
    assert ev.shipment is not None
    return {
        "shipment": str(ev.id),
        "lot": str(lot.id),
        "material": lot.material,
        "quantity_kg": kg,
        "from_site": ev.site.id,
        "from_country": ev.site.country,
        "destination_country": ev.shipment.destination_country,
        "to_site": ev.shipment.to_site.id,
        "document": ev.shipment.document,
        "at": ev.at.isoformat(),
        "requirement": req.evidence(rules),
    }
