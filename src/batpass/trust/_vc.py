"""W3C Verifiable Credentials 2.0 secured as ``vc+jwt`` and presentations as ``vp+jwt``
(W3C VC-JOSE-COSE §3.1.1/§3.2.1), on joserfc.

The JWS payload is the credential itself; ``iss``, ``jti``, ``iat``, ``nbf`` and ``exp`` mirror
``issuer``, ``id``, issuance, ``validFrom`` and ``validUntil`` and must agree with them. The
header carries ``typ`` ``vc+jwt`` (``vp+jwt``), ``cty`` ``vc`` (``vp``) and ``kid``, the DID URL
of the issuer's key. A presentation wraps credentials as ``EnvelopedVerifiableCredential``
(``data:application/vc+jwt,<token>``) and binds ``aud`` and ``nonce``.

Credentials are checked against the JSON Schema of their type and, at issuance, expanded with
pyld through a document loader that serves only the bundled contexts (no network): a property
no context defines is an error, never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from pyld import jsonld

from batpass.core.clock import utc_now
from batpass.core.errors import InvalidInput
from batpass.core.ids import new_uuid7
from batpass.core.schema_compile import NotCompilable, compile_schema, native_check
from batpass.trust._jose import peek, peek_signed, sign_compact, verify_peeked
from batpass.trust._keys import NodeIdentity
from batpass.trust._resolver import DidResolver, check_key_time
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import BATPASS_CONTEXT, VC_V2_CONTEXT, CredentialType, RejectReason, iso, parse_time

__all__ = [
    "CONTEXT_FILES",
    "build_credential",
    "document_loader",
    "expand_strict",
    "issue_vc_jwt",
    "issue_vp_jwt",
    "validate_credential",
    "verify_vc_jwt",
    "verify_vp_jwt",
]

_DATA = Path(__file__).resolve().parent / "_data"
#: URL → bundled file; the loader serves these and refuses anything else
CONTEXT_FILES: dict[str, Path] = {
    VC_V2_CONTEXT: _DATA / "contexts" / "credentials-v2.jsonld",
    BATPASS_CONTEXT: _DATA / "contexts" / "batpass-credentials-v1.jsonld",
    "https://www.w3.org/ns/did/v1": _DATA / "contexts" / "did-v1.jsonld",
}
JWT_CLAIMS = ("iss", "sub", "jti", "iat", "nbf", "exp", "aud", "nonce", "cnf")
LEEWAY = dt.timedelta(seconds=60)


@functools.cache
def _context_doc(url: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(CONTEXT_FILES[url].read_text(encoding="utf-8"))
    return doc


def document_loader(url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """pyld document loader over the bundled contexts only (never the network)."""
    if url not in CONTEXT_FILES:
        raise InvalidInput(
            f"JSON-LD context {url} is not bundled with batpass; it is never fetched",
            field="@context",
            rule="contexts are loaded from the package only",
        )
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": _context_doc(url),
    }


def _shape(value: Any) -> Any:
    """What JSON-LD expansion's outcome depends on here, as a hashable skeleton: the property
    names at each level, the contexts and the ``type`` values (term definitions do not depend on
    other values, ``@json`` keeps them opaque); array elements as a set of their skeletons."""
    if isinstance(value, dict):
        return frozenset(
            (k, json.dumps(v, sort_keys=True)) if k in ("@context", "type", "@type") else (k, _shape(v))
            for k, v in value.items()
        )
    if isinstance(value, list):
        return ("[]", frozenset(_shape(v) for v in value))
    return None


_EXPANDED_OK: set[Any] = set()


def check_terms(doc: Mapping[str, Any]) -> None:
    """:func:`expand_strict`, memoised on the document's shape (same shape, same outcome)."""
    key = _shape(dict(doc))
    if key in _EXPANDED_OK:
        return
    expand_strict(doc)
    if len(_EXPANDED_OK) > 10_000:
        _EXPANDED_OK.clear()
    _EXPANDED_OK.add(key)


def expand_strict(doc: Mapping[str, Any]) -> list[Any]:
    """Expand JSON-LD with the bundled loader; any property no context defines is an error."""
    dropped: list[str] = []
    try:
        expanded: list[Any] = jsonld.expand(
            dict(doc),
            {"documentLoader": document_loader},
            on_property_dropped=lambda prop: dropped.append(str(prop)),
        )
    except jsonld.JsonLdError as exc:
        raise InvalidInput(f"JSON-LD expansion failed: {exc}", field="@context", rule="JSON-LD 1.1") from exc
    if dropped:
        raise InvalidInput(
            f"{', '.join(sorted(set(dropped)))} not defined by any context of the credential",
            field=dropped[0],
            rule="every property is defined by the bundled JSON-LD contexts (VC DM 2.0 §4.3)",
        )
    return expanded


@functools.cache
def _validator(ctype: str) -> tuple[jsonschema.protocols.Validator, Callable[[Any], bool]]:
    """The reference validator of a type's schema and its compiled fast path (compiled once;
    the reference answers alone if the schema uses a keyword the compiler does not know)."""
    schema = _schema(ctype)
    cls = jsonschema.validators.validator_for(schema)
    validator: jsonschema.protocols.Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    checker = validator.format_checker
    try:
        known = frozenset(checker.checkers) if checker is not None else frozenset()
        compiled = compile_schema(schema, checker.conforms if checker is not None else lambda _v, _f: True, known)
        fast = native_check(schema, compiled, known)
    except NotCompilable:
        fast = validator.is_valid
    return validator, fast


@functools.cache
def _schema(ctype: str) -> Any:
    return json.loads((_DATA / "schemas" / f"{ctype}.schema.json").read_text(encoding="utf-8"))


@functools.cache
def _claims_blind(ctype: str) -> bool:
    """Whether the type's schema answers the same with or without the JWT claim members."""
    return _blind_to(_schema(ctype), frozenset(JWT_CLAIMS))


#: top-level keywords with which an object's members other than those named by ``properties``
#: and ``required`` have no effect on validity (annotations, the instance type, those two)
_BLIND_KEYWORDS = frozenset({"$schema", "$id", "title", "description", "$comment", "examples", "default"}) | {
    "type",
    "required",
    "properties",
}


def _blind_to(schema: Any, names: frozenset[str]) -> bool:
    """Whether ``schema`` gives every object the same answer with or without its members
    ``names``: its top level only types the instance, requires members and constrains named
    members, none of them one of ``names``; ``additionalProperties``, ``propertyNames``,
    ``patternProperties``, member counts and every other keyword could see them."""
    if not isinstance(schema, dict) or not set(schema) <= _BLIND_KEYWORDS or schema.get("type") != "object":
        return False
    properties, required = schema.get("properties", {}), schema.get("required", [])
    return (
        isinstance(properties, dict)
        and isinstance(required, list)
        and not names & set(properties)
        and not names & {r for r in required if isinstance(r, str)}
    )


#: the credential types with a bundled schema (the status-list credential has none)
_SCHEMA_TYPES = frozenset(t.value for t in CredentialType) - {CredentialType.STATUS_LIST.value}


def schema_type(types: Sequence[str]) -> str | None:
    for t in types:
        if t in _SCHEMA_TYPES:
            return t
    return None


def validate_credential(vc: Mapping[str, Any], *, expand: bool = True) -> None:
    """JSON Schema of the credential's batpass type, then (optionally) strict JSON-LD expansion."""
    types = vc.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        raise InvalidInput("type must be a list containing VerifiableCredential", field="type", rule="VC DM 2.0 §4.5")
    ctype = schema_type(types)
    body: Mapping[str, Any] | None = None
    if ctype is not None:
        validator, fast = _validator(ctype)
        # the schema judges the credential without the JWT claims; a schema blind to them judges
        # the payload as it is, without a copy (the same answer), the reference names any error
        if not (_claims_blind(ctype) and isinstance(vc, dict) and fast(vc)):
            body = {k: v for k, v in vc.items() if k not in JWT_CLAIMS}
            # the compiled check answers valid / not valid; the reference names the error
            err = None if fast(body) else jsonschema.exceptions.best_match(validator.iter_errors(body))
            if err is not None:
                path = ".".join(str(p) for p in err.absolute_path) or "credential"
                raise InvalidInput(f"{path}: {err.message}", field=path, rule=f"{ctype}.schema.json ({err.validator})")
    if expand:
        check_terms(body if body is not None else {k: v for k, v in vc.items() if k not in JWT_CLAIMS})


def build_credential(
    *,
    issuer: str,
    ctype: str,
    subject: Mapping[str, Any],
    valid_from: dt.datetime,
    valid_until: dt.datetime | None,
    status: Mapping[str, Any] | None = None,
    credential_id: str | None = None,
) -> dict[str, Any]:
    """A VC 2.0 credential of a batpass type (unsigned)."""
    vc: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT, BATPASS_CONTEXT],
        "id": credential_id or f"urn:uuid:{new_uuid7()}",
        "type": ["VerifiableCredential", ctype],
        "issuer": issuer,
        "validFrom": iso(valid_from),
        "credentialSubject": dict(subject),
    }
    if valid_until is not None:
        vc["validUntil"] = iso(valid_until)
    if status is not None:
        vc["credentialStatus"] = dict(status)
    return vc


def _ts(t: dt.datetime) -> int:
    return int(t.timestamp())


def issue_vc_jwt(
    identity: NodeIdentity,
    vc: Mapping[str, Any],
    *,
    alg: str = "Ed25519",
    validate: bool = True,
    expand: bool = True,
    now: dt.datetime | None = None,
) -> str:
    """Sign a credential as ``vc+jwt`` with the issuer's active ``alg`` key, issued (``iat``) at
    ``now`` (default: the current time)."""
    if vc.get("issuer") != identity.did:
        raise InvalidInput("issuer must be the signing identity's DID", field="issuer", rule="VC-JOSE-COSE §3.1.1")
    if validate:
        validate_credential(vc, expand=expand)
    key = identity.active(alg)
    payload = dict(vc)
    payload["iss"] = identity.did
    payload["iat"] = _ts(now or utc_now())
    if "id" in vc:
        payload["jti"] = vc["id"]
    payload["nbf"] = _ts(parse_time(vc["validFrom"]))
    if "validUntil" in vc:
        payload["exp"] = _ts(parse_time(vc["validUntil"]))
    header = {"typ": "vc+jwt", "cty": "vc", "kid": identity.key_id(key)}
    return sign_compact(header, json.dumps(payload, separators=(",", ":")).encode(), key)


#: the rule each validity member breaks when it cannot be read
_TIME_RULES = {
    "validFrom": "VC DM 2.0 §4.9: validFrom is an RFC 3339 date-time with a time zone",
    "validUntil": "VC DM 2.0 §4.9: validUntil is an RFC 3339 date-time with a time zone",
    "nbf": "RFC 7519 §4.1.5: nbf is a NumericDate",
    "exp": "RFC 7519 §4.1.4: exp is a NumericDate",
    "iat": "RFC 7519 §4.1.6: iat is a NumericDate",
}


#: the common RFC 3339 form: UTC, whole seconds or a fraction of up to six digits, ASCII digits
#: only (``2026-11-25T12:00:00Z``, ``2026-11-25T12:00:00.123456Z``: what :func:`iso` writes)
_UTC_SECONDS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z").fullmatch
#: seconds since the epoch that ``fromtimestamp`` reads whatever the platform (1970 to 3000)
_SECONDS_READ = range(0, 32_503_680_000)
_ABSENT: Any = object()


def read_time(payload: Mapping[str, Any], name: str, *, what: str = "credential") -> dt.datetime | None:
    """The validity member ``name`` of a credential's payload as an aware UTC datetime (None when
    absent): ``validFrom``/``validUntil`` RFC 3339 text, ``nbf``/``exp``/``iat`` numbers of
    seconds. One that cannot be read is refused as malformed, naming the member and its rule.

    The common forms take a fast path giving what :func:`read_time_reference` gives: text of the
    form ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` is read by ``fromisoformat`` alone (since Python 3.11 it reads
    the trailing ``Z`` as the ``+00:00`` the reference puts there, and the time is in UTC already),
    an integer from 1970 to 3000 by ``fromtimestamp``; anything else, and a fast-form text that
    is no date, is the reference's to read or refuse."""
    value = payload.get(name, _ABSENT)
    if value is _ABSENT:
        return None
    if value.__class__ is str:
        if name in _TEXT_TIMES and _UTC_SECONDS(value) is not None:
            try:
                return dt.datetime.fromisoformat(value)
            except ValueError:
                pass
    elif value.__class__ is int and value in _SECONDS_READ and name in _NUMBER_TIMES:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return read_time_reference(payload, name, what=what)


_TEXT_TIMES = frozenset({"validFrom", "validUntil"})
_NUMBER_TIMES = frozenset({"nbf", "exp", "iat"})


def read_time_reference(payload: Mapping[str, Any], name: str, *, what: str = "credential") -> dt.datetime | None:
    """:func:`read_time` without its fast path: the definition of what each member reads as."""
    if name not in payload:
        return None
    value = payload[name]
    try:
        if name in ("validFrom", "validUntil"):
            if not isinstance(value, str):
                raise TypeError(name)
            return parse_time(value)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise TypeError(name)
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (ValueError, TypeError, OverflowError, OSError) as exc:
        raise CredentialRejected(
            f"{what}: {name} cannot be read as a time",
            reason=RejectReason.MALFORMED,
            rule=_TIME_RULES[name],
            field=name,
        ) from exc


def iso_read(t: dt.datetime, text: Any) -> str:
    """``t.isoformat()`` of a time :func:`read_time` read from ``text``, without formatting it
    again where the text already is what ``isoformat`` writes for it: the fast form with whole
    seconds or six digits of a fraction (not all zero), its ``Z`` written ``+00:00``."""
    if text.__class__ is str and t.tzinfo is dt.UTC and _UTC_SECONDS(text) is not None:
        if len(text) == 20 and t.microsecond == 0:
            return f"{text[:19]}+00:00"
        if len(text) == 27 and t.microsecond != 0:
            return f"{text[:26]}+00:00"
    return t.isoformat()


def check_times(
    payload: Mapping[str, Any], now: dt.datetime, *, what: str, valid_until: dt.datetime | None = _ABSENT
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """validFrom/validUntil (VC DM 2.0 §4.9) and nbf/exp (RFC 7519 §4.1.4-5), within 60 s leeway.
    ``valid_until``: what :func:`read_time` has just read of this payload's ``validUntil`` (it is
    not read again)."""
    vf = read_time(payload, "validFrom", what=what)
    vu = read_time(payload, "validUntil", what=what) if valid_until is _ABSENT else valid_until
    nbf, exp = read_time(payload, "nbf", what=what), read_time(payload, "exp", what=what)
    iat = payload.get("iat", _ABSENT)
    if not (iat is _ABSENT or (iat.__class__ is int and iat in _SECONDS_READ)):  # else readable
        read_time(payload, "iat", what=what)
    if vf and nbf and abs((vf - nbf).total_seconds()) > 1:
        raise CredentialRejected(f"{what}: nbf and validFrom disagree", reason=RejectReason.MALFORMED)
    if vu and exp and abs((vu - exp).total_seconds()) > 1:
        raise CredentialRejected(f"{what}: exp and validUntil disagree", reason=RejectReason.MALFORMED)
    start, end = vf or nbf, vu or exp
    if start and now + LEEWAY < start:
        raise CredentialRejected(
            f"{what} is not valid before {iso(start)}",
            reason=RejectReason.NOT_YET_VALID,
            rule="validFrom / nbf",
        )
    if end and now - LEEWAY > end:
        raise CredentialRejected(f"{what} expired at {iso(end)}", reason=RejectReason.EXPIRED, rule="validUntil / exp")
    return start, end


def verify_vc_jwt(
    token: str,
    resolver: DidResolver,
    *,
    now: dt.datetime | None = None,
    check_schema: bool = True,
    check_validity: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check a ``vc+jwt``'s signature (issuer's DID key), shape and validity period.

    Returns (header, credential). Trust, recognition and status are the verifier's next steps.
    """
    now = now or utc_now()
    header, unverified, signed = peek_signed(token)
    issuer = unverified.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    if not isinstance(issuer, str) or unverified.get("iss", issuer) != issuer:
        raise CredentialRejected("credential has no issuer, or iss differs from issuer", reason=RejectReason.MALFORMED)
    vm = resolver.method(str(header.get("kid", "")), controller=issuer)
    header, vc = verify_peeked(token, vm.jwk, typ="vc+jwt", parsed=(header, unverified), signed=signed)
    if vm.expires is not None:  # a retired key: when was the credential signed
        iat = vc.get("iat")
        check_key_time(vm, dt.datetime.fromtimestamp(iat, dt.UTC) if isinstance(iat, int) else None)
    if "id" in vc and vc.get("jti", vc["id"]) != vc["id"]:
        raise CredentialRejected("jti differs from the credential id", reason=RejectReason.MALFORMED)
    if check_schema:
        try:
            validate_credential(vc, expand=False)
        except InvalidInput as exc:
            raise CredentialRejected(str(exc), reason=RejectReason.SCHEMA, rule=exc.rule) from exc
    if check_validity:
        check_times(vc, now, what="credential")
    return header, vc


def issue_vp_jwt(
    holder: NodeIdentity,
    credentials: Sequence[str],
    *,
    audience: str,
    nonce: str,
    ttl_s: int = 300,
    alg: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    """A ``vp+jwt`` enveloping ``vc+jwt``/SD-JWT credentials, bound to ``audience`` and ``nonce``,
    issued at ``now`` (default: the current time)."""
    key = holder.active(alg) if alg else next(k for k in reversed(holder.keys) if not k.retired)
    now = now or utc_now()
    envelopes = []
    for c in credentials:
        media = "application/dc+sd-jwt" if "~" in c else "application/vc+jwt"
        envelopes.append(
            {"@context": VC_V2_CONTEXT, "id": f"data:{media},{c}", "type": "EnvelopedVerifiableCredential"}
        )
    payload = {
        "@context": [VC_V2_CONTEXT],
        "type": ["VerifiablePresentation"],
        "holder": holder.did,
        "verifiableCredential": envelopes,
        "iss": holder.did,
        "aud": audience,
        "nonce": nonce,
        "iat": _ts(now),
        "exp": _ts(now + dt.timedelta(seconds=ttl_s)),
        "jti": f"urn:uuid:{new_uuid7()}",
    }
    header = {"typ": "vp+jwt", "cty": "vp", "kid": holder.key_id(key)}
    return sign_compact(header, json.dumps(payload, separators=(",", ":")).encode(), key)


def verify_vp_jwt(
    token: str, resolver: DidResolver, *, audience: str, now: dt.datetime | None = None
) -> tuple[str, str, list[str]]:
    """Check a ``vp+jwt``: holder signature, audience, period. Returns (holder, nonce, credentials)."""
    now = now or utc_now()
    header, unverified = peek(token)
    holder = unverified.get("holder", unverified.get("iss"))
    if not isinstance(holder, str) or unverified.get("iss", holder) != holder:
        raise CredentialRejected("presentation has no holder, or iss differs", reason=RejectReason.MALFORMED)
    vm = resolver.method(str(header.get("kid", "")), controller=holder)
    _, vp = verify_peeked(token, vm.jwk, typ="vp+jwt", parsed=(header, unverified))
    iat = vp.get("iat")
    check_key_time(vm, dt.datetime.fromtimestamp(iat, dt.UTC) if isinstance(iat, int) else None)
    aud = vp.get("aud")
    if aud != audience and not (isinstance(aud, list) and audience in aud):
        raise CredentialRejected(
            f"presentation audience {aud!r} is not this verifier ({audience})",
            reason=RejectReason.AUDIENCE,
            rule='aud = the serving node\'s DID (docs/architecture.md "URL layout")',
        )
    if not isinstance(vp.get("exp"), int):
        raise CredentialRejected("presentation has no exp", reason=RejectReason.MALFORMED, rule="vp+jwt carries exp")
    check_times(vp, now, what="presentation")
    nonce = vp.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise CredentialRejected("presentation has no nonce", reason=RejectReason.NONCE_UNKNOWN)
    creds: list[str] = []
    for env in vp.get("verifiableCredential", []):
        ident = env.get("id", "") if isinstance(env, dict) else ""
        if env.get("type") != "EnvelopedVerifiableCredential" or not ident.startswith("data:application/"):
            raise CredentialRejected(
                "presentation holds a credential that is not enveloped", reason=RejectReason.MALFORMED
            )
        creds.append(ident.split(",", 1)[1])
    return holder, nonce, creds
