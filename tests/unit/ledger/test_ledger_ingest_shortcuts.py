"""Shortcuts of the ingest path give what the plain forms give (issue 22, the ledger write path).

- ``positional_constructor``: the frozen dataclasses an event is decoded into, built without
  their frozen ``__init__``, are the same instances (equal, hashed alike, still frozen);
- ``bind_processor`` of a timestamp column on SQLite writes the text the column type's own
  processing writes, for any aware datetime, and refuses a naive one alike;
- ``event_hash`` is the documented ``sha256(owner "\\n" seq "\\n" prev_hash "\\n" body)``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from batpass.ledger import _sql as t
from batpass.ledger._chain import event_hash
from batpass.ledger._fastinit import positional_constructor
from batpass.ledger.model import (
    BatteryInfo,
    Edge,
    Event,
    EventId,
    EventKind,
    InputRef,
    Lot,
    LotId,
    OutputSpec,
    Quantity,
    Receipt,
    Shipment,
    Site,
    Unit,
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
        positional_constructor(Lot)  # not frozen: its own __init__ is as fast


def _column_processors() -> tuple[object, object]:
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        dialect = conn.dialect
        own = t.events.c.at.type.dialect_impl(dialect).bind_processor(dialect)
        used = t.bind_processor(conn, t.events, "at")
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
