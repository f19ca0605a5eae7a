"""Static product data (``passport._static``): a document the schema accepted is not validated
again when the same content comes back, and anything else still is — a changed document, one
changed in place, or one whose values differ only in type."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from passport_testkit import EXAMPLE

from batpass.core.errors import InvalidInput
from batpass.passport import load_static_product_data


def _example() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return doc


def test_the_same_content_again_gives_the_same_data() -> None:
    first = load_static_product_data(_example())
    again = load_static_product_data(_example())
    assert again == first


def test_a_document_changed_in_place_after_it_was_accepted_is_judged_again() -> None:
    doc = _example()
    load_static_product_data(doc)
    doc["gtin"] = "not a gtin"
    with pytest.raises(InvalidInput) as exc:
        load_static_product_data(doc)
    assert exc.value.field == "gtin"


def test_a_nested_change_is_judged_again() -> None:
    doc = _example()
    load_static_product_data(doc)
    bad = copy.deepcopy(doc)
    key = next(iter(bad["values"]))
    bad["values"][key] = -1  # neither text, a non-negative integer, a quantity, a list nor an object
    with pytest.raises(InvalidInput) as exc:
        load_static_product_data(bad)
    assert exc.value.field == f"values.{key}"


def test_values_equal_in_python_but_not_in_json_are_told_apart() -> None:
    # True == 1 in Python, but JSON Schema's integer is no boolean: after a count of 1 was
    # accepted, a count of true is still refused by the schema
    doc = _example()
    doc["values"]["expected_lifetime_cycles"] = 1
    load_static_product_data(doc)
    doc["values"]["expected_lifetime_cycles"] = True
    with pytest.raises(InvalidInput) as exc:
        load_static_product_data(doc)
    assert exc.value.field == "values.expected_lifetime_cycles"
    assert exc.value.rule is not None and exc.value.rule.startswith("static-product-data.schema.json")


def test_what_is_remembered_is_bounded() -> None:
    from batpass.passport import _static

    doc = _example()
    for n in range(_static._VALID_MAX + 5):
        doc["model_id"] = f"model-{n}"
        load_static_product_data(doc)
    assert 0 < len(_static._VALID) <= _static._VALID_MAX
