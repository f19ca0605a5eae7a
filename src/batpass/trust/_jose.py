"""Strict compact JWS on joserfc: the one place batpass signs and checks JOSE signatures.

Every signed object of batpass goes through :func:`sign_compact` and :func:`verify_compact`
(exported from ``batpass.trust``): credentials, trust lists and tokens here, and elsewhere the
ledger's batch roots and upstream summaries, the federation's recall answers, passport versions
and the bridge's crosswalk entries. Each caller encodes its own payload bytes and passes its
header members in the order it always signed them; the signature input is then exactly what it
was (tests/unit/trust/test_signer_vectors.py keeps recorded vectors of each).

Rules (RFC 7515, RFC 8725 "JWT Best Current Practices", RFC 9864):
- algorithms are listed explicitly: ``Ed25519`` (our default), ``EdDSA`` (accepted from partners
  on Ed25519 keys only), ``ES256``; ``none`` and every HMAC/RSA algorithm are refused before any
  key is touched, so a public key can never be used as an HMAC secret;
- the key type must fit the algorithm (OKP/Ed25519 for EdDSA/Ed25519, EC/P-256 for ES256);
- every segment must be canonical base64url (RFC 7515 §2, no padding, no unused bits set), so
  no two different strings carry the same signature;
- ``typ`` is compared exactly to what the caller expects.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import warnings
from collections.abc import Collection, Mapping
from typing import Any

from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError, SecurityWarning
from joserfc.jwk import ECKey, OKPKey

from batpass.trust._keys import KeyPair
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import RejectReason

__all__ = ["ACCEPTED_ALGS", "b64d", "b64e", "peek", "sign_compact", "verify_compact"]

#: what batpass verifies; issuing uses Ed25519 (default) or ES256
ACCEPTED_ALGS: frozenset[str] = frozenset({"Ed25519", "EdDSA", "ES256"})
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
_KEY_CACHE: dict[str, OKPKey | ECKey] = {}


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(segment: str, *, what: str = "segment") -> bytes:
    """Decode canonical base64url (no padding, no stray bits); anything else is malformed."""
    if not _SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        raise CredentialRejected(
            f"{what} is not base64url", reason=RejectReason.MALFORMED, rule="RFC 7515 §2 base64url"
        )
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CredentialRejected(f"{what} is not base64url", reason=RejectReason.MALFORMED) from exc
    if b64e(raw) != segment:
        raise CredentialRejected(
            f"{what} is not canonical base64url",
            reason=RejectReason.MALFORMED,
            rule="RFC 7515 §2: base64url without padding or unused bits",
        )
    return raw


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CredentialRejected(f"{what} is not JSON", reason=RejectReason.MALFORMED) from exc
    if not isinstance(value, dict):
        raise CredentialRejected(f"{what} is not a JSON object", reason=RejectReason.MALFORMED)
    return value


def peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a compact JWS, *unverified* (to find issuer, key id, status)."""
    if not isinstance(token, str) or not token.isascii():
        raise CredentialRejected("token is not an ASCII string", reason=RejectReason.MALFORMED)
    parts = token.split(".")
    if len(parts) != 3:
        raise CredentialRejected(
            "token is not a compact JWS (three '.'-separated parts)",
            reason=RejectReason.MALFORMED,
            rule="RFC 7515 §7.1",
        )
    header = _json_object(b64d(parts[0], what="JWS header"), "JWS header")
    payload = _json_object(b64d(parts[1], what="JWS payload"), "JWS payload")
    b64d(parts[2], what="JWS signature")
    return header, payload


def check_alg(header: Mapping[str, Any], algs: Collection[str] = ACCEPTED_ALGS) -> str:
    """The header's ``alg`` if it is one of ``algs`` (a subset of :data:`ACCEPTED_ALGS`)."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algs or alg not in ACCEPTED_ALGS:
        raise CredentialRejected(
            f"JWS alg {alg!r} is refused; accepted: {', '.join(sorted(set(algs) & ACCEPTED_ALGS))}",
            reason=RejectReason.ALGORITHM,
            rule="RFC 8725 §3.1: explicit algorithm list; 'none' and HMAC never accepted",
        )
    if "crit" in header:
        raise CredentialRejected("JWS 'crit' header is not supported", reason=RejectReason.MALFORMED)
    return alg


def import_public(jwk: Mapping[str, Any], alg: str) -> OKPKey | ECKey:
    """Import a public JWK for ``alg``, refusing keys of another type (no key confusion)."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if alg in ("Ed25519", "EdDSA") and (kty, crv) != ("OKP", "Ed25519"):
        raise CredentialRejected(
            f"alg {alg} needs an Ed25519 OKP key, the key is {kty}/{crv}", reason=RejectReason.ALGORITHM
        )
    if alg == "ES256" and (kty, crv) != ("EC", "P-256"):
        raise CredentialRejected(
            f"alg ES256 needs a P-256 EC key, the key is {kty}/{crv}", reason=RejectReason.ALGORITHM
        )
    if "d" in jwk:
        raise CredentialRejected("a private key was given where a public key belongs", reason=RejectReason.MALFORMED)
    cache_key = json.dumps(dict(jwk), sort_keys=True)
    key = _KEY_CACHE.get(cache_key)
    if key is None:
        try:
            pub = {k: jwk[k] for k in ("kty", "crv", "x", "y") if k in jwk}
            key = OKPKey.import_key(pub) if kty == "OKP" else ECKey.import_key(pub)
        except (JoseError, ValueError, TypeError) as exc:
            raise CredentialRejected(f"public key is unusable: {exc}", reason=RejectReason.UNKNOWN_KEY) from exc
        if len(_KEY_CACHE) > 4096:
            _KEY_CACHE.clear()
        _KEY_CACHE[cache_key] = key
    return key


def sign_compact(header: Mapping[str, Any], payload: bytes, key: KeyPair) -> str:
    """Sign ``payload`` (the caller's bytes, signed as given) with ``key`` as a compact JWS.

    The protected header is ``alg`` (the key's algorithm) followed by ``header``'s members in
    their order (an ``alg`` there must be the key's). The key's JOSE form is parsed once per
    :class:`KeyPair` (cached), so signing on a hot path costs the signature, not the key."""
    protected = {"alg": key.alg, **header}
    if protected["alg"] != key.alg:
        raise ValueError("header alg differs from the key's algorithm")
    return jws.serialize_compact(protected, payload, key.jwk, algorithms=[key.alg])


def verify_compact(
    token: str,
    jwk: Mapping[str, Any],
    *,
    typ: str | None,
    parsed: tuple[dict[str, Any], dict[str, Any]] | None = None,
    algs: Collection[str] = ACCEPTED_ALGS,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a compact JWS against the public ``jwk``; returns (header, payload). ``parsed`` is
    what :func:`peek` returned for this very ``token`` (saves decoding it twice); ``algs``
    narrows the accepted algorithms for objects that are only ever signed one way (a
    ledger batch root is Ed25519). Public keys are imported once and cached. Raises
    :class:`CredentialRejected` whose ``reason`` says what failed."""
    header, payload = parsed if parsed is not None else peek(token)
    alg = check_alg(header, algs)
    if typ is not None and header.get("typ") != typ:
        raise CredentialRejected(
            f"JWS typ is {header.get('typ')!r}, expected {typ!r}",
            reason=RejectReason.TYPE_HEADER,
            rule="explicit typing (RFC 8725 §3.11)",
        )
    key = import_public(jwk, alg)
    try:
        if alg == "EdDSA":
            # RFC 9864 deprecates the polymorphic name; partners still send it for Ed25519 keys
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SecurityWarning)
                jws.deserialize_compact(token, key, algorithms=["EdDSA"])
        else:
            jws.deserialize_compact(token, key, algorithms=[alg])
    except BadSignatureError as exc:
        raise CredentialRejected(
            "signature does not verify with the issuer's key", reason=RejectReason.SIGNATURE
        ) from exc
    except (JoseError, ValueError) as exc:
        raise CredentialRejected(f"JWS is malformed: {exc}", reason=RejectReason.MALFORMED) from exc
    return header, payload
