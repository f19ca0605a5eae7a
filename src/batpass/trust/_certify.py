"""Certification: a certifier verifies the holder's signed upstream summary (docs/contracts.md) and
computes the claim itself — "cobalt recycled share ≥ 16 %", "no origin from high-risk sites",
a certified footprint — so a holder cannot assert it alone (docs/architecture.md "Flows", flow 5).

The summary is a compact JWS (``typ`` ``application/vnd.batpass.upstream-summary+jws``, alg
``Ed25519``, ``kid`` = the owner's DID URL) over the summary JSON; its ``issuer`` must be the
holder asking for certification. It is read through the summary's one codec into the typed
:class:`~batpass.core.summary.UpstreamSummary` (owned by the ledger; trust stands below the
ledger, so it takes the type from core, where the ledger defines it). Supplier evidence (names,
quantities) the holder shows goes into the credential only as selectively disclosable array
elements, so presentations omit it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from batpass.core.clock import utc_now
from batpass.core.errors import InvalidInput
from batpass.core.summary import SiteFinding, UpstreamSummary, decode_summary
from batpass.trust._jose import peek, verify_compact
from batpass.trust._resolver import DidResolver, check_key_time
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import CredentialType, RejectReason, iso, parse_time

__all__ = ["FINDING_RULE", "SUMMARY_TYP", "Claim", "certify_claim", "verify_upstream_summary"]

SUMMARY_TYP = "application/vnd.batpass.upstream-summary+jws"
Claim = tuple[str, Mapping[str, Any], tuple[str, ...]]  # (credential type, subject, disclosable paths)
#: summary fields whose failure means "this is no upstream summary 1.0 at all" (the rest: bad input)
_NOT_A_SUMMARY = {
    "summary": RejectReason.SCHEMA,
    "summaryVersion": RejectReason.SCHEMA,
    "elements": RejectReason.SCHEMA,
    "computedAt": RejectReason.MALFORMED,
}


def verify_upstream_summary(jws: str, resolver: DidResolver) -> UpstreamSummary:
    """Verify a signed upstream summary against its owner's DID key; returns the summary."""
    header, unverified = peek(jws)
    owner = unverified.get("issuer")
    if not isinstance(owner, str):
        raise CredentialRejected(
            "upstream summary names no issuer", reason=RejectReason.MALFORMED, rule="upstream summary 1.0 issuer"
        )
    vm = resolver.method(str(header.get("kid", "")), controller=owner)
    _, wire = verify_compact(jws, vm.jwk, typ=SUMMARY_TYP)
    try:
        summary = decode_summary(wire)
    except InvalidInput as exc:
        reason = _NOT_A_SUMMARY.get(exc.field or "")
        if reason is None:
            raise
        raise CredentialRejected(f"not an upstream summary 1.0: {exc.message}", reason=reason, rule=exc.rule) from exc
    try:
        check_key_time(vm, parse_time(summary.computed_at))
    except ValueError as exc:
        raise CredentialRejected("computedAt is not RFC 3339", reason=RejectReason.MALFORMED) from exc
    return summary


#: the rule a "no high-risk origin" claim over a flagged site waits on (docs/sites.md "Findings")
FINDING_RULE = (
    "a site a CAHRA list flags needs enhanced due diligence (Reg. (EU) 2023/1542 Art. 48-50): "
    "'no origin from high-risk sites' waits for the operator's finding on every flagged share"
)


def _findings_covering(findings: Sequence[SiteFinding], high_risk: float, *, element: str) -> list[dict[str, Any]]:
    """The findings that let a "no high-risk origin" claim stand over a ``high_risk`` share of
    the mined mass from flagged sites: none needed at 0; otherwise they must cover the whole
    flagged share (a CAHRA flag is a screening signal, the operator's finding the verdict), or
    the claim is declined naming the rule and the share still without a finding."""
    if high_risk <= 0.0:
        return []
    covered = sum(float(f.share) for f in findings)
    if covered + 1e-9 < high_risk:
        raise InvalidInput(
            f"{element}: {high_risk:.4f} of the mined origin is from sites flagged 'enhanced due diligence"
            f" required', {high_risk - covered:.4f} of it without the operator's recorded finding",
            field="element",
            rule=FINDING_RULE,
        )
    return [{"dataset": f.dataset, "reference": f.reference, "date": f.date, "share": f.share} for f in findings]


def certify_claim(
    summary: UpstreamSummary,
    summary_jws: str,
    *,
    holder: str,
    claim: str,
    element: str | None = None,
    threshold: float | None = None,
    framework: str | None = None,
    evidence: Sequence[Mapping[str, Any]] = (),
    now: dt.datetime | None = None,
) -> Claim:
    """Compute a claim from a verified summary. ``claim`` is ``recycled-content`` (needs
    ``element`` and ``threshold``), ``no-high-risk-origin`` (needs ``element``) or
    ``carbon-footprint`` (needs ``framework``). Refuses a claim the data does not support.
    ``now`` stamps ``computedAt`` (default: the current time)."""
    if summary.issuer != holder:
        raise CredentialRejected(
            f"summary was computed by {summary.issuer}, not by the holder {holder}",
            reason=RejectReason.HOLDER,
            rule="a holder is certified on its own signed summary",
        )
    digest = "sha-256:" + hashlib.sha256(summary_jws.encode("ascii")).hexdigest()
    common: dict[str, Any] = {
        "id": holder,
        "product": summary.subject.id,
        "summaryDigest": digest,
        "summaryIssuer": holder,
        "computedAt": iso(now or utc_now()),
    }
    ev = [dict(e) for e in evidence]
    if claim in ("recycled-content", "no-high-risk-origin"):
        el = summary.elements.get(element) if element is not None else None
        if el is None:
            raise InvalidInput(
                f"the summary has no element {element!r}", field="element", rule="upstream summary 1.0 elements"
            )
        if claim == "recycled-content":
            if threshold is None:
                raise InvalidInput("recycled-content needs a threshold", field="threshold", rule="Art. 8(2)")
            if el.recycled.pre_consumer is None or el.recycled.post_consumer is None:
                raise InvalidInput(
                    f"{element}: recycled share unknown",
                    field="element",
                    rule="a recycled-content claim needs known shares",
                )
            pre, post = float(el.recycled.pre_consumer), float(el.recycled.post_consumer)
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
                "custodyModels": dict(el.custody_models),
                "threshold": threshold,
                "meetsThreshold": True,
            }
            if ev:
                subject["supplyEvidence"] = ev
            return CredentialType.RECYCLED_CONTENT.value, subject, ("custodyModels", "supplyEvidence[]")
        if el.high_risk_share is None or not el.mined_by_country:
            raise InvalidInput(f"{element}: origin unknown", field="element", rule="an origin claim needs known origin")
        hr = float(el.high_risk_share)
        findings = _findings_covering(el.sites.findings, hr, element=str(element))
        subject = {
            **common,
            "element": element,
            "originByCountry": dict(el.mined_by_country),  # mined origin (summary 2.0)
            "highRiskShare": hr,
            "noHighRiskOrigin": True,
            "minesReached": summary.mines_reached,
        }
        if findings:  # flagged sites, each with the operator's finding: the credential names them
            subject["dueDiligenceFindings"] = findings
        if ev:
            subject["supplyEvidence"] = ev
        return CredentialType.ORIGIN.value, subject, ("originByCountry", "minesReached", "supplyEvidence[]")
    if claim == "carbon-footprint":
        fp = summary.footprint
        if fp is None:
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
