"""Recycling efficiency and material recovery of one recycler and period, computed from its own
ledger and compared with the dated targets of Annex XII of the Batteries Regulation
(``_data/recycling-targets.json``; docs/recycling.md).

A **simplified estimate**, never a pass: the Commission's calculation method is not encoded.
What it counts, per ``recovery`` event of the recycler dated in the period:

- *input*: the waste batteries it takes (a ``waste_battery`` lot, or a battery, pack, module or
  cell whose status is ``waste``) and the black mass it received from others; black mass it made
  itself (a ``recycling`` event) counts as the waste batteries it was made from, in proportion
  to the share of that black mass the recovery took. Other inputs (production scrap, black mass
  made from scrap) are not waste batteries: they are reported as ``excluded_input_kg`` and the
  event's outputs are counted only in the share of its inputs that are counted;
- *output*: the lots the recovery produced (their mass for the efficiency, their element mass
  for material recovery).

Efficiency is output mass / input mass; recovery per element is recovered element mass / input
element mass. Reads only: knows SQL through ``_sql``.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from batpass.core.errors import InvalidInput
from batpass.ledger import _sql as t
from batpass.ledger._materials import Element
from batpass.ledger._rows import lot_from_row
from batpass.ledger._shipment_rules import is_waste_battery
from batpass.ledger.model import EventKind, Lot

__all__ = ["BASIS", "TARGETS", "parse_period", "recycling_efficiency"]

BASIS = "simplified estimate"
_PATH = Path(__file__).resolve().parent / "_data" / "recycling-targets.json"
#: Annex XII's dated targets, as data
TARGETS: Mapping[str, Any] = json.loads(_PATH.read_text(encoding="utf-8"))
_RECOVERED = tuple(Element(e) for e in TARGETS["recovery"])
_Flows = dict[str, tuple[dict[str, float], list[str]]]


def _flows(conn: Any, owner: str, event_ids: Iterable[str]) -> _Flows:
    """Per event: its inputs (lot → kg taken) and its output lots, from the graph's edges."""
    out: _Flows = {}
    for child, parent, eid, kg in t.event_edges(conn, owner, event_ids):
        ins, outs = out.setdefault(eid, ({}, []))
        ins.setdefault(parent, kg)
        if child not in outs:
            outs.append(child)
    return out


def _lots(conn: Any, owner: str, ids: Iterable[str]) -> dict[str, Lot]:
    return {r.id: lot_from_row(r) for r in t.select_lots(conn, owner, sorted(set(ids)))}


def _target(series: list[Mapping[str, Any]], as_of: _dt.date | None) -> dict[str, Any] | None:
    """The latest target in force on ``as_of`` (None: none yet, or no date to judge by)."""
    hit = None
    for s in series:
        if as_of is not None and as_of >= _dt.date.fromisoformat(s["by"]):
            hit = {"value": s["value"], "by": s["by"]}
    return hit


def _indication(rate: float | None, target: Mapping[str, Any] | None) -> str:
    if rate is None:
        return "not computable: no input in the period"
    if target is None:
        return "no target applies yet"
    side = "at or above" if rate >= target["value"] else "below"
    return f"{side} the target ({BASIS}, not a compliance result)"


def _chemistry(el_in: Mapping[Element, float]) -> str:
    if el_in.get(Element.LI, 0.0) > 0:
        return "lithium-based"
    if el_in.get(Element.PB, 0.0) > 0:
        return "lead-acid"
    return "other"  # nickel-cadmium is not recognised: cadmium is not a tracked element


def recycling_efficiency(conn: Any, owner: str, start: _dt.datetime | None, end: _dt.datetime | None) -> dict[str, Any]:
    """Efficiency and recovery of ``owner``'s recovery events with ``start <= at < end``."""
    q = select(t.events.c.id, t.events.c.at).where(t.events_of(owner), t.events.c.kind == EventKind.RECOVERY.value)
    if start is not None:
        q = q.where(t.events.c.at >= start)
    if end is not None:
        q = q.where(t.events.c.at < end)
    events = conn.execute(q).all()
    flows = _flows(conn, owner, [e.id for e in events])
    lots = _lots(conn, owner, [x for ins, outs in flows.values() for x in (*ins, *outs)])
    # black mass made here: the events that made it, and what those took
    made = {lots[p].event_id for ins, _ in flows.values() for p in ins if _own_black_mass(lots.get(p))}
    made_flows = _flows(conn, owner, made)
    lots.update(_lots(conn, owner, [x for ins, outs in made_flows.values() for x in (*ins, *outs)]))

    in_kg = out_kg = excluded = 0.0
    el_in = dict.fromkeys(Element, 0.0)
    el_out = dict.fromkeys(Element, 0.0)
    for ins, outs in flows.values():
        counted = 0.0
        for p, kg in ins.items():
            for src, src_kg, share in _sources(lots[p], kg, lots, made_flows):
                if share is None:
                    excluded += src_kg
                    continue
                counted += kg * share
                in_kg += src_kg
                for el in Element:
                    el_in[el] += src.element_kg(el, src_kg)
        total = sum(ins.values())
        share_out = counted / total if total > 0 else 0.0
        for c in outs:
            lot = lots[c]
            out_kg += lot.mass_kg * share_out
            for el in Element:
                el_out[el] += lot.element_kg(el) * share_out
    as_of = _as_of(end, [e.at for e in events])
    chem = _chemistry(el_in)
    eff = out_kg / in_kg if in_kg > 0 else None
    eff_target = _target(TARGETS["efficiency"][chem], as_of)
    recovery: dict[str, Any] = {}
    for el in _RECOVERED:
        if el_in[el] <= 0:
            continue
        rate = el_out[el] / el_in[el]
        target = _target(TARGETS["recovery"][el.value], as_of)
        recovery[el.value] = {
            "input_kg": el_in[el],
            "recovered_kg": el_out[el],
            "rate": rate,
            "target": target,
            "indication": _indication(rate, target),
        }
    return {
        "recycler": owner,
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "basis": BASIS,
        "method": (
            "output mass of recovery events / mass of the waste batteries and received black mass they "
            "processed; not the Commission's calculation method (Art. 71(4)), which is not encoded"
        ),
        "instrument": TARGETS["instrument"],
        "targets": f"{TARGETS['name']}@{TARGETS['version']}",
        "recovery_events": len(events),
        "input_kg": in_kg,
        "output_kg": out_kg,
        "excluded_input_kg": excluded,
        "chemistry": chem,
        "efficiency": eff,
        "efficiency_target": eff_target,
        "efficiency_indication": _indication(eff, eff_target),
        "recovery": recovery,
    }


def _own_black_mass(lot: Lot | None) -> bool:
    return lot is not None and lot.material == "black_mass" and lot.kind is EventKind.RECYCLING


def _sources(lot: Lot, kg: float, lots: Mapping[str, Lot], made: _Flows) -> list[tuple[Lot, float, float | None]]:
    """What ``kg`` of ``lot`` taken by a recovery counts as: (source lot, its kg, the share of the
    taken kg it stands for — None when it is not a waste battery input)."""
    if is_waste_battery(lot) or (lot.material == "black_mass" and not _own_black_mass(lot)):
        return [(lot, kg, 1.0)]
    if not _own_black_mass(lot):
        return [(lot, kg, None)]
    ins, outs = made.get(str(lot.event_id), ({}, []))
    made_kg = sum(lots[o].mass_kg for o in outs if o in lots)
    taken = kg / made_kg if made_kg > 0 else 0.0
    total_in = sum(ins.values())
    out: list[tuple[Lot, float, float | None]] = []
    for p, p_kg in ins.items():
        src = lots[p]
        share = p_kg / total_in if total_in > 0 else 0.0
        out.append((src, p_kg * taken, share if is_waste_battery(src) else None))
    return out


def _as_of(end: _dt.datetime | None, ats: list[_dt.datetime]) -> _dt.date | None:
    """The last day the period covers: the day before ``end`` (exclusive), else the latest event's."""
    if end is not None:
        return (end - _dt.timedelta(microseconds=1)).astimezone(_dt.UTC).date()
    return max(ats).astimezone(_dt.UTC).date() if ats else None


def parse_period(start: str | None, end: str | None) -> tuple[_dt.datetime | None, _dt.datetime | None]:
    """``from`` and ``to`` (RFC 3339 timestamps with zone, or dates: midnight UTC), ``to`` after ``from``."""
    out: list[_dt.datetime | None] = []
    for name, v in (("from", start), ("to", end)):
        if v is None or v == "":
            out.append(None)
            continue
        try:
            d = _dt.datetime.fromisoformat(v)
        except ValueError:
            d = None
        if d is not None and len(v) == 10:  # a date: midnight UTC
            d = d.replace(tzinfo=_dt.UTC)
        if d is None or d.tzinfo is None:
            raise InvalidInput(
                f"{name} must be an RFC 3339 timestamp with zone or a date, got {v!r}", field=name, rule="RFC 3339"
            )
        out.append(d)
    if out[0] is not None and out[1] is not None and out[1] <= out[0]:
        raise InvalidInput("to must be after from", field="to", rule="ledger.period")
    return out[0], out[1]
