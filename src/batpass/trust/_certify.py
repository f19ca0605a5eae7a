"""Certification: a certifier verifies the holder's signed upstream summary (docs/contracts.md) and
computes the claim itself — "cobalt recycled share ≥ 16 %", "no origin from high-risk sites",
a certified footprint — so a holder cannot assert it alone (docs/architecture.md "Flows", flow 5).

The summary is a compact JWS (``typ`` ``application/vnd.batpass.upstream-summary+jws``, alg
``Ed25519``, ``kid`` = the owner's DID URL) over the summary JSON; its ``issuer`` must be the
holder asking for certification. Supplier evidence (names, quantities) the holder shows goes into
the credential only as selectively disclosable array elements, so presentations omit it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from batpass.core.errors import InvalidInput
from batpass.trust._jose import peek, verify_compact
from batpass.trust._resolver import DidResolver, check_key_time
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import CredentialType, RejectReason, iso, parse_time

__all__ = ["SUMMARY_TYP", "Claim", "certify_claim", "verify_upstream_summary"]

SUMMARY_TYP = "application/vnd.batpass.upstream-summary+jws"
Claim = tuple[str, Mapping[str, Any], tuple[str, ...]]  # (credential type, subject, disclosable paths)


def verify_upstream_summary(jws: str, resolver: DidResolver) -> dict[str, Any]:
    """Verify a signed upstream summary against its owner's DID key; returns the summary JSON."""
    header, unverified = peek(jws)
    owner = unverified.get("issuer")
    if not isinstance(owner, str):
        raise CredentialRejected(
            "upstream summary names no issuer", reason=RejectReason.MALFORMED, rule="upstream summary 1.0 issuer"
        )
    vm = resolver.method(str(header.get("kid", "")), controller=owner)
    _, summary = verify_compact(jws, vm.jwk, typ=SUMMARY_TYP)
    try:
        check_key_time(vm, parse_time(str(summary.get("computedAt"))))
    except ValueError as exc:
        raise CredentialRejected("computedAt is not RFC 3339", reason=RejectReason.MALFORMED) from exc
    if summary.get("summaryVersion") != "1.0" or not isinstance(summary.get("elements"), dict):
        raise CredentialRejected("not an upstream summary 1.0", reason=RejectReason.SCHEMA, rule="upstream summary 1.0")
    return summary


def _share(el: Mapping[str, Any], *path: str) -> float:
    v: Any = el
    for p in path:
        v = v.get(p, 0.0) if isinstance(v, Mapping) else 0.0
    if not isinstance(v, (int, float)) or not 0.0 <= float(v) <= 1.0:
        raise InvalidInput(
            f"{'.'.join(path)} is not a share in 0..1", field=".".join(path), rule="upstream summary 1.0"
        )
    return float(v)


def certify_claim(
    summary: Mapping[str, Any],
    summary_jws: str,
    *,
    holder: str,
    claim: str,
    element: str | None = None,
    threshold: float | None = None,
    framework: str | None = None,
    evidence: Sequence[Mapping[str, Any]] = (),
) -> Claim:
    """Compute a claim from a verified summary. ``claim`` is ``recycled-content`` (needs
    ``element`` and ``threshold``), ``no-high-risk-origin`` (needs ``element``) or
    ``carbon-footprint`` (needs ``framework``). Refuses a claim the data does not support."""
    if summary.get("issuer") != holder:
        raise CredentialRejected(
            f"summary was computed by {summary.get('issuer')}, not by the holder {holder}",
            reason=RejectReason.HOLDER,
            rule="a holder is certified on its own signed summary",
        )
    digest = "sha-256:" + hashlib.sha256(summary_jws.encode("ascii")).hexdigest()
    product = str(summary.get("subject", {}).get("id", ""))
    common: dict[str, Any] = {
        "id": holder,
        "product": product,
        "summaryDigest": digest,
        "summaryIssuer": holder,
        "computedAt": iso(dt.datetime.now(dt.UTC)),
    }
    ev = [dict(e) for e in evidence]
    if claim in ("recycled-content", "no-high-risk-origin"):
        elements = summary["elements"]
        if element not in elements:
            raise InvalidInput(
                f"the summary has no element {element!r}", field="element", rule="upstream summary 1.0 elements"
            )
        el = elements[element]
        if claim == "recycled-content":
            if threshold is None:
                raise InvalidInput("recycled-content needs a threshold", field="threshold", rule="Art. 8(2)")
            pre, post = _share(el, "recycled", "preConsumer"), _share(el, "recycled", "postConsumer")
            share = round(pre + post, 9)
            if share + 1e-12 < threshold:
                raise InvalidInput(
                    f"{element} recycled share is {share:.4f}, below the claimed {threshold:.4f}",
                    field="threshold",
                    rule="a certifier signs only claims the summary supports",
                )
            subject = {
                **common,
                "element": element,
                "recycledShare": share,
                "preConsumerShare": pre,
                "postConsumerShare": post,
                "custodyModels": dict(el.get("custodyModels", {})),
                "threshold": threshold,
                "meetsThreshold": True,
            }
            if ev:
                subject["supplyEvidence"] = ev
            return CredentialType.RECYCLED_CONTENT.value, subject, ("custodyModels", "supplyEvidence[]")
        hr = _share(el, "highRiskShare")
        if hr > 0.0:
            raise InvalidInput(
                f"{element}: {hr:.4f} of the origin is from high-risk sites",
                field="element",
                rule="'no origin from high-risk sites' needs highRiskShare = 0",
            )
        if not el.get("originByCountry"):
            raise InvalidInput(f"{element}: origin unknown", field="element", rule="an origin claim needs known origin")
        subject = {
            **common,
            "element": element,
            "originByCountry": dict(el["originByCountry"]),
            "highRiskShare": hr,
            "noHighRiskOrigin": True,
            "minesReached": int(summary.get("minesReached", 0)),
        }
        if ev:
            subject["supplyEvidence"] = ev
        return CredentialType.ORIGIN.value, subject, ("originByCountry", "minesReached", "supplyEvidence[]")
    if claim == "carbon-footprint":
        fp = summary.get("footprint")
        if not isinstance(fp, Mapping):
            raise InvalidInput(
                "the summary carries no footprint", field="footprint", rule="upstream summary 1.0 footprint"
            )
        subject = {**common, "framework": framework or "catena-x-pcf", "footprint": dict(fp)}
        if isinstance(fp.get("unit"), str):
            subject["declaredUnit"] = fp["unit"]
        return CredentialType.CERTIFIED_CARBON_FOOTPRINT.value, subject, ()
    raise InvalidInput(
        f"unknown claim {claim!r}",
        field="claim",
        rule="recycled-content | no-high-risk-origin | carbon-footprint",
    )
