"""Trust model: credential types, access roles, verification results, trust lists and the
mutual-recognition policy. Pure values: no I/O, no HTTP, no SQL.

Sources: W3C VC Data Model 2.0 (types, validity), W3C Bitstring Status List 1.0 (status
purposes), RFC 9901 / SD-JWT VC (formats), DCP 1.0 (self-issued tokens), EU Battery Regulation
(EU) 2023/1542 Art. 77 and Annex XIII (who may read the restricted passport tiers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "BATPASS_CONTEXT",
    "ROLES",
    "Check",
    "CredentialType",
    "Ecosystem",
    "RecognitionPolicy",
    "RecognitionRule",
    "RejectReason",
    "SelfIssued",
    "TrustList",
    "TrustedIssuer",
    "Verification",
    "VerificationMethod",
    "VerifiedParticipant",
    "VerifiedRoles",
    "vct_for",
]

#: the bundled JSON-LD context of batpass credential types (never fetched at run time)
BATPASS_CONTEXT = "https://batpass.dev/ns/credentials/v1"
VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"

#: roles that open the restricted passport tiers (docs/contracts.md; Art. 77(2), Annex XIII)
ROLES: frozenset[str] = frozenset(
    {"legitimate_interest", "notified_body", "market_surveillance_authority", "commission"}
)


class Ecosystem(StrEnum):
    CATENA_X = "catena-x"
    OURANOS = "ouranos"


class CredentialType(StrEnum):
    """The credential types batpass issues; each has a JSON Schema and a term in the context."""

    MEMBERSHIP = "MembershipCredential"
    CERTIFIED_CARBON_FOOTPRINT = "CertifiedCarbonFootprintCredential"
    ORIGIN = "OriginAttestationCredential"
    RECYCLED_CONTENT = "RecycledContentAttestationCredential"
    DUE_DILIGENCE = "DueDiligenceAttestationCredential"
    ACCESS_ROLE = "AccessRoleCredential"
    #: the Catena-X framework-agreement credential (CX-0050): its holder signed the Data Exchange
    #: Governance; CX-0152 ``FrameworkAgreement eq DataExchangeGovernance:1.0`` asks for it
    DATA_EXCHANGE_GOVERNANCE = "DataExchangeGovernanceCredential"
    #: an export authorisation or consent issued by an authority to a shipper (docs/outflows.md,
    #: "Authorisations as credentials"): materials, waste classes, destinations, cap, period
    EXPORT_AUTHORISATION = "ExportAuthorisationCredential"
    STATUS_LIST = "BitstringStatusListCredential"


def vct_for(ctype: str) -> str:
    """The SD-JWT VC type (``vct``) of a credential type: a URI under the batpass namespace."""
    return f"https://batpass.dev/vct/{ctype}"


class RejectReason(StrEnum):
    """Why a token was rejected (``CredentialRejected.reason``)."""

    MALFORMED = "malformed"
    ALGORITHM = "algorithm"
    TYPE_HEADER = "type-header"
    SIGNATURE = "signature"
    UNKNOWN_KEY = "unknown-key"
    KEY_RETIRED = "key-retired"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    REVOKED = "revoked"
    STATUS_UNAVAILABLE = "status-unavailable"
    UNKNOWN_ISSUER = "unknown-issuer"
    NOT_TRUSTED_FOR_TYPE = "issuer-not-trusted-for-type"
    NOT_RECOGNISED = "not-recognised"
    SCHEMA = "schema"
    TRUST_LIST = "trust-list"
    NONCE_UNKNOWN = "nonce-unknown"
    NONCE_REPLAYED = "nonce-replayed"
    AUDIENCE = "audience"
    KEY_BINDING = "key-binding"
    HOLDER = "holder"
    DISCLOSURE_UNREFERENCED = "disclosure-unreferenced"
    DISCLOSURE_DUPLICATE = "disclosure-duplicate"
    DID_RESOLUTION = "did-resolution"
    HOST_NOT_ALLOWED = "host-not-allowed"
    ROLE = "role"


@dataclass(frozen=True, slots=True)
class Check:
    """One link of a verification's chain of reasons."""

    name: str  # signature | issuer-trust | recognition | status | expiry | schema | key-binding
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class VerificationMethod:
    """A public key taken from a DID document; ``expires`` is set on retired (rotated) keys."""

    id: str
    controller: str
    jwk: Mapping[str, Any]
    expires: dt.datetime | None = None


@dataclass(frozen=True)
class Verification:
    """A credential that passed every check, with the chain of reasons that admitted it."""

    format: str  # "vc+jwt" | "dc+sd-jwt"
    issuer: str
    types: frozenset[str]
    subject: Mapping[str, Any]  # credentialSubject (vc+jwt) or the disclosed claims (SD-JWT VC)
    checks: tuple[Check, ...]
    accepted_as: frozenset[str] = frozenset()
    holder: str | None = None
    valid_until: dt.datetime | None = None
    credential_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "verified": True,
            "format": self.format,
            "issuer": self.issuer,
            "types": sorted(self.types),
            "acceptedAs": sorted(self.accepted_as),
            "holder": self.holder,
            "credentialId": self.credential_id,
            "validUntil": self.valid_until.isoformat() if self.valid_until else None,
            "subject": dict(self.subject),
            "checks": [c.as_dict() for c in self.checks],
        }


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """One trust-list entry: an issuer DID trusted for some credential types, in a period."""

    did: str
    name: str
    credential_types: frozenset[str]
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None

    def in_period(self, at: dt.datetime) -> bool:
        if self.valid_from and at < self.valid_from:
            return False
        return not (self.valid_until and at > self.valid_until)


@dataclass(frozen=True)
class TrustList:
    """An ecosystem's list of trusted issuers, as signed by its operator (``trust-list.schema.json``)."""

    ecosystem: str
    operator: str
    issued_at: dt.datetime
    next_update: dt.datetime | None
    issuers: tuple[TrustedIssuer, ...]
    sequence: int = 1

    def entries_for(self, did: str) -> tuple[TrustedIssuer, ...]:
        index = self.__dict__.get("_index")
        if index is None:
            index = {}
            for e in self.issuers:
                index.setdefault(e.did, []).append(e)
            object.__setattr__(self, "_index", index)
        return tuple(index.get(did, ()))

    def to_json(self) -> dict[str, Any]:
        """The wire form (``trust-list.schema.json``)."""
        out: dict[str, Any] = {
            "trustListVersion": "1.0",
            "ecosystem": self.ecosystem,
            "operator": self.operator,
            "sequence": self.sequence,
            "issuedAt": _iso(self.issued_at),
            "issuers": [
                {
                    "did": e.did,
                    "name": e.name,
                    "credentialTypes": sorted(e.credential_types),
                    **({"validFrom": _iso(e.valid_from)} if e.valid_from else {}),
                    **({"validUntil": _iso(e.valid_until)} if e.valid_until else {}),
                }
                for e in self.issuers
            ],
        }
        if self.next_update:
            out["nextUpdate"] = _iso(self.next_update)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrustList:
        """Build from the wire form, already validated against its JSON Schema."""
        return cls(
            ecosystem=data["ecosystem"],
            operator=data["operator"],
            sequence=int(data.get("sequence", 1)),
            issued_at=parse_time(data["issuedAt"]),
            next_update=parse_time(data["nextUpdate"]) if data.get("nextUpdate") else None,
            issuers=tuple(
                TrustedIssuer(
                    did=e["did"],
                    name=e["name"],
                    credential_types=frozenset(e["credentialTypes"]),
                    valid_from=parse_time(e["validFrom"]) if e.get("validFrom") else None,
                    valid_until=parse_time(e["validUntil"]) if e.get("validUntil") else None,
                )
                for e in data["issuers"]
            ),
        )


@dataclass(frozen=True, slots=True)
class RecognitionRule:
    """What another ecosystem's trusted issuers vouch for, and what this side accepts it as.

    ``where`` constrains ``credentialSubject`` fields (equality), e.g. ``{"framework":
    "ouranos-cfp"}``; ``accepted_as`` is the local credential type it counts as.
    """

    id: str
    from_ecosystem: str
    credential_type: str
    accepted_as: str
    where: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""

    def matches(self, ecosystem: str, types: frozenset[str], subject: Mapping[str, Any]) -> bool:
        return (
            ecosystem == self.from_ecosystem
            and self.credential_type in types
            and all(subject.get(k) == v for k, v in self.where.items())
        )


@dataclass(frozen=True)
class RecognitionPolicy:
    """The mutual-recognition policy of one ecosystem (``recognition-policy.schema.json``)."""

    ecosystem: str
    rules: tuple[RecognitionRule, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecognitionPolicy:
        return cls(
            ecosystem=data["ecosystem"],
            rules=tuple(
                RecognitionRule(
                    id=r["id"],
                    from_ecosystem=r["fromEcosystem"],
                    credential_type=r["credentialType"],
                    accepted_as=r["acceptedAs"],
                    where=dict(r.get("where", {})),
                    label=r.get("label", ""),
                )
                for r in data["rules"]
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ecosystem": self.ecosystem,
            "rules": [
                {
                    "id": r.id,
                    "fromEcosystem": r.from_ecosystem,
                    "credentialType": r.credential_type,
                    "acceptedAs": r.accepted_as,
                    "where": dict(r.where),
                    "label": r.label,
                }
                for r in self.rules
            ],
        }


@dataclass(frozen=True, slots=True)
class VerifiedRoles:
    """Contract §4: the passport-tier roles a reader proved, and who the reader is."""

    roles: frozenset[str]
    holder: str
    credentials: tuple[Verification, ...] = ()


@dataclass(frozen=True, slots=True)
class SelfIssued:
    """Contract §5: a verified DCP self-issued token."""

    did: str
    bpn: str | None
    jti: str
    exp: dt.datetime
    token: str | None = None  # the access token embedded for the credential service, if any
    actor: str | None = None  # RFC 8693 ``act.sub``: the party allowed to present it for ``did``


@dataclass(frozen=True, slots=True)
class VerifiedParticipant:
    """Contract §5: a caller whose self-issued token and membership presentation verified.

    ``credentials`` holds every credential of the presentation that verified (the membership and
    any framework credential); ``refused`` the framework credential types it presented that did
    not verify, with the reason (e.g. ``expired: ...``), so a policy refusal can say why."""

    did: str
    bpnl: str | None
    memberships: frozenset[str]
    credentials: tuple[Verification, ...] = ()
    refused: Mapping[str, str] = field(default_factory=dict)


def parse_time(value: str) -> dt.datetime:
    """RFC 3339 date-time (with zone) → aware UTC datetime."""
    t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone (RFC 3339 requires one)")
    return t.astimezone(dt.UTC)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def iso(t: dt.datetime) -> str:
    """Aware datetime → RFC 3339 UTC with ``Z``."""
    return _iso(t)
