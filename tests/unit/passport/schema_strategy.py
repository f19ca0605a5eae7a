"""Hypothesis strategies for documents valid against the vendored SAMM JSON Schemas.

The SAMM generator's schemas (draft-04) use a small subset: ``$ref`` into ``components``,
objects with ``properties``/``required``, arrays with ``items``, strings with ``pattern``,
``maxLength`` or ``enum``, numbers with bounds, booleans. This builds a strategy for that subset
(hypothesis-jsonschema 0.23.1, the latest release, fails on the pinned Hypothesis: it drives
``conjecture.utils.many`` through an API Hypothesis removed). Numbers are drawn mostly in a
battery's range as well as over the schema's whole range, dates and time stamps mostly real, so
both outcomes of an import occur. Each document drawn is checked against the schema, so a gap in
this subset shows as a filtered example, never a wrong one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import jsonschema
from hypothesis import strategies as st

__all__ = ["documents"]

_DATE = r"^\d{4}-\d{2}-\d{2}$"


def _resolve(node: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        node = root["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _strategy(node: Mapping[str, Any], root: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    n = _resolve(node, root)
    if "enum" in n:
        return st.sampled_from(n["enum"])
    kind = n.get("type")
    if kind == "object":
        props = n.get("properties", {})
        required = [k for k in n.get("required", []) if k in props]
        return st.fixed_dictionaries(
            {k: _strategy(props[k], root) for k in required},
            optional={k: _strategy(v, root) for k, v in props.items() if k not in required},
        )
    if kind == "array":
        return st.lists(_strategy(n["items"], root), max_size=2)
    if kind == "number":
        low, high = n.get("minimum", -1e3), n.get("maximum", 1e6)
        return st.one_of(
            st.integers(min_value=int(low), max_value=int(high)),
            st.floats(min_value=low, max_value=high, allow_nan=False),
            st.floats(min_value=n.get("minimum"), max_value=n.get("maximum"), allow_nan=False, allow_infinity=False),
        )
    if kind == "boolean":
        return st.booleans()
    if "pattern" in n:
        if n["pattern"] == _DATE:  # mostly real dates, so a document can also be read through
            return st.dates().map(str) | st.from_regex(re.compile(_DATE, re.ASCII), fullmatch=True)
        if "T(([01][0-9]|2[0-3])" in n["pattern"]:  # xsd:dateTime (unanchored): mostly real time stamps
            stamps = st.datetimes(timezones=st.just(dt.UTC)).map(lambda d: d.isoformat())
            return stamps | st.from_regex(re.compile(n["pattern"], re.ASCII))
        # ECMA-262 patterns: ``\\d`` is an ASCII digit (Python's would be any Unicode digit)
        return st.from_regex(re.compile(n["pattern"], re.ASCII), fullmatch=n["pattern"].startswith("^"))
    return st.text(max_size=min(int(n.get("maxLength", 40)), 40))


def documents(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Documents valid against ``schema`` (the root object of a SAMM-generated JSON Schema)."""
    validator = jsonschema.Draft4Validator(schema)
    return _strategy(schema, schema).filter(validator.is_valid)
