"""The bulk parser's fast pass agrees with the strict pass, and bad input still gets the strict
pass's field path and rule (the fast pass only ever accepts what the strict one accepts)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from batpass.core.errors import InvalidInput
from batpass.ledger import _wire, model
from batpass.scenario import generate


def test_fast_pass_equals_strict_pass_on_the_scenario() -> None:
    sc = generate(lots=300, seed=7, owner="did:web:parse.example")
    kinds = {e["kind"] for e in sc.events}
    assert {"extraction", "transformation", "shipment", "assembly", "recovery"} <= kinds
    for raw in sc.events:
        assert _wire.event_from_object(raw) == model._parse_event_strict(raw, "event")


@pytest.mark.parametrize(
    ("mutate", "field", "rule"),
    [
        (lambda d: d["inputs"][0]["quantity"].update(value=-1.0), "events[3].inputs[0].quantity.value", None),
        (lambda d: d["inputs"][0]["quantity"].update(value=True), "events[3].inputs[0].quantity.value", None),
        (lambda d: d["inputs"][0]["quantity"].update(unit="lb"), "events[3].inputs[0].quantity.unit", None),
        (lambda d: d["site"].update(country="XX"), "events[3].site.country", "ISO 3166-1 alpha-2"),
        (lambda d: d["outputs"][0].update(colour="red"), "events[3].outputs[0].colour", "ledger.event.schema"),
        (lambda d: d.update(owner="not-a-did"), "events[3].owner", None),
    ],
)
def test_bad_input_keeps_its_field_path(mutate: Any, field: str, rule: str | None) -> None:
    raw = {
        "id": "ev-1",
        "kind": "shipment",
        "owner": "did:web:parse.example",
        "at": "2026-01-01T00:00:00Z",
        "site": {"id": "S1", "country": "JP"},
        "inputs": [{"lot": "L1", "quantity": {"value": 2.0, "unit": "kg"}}],
        "outputs": [{"lot": "L2", "material": "lithium_carbonate", "quantity": {"value": 2.0, "unit": "kg"}}],
        "shipment": {"to_site": {"id": "S2", "country": "DE"}, "destination_country": "DE", "document": "BL-1"},
    }
    assert model.parse_event(copy.deepcopy(raw)) == model._parse_event_strict(raw, "event")
    bad = copy.deepcopy(raw)
    mutate(bad)
    with pytest.raises(InvalidInput) as info:
        model.parse_event(bad, path="events[3]")
    assert info.value.field == field
    if rule is not None:
        assert info.value.rule == rule
