""":func:`~batpass.core.unicode.check_scalar_text`, the check every write path runs on text it
did not type itself: whatever the JSON value's shape, a string holding a lone surrogate or NUL —
as a value or a member name, anywhere — is refused naming its dotted path and the rule it
breaks, and a value without one passes (noncharacters and astral characters included)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batpass.core.errors import InvalidInput
from batpass.core.unicode import NUL_TEXT_RULE, SCALAR_TEXT_RULE, check_scalar_text

#: text every store holds: scalar values without NUL (noncharacters such as U+FFFF included)
GOOD_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
NAMES = st.text(st.characters(codec="utf-8", exclude_characters="\x00."), min_size=1, max_size=6)
VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | GOOD_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAMES, inner, max_size=4),
    max_leaves=12,
)
HOSTILE = st.sampled_from([("\x00", NUL_TEXT_RULE), ("\ud800", SCALAR_TEXT_RULE), ("\udfff", SCALAR_TEXT_RULE)])


def _string_slots(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    """Every place a string may go, as (path, how): ``value`` replaces the value at ``path``,
    ``name`` adds a member so named to the object at ``path``, ``item`` appends to its list."""
    if isinstance(value, dict):
        out = [(path, "name")]
        for k, v in value.items():
            out += _string_slots(v, (*path, k))
        return out
    if isinstance(value, list):
        return [(path, "item")] + [slot for i, v in enumerate(value) for slot in _string_slots(v, (*path, i))]
    return [(path, "value")]


@given(value=VALUES)
def test_text_every_store_holds_passes(value: Any) -> None:
    check_scalar_text(value, field="body")


@given(value=VALUES, hostile=HOSTILE, pick=st.integers(min_value=0), where=st.integers(0, 3), data=st.data())
def test_text_no_store_holds_is_refused_wherever_it_is(
    value: Any, hostile: tuple[str, str], pick: int, where: int, data: st.DataObject
) -> None:
    bad, rule = hostile
    slots = _string_slots(value)
    path, how = slots[pick % len(slots)]
    text = data.draw(GOOD_TEXT)
    text = text[:where] + bad + text[where:]
    named = path  # a member name is reported by the path of the object holding it
    if how == "value" and not path:
        value = text
    else:
        parent = value
        for step in path if how != "value" else path[:-1]:
            parent = parent[step]
        if how == "name":
            parent[text] = 1
        elif how == "item":
            parent.append(text)
            named = (*path, len(parent) - 1)
        else:
            parent[path[-1]] = text
    with pytest.raises(InvalidInput) as info:
        check_scalar_text(value, field="body")
    assert (info.value.field, info.value.rule) == (".".join(map(str, ("body", *named))), rule)
