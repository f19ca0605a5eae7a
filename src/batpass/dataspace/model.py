"""Dataspace model: participants, assets, offers, negotiations, agreements, transfers.

Pure values (no JSON-LD, SQL, HTTP). The wire shapes live in ``_dsp_messages``; the state
machines in ``_states``; policy evaluation in ``_odrl``. Sources: Eclipse Dataspace Protocol
2025-1 (catalog, contract negotiation and transfer process specifications) and Catena-X
CX-0152 (policy constraints). This package moves opaque assets and knows nothing of passports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "Agreement",
    "Asset",
    "DataAddress",
    "DataPlaneReply",
    "Negotiation",
    "NegotiationState",
    "OfferDefinition",
    "Participant",
    "PresentedCredential",
    "Role",
    "Transfer",
    "TransferState",
]


class Role(StrEnum):
    """Which side of a DSP process this node plays (DSP 2025-1, section "Terminology")."""

    CONSUMER = "consumer"
    PROVIDER = "provider"


class NegotiationState(StrEnum):
    """Contract negotiation states, spelled as DSP 2025-1 "Contract Negotiation Protocol" § 2."""

    REQUESTED = "REQUESTED"
    OFFERED = "OFFERED"
    ACCEPTED = "ACCEPTED"
    AGREED = "AGREED"
    VERIFIED = "VERIFIED"
    FINALIZED = "FINALIZED"
    TERMINATED = "TERMINATED"


class TransferState(StrEnum):
    """Transfer process states, spelled as DSP 2025-1 "Transfer Process Protocol" § 2."""

    REQUESTED = "REQUESTED"
    STARTED = "STARTED"
    SUSPENDED = "SUSPENDED"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"


@dataclass(frozen=True, slots=True)
class PresentedCredential:
    """One verified credential of the requesting participant, as policies read it: its types,
    its subject's claims and the end of its validity. CX-0152 ``FrameworkAgreement eq
    <Name>:<version>`` needs a ``<Name>Credential`` valid at evaluation time whose subject's
    ``contractVersion`` is ``<version>`` (as Tractus-X EDC checks it)."""

    types: frozenset[str]
    subject: Mapping[str, Any] = field(default_factory=dict)
    valid_until: dt.datetime | None = None
    issuer: str | None = None


@dataclass(frozen=True, slots=True)
class Participant:
    """The verified requesting participant (contracts §5).

    Built only by a :class:`~batpass.dataspace.ports.ParticipantVerifier` from a verified token and
    presentation, never from a header the requester sets. ``memberships`` holds the verified
    credential types it presented (``MembershipCredential``, ``DataExchangeGovernanceCredential``,
    ...); ``credentials`` those credentials' claims and validity (a verifier that knows only the
    types leaves it empty); ``refused`` the credential types it presented that did not verify,
    with the reason (e.g. ``expired: ...``), so a policy refusal can say why; ``region`` an
    optional verified region claim (used by ODRL ``spatial``).
    """

    did: str
    bpnl: str | None
    memberships: frozenset[str] = frozenset()
    credentials: tuple[PresentedCredential, ...] = ()
    region: str | None = None
    refused: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Asset:
    """An opaque asset: ``source`` names the content provider registered by the composition root.

    ``properties`` are public catalog metadata (e.g. ``dct:type``, a semantic id); ``source_key``
    is what the source needs to produce the content (never shown in the catalog).
    """

    id: str
    source: str
    source_key: str
    title: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OfferDefinition:
    """A contract definition: the offer of one asset with an access and a usage policy.

    The access policy decides who sees the offer in the catalog; the usage policy is the ODRL
    offer the consumer negotiates (CX-0152: access policies use action ``access``, usage ``use``).
    """

    id: str
    asset_id: str
    access_policy: Mapping[str, Any]
    usage_policy: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Agreement:
    """A contract agreement (DSP ``Agreement``): the usage policy signed for one consumer."""

    id: str
    asset_id: str
    offer_id: str
    provider_did: str
    consumer_did: str
    consumer_bpnl: str | None
    policy: Mapping[str, Any]
    signed_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Negotiation:
    """One contract negotiation as this node sees it. ``pid`` is this node's process id."""

    pid: str
    role: Role
    consumer_pid: str
    provider_pid: str | None
    counterparty_did: str
    counterparty_bpnl: str | None
    counterparty_address: str
    state: NegotiationState
    state_count: int
    state_at: dt.datetime
    offer: Mapping[str, Any]
    agreement_id: str | None = None
    error_detail: str | None = None


@dataclass(frozen=True, slots=True)
class DataAddress:
    """Where and how the consumer pulls (DSP ``DataAddress``): endpoint and a bearer token."""

    endpoint: str
    token: str
    refresh_token: str | None
    refresh_endpoint: str | None
    expires_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class DataPlaneReply:
    """What a :class:`~batpass.dataspace.ports.ProxyAssetSource` answers to one request the
    consumer sent through the data plane: the HTTP status and the JSON content, passed on as is
    (e.g. ``202 Accepted`` for a request answered later, ``409`` for a refused write)."""

    status: int
    content: Any


@dataclass(frozen=True, slots=True)
class Transfer:
    """One transfer process as this node sees it. ``pid`` is this node's process id."""

    pid: str
    role: Role
    consumer_pid: str
    provider_pid: str | None
    agreement_id: str
    format: str
    counterparty_did: str
    counterparty_bpnl: str | None
    counterparty_address: str
    state: TransferState
    state_count: int
    state_at: dt.datetime
    data_address: DataAddress | None = None
    error_detail: str | None = None
