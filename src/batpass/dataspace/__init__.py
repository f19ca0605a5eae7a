"""Dataspace: the Catena-X profile's Dataspace Protocol 2025-1 connector (provider, consumer,
data plane), ODRL policies, and the digital twin registry (AAS Registry API v3 subset).

Moves opaque assets; knows nothing of passports. The composition root builds
:class:`DspProvider`, :class:`DspConsumer` (with a :class:`ProcessNotifier`: :class:`InProcessNotifier`
on SQLite, :class:`PgNotifier` on PostgreSQL), :class:`ConsumerChannels` (the consumer's whole
journey, for the workflows that ask partners) and :class:`TwinRegistry`, wires a
:class:`ParticipantVerifier` (trust's DCP implementation), a :class:`TokenIssuer` and the
:class:`AssetSource` providers, and mounts ``batpass.dataspace.routes``; the EDC management API
facade (:class:`EdcManagement`, built from the provider and the consumer) is mounted from
``batpass.dataspace.management_routes``.
"""

from pathlib import Path

from batpass.dataspace._discovery import DiscoveryService
from batpass.dataspace._dtr import OWNER, PUBLIC_READABLE, Reader, TwinRegistry
from batpass.dataspace._management import EdcManagement
from batpass.dataspace._notify import InProcessNotifier, PgNotifier
from batpass.dataspace._odrl import Decision, EvaluationContext, evaluate, usage_purposes
from batpass.dataspace.errors import (
    CatalogRefused,
    ChannelError,
    ChannelTimeout,
    ExpiredToken,
    InvalidTransition,
    NegotiationRefused,
    NoCommonVersion,
    NotEntitled,
    NotOffered,
    PartnerUnreachable,
    PolicyNotSatisfied,
    PullFailed,
    Stage,
    TransferEnded,
    TransferRefused,
)
from batpass.dataspace.model import (
    Agreement,
    Asset,
    DataAddress,
    DataPlaneReply,
    Negotiation,
    NegotiationState,
    OfferDefinition,
    Participant,
    PresentedCredential,
    Role,
    Transfer,
    TransferState,
)
from batpass.dataspace.ports import (
    AssetSource,
    ParticipantVerifier,
    ProcessNotifier,
    ProcessWatch,
    ProxyAssetSource,
    QueryAssetSource,
    TokenIssuer,
)
from batpass.dataspace.service import (
    DSP_PATH,
    PULL_FORMAT,
    Channel,
    ConsumerCallbacks,
    ConsumerChannels,
    DataspaceSettings,
    DspConsumer,
    DspProvider,
    Endpoint,
    FixedTokenVerifier,
    ProviderOffers,
    ServiceEndpoint,
    VersionDiscovery,
    prepare_message_checks,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "_migrations"

__all__ = [
    "DSP_PATH",
    "MIGRATIONS_DIR",
    "OWNER",
    "PUBLIC_READABLE",
    "PULL_FORMAT",
    "Agreement",
    "Asset",
    "AssetSource",
    "CatalogRefused",
    "Channel",
    "ChannelError",
    "ChannelTimeout",
    "ConsumerCallbacks",
    "ConsumerChannels",
    "DataAddress",
    "DataPlaneReply",
    "DataspaceSettings",
    "Decision",
    "DiscoveryService",
    "DspConsumer",
    "DspProvider",
    "EdcManagement",
    "Endpoint",
    "EvaluationContext",
    "ExpiredToken",
    "FixedTokenVerifier",
    "InProcessNotifier",
    "InvalidTransition",
    "Negotiation",
    "NegotiationRefused",
    "NegotiationState",
    "NoCommonVersion",
    "NotEntitled",
    "NotOffered",
    "OfferDefinition",
    "Participant",
    "ParticipantVerifier",
    "PartnerUnreachable",
    "PgNotifier",
    "PolicyNotSatisfied",
    "PresentedCredential",
    "ProcessNotifier",
    "ProcessWatch",
    "ProviderOffers",
    "ProxyAssetSource",
    "PullFailed",
    "QueryAssetSource",
    "Reader",
    "Role",
    "ServiceEndpoint",
    "Stage",
    "TokenIssuer",
    "Transfer",
    "TransferEnded",
    "TransferRefused",
    "TransferState",
    "TwinRegistry",
    "VersionDiscovery",
    "evaluate",
    "prepare_message_checks",
    "usage_purposes",
]
