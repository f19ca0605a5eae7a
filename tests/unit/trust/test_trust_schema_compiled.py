"""The compiled JSON Schema fast path answers exactly as the reference validator (``jsonschema``)
on every bundled credential schema: on valid credentials, and on random mutations of them."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batpass.core.schema_compile import NotCompilable, compile_schema, native_check
from batpass.trust import build_credential
from batpass.trust._vc import _validator
from batpass.trust.model import CredentialType
from json_mutation_testkit import mutated

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
HOLDER = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
STATUS = {
    "id": "https://cert.test/v1/credentials/status/L#4",
    "type": "BitstringStatusListEntry",
    "statusPurpose": "revocation",
    "statusListIndex": "4",
    "statusListCredential": "https://cert.test/v1/credentials/status/L",
}
SUBJECTS: dict[str, dict[str, Any]] = {
    "MembershipCredential": {"id": HOLDER, "memberOf": "catena-x", "holderIdentifier": "BPNL00000003CAR1"},
    "CertifiedCarbonFootprintCredential": {
        "id": HOLDER,
        "product": "ouranos:traceId:1",
        "framework": "ouranos-cfp",
        "footprint": {"total": 12.5},
        "computedAt": "2026-11-25T00:00:00Z",
    },
    "OriginAttestationCredential": {
        "id": HOLDER,
        "product": "urn:uuid:1",
        "element": "Ni",
        "highRiskShare": 0.0,
        "noHighRiskOrigin": True,
        "summaryDigest": "sha-256:00",
        "originByCountry": {"ID": 0.87, "NL": 0.13},
        "minesReached": 2,
    },
    "RecycledContentAttestationCredential": {
        "id": HOLDER,
        "product": "urn:uuid:1",
        "element": "Co",
        "recycledShare": 0.18,
        "preConsumerShare": 0.05,
        "postConsumerShare": 0.13,
        "summaryDigest": "sha-256:00",
        "custodyModels": {"mass_balance": 1.0},
        "supplyEvidence": [{"site": "REC-NL-1", "quantityKg": 12}],
    },
    "DueDiligenceAttestationCredential": {
        "id": HOLDER,
        "reportId": "DD-2026-1",
        "reportDigest": "sha-256:" + "ab" * 32,
        "scheme": "OECD DDG",
        "conclusion": "conformant",
    },
    "AccessRoleCredential": {"id": HOLDER, "role": "notified_body", "organisation": "TÜV X"},
    "ExportAuthorisationCredential": {
        "id": HOLDER,
        "authorisationId": "EU-CONSENT-1",
        "materials": ["black_mass"],
        "wasteClasses": ["eu.hazardous.black-mass"],
        "destinations": ["EU", "KR"],
        "capKg": 5000,
        "periodStart": "2026-11-01T00:00:00Z",
        "periodEnd": "2027-11-01T00:00:00Z",
    },
    "DataExchangeGovernanceCredential": {
        "id": HOLDER,
        "holderIdentifier": "BPNL00000003CAR1",
        "group": "UseCaseFramework",
        "useCase": "DataExchangeGovernance",
        "contractTemplate": "https://catenax-ev.github.io/docs/regulatory-framework/20000ft/data-exchange-governance",
        "contractVersion": "1.0",
    },
}
TYPES = [t.value for t in CredentialType if t is not CredentialType.STATUS_LIST]


def credential(ctype: str) -> dict[str, Any]:
    return build_credential(
        issuer="did:web:cert.test",
        ctype=ctype,
        subject=SUBJECTS[ctype],
        valid_from=NOW,
        valid_until=NOW + dt.timedelta(days=30),
        status=STATUS,
        credential_id="urn:uuid:0196",
    )


@pytest.mark.parametrize("ctype", TYPES)
def test_valid_credentials_pass_both(ctype: str) -> None:
    reference, fast = _validator(ctype)
    vc = credential(ctype)
    assert reference.is_valid(vc), list(reference.iter_errors(vc))
    assert fast is not reference.is_valid and fast(vc) is True


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(-2, 2, allow_nan=False)
    | st.sampled_from([1.0, 0.0, "", "x", "did:web:a", "2026-11-25T00:00:00Z", "not a date", "Co", "catena-x"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["id", "type", "a"]), inner, max_size=2)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ctype=st.sampled_from(TYPES),
    pick=st.integers(0, 10_000),
    action=st.sampled_from(["set", "delete", "add"]),
    value=json_values,
    name=st.sampled_from(["extra", "id", "type", "element", "role", "memberOf", "validUntil"]),
)
def test_mutations_are_judged_alike(ctype: str, pick: int, action: str, value: Any, name: str) -> None:
    reference, fast = _validator(ctype)
    vc = mutated(credential(ctype), pick, action, value, name)
    assert fast(vc) == reference.is_valid(vc)


def _both(schema: dict[str, Any], value: Any) -> tuple[bool, bool]:
    cls = jsonschema.validators.validator_for(schema)
    ref = cls(schema, format_checker=cls.FORMAT_CHECKER)
    compiled = compile_schema(schema, ref.format_checker.conforms)(value)
    # skipping the formats the checker does not know, and the native (Rust) answer, say the same
    known = frozenset(ref.format_checker.checkers)
    skipping = compile_schema(schema, ref.format_checker.conforms, known)
    assert skipping(value) == compiled
    assert native_check(schema, skipping, known)(value) == compiled
    return compiled, ref.is_valid(value)


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "integer"}, 3.0),
        ({"type": "integer"}, 3.5),
        ({"type": "integer"}, True),
        ({"type": "number"}, False),
        ({"enum": [1]}, True),
        ({"enum": [1]}, 1.0),
        ({"const": "a"}, "a"),
        ({"const": {"a": [1]}}, {"a": [True]}),
        ({"pattern": "^did:"}, "xdid:"),
        ({"pattern": "did:"}, "x did:"),
        ({"pattern": "^did:"}, 5),
        ({"minimum": 0}, "text"),
        ({"maximum": 1}, 1.5),
        ({"required": ["a"]}, []),
        ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"a": "x", "b": 1}),
        ({"additionalProperties": {"type": "number"}}, {"a": 1, "b": "x"}),
        ({"propertyNames": {"pattern": "^[A-Z]{2}$"}}, {"DE": 1, "de": 2}),
        ({"prefixItems": [{"const": "a"}], "items": {"type": "integer"}}, ["a", 1, 2]),
        ({"prefixItems": [{"const": "a"}], "items": {"type": "integer"}}, ["a", "b"]),
        ({"prefixItems": [{"const": "a"}], "items": False}, ["a", 1]),
        ({"contains": {"const": "X"}}, ["a", "X"]),
        ({"contains": {"const": "X"}}, []),
        ({"contains": {"const": "X"}}, [1, "Y", None]),
        ({"contains": {"const": "X"}}, "X"),
        ({"required": ["a", "b"]}, {"a": 1}),
        ({"required": ["a", "b"]}, {"b": 1, "a": 2, "c": 3}),
        ({"format": "ipv4"}, "999.1.1.1"),
        ({"pattern": "^[0-9]+$"}, "12"),
        ({"pattern": "^[0-9]+$"}, "12\n"),
        ({"pattern": "^[0-9]+$"}, "12\n\n"),
        ({"pattern": "^did:[a-z0-9]+:.+"}, "did:web:\n"),
        ({"pattern": "^[0-9]+(\\.[0-9]+){1,2}$"}, "1.2.3"),
        ({"minItems": 2}, ["a"]),
        ({"minLength": 2, "maxLength": 3}, "abcd"),
        ({"format": "date-time"}, "2026-11-25T00:00:00Z"),
        ({"format": "date-time"}, "yesterday"),
        ({"format": "uri"}, "https://x.test/a"),
        ({"format": "uri"}, "not a uri"),
    ],
)
def test_keyword_semantics_match_the_reference(schema: dict[str, Any], value: Any) -> None:
    full = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    fast, ref = _both(full, value)
    assert fast == ref


def test_unknown_keywords_are_not_compiled() -> None:
    with pytest.raises(NotCompilable):
        compile_schema({"$ref": "#/$defs/x"}, lambda v, f: True)
    with pytest.raises(NotCompilable):
        compile_schema({"properties": {"a": {"oneOf": []}}}, lambda v, f: True)


def test_term_check_memo_never_admits_an_undefined_property() -> None:
    """JSON-LD expansion is memoised on the document's shape: a valid credential fills the memo,
    and an undefined property (top level, nested object) in a same-typed credential still fails."""
    from batpass.core.errors import InvalidInput
    from batpass.trust._vc import validate_credential

    vc = credential("RecycledContentAttestationCredential")
    validate_credential(vc)
    validate_credential(copy.deepcopy(vc))  # same shape: answered from the memo
    for mutate in (
        lambda d: d.__setitem__("bogusTerm", 1),
        lambda d: d["credentialStatus"].__setitem__("bogusTerm", 1),
    ):
        bad = copy.deepcopy(vc)
        mutate(bad)
        with pytest.raises(InvalidInput):
            validate_credential(bad)
