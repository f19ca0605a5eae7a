"""The upstream summary as a typed value, and its one codec (docs/contracts.md "The upstream
summary", version 1.0; JSON Schema ``batpass/ledger/_data/upstream-summary.schema.json``).

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
shares in 0..1, counts, the version); the vocabularies (element symbols, country codes,
custody-model names) and the sums are the schema's, checked by the ledger.

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
    "SUMMARY_VERSION",
    "ActiveMaterial",
    "ElementShares",
    "Recycled",
    "SubjectKind",
    "SummarySubject",
    "Tombstone",
    "UpstreamSummary",
    "decode_summary",
    "encode_summary",
]

#: the one version this codec reads and writes (``summaryVersion``)
SUMMARY_VERSION = "1.0"
_RULE = "upstream summary 1.0 (docs/contracts.md; upstream-summary.schema.json)"
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
    """Recycled shares of an element's mass, pre- and post-consumer kept apart (Art. 8)."""

    pre_consumer: float
    post_consumer: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveMaterial:
    """Art. 8 measures Co, Li and Ni against the element in active materials: the share of the
    element's mass in active materials, and the recycled shares of that active part."""

    share: float
    pre_consumer: float
    post_consumer: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ElementShares:
    """One element's figures: origin by country (ISO 3166-1 alpha-2 → share), the high-risk
    share, recycled shares, chain-of-custody models (ISO 22095 model → share) and, where the
    issuer reports it, the active-material view (Art. 8)."""

    origin_by_country: Mapping[str, float]
    high_risk_share: float
    recycled: Recycled
    custody_models: Mapping[str, float]
    active_material: ActiveMaterial | None = None


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
    """The wire form (docs/contracts.md), members in the order the ledger has always written
    them; numbers and text exactly as held."""
    return {
        "summaryVersion": summary.version,
        "subject": {"kind": summary.subject.kind.value, "id": summary.subject.id, "material": summary.subject.material},
        "issuer": summary.issuer,
        "computedAt": summary.computed_at,
        "elements": {sym: _encode_element(el) for sym, el in summary.elements.items()},
        "minesReached": summary.mines_reached,
        "tombstones": [{"tier": t.tier, "reason": t.reason} for t in summary.tombstones],
        "footprint": dict(summary.footprint) if summary.footprint is not None else None,
        "credentials": list(summary.credentials),
        "foldedSupplierSummaries": summary.folded_supplier_summaries,
    }


def _encode_element(el: ElementShares) -> dict[str, Any]:
    out: dict[str, Any] = {
        "originByCountry": dict(el.origin_by_country),
        "highRiskShare": el.high_risk_share,
        "recycled": {"preConsumer": el.recycled.pre_consumer, "postConsumer": el.recycled.post_consumer},
        "custodyModels": dict(el.custody_models),
    }
    if el.active_material is not None:
        am = el.active_material
        out["activeMaterial"] = {"share": am.share, "preConsumer": am.pre_consumer, "postConsumer": am.post_consumer}
    return out


_REQUIRED = (
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


def decode_summary(obj: object) -> UpstreamSummary:
    """Read a summary's wire form (the JSON object). Refuses, with an :class:`InvalidInput`
    naming the field and the rule, a ``summaryVersion`` other than ``1.0``, a missing or unknown
    member, a value of the wrong type and a share outside 0..1. A missing ``footprint`` reads as
    none (null); every other member the schema requires must be there."""
    top = _members(obj, "summary", required=_REQUIRED, optional=("footprint",))
    version = top["summaryVersion"]
    if version != SUMMARY_VERSION:
        raise InvalidInput(
            f"summaryVersion {version!r} is not supported; this node reads {SUMMARY_VERSION!r}",
            field="summaryVersion",
            rule=f'{_RULE}: summaryVersion is "{SUMMARY_VERSION}"',
            value=version,
        )
    subj = _members(top["subject"], "subject", required=("kind", "id", "material"))
    kind = subj["kind"]
    if kind not in {k.value for k in SubjectKind}:
        raise InvalidInput(
            f"subject.kind {kind!r} is not 'lot' or 'battery'", field="subject.kind", rule=_RULE, value=kind
        )
    issuer = _text(top["issuer"], "issuer")
    try:
        did = Did(issuer)
    except InvalidIdentifier as exc:
        raise InvalidInput(f"issuer is not a DID: {exc.message}", field="issuer", rule=_RULE, value=issuer) from exc
    computed_at = _text(top["computedAt"], "computedAt")
    if not _TIME.fullmatch(computed_at):
        raise InvalidInput(f"computedAt {computed_at!r} is not an RFC 3339 date-time", field="computedAt", rule=_RULE)
    elements = top["elements"]
    if not isinstance(elements, dict):
        raise InvalidInput("elements must be an object", field="elements", rule=_RULE)
    tombstones = top["tombstones"]
    if not isinstance(tombstones, list):
        raise InvalidInput("tombstones must be an array", field="tombstones", rule=_RULE)
    footprint = top.get("footprint")
    if footprint is not None and not isinstance(footprint, dict):
        raise InvalidInput("footprint must be an object or null", field="footprint", rule=_RULE)
    credentials = top["credentials"]
    if not isinstance(credentials, list):
        raise InvalidInput("credentials must be an array", field="credentials", rule=_RULE)
    return UpstreamSummary(
        subject=SummarySubject(
            kind=SubjectKind(kind),
            id=_text(subj["id"], "subject.id"),
            material=_text(subj["material"], "subject.material"),
        ),
        issuer=did,
        computed_at=computed_at,
        elements={_symbol(sym): _decode_element(el, f"elements.{sym}") for sym, el in elements.items()},
        mines_reached=_count(top["minesReached"], "minesReached"),
        tombstones=tuple(_decode_tombstone(t, f"tombstones[{i}]") for i, t in enumerate(tombstones)),
        footprint=footprint,
        credentials=tuple(_text(c, f"credentials[{i}]") for i, c in enumerate(credentials)),
        folded_supplier_summaries=_count(top["foldedSupplierSummaries"], "foldedSupplierSummaries"),
        version=SUMMARY_VERSION,
    )


def _decode_element(obj: object, path: str) -> ElementShares:
    m = _members(
        obj,
        path,
        required=("originByCountry", "highRiskShare", "recycled", "custodyModels"),
        optional=("activeMaterial",),
    )
    rec = _members(m["recycled"], f"{path}.recycled", required=("preConsumer", "postConsumer"))
    am = m.get("activeMaterial")
    active = None
    if am is not None:
        a = _members(am, f"{path}.activeMaterial", required=("share", "preConsumer", "postConsumer"))
        active = ActiveMaterial(
            share=_share(a["share"], f"{path}.activeMaterial.share"),
            pre_consumer=_share(a["preConsumer"], f"{path}.activeMaterial.preConsumer"),
            post_consumer=_share(a["postConsumer"], f"{path}.activeMaterial.postConsumer"),
        )
    return ElementShares(
        origin_by_country=_distribution(m["originByCountry"], f"{path}.originByCountry"),
        high_risk_share=_share(m["highRiskShare"], f"{path}.highRiskShare"),
        recycled=Recycled(
            pre_consumer=_share(rec["preConsumer"], f"{path}.recycled.preConsumer"),
            post_consumer=_share(rec["postConsumer"], f"{path}.recycled.postConsumer"),
        ),
        custody_models=_distribution(m["custodyModels"], f"{path}.custodyModels"),
        active_material=active,
    )


def _decode_tombstone(obj: object, path: str) -> Tombstone:
    m = _members(obj, path, required=("tier", "reason"))
    tier = _count(m["tier"], f"{path}.tier")
    if tier < 1:
        raise InvalidInput(f"{path}.tier must be at least 1", field=f"{path}.tier", rule=_RULE, value=tier)
    return Tombstone(tier=tier, reason=_text(m["reason"], f"{path}.reason", empty=True))


def _members(obj: object, path: str, *, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise InvalidInput(f"{path} must be an object", field=path, rule=_RULE)
    for name in required:
        if name not in obj:
            field = name if path == "summary" else f"{path}.{name}"
            raise InvalidInput(f"{field} is missing", field=field, rule=_RULE)
    known = set(required) | set(optional)
    for name in obj:
        if name not in known:
            field = str(name) if path == "summary" else f"{path}.{name}"
            raise InvalidInput(f"{field} is not a member of an upstream summary", field=field, rule=_RULE)
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
