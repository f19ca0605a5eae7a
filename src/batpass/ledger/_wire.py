"""The wire form of a custody event as msgspec structs: the request decoder of
``POST /v1/ledger/events``, the parser's fast pass and the canonical body, in C where msgspec can.

- **Decoding.** :data:`EventWire` and its parts are strict structs (unknown fields refused, no
  type coercion but integers read as floats, as JSON means them); the checks msgspec cannot
  express (identifier and DID syntax, countries, the material catalogue, timestamps with a zone,
  fractions summing to at most 1, which parts each kind carries) run in :func:`event_from_wire`
  on the decoded struct. Whatever either refuses goes to the strict parser
  (``model._parse_event_strict``), which reports the refusal with today's field path and rule,
  so this pass changes no refusal: it only ever accepts what the strict pass accepts, and builds
  the same :class:`~batpass.ledger.model.Event`.
- **Canonical body.** The decoded struct, normalised (the timestamp as ``isoformat`` writes it,
  empty lists, a yield of 1 and an unset ``void`` left out as :func:`~batpass.ledger.model.event_to_json`
  leaves them out), encoded with sorted keys by :data:`_ENCODER` is byte for byte
  ``canonical_json(event_to_json(ev))``: msgspec escapes strings as ``json`` does with
  ``ensure_ascii=False`` and writes floats as ``repr`` does between 1e-4 and 1e16; an event with
  a float outside that range (msgspec writes ``1e16`` where ``repr`` writes ``1e+16``) keeps the
  hand-written writer (``model.event_body``). The vectors in
  ``tests/unit/ledger/vectors/ledger_canonical_vectors.json`` pin the bytes.
- **OpenAPI.** :func:`openapi_request_body` is the route's request body, generated from the
  structs (``msgspec.json.schema``).
"""

from __future__ import annotations

import datetime as _dt
import gc
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from batpass.core.countries import ISO3166_ALPHA2
from batpass.ledger._fastinit import positional_constructor, twin
from batpass.ledger._materials import CATALOGUE, MATERIALS, Catalogue, Element
from batpass.ledger.model import (
    BatteryInfo,
    CustodyModel,
    Event,
    EventId,
    EventKind,
    InputRef,
    LotId,
    OutputSpec,
    Quantity,
    Receipt,
    RecycledOrigin,
    Shipment,
    Site,
    Unit,
    _check_shape,
)

__all__ = [
    "EventWire",
    "decode_event_stream",
    "event_from_object",
    "event_from_wire",
    "openapi_request_body",
]

#: the largest finite float: JSON numbers are finite, and a schema bound must be a number
_MAX = 1.7976931348623157e308

Positive = Annotated[float, Meta(gt=0, le=_MAX, description="a finite number > 0")]
Fraction = Annotated[float, Meta(ge=0, le=1, description="a mass fraction in [0, 1]")]
YieldFraction = Annotated[float, Meta(gt=0, le=1, description="a yield in (0, 1]")]
Identifier = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=128,
        pattern="^[A-Za-z0-9][A-Za-z0-9._:/\\-]{0,127}$",
        description="1-128 characters of letters, digits and ._:/- (UUIDv7 text recommended for lots)",
    ),
]
Did = Annotated[str, Meta(min_length=5, pattern="^did:[a-z0-9]+:[A-Za-z0-9._:%\\-]+$", description="a DID")]
Country = Annotated[
    str,
    Meta(
        min_length=2,
        max_length=2,
        description="ISO 3166-1 alpha-2 code",
        extra_json_schema={"enum": sorted(ISO3166_ALPHA2)},  # checked against the same set in Python
    ),
]
Text = Annotated[str, Meta(min_length=1, max_length=512)]
Status = Literal["original", "re-used", "repurposed", "remanufactured", "waste"]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """Unknown members are refused; members at their default are left out when encoded; not
    tracked by the cyclic garbage collector (a decoded event holds no cycle)."""


class SiteWire(_Strict):
    id: Annotated[str, Meta(min_length=1, max_length=128)]
    country: Country


class QuantityWire(_Strict):
    value: Positive
    unit: Unit


class InputWire(_Strict):
    lot: Identifier
    quantity: QuantityWire


class BatteryWire(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    # every member is written, ``category`` too when it was left at its default
    id: Text
    model: Annotated[str, Meta(min_length=1, max_length=128)]
    chemistry: Annotated[str, Meta(min_length=1, max_length=32)]
    capacity_kwh: Positive
    category: Annotated[str, Meta(min_length=1, max_length=32)] = "ev"


class OutputWire(_Strict):
    lot: Identifier
    material: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=64,
            description="a material of the node's catalogue (the shipped one listed; a node may extend it)",
            extra_json_schema={"enum": list(MATERIALS)},
        ),
    ]
    quantity: QuantityWire
    mass_per_piece_kg: Positive | None = None
    custody: CustodyModel | None = None
    recycled: RecycledOrigin | None = None
    assay: dict[Element, Fraction] | None = None
    battery: BatteryWire | None = None


class ShipmentWire(_Strict):
    to_site: SiteWire
    destination_country: Country
    document: Text
    to_owner: Did | None = None


class ReceiptWire(_Strict):
    from_owner: Did
    from_lot: Identifier
    document: Text


class StatusWire(_Strict):
    lot: Identifier
    value: Status


class EventWire(_Strict):
    """One custody event (docs/ledger-events.md)."""

    id: Identifier
    kind: EventKind
    owner: Did
    at: Annotated[
        str,
        Meta(description="RFC 3339 timestamp with a zone", extra_json_schema={"format": "date-time"}),
    ]
    site: SiteWire
    inputs: list[InputWire] | None = None
    outputs: list[OutputWire] | None = None
    yield_: YieldFraction | dict[Element, YieldFraction] | UnsetType = msgspec.field(default=UNSET, name="yield")
    shipment: ShipmentWire | None = None
    receipt: ReceiptWire | None = None
    status: StatusWire | None = None
    corrects: Identifier | None = None
    void: bool | UnsetType = UNSET
    reason: Annotated[str, Meta(min_length=1, max_length=2000)] | None = None


_ARRAY = msgspec.json.Decoder(list[EventWire])
_LINE = msgspec.json.Decoder(EventWire)
_ENCODER = msgspec.json.Encoder(order="sorted")
#: strict (``strict=True`` is its default: passing it builds a keyword dict per event)
_convert = msgspec.convert


class _Refused(Exception):
    """This pass refuses the event; the strict pass reports why (or accepts it after all)."""


_new_str = str.__new__
# the frozen dataclasses of an event, built without their frozen __init__ (ledger._fastinit):
# those of every event here, as twins given their class (in code this module's compiled form
# runs), the rarer ones by positional constructors
_object_new = object.__new__
_EventTwin = twin(Event)
_OutputTwin = twin(OutputSpec)
_InputTwin = twin(InputRef)
_QuantityTwin = twin(Quantity)
_new_battery = positional_constructor(BatteryInfo)
_new_shipment = positional_constructor(Shipment)
_new_receipt = positional_constructor(Receipt)
_COUNTRIES = frozenset(ISO3166_ALPHA2)
_SITES: dict[tuple[str, str], Site] = {}
_SAFE_LOW = 1e-4  # floats msgspec writes as ``repr`` does: 0 and [1e-4, 1e16)
_SAFE_HIGH = 1e16


def _new_quantity(value: float, unit: Unit) -> Quantity:
    """``Quantity(value, unit)``."""
    q: Any = _object_new(_QuantityTwin)
    q.value = value
    q.unit = unit
    q.__class__ = Quantity
    return q  # type: ignore[no-any-return]


def _new_input(lot: LotId, quantity: Quantity) -> InputRef:
    """``InputRef(lot, quantity)``."""
    i: Any = _object_new(_InputTwin)
    i.lot = lot
    i.quantity = quantity
    i.__class__ = InputRef
    return i  # type: ignore[no-any-return]


def _new_output(
    lot: LotId,
    material: str,
    quantity: Quantity,
    mass_per_piece_kg: float | None,
    custody: CustodyModel | None,
    recycled: RecycledOrigin | None,
    assay: dict[Element, float] | None,
    battery: BatteryInfo | None,
) -> OutputSpec:
    """``OutputSpec(...)`` of every field, in field order."""
    o: Any = _object_new(_OutputTwin)
    o.lot = lot
    o.material = material
    o.quantity = quantity
    o.mass_per_piece_kg = mass_per_piece_kg
    o.custody = custody
    o.recycled = recycled
    o.assay = assay
    o.battery = battery
    o.__class__ = OutputSpec
    return o  # type: ignore[no-any-return]


def _new_event(
    id: EventId,
    kind: EventKind,
    owner: str,
    at: _dt.datetime,
    site: Site,
    inputs: tuple[InputRef, ...],
    outputs: tuple[OutputSpec, ...],
    yield_: float | dict[Element, float],
    shipment: Shipment | None,
    receipt: Receipt | None,
    status_lot: LotId | None,
    status: str | None,
    corrects: EventId | None,
    void: bool,
    reason: str | None,
    catalogue: Catalogue,
    body: str | None,
) -> Event:
    """``Event(...)`` of every field, in field order."""
    ev: Any = _object_new(_EventTwin)
    ev.id = id
    ev.kind = kind
    ev.owner = owner
    ev.at = at
    ev.site = site
    ev.inputs = inputs
    ev.outputs = outputs
    ev.yield_ = yield_
    ev.shipment = shipment
    ev.receipt = receipt
    ev.status_lot = status_lot
    ev.status = status
    ev.corrects = corrects
    ev.void = void
    ev.reason = reason
    ev.catalogue = catalogue
    ev.body = body
    ev.__class__ = Event
    return ev  # type: ignore[no-any-return]


def _site(w: SiteWire) -> Site:
    key = (w.id, w.country)
    site = _SITES.get(key)
    if site is None:
        if w.country not in _COUNTRIES:
            raise _Refused
        site = Site(w.id, w.country)
        if len(_SITES) < 100_000:
            _SITES[key] = site
    return site


def _lot(v: str) -> LotId:
    # the struct's pattern matched (a search: ``$`` also matches before a final newline, which
    # its character class leaves as the one thing ``fullmatch`` would refuse beyond it)
    if v[-1] == "\n":
        raise _Refused
    return _new_str(LotId, v)


def _did(v: str) -> str:
    if v[-1] == "\n":
        raise _Refused
    return v


def _safe(x: float) -> bool:
    return x == 0.0 or _SAFE_LOW <= x < _SAFE_HIGH


def _isoformat(text: str, at: _dt.datetime) -> str:
    """``at.isoformat()`` of a time ``fromisoformat`` read from ``text``: taken from the text
    itself when it is the usual ``YYYY-MM-DDTHH:MM:SSZ`` (which isoformat writes with ``+00:00``)."""
    if (
        len(text) == 20
        and text[19] == "Z"
        and text[10] == "T"
        and text[4] == "-"
        and text[7] == "-"
        and text[13] == ":"
        and text[16] == ":"
    ):
        return text[:19] + "+00:00"
    return at.isoformat()


def event_from_wire(w: EventWire, catalogue: Catalogue = CATALOGUE, *, body: bool = True) -> Event:
    """The :class:`Event` of a decoded struct, with the checks msgspec cannot express; raises
    (anything) where the strict pass must look at the event. With ``body``, the struct is
    normalised in place and its canonical body attached to the event."""
    at = _dt.datetime.fromisoformat(w.at)
    if at.tzinfo is None:
        raise _Refused
    safe = True
    inputs: list[InputRef] = []
    for i in w.inputs or ():
        q = i.quantity
        inputs.append(_new_input(_lot(i.lot), _new_quantity(q.value, q.unit)))
        safe = safe and _safe(q.value)
    outputs: list[OutputSpec] = []
    for o in w.outputs or ():
        if o.material not in catalogue.materials:
            raise _Refused
        b = o.battery
        battery = None if b is None else _new_battery(b.id, b.model, b.chemistry, b.capacity_kwh, b.category)
        q = o.quantity
        assay = o.assay
        if assay is not None:
            if sum(assay.values()) > 1.0 + 1e-9:
                raise _Refused
            safe = safe and all(map(_safe, assay.values()))
        mpp = o.mass_per_piece_kg
        safe = safe and _safe(q.value) and (mpp is None or _safe(mpp)) and (b is None or _safe(b.capacity_kwh))
        outputs.append(
            _new_output(
                _lot(o.lot), o.material, _new_quantity(q.value, q.unit), mpp, o.custody, o.recycled, assay, battery
            )
        )
    y = w.yield_
    if y is UNSET or (type(y) is dict and not y):  # absent, or {}: 1 (left out of the body, as 1 is)
        y = 1.0
    elif isinstance(y, dict):
        safe = safe and all(map(_safe, y.values()))
    elif not _safe(y):
        safe = False
    sh = w.shipment
    shipment = None
    if sh is not None:
        if sh.destination_country not in _COUNTRIES:
            raise _Refused
        shipment = _new_shipment(
            _site(sh.to_site), sh.destination_country, sh.document, None if sh.to_owner is None else _did(sh.to_owner)
        )
    r = w.receipt
    receipt = None if r is None else _new_receipt(_did(r.from_owner), _lot(r.from_lot), r.document)
    st = w.status
    corrects = None if w.corrects is None else _new_str(EventId, _lot(w.corrects))
    void = w.void is True
    eid = _new_str(EventId, _lot(w.id))
    owner = _did(w.owner)
    site = _site(w.site)
    text = None
    if body and safe:
        # normalised to what event_to_json writes, then encoded
        w.at = _isoformat(w.at, at)
        if not w.inputs:
            w.inputs = None
        if not w.outputs:
            w.outputs = None
        w.void = UNSET if corrects is None else void
        if y == 1.0:
            w.yield_ = UNSET
        text = _ENCODER.encode(w).decode()
    ev = _new_event(
        eid,
        w.kind,
        owner,
        at,
        site,
        tuple(inputs),
        tuple(outputs),
        y,
        shipment,
        receipt,
        None if st is None else _lot(st.lot),
        None if st is None else st.value,
        corrects,
        void,
        w.reason,
        catalogue,
        text,
    )
    _check_shape(ev, "event")
    return ev


def event_from_object(raw: Any, catalogue: Catalogue = CATALOGUE) -> Event:
    """The fast pass over an already parsed JSON value (a dict); raises (anything) where the
    strict pass must look at it."""
    return event_from_wire(_convert(raw, EventWire), catalogue)


def decode_event_stream(raw: bytes, catalogue: Catalogue = CATALOGUE) -> list[Event] | None:
    """The events of a request body (a JSON array, or JSON Lines) decoded from its bytes, or
    None when anything in it needs the strict path (which then reports it, naming the field and
    the rule, or accepts it). The cyclic garbage collector is paused meanwhile, as while
    recording (``service._gc_paused``): nothing decoded is in a cycle, and a body of thousands
    of events would otherwise have the growing heap scanned again and again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        if raw.lstrip()[:1] == b"[":
            wires = _ARRAY.decode(raw)
        else:
            wires = [_LINE.decode(line) for line in raw.splitlines() if line.strip()]
        if not wires:
            return None
        return [event_from_wire(w, catalogue) for w in wires]
    except Exception:  # the strict path reports it
        return None
    finally:
        if was_enabled:
            gc.enable()


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """A JSON Schema with its local ``#/$defs/...`` references replaced by their definitions
    (the event structs are not recursive), so it stands alone inside the OpenAPI document."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def openapi_request_body() -> dict[str, Any]:
    """The OpenAPI request body of ``POST /v1/ledger/events``, generated from the structs: a
    JSON array of events, or JSON Lines (one event per line)."""
    (event,), defs = msgspec.json.schema_components([EventWire])
    event = _inline(event, defs)
    return {
        "required": True,
        "description": "custody events (docs/ledger-events.md): a JSON array, or JSON Lines (one event per line)",
        "content": {
            "application/json": {"schema": {"type": "array", "items": event}},
            "application/jsonl": {"schema": event},
        },
    }
