"""Signing and verifying crosswalk entries: a detached compact JWS (RFC 7515 §7.1 with the
payload detached, RFC 7515 Appendix F) over the entry's RFC 8785 canonical JSON.

A signed entry document is ``{"entry": {...}, "signature": "<header>..<signature>"}``. The
protected header carries ``alg`` (Ed25519 or ES256, never anything else), ``typ``
(``crosswalk-entry+jws``) and ``kid``, the DID URL of the signing key, whose DID must be the
entry's ``assertedBy``. Verification rebuilds the payload from the entry as received, so any
change to the entry breaks the signature; segments must be canonical base64url so that no two
different strings carry the same signature. Refusals name their reason; nothing here stores.
Signing and the signature check are trust's one JWS signer (``sign_compact``/``verify_compact``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import rfc8785

from batpass.bridge.errors import EntryMalformed, SignatureRejected, UntrustedAsserter
from batpass.bridge.model import AssertionPolicy, CrosswalkEntry, SignedEntry
from batpass.trust import CredentialRejected, KeyPair, NodeIdentity, RejectReason, sign_compact, verify_compact

__all__ = ["ENTRY_TYP", "PublicJwkResolver", "parse_document", "sign_entry", "verify_entry"]

ENTRY_TYP = "crosswalk-entry+jws"
_ALGS = {"Ed25519": ("OKP", "Ed25519"), "ES256": ("EC", "P-256")}
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_RULE = "RFC 7515 §7.1, detached payload (Appendix F), over RFC 8785 canonical JSON"

#: ``kid`` (a DID URL) → the public JWK of that verification method, or None if unknown
PublicJwkResolver = Callable[[str], Mapping[str, Any] | None]


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(segment: str, what: str) -> bytes:
    bad = SignatureRejected(f"{what} is not canonical base64url", field="signature", rule="RFC 7515 §2 base64url")
    if not _SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise bad from exc
    if _b64e(raw) != segment:  # unused bits set: another string for the same bytes
        raise bad
    return raw


def sign_entry(entry: CrosswalkEntry, identity: NodeIdentity, *, key: KeyPair | None = None) -> SignedEntry:
    """Sign ``entry`` as its asserter (``identity.did`` must be ``entry.asserted_by``)."""
    if str(identity.did) != str(entry.asserted_by):
        raise EntryMalformed(
            f"entry is asserted by {entry.asserted_by}, the signing identity is {identity.did}",
            field="entry.assertedBy",
            rule="the asserter signs its own entries",
        )
    kp = key or identity.active("Ed25519")
    compact = sign_compact({"typ": ENTRY_TYP, "kid": identity.key_id(kp)}, entry.canonical(), kp)
    head, _, sig = compact.split(".")
    return SignedEntry(entry, f"{head}..{sig}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise EntryMalformed(f"JSON member {k!r} appears twice", field=k, rule="RFC 8259 §4: unique names")
        out[k] = v
    return out


@functools.cache
def _schema_validator() -> Any:
    text = resources.files("batpass.bridge").joinpath("_data/crosswalk-entry.schema.json").read_text()
    return jsonschema.Draft202012Validator(json.loads(text))


def parse_document(document: bytes | str | Mapping[str, Any]) -> tuple[dict[str, Any], str, CrosswalkEntry]:
    """The entry object as received, the signature string and the parsed entry of a signed
    entry document; the document must match ``crosswalk-entry.schema.json``."""
    if isinstance(document, bytes | str):
        try:
            obj = json.loads(document, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise EntryMalformed(
                f"signed entry is not JSON: {exc}", field="document", rule="RFC 8259; docs/bridge.md"
            ) from exc
    else:
        obj = dict(document)
    if not isinstance(obj, dict) or set(obj) != {"entry", "signature"}:
        raise EntryMalformed(
            "a signed entry is an object with exactly 'entry' and 'signature'",
            field="document",
            rule="crosswalk-entry.schema.json",
        )
    if not isinstance(obj["signature"], str):
        raise EntryMalformed("signature must be a string", field="signature", rule="crosswalk-entry.schema.json")
    entry = CrosswalkEntry.from_json(obj["entry"])  # precise reasons first (check digit, field)
    errors = sorted(_schema_validator().iter_errors(obj), key=lambda e: list(e.absolute_path))
    if errors:  # the shipped schema is the contract: nothing it refuses gets through
        err = errors[0]
        path = ".".join(str(p) for p in err.absolute_path) or "document"
        raise EntryMalformed(f"{path}: {err.message}", field=path, rule="crosswalk-entry.schema.json")
    return obj["entry"], obj["signature"], entry


def _refuse_constant(name: str) -> Any:
    raise EntryMalformed(f"{name} is not JSON", field="document", rule="RFC 8259 §6")


def verify_entry(
    document: bytes | str | Mapping[str, Any],
    resolver: PublicJwkResolver,
    policy: AssertionPolicy,
) -> SignedEntry:
    """Parse, verify and authorise a signed entry; raise with the reason if anything fails."""
    raw_entry, signature, entry = parse_document(document)
    payload = rfc8785.dumps(raw_entry)
    if payload != entry.canonical():
        raise EntryMalformed(
            "entry is not in its normalised form", field="entry", rule="docs/bridge.md: canonical entry fields"
        )
    parts = signature.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise SignatureRejected(
            "signature is not a detached compact JWS 'header..signature'", field="signature", rule=_RULE
        )
    try:
        header = json.loads(_b64d(parts[0], "JWS header"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError, EntryMalformed) as exc:
        raise SignatureRejected("JWS header is not a JSON object", field="signature", rule=_RULE) from exc
    sig = _b64d(parts[2], "JWS signature")
    if not isinstance(header, dict) or set(header) != {"alg", "typ", "kid"}:
        raise SignatureRejected(
            "JWS header must hold exactly alg, typ and kid", field="signature", rule="docs/bridge.md; RFC 8725 §3.11"
        )
    alg, typ, kid = header["alg"], header["typ"], header["kid"]
    if alg not in _ALGS:
        raise SignatureRejected(
            f"JWS alg {alg!r} is refused; accepted: Ed25519, ES256",
            field="signature",
            rule="RFC 8725 §3.1: explicit algorithm list",
        )
    if typ != ENTRY_TYP:
        raise SignatureRejected(
            f"JWS typ is {typ!r}, expected {ENTRY_TYP!r}", field="signature", rule="RFC 8725 §3.11 explicit typing"
        )
    if not isinstance(kid, str) or kid.split("#", 1)[0] != str(entry.asserted_by) or "#" not in kid:
        raise SignatureRejected(
            f"entry is asserted by {entry.asserted_by} but signed with key {kid!r}",
            field="signature",
            rule="kid is a DID URL of the asserter's own DID (DID Core §3.2)",
        )
    if not policy(entry.asserted_by, entry):
        raise UntrustedAsserter(
            f"{entry.asserted_by} is not trusted to assert {entry.kind} entries in the crosswalk",
            rule="crosswalk assertion policy",
        )
    jwk = resolver(kid)
    if jwk is None:
        raise SignatureRejected(
            f"no public key {kid} in {entry.asserted_by}'s DID document",
            field="signature",
            rule="DID Core §5.2 verificationMethod",
        )
    kty, crv = _ALGS[alg]
    if (jwk.get("kty"), jwk.get("crv")) != (kty, crv) or "d" in jwk:
        raise SignatureRejected(
            f"key {kid} is {jwk.get('kty')}/{jwk.get('crv')}, alg {alg} needs a public {kty}/{crv} key",
            field="signature",
            rule="RFC 8725 §3.1: key type fits the algorithm",
        )
    token = f"{parts[0]}.{_b64e(payload)}.{_b64e(sig)}"
    try:
        verify_compact(token, jwk, typ=ENTRY_TYP, parsed=(header, raw_entry), algs=(alg,))
    except CredentialRejected as exc:
        if exc.reason == RejectReason.UNKNOWN_KEY:
            raise SignatureRejected(f"public key {kid} is unusable", field="signature", rule="RFC 7517") from exc
        raise SignatureRejected(
            f"signature does not verify over the entry's canonical JSON with {kid}", field="signature", rule=_RULE
        ) from exc
    return SignedEntry(entry, signature)
