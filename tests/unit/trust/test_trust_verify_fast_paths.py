"""The verifier's fast paths answer as the slow ones: the trust-list answer remembered per (issuer,
types) never outlives the list it came from nor an entry's period, and a payload the C JSON
decoder refuses is read as ``json`` reads it."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batpass.trust import CredentialRejected, TrustedIssuer, TrustList, TrustRegistry
from batpass.trust._jose import b64d, peek, peek_signed
from batpass.trust.model import RecognitionPolicy, RejectReason

AT = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
ISSUER = "did:web:cert.test"
TYPE = "RecycledContentAttestationCredential"
TYPES = frozenset({TYPE})


def trust_list(*issuers: TrustedIssuer, sequence: int = 1, ecosystem: str = "catena-x") -> TrustList:
    return TrustList(ecosystem, "did:web:operator.test", AT - DAY, None, issuers, sequence)


def refusal(registry: TrustRegistry, at: dt.datetime, issuer: str = ISSUER) -> RejectReason:
    with pytest.raises(CredentialRejected) as e:
        registry.evaluate(issuer, TYPES, {}, at)
    return RejectReason(e.value.reason)


def test_a_remembered_answer_is_the_answer_of_the_full_evaluation() -> None:
    registry = TrustRegistry("catena-x")
    registry.add(trust_list(TrustedIssuer(ISSUER, "certifier", TYPES)))
    first = registry.evaluate(ISSUER, TYPES, {}, AT)
    again = registry.evaluate(ISSUER, TYPES, {}, AT)
    assert again == first
    assert first[0] == TYPES and [c.name for c in first[1]] == ["issuer-trust"]
    again[1].clear()  # each caller gets its own list of checks
    assert registry.evaluate(ISSUER, TYPES, {}, AT) == first


def test_an_issuer_dropped_by_a_newer_list_is_refused_after_a_remembered_success() -> None:
    registry = TrustRegistry("catena-x")
    registry.add(trust_list(TrustedIssuer(ISSUER, "certifier", TYPES)))
    registry.evaluate(ISSUER, TYPES, {}, AT)
    registry.add(trust_list(TrustedIssuer("did:web:other.test", "other", TYPES), sequence=2))
    assert refusal(registry, AT) == RejectReason.UNKNOWN_ISSUER


def test_a_type_dropped_by_a_newer_list_is_refused_after_a_remembered_success() -> None:
    registry = TrustRegistry("catena-x")
    registry.add(trust_list(TrustedIssuer(ISSUER, "certifier", TYPES)))
    registry.evaluate(ISSUER, TYPES, {}, AT)
    registry.add(trust_list(TrustedIssuer(ISSUER, "certifier", frozenset({"OriginAttestationCredential"})), sequence=2))
    assert refusal(registry, AT) == RejectReason.NOT_TRUSTED_FOR_TYPE


@pytest.mark.parametrize(("later", "trusted"), [(AT + DAY / 2, True), (AT + 2 * DAY, False), (AT - 2 * DAY, False)])
def test_an_entry_out_of_its_period_is_refused_after_a_remembered_success(later: dt.datetime, trusted: bool) -> None:
    registry = TrustRegistry("catena-x")
    registry.add(trust_list(TrustedIssuer(ISSUER, "certifier", TYPES, AT - DAY, AT + DAY)))
    registry.evaluate(ISSUER, TYPES, {}, AT)
    if trusted:
        assert registry.evaluate(ISSUER, TYPES, {}, later)[0] == TYPES
    else:
        assert refusal(registry, later) == RejectReason.NOT_TRUSTED_FOR_TYPE


def test_an_entry_entering_its_period_is_trusted_after_a_remembered_refusal() -> None:
    registry = TrustRegistry("catena-x")
    registry.add(trust_list(TrustedIssuer(ISSUER, "certifier", TYPES, AT + DAY, None)))
    assert refusal(registry, AT) == RejectReason.NOT_TRUSTED_FOR_TYPE
    assert registry.evaluate(ISSUER, TYPES, {}, AT + 2 * DAY)[0] == TYPES


def test_a_foreign_list_added_after_a_remembered_success_is_consulted() -> None:
    registry = TrustRegistry("catena-x", RecognitionPolicy("catena-x"))
    registry.add(trust_list(TrustedIssuer(ISSUER, "certifier", TYPES)))
    registry.evaluate(ISSUER, TYPES, {}, AT)
    registry.add(trust_list(TrustedIssuer(ISSUER, "certifier abroad", TYPES), ecosystem="ouranos"))
    accepted, checks = registry.evaluate(ISSUER, TYPES, {}, AT)
    assert accepted == TYPES
    # the foreign list's entry and the missing recognition rule are part of the answer now
    assert [(c.name, c.ok) for c in checks] == [("issuer-trust", True), ("issuer-trust", True), ("recognition", False)]


def _segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


HEADER = _segment(b'{"alg":"Ed25519"}')


@pytest.mark.parametrize(
    "payload",
    [
        b'{"a":NaN}',
        b'{"a":1e400}',
        b'{"a":"\\ud800"}',
        b'{"a":123456789012345678901234567890}',
        b'{"a":1,"a":2}',
        b'{"a":-0.0,"b":[1.5,true,null]}',
    ],
)
def test_a_payload_decodes_to_what_json_reads(payload: bytes) -> None:
    token = f"{HEADER}.{_segment(payload)}.{_segment(bytes(64))}"
    decoded = peek(token)[1]
    expected = json.loads(payload)
    assert repr(decoded) == repr(expected)
    assert [type(v) for v in decoded.values()] == [type(v) for v in expected.values()]


#: nested deeper than either JSON reader recurses (each raised RecursionError, a 500)
DEEP = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
DEEP_OBJECTS = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


@pytest.mark.parametrize(
    "payload",
    [b'{"a":"\x01"}', b"\xef\xbb\xbf{}", b'{"a":"\xff"}', b"[1]", b"{", DEEP, DEEP_OBJECTS],
    ids=["control", "bom", "not-utf8", "array", "truncated", "deep-arrays", "deep-objects"],
)
def test_a_payload_json_refuses_is_malformed(payload: bytes) -> None:
    token = f"{HEADER}.{_segment(payload)}.{_segment(bytes(64))}"
    for read in (peek, peek_signed):
        with pytest.raises(CredentialRejected) as e:
            read(token)
        assert e.value.reason == RejectReason.MALFORMED


@pytest.mark.parametrize("header", [DEEP, DEEP_OBJECTS], ids=["deep-arrays", "deep-objects"])
def test_a_header_nested_too_deep_is_malformed(header: bytes) -> None:
    token = f"{_segment(header)}.{_segment(b'{}')}.{_segment(bytes(64))}"
    for read in (peek, peek_signed):
        with pytest.raises(CredentialRejected) as e:
            read(token)
        assert e.value.reason == RejectReason.MALFORMED


_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _reference_b64d(segment: str) -> tuple[str, object]:
    """base64url as RFC 7515 §2 reads it: the alphabet, no padding, no unused bits set."""
    if not _SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        return "refused", "RFC 7515 §2 base64url"
    if segment and _CHARS.index(segment[-1]) & {0: 0, 2: 0x0F, 3: 0x03}[len(segment) % 4]:
        return "refused", "RFC 7515 §2: base64url without padding or unused bits"
    return "decoded", base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from([*_CHARS, "+", "/", "=", " ", "\n", ".", "é", "\x00"]), max_size=12))
def test_segments_decode_as_rfc_7515_reads_them(segment: str) -> None:
    try:
        got: tuple[str, object] = ("decoded", b64d(segment, what="segment"))
    except CredentialRejected as exc:
        assert exc.reason == RejectReason.MALFORMED
        got = ("refused", exc.rule)
    assert got == _reference_b64d(segment)
