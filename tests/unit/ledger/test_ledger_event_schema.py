"""The shipped JSON Schema of one ledger event line (``batpass.ledger.EVENT_SCHEMA_PATH``,
docs/ledger-events.md) accepts every scenario event and is never stricter than
``batpass.ledger.parse_event``: whenever the schema rejects a mutated event, the parser rejects it.

What the schema cannot express (checked by the parser or when the event is recorded):

- parser, across fields: output lot ids unique within the event (``ledger.lot.unique``); assay
  fractions summing to at most 1 (``ledger.assay.fraction``); an assay on a receipt of a
  variable-composition material when ``receipt.from_owner`` differs from ``owner``
  (``ledger.assay.required``: the schema cannot compare two values); numbers being finite (JSON
  has no NaN or infinity); the exact ISO 8601 grammar of ``datetime.fromisoformat`` (the schema
  says RFC 3339 ``date-time`` and demands a zone suffix);
- recording (``apply_event``, needs the ledger): lots known, held and not voided
  (``ledger.lot.known``, ``ledger.append-only``, ``ledger.owner.partition``); no lot overdrawn
  (``ledger.lot.balance``); per element outputs ≤ inputs × yield (``ledger.mass.element``);
  pieces taken from a lot convert to mass only through its declared mass per piece and are whole
  (``ledger.unit.declared-mass`` on inputs); a shipment moves one material unchanged
  (``ledger.shipment.outputs``); a status applies to piece lots; corrections name a recorded
  event whose outputs are untouched; lot ids unique in the owner's partition; event ids unique in
  a batch (``ledger.event.unique``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from batpass.core.countries import ISO3166_ALPHA2
from batpass.core.errors import InvalidInput
from batpass.ledger import (
    EVENT_SCHEMA_PATH,
    MATERIALS,
    CustodyModel,
    Element,
    EventKind,
    RecycledOrigin,
    Unit,
    parse_event,
)
from batpass.ledger.model import PASSPORT_STATUSES
from batpass.scenario import generate

OWNER = "did:web:x.example"
SCHEMA: dict[str, Any] = json.loads(EVENT_SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
SCENARIO = generate(lots=2000, owner=OWNER)

#: kinds the scenario does not produce, written by hand
_EXTRA: list[dict[str, Any]] = [
    {
        "id": "ev-correction-1",
        "kind": "correction",
        "owner": OWNER,
        "at": "2026-02-01T10:00:00+01:00",
        "site": {"id": "PLANT-DE-1", "country": "DE"},
        "corrects": "ev-shipment-1",
        "void": True,
        "reason": "wrong destination",
    },
    {
        "id": "ev-receipt-1",
        "kind": "receipt",
        "owner": OWNER,
        "at": "2026-02-01T10:00:00Z",
        "site": {"id": "PLANT-DE-1", "country": "DE"},
        "receipt": {"from_owner": "did:web:supplier.example", "from_lot": "lot-9", "document": "CMR-77"},
        "outputs": [
            {
                "lot": "lot-10",
                "material": "black_mass",
                "quantity": {"value": 2.5, "unit": "t"},
                "recycled": "post_consumer",
                "assay": {"Li": 0.03, "Co": 0.1, "Ni": 0.2},
            }
        ],
    },
]


def _sample() -> list[dict[str, Any]]:
    """A few events of each kind the scenario holds, plus the hand-written ones."""
    per_kind: dict[str, list[dict[str, Any]]] = {}
    for e in SCENARIO.events:
        bucket = per_kind.setdefault(e["kind"], [])
        if len(bucket) < 4:
            bucket.append(e)
    return [e for bucket in per_kind.values() for e in bucket] + _EXTRA


SAMPLE = _sample()


def _errors(instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(instance)]


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_scenario_event_validates() -> None:
    assert len(SCENARIO.events) > 1000
    for e in [*SCENARIO.events, *_EXTRA]:
        assert _errors(e) == [], e["id"]
        parse_event(e)  # and the parser agrees


def test_schema_enums_match_the_code() -> None:
    d = SCHEMA["$defs"]
    assert SCHEMA["properties"]["kind"]["enum"] == [k.value for k in EventKind]
    assert set(d["country"]["enum"]) == set(ISO3166_ALPHA2)
    assert d["element"]["enum"] == [e.value for e in Element]
    assert d["output"]["properties"]["material"]["enum"] == list(MATERIALS)
    assert d["output"]["properties"]["custody"]["enum"] == [c.value for c in CustodyModel] + [None]
    assert d["output"]["properties"]["recycled"]["enum"] == [r.value for r in RecycledOrigin] + [None]
    assert d["quantity"]["properties"]["unit"]["enum"] == [u.value for u in Unit]
    assert set(d["status"]["properties"]["value"]["enum"]) == PASSPORT_STATUSES
    piece_rule = d["output"]["allOf"][0]["if"]["properties"]["material"]["enum"]
    assert set(piece_rule) == {c for c, m in MATERIALS.items() if m.form == "piece"}
    assay_rule = SCHEMA["allOf"][-1]["then"]["properties"]["outputs"]["items"]["if"]
    assert set(assay_rule["properties"]["material"]["enum"]) == {c for c, m in MATERIALS.items() if m.fractions is None}


def _with(e: dict[str, Any], path: tuple[Any, ...], value: Any = None, *, delete: bool = False) -> dict[str, Any]:
    out = copy.deepcopy(e)
    node: Any = out
    for k in path[:-1]:
        node = node[k]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


_SHIP = next(e for e in SCENARIO.events if e["kind"] == "shipment")
_BATT = next(e for e in SCENARIO.events if any("battery" in o for o in e.get("outputs", ())))


@pytest.mark.parametrize(
    "bad",
    [
        _with(_SHIP, ("kind",), "teleport"),  # wrong enum
        _with(_SHIP, ("outputs", 0, "custody"), "chain_of_custody"),
        _with(_SHIP, ("inputs", 0, "quantity", "unit"), "lb"),
        _with(_SHIP, ("site", "country"), "XX"),
        _with(_SHIP, ("shipment",), delete=True),  # missing required field
        _with(_SHIP, ("at",), delete=True),
        _with(_SHIP, ("outputs", 0, "quantity", "value"), -1.0),  # negative quantity
        _with(_SHIP, ("outputs", 0, "quantity", "value"), 0),
        _with(_SHIP, ("yield",), 1.5),
        _with(_SHIP, ("owner",), 7),  # wrong type
        _with(_SHIP, ("inputs",), {"lot": "x"}),
        _with(_SHIP, ("outputs", 0, "quantity", "value"), True),
        _with(_SHIP, ("at",), "2026-01-05T00:07:00"),  # no zone
        _with(_SHIP, ("id",), "-starts-with-dash"),
        _with(_SHIP, ("outputs", 0, "colour"), "red"),  # unknown field
        _with(_SHIP, ("outputs", 0, "recycled"), "post_consumer"),  # only on recovery/receipt
        _with(_BATT, ("outputs", 0, "quantity", "value"), 1.5),  # pieces are whole
        _with(_BATT, ("outputs", 0, "quantity", "unit"), "kg"),  # batteries are counted
        _with(_BATT, ("outputs", 0, "mass_per_piece_kg"), delete=True),
        _with(_BATT, ("outputs", 0, "battery", "capacity_kwh"), -60),
    ],
)
def test_schema_and_parser_both_reject(bad: dict[str, Any]) -> None:
    assert _errors(bad), "the schema accepts it"
    with pytest.raises(InvalidInput):
        parse_event(bad)


# --- mutations: single fields of sample events ---------------------------------------------------

_WRONG_TYPES: list[Any] = [None, True, False, 0, -1, 2.5, "", "x", [], [1], {}, {"a": 1}]
_WRONG_STRINGS = ["teleport", "KG", "piece", "Li", "xx", "did:web:", "2026-13-01T00:00:00Z", " ", "a" * 600]
_NUMBERS: list[Any] = [-1, -0.5, 0, 0.0, 1e-9, 1, 1.0001, 3, 1e9]
_KNOWN_KEYS = [
    "inputs",
    "outputs",
    "yield",
    "shipment",
    "receipt",
    "status",
    "corrects",
    "void",
    "reason",
    "recycled",
    "battery",
    "assay",
    "mass_per_piece_kg",
    "custody",
    "to_owner",
    "category",
    "colour",
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


def _containers(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of the objects inside ``node`` (where a key can be added)."""
    out: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        out.append(prefix)
        for k, v in node.items():
            out.extend(_containers(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_containers(v, (*prefix, i)))
    return out


def _value(draw: st.DrawFn) -> Any:
    return draw(
        st.one_of(
            st.sampled_from(_WRONG_TYPES),
            st.sampled_from(_WRONG_STRINGS),
            st.sampled_from(_NUMBERS),
            st.sampled_from([k.value for k in EventKind] + list(MATERIALS) + sorted(PASSPORT_STATUSES)),
            st.sampled_from([u.value for u in Unit] + [r.value for r in RecycledOrigin] + ["DE", "JP"]),
            st.sampled_from(SAMPLE).map(lambda e: copy.deepcopy(e.get("outputs") or e.get("inputs") or e["site"])),
            st.sampled_from([_SHIP["shipment"], {"lot": "l-1", "value": "waste"}, {"Li": 0.5, "Co": 0.6}]),
        )
    )


@st.composite
def _mutated(draw: st.DrawFn) -> dict[str, Any]:
    e = copy.deepcopy(draw(st.sampled_from(SAMPLE)))
    op = draw(st.sampled_from(["delete", "replace", "add"]))
    if op == "add":
        where = draw(st.sampled_from(_containers(e)))
        return _with(e, (*where, draw(st.sampled_from(_KNOWN_KEYS))), _value(draw))
    path = draw(st.sampled_from(_paths(e)))
    if op == "delete":
        return _with(e, path, delete=True)
    return _with(e, path, _value(draw))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_schema_is_never_stricter_than_the_parser(ev: dict[str, Any]) -> None:
    if VALIDATOR.is_valid(ev):
        return  # the parser may still reject: rules the schema cannot express (module docstring)
    # the parser must reject too, with our error naming the field
    with pytest.raises(InvalidInput):
        parse_event(ev)


@pytest.mark.parametrize(
    "bad",
    [
        _with(_SHIP, ("inputs",), 5),
        _with(_SHIP, ("inputs",), True),
        _with(_SHIP, ("outputs", 0, "material"), []),
    ],
)
def test_parser_reports_wrong_types_as_invalid_input(bad: dict[str, Any]) -> None:
    assert _errors(bad)
    with pytest.raises(InvalidInput):
        parse_event(bad)
