"""The bulk record path agrees with the reference semantics (issue #3).

Ingest writes each event's canonical text directly (``event_body``), checks invariants with
sparse element tables (``apply_event``), mixes profiles with the sums written out
(``mix_profile``) and builds row tuples itself. Each must give exactly what the plain reference
gives: the same text byte for byte, the same effects, the same profiles (float for float), the
same rejections with the same messages, and the same stored rows.
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_reference_testkit import reference_apply_event, reference_mix_profile
from ledger_testkit import OWNER
from sqlalchemy import select

from batpass.core.errors import BatpassError
from batpass.ledger import LedgerService
from batpass.ledger import _sql as t
from batpass.ledger._materials import ELEMENTS, MATERIALS, Element
from batpass.ledger._profile import is_profile_source, mix_profile, source_profile, summary_source_profile
from batpass.ledger._record import _mix_key
from batpass.ledger._rows import lot_values, profile_of
from batpass.ledger.model import (
    BatteryInfo,
    CustodyModel,
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
    apply_event,
    canonical_json,
    event_body,
    event_to_json,
    parse_event,
)
from batpass.ledger.service import _gc_paused
from batpass.scenario import generate

# --------------------------------------------------------------------------------------------
# the stored text of an event
# --------------------------------------------------------------------------------------------


def _reference_body(ev: Event) -> str:
    return canonical_json(event_to_json(ev))


def test_event_body_equals_the_reference_on_the_scenario() -> None:
    sc = generate(lots=300, seed=11, owner=OWNER)
    for raw in sc.events:
        ev = parse_event(raw)
        assert event_body(ev) == _reference_body(ev)


_text = st.text(max_size=12)  # any code point: quotes, backslashes, controls, non-ASCII, surrogates
_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=1e-12, max_value=1e-3),  # written with an exponent by repr
    st.floats(min_value=1e15, max_value=1e20),
    st.integers(-5, 10**20),  # not a float: the reference writes it
)
_elements = st.dictionaries(st.sampled_from(ELEMENTS), _numbers, max_size=4)
_quantity = st.builds(Quantity, _numbers, st.sampled_from(list(Unit)))
_site = st.builds(Site, _text, _text)
_output = st.builds(
    OutputSpec,
    lot=_text.map(lambda v: str.__new__(LotId, v)) | _text,
    material=_text,
    quantity=_quantity,
    mass_per_piece_kg=st.none() | _numbers,
    custody=st.none() | st.sampled_from(list(CustodyModel)),
    recycled=st.none() | st.sampled_from(list(RecycledOrigin)),
    assay=st.none() | _elements,
    battery=st.none() | st.builds(BatteryInfo, _text, _text, _text, _numbers, _text),
)
_events = st.builds(
    Event,
    id=_text,
    kind=st.sampled_from(list(EventKind)),
    owner=_text,
    at=st.datetimes(timezones=st.just(_dt.UTC)),
    site=_site,
    inputs=st.lists(st.builds(InputRef, _text, _quantity), max_size=3).map(tuple),
    outputs=st.lists(_output, max_size=3).map(tuple),
    yield_=st.one_of(st.just(1.0), _numbers, _elements),
    shipment=st.none() | st.builds(Shipment, _site, _text, _text, st.none() | _text),
    receipt=st.none() | st.builds(Receipt, _text, _text, _text),
    status_lot=st.none() | _text,
    status=st.none() | _text,
    corrects=st.none() | _text,
    void=st.booleans() | st.none(),
    reason=st.none() | _text,
)


@settings(max_examples=400, deadline=None)
@given(ev=_events)
def test_event_body_equals_the_reference_on_any_event(ev: Event) -> None:
    try:
        expected = _reference_body(ev)
    except Exception as exc:  # the reference cannot write it: neither may the fast writer
        with pytest.raises(type(exc)):
            event_body(ev)
        return
    assert event_body(ev) == expected


# --------------------------------------------------------------------------------------------
# invariants and profiles, replayed in memory against the reference
# --------------------------------------------------------------------------------------------


class _DictView:
    def __init__(self) -> None:
        self.lots: dict[str, Lot] = {}

    def lot(self, owner: str, lot_id: LotId) -> Lot | None:
        return self.lots.get(lot_id) if owner == OWNER else None

    def event_flows(self, owner: str, event_id: EventId) -> None:
        return None


def _outcome(fn: Callable[[Event, _DictView], Effect], ev: Event, view: _DictView) -> Effect | tuple[Any, ...]:
    try:
        return fn(ev, view)
    except BatpassError as exc:
        return (type(exc), exc.message, exc.rule, getattr(exc, "field", None), exc.details)


def _profile(ev: Event, lot: Lot, eff: Effect, mix: Callable[..., Any]) -> dict[str, Any]:
    """The lot's profile as the service computes it (no supplier summaries received)."""
    parents = eff.parents.get(lot.id, [])
    if is_profile_source(lot):
        return source_profile(lot)
    if ev.receipt is not None and ev.receipt.from_owner != ev.owner:
        return summary_source_profile(lot, None, f"{ev.receipt.from_owner}|{ev.receipt.from_lot}")
    return mix(lot, parents, [profile_of(p) for p, _ in parents])  # type: ignore[no-any-return]


def _commit(view: _DictView, ev: Event, eff: Effect) -> None:
    for lot_id, kg in eff.debits.items():
        lot = view.lots[lot_id]
        lot.remaining_kg = max(0.0, lot.remaining_kg - kg)
    for lot_id, st_ in eff.status.items():
        view.lots[lot_id].status = st_
    for lot in eff.new_lots:
        prof = _profile(ev, lot, eff, mix_profile)
        assert prof == _profile(ev, lot, eff, reference_mix_profile)
        lot.profile = prof
        view.lots[lot.id] = lot


def _check_step(view: _DictView, ev: Event) -> bool:
    """Apply ``ev`` with both implementations; they must agree. True when it was accepted."""
    got = _outcome(apply_event, ev, view)
    want = _outcome(reference_apply_event, ev, view)
    assert got == want
    if isinstance(got, Effect):
        _commit(view, ev, got)
        return True
    return False


def test_invariants_and_profiles_equal_the_reference_on_the_scenario() -> None:
    sc = generate(lots=400, seed=5, owner=OWNER)
    view = _DictView()
    for raw in sc.events:
        assert _check_step(view, parse_event(raw))
    assert len(view.lots) > 300


_MATERIALS_BULK = [m for m, spec in MATERIALS.items() if spec.form == "bulk"]
_n = iter(range(10**9))


def _raw(kind: str, inputs: list[tuple[str, float, str]], outputs: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    e: dict[str, Any] = {
        "id": f"x-{next(_n)}",
        "kind": kind,
        "owner": OWNER,
        "at": "2026-03-01T00:00:00Z",
        "site": {"id": "S1", "country": "DE"},
        **kw,
    }
    if inputs:
        e["inputs"] = [{"lot": lot, "quantity": {"value": v, "unit": u}} for lot, v, u in inputs]
    if outputs:
        e["outputs"] = outputs
    return e


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_events_get_the_reference_effects_and_rejections(data: st.DataObject) -> None:
    view = _DictView()
    mines = [
        ("lithium_brine_concentrate", None),
        ("cobalt_hydroxide", {"Co": 0.33}),
        ("nickel_mhp", None),
        ("black_mass", {"Li": 0.04, "Co": 0.1, "Ni": 0.2, "Mn": 0.05}),
    ]
    pool: list[str] = []
    for material, assay in mines:
        mined = f"m-{next(_n)}"
        out: dict[str, Any] = {"lot": mined, "material": material, "quantity": {"value": 1000.0, "unit": "kg"}}
        if assay:
            out["assay"] = assay
        assert _check_step(view, parse_event(_raw("extraction", [], [out])))
        pool.append(mined)
    for _ in range(data.draw(st.integers(3, 10), label="steps")):
        kind = data.draw(st.sampled_from(["transformation", "shipment", "recycling", "recovery", "assembly"]))
        picks = data.draw(st.lists(st.sampled_from([*pool, "unknown-lot"]), min_size=1, max_size=3))
        inputs = []
        for lot_id in picks:
            lot = view.lots.get(lot_id)
            have = lot.remaining_kg if lot is not None else 10.0
            share = data.draw(st.floats(0.05, 1.3))
            unit = data.draw(st.sampled_from(["kg", "t", "g"]))
            scale = {"kg": 1.0, "t": 1e-3, "g": 1e3}[unit]
            inputs.append((lot_id, max(have, 1e-3) * share * scale, unit))
        outputs = []
        for _k in range(2 if kind == "recovery" else 1):
            material = data.draw(st.sampled_from(_MATERIALS_BULK))
            out = {
                "lot": f"l-{next(_n)}",
                "material": material,
                "quantity": {"value": data.draw(st.floats(0.001, 500.0)), "unit": "kg"},
            }
            if data.draw(st.booleans()):
                out["assay"] = data.draw(
                    st.dictionaries(st.sampled_from([e.value for e in Element]), st.floats(0.0, 0.3), max_size=3)
                )
            if kind == "recovery":
                out["recycled"] = data.draw(st.sampled_from(["pre_consumer", "post_consumer", "run_around"]))
            if data.draw(st.booleans()):
                out["custody"] = data.draw(st.sampled_from([c.value for c in CustodyModel]))
            outputs.append(out)
        kw: dict[str, Any] = {}
        if data.draw(st.booleans()):
            kw["yield"] = data.draw(
                st.floats(0.1, 1.0)
                | st.dictionaries(st.sampled_from([e.value for e in Element]), st.floats(0.1, 1.0), min_size=1)
            )
        if kind == "shipment":
            kw["shipment"] = {"to_site": {"id": "S2", "country": "FR"}, "destination_country": "FR", "document": "D"}
            outputs = outputs[:1]
            src = view.lots.get(picks[0])
            if src is not None and data.draw(st.booleans()):
                outputs[0]["material"] = src.material
                outputs[0].pop("assay", None)
        try:
            ev = parse_event(_raw(kind, inputs, outputs, **kw))
        except BatpassError:
            continue  # the parser's rejections are covered by the schema tests
        if _check_step(view, ev):
            pool.extend(str(o.lot) for o in ev.outputs)


# --------------------------------------------------------------------------------------------
# rows, the collector, and the whole record path against a replay of the reference
# --------------------------------------------------------------------------------------------


def test_lot_values_follow_the_table_columns() -> None:
    lot = Lot(
        owner=OWNER,
        id=LotId("l-1"),
        material="cell",
        unit=Unit.PIECE,
        quantity=3.0,
        mass_kg=3.3,
        remaining_kg=1.1,
        mass_per_piece_kg=1.1,
        site="S1",
        country="JP",
        custody=CustodyModel.SEGREGATED,
        recycled=RecycledOrigin.PRE_CONSUMER,
        composition={Element.LI: 0.02},
        produced_at=_dt.datetime(2026, 1, 1, tzinfo=_dt.UTC),
        event_id=EventId("e-1"),
        kind=EventKind.ASSEMBLY,
        status="original",
        battery=BatteryInfo("urn:b", "M1", "NMC811", 60.0),
        seq=7,
    )
    row = dict(zip([c.name for c in t.lots.columns], lot_values(lot, "AT", 12, "H", "V", 5), strict=True))
    assert row == {
        "owner": OWNER,
        "id": "l-1",
        "material": "cell",
        "unit": "piece",
        "quantity": 3.0,
        "mass_kg": 3.3,
        "remaining_kg": 1.1,
        "mass_per_piece_kg": 1.1,
        "site": "S1",
        "country": "JP",
        "custody": "segregated",
        "recycled": "pre_consumer",
        "composition": '{"Li":0.02}',
        "produced_at": "AT",
        "event_id": "e-1",
        "seq": 7,
        "kind": "assembly",
        "status": "original",
        "battery_id": "urn:b",
        "battery": json.dumps(
            {"id": "urn:b", "model": "M1", "chemistry": "NMC811", "capacity_kwh": 60.0, "category": "ev"}
        ),
        "held": "H",
        "voided": "V",
        "profile_no": 12,
        "lot_no": 5,
    }


def test_absent_values_are_stored_as_null_and_hashes_as_their_bytes(ledger: LedgerService) -> None:
    """The record path's rows stand NULL in by ``_driver_values.null_value`` (a NaN on SQLite) and give a
    hash as ``_driver_values.blob_value`` makes it (a bytearray on SQLite): what is stored is NULL where a
    lot has no such value, the value where it has one, and each event's hash as its 32 bytes."""
    sc = generate(lots=60, seed=5, owner=OWNER)
    for a in sc.authorisations:
        ledger.authorise_export(OWNER, a)
    events = list(sc.events)
    ledger.record(events)
    want = {}
    for raw in events:
        for o in raw.get("outputs") or ():
            battery = o.get("battery")
            want[o["lot"]] = (o.get("mass_per_piece_kg"), battery["id"] if battery else None)
    with ledger.engine.connect() as conn:
        lots = conn.execute(
            select(
                t.lots.c.id, t.lots.c.mass_per_piece_kg, t.lots.c.recycled, t.lots.c.battery_id, t.lots.c.battery
            ).where(t.lots.c.owner == OWNER)
        ).all()
        never_set = conn.execute(
            select(t.lots.c.status).where(t.lots.c.owner == OWNER, t.lots.c.status.is_(None))
        ).all()
        hashes = conn.execute(select(t.events.c.hash).where(t.events_of(OWNER)).order_by(t.events.c.seq)).scalars()
        stored_hashes = [bytes(h) for h in hashes]
    assert {r.id: (r.mass_per_piece_kg, r.battery_id) for r in lots} == want
    assert {r.recycled for r in lots} >= {None, "pre_consumer"}  # a recycled lot's origin, or NULL
    assert {r.battery is None for r in lots} == {True, False}
    assert all((r.battery is None) == (r.battery_id is None) for r in lots)
    assert {v[0] is None for v in want.values()} == {True, False}  # both kinds were written
    assert never_set  # lots no status event named: NULL
    assert [len(h) for h in stored_hashes] == [32] * len(events)
    assert ledger.verify(OWNER).ok  # the chain over those bytes


def test_the_collector_is_paused_and_restored() -> None:
    assert gc.isenabled()
    with _gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with _gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # someone else turned it off: left off
    finally:
        gc.enable()


def test_recorded_scenario_equals_a_replay_of_the_reference(ledger: LedgerService) -> None:
    sc = generate(lots=300, seed=3, owner=OWNER)
    for a in sc.authorisations:
        ledger.authorise_export(OWNER, a)
    events = list(sc.events)
    cut = len(events) // 2
    ledger.record(events[:cut])  # two calls: the second reads lots the first stored
    ledger.record(events[cut:])
    assert ledger.verify(OWNER).ok
    again = ledger.record(events)  # every stored body is found and equal: all replays
    assert (again.recorded, again.replayed, again.batches) == (0, len(events), 0)

    view = _DictView()
    bodies = []
    for raw in events:
        ev = parse_event(raw)
        bodies.append(_reference_body(ev))
        eff = reference_apply_event(ev, view)
        for lot_id, kg in eff.debits.items():
            lot = view.lots[lot_id]
            lot.remaining_kg = max(0.0, lot.remaining_kg - kg)
        for lot_id, st_ in eff.status.items():
            view.lots[lot_id].status = st_
        for lot in eff.new_lots:
            lot.profile = _profile(ev, lot, eff, reference_mix_profile)
            view.lots[lot.id] = lot
    with ledger.engine.connect() as conn:
        stored = conn.execute(select(t.events.c.body).where(t.events_of(OWNER)).order_by(t.events.c.seq)).all()
        rows = {
            r.id: r
            for r in conn.execute(select(*t.LOT_COLUMNS).select_from(t.LOTS_FROM).where(t.lots.c.owner == OWNER)).all()
        }
    assert [r.body for r in stored] == bodies
    assert set(rows) == set(view.lots)
    for key, lot in view.lots.items():
        r = rows[key]
        assert json.loads(r.profile) == lot.profile
        assert {Element(k): v for k, v in json.loads(r.composition).items()} == lot.composition
        assert r.remaining_kg == lot.remaining_kg
        assert (r.custody, r.recycled, r.status, bool(r.held)) == (
            lot.custody.value,
            lot.recycled.value if lot.recycled else None,
            lot.status,
            lot.held,
        )


def test_the_mix_memo_key_changes_with_everything_the_mix_reads() -> None:
    def lot(lot_id: str, material: str, comp: dict[Element, float], custody: CustodyModel) -> Lot:
        return Lot(
            owner=OWNER,
            id=LotId(lot_id),
            material=material,
            unit=Unit.KG,
            quantity=1.0,
            mass_kg=1.0,
            remaining_kg=1.0,
            mass_per_piece_kg=None,
            site="S1",
            country="JP",
            custody=custody,
            recycled=None,
            composition=comp,
            produced_at=_dt.datetime(2026, 1, 1, tzinfo=_dt.UTC),
            event_id=EventId("e"),
            kind=EventKind.TRANSFORMATION,
        )

    seg, mb = CustodyModel.SEGREGATED, CustodyModel.MASS_BALANCE
    p1: dict[str, Any] = {"e": {}, "mines": [], "xm": {}}
    p2: dict[str, Any] = {"e": {}, "mines": [], "xm": {}}
    base = (
        lot("o", "cam_nmc811", {Element.LI: 0.07}, seg),
        [(lot("a", "lithium_hydroxide", {Element.LI: 0.16}, seg), 5.0)],
    )
    key = _mix_key(base[0], base[1], [p1])
    assert _mix_key(lot("o2", "cam_nmc811", {Element.LI: 0.07}, seg), base[1], [p1]) == key  # ids are not read
    variants = [
        (lot("o", "cam_nmc622", {Element.LI: 0.07}, seg), base[1], [p1]),
        (lot("o", "cam_nmc811", {Element.LI: 0.07}, mb), base[1], [p1]),
        (lot("o", "cam_nmc811", {Element.LI: 0.071}, seg), base[1], [p1]),
        (base[0], [(base[1][0][0], 5.5)], [p1]),
        (base[0], [(lot("a", "lithium_carbonate", {Element.LI: 0.16}, seg), 5.0)], [p1]),
        (base[0], [(lot("a", "lithium_hydroxide", {Element.LI: 0.16}, mb), 5.0)], [p1]),
        (base[0], [(lot("a", "lithium_hydroxide", {Element.LI: 0.17}, seg), 5.0)], [p1]),
        (base[0], base[1], [p2]),  # an equal profile that is another object: not assumed equal
    ]
    assert all(_mix_key(*v) != key for v in variants)
