"""The verifier's fast reads answer as the reference reads: validity times (the common RFC 3339
form and whole seconds take a fast path, the rest the reference reader), the expiry text written
from the credential's own text, a schema blind to the JWT claims judging the payload without a
copy, and a token split and its signature decoded once (``peek_signed``)."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_trust_schema_compiled import TYPES, credential

from batpass.core.errors import InvalidInput
from batpass.trust import CredentialRejected, _vc
from batpass.trust._jose import peek, peek_signed
from batpass.trust._vc import (
    JWT_CLAIMS,
    LEEWAY,
    _blind_to,
    _claims_blind,
    _schema,
    _validator,
    check_times,
    iso_read,
    read_time,
    read_time_reference,
    validate_credential,
)
from batpass.trust.model import RejectReason, iso

NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
MEMBERS = ["validFrom", "validUntil", "nbf", "exp", "iat"]


def _outcome(read: Any, payload: dict[str, Any], name: str) -> tuple[Any, ...]:
    try:
        t = read(payload, name, what="credential")
    except CredentialRejected as exc:
        return ("refused", exc.reason, exc.rule, exc.details.get("field"), str(exc))
    if t is None:
        return ("absent",)
    return ("read", t, t.tzinfo is dt.UTC, t.isoformat())


digits = st.integers(0, 99).map(lambda n: f"{n:02d}")
fast_form = st.builds(
    lambda y, mo, d, h, mi, s, frac: f"{y:04d}-{mo}-{d}T{h}:{mi}:{s}{frac}Z",
    st.integers(0, 9999),
    digits,
    digits,
    digits,
    digits,
    digits,
    st.sampled_from(["", ".", ".0", ".5", ".123", ".000000", ".123456", ".1234567"]),
)
near_forms = st.builds(
    lambda s, old, new: s.replace(old, new, 1),
    fast_form,
    st.sampled_from(["Z", "T", "-", ":", "0", "1", "2"]),
    st.sampled_from(["z", "+00:00", "+02:00", "-00:00", " ", "t", "", "٣", "０", "ZZ", "Z"]),
)
times = st.one_of(
    fast_form,
    near_forms,
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,7})?Z\Z"),
    st.text(max_size=30),
    st.integers(-(2**70), 2**70),
    st.integers(-10, 40_000_000_000),
    # around the fast path's bounds and past what a datetime holds
    st.sampled_from([-1, 0, 32_503_679_999, 32_503_680_000, 253_402_300_799, 253_402_300_800, 2**63, 10**20]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.just([1]),
)


@settings(max_examples=1500, deadline=None)
@given(name=st.sampled_from(MEMBERS), value=times)
def test_a_validity_member_reads_as_the_reference_reads_it(name: str, value: Any) -> None:
    """Value, time zone object and text of a read time, or the refusal (reason, rule, field,
    message), are the reference reader's, including for text the reference refuses."""
    payload = {name: value}
    assert _outcome(read_time, payload, name) == _outcome(read_time_reference, payload, name)


def test_an_absent_member_reads_as_none() -> None:
    assert read_time({}, "validUntil") is None is read_time_reference({}, "validUntil")


@settings(max_examples=800, deadline=None)
@given(text=st.one_of(fast_form, near_forms, st.text(max_size=30)))
def test_the_expiry_text_is_what_isoformat_writes(text: str) -> None:
    try:
        t = read_time_reference({"validUntil": text}, "validUntil")
    except CredentialRejected:
        return
    assert t is not None
    assert iso_read(t, text) == t.isoformat()


def test_the_fast_form_is_taken_for_what_batpass_writes() -> None:
    """Guard against a fast path that is never taken: batpass's own times are in its form."""
    for t in (NOW, NOW.replace(microsecond=123456), NOW.replace(microsecond=1)):
        text = iso(t)
        assert iso_read(t, text) == t.isoformat()
        assert read_time({"validFrom": text}, "validFrom") == t


def _reference_check_times(payload: dict[str, Any], now: dt.datetime) -> tuple[Any, Any]:
    """check_times as it was written before its fast reads (every member read by the reference)."""
    what = "credential"
    vf, vu = read_time_reference(payload, "validFrom", what=what), read_time_reference(payload, "validUntil", what=what)
    nbf, exp = read_time_reference(payload, "nbf", what=what), read_time_reference(payload, "exp", what=what)
    read_time_reference(payload, "iat", what=what)
    if vf and nbf and abs((vf - nbf).total_seconds()) > 1:
        raise CredentialRejected(f"{what}: nbf and validFrom disagree", reason=RejectReason.MALFORMED)
    if vu and exp and abs((vu - exp).total_seconds()) > 1:
        raise CredentialRejected(f"{what}: exp and validUntil disagree", reason=RejectReason.MALFORMED)
    start, end = vf or nbf, vu or exp
    if start and now + LEEWAY < start:
        raise CredentialRejected(
            f"{what} is not valid before {iso(start)}", reason=RejectReason.NOT_YET_VALID, rule="validFrom / nbf"
        )
    if end and now - LEEWAY > end:
        raise CredentialRejected(f"{what} expired at {iso(end)}", reason=RejectReason.EXPIRED, rule="validUntil / exp")
    return start, end


def _judged(fn: Any) -> tuple[Any, ...]:
    try:
        return ("valid", fn())
    except CredentialRejected as exc:
        return ("refused", exc.reason, exc.rule, exc.details.get("field"), str(exc))


near_now = st.integers(-3, 3).map(lambda d: NOW + dt.timedelta(days=d, seconds=d * 7))
payload_times = st.fixed_dictionaries(
    {},
    optional={
        "validFrom": st.one_of(near_now.map(iso), times),
        "validUntil": st.one_of(near_now.map(iso), times),
        "nbf": st.one_of(near_now.map(lambda t: int(t.timestamp())), times),
        "exp": st.one_of(near_now.map(lambda t: int(t.timestamp())), times),
        "iat": st.one_of(near_now.map(lambda t: int(t.timestamp())), times),
    },
)


@settings(max_examples=1000, deadline=None)
@given(payload=payload_times, early=st.booleans())
def test_validity_is_judged_as_the_reference_judges_it(payload: dict[str, Any], early: bool) -> None:
    """check_times (with ``validUntil`` read beforehand and passed, as the verifier does, or not)
    gives the reference's period or refusal."""

    def fast() -> tuple[Any, Any]:
        if early:
            until = read_time(payload, "validUntil")
            return check_times(payload, NOW, what="credential", valid_until=until)
        return check_times(payload, NOW, what="credential")

    def reference() -> tuple[Any, Any]:
        if early:  # the verifier reads validUntil before the trust and status checks
            read_time_reference(payload, "validUntil")
        return _reference_check_times(payload, NOW)

    assert _judged(fast) == _judged(reference)


# --- the schema check without a copy of the body ------------------------------------------------


@pytest.mark.parametrize("ctype", TYPES)
def test_every_bundled_credential_schema_is_blind_to_the_jwt_claims(ctype: str) -> None:
    assert _claims_blind(ctype)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "additionalProperties": False},
        {"type": "object", "properties": {"iss": {"type": "string"}}},
        {"type": "object", "required": ["exp"]},
        {"type": "object", "patternProperties": {"^i": False}},
        {"type": "object", "maxProperties": 3},
        {"type": "object", "propertyNames": {"maxLength": 2}},
        {"type": "object", "unevaluatedProperties": False},
        {"type": "object", "dependentRequired": {"iat": ["x"]}},
        {"type": "object", "allOf": [{"additionalProperties": False}]},
        {"properties": {}},
        True,
    ],
)
def test_a_schema_that_could_see_a_claim_is_not_blind(schema: Any) -> None:
    assert not _blind_to(schema, frozenset(JWT_CLAIMS))


def test_a_schema_that_sees_a_claim_judges_the_body_without_the_claims(monkeypatch: pytest.MonkeyPatch) -> None:
    """A schema requiring ``iss`` (not blind) refuses a credential body, which has none, even
    when the payload carries ``iss`` as a JWT claim."""
    ctype = "MembershipCredential"
    schema = {**_schema(ctype), "required": [*_schema(ctype)["required"], "iss"]}
    cls = jsonschema.validators.validator_for(schema)
    reference = cls(schema, format_checker=cls.FORMAT_CHECKER)
    monkeypatch.setattr(_vc, "_validator", lambda _t: (reference, reference.is_valid))
    monkeypatch.setattr(_vc, "_claims_blind", lambda _t: _blind_to(schema, frozenset(JWT_CLAIMS)))
    vc = credential(ctype)
    refused = _refusal({**vc, "iss": vc["issuer"], "iat": 1})
    assert refused is not None and refused[1] == "credential"


claim_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


def _refusal(vc: dict[str, Any]) -> tuple[Any, ...] | None:
    try:
        validate_credential(vc, expand=False)
    except InvalidInput as exc:
        return (str(exc), exc.field, exc.rule)
    return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ctype=st.sampled_from(TYPES),
    claims=st.dictionaries(st.sampled_from(sorted(JWT_CLAIMS)), claim_values, max_size=5),
    broken=st.sampled_from([None, "issuer", "validFrom", "credentialSubject", "type"]),
)
def test_the_payload_is_judged_as_its_body_without_the_claims(
    ctype: str, claims: dict[str, Any], broken: str | None
) -> None:
    vc = copy.deepcopy(credential(ctype))
    if broken is not None:
        vc[broken] = 5 if broken != "type" else ["VerifiableCredential", ctype, 5]
    _reference, fast = _validator(ctype)
    payload = {**vc, **claims}
    assert fast(payload) == fast(vc)
    assert _refusal(payload) == _refusal(vc)


# --- one split, one signature decoding ----------------------------------------------------------


def _seg(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


GOOD = ".".join(
    [_seg(b'{"alg":"Ed25519","typ":"vc+jwt"}'), _seg(json.dumps({"a": 1}).encode()), _seg(bytes(range(64)))]
)


def _peeked(fn: Any, token: Any) -> tuple[Any, ...]:
    try:
        return ("read", *fn(token)[:2])
    except CredentialRejected as exc:
        return ("refused", exc.reason, exc.rule, str(exc))


@settings(max_examples=600, deadline=None)
@given(
    at=st.integers(0, len(GOOD)),
    cut=st.integers(0, 3),
    insert=st.sampled_from(["", "A", "=", "+", "/", ".", "é", "-", "_", "Q", "AA"]),
)
def test_a_token_is_read_and_refused_as_peek_reads_it(at: int, cut: int, insert: str) -> None:
    token = GOOD[:at] + insert + GOOD[at + cut :]
    assert _peeked(peek_signed, token) == _peeked(peek, token)
    try:
        _header, _payload, (parts, sig) = peek_signed(token)
    except CredentialRejected:
        return
    assert parts == token.split(".")
    assert sig == base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
