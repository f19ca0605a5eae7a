"""Conversions between ledger rows and model values (lots, profiles)."""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from math import isfinite as _isfinite
from typing import Any

import orjson

from batpass.ledger._materials import Element
from batpass.ledger.model import BatteryInfo, CustodyModel, EventId, EventKind, Lot, LotId, RecycledOrigin, Unit

__all__ = ["lot_from_row", "lot_values", "profile_json", "profile_of"]

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


def profile_json(profile: dict[str, Any]) -> str:
    """The stored text of an origin profile. Profiles are the ledger's own derived data, never
    hashed or signed, so any exact JSON will do: orjson writes them (keys sorted, floats
    round-tripping exactly) an order of magnitude faster than the standard encoder, and bulk
    ingest writes one per lot."""
    return orjson.dumps(profile, option=orjson.OPT_SORT_KEYS).decode()


def profile_of(lot: Lot) -> dict[str, Any]:
    """The lot's precomputed profile as a dict (parsed once, on first use)."""
    p = lot.profile
    if isinstance(p, str):
        p = orjson.loads(p)
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


_js = encode_basestring_ascii  # what json.dumps writes for a str (ensure_ascii, its default)
_frepr = float.__repr__  # and for a finite float


def _battery_json(b: BatteryInfo | None) -> str | None:
    """The stored text of a battery: what ``json.dumps`` writes for its fields, in order. Written
    by hand where every text is a ``str`` and the capacity a finite ``float`` (always, from the
    decoder): ``json.dumps`` builds an encoder per call, in interpreted code, for each battery lot."""
    if b is None:
        return None
    cap = b.capacity_kwh
    if (
        type(b.id) is str
        and type(b.model) is str
        and type(b.chemistry) is str
        and type(b.category) is str
        and type(cap) is float
        and _isfinite(cap)
    ):
        return (
            '{"id": '
            + _js(b.id)
            + ', "model": '
            + _js(b.model)
            + ', "chemistry": '
            + _js(b.chemistry)
            + ', "capacity_kwh": '
            + _frepr(cap)
            + ', "category": '
            + _js(b.category)
            + "}"
        )
    return json.dumps(
        {"id": b.id, "model": b.model, "chemistry": b.chemistry, "capacity_kwh": b.capacity_kwh, "category": b.category}
    )


def lot_values(
    lot: Lot, produced_at: Any, profile_no: int, held: Any, voided: Any, lot_no: int, null: Any = None
) -> tuple[Any, ...]:
    """The row of ``lot`` as a tuple in the table's column order (``_sql.lots``), for bulk
    inserts; the caller gives the driver's values of the timestamp and the flags (computed once
    per event or call, not per row), the number of the lot's stored profile, and what stands for
    a NULL (``_driver_values.null_value``). Enum members give their stored ``_value_`` (the ``value``
    property costs two Python calls a read, and ingest reads several per lot)."""
    b = lot.battery
    mpp = lot.mass_per_piece_kg
    status = lot.status
    return (
        lot.owner,
        str(lot.id),
        lot.material,
        lot.unit._value_,
        lot.quantity,
        lot.mass_kg,
        lot.remaining_kg,
        null if mpp is None else mpp,
        lot.site,
        lot.country,
        lot.custody._value_,
        lot.recycled._value_ if lot.recycled else null,
        composition_json(lot.composition),
        produced_at,
        str(lot.event_id),
        lot.seq,
        lot.kind._value_,
        null if status is None else status,
        b.id if b else null,
        null if b is None else _battery_json(b),
        held,
        voided,
        profile_no,
        lot_no,
    )
