"""The msgspec decoder of ledger events (``batpass.ledger._wire``) is a fast pass only: it
accepts exactly what the strict parser accepts, builds the same event, and writes the same
canonical body bytes as ``canonical_json(event_to_json(ev))``; refusals keep the strict
parser's field path and rule. Before it, events were parsed by ``json`` and a hand-written
fast pass."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from batpass.core.errors import InvalidInput
from batpass.ledger import _wire, model
from batpass.ledger.model import canonical_json, event_body, event_to_json
from batpass.scenario import generate

_VECTORS = json.loads((Path(__file__).parent / "vectors" / "ledger_canonical_vectors.json").read_text("utf-8"))
RAWS: list[dict[str, Any]] = [v["raw"] for v in _VECTORS["vectors"]]
BODIES: list[str] = [v["body"] for v in _VECTORS["vectors"]]
SCENARIO = generate(lots=300, seed=11, owner="did:web:wire.example").events


def _strict(raw: Any) -> model.Event | InvalidInput:
    try:
        return model._parse_event_strict(copy.deepcopy(raw), "event")
    except InvalidInput as exc:
        return exc


def _same_as_strict(raw: Any) -> None:
    strict = _strict(raw)
    try:
        fast = _wire.event_from_object(copy.deepcopy(raw))
    except Exception:
        return  # refused: the strict pass reports it (or accepts it after all)
    assert not isinstance(strict, InvalidInput), f"the decoder accepts what the strict pass refuses: {strict}"
    assert fast == strict
    assert event_body(fast) == canonical_json(event_to_json(strict))


def test_decoded_bodies_are_the_recorded_bytes_array_and_json_lines() -> None:
    array = json.dumps(RAWS, ensure_ascii=False).encode()
    lines = ("\n\n".join(json.dumps(r) for r in RAWS) + "\n").encode()
    for raw in (array, lines):
        events = _wire.decode_event_stream(raw)
        assert events is not None
        assert [event_body(e) for e in events] == BODIES
        assert events == [model.parse_event(copy.deepcopy(r)) for r in RAWS]
    # msgspec wrote them (not the hand-written writer), but for floats repr writes with an exponent
    written = [e.body is not None for e in _wire.decode_event_stream(array) or []]
    assert sum(written) >= len(RAWS) - 4 and not all(written)


def test_scenario_decodes_as_the_strict_pass_parses() -> None:
    kinds = {e["kind"] for e in SCENARIO}
    assert {"extraction", "transformation", "shipment", "assembly", "recovery", "receipt"} <= kinds
    for raw in SCENARIO:
        _same_as_strict(raw)


_FLOATS = st.one_of(
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=1e-12, max_value=1e-3),
    st.floats(min_value=1e12, max_value=1e20),
    st.integers(min_value=-2, max_value=10**17),
    st.sampled_from([0, 1, 1.0, -0.0, 1e16, 9999999999999998.0, 1e-4, 0.0001, 0.00009999, True, None, "1"]),
)
_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)


@st.composite
def _varied(draw: st.DrawFn) -> dict[str, Any]:
    e: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(RAWS + SCENARIO[:60])))
    for o in e.get("outputs") or ():
        o["quantity"]["value"] = draw(_FLOATS)
        if draw(st.booleans()):
            o["assay"] = {"Li": draw(_FLOATS), "Co": draw(_FLOATS)}
        if "battery" in o:
            o["battery"]["model"] = draw(_TEXT)
    for i in e.get("inputs") or ():
        i["quantity"]["value"] = draw(_FLOATS)
    if draw(st.booleans()):
        e["yield"] = draw(st.one_of(_FLOATS, st.dictionaries(st.sampled_from(["Li", "Ni", "Mn", "Xx"]), _FLOATS)))
    if draw(st.booleans()):
        e["reason"] = draw(st.one_of(_TEXT, st.none()))
    if draw(st.booleans()):
        e["at"] = draw(st.sampled_from(["2026-01-01T00:00:00.123456789Z", "2026-01-01 00:00:00+02:00", "2026-01-01"]))
    if draw(st.booleans()):
        e["void"] = draw(st.sampled_from([True, False, None, 0]))
    return e


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_varied())
def test_decoder_agrees_with_the_strict_pass_on_varied_values(raw: dict[str, Any]) -> None:
    _same_as_strict(raw)


@pytest.mark.parametrize(
    ("mutate", "field", "rule"),
    [
        (lambda d: d["outputs"][0].update(colour="red"), "events[4].outputs[0].colour", "ledger.event.schema"),
        (
            lambda d: d["inputs"][0]["quantity"].update(value=0),
            "events[4].inputs[0].quantity.value",
            "ledger.quantity.positive",
        ),
        (lambda d: d["site"].update(country="XX"), "events[4].site.country", "ISO 3166-1 alpha-2"),
        (lambda d: d.update(at="2026-01-01T00:00:00"), "events[4].at", "RFC 3339"),
        (lambda d: d.update(id="-x"), "events[4].id", "ledger.id.syntax"),
        (lambda d: d.update(owner="did:web:"), "events[4].owner", "ledger.owner.did (DID Core 3.1)"),
        (
            lambda d: d["outputs"][0]["quantity"].update(unit="lb"),
            "events[4].outputs[0].quantity.unit",
            "ledger.unit.known",
        ),
    ],
)
def test_refusals_keep_the_strict_field_and_rule(mutate: Any, field: str, rule: str) -> None:
    raw = copy.deepcopy(next(e for e in SCENARIO if e["kind"] == "shipment"))
    mutate(raw)
    assert _wire.decode_event_stream(json.dumps([*SCENARIO[:4], raw]).encode()) is None
    with pytest.raises(InvalidInput) as info:
        model.parse_event(raw, path="events[4]")
    assert (info.value.field, info.value.rule) == (field, rule)


def test_openapi_body_is_generated_from_the_structs_and_describes_the_events() -> None:
    body = _wire.openapi_request_body()
    schema = body["content"]["application/json"]["schema"]
    assert "$ref" not in json.dumps(schema), "references are inlined: the schema stands alone in the document"
    validator = Draft202012Validator(schema)
    assert validator.is_valid(RAWS) and validator.is_valid(SCENARIO)
    assert not validator.is_valid([{**RAWS[0], "colour": "red"}])  # unknown fields are refused
    event = schema["items"]
    assert {"id", "kind", "owner", "at", "site", "inputs", "outputs", "yield"} <= set(event["properties"])
    assert set(event["required"]) == {"id", "kind", "owner", "at", "site"}


_WRONG: list[Any] = [None, True, False, 0, -1, 2.5, "", "x", "did:web:a", "kg", "DE", [], [1], {}, {"a": 1}, "a" * 600]
_WRONG += [{"lot": "l-1", "value": "waste"}, {"Li": 0.5, "Co": 0.6}, {"id": "S", "country": "JP"}]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        out.append((*prefix, k))
        out.extend(_paths(v, (*prefix, k)))
    return out


@st.composite
def _mutated(draw: st.DrawFn) -> dict[str, Any]:
    e: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(RAWS + SCENARIO[:40])))
    path = draw(st.sampled_from(_paths(e)))
    node: Any = e
    for k in path[:-1]:
        node = node[k]
    op = draw(st.sampled_from(["delete", "replace", "add"]))
    if op == "delete":
        del node[path[-1]]
    elif op == "replace":
        node[path[-1]] = copy.deepcopy(draw(st.sampled_from(_WRONG)))
    elif isinstance(node, dict):
        key = draw(
            st.sampled_from(["void", "corrects", "reason", "status", "receipt", "shipment", "battery", "to_owner"])
        )
        node[key] = copy.deepcopy(draw(st.sampled_from(_WRONG)))
    return e


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_decoder_never_accepts_what_the_strict_pass_refuses(raw: dict[str, Any]) -> None:
    _same_as_strict(raw)
