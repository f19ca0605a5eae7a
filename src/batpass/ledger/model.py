"""The material ledger's pure model: lots, custody events and the invariants checked when an event
is recorded.

Sources: Regulation (EU) 2023/1542 Art. 8 (recycled content per element, pre-/post-consumer),
Art. 47-52 and Annex X (due-diligence raw materials); ISO 22095:2020 §3.3 (chain-of-custody
models); docs/architecture.md "Flows", flow 1 (events, mass conservation per element, no overdrawn lot).

Invariants enforced by :func:`apply_event` (each violation names the rule id below):

- ``ledger.lot.balance`` — no lot gives out more than it holds ("lot X holds 120.0 kg, event
  takes 130.0 kg").
- ``ledger.mass.element`` — per element, Σ outputs ≤ Σ inputs × declared yield, within
  :data:`MASS_TOLERANCE_REL` (relative) plus :data:`MASS_TOLERANCE_ABS_KG`.
- ``ledger.unit.declared-mass`` — units convert only through declared masses: mass units (kg, t,
  g) convert among themselves; pieces convert to mass only through the lot's declared mass per
  piece.
- ``ledger.append-only`` — events are never edited: a correction is a new event naming the
  corrected one (``corrects``); a voiding correction is allowed only while the corrected event's
  outputs are untouched.
- ``ledger.owner.partition`` — an event touches only lots of its own owner (the Ouranos hub keeps
  many operators' ledgers in one database).

This module is pure: no SQL, HTTP or clock.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from json.encoder import encode_basestring
from typing import Any, Final, Protocol, Self, TypeVar

from batpass.core.countries import ISO3166_ALPHA2
from batpass.core.errors import Conflict, InvalidInput, NotFound
from batpass.core.summary import UpstreamSummary
from batpass.ledger._fastinit import twin
from batpass.ledger._materials import CATALOGUE, ELEMENTS, MATERIALS, Catalogue, Element, Material, material
from batpass.ledger.errors import LotOverdrawn, MassBalanceViolation, UnitMismatch

__all__ = [
    "MASS_TOLERANCE_ABS_KG",
    "MASS_TOLERANCE_REL",
    "PASSPORT_STATUSES",
    "BatteryInfo",
    "CustodyModel",
    "CustomerLot",
    "Edge",
    "Effect",
    "Event",
    "EventId",
    "EventKind",
    "InputRef",
    "LedgerView",
    "Lot",
    "LotId",
    "OutputSpec",
    "Quantity",
    "Receipt",
    "ReceivedSummary",
    "RecycledOrigin",
    "Shipment",
    "Site",
    "SupplierLot",
    "Unit",
    "apply_event",
    "parse_event",
]

#: relative tolerance of the per-element balance (assays and rounding of declared masses)
MASS_TOLERANCE_REL = 1e-3
#: absolute tolerance of the per-element balance, in kg (one milligram)
MASS_TOLERANCE_ABS_KG = 1e-6
#: float noise allowed when a lot is drawn down to exactly zero
_BALANCE_EPS = 1e-9

#: battery statuses, Regulation (EU) 2023/1542 Art. 77, Annex XIII point 4(c)
PASSPORT_STATUSES = frozenset({"original", "re-used", "repurposed", "remanufactured", "waste"})

_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/\-]{0,127}")
_OWNER_RE = re.compile(r"did:[a-z0-9]+:[A-Za-z0-9._:%\-]+")


class _Id(str):
    kind = "identifier"

    def __new__(cls, value: object, *, field: str | None = None) -> Self:
        if isinstance(value, cls):
            return value
        if not isinstance(value, str) or not _ID_RE.fullmatch(value):
            raise InvalidInput(
                f"{value!r} is not a valid {cls.kind}: 1-128 characters of letters, digits and ._:/-",
                field=field or cls.kind,
                rule="ledger.id.syntax",
                value=value,
            )
        return super().__new__(cls, value)


class LotId(_Id):
    """Identifier of a lot, unique within its owner's partition (UUIDv7 text recommended)."""

    kind = "lot id"


class EventId(_Id):
    """Identifier of an event; replays of the same id are idempotent."""

    kind = "event id"


class EventKind(StrEnum):
    EXTRACTION = "extraction"
    TRANSFORMATION = "transformation"
    SHIPMENT = "shipment"
    RECEIPT = "receipt"
    ASSEMBLY = "assembly"
    STATUS_CHANGE = "status_change"
    COLLECTION = "collection"
    RECYCLING = "recycling"
    RECOVERY = "recovery"
    CORRECTION = "correction"


class CustodyModel(StrEnum):
    """ISO 22095:2020 §3.3.1-3.3.5, strongest physical link first."""

    IDENTITY_PRESERVED = "identity_preserved"
    SEGREGATED = "segregated"
    CONTROLLED_BLENDING = "controlled_blending"
    MASS_BALANCE = "mass_balance"
    BOOK_AND_CLAIM = "book_and_claim"

    @property
    def strength(self) -> int:
        return _STRENGTH[self]


_CUSTODY_ORDER: tuple[CustodyModel, ...] = tuple(CustodyModel)
#: position in :data:`_CUSTODY_ORDER` (0 is the strongest), as a table for the record path
_STRENGTH: dict[CustodyModel, int] = {m: i for i, m in enumerate(_CUSTODY_ORDER)}


class RecycledOrigin(StrEnum):
    """Art. 8: recovered from battery manufacturing waste (pre-consumer) or post-consumer waste;
    ``run_around`` is scrap reused inside the same process, which does not count (docs/rules.md "Recycled content")."""

    PRE_CONSUMER = "pre_consumer"
    POST_CONSUMER = "post_consumer"
    RUN_AROUND = "run_around"


class Unit(StrEnum):
    KG = "kg"
    T = "t"
    G = "g"
    PIECE = "piece"


_TO_KG = {Unit.KG: 1.0, Unit.T: 1000.0, Unit.G: 0.001}

# The enum members the checks compare with, as module constants (the same objects): a member
# read off its class goes through ``EnumType.__getattr__``, a Python-level call about ten times
# a global's read, and bulk ingest compares kinds and units a few dozen times per event.
_EXTRACTION: Final = EventKind.EXTRACTION
_TRANSFORMATION: Final = EventKind.TRANSFORMATION
_SHIPMENT: Final = EventKind.SHIPMENT
_RECEIPT: Final = EventKind.RECEIPT
_ASSEMBLY: Final = EventKind.ASSEMBLY
_STATUS_CHANGE: Final = EventKind.STATUS_CHANGE
_COLLECTION: Final = EventKind.COLLECTION
_RECYCLING: Final = EventKind.RECYCLING
_RECOVERY: Final = EventKind.RECOVERY
_CORRECTION: Final = EventKind.CORRECTION
_PIECE: Final = Unit.PIECE
_IDENTITY_PRESERVED: Final = CustodyModel.IDENTITY_PRESERVED


@dataclass(frozen=True, slots=True)
class Quantity:
    value: float
    unit: Unit

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit.value}"


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    country: str


@dataclass(frozen=True, slots=True)
class BatteryInfo:
    """What the ledger keeps about a battery lot: its identifier (GS1 Digital Link URI), model,
    chemistry, rated energy and plant; Art. 8 reports per model, year and plant."""

    id: str
    model: str
    chemistry: str
    capacity_kwh: float
    category: str = "ev"


@dataclass(frozen=True, slots=True)
class InputRef:
    lot: LotId
    quantity: Quantity


@dataclass(frozen=True, slots=True)
class OutputSpec:
    lot: LotId
    material: str
    quantity: Quantity
    mass_per_piece_kg: float | None = None
    custody: CustodyModel | None = None
    recycled: RecycledOrigin | None = None
    assay: Mapping[Element, float] | None = None
    battery: BatteryInfo | None = None


@dataclass(frozen=True, slots=True)
class Shipment:
    to_site: Site
    destination_country: str
    document: str
    to_owner: str | None = None  # None: a move between the owner's own sites


@dataclass(frozen=True, slots=True)
class Receipt:
    from_owner: str
    from_lot: LotId
    document: str


@dataclass(frozen=True, slots=True)
class Event:
    """One custody event as recorded (the wire form is documented in docs/ledger-events.md)."""

    id: EventId
    kind: EventKind
    owner: str
    at: _dt.datetime
    site: Site
    inputs: tuple[InputRef, ...] = ()
    outputs: tuple[OutputSpec, ...] = ()
    yield_: float | Mapping[Element, float] = 1.0
    shipment: Shipment | None = None
    receipt: Receipt | None = None
    status_lot: LotId | None = None
    status: str | None = None
    corrects: EventId | None = None
    void: bool = False
    reason: str | None = None
    #: the material catalogue the event is checked with (its digest is stored beside it)
    catalogue: Catalogue = CATALOGUE
    #: its canonical body (:func:`event_body`) when the decoder wrote it (batpass.ledger._wire)
    body: str | None = field(default=None, compare=False, repr=False)

    def yield_for(self, el: Element) -> float:
        if isinstance(self.yield_, float):
            return self.yield_
        return self.yield_.get(el, 1.0)


@dataclass
class Lot:
    """A lot as the ledger holds it. ``remaining_kg`` is what it can still give out;
    ``composition`` is kg of each tracked element per kg of lot.

    Compiled (batpass._compiled), an extension type whose fields are declared in ``model.pxd``
    (the flags C ints, ``composition`` a dict, the rest Python objects, so that a changed row's
    value of the wrong type still reaches the checks that report it), read and written by the
    ingest modules as struct members; no ``slots=True`` here, which the compiled dataclass takes
    from its declarations instead."""

    owner: str
    id: LotId
    material: str
    unit: Unit
    quantity: float
    mass_kg: float
    remaining_kg: float
    mass_per_piece_kg: float | None
    site: str
    country: str
    custody: CustodyModel
    recycled: RecycledOrigin | None
    composition: dict[Element, float]
    produced_at: _dt.datetime
    event_id: EventId
    kind: EventKind
    status: str | None = None
    battery: BatteryInfo | None = None
    held: bool = True
    voided: bool = False
    profile: Any = None  # the precomputed origin profile (ledger._profile), filled by the service
    seq: int = 0  # sequence number of the event that produced it (orders lots topologically)

    @property
    def is_active_material(self) -> bool:
        m = MATERIALS.get(self.material) or material(self.material)
        return bool(m and m.active_material)

    def element_kg(self, el: Element, mass_kg: float | None = None) -> float:
        return (self.mass_kg if mass_kg is None else mass_kg) * self.composition.get(el, 0.0)


@dataclass(frozen=True, slots=True)
class Edge:
    """``parent`` gave ``input_kg`` to the event that produced ``child`` (same owner unless the
    edge is a receipt naming the supplier's dispatched lot)."""

    child: LotId
    parent_owner: str
    parent: LotId
    event_id: EventId
    input_kg: float


_object_new = object.__new__
_EdgeTwin = twin(Edge)  # an edge per parent of bulk ingest, built as its twin (ledger._fastinit)


def _new_edge(child: LotId, parent_owner: str, parent: LotId, event_id: EventId, input_kg: float) -> Edge:
    """``Edge(child, parent_owner, parent, event_id, input_kg)``."""
    e: Any = _object_new(_EdgeTwin)
    e.child = child
    e.parent_owner = parent_owner
    e.parent = parent
    e.event_id = event_id
    e.input_kg = input_kg
    e.__class__ = Edge
    return e  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierLot:
    """A lot its owner received from another owner: ``lot`` is the owner's receipt lot,
    ``supplier`` the owner (DID) that shipped it and ``supplier_lot`` the supplier's dispatched
    lot named in the receipt (:meth:`LedgerService.suppliers_of`)."""

    lot: LotId
    supplier: str
    supplier_lot: LotId


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerLot:
    """A lot its owner shipped to another owner: ``lot`` is the shipment's output lot,
    ``customer`` the owner (DID) it was shipped to (:meth:`LedgerService.customers_of`)."""

    lot: LotId
    customer: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedSummary:
    """A supplier's signed upstream summary its receiver holds for one supplier lot: the issuer,
    the compact JWS as received and the summary it carries
    (:meth:`LedgerService.received_summaries`)."""

    issuer: str
    jws: str
    summary: UpstreamSummary


@dataclass
class Effect:
    """What recording one event changes: new lots, draw-downs, graph edges and flags."""

    new_lots: list[Lot] = field(default_factory=list)
    debits: dict[LotId, float] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    parents: dict[LotId, list[tuple[Lot, float]]] = field(default_factory=dict)
    status: dict[LotId, str] = field(default_factory=dict)
    released: list[LotId] = field(default_factory=list)  # shipped to another owner
    voided: list[LotId] = field(default_factory=list)
    credits: dict[LotId, float] = field(default_factory=dict)  # returned by a voiding correction


# Bulk ingest builds an Effect per event and a Lot per output, by keyword through ``__init__``
# otherwise (interpreted Python for a plain dataclass): these two allocate the instance without
# it (``cls.__new__``; compiled, both are extension types, model.pxd) and set the same fields, in
# field order. The instances are the dataclasses' own (equal, hashed and printed alike);
# ``Lot(...)`` and ``Effect()`` stay the way to build them anywhere else.


def _make_effect() -> Effect:
    """``Effect()``."""
    eff: Effect = Effect.__new__(Effect)
    eff.new_lots = []
    eff.debits = {}
    eff.edges = []
    eff.parents = {}
    eff.status = {}
    eff.released = []
    eff.voided = []
    eff.credits = {}
    return eff


def _make_lot(
    owner: str,
    id: LotId,
    material: str,
    unit: Unit,
    quantity: float,
    mass_kg: float,
    mass_per_piece_kg: float | None,
    site: str,
    country: str,
    custody: CustodyModel,
    recycled: RecycledOrigin | None,
    composition: dict[Element, float],
    produced_at: _dt.datetime,
    event_id: EventId,
    kind: EventKind,
    status: str | None,
    battery: BatteryInfo | None,
) -> Lot:
    """``Lot(...)`` of a new lot: ``remaining_kg`` its mass, the later fields their defaults."""
    lot: Lot = Lot.__new__(Lot)
    lot.owner = owner
    lot.id = id
    lot.material = material
    lot.unit = unit
    lot.quantity = quantity
    lot.mass_kg = mass_kg
    lot.remaining_kg = mass_kg
    lot.mass_per_piece_kg = mass_per_piece_kg
    lot.site = site
    lot.country = country
    lot.custody = custody
    lot.recycled = recycled
    lot.composition = composition
    lot.produced_at = produced_at
    lot.event_id = event_id
    lot.kind = kind
    lot.status = status
    lot.battery = battery
    lot.held = True
    lot.voided = False
    lot.profile = None
    lot.seq = 0
    return lot


class LedgerView(Protocol):
    """What :func:`apply_event` reads: the owner's lots (as already changed by earlier events of
    the same batch) and the effect of an earlier event (for corrections)."""

    def lot(self, owner: str, lot_id: LotId) -> Lot | None: ...

    def event_flows(self, owner: str, event_id: EventId) -> tuple[list[tuple[LotId, float]], list[LotId]] | None:
        """(inputs with kg taken, output lot ids) of a recorded event, or None."""
        ...


# --------------------------------------------------------------------------------------------
# parsing (strict: unknown keys are errors, every message names the field and the rule)
# --------------------------------------------------------------------------------------------

_EVENT_KEYS = frozenset(
    {
        "id",
        "kind",
        "owner",
        "at",
        "site",
        "inputs",
        "outputs",
        "yield",
        "shipment",
        "receipt",
        "status",
        "corrects",
        "void",
        "reason",
    }
)
_OUTPUT_KEYS = frozenset(
    {
        "lot",
        "material",
        "quantity",
        "mass_per_piece_kg",
        "custody",
        "recycled",
        "assay",
        "battery",
    }
)


def _req(d: Mapping[str, Any], key: str, path: str) -> Any:
    try:
        return d[key]
    except KeyError:
        raise InvalidInput(f"{path}.{key} is required", field=f"{path}.{key}", rule="ledger.event.schema") from None


def _obj(v: Any, path: str, allowed: frozenset[str] | None = None) -> Mapping[str, Any]:
    if not isinstance(v, dict):
        raise InvalidInput(f"{path} must be an object", field=path, rule="ledger.event.schema", value=v)
    if allowed is not None:
        extra = v.keys() - allowed
        if extra:
            k = sorted(extra)[0]
            raise InvalidInput(f"{path}.{k} is not a known field", field=f"{path}.{k}", rule="ledger.event.schema")
    return v


def _list(v: Any, path: str) -> list[Any]:
    """An optional array: absent or empty-looking (``null``, ``[]``) is none; anything else must be a list."""
    if not v:
        return []
    if not isinstance(v, list):
        raise InvalidInput(f"{path} must be an array", field=path, rule="ledger.event.schema", value=v)
    return v


def _str(v: Any, path: str, *, max_len: int = 512) -> str:
    if not isinstance(v, str) or not v or len(v) > max_len:
        raise InvalidInput(
            f"{path} must be a non-empty string of at most {max_len} characters",
            field=path,
            rule="ledger.event.schema",
            value=v,
        )
    return v


def _num(v: Any, path: str, *, positive: bool = True) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InvalidInput(f"{path} must be a finite number", field=path, rule="ledger.event.schema", value=v)
    f = float(v)
    if positive and f <= 0:
        raise InvalidInput(f"{path} must be > 0, got {f:g}", field=path, rule="ledger.quantity.positive", value=v)
    return f


def _country(v: Any, path: str) -> str:
    if not isinstance(v, str) or v not in ISO3166_ALPHA2:
        raise InvalidInput(
            f"{path} must be an ISO 3166-1 alpha-2 code, got {v!r}", field=path, rule="ISO 3166-1 alpha-2", value=v
        )
    return v


def _owner(v: Any, path: str) -> str:
    if not isinstance(v, str) or not _OWNER_RE.fullmatch(v):
        raise InvalidInput(
            f"{path} must be the owner's DID, got {v!r}", field=path, rule="ledger.owner.did (DID Core 3.1)", value=v
        )
    return v


def _site(v: Any, path: str) -> Site:
    d = _obj(v, path, frozenset({"id", "country"}))
    return Site(
        _str(_req(d, "id", path), f"{path}.id", max_len=128), _country(_req(d, "country", path), f"{path}.country")
    )


def _quantity(v: Any, path: str) -> Quantity:
    d = _obj(v, path, frozenset({"value", "unit"}))
    value = _num(_req(d, "value", path), f"{path}.value")
    u = _req(d, "unit", path)
    try:
        unit = Unit(u)
    except ValueError:
        raise InvalidInput(
            f"{path}.unit must be one of kg, t, g, piece, got {u!r}",
            field=f"{path}.unit",
            rule="ledger.unit.known",
            value=u,
        ) from None
    return Quantity(value, unit)


_E = TypeVar("_E", bound=StrEnum)


def _enum(cls: type[_E], v: Any, path: str) -> _E:
    try:
        return cls(v)
    except ValueError:
        allowed = ", ".join(m.value for m in cls)
        raise InvalidInput(
            f"{path} must be one of {allowed}, got {v!r}", field=path, rule="ledger.event.schema", value=v
        ) from None


def _fractions(v: Any, path: str, *, sums_to_one: bool = True) -> dict[Element, float]:
    d = _obj(v, path)
    out: dict[Element, float] = {}
    for k, x in d.items():
        el = _enum(Element, k, f"{path} key")
        f = _num(x, f"{path}.{k}", positive=False)
        if not 0.0 <= f <= 1.0:
            raise InvalidInput(
                f"{path}.{k} must be a mass fraction in [0, 1], got {f:g}",
                field=f"{path}.{k}",
                rule="ledger.assay.fraction",
                value=x,
            )
        out[el] = f
    if sums_to_one and sum(out.values()) > 1.0 + 1e-9:
        raise InvalidInput(
            f"{path} fractions add up to {sum(out.values()):.6g} > 1", field=path, rule="ledger.assay.fraction"
        )
    return out


def parse_event(raw: Any, *, path: str = "event", catalogue: Catalogue = CATALOGUE) -> Event:
    """Parse one event from its JSON form (docs/ledger-events.md), strictly.

    Bulk ingest parses hundreds of thousands of events, so a fast pass runs first: msgspec's
    strict structs and the checks they cannot express (``batpass.ledger._wire``), which also
    write the event's canonical body. When it finds anything wrong, the strict pass below runs
    again on the event and raises the error with its full field path and rule. Materials are
    checked against ``catalogue`` (the node's effective one; a replay passes the one the event
    was checked with)."""
    try:
        return _wire.event_from_object(raw, catalogue)
    except Exception:  # the strict pass below raises the precise error
        pass
    return _parse_event_strict(raw, path, catalogue)


class _Reject(Exception):
    """The hand-written body writer met a value the reference encoder must write."""


def _parse_event_strict(raw: Any, path: str, catalogue: Catalogue = CATALOGUE) -> Event:
    d = _obj(raw, path, _EVENT_KEYS)
    eid = EventId(_req(d, "id", path), field=f"{path}.id")
    kind = _enum(EventKind, _req(d, "kind", path), f"{path}.kind")
    owner = _owner(_req(d, "owner", path), f"{path}.owner")
    at_raw = _req(d, "at", path)
    try:
        at = _dt.datetime.fromisoformat(at_raw) if isinstance(at_raw, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise InvalidInput(
            f"{path}.at must be an RFC 3339 timestamp with a zone, got {at_raw!r}",
            field=f"{path}.at",
            rule="RFC 3339",
            value=at_raw,
        )
    site = _site(_req(d, "site", path), f"{path}.site")
    inputs: list[InputRef] = []
    for i, item in enumerate(_list(d.get("inputs"), f"{path}.inputs")):
        p = f"{path}.inputs[{i}]"
        o = _obj(item, p, frozenset({"lot", "quantity"}))
        inputs.append(
            InputRef(LotId(_req(o, "lot", p), field=f"{p}.lot"), _quantity(_req(o, "quantity", p), f"{p}.quantity"))
        )
    outputs: list[OutputSpec] = []
    for i, item in enumerate(_list(d.get("outputs"), f"{path}.outputs")):
        p = f"{path}.outputs[{i}]"
        o = _obj(item, p, _OUTPUT_KEYS)
        mat = _str(_req(o, "material", p), f"{p}.material", max_len=64)
        if mat not in catalogue.materials:
            raise InvalidInput(
                f"{p}.material {mat!r} is not a known material in catalogue {catalogue.label} ({catalogue.digest})",
                field=f"{p}.material",
                rule="ledger.material.known",
                value=mat,
                catalogue=catalogue.label,
            )
        battery = None
        if o.get("battery") is not None:
            bp = f"{p}.battery"
            b = _obj(o["battery"], bp, frozenset({"id", "model", "chemistry", "capacity_kwh", "category"}))
            battery = BatteryInfo(
                _str(_req(b, "id", bp), f"{bp}.id"),
                _str(_req(b, "model", bp), f"{bp}.model", max_len=128),
                _str(_req(b, "chemistry", bp), f"{bp}.chemistry", max_len=32),
                _num(_req(b, "capacity_kwh", bp), f"{bp}.capacity_kwh"),
                _str(b.get("category", "ev"), f"{bp}.category", max_len=32),
            )
        outputs.append(
            OutputSpec(
                lot=LotId(_req(o, "lot", p), field=f"{p}.lot"),
                material=mat,
                quantity=_quantity(_req(o, "quantity", p), f"{p}.quantity"),
                mass_per_piece_kg=_num(o["mass_per_piece_kg"], f"{p}.mass_per_piece_kg")
                if o.get("mass_per_piece_kg") is not None
                else None,
                custody=_enum(CustodyModel, o["custody"], f"{p}.custody") if o.get("custody") is not None else None,
                recycled=_enum(RecycledOrigin, o["recycled"], f"{p}.recycled")
                if o.get("recycled") is not None
                else None,
                assay=_fractions(o["assay"], f"{p}.assay") if o.get("assay") is not None else None,
                battery=battery,
            )
        )
    y_raw = d.get("yield", 1.0)
    yield_: float | dict[Element, float]
    if isinstance(y_raw, dict):
        yield_ = _fractions(y_raw, f"{path}.yield", sums_to_one=False) if y_raw else 1.0
        if isinstance(yield_, dict) and any(v <= 0 for v in yield_.values()):
            raise InvalidInput(
                f"{path}.yield values must be in (0, 1]", field=f"{path}.yield", rule="ledger.yield.range"
            )
    else:
        yield_ = _num(y_raw, f"{path}.yield")
        if yield_ > 1.0:
            raise InvalidInput(
                f"{path}.yield must be in (0, 1], got {yield_:g}",
                field=f"{path}.yield",
                rule="ledger.yield.range",
                value=y_raw,
            )
    shipment = None
    if d.get("shipment") is not None:
        sp = f"{path}.shipment"
        s = _obj(d["shipment"], sp, frozenset({"to_site", "destination_country", "document", "to_owner"}))
        shipment = Shipment(
            _site(_req(s, "to_site", sp), f"{sp}.to_site"),
            _country(_req(s, "destination_country", sp), f"{sp}.destination_country"),
            _str(_req(s, "document", sp), f"{sp}.document"),
            _owner(s["to_owner"], f"{sp}.to_owner") if s.get("to_owner") is not None else None,
        )
    receipt = None
    if d.get("receipt") is not None:
        rp = f"{path}.receipt"
        r = _obj(d["receipt"], rp, frozenset({"from_owner", "from_lot", "document"}))
        receipt = Receipt(
            _owner(_req(r, "from_owner", rp), f"{rp}.from_owner"),
            LotId(_req(r, "from_lot", rp), field=f"{rp}.from_lot"),
            _str(_req(r, "document", rp), f"{rp}.document"),
        )
    status_lot = status = None
    if d.get("status") is not None:
        sp = f"{path}.status"
        s = _obj(d["status"], sp, frozenset({"lot", "value"}))
        status_lot = LotId(_req(s, "lot", sp), field=f"{sp}.lot")
        status = _str(_req(s, "value", sp), f"{sp}.value", max_len=32)
        if status not in PASSPORT_STATUSES:
            raise InvalidInput(
                f"{sp}.value must be one of {', '.join(sorted(PASSPORT_STATUSES))}, got {status!r}",
                field=f"{sp}.value",
                rule="Annex XIII battery status",
                value=status,
            )
    corrects = EventId(d["corrects"], field=f"{path}.corrects") if d.get("corrects") is not None else None
    void = d.get("void", False)
    if not isinstance(void, bool):
        raise InvalidInput(f"{path}.void must be a boolean", field=f"{path}.void", rule="ledger.event.schema")
    reason = _str(d["reason"], f"{path}.reason", max_len=2000) if d.get("reason") is not None else None
    ev = Event(
        eid,
        kind,
        owner,
        at,
        site,
        tuple(inputs),
        tuple(outputs),
        yield_,
        shipment,
        receipt,
        status_lot,
        status,
        corrects,
        void,
        reason,
        catalogue,
    )
    _check_shape(ev, path)
    return ev


_NEEDS_INPUTS = {
    _TRANSFORMATION,
    _SHIPMENT,
    _ASSEMBLY,
    _COLLECTION,
    _RECYCLING,
    _RECOVERY,
}
_NEEDS_OUTPUTS = _NEEDS_INPUTS | {_EXTRACTION, _RECEIPT}


#: per kind, the parts an event must carry (inputs, outputs, shipment, receipt, status,
#: corrects) and must not carry otherwise: an event matching it passes the checks of the parts
_PARTS = {
    k: (
        k in _NEEDS_INPUTS,
        k in _NEEDS_OUTPUTS,
        k is _SHIPMENT,
        k is _RECEIPT,
        k is _STATUS_CHANGE,
        k is _CORRECTION,
    )
    for k in EventKind
}


def _check_shape(ev: Event, path: str) -> None:
    """Which parts each kind of event must (and must not) carry."""
    k = ev.kind
    if (
        _PARTS[k]
        != (
            bool(ev.inputs),
            bool(ev.outputs),
            ev.shipment is not None,
            ev.receipt is not None,
            ev.status is not None,
            ev.corrects is not None,
        )
        or (k is _CORRECTION and not ev.reason)
        or ((k is _SHIPMENT or k is _RECEIPT) and len(ev.outputs) != 1)
    ):
        _check_parts(ev, path)  # raises, naming the first part out of place
    _check_outputs(ev, path)


def _check_parts(ev: Event, path: str) -> None:
    k = ev.kind
    if k in _NEEDS_INPUTS and not ev.inputs:
        raise InvalidInput(
            f"{path}: a {k.value} event needs inputs", field=f"{path}.inputs", rule=f"ledger.{k.value}.inputs"
        )
    if k not in _NEEDS_INPUTS and ev.inputs:
        raise InvalidInput(
            f"{path}: a {k.value} event takes no inputs", field=f"{path}.inputs", rule=f"ledger.{k.value}.inputs"
        )
    if k in _NEEDS_OUTPUTS and not ev.outputs:
        raise InvalidInput(
            f"{path}: a {k.value} event needs outputs", field=f"{path}.outputs", rule=f"ledger.{k.value}.outputs"
        )
    if k not in _NEEDS_OUTPUTS and ev.outputs:
        raise InvalidInput(
            f"{path}: a {k.value} event has no outputs", field=f"{path}.outputs", rule=f"ledger.{k.value}.outputs"
        )
    if (k is _SHIPMENT) != (ev.shipment is not None):
        raise InvalidInput(
            f"{path}.shipment is required on shipment events and only there",
            field=f"{path}.shipment",
            rule="ledger.shipment.document",
        )
    if (k is _RECEIPT) != (ev.receipt is not None):
        raise InvalidInput(
            f"{path}.receipt is required on receipt events and only there",
            field=f"{path}.receipt",
            rule="ledger.receipt.document",
        )
    if (k is _STATUS_CHANGE) != (ev.status is not None):
        raise InvalidInput(
            f"{path}.status is required on status_change events and only there",
            field=f"{path}.status",
            rule="ledger.status_change.status",
        )
    if (k is _CORRECTION) != (ev.corrects is not None):
        raise InvalidInput(
            f"{path}.corrects names the corrected event, on correction events only",
            field=f"{path}.corrects",
            rule="ledger.append-only",
        )
    if k is _CORRECTION and not ev.reason:
        raise InvalidInput(
            f"{path}.reason is required on a correction", field=f"{path}.reason", rule="ledger.append-only"
        )
    if k is _SHIPMENT and len(ev.outputs) != 1:
        raise InvalidInput(
            f"{path}: a shipment has exactly one output lot (the lot at its destination)",
            field=f"{path}.outputs",
            rule="ledger.shipment.outputs",
        )
    if k is _RECEIPT and len(ev.outputs) != 1:
        raise InvalidInput(
            f"{path}: a receipt has exactly one output lot", field=f"{path}.outputs", rule="ledger.receipt.outputs"
        )


def _check_outputs(ev: Event, path: str) -> None:
    k = ev.kind
    seen: set[str] = set()
    own_receipt = k is _RECEIPT and ev.receipt is not None and ev.receipt.from_owner == ev.owner
    for i, o in enumerate(ev.outputs):
        # field paths are built only when a check fails: bulk ingest runs this on every event
        if o.lot in seen:
            p = f"{path}.outputs[{i}]"
            raise InvalidInput(f"{p}.lot {o.lot} appears twice", field=f"{p}.lot", rule="ledger.lot.unique")
        seen.add(o.lot)
        if o.recycled is not None and k is not _RECOVERY and k is not _RECEIPT:
            p = f"{path}.outputs[{i}]"
            raise InvalidInput(
                f"{p}.recycled is declared only on recovery (or receipt) outputs",
                field=f"{p}.recycled",
                rule="Art. 8 recycled origin",
            )
        if k is _RECOVERY and o.recycled is None:
            p = f"{path}.outputs[{i}]"
            raise InvalidInput(
                f"{p}.recycled (pre_consumer, post_consumer or run_around) is required on recovered material",
                field=f"{p}.recycled",
                rule="Art. 8 recycled origin",
            )
        mat = ev.catalogue.materials[o.material]
        _check_output_unit(mat, o, path, i)
        if mat.fractions is None and o.assay is None and (k is _EXTRACTION or k is _RECEIPT) and not own_receipt:
            p = f"{path}.outputs[{i}]"
            raise InvalidInput(
                f"{p}.assay is required: {o.material} has no fixed composition and this "
                f"{k.value} has no inputs to derive it from",
                field=f"{p}.assay",
                rule="ledger.assay.required",
            )
        if o.battery is not None and o.material != "battery" and o.material != "pack":
            p = f"{path}.outputs[{i}]"
            raise InvalidInput(
                f"{p}.battery is only for battery or pack lots", field=f"{p}.battery", rule="ledger.battery.material"
            )


def _check_output_unit(mat: Material, o: OutputSpec, path: str, i: int) -> None:
    unit = o.quantity.unit
    if mat.form == "piece":
        if unit is not _PIECE or o.mass_per_piece_kg is None:
            p = f"{path}.outputs[{i}]"
            raise UnitMismatch(
                f"{p}: {mat.code} is counted in pieces with a declared mass per piece "
                f"(quantity.unit 'piece' and mass_per_piece_kg), got {o.quantity}",
                field=f"{p}.quantity.unit",
                rule="ledger.unit.declared-mass",
                value=str(o.quantity),
            )
        if o.quantity.value != int(o.quantity.value):
            p = f"{path}.outputs[{i}]"
            raise UnitMismatch(
                f"{p}: pieces are whole, got {o.quantity}",
                field=f"{p}.quantity.value",
                rule="ledger.unit.declared-mass",
                value=o.quantity.value,
            )
    elif unit is _PIECE:
        p = f"{path}.outputs[{i}]"
        raise UnitMismatch(
            f"{p}: {mat.code} is a bulk material measured in kg, t or g, got {o.quantity}",
            field=f"{p}.quantity.unit",
            rule="ledger.unit.declared-mass",
            value=str(o.quantity),
        )


# --------------------------------------------------------------------------------------------
# the invariants
# --------------------------------------------------------------------------------------------


def _fmt(kg: float) -> str:
    return f"{kg:.6g} kg" if kg < 1e6 else f"{kg:,.1f} kg"


def _input_kg(lot: Lot, q: Quantity, field: str) -> float:
    """Convert a quantity taken from ``lot`` to kg, only through declared masses."""
    if q.unit is _PIECE:
        if lot.mass_per_piece_kg is None:
            raise UnitMismatch(
                f"lot {lot.id} is {lot.material} measured in {lot.unit.value}; a quantity in pieces converts to mass "
                "only through a declared mass per piece, and this lot declares none",
                field=field,
                rule="ledger.unit.declared-mass",
                value=str(q),
            )
        if q.value != int(q.value):
            raise UnitMismatch(
                f"pieces are whole, got {q}", field=field, rule="ledger.unit.declared-mass", value=q.value
            )
        return q.value * lot.mass_per_piece_kg
    return q.value * _TO_KG[q.unit]


def apply_event(ev: Event, view: LedgerView) -> Effect:
    """Check ``ev`` against the ledger as ``view`` shows it and return what it changes.

    Raises (nothing is changed): :class:`NotFound` for unknown lots or events,
    :class:`UnitMismatch`, :class:`LotOverdrawn`, :class:`MassBalanceViolation`,
    :class:`Conflict` for reused lot ids and lots no longer held.

    Bulk ingest runs this on every event, so field paths are built only when a check fails,
    the element tables hold only the elements present, and custody strength is a table look-up;
    every sum is taken in the same order as the plain formulas in the comments, so the floats
    (and the rejections) are those of the reference (tests/unit/ledger, "reference" testkit)."""
    eff = _make_effect()
    owner = ev.owner
    kind = ev.kind
    if kind is _CORRECTION:
        return _apply_correction(ev, view, eff)
    if kind is _STATUS_CHANGE:
        assert ev.status_lot is not None and ev.status is not None
        lot = _held_lot(view, owner, ev.status_lot, "event.status.lot")
        if lot.unit is not _PIECE:
            raise InvalidInput(
                f"lot {lot.id} is {lot.material}; a status applies to batteries (pieces)",
                field="event.status.lot",
                rule="Annex XIII battery status",
            )
        eff.status[lot.id] = ev.status
        return eff

    # inputs: resolve, convert, check balances (a lot listed twice is summed)
    taken: dict[LotId, float] = {}
    held: dict[LotId, Lot] = {}
    parents: list[tuple[Lot, float]] = []
    for i, inp in enumerate(ev.inputs):
        lot_or_none = view.lot(owner, inp.lot)
        if lot_or_none is None or lot_or_none.voided or not lot_or_none.held:
            _held_lot(view, owner, inp.lot, f"event.inputs[{i}].lot")  # raises, naming the field
        lot = lot_or_none  # type: ignore[assignment]
        q = inp.quantity
        kg = q.value * _TO_KG[q.unit] if q.unit is not _PIECE else _input_kg(lot, q, f"event.inputs[{i}].quantity")
        taken[lot.id] = taken.get(lot.id, 0.0) + kg
        held[lot.id] = lot
        parents.append((lot, kg))
    for lot_id, kg in taken.items():
        lot = held[lot_id]
        if kg > lot.remaining_kg * (1 + _BALANCE_EPS) + _BALANCE_EPS:
            raise LotOverdrawn(
                f"lot {lot_id} holds {_fmt(lot.remaining_kg)}, event {ev.id} takes {_fmt(kg)}",
                field="event.inputs",
                rule="ledger.lot.balance",
                lot=str(lot_id),
                holds_kg=lot.remaining_kg,
                takes_kg=kg,
            )
    # a receipt from the owner's own dispatched lot is an input like any other
    cross_receipt = False
    if ev.receipt is not None:
        if ev.receipt.from_owner == owner:
            src = view.lot(owner, ev.receipt.from_lot)
            if src is None:
                raise NotFound(
                    f"lot {ev.receipt.from_lot} of owner {owner} is not in the ledger",
                    rule="ledger.lot.known",
                    field="event.receipt.from_lot",
                )
            kg = _output_kg(ev.outputs[0])
            if src.remaining_kg + _BALANCE_EPS < kg * (1 - _BALANCE_EPS):
                raise LotOverdrawn(
                    f"lot {src.id} holds {_fmt(src.remaining_kg)}, event {ev.id} takes {_fmt(kg)}",
                    field="event.receipt.from_lot",
                    rule="ledger.lot.balance",
                )
            taken[src.id] = kg
            parents.append((src, kg))
        else:
            cross_receipt = True

    # input element masses: in_el[el] = Σ kg × fraction, over the parents in order. The element
    # tables hold only the elements present (an absent one is 0.0 and can neither give nor take).
    in_el: dict[Element, float] = {}
    weakest_in: CustodyModel | None = None
    for lot, kg in parents:
        for el, f in lot.composition.items():
            in_el[el] = in_el.get(el, 0.0) + kg * f
        if weakest_in is None or _STRENGTH[lot.custody] > _STRENGTH[weakest_in]:
            weakest_in = lot.custody

    # outputs: fixed, assayed, or derived from the inputs (a move keeps the input's composition)
    inherits = kind is _SHIPMENT or (ev.receipt is not None and not cross_receipt)
    outs: list[tuple[OutputSpec, float, Mapping[Element, float] | None]] = []
    fixed_el: dict[Element, float] = {}
    derived_mass = 0.0
    for i, o in enumerate(ev.outputs):
        if view.lot(owner, o.lot) is not None:
            raise Conflict(
                f"lot {o.lot} already exists in the ledger of {owner}",
                rule="ledger.lot.unique",
                field=f"event.outputs[{i}].lot",
            )
        mass = _output_kg(o)
        comp = o.assay if o.assay is not None else (None if inherits else ev.catalogue.materials[o.material].fractions)
        outs.append((o, mass, comp))
        if comp is None:
            derived_mass += mass
        else:
            for el, f in comp.items():
                fixed_el[el] = fixed_el.get(el, 0.0) + mass * f
    is_source = kind is _EXTRACTION or cross_receipt
    # available[el] = in_el[el] × the event's yield of el
    y = ev.yield_
    if isinstance(y, float):
        available = {el: m * y for el, m in in_el.items()}
    else:
        available = {el: m * y.get(el, 1.0) for el, m in in_el.items()}
    if kind is _SHIPMENT:
        src_mat = {lot.material for lot, _ in parents}
        if len(src_mat) != 1 or ev.outputs[0].material not in src_mat:
            raise InvalidInput(
                f"a shipment moves one material unchanged: inputs are {sorted(src_mat)}, output is "
                f"{ev.outputs[0].material}",
                field="event.outputs[0].material",
                rule="ledger.shipment.outputs",
            )
    derived_comp: dict[Element, float] = {}
    if derived_mass > 0:
        if is_source:
            raise InvalidInput(
                "a lot of variable composition needs an assay when nothing went into it",
                field="event.outputs",
                rule="ledger.assay.required",
            )
        p0 = parents[0] if len(parents) == 1 else None
        if (
            inherits
            and p0 is not None
            and p0[1] == derived_mass
            and not any(fixed_el.values())
            and ((y == 1.0 or not p0[0].composition) if isinstance(y, float) else _yields_one(y, p0[0].composition))
        ):
            # a whole-quantity move of one lot: the composition is the lot's own, exactly (the
            # division below would agree only to rounding, and the profile could not be shared)
            derived_comp = {el: min(1.0, f) for el, f in p0[0].composition.items() if f > 0}
        else:
            # what the inputs give beyond the fixed outputs, as fractions (in element order)
            for el in _in_order(available):
                rest = max(0.0, available[el] - fixed_el.get(el, 0.0))
                if rest > 0:
                    derived_comp[el] = min(1.0, rest / derived_mass)
        if sum(derived_comp.values()) > 1.0 + MASS_TOLERANCE_REL:
            raise MassBalanceViolation(
                f"event {ev.id}: the tracked elements the inputs give "
                f"({_fmt(sum(derived_comp.values()) * derived_mass)}) exceed the {_fmt(derived_mass)} declared "
                "for the outputs: declare the output mass, an assay or yields",
                field="event.outputs",
                rule="ledger.mass.element",
            )
    if not is_source:
        # per element: outputs (fixed + derived) ≤ available × (1 + relative) + absolute tolerance;
        # the first element (in element order) over it is reported
        out_el = fixed_el
        for el, f in derived_comp.items():
            out_el[el] = out_el.get(el, 0.0) + f * derived_mass
        for el in _in_order(out_el):
            allowed = available.get(el, 0.0)
            if out_el[el] > allowed * (1 + MASS_TOLERANCE_REL) + MASS_TOLERANCE_ABS_KG:
                raise MassBalanceViolation(
                    f"event {ev.id}: outputs hold {_fmt(out_el[el])} of {el.value}, inputs give "
                    f"{_fmt(in_el.get(el, 0.0))} × yield {ev.yield_for(el):g} = {_fmt(allowed)} "
                    f"(tolerance {MASS_TOLERANCE_REL:g} relative)",
                    field="event.outputs",
                    rule="ledger.mass.element",
                    element=el.value,
                    outputs_kg=out_el[el],
                    allowed_kg=allowed,
                )

    site = ev.shipment.to_site if ev.shipment is not None else ev.site
    released = ev.shipment is not None and ev.shipment.to_owner not in (None, owner)
    recycled_in: RecycledOrigin | None = None
    if kind is _SHIPMENT:
        recycled_in = parents[0][0].recycled if len({p.recycled for p, _ in parents}) == 1 else None
    default_custody = weakest_in if weakest_in is not None else _IDENTITY_PRESERVED
    new_lots = eff.new_lots
    edges = eff.edges
    eid = ev.id
    for o, mass, comp_map in outs:
        q = o.quantity
        lot = _make_lot(
            owner,
            o.lot,
            o.material,
            q.unit,
            q.value,
            mass,
            o.mass_per_piece_kg,
            site.id,
            site.country,
            o.custody or default_custody,
            o.recycled if o.recycled is not None else recycled_in,
            dict(comp_map) if comp_map is not None else derived_comp,
            ev.at,
            eid,
            kind,
            "original" if o.battery is not None else None,
            o.battery,
        )
        if released:
            lot.held = False
            lot.remaining_kg = 0.0
            eff.released.append(lot.id)
        new_lots.append(lot)
        eff.parents[lot.id] = parents
        for p, kg in parents:
            edges.append(_new_edge(lot.id, owner, p.id, eid, kg))
        if cross_receipt and ev.receipt is not None:
            edges.append(_new_edge(lot.id, ev.receipt.from_owner, ev.receipt.from_lot, eid, mass))
    eff.debits = taken
    return eff


_ELEMENT_INDEX: dict[Element, int] = {el: i for i, el in enumerate(ELEMENTS)}


def _yields_one(y: Mapping[Element, float], composition: Mapping[Element, float]) -> bool:
    """Whether the yield of every element of ``composition`` is 1 (a function of its own: compiled,
    :func:`apply_event` is a ``cpdef`` function, which cannot hold a generator)."""
    return all(y.get(el, 1.0) == 1.0 for el in composition)


def _in_order(elements: Mapping[Element, Any]) -> list[Element]:
    """The keys of an element table in :data:`ELEMENTS` order."""
    keys = list(elements)
    if len(keys) > 1:
        keys.sort(key=_ELEMENT_INDEX.__getitem__)
    return keys


def _output_kg(o: OutputSpec) -> float:
    if o.quantity.unit is _PIECE:
        assert o.mass_per_piece_kg is not None
        return o.quantity.value * o.mass_per_piece_kg
    return o.quantity.value * _TO_KG[o.quantity.unit]


def _held_lot(view: LedgerView, owner: str, lot_id: LotId, field: str) -> Lot:
    lot = view.lot(owner, lot_id)
    if lot is None:
        raise NotFound(f"lot {lot_id} is not in the ledger of {owner}", rule="ledger.lot.known", field=field)
    if lot.voided:
        raise Conflict(f"lot {lot_id} was voided by a correction", rule="ledger.append-only", field=field)
    if not lot.held:
        raise Conflict(
            f"lot {lot_id} left the custody of {owner} by shipment", rule="ledger.owner.partition", field=field
        )
    return lot


def _apply_correction(ev: Event, view: LedgerView, eff: Effect) -> Effect:
    assert ev.corrects is not None
    flows = view.event_flows(ev.owner, ev.corrects)
    if flows is None:
        raise NotFound(
            f"event {ev.corrects} is not in the ledger of {ev.owner}", rule="ledger.append-only", field="event.corrects"
        )
    if not ev.void:
        return eff  # an annotation: the corrected event stands, the record explains it
    inputs, outputs = flows
    for lot_id in outputs:
        lot = view.lot(ev.owner, lot_id)
        if lot is None or lot.voided:
            raise Conflict(f"event {ev.corrects} was already voided", rule="ledger.append-only", field="event.corrects")
        if lot.held and lot.remaining_kg < lot.mass_kg * (1 - _BALANCE_EPS):
            raise Conflict(
                f"event {ev.corrects} cannot be voided: its output lot {lot_id} has already given out "
                f"{_fmt(lot.mass_kg - lot.remaining_kg)}; correct the later events first",
                rule="ledger.append-only",
                field="event.corrects",
            )
        if not lot.held:
            raise Conflict(
                f"event {ev.corrects} cannot be voided: lot {lot_id} was shipped to another owner",
                rule="ledger.append-only",
                field="event.corrects",
            )
    eff.voided = list(outputs)
    for lot_id, kg in inputs:
        eff.credits[lot_id] = eff.credits.get(lot_id, 0.0) + kg
    return eff


def event_to_json(ev: Event) -> dict[str, Any]:
    """The wire form of ``ev`` (inverse of :func:`parse_event`)."""
    d: dict[str, Any] = {
        "id": str(ev.id),
        "kind": ev.kind.value,
        "owner": ev.owner,
        "at": ev.at.isoformat(),
        "site": {"id": ev.site.id, "country": ev.site.country},
    }
    if ev.inputs:
        d["inputs"] = [
            {"lot": str(i.lot), "quantity": {"value": i.quantity.value, "unit": i.quantity.unit.value}}
            for i in ev.inputs
        ]
    if ev.outputs:
        outs = []
        for o in ev.outputs:
            od: dict[str, Any] = {
                "lot": str(o.lot),
                "material": o.material,
                "quantity": {"value": o.quantity.value, "unit": o.quantity.unit.value},
            }
            if o.mass_per_piece_kg is not None:
                od["mass_per_piece_kg"] = o.mass_per_piece_kg
            if o.custody is not None:
                od["custody"] = o.custody.value
            if o.recycled is not None:
                od["recycled"] = o.recycled.value
            if o.assay is not None:
                od["assay"] = {k.value: v for k, v in o.assay.items()}
            if o.battery is not None:
                b = o.battery
                od["battery"] = {
                    "id": b.id,
                    "model": b.model,
                    "chemistry": b.chemistry,
                    "capacity_kwh": b.capacity_kwh,
                    "category": b.category,
                }
            outs.append(od)
        d["outputs"] = outs
    if ev.yield_ != 1.0:
        d["yield"] = ev.yield_ if isinstance(ev.yield_, float) else {k.value: v for k, v in ev.yield_.items()}
    if ev.shipment is not None:
        s = ev.shipment
        d["shipment"] = {
            "to_site": {"id": s.to_site.id, "country": s.to_site.country},
            "destination_country": s.destination_country,
            "document": s.document,
        }
        if s.to_owner is not None:
            d["shipment"]["to_owner"] = s.to_owner
    if ev.receipt is not None:
        d["receipt"] = {
            "from_owner": ev.receipt.from_owner,
            "from_lot": str(ev.receipt.from_lot),
            "document": ev.receipt.document,
        }
    if ev.status is not None:
        d["status"] = {"lot": str(ev.status_lot), "value": ev.status}
    if ev.corrects is not None:
        d["corrects"] = str(ev.corrects)
        d["void"] = ev.void
    if ev.reason is not None:
        d["reason"] = ev.reason
    return d


#: the stored, hashed text of an event: its wire JSON with sorted keys and no spaces (what
#: :func:`event_body` writes, faster)
canonical_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_js = encode_basestring  # what canonical_json writes for a string (ensure_ascii=False)
_frepr = float.__repr__  # and for a finite float
# enum members are read through their stored ``_value_``: the ``value`` property costs two Python
# calls a read (and a plain string in their place fails there as it fails in event_to_json)


def _jn(v: Any) -> str:
    if type(v) is float and v - v == 0.0:
        return _frepr(v)
    raise _Reject  # ints, NaN, subclasses: the reference encoder writes them


def _jq(q: Quantity) -> str:
    return f'{{"unit":{_js(q.unit._value_)},"value":{_jn(q.value)}}}'


def _jfractions(d: Mapping[Element, float]) -> str:
    return "{" + ",".join(f"{_js(k)}:{_jn(v)}" for k, v in sorted((k._value_, v) for k, v in d.items())) + "}"


def _joutput(o: OutputSpec) -> str:
    head = ""  # keys before "lot", in sorted order as canonical_json writes them
    if o.assay is not None:
        head = f'"assay":{_jfractions(o.assay)},'
    b = o.battery
    if b is not None:
        head += (
            f'"battery":{{"capacity_kwh":{_jn(b.capacity_kwh)},"category":{_js(b.category)},'
            f'"chemistry":{_js(b.chemistry)},"id":{_js(b.id)},"model":{_js(b.model)}}},'
        )
    if o.custody is not None:
        head += f'"custody":{_js(o.custody._value_)},'
    mpp = "" if o.mass_per_piece_kg is None else f'"mass_per_piece_kg":{_jn(o.mass_per_piece_kg)},'
    tail = "" if o.recycled is None else f',"recycled":{_js(o.recycled._value_)}'
    return f'{{{head}"lot":{_js(o.lot)},{mpp}"material":{_js(o.material)},"quantity":{_jq(o.quantity)}{tail}}}'


def event_body(ev: Event) -> str:
    """``canonical_json(event_to_json(ev))``, the text that is stored and hashed, written
    directly (bulk ingest writes one per event; building the dict and sorting its keys cost
    more than the rest of the encoding). Values of unexpected types go to that reference, so
    the two always agree (a property test checks it). An event the decoder built carries the
    body msgspec wrote (batpass.ledger._wire), the same bytes."""
    if ev.body is not None:
        return ev.body
    try:
        return _event_body(ev)
    except Exception:  # the reference writes it, or raises its own error
        return canonical_json(event_to_json(ev))


def _event_body(ev: Event) -> str:
    p = [f'{{"at":{_js(ev.at.isoformat())}']
    if ev.corrects is not None:
        p.append(f',"corrects":{_js(ev.corrects)}')
    p.append(f',"id":{_js(ev.id)}')
    if ev.inputs:
        p.append(
            ',"inputs":[' + ",".join(f'{{"lot":{_js(i.lot)},"quantity":{_jq(i.quantity)}}}' for i in ev.inputs) + "]"
        )
    p.append(f',"kind":{_js(ev.kind._value_)}')
    if ev.outputs:
        p.append(',"outputs":[' + ",".join([_joutput(o) for o in ev.outputs]) + "]")
    p.append(f',"owner":{_js(ev.owner)}')
    if ev.reason is not None:
        p.append(f',"reason":{_js(ev.reason)}')
    r = ev.receipt
    if r is not None:
        p.append(
            f',"receipt":{{"document":{_js(r.document)},"from_lot":{_js(r.from_lot)},"from_owner":{_js(r.from_owner)}}}'
        )
    s = ev.shipment
    if s is not None:
        to_owner = "" if s.to_owner is None else f',"to_owner":{_js(s.to_owner)}'
        p.append(
            f',"shipment":{{"destination_country":{_js(s.destination_country)},"document":{_js(s.document)}'
            f'{to_owner},"to_site":{{"country":{_js(s.to_site.country)},"id":{_js(s.to_site.id)}}}}}'
        )
    p.append(f',"site":{{"country":{_js(ev.site.country)},"id":{_js(ev.site.id)}}}')
    if ev.status is not None:
        p.append(f',"status":{{"lot":{_js(str(ev.status_lot))},"value":{_js(ev.status)}}}')
    if ev.corrects is not None:
        if ev.void is not True and ev.void is not False:
            raise _Reject
        p.append(',"void":true' if ev.void else ',"void":false')
    y = ev.yield_
    if y != 1.0:
        p.append(',"yield":' + (_jn(y) if isinstance(y, float) else _jfractions(y)))
    p.append("}")
    return "".join(p)


def check_batch_events(events: Sequence[Event]) -> None:
    """Ids unique within one batch (a replay of the same id inside one batch is a mistake)."""
    seen: set[str] = set()
    for i, ev in enumerate(events):
        if ev.id in seen:
            raise InvalidInput(
                f"event id {ev.id} appears twice in the batch (events[{i}])",
                field=f"events[{i}].id",
                rule="ledger.event.unique",
            )
        seen.add(ev.id)


# the fast pass of parse_event, which builds on this module's types (imported last: it imports them)
from batpass.ledger import _wire  # noqa: E402
