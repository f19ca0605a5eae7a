"""The upstream summary's codec is lossless on the wire (docs/contracts.md "The upstream
summary"): for any summary the JSON Schema of its version (2.0, or the 1.0 older nodes send)
accepts, ``encode_summary(decode_summary(x)) == x`` and the canonical JSON (the bytes a summary
is signed over) is unchanged — integer and float shares, nulls, any member order. And what the
ledger builds from any origin profile is a valid 2.0 summary whose series sum to 1."""

from __future__ import annotations

import json
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batpass.core.ids import Did
from batpass.ledger import SUMMARY_BASIS, SubjectKind, SummarySubject, UpstreamSummary, decode_summary, encode_summary
from batpass.ledger._profile import element_shares
from batpass.ledger._summary import summary_schema, validate_summary

ELEMENTS = ["Li", "Co", "Ni", "Mn", "C_nat", "C_syn", "Cu", "Al", "Pb"]
MODELS = ["identity_preserved", "segregated", "controlled_blending", "mass_balance", "book_and_claim"]
shares = st.one_of(st.floats(0.0, 1.0, allow_nan=False), st.sampled_from([0, 1]))
shares_or_null = st.none() | shares
countries = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)
series = st.none() | st.dictionaries(countries, shares, max_size=4)


@st.composite
def elements_2(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {
        "minedByCountry": draw(series),
        "recycledByCountry": draw(series),
        "unknownShare": draw(shares),
        "highRiskShare": draw(shares_or_null),
        "recycled": {"preConsumer": draw(shares_or_null), "postConsumer": draw(shares_or_null)},
        "custodyModels": draw(st.dictionaries(st.sampled_from(MODELS), shares, max_size=3)),
        "sites": {"certified": draw(shares_or_null), "flagged": draw(shares_or_null), "unknown": draw(shares_or_null)},
    }
    if draw(st.booleans()):
        out["activeMaterial"] = {
            "share": draw(shares),
            "preConsumer": draw(shares_or_null),
            "postConsumer": draw(shares_or_null),
        }
    keys = list(out)
    return {k: out[k] for k in draw(st.permutations(keys))}


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
    """A summary the schema of its version accepts: 2.0 or 1.0."""
    json_values = st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(10**6), 10**6)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
        max_leaves=6,
    )
    version = draw(st.sampled_from(["1.0", "2.0"]))
    out: dict[str, Any] = {
        "summaryVersion": version,
        "subject": {
            "kind": draw(st.sampled_from(["lot", "battery"])),
            "id": draw(st.text(min_size=1, max_size=20)),
            "material": draw(st.text(min_size=1, max_size=12)),
        },
        "issuer": draw(st.sampled_from(["did:web:a.example", "did:web:hub.example%3A8443:operators:x"])),
        "computedAt": draw(st.sampled_from(["2027-03-01T10:00:00Z", "2027-03-01T19:00:00.125+09:00"])),
        "elements": draw(
            st.dictionaries(st.sampled_from(ELEMENTS), elements() if version == "1.0" else elements_2(), max_size=4)
        ),
        "minesReached": draw(st.integers(0, 500)),
        "tombstones": draw(
            st.lists(st.fixed_dictionaries({"tier": st.integers(1, 9), "reason": st.text(max_size=30)}), max_size=3)
        ),
        "footprint": draw(st.none() | st.dictionaries(st.text(max_size=6), json_values, max_size=3)),
        "credentials": draw(st.lists(st.text(min_size=1, max_size=12), max_size=3)),
        "foldedSupplierSummaries": draw(st.integers(0, 50)),
    }
    if version == "2.0":
        out["basis"] = dict(SUMMARY_BASIS)
    keys = list(out)
    return {k: out[k] for k in draw(st.permutations(keys))}


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@settings(max_examples=300, deadline=None)
@given(summaries())
def test_encode_of_decode_keeps_the_signed_bytes(wire: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(summary_schema(wire["summaryVersion"])).validate(wire)
    back = encode_summary(decode_summary(wire))
    assert back == wire
    assert _canonical(back) == _canonical(wire)


weights = st.floats(0.0, 10.0, allow_nan=False)


@st.composite
def element_profiles(draw: st.DrawFn) -> dict[str, Any]:
    """One element of an origin profile (ledger._profile) as mixing leaves it: mined, recycled
    and unknown parts summing to 1 (or nothing at all), recycled shares within the recycled part."""
    mined = draw(st.dictionaries(countries, weights, max_size=3))
    rec = draw(st.dictionaries(countries, weights, max_size=3))
    unknown = draw(weights)
    total = sum(mined.values()) + sum(rec.values()) + unknown
    if total <= 0:
        mined, rec, unknown, total = {}, {}, 1.0, 1.0
    r_share = sum(rec.values()) / total
    post = draw(st.floats(0.0, 1.0)) * r_share
    return {
        "c": {k: v / total for k, v in mined.items()},
        "r": {k: v / total for k, v in rec.items()},
        "s": {},
        "hx": 0.0,
        "pre": r_share - post,
        "post": post,
        "cm": {"mass_balance": 1.0},
        "u": unknown / total,
        "a": draw(st.floats(0.0, 1.0)),
        "apre": 0.0,
        "apost": 0.0,
    }


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(ELEMENTS), element_profiles(), min_size=1, max_size=4))
def test_a_built_summary_is_valid_2_0_and_its_parts_sum_to_1(profile: dict[str, Any]) -> None:
    els = {el: element_shares(ep, ()) for el, ep in profile.items()}
    summary = UpstreamSummary(
        subject=SummarySubject(kind=SubjectKind.LOT, id="lot-1", material="cobalt_sulphate"),
        issuer=Did("did:web:a.example"),
        computed_at="2027-03-01T10:00:00Z",
        elements=els,
        mines_reached=0,
    )
    wire = encode_summary(summary)
    validate_summary(wire)  # schema 2.0 and the sums within 1e-9
    for el, shares in els.items():
        assert shares.unknown_share is not None
        nothing = shares.unknown_share >= 1.0 - 1e-12
        # nothing known is null, never 0; something known is a number
        assert (shares.mined_by_country is None) is nothing
        assert (shares.recycled.post_consumer is None) is (nothing and profile[el]["post"] + profile[el]["pre"] <= 0)
        if not nothing:
            assert shares.recycled_by_country is not None and shares.mined_by_country is not None
            # a recycler is never an origin: the recycled series is the recycled part, the mined the rest
            assert sum(shares.recycled_by_country.values()) == pytest.approx(
                profile[el]["pre"] + profile[el]["post"], abs=1e-9
            )
