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

Verification decodes a token once. The first token with a given protected header segment, and
the first with a given key and algorithm, go through joserfc's full check; once joserfc has
accepted that header segment and that key for that algorithm, later tokens carrying the same
ones (every credential an issuer signs with one key) skip the repeated header and key checks
and have their signature checked on the key joserfc accepted (the same ``cryptography`` call),
with joserfc's size limits applied as before. Anything new, or over a limit, takes the full
path, so every refusal is the one joserfc gives.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import warnings
from collections.abc import Collection, Mapping
from typing import Any, cast

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256
from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError, SecurityWarning
from joserfc.jwk import ECKey, OKPKey

from batpass.trust._keys import KeyPair
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import RejectReason

__all__ = [
    "ACCEPTED_ALGS",
    "b64d",
    "b64e",
    "peek",
    "peek_header",
    "peek_signed",
    "sign_compact",
    "verify_compact",
    "verify_peeked",
]

#: what batpass verifies; issuing uses Ed25519 (default) or ES256
ACCEPTED_ALGS: frozenset[str] = frozenset({"Ed25519", "EdDSA", "ES256"})
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#: bits of the last character that carry no data, by segment length mod 4 (RFC 4648 §3.5)
_UNUSED_BITS = {0: 0, 2: 0x0F, 3: 0x03}
_CACHE_LIMIT = 4096
_KeyId = tuple[str, str, str, str | None]
_KEY_CACHE: dict[_KeyId, OKPKey | ECKey] = {}
#: protected header segment -> the alg joserfc accepted it for (header checks passed)
_HEADERS_OK: dict[str, str] = {}
#: (alg, key) -> the cryptography public key joserfc verified a signature with for that alg, and
#: whether it is an Ed25519 key (asked once: the key classes are ABCs, slow to test)
_OP_KEYS: dict[tuple[str, _KeyId], tuple[Ed25519PublicKey | EllipticCurvePublicKey, bool]] = {}
_LIMITS = jws.default_registry
#: protected header segment -> its decoded JSON, and whether all its values are scalars (an
#: issuer's tokens share one header)
_HEADER_JSON: dict[str, tuple[dict[str, Any], bool]] = {}


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def _urlsafe_decode(segment: str) -> bytes:
    """``base64.urlsafe_b64decode(segment + padding)`` without its Python-level steps."""
    return binascii.a2b_base64((segment + "=" * (-len(segment) % 4)).encode("ascii").translate(_TO_STANDARD))


def _check_canonical(segment: str, what: str) -> None:
    """Refuse ``segment`` unless it is canonical base64url (no padding, no stray bits)."""
    if not _SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        raise CredentialRejected(
            f"{what} is not base64url", reason=RejectReason.MALFORMED, rule="RFC 7515 §2 base64url"
        )
    # canonical iff re-encoding gives the segment back, i.e. the last character's unused bits are 0
    if segment and _ALPHABET.index(segment[-1]) & _UNUSED_BITS[len(segment) % 4]:
        raise CredentialRejected(
            f"{what} is not canonical base64url",
            reason=RejectReason.MALFORMED,
            rule="RFC 7515 §2: base64url without padding or unused bits",
        )


def b64d(segment: str, *, what: str = "segment") -> bytes:
    """Decode canonical base64url (no padding, no stray bits); anything else is malformed.

    One pass in C: with ``+``, ``/`` and ``=`` refused first, the strict standard decoder of the
    translated segment admits exactly the base64url alphabet (what ``_SEGMENT`` admits)."""
    if "+" in segment or "/" in segment or "=" in segment or len(segment) % 4 == 1:
        raise CredentialRejected(
            f"{what} is not base64url", reason=RejectReason.MALFORMED, rule="RFC 7515 §2 base64url"
        )
    try:
        padded = (segment + "=" * (-len(segment) % 4)).encode("ascii").translate(_TO_STANDARD)
        raw = binascii.a2b_base64(padded, strict_mode=True)
    except (binascii.Error, ValueError) as exc:  # a character outside the alphabet (or not ASCII)
        raise CredentialRejected(
            f"{what} is not base64url", reason=RejectReason.MALFORMED, rule="RFC 7515 §2 base64url"
        ) from exc
    # canonical iff re-encoding gives the segment back, i.e. the last character's unused bits are 0
    if segment and _ALPHABET.index(segment[-1]) & _UNUSED_BITS[len(segment) % 4]:
        raise CredentialRejected(
            f"{what} is not canonical base64url",
            reason=RejectReason.MALFORMED,
            rule="RFC 7515 §2: base64url without padding or unused bits",
        )
    return raw


#: msgspec's decoder (C) reads what ``json.loads`` reads, to the same values, or refuses it
#: (NaN, infinite numbers, lone surrogates, which ``json`` admits): a refusal is decoded again by
#: ``json``, so what a token decodes to, or whether it decodes at all, is ``json``'s answer
_DECODE = msgspec.json.Decoder().decode


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = _DECODE(raw)
    except msgspec.DecodeError:
        try:
            value = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CredentialRejected(f"{what} is not JSON", reason=RejectReason.MALFORMED) from exc
        except RecursionError:
            raise _too_deep(what) from None
    except RecursionError:  # both readers recurse per level: nested deeper than either reads
        raise _too_deep(what) from None
    if not isinstance(value, dict):
        raise CredentialRejected(f"{what} is not a JSON object", reason=RejectReason.MALFORMED)
    return value


def _too_deep(what: str) -> CredentialRejected:
    return CredentialRejected(
        f"{what} is nested too deeply to read", reason=RejectReason.MALFORMED, rule="RFC 8259 §9: nesting limit"
    )


def peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a compact JWS, *unverified* (to find issuer, key id, status)."""
    parts = _parts(token)
    header = _header(parts[0])
    payload = _json_object(b64d(parts[1], what="JWS payload"), "JWS payload")
    _check_canonical(parts[2], "JWS signature")  # decoded where the signature is checked
    return header, payload


#: a peeked token's three segments and its signature decoded (:func:`peek_signed`)
Signed = tuple[list[str], bytes]


def peek_signed(token: str) -> tuple[dict[str, Any], dict[str, Any], Signed]:
    """:func:`peek`, with the segments and the decoded signature for :func:`verify_peeked`, so
    a verifier splits the token and decodes its signature once (the same refusals: the
    signature is refused by :func:`b64d` exactly where :func:`peek` refuses it)."""
    parts = _parts(token)
    header = _header(parts[0])
    payload = _json_object(b64d(parts[1], what="JWS payload"), "JWS payload")
    return header, payload, (parts, b64d(parts[2], what="JWS signature"))


def _parts(token: str) -> list[str]:
    if not isinstance(token, str) or not token.isascii():
        raise CredentialRejected("token is not an ASCII string", reason=RejectReason.MALFORMED)
    parts = token.split(".")
    if len(parts) != 3:
        raise CredentialRejected(
            "token is not a compact JWS (three '.'-separated parts)",
            reason=RejectReason.MALFORMED,
            rule="RFC 7515 §7.1",
        )
    return parts


def peek_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, *unverified*, without decoding its payload (to
    pick the key a token names before verifying it)."""
    if not isinstance(token, str) or not token.isascii() or token.count(".") != 2:
        raise CredentialRejected(
            "token is not a compact JWS (three '.'-separated parts)",
            reason=RejectReason.MALFORMED,
            rule="RFC 7515 §7.1",
        )
    return _header(token.split(".", 1)[0])


def _header(segment: str) -> dict[str, Any]:
    """A protected header segment decoded (kept per segment: an issuer's tokens share one)."""
    known = _HEADER_JSON.get(segment)
    if known is not None:  # callers get their own copy
        return dict(known[0]) if known[1] else copy.deepcopy(known[0])
    header = _json_object(b64d(segment, what="JWS header"), "JWS header")
    if len(segment) <= _LIMITS.max_header_length:  # joserfc refuses longer headers anyway
        if len(_HEADER_JSON) > _CACHE_LIMIT:
            _HEADER_JSON.clear()
        flat = not any(isinstance(v, (dict, list)) for v in header.values())
        _HEADER_JSON[segment] = (copy.deepcopy(header), flat)
    return header


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


def _key_id(jwk: Mapping[str, Any]) -> _KeyId | None:
    """What an imported public key is made of (kty, crv, x, y), or None if not all strings."""
    kty, crv, x, y = jwk.get("kty"), jwk.get("crv"), jwk.get("x"), jwk.get("y")
    if isinstance(kty, str) and isinstance(crv, str) and isinstance(x, str) and (y is None or isinstance(y, str)):
        return kty, crv, x, y
    return None


def _import(jwk: Mapping[str, Any], alg: str) -> tuple[_KeyId | None, OKPKey | ECKey]:
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
    # the key is made of kty, crv, x and y only (nothing else is imported), so they name it
    cache_key = _key_id(jwk)
    key = _KEY_CACHE.get(cache_key) if cache_key is not None else None
    if key is None:
        try:
            pub = {k: jwk[k] for k in ("kty", "crv", "x", "y") if k in jwk}
            key = OKPKey.import_key(pub) if kty == "OKP" else ECKey.import_key(pub)
        except (JoseError, ValueError, TypeError) as exc:
            raise CredentialRejected(f"public key is unusable: {exc}", reason=RejectReason.UNKNOWN_KEY) from exc
        if cache_key is not None:
            if len(_KEY_CACHE) > _CACHE_LIMIT:
                _KEY_CACHE.clear()
            _KEY_CACHE[cache_key] = key
    return cache_key, key


def import_public(jwk: Mapping[str, Any], alg: str) -> OKPKey | ECKey:
    """Import a public JWK for ``alg``, refusing keys of another type (no key confusion)."""
    return _import(jwk, alg)[1]


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
    if parsed is None:
        return verify_peeked(token, jwk, typ=typ, parsed=peek(token), algs=algs)
    return verify_peeked(token, jwk, typ=typ, parsed=parsed, algs=algs, peeked=False)


def verify_peeked(
    token: str,
    jwk: Mapping[str, Any],
    *,
    typ: str | None,
    parsed: tuple[dict[str, Any], dict[str, Any]],
    algs: Collection[str] = ACCEPTED_ALGS,
    peeked: bool = True,
    signed: Signed | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`verify_compact` of a ``token`` the caller has just :func:`peek`-ed itself
    (``parsed``), so its segments are known to be canonical (trust's own verifiers);
    ``signed``: what :func:`peek_signed` gave with ``parsed`` for this very token."""
    header, payload = parsed
    alg = check_alg(header, algs)
    if typ is not None and header.get("typ") != typ:
        raise CredentialRejected(
            f"JWS typ is {header.get('typ')!r}, expected {typ!r}",
            reason=RejectReason.TYPE_HEADER,
            rule="explicit typing (RFC 8725 §3.11)",
        )
    key_id, key = _import(jwk, alg)
    if key_id is not None and _verify_known(token, alg, key_id, decoded=peeked, signed=signed):
        return header, payload
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
    _remember(token, alg, key_id, key)
    return header, payload


def _remember(token: str, alg: str, key_id: _KeyId | None, key: OKPKey | ECKey) -> None:
    """joserfc accepted ``token``: its header segment passed the header checks for ``alg``, and
    ``key`` (the key checks for ``alg``) verified it."""
    if key_id is None:
        return
    try:
        if "b64" in peek(token)[0]:
            return  # RFC 7797 unencoded payloads always take the full path
    except CredentialRejected:
        return
    segment = token.split(".", 1)[0]
    op = key.public_key
    if not isinstance(op, (Ed25519PublicKey, EllipticCurvePublicKey)):
        return
    if len(_HEADERS_OK) > _CACHE_LIMIT:
        _HEADERS_OK.clear()
    if len(_OP_KEYS) > _CACHE_LIMIT:
        _OP_KEYS.clear()
    _HEADERS_OK[segment] = alg
    _OP_KEYS[(alg, key_id)] = (op, isinstance(op, Ed25519PublicKey))


def _canonical(segment: str) -> bool:
    """What joserfc decodes: unpadded base64url, no unused bits set (as :func:`b64d` checks)."""
    return (
        _SEGMENT.fullmatch(segment) is not None
        and len(segment) % 4 != 1
        and not (segment and _ALPHABET.index(segment[-1]) & _UNUSED_BITS[len(segment) % 4])
    )


def _verify_known(token: str, alg: str, key_id: _KeyId, *, decoded: bool, signed: Signed | None = None) -> bool:
    """Check ``token``'s signature directly if joserfc has accepted its header segment and this
    key for ``alg`` before; False (take the full path) otherwise, if a size limit is reached, or
    if a segment is one joserfc would not decode (``decoded``: :func:`peek` has just checked
    them on this token; ``signed``: :func:`peek_signed` has, and split it and decoded its
    signature). Raises the refusal joserfc gives for a signature that does not verify."""
    known = _OP_KEYS.get((alg, key_id))
    if known is None:
        return False
    op, ed25519 = known
    if signed is not None:
        parts, sig = signed
    else:
        if not isinstance(token, str) or not token.isascii():
            return False
        parts = token.split(".")
        if len(parts) != 3:
            return False
    if _HEADERS_OK.get(parts[0]) != alg:
        return False
    lim = _LIMITS
    if (
        len(token) > lim.max_header_length + lim.max_payload_length + lim.max_signature_length
        or len(parts[1]) > lim.max_payload_length
        or len(parts[2]) > lim.max_signature_length
    ):
        return False
    if signed is None:
        if not decoded and not (_canonical(parts[1]) and _canonical(parts[2])):
            return False
        try:  # canonical, so decoded as joserfc decodes it
            sig = _urlsafe_decode(parts[2])
        except (binascii.Error, ValueError):
            return False
    signing_input = token[: len(parts[0]) + 1 + len(parts[1])].encode("ascii")
    try:
        if ed25519:
            cast(Ed25519PublicKey, op).verify(sig, signing_input)
        else:
            if len(sig) != 64:  # joserfc: r and s of 32 bytes each, else not verified
                raise InvalidSignature
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            cast(EllipticCurvePublicKey, op).verify(der, signing_input, ECDSA(SHA256()))
    except InvalidSignature as exc:
        raise CredentialRejected(
            "signature does not verify with the issuer's key", reason=RejectReason.SIGNATURE
        ) from exc
    return True
