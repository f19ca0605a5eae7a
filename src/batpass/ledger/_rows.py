"""Conversions between ledger rows and model values (lots, profiles)."""

from __future__ import annotations

import json
from typing import Any

from batpass.ledger._materials import Element
from batpass.ledger.model import BatteryInfo, CustodyModel, EventId, EventKind, Lot, LotId, RecycledOrigin, Unit

__all__ = ["lot_from_row", "lot_row", "profile_of"]

_EL = {e.value: e for e in Element}


def lot_from_row(r: Any) -> Lot:
    b = json.loads(r.battery) if r.battery else None
    lot = Lot(
        owner=r.owner,
        id=LotId(r.id),
        material=r.material,
        unit=Unit(r.unit),
        quantity=r.quantity,
        mass_kg=r.mass_kg,
        remaining_kg=r.remaining_kg,
        mass_per_piece_kg=r.mass_per_piece_kg,
        site=r.site,
        country=r.country,
        custody=CustodyModel(r.custody),
        recycled=RecycledOrigin(r.recycled) if r.recycled else None,
        composition={_EL[k]: v for k, v in json.loads(r.composition).items()},
        produced_at=r.produced_at,
        event_id=EventId(r.event_id),
        kind=EventKind(r.kind),
        status=r.status,
        battery=BatteryInfo(**b) if b else None,
        held=bool(r.held),
        voided=bool(r.voided),
        profile=r.profile,
        seq=r.seq,
    )
    return lot


def profile_of(lot: Lot) -> dict[str, Any]:
    """The lot's precomputed profile as a dict (parsed once, on first use)."""
    p = lot.profile
    if isinstance(p, str):
        p = json.loads(p)
        lot.profile = p
    assert isinstance(p, dict)
    return p


_COMPOSITIONS: dict[tuple[tuple[Element, float], ...], str] = {}


def composition_json(comp: dict[Element, float]) -> str:
    """The stored text of a composition; lots of one material share it, so it is encoded once
    per distinct composition (bounded memo: assays make many distinct ones)."""
    key = tuple(comp.items())
    text = _COMPOSITIONS.get(key)
    if text is None:
        text = json.dumps({k.value: v for k, v in key}, separators=(",", ":"))
        if len(_COMPOSITIONS) < 4096:
            _COMPOSITIONS[key] = text
    return text


def lot_row(lot: Lot, seq: int, profile_json: str) -> dict[str, Any]:
    b = lot.battery
    return {
        "owner": lot.owner,
        "id": str(lot.id),
        "material": lot.material,
        "unit": lot.unit.value,
        "quantity": lot.quantity,
        "mass_kg": lot.mass_kg,
        "remaining_kg": lot.remaining_kg,
        "mass_per_piece_kg": lot.mass_per_piece_kg,
        "site": lot.site,
        "country": lot.country,
        "custody": lot.custody.value,
        "recycled": lot.recycled.value if lot.recycled else None,
        "composition": composition_json(lot.composition),
        "produced_at": lot.produced_at,
        "event_id": str(lot.event_id),
        "seq": seq,
        "kind": lot.kind.value,
        "status": lot.status,
        "battery_id": b.id if b else None,
        "battery": json.dumps(
            {
                "id": b.id,
                "model": b.model,
                "chemistry": b.chemistry,
                "capacity_kwh": b.capacity_kwh,
                "category": b.category,
            }
        )
        if b
        else None,
        "held": lot.held,
        "voided": lot.voided,
        "profile": profile_json,
    }
