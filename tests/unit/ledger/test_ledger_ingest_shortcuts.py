"""Shortcuts of the ingest path give what the plain forms give (issue 22, the ledger write path).

- ``positional_constructor``: the frozen dataclasses an event is decoded into, built without
  their frozen ``__init__``, are the same instances (equal, hashed alike, still frozen);
- the builders the decoder and ``apply_event`` use for every event (``_wire._new_event``,
  ``_new_output``, ``_new_input``, ``_new_quantity``, ``model._new_edge``: an instance of a
  ``twin`` given the dataclass as its class) give the dataclass's own instances too, printed and
  pickled alike;
- ``model._make_lot`` and ``model._make_effect``, which ``apply_event`` builds its lots and
  effects with, set every field ``Lot(...)`` and ``Effect()`` set, to the same values;
- ``bind_processor`` of a timestamp column on SQLite writes the text the column type's own
  processing writes, for any aware datetime, and refuses a naive one alike;
- a battery's stored text is what ``json.dumps`` writes (``_rows._battery_json`` writes the
  usual one by hand);
- ``event_hash`` is the documented ``sha256(owner "\\n" seq "\\n" prev_hash "\\n" body)``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import pickle
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from batpass.core.errors import InvalidInput
from batpass.ledger import _rows, _wire
from batpass.ledger import _sql as t
from batpass.ledger import model as _model
from batpass.ledger._chain import event_hash
from batpass.ledger._driver_values import bind_processor
from batpass.ledger._fastinit import positional_constructor, twin
from batpass.ledger._materials import Element
from batpass.ledger._wire import _isoformat
from batpass.ledger.model import (
    BatteryInfo,
    CustodyModel,
    Edge,
    Effect,
    Event,
    EventId,
    EventKind,
    InputRef,
    Lot,
    LotId,
    OutputSpec,
    Quantity,
    Receipt,
    RecycledOrigin,
    Shipment,
    Site,
    Unit,
    _make_effect,
    _make_lot,
    parse_event,
)

_AT = _dt.datetime(2026, 3, 1, 12, 30, tzinfo=_dt.UTC)


def _samples() -> list[tuple[type, tuple[object, ...]]]:
    q = Quantity(2.5, Unit.T)
    out = OutputSpec(LotId("out-1"), "nmc811", q, None, None, None, None, None)
    return [
        (Quantity, (2.5, Unit.T)),
        (InputRef, (LotId("in-1"), q)),
        (BatteryInfo, ("urn:b", "m", "NMC811", 75.0, "ev")),
        (OutputSpec, (LotId("out-1"), "nmc811", q, 1.5, None, None, None, None)),
        (Shipment, (Site("s-1", "DE"), "PL", "doc-1", "did:web:x.example")),
        (Receipt, ("did:web:x.example", LotId("l-9"), "doc-2")),
        (Edge, (LotId("c"), "did:web:o.example", LotId("p"), EventId("e-1"), 3.0)),
        (
            Event,
            (
                EventId("e-1"),
                EventKind.SHIPMENT,
                "did:web:o.example",
                _AT,
                Site("s-0", "FI"),
                (InputRef(LotId("in-1"), q),),
                (out,),
                1.0,
                Shipment(Site("s-1", "DE"), "DE", "doc-1", None),
                None,
                None,
                None,
                None,
                False,
                None,
                Event.__dataclass_fields__["catalogue"].default,
                "{}",
            ),
        ),
    ]


@pytest.mark.parametrize(("cls", "args"), _samples(), ids=lambda v: getattr(v, "__name__", ""))
def test_positional_constructor_builds_the_same_frozen_instance(cls: type, args: tuple[object, ...]) -> None:
    made = positional_constructor(cls)(*args)
    plain = cls(*args)
    assert type(made) is cls
    assert made == plain
    if cls is not Event:  # an event holds its catalogue, which is not hashable
        assert hash(made) == hash(plain)
    assert [getattr(made, f.name) for f in dataclasses.fields(cls)] == list(args)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.__setattr__(dataclasses.fields(cls)[0].name, None)


def test_positional_constructor_refuses_classes_it_cannot_stand_for() -> None:
    with pytest.raises(TypeError):
        positional_constructor(Lot)  # not frozen: model._make_lot builds it instead


_BUILDERS: dict[type, Callable[..., object]] = {
    Quantity: _wire._new_quantity,
    InputRef: _wire._new_input,
    OutputSpec: _wire._new_output,
    Event: _wire._new_event,
    Edge: _model._new_edge,
}


@pytest.mark.parametrize(
    ("cls", "args"), [s for s in _samples() if s[0] in _BUILDERS], ids=lambda v: getattr(v, "__name__", "")
)
def test_the_twin_builders_build_the_dataclass_own_instance(cls: type, args: tuple[object, ...]) -> None:
    made = _BUILDERS[cls](*args)
    plain = cls(*args)
    assert type(made) is cls
    assert made == plain and plain == made
    assert repr(made) == repr(plain)
    if cls is not Event:  # an event holds its catalogue, which is not hashable
        assert hash(made) == hash(plain)
        assert pickle.loads(pickle.dumps(made)) == plain
    # every field is set, to the value given (a field added to the class and not to its
    # builder fails here: the builder's signature no longer takes every field)
    assert [getattr(made, f.name) for f in dataclasses.fields(cls)] == list(args)
    assert not hasattr(made, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.__setattr__(dataclasses.fields(cls)[0].name, None)


def test_twin_refuses_classes_it_cannot_stand_for() -> None:
    with pytest.raises(TypeError):
        twin(Lot)  # not frozen: model._make_lot builds it instead
    with pytest.raises(TypeError):
        twin(Effect)


def test_the_lot_and_effect_builders_set_what_the_dataclasses_set() -> None:
    battery = BatteryInfo("urn:b", "m", "NMC811", 75.0, "ev")
    args = (
        "did:web:o.example",
        LotId("l-1"),
        "battery",
        Unit.PIECE,
        2.0,
        900.0,
        450.0,
        "plant-1",
        "DE",
        CustodyModel.SEGREGATED,
        RecycledOrigin.POST_CONSUMER,
        {Element.LI: 0.02},
        _AT,
        EventId("e-1"),
        EventKind.ASSEMBLY,
        "original",
        battery,
    )
    made = _make_lot(*args)
    names = [f.name for f in dataclasses.fields(Lot)]
    plain = Lot(
        owner="did:web:o.example",
        id=LotId("l-1"),
        material="battery",
        unit=Unit.PIECE,
        quantity=2.0,
        mass_kg=900.0,
        remaining_kg=900.0,
        mass_per_piece_kg=450.0,
        site="plant-1",
        country="DE",
        custody=CustodyModel.SEGREGATED,
        recycled=RecycledOrigin.POST_CONSUMER,
        composition={Element.LI: 0.02},
        produced_at=_AT,
        event_id=EventId("e-1"),
        kind=EventKind.ASSEMBLY,
        status="original",
        battery=battery,
    )
    assert type(made) is Lot
    assert made == plain
    # every field is set (a field added to Lot and not to _make_lot fails here, unset)
    assert [getattr(made, n) for n in names] == [getattr(plain, n) for n in names]
    assert repr(made) == repr(plain)
    effect = _make_effect()
    assert type(effect) is Effect
    assert effect == Effect()
    # every field (the compiled Effect keeps its fields in C slots: no instance dict)
    effect_fields = [f.name for f in dataclasses.fields(Effect)]
    assert [getattr(effect, n) for n in effect_fields] == [getattr(Effect(), n) for n in effect_fields]


def _column_processors() -> tuple[object, object]:
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        dialect = conn.dialect
        own = t.events.c.at.type.dialect_impl(dialect).bind_processor(dialect)
        used = bind_processor(conn, t.events, "at")
    engine.dispose()
    return own, used


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=_dt.datetime(1, 1, 2),
        max_value=_dt.datetime(9999, 12, 30),
        timezones=st.builds(
            _dt.timezone, st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: _dt.timedelta(minutes=m))
        )
        | st.just(_dt.UTC),
    )
)
def test_sqlite_timestamps_are_written_as_the_column_type_writes_them(at: _dt.datetime) -> None:
    own, used = _column_processors()
    assert used(at) == own(at)  # type: ignore[operator]


def test_sqlite_timestamp_writer_refuses_a_naive_time_and_passes_none_alike() -> None:
    own, used = _column_processors()
    assert used(None) is None and own(None) is None  # type: ignore[operator]
    naive = _dt.datetime(2026, 1, 1, 8, 0)
    with pytest.raises(ValueError):
        own(naive)  # type: ignore[operator]
    with pytest.raises(ValueError):
        used(naive)  # type: ignore[operator]


@given(st.text(max_size=40), st.integers(0, 10**9), st.text(max_size=200))
def test_event_hash_is_the_documented_digest(owner: str, seq: int, body: str) -> None:
    prev = hashlib.sha256(owner.encode()).hexdigest()
    h = hashlib.sha256()
    h.update(f"{owner}\n{seq}\n{prev}\n".encode())
    h.update(body.encode())
    assert event_hash(owner, seq, prev, body) == h.hexdigest()


@settings(max_examples=300, deadline=None)
@given(
    st.from_regex(r"\A\d{4}-\d\d-\d\d[T ]\d\d:?\d\d:?\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)\Z")
    | st.datetimes(timezones=st.just(_dt.UTC)).map(lambda d: d.replace(microsecond=0).isoformat()[:19] + "Z")
)
def test_event_time_text_is_what_isoformat_writes(text: str) -> None:
    try:
        at = _dt.datetime.fromisoformat(text)
    except ValueError:
        return
    assert _isoformat(text, at) == at.isoformat()


def test_shape_check_names_the_first_part_out_of_place_as_before() -> None:
    """An event carrying parts its kind must not (or lacking those it must) is refused by the
    strict parser's rule for the first such part, whichever parts are out of place."""
    base = {
        "id": "ev-1",
        "kind": "shipment",
        "owner": "did:web:o.example",
        "at": "2026-01-05T00:07:00Z",
        "site": {"id": "s-1", "country": "DE"},
        "inputs": [{"lot": "l-1", "quantity": {"value": 1, "unit": "kg"}}],
        "outputs": [{"lot": "l-2", "material": "lithium_carbonate", "quantity": {"value": 1, "unit": "kg"}}],
        "shipment": {"to_site": {"id": "s-2", "country": "PL"}, "destination_country": "PL", "document": "d"},
    }
    cases = {
        "ledger.shipment.inputs": {"inputs": []},
        "ledger.shipment.outputs": {"outputs": []},
        "ledger.shipment.document": {"shipment": None},
        "ledger.receipt.document": {"receipt": {"from_owner": "did:web:x.example", "from_lot": "x", "document": "d"}},
        "ledger.status_change.status": {"status": {"lot": "l-1", "value": "waste"}},
        "ledger.append-only": {"corrects": "ev-0"},
    }
    for rule, change in cases.items():
        raw = {k: v for k, v in {**base, **change}.items() if v is not None}
        with pytest.raises(InvalidInput) as caught:
            parse_event(raw)
        assert caught.value.rule == rule, (rule, change)
    two = {**base, "outputs": base["outputs"] * 2}  # a shipment's one output lot
    with pytest.raises(InvalidInput) as caught:
        parse_event(two)
    assert caught.value.rule == "ledger.shipment.outputs"
    assert parse_event(base).kind is EventKind.SHIPMENT


_texts = st.text(max_size=30) | st.sampled_from(
    ["ev", "NMC811", "urn:epc:id:sgtin:0614141.107346.2017", 'é\u2028"\\\x00']
)


@settings(max_examples=300, deadline=None)
@given(
    _texts,
    _texts,
    _texts,
    st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**20), 10**20),
    _texts,
)
def test_a_battery_is_stored_as_json_dumps_writes_it(
    bid: str, model: str, chemistry: str, capacity: float, category: str
) -> None:
    b = BatteryInfo(bid, model, chemistry, capacity, category)
    plain = json.dumps(
        {"id": b.id, "model": b.model, "chemistry": b.chemistry, "capacity_kwh": b.capacity_kwh, "category": b.category}
    )
    assert _rows._battery_json(b) == plain
    assert _rows._battery_json(None) is None
