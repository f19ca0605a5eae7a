"""The upstream summary as a typed value, and its one codec (docs/contracts.md "The upstream
summary", version 2.0, which this node writes; version 1.0 from older nodes is still read:
docs/decisions/2026-12-06-upstream-summary-2.md. JSON Schemas
``batpass/ledger/_data/upstream-summary-2.0.schema.json`` and ``upstream-summary.schema.json``).

The owner is ``batpass.ledger``: it builds, signs, verifies (signature, schema, shares summing to
1) and stores summaries, and re-exports every name here; other packages import them from
``batpass.ledger``. The types sit in core only because ``batpass.trust``, which certifies claims
computed from a summary, stands *below* the ledger (the ledger signs with trust's keys) and
must read them without importing it (docs/decisions/2026-12-06-typed-summary-one-signer.md).

The value knows no JSON: the wire's camelCase names appear only in :func:`encode_summary` and
:func:`decode_summary`. Decoding keeps every number exactly as it came (a share sent as the
integer ``1`` stays an integer) and the time as the text the issuer signed, so
``encode_summary(decode_summary(x)) == x`` for every summary the schema accepts, and a summary
encoded again has the bytes that were signed. Decoding checks structure and types (members,
shares in 0..1 or null where 2.0 allows it, counts, the version, 2.0's basis table); the
vocabularies (element symbols, country codes, custody-model names) and the sums are the
schema's, checked by the ledger.

Pure: no I/O, no storage, no HTTP.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from batpass.core.errors import InvalidIdentifier, InvalidInput
from batpass.core.ids import Did

__all__ = [
    "READ_VERSIONS",
    "SUMMARY_BASIS",
    "SUMMARY_VERSION",
    "ActiveMaterial",
    "ElementShares",
    "Recycled",
    "SiteFinding",
    "SiteShares",
    "SubjectKind",
    "SummarySubject",
    "Tombstone",
    "UpstreamSummary",
    "check_version",
    "decode_summary",
    "encode_summary",
    "encode_summary_element",
]

#: the version this node writes (``summaryVersion``)
SUMMARY_VERSION = "2.0"
#: the versions this codec reads: 1.0 from nodes not yet upgraded (its origin series mixes mined
#: and recycler countries; docs/decisions/2026-12-06-upstream-summary-2.md)
READ_VERSIONS = ("1.0", "2.0")
_RULE = "upstream summary 2.0 (docs/contracts.md; upstream-summary-2.0.schema.json)"
_RULE_1 = "upstream summary 1.0 (docs/contracts.md; upstream-summary.schema.json)"
#: what each figure of a 2.0 element is a share of (the wire's ``basis`` member, fixed by the
#: version): ``element_mass`` the element's mass in the subject (lot or battery, by mass balance
#: along its custody chain, *not* the Art. 8 basis of battery model and batch per plant);
#: ``mined_mass`` the part of it mined at a known site; ``active_material_mass`` the part of it
#: in active materials (Art. 8 measures Co, Li and Ni against it)
SUMMARY_BASIS: Mapping[str, str] = {
    "scope": "subject_mass_balance",
    "minedByCountry": "element_mass",
    "recycledByCountry": "element_mass",
    "unknownShare": "element_mass",
    "recycled": "element_mass",
    "highRiskShare": "mined_mass",
    "activeMaterial.share": "element_mass",
    "activeMaterial.recycled": "active_material_mass",
    "sites": "mined_mass",
}
#: RFC 3339 date-time, as the schema's ``computedAt`` pattern has it
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})")


class SubjectKind(StrEnum):
    """What a summary is about: one of the issuer's lots, or a battery (docs/contracts.md)."""

    LOT = "lot"
    BATTERY = "battery"


@dataclass(frozen=True, slots=True, kw_only=True)
class SummarySubject:
    """The summary's subject: ``id`` is the issuer's lot id (the lot it shipped) or the battery's
    GS1 Digital Link URI; ``material`` the ledger's material name of that lot."""

    kind: SubjectKind
    id: str
    material: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Recycled:
    """Recycled shares of an element's mass, pre- and post-consumer kept apart (Art. 8); None
    where nothing is known of the element's mass (2.0: never 0 for "unknown")."""

    pre_consumer: float | None
    post_consumer: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveMaterial:
    """Art. 8 measures Co, Li and Ni against the element in active materials: the share of the
    element's mass in active materials, and the recycled shares of that active part (2.0: None
    where nothing is known)."""

    share: float
    pre_consumer: float | None
    post_consumer: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteFinding:
    """The operator's due-diligence finding on sites a CAHRA data set flags ("enhanced due
    diligence required"): the data set that flagged them (``name@version``), the finding's
    document reference and date, and the ``share`` of the element's mined mass from the sites it
    covers. It names no site and no operator (docs/sites.md "Findings")."""

    dataset: str
    reference: str
    date: str
    share: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteShares:
    """Shares of the element's mined mass from sites a site register knows as certified, as
    flagged (high risk), or does not know; None where no register answered. The rest of the
    mined mass (when the three sum to less than 1) comes from registered sites neither certified
    nor flagged. ``findings`` cover flagged shares whose operator recorded its finding (the
    certifier's "no high-risk origin" waits for them)."""

    certified: float | None = None
    flagged: float | None = None
    unknown: float | None = None
    findings: tuple[SiteFinding, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ElementShares:
    """One element's figures (their bases are :data:`SUMMARY_BASIS`): mined origin by country
    and recycled input by recycler country (ISO 3166-1 alpha-2 → share of the element's mass),
    the ``unknown_share`` of the element's mass no received summary covers yet (the three sum to
    1), the high-risk share of the mined part, recycled shares, chain-of-custody models (ISO
    22095 model → share), where the issuer reports it the active-material view (Art. 8), and
    site facts.

    A series or share is None where nothing is known (the element's whole mass unknown), never
    0. A summary read in version 1.0 has ``mined_by_country`` holding 1.0's ``originByCountry``
    (which counted a recycler's country as an origin), and ``recycled_by_country`` and
    ``unknown_share`` None: 1.0 did not state them."""

    mined_by_country: Mapping[str, float] | None
    high_risk_share: float | None
    recycled: Recycled
    custody_models: Mapping[str, float]
    recycled_by_country: Mapping[str, float] | None = None
    unknown_share: float | None = None
    active_material: ActiveMaterial | None = None
    sites: SiteShares = SiteShares()


@dataclass(frozen=True, slots=True, kw_only=True)
class Tombstone:
    """A branch that did not answer: its tier below the issuer and a reason *category*, never an
    identity or an address (docs/architecture.md "Confidentiality")."""

    tier: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamSummary:
    """The signed, self-contained object a node gives its customers instead of its bill of
    materials. ``elements`` is keyed by element symbol (``Li``, ``Co``, …); ``computed_at`` is the
    RFC 3339 text the issuer signed (:meth:`computed_time` parses it); ``footprint`` is the
    declared product footprint as the issuer's footprint source gave it (a JSON object), or
    None; ``credentials`` the certified claims backing the figures; ``folded_supplier_summaries``
    how many supplier summaries were folded in."""

    subject: SummarySubject
    issuer: Did
    computed_at: str
    elements: Mapping[str, ElementShares]
    mines_reached: int
    tombstones: tuple[Tombstone, ...] = ()
    footprint: Mapping[str, Any] | None = None
    credentials: tuple[str, ...] = ()
    folded_supplier_summaries: int = 0
    version: str = SUMMARY_VERSION

    def computed_time(self) -> dt.datetime:
        """``computed_at`` as an aware datetime."""
        return dt.datetime.fromisoformat(self.computed_at.replace("Z", "+00:00"))


# ---------------------------------------------------------------------------------- the codec


def encode_summary(summary: UpstreamSummary) -> dict[str, Any]:
    """The wire form (docs/contracts.md) in the summary's own version (a 1.0 summary read from an
    older node encodes to the very object it signed), members in the order the ledger has always
    written them; numbers and text exactly as held."""
    v1 = summary.version == "1.0"
    out: dict[str, Any] = {
        "summaryVersion": summary.version,
        "subject": {"kind": summary.subject.kind.value, "id": summary.subject.id, "material": summary.subject.material},
        "issuer": summary.issuer,
        "computedAt": summary.computed_at,
    }
    if not v1:
        out["basis"] = dict(SUMMARY_BASIS)
    out["elements"] = {sym: _encode_element(el, v1=v1) for sym, el in summary.elements.items()}
    out["minesReached"] = summary.mines_reached
    out["tombstones"] = [{"tier": t.tier, "reason": t.reason} for t in summary.tombstones]
    out["footprint"] = dict(summary.footprint) if summary.footprint is not None else None
    out["credentials"] = list(summary.credentials)
    out["foldedSupplierSummaries"] = summary.folded_supplier_summaries
    return out


def encode_summary_element(el: ElementShares) -> dict[str, Any]:
    """One element's figures in their 2.0 wire form (the local trace shows them alike)."""
    return _encode_element(el, v1=False)


def _series(value: Mapping[str, float] | None) -> dict[str, float] | None:
    return dict(value) if value is not None else None


def _encode_element(el: ElementShares, *, v1: bool) -> dict[str, Any]:
    recycled = {"preConsumer": el.recycled.pre_consumer, "postConsumer": el.recycled.post_consumer}
    if v1:
        out: dict[str, Any] = {
            "originByCountry": dict(el.mined_by_country or {}),
            "highRiskShare": el.high_risk_share,
            "recycled": recycled,
            "custodyModels": dict(el.custody_models),
        }
    else:
        out = {
            "minedByCountry": _series(el.mined_by_country),
            "recycledByCountry": _series(el.recycled_by_country),
            "unknownShare": el.unknown_share,
            "highRiskShare": el.high_risk_share,
            "recycled": recycled,
            "custodyModels": dict(el.custody_models),
        }
    if el.active_material is not None:
        am = el.active_material
        out["activeMaterial"] = {"share": am.share, "preConsumer": am.pre_consumer, "postConsumer": am.post_consumer}
    if not v1:
        out["sites"] = {"certified": el.sites.certified, "flagged": el.sites.flagged, "unknown": el.sites.unknown}
        if el.sites.findings:  # present only when there are findings (schema: minItems 1)
            out["sites"]["findings"] = [
                {"dataset": f.dataset, "reference": f.reference, "date": f.date, "share": f.share}
                for f in el.sites.findings
            ]
    return out


_REQUIRED_1 = (
    "summaryVersion",
    "subject",
    "issuer",
    "computedAt",
    "elements",
    "minesReached",
    "tombstones",
    "credentials",
    "foldedSupplierSummaries",
)
_REQUIRED = (*_REQUIRED_1, "basis")


def check_version(obj: object) -> str:
    """The ``summaryVersion`` of a summary's wire form, if this node reads it; otherwise an
    :class:`InvalidInput` naming ``summaryVersion``, the version sent and the ones read."""
    version = obj.get("summaryVersion") if isinstance(obj, dict) else None
    if version not in READ_VERSIONS:
        known = " and ".join(repr(v) for v in READ_VERSIONS)
        raise InvalidInput(
            f"summaryVersion {version!r} is not supported; this node reads {known} (and writes {SUMMARY_VERSION!r})",
            field="summaryVersion",
            rule=f"{_RULE}: summaryVersion is one of " + ", ".join(f'"{v}"' for v in READ_VERSIONS),
            value=version,
        )
    assert isinstance(version, str)
    return version


def decode_summary(obj: object) -> UpstreamSummary:
    """Read a summary's wire form (the JSON object), version 2.0 or 1.0. Refuses, with an
    :class:`InvalidInput` naming the field and the rule, another ``summaryVersion`` (naming the
    versions read), a missing or unknown member, a value of the wrong type, a share outside 0..1,
    a null where the version allows none and a 2.0 ``basis`` other than :data:`SUMMARY_BASIS`.
    A missing ``footprint`` reads as none (null); every other member the schema requires must be
    there."""
    if not isinstance(obj, dict):
        raise InvalidInput("summary must be an object", field="summary", rule=_RULE)
    version = check_version(obj)
    v1 = version == "1.0"
    rule = _RULE_1 if v1 else _RULE
    top = _members(obj, "summary", required=_REQUIRED_1 if v1 else _REQUIRED, optional=("footprint",), rule=rule)
    if not v1 and top["basis"] != SUMMARY_BASIS:
        raise InvalidInput(
            "basis differs from the figures' bases of summary 2.0",
            field="basis",
            rule=f"{_RULE}: basis is the version's fixed table",
        )
    subj = _members(top["subject"], "subject", required=("kind", "id", "material"), rule=rule)
    kind = subj["kind"]
    if kind not in {k.value for k in SubjectKind}:
        raise InvalidInput(
            f"subject.kind {kind!r} is not 'lot' or 'battery'", field="subject.kind", rule=rule, value=kind
        )
    issuer = _text(top["issuer"], "issuer")
    try:
        did = Did(issuer)
    except InvalidIdentifier as exc:
        raise InvalidInput(f"issuer is not a DID: {exc.message}", field="issuer", rule=rule, value=issuer) from exc
    computed_at = _text(top["computedAt"], "computedAt")
    if not _TIME.fullmatch(computed_at):
        raise InvalidInput(f"computedAt {computed_at!r} is not an RFC 3339 date-time", field="computedAt", rule=rule)
    elements = top["elements"]
    if not isinstance(elements, dict):
        raise InvalidInput("elements must be an object", field="elements", rule=rule)
    tombstones = top["tombstones"]
    if not isinstance(tombstones, list):
        raise InvalidInput("tombstones must be an array", field="tombstones", rule=rule)
    footprint = top.get("footprint")
    if footprint is not None and not isinstance(footprint, dict):
        raise InvalidInput("footprint must be an object or null", field="footprint", rule=rule)
    credentials = top["credentials"]
    if not isinstance(credentials, list):
        raise InvalidInput("credentials must be an array", field="credentials", rule=rule)
    decode = _decode_element_1 if v1 else _decode_element
    return UpstreamSummary(
        subject=SummarySubject(
            kind=SubjectKind(kind),
            id=_text(subj["id"], "subject.id"),
            material=_text(subj["material"], "subject.material"),
        ),
        issuer=did,
        computed_at=computed_at,
        elements={_symbol(sym): decode(el, f"elements.{sym}") for sym, el in elements.items()},
        mines_reached=_count(top["minesReached"], "minesReached"),
        tombstones=tuple(_decode_tombstone(t, f"tombstones[{i}]") for i, t in enumerate(tombstones)),
        footprint=footprint,
        credentials=tuple(_text(c, f"credentials[{i}]") for i, c in enumerate(credentials)),
        folded_supplier_summaries=_count(top["foldedSupplierSummaries"], "foldedSupplierSummaries"),
        version=version,
    )


def _decode_active(m: Mapping[str, Any], path: str, rule: str) -> ActiveMaterial | None:
    am = m.get("activeMaterial")
    if am is None:
        return None
    a = _members(am, f"{path}.activeMaterial", required=("share", "preConsumer", "postConsumer"), rule=rule)
    share = _share if rule == _RULE_1 else _share_or_null
    return ActiveMaterial(
        share=_share(a["share"], f"{path}.activeMaterial.share"),
        pre_consumer=share(a["preConsumer"], f"{path}.activeMaterial.preConsumer"),
        post_consumer=share(a["postConsumer"], f"{path}.activeMaterial.postConsumer"),
    )


def _decode_element_1(obj: object, path: str) -> ElementShares:
    m = _members(
        obj,
        path,
        required=("originByCountry", "highRiskShare", "recycled", "custodyModels"),
        optional=("activeMaterial",),
        rule=_RULE_1,
    )
    rec = _members(m["recycled"], f"{path}.recycled", required=("preConsumer", "postConsumer"), rule=_RULE_1)
    return ElementShares(
        mined_by_country=_distribution(m["originByCountry"], f"{path}.originByCountry"),
        high_risk_share=_share(m["highRiskShare"], f"{path}.highRiskShare"),
        recycled=Recycled(
            pre_consumer=_share(rec["preConsumer"], f"{path}.recycled.preConsumer"),
            post_consumer=_share(rec["postConsumer"], f"{path}.recycled.postConsumer"),
        ),
        custody_models=_distribution(m["custodyModels"], f"{path}.custodyModels"),
        active_material=_decode_active(m, path, _RULE_1),
    )


def _decode_element(obj: object, path: str) -> ElementShares:
    m = _members(
        obj,
        path,
        required=(
            "minedByCountry",
            "recycledByCountry",
            "unknownShare",
            "highRiskShare",
            "recycled",
            "custodyModels",
            "sites",
        ),
        optional=("activeMaterial",),
    )
    rec = _members(m["recycled"], f"{path}.recycled", required=("preConsumer", "postConsumer"))
    sites = _members(m["sites"], f"{path}.sites", required=("certified", "flagged", "unknown"), optional=("findings",))
    mined = m["minedByCountry"]
    recycled = m["recycledByCountry"]
    return ElementShares(
        mined_by_country=None if mined is None else _distribution(mined, f"{path}.minedByCountry"),
        recycled_by_country=None if recycled is None else _distribution(recycled, f"{path}.recycledByCountry"),
        unknown_share=_share(m["unknownShare"], f"{path}.unknownShare"),
        high_risk_share=_share_or_null(m["highRiskShare"], f"{path}.highRiskShare"),
        recycled=Recycled(
            pre_consumer=_share_or_null(rec["preConsumer"], f"{path}.recycled.preConsumer"),
            post_consumer=_share_or_null(rec["postConsumer"], f"{path}.recycled.postConsumer"),
        ),
        custody_models=_distribution(m["custodyModels"], f"{path}.custodyModels"),
        active_material=_decode_active(m, path, _RULE),
        sites=SiteShares(
            certified=_share_or_null(sites["certified"], f"{path}.sites.certified"),
            flagged=_share_or_null(sites["flagged"], f"{path}.sites.flagged"),
            unknown=_share_or_null(sites["unknown"], f"{path}.sites.unknown"),
            findings=_decode_findings(sites, f"{path}.sites.findings"),
        ),
    )


def _decode_findings(sites: Mapping[str, Any], path: str) -> tuple[SiteFinding, ...]:
    if "findings" not in sites:
        return ()
    items = sites["findings"]
    if not isinstance(items, list) or not items:
        raise InvalidInput(f"{path} must be a non-empty array when present", field=path, rule=_RULE)
    out = []
    for i, item in enumerate(items):
        f = _members(item, f"{path}[{i}]", required=("dataset", "reference", "date", "share"))
        out.append(
            SiteFinding(
                dataset=_text(f["dataset"], f"{path}[{i}].dataset"),
                reference=_text(f["reference"], f"{path}[{i}].reference"),
                date=_text(f["date"], f"{path}[{i}].date"),
                share=_share(f["share"], f"{path}[{i}].share"),
            )
        )
    return tuple(out)


def _decode_tombstone(obj: object, path: str) -> Tombstone:
    m = _members(obj, path, required=("tier", "reason"))
    tier = _count(m["tier"], f"{path}.tier")
    if tier < 1:
        raise InvalidInput(f"{path}.tier must be at least 1", field=f"{path}.tier", rule=_RULE, value=tier)
    return Tombstone(tier=tier, reason=_text(m["reason"], f"{path}.reason", empty=True))


def _members(
    obj: object, path: str, *, required: tuple[str, ...], optional: tuple[str, ...] = (), rule: str = _RULE
) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise InvalidInput(f"{path} must be an object", field=path, rule=rule)
    for name in required:
        if name not in obj:
            field = name if path == "summary" else f"{path}.{name}"
            raise InvalidInput(f"{field} is missing", field=field, rule=rule)
    known = set(required) | set(optional)
    for name in obj:
        if name not in known:
            field = str(name) if path == "summary" else f"{path}.{name}"
            raise InvalidInput(f"{field} is not a member of an upstream summary", field=field, rule=rule)
    return obj


def _text(value: object, path: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not empty):
        raise InvalidInput(f"{path} must be a non-empty string", field=path, rule=_RULE)
    return value


def _symbol(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput("element symbols are non-empty strings", field="elements", rule=_RULE)
    return value


def _share(value: object, path: str) -> float:
    """A share in 0..1, returned as given (an integer share stays an integer on the wire)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise InvalidInput(f"{path} is not a share in 0..1", field=path, rule=f"{_RULE}: shares are numbers in 0..1")
    return value


def _share_or_null(value: object, path: str) -> float | None:
    """A share, or None where the summary says nothing is known (2.0)."""
    return None if value is None else _share(value, path)


def _distribution(value: object, path: str) -> dict[str, float]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{path} must be an object", field=path, rule=_RULE)
    return {_text(k, path): _share(v, f"{path}.{k}") for k, v in value.items()}


def _count(value: object, path: str) -> int:
    """A non-negative integer (JSON Schema counts ``3.0`` as the integer 3)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{path} must be a non-negative integer", field=path, rule=_RULE, value=value)
    return value
