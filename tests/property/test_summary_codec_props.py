"""The upstream summary's codec is lossless on the wire (docs/contracts.md "The upstream
summary"): for any summary the JSON Schema accepts, ``encode_summary(decode_summary(x)) == x``
and the canonical JSON (the bytes a summary is signed over) is unchanged — integer and float
shares alike, any member order."""

from __future__ import annotations

import json
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from batpass.ledger import decode_summary, encode_summary
from batpass.ledger._summary import summary_schema

ELEMENTS = ["Li", "Co", "Ni", "Mn", "C_nat", "C_syn", "Cu", "Al", "Pb"]
MODELS = ["identity_preserved", "segregated", "controlled_blending", "mass_balance", "book_and_claim"]
shares = st.one_of(st.floats(0.0, 1.0, allow_nan=False), st.sampled_from([0, 1]))
countries = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)


@st.composite
def elements(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {
        "originByCountry": draw(st.dictionaries(countries, shares, max_size=4)),
        "highRiskShare": draw(shares),
        "recycled": {"preConsumer": draw(shares), "postConsumer": draw(shares)},
        "custodyModels": draw(st.dictionaries(st.sampled_from(MODELS), shares, max_size=3)),
    }
    if draw(st.booleans()):
        out["activeMaterial"] = {"share": draw(shares), "preConsumer": draw(shares), "postConsumer": draw(shares)}
    keys = list(out)
    return {k: out[k] for k in draw(st.permutations(keys))}


@st.composite
def summaries(draw: st.DrawFn) -> dict[str, Any]:
    json_values = st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(10**6), 10**6)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=6,
    )
    out: dict[str, Any] = {
        "summaryVersion": "1.0",
        "subject": {
            "kind": draw(st.sampled_from(["lot", "battery"])),
            "id": draw(st.text(min_size=1, max_size=20)),
            "material": draw(st.text(min_size=1, max_size=12)),
        },
        "issuer": draw(st.sampled_from(["did:web:a.example", "did:web:hub.example%3A8443:operators:x"])),
        "computedAt": draw(st.sampled_from(["2027-03-01T10:00:00Z", "2027-03-01T19:00:00.125+09:00"])),
        "elements": draw(st.dictionaries(st.sampled_from(ELEMENTS), elements(), max_size=4)),
        "minesReached": draw(st.integers(0, 500)),
        "tombstones": draw(
            st.lists(st.fixed_dictionaries({"tier": st.integers(1, 9), "reason": st.text(max_size=30)}), max_size=3)
        ),
        "footprint": draw(st.none() | st.dictionaries(st.text(max_size=6), json_values, max_size=3)),
        "credentials": draw(st.lists(st.text(min_size=1, max_size=12), max_size=3)),
        "foldedSupplierSummaries": draw(st.integers(0, 50)),
    }
    keys = list(out)
    return {k: out[k] for k in draw(st.permutations(keys))}


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@settings(max_examples=300, deadline=None)
@given(summaries())
def test_encode_of_decode_keeps_the_signed_bytes(wire: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(summary_schema()).validate(wire)
    back = encode_summary(decode_summary(wire))
    assert back == wire
    assert _canonical(back) == _canonical(wire)
