"""The leak scan over random JSON payloads: a canary planted anywhere, in any of the forms a
payload may carry it (plain, upper-case, URL-encoded, JSON-escaped, inside a JWT or an SD-JWT
disclosure; a quantity rounded to any precision the chance rule accepts, as a number or a numeric
string), is always found; and a payload without a planted canary reports exactly what the
chance rule predicts — computed here independently with ``decimal`` — and nothing else."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from functools import cache
from typing import Any
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from batpass.demo._leak_scan import RELATIVE_TOLERANCE, Canaries, scan_records, upstream_of
from batpass.scenario import generate

KNOWN = {"rhein-auto", "rotterdam-recycling"}


@cache
def canaries() -> Canaries:
    sc = generate(lots=200, seed=11)
    above = upstream_of(sc, "osaka-cells", stop_at=KNOWN)
    # identifiers whose JSON spelling differs from the text: non-ASCII, a quote, a slash
    extra = {"tokai-cathode": ["東海カソード株式会社"], "kansai-precursor": ['Kansai "PCAM" Works/Osaka']}
    return Canaries.from_scenario(sc, above, known=KNOWN, identifiers=extra)


class Raw(str):
    """A leaf written into the JSON text as is (a number token)."""


def dump(value: Any, *, ascii_only: bool = True) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        items = (json.dumps(k) + ":" + dump(v, ascii_only=ascii_only) for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump(v, ascii_only=ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


# words of at most 7 letters: no base64 run (8+ characters) can appear, and no digits, so every
# number token of a payload is one the test generated
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=7)
texts = st.lists(words, max_size=4).map(" ".join)


@st.composite
def number_tokens(draw: st.DrawFn) -> str:
    """Integers, floats in full, and numbers near a canary written to a random precision."""
    kind = draw(st.sampled_from(["int", "float", "near"]))
    if kind == "int":
        return str(draw(st.integers(0, 10**13)))
    if kind == "float":
        return repr(draw(st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)))
    q = draw(st.sampled_from(canaries().quantities))
    delta = draw(st.sampled_from([0.0, 1e-9, -1e-7, 3e-6, -2e-5, 1e-4, -1e-3]))
    return f"{q.value * (1 + delta):.{draw(st.integers(1, 16))}g}"


leaves = st.one_of(texts, st.booleans(), st.none(), number_tokens().map(Raw), number_tokens())
payloads = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(words, inner, max_size=4)),
    max_leaves=12,
)


def tokens_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [t for v in value.values() for t in tokens_in(v)]
    if isinstance(value, list):
        return [t for v in value for t in tokens_in(v)]
    if isinstance(value, str) and value[:1].isdigit():
        return [value]
    return []


def expected_quantities(tokens: list[str]) -> set[str]:
    """The chance rule, independently: a token with ≥ min digits as written within one unit of
    its last digit (plus the relative float tolerance) of a canary."""
    c = canaries()
    out: set[str] = set()
    for t in tokens:
        d = Decimal(t)
        _, digits, exp = d.as_tuple()
        assert isinstance(exp, int)
        if "." not in t and "e" not in t.lower():  # an integer's trailing zeros are not significant
            d = d.normalize()
            _, digits, exp = d.as_tuple()
            assert isinstance(exp, int)
        sig = len("".join(map(str, digits)).lstrip("0"))
        if sig < c.min_significant_digits:
            continue
        tol = Decimal(10) ** exp + Decimal(RELATIVE_TOLERANCE) * abs(d)
        out |= {f"quantity:{i}" for i, q in enumerate(c.quantities) if abs(Decimal(q.value) - d) <= tol}
    return out


def _scan(body: str) -> dict[str, Any]:
    record = {"direction": "in-request", "method": "POST", "url": "https://carmaker.test/v/in", "headers": {}}
    return scan_records([{**record, "body": body}], canaries())


def _b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def planted_text(value: str, form: str) -> str:
    if form == "upper":
        return value.upper()
    if form == "url":
        return "q=" + quote(value, safe="")
    if form == "jwt":
        header = _b64url(json.dumps({"alg": "EdDSA", "typ": "JWT"}))
        return f"{header}.{_b64url(json.dumps({'sub': value}))}.{_b64url('signature bytes')}"
    if form == "disclosure":
        return "jwt~" + _b64url(json.dumps(["c2FsdHNhbHQ", "supplier", value])) + "~"
    return value


@settings(max_examples=150, deadline=None)
@given(
    payloads,
    st.data(),
    st.sampled_from(["plain", "upper", "url", "utf-8", "escaped-slash", "jwt", "disclosure"]),
)
def test_a_planted_text_canary_is_always_found(payload: Any, data: st.DataObject, form: str) -> None:
    c = canaries()
    i = data.draw(st.integers(0, len(c.texts) - 1))
    leaf = planted_text(c.texts[i].value, form)
    # JSON strings are written with \uXXXX escapes, or in UTF-8, or with "/" escaped as "\/"
    body = dump({"payload": payload, "note": leaf}, ascii_only=form != "utf-8")
    if form == "escaped-slash":
        body = body.replace("/", "\\/")
    assert json.loads(body)["note"] == leaf
    report = _scan(body)
    assert f"text:{i}" in {leak["canary_id"] for leak in report["leaks"]}


@settings(max_examples=150, deadline=None)
@given(payloads, st.data(), st.booleans())
def test_a_planted_quantity_is_found_at_any_precision_the_rule_accepts(
    payload: Any, data: st.DataObject, as_string: bool
) -> None:
    c = canaries()
    i = data.draw(st.integers(0, len(c.quantities) - 1))
    digits = data.draw(st.integers(c.min_significant_digits, 17))
    token = f"{c.quantities[i].value:#.{digits}g}"  # "#": trailing zeros written, as a leaker might
    leaf: Any = token if as_string else Raw(token)
    report = _scan(dump([payload, {"mass": leaf}]))
    assert f"quantity:{i}" in {leak["canary_id"] for leak in report["leaks"]}


@settings(max_examples=200, deadline=None)
@given(payloads)
def test_payloads_without_canaries_report_only_what_the_chance_rule_predicts(payload: Any) -> None:
    body = dump(payload)
    report = _scan(body)
    got = {leak["canary_id"] for leak in report["leaks"]}
    tokens = tokens_in(json.loads(body, parse_float=str, parse_int=str))
    texts_expected = {f"text:{i}" for i, t in enumerate(canaries().texts) if t.value.lower() in body.lower()}
    assert got == expected_quantities(tokens) | texts_expected
    assert report["leaks_found"] == len(got)


# --- any input: the scan never raises, and numbers inside identifiers are not numbers

#: identifiers a payload carries whose first characters read as a number with an exponent
IDENTIFIER_LIKE = [
    "0711e989-f0b4-4c6e-9d7a-2f3b5c6d7e8f",  # a UUID: 711 x 10^989 if read as a number
    "1e999",  # beyond the float range
    "9E-99999999999999999999",
    "12e3456-a",
    "urn:uuid:5e300-0-0",
]


def test_a_uuid_that_starts_like_a_number_is_no_quantity() -> None:
    for ident in IDENTIFIER_LIKE:
        report = _scan(json.dumps({"id": ident, "nested": [ident, {"k": ident.upper()}]}))
        assert not [leak for leak in report["leaks"] if leak["canary_id"].startswith("quantity:")], ident


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.lists(st.sampled_from(IDENTIFIER_LIKE), max_size=3))
def test_the_scan_never_raises_on_any_json(value: Any, idents: list[str]) -> None:
    body = json.dumps({"v": value, "ids": idents}, allow_nan=False)
    report = _scan(body)
    assert report["payloads_scanned"] == 1


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_the_scan_never_raises_on_any_text(text: str) -> None:
    assert _scan(text)["payloads_scanned"] == 1
