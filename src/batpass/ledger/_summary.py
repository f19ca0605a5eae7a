"""The upstream summary (docs/contracts.md): the signed, self-contained object a node gives its
customers instead of its bill of materials. Built from a lot's precomputed profile; never holds
supplier names or ids, lot quantities or purchase quantities (docs/architecture.md "Confidentiality").

Built, signed and verified as the typed :class:`~batpass.core.summary.UpstreamSummary`; its wire
form is only ever produced and read by the summary codec (``encode_summary``/``decode_summary``),
and checked against the JSON Schema of its version in ``_data/`` (plus shares summing to 1) when
signed and when received, by a validator compiled once per version (``jsonschema_rs``: a received
summary is checked at every pull of a federated trace, where building and running the pure-Python
validator each time cost more than the signature check). This node writes 2.0 and still reads
1.0 (a summary of another version is refused naming ``summaryVersion``:
docs/decisions/2026-12-06-upstream-summary-2.md).

Signed as a compact JWS, ``typ`` ``application/vnd.batpass.upstream-summary+jws``, alg
``Ed25519``, ``kid`` the owner's DID URL, by trust's one JWS signer, over the wire form as
canonical JSON (sorted keys, no spaces, UTF-8).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs
import orjson

from batpass.core.clock import utc_now
from batpass.core.errors import InvalidInput, Unauthorized
from batpass.core.ids import Did
from batpass.core.sitefacts import site_facts
from batpass.core.summary import (
    SUMMARY_VERSION,
    SubjectKind,
    SummarySubject,
    Tombstone,
    UpstreamSummary,
    check_version,
    decode_summary,
    encode_summary,
)
from batpass.core.unicode import check_scalar_text
from batpass.ledger._profile import Profile, element_shares
from batpass.trust import CredentialRejected, NodeIdentity, peek, sign_compact, verify_compact

__all__ = [
    "SUMMARY_TYP",
    "build_summary",
    "sign_summary",
    "summary_header",
    "summary_schema",
    "validate_summary",
    "verify_summary",
]

SUMMARY_TYP = "application/vnd.batpass.upstream-summary+jws"


_SCHEMAS = {"1.0": "upstream-summary.schema.json", "2.0": "upstream-summary-2.0.schema.json"}


@cache
def summary_schema(version: str = SUMMARY_VERSION) -> dict[str, Any]:
    """The JSON Schema of summaries of ``version`` (one this node reads)."""
    text = resources.files("batpass.ledger").joinpath(f"_data/{_SCHEMAS[version]}").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(version: str) -> Any:
    """The compiled validator of ``version``'s schema (formats are annotations, as in 2020-12)."""
    return jsonschema_rs.validator_for(summary_schema(version), validate_formats=False)


def validate_summary(summary: Mapping[str, Any]) -> None:
    """Check a summary's wire form: a version this node reads (else 422 naming
    ``summaryVersion``), that version's JSON Schema, and the sums (docs/contracts.md): in 2.0
    the mined and recycled series and the unknown share of each element sum to 1 within 1e-9;
    in 1.0 each origin distribution does."""
    check_scalar_text(summary)
    version = check_version(summary)
    validator = _validator(version)
    try:
        try:
            validator.validate(summary)
        except ValueError as exc:  # a value of a str subclass (Did): plain JSON values, checked again
            if isinstance(exc, jsonschema_rs.ValidationError):
                raise
            validator.validate(orjson.loads(orjson.dumps(summary)))
    except jsonschema_rs.ValidationError as exc:
        path = ".".join(str(p) for p in exc.instance_path) or "summary"
        raise InvalidInput(f"upstream summary: {exc.message}", field=path, rule=_SCHEMAS[version]) from exc
    for el, s in summary.get("elements", {}).items():
        if version == "1.0":
            total = sum(s["originByCountry"].values())
            if not s["originByCountry"] or abs(total - 1.0) <= 1e-9:
                continue
            field, rule = f"elements.{el}.originByCountry", "upstream summary 1.0: shares sum to 1 within 1e-9"
        else:
            total = s["unknownShare"] + sum((s["minedByCountry"] or {}).values())
            total += sum((s["recycledByCountry"] or {}).values())
            if abs(total - 1.0) <= 1e-9:
                continue
            field = f"elements.{el}"
            rule = "upstream summary 2.0: minedByCountry, recycledByCountry and unknownShare sum to 1 within 1e-9"
        raise InvalidInput(f"upstream summary: the shares of {el} sum to {total!r}, not 1", field=field, rule=rule)


def build_summary(
    *,
    subject_kind: SubjectKind,
    subject_id: str,
    material: str,
    issuer: str,
    profile: Profile,
    high_risk_sites: Iterable[str],
    folded: int,
    tombstones: Sequence[Tombstone] = (),
    credentials: Sequence[str] = (),
    footprint: Mapping[str, Any] | None = None,
    computed_at: _dt.datetime | None = None,
) -> UpstreamSummary:
    hr = site_facts(high_risk_sites)
    elements = {el: element_shares(ep, hr) for el, ep in sorted(profile["e"].items())}
    mines = len(profile["mines"]) + sum(m for m in profile["xm"].values() if m > 0)
    at = (computed_at or utc_now()).astimezone(_dt.UTC)
    return UpstreamSummary(
        subject=SummarySubject(kind=subject_kind, id=subject_id, material=material),
        issuer=Did(issuer),
        computed_at=at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        elements=elements,
        mines_reached=mines,
        tombstones=tuple(tombstones),
        footprint=dict(footprint) if footprint is not None else None,
        credentials=tuple(credentials),
        folded_supplier_summaries=folded,
    )


def sign_summary(summary: UpstreamSummary, identity: NodeIdentity) -> str:
    """Sign an upstream summary as a compact JWS with the owner's active Ed25519 key."""
    wire = encode_summary(summary)
    validate_summary(wire)
    kp = identity.active("Ed25519")
    payload = json.dumps(wire, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return sign_compact({"kid": identity.key_id(kp), "typ": SUMMARY_TYP}, payload, kp)


def verify_summary(token: str, public_jwk_resolver: Callable[[str], Mapping[str, Any] | None]) -> UpstreamSummary:
    """Verify a signed summary and return it. The key is the one ``kid`` names (resolved through
    the issuer's DID document); the issuer must be the DID of that key; the schema must hold."""
    try:
        parsed = peek(token)
    except CredentialRejected as exc:
        raise InvalidInput("upstream summary is not a compact JWS", field="summary", rule="RFC 7515 §7.1") from exc
    headers = parsed[0]
    kid = headers.get("kid")
    if headers.get("typ") != SUMMARY_TYP or headers.get("alg") != "Ed25519" or not isinstance(kid, str):
        raise InvalidInput(
            f"upstream summary JWS needs typ {SUMMARY_TYP}, alg Ed25519 and a kid",
            field="summary",
            rule="upstream summary 2.0",
        )
    jwk = public_jwk_resolver(kid)
    if jwk is None:
        raise Unauthorized(
            f"no public key known for {kid}", field="kid", rule="upstream summary 1.0: kid is the owner's DID URL"
        )
    try:
        _, wire = verify_compact(token, jwk, typ=SUMMARY_TYP, parsed=parsed, algs=("Ed25519",))
    except CredentialRejected as exc:
        raise Unauthorized("upstream summary signature does not verify", field="jws", rule="RFC 7515") from exc
    if wire.get("issuer") != kid.split("#", 1)[0]:
        raise Unauthorized(
            "upstream summary issuer differs from the signing key's DID", field="issuer", rule="upstream summary 1.0"
        )
    validate_summary(wire)
    return decode_summary(wire)


def summary_header(token: str) -> dict[str, Any]:
    """The protected header of a summary token, read without verifying it (to pick the key)."""
    try:
        return peek(token)[0]
    except CredentialRejected as exc:
        raise InvalidInput("upstream summary is not a compact JWS", field="summary", rule="RFC 7515 §7.1") from exc
