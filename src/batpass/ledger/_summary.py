"""The upstream summary (docs/contracts.md): the signed, self-contained object a node gives its
customers instead of its bill of materials. Built from a lot's precomputed profile; never holds
supplier names or ids, lot quantities or purchase quantities (docs/architecture.md "Confidentiality").

Signed as a compact JWS, ``typ`` ``application/vnd.batpass.upstream-summary+jws``, alg
``Ed25519``, ``kid`` the owner's DID URL, by trust's one JWS signer; the JSON Schema ships in
``_data/``.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import jsonschema  # type: ignore[import-untyped]

from batpass.core.errors import InvalidInput, Unauthorized
from batpass.ledger._profile import Profile, element_view
from batpass.trust import CredentialRejected, NodeIdentity, peek, sign_compact, verify_compact

__all__ = ["SUMMARY_TYP", "build_summary", "sign_summary", "summary_schema", "validate_summary", "verify_summary"]

SUMMARY_TYP = "application/vnd.batpass.upstream-summary+jws"
SUMMARY_VERSION = "1.0"


@cache
def summary_schema() -> dict[str, Any]:
    text = resources.files("batpass.ledger").joinpath("_data/upstream-summary.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_summary(summary: Mapping[str, Any]) -> None:
    try:
        jsonschema.Draft202012Validator(summary_schema()).validate(summary)
    except jsonschema.ValidationError as exc:
        path = ".".join(str(p) for p in exc.absolute_path) or "summary"
        raise InvalidInput(f"upstream summary: {exc.message}", field=path, rule="upstream-summary.schema.json") from exc
    for el, s in summary.get("elements", {}).items():
        total = sum(s["originByCountry"].values())
        if s["originByCountry"] and abs(total - 1.0) > 1e-9:
            raise InvalidInput(
                f"upstream summary: originByCountry of {el} sums to {total!r}, not 1",
                field=f"elements.{el}.originByCountry",
                rule="upstream summary 1.0: shares sum to 1 within 1e-9",
            )


def build_summary(
    *,
    subject_kind: str,
    subject_id: str,
    material: str,
    issuer: str,
    profile: Profile,
    high_risk_sites: Iterable[str],
    folded: int,
    tombstones: Sequence[Mapping[str, Any]] = (),
    credentials: Sequence[str] = (),
    footprint: Mapping[str, Any] | None = None,
    computed_at: _dt.datetime | None = None,
) -> dict[str, Any]:
    hr = list(high_risk_sites)
    elements: dict[str, Any] = {}
    for el, ep in sorted(profile["e"].items()):
        v = element_view(ep, hr)
        elements[el] = {
            "originByCountry": v["originByCountry"],
            "highRiskShare": v["highRiskShare"],
            "recycled": v["recycled"],
            "custodyModels": v["custodyModels"],
            # Art. 8 measures Co, Li and Ni against the element in active materials: the share of
            # the element that sits in active materials and the recycled shares of that part
            "activeMaterial": {
                "share": min(1.0, max(0.0, v["activeShare"])),
                "preConsumer": min(1.0, max(0.0, v["activeRecycled"]["preConsumer"])),
                "postConsumer": min(1.0, max(0.0, v["activeRecycled"]["postConsumer"])),
            },
        }
    mines = len(profile["mines"]) + sum(m for m in profile["xm"].values() if m > 0)
    at = (computed_at or _dt.datetime.now(_dt.UTC)).astimezone(_dt.UTC)
    summary = {
        "summaryVersion": SUMMARY_VERSION,
        "subject": {"kind": subject_kind, "id": subject_id, "material": material},
        "issuer": issuer,
        "computedAt": at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "elements": elements,
        "minesReached": mines,
        "tombstones": [dict(x) for x in tombstones],
        "footprint": dict(footprint) if footprint is not None else None,
        "credentials": list(credentials),
        "foldedSupplierSummaries": folded,
    }
    return summary


def sign_summary(summary: dict[str, Any], identity: NodeIdentity) -> str:
    """Sign an upstream summary as a compact JWS with the owner's active Ed25519 key."""
    validate_summary(summary)
    kp = identity.active("Ed25519")
    payload = json.dumps(summary, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return sign_compact({"kid": identity.key_id(kp), "typ": SUMMARY_TYP}, payload, kp)


def verify_summary(token: str, public_jwk_resolver: Callable[[str], Mapping[str, Any] | None]) -> dict[str, Any]:
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
            rule="upstream summary 1.0",
        )
    jwk = public_jwk_resolver(kid)
    if jwk is None:
        raise Unauthorized(f"no public key known for {kid}", rule="upstream summary 1.0: kid is the owner's DID URL")
    try:
        _, summary = verify_compact(token, jwk, typ=SUMMARY_TYP, parsed=parsed, algs=("Ed25519",))
    except CredentialRejected as exc:
        raise Unauthorized("upstream summary signature does not verify", rule="RFC 7515") from exc
    if summary.get("issuer") != kid.split("#", 1)[0]:
        raise Unauthorized("upstream summary issuer differs from the signing key's DID", rule="upstream summary 1.0")
    validate_summary(summary)
    return summary
