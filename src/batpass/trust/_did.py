"""DID documents for a node and for the subjects it holds keys for (W3C DID Core 1.0)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from batpass.core.ids import Did
from batpass.trust._keys import NodeIdentity

__all__ = [
    "BRIDGE_SERVICE",
    "OwnDocument",
    "did_document",
    "node_did",
    "node_services",
    "operator_did",
    "subject_did_document",
]

#: DID service types (DSP/DCP conventions; CX-0049 names the credential service entry)
SERVICE_TYPES = {
    "connector": "DataService",
    "ouranos": "OuranosDataTransactionService",
    "credential-service": "CredentialService",
    "status-lists": "BitstringStatusListService",
    # an Ouranos hub's entry naming the bridge that serves its operators on Catena-X (its DID:
    # the bridge's own document names the connector); an operator without a release has none
    "bridge": "OuranosBridgeService",
}
BRIDGE_SERVICE = SERVICE_TYPES["bridge"]


def did_document(identity: NodeIdentity, *, services: Mapping[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    """The DID document: every key (retired ones too, so old signatures verify) as a JsonWebKey
    verification method; active keys for authentication and assertion; ``services`` maps a
    fragment to ``(type, endpoint)``."""
    identity.refresh()  # a rotation made by another process is listed at once
    methods = []
    active = []
    for k in identity.keys:
        vm_id = identity.key_id(k)
        method: dict[str, Any] = {
            "id": vm_id,
            "type": "JsonWebKey",
            "controller": identity.did,
            "publicKeyJwk": k.public_jwk(),
        }
        if k.retired_at is not None:
            # security vocabulary 'expires': rotated out; signatures dated before still verify
            method["expires"] = k.retired_at.isoformat().replace("+00:00", "Z")
        methods.append(method)
        if not k.retired:
            active.append(vm_id)
    doc: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1"],
        "id": identity.did,
        "verificationMethod": methods,
        "authentication": active,
        "assertionMethod": active,
    }
    if services:
        doc["service"] = [
            {"id": f"{identity.did}#{frag}", "type": typ, "serviceEndpoint": url}
            for frag, (typ, url) in services.items()
        ]
    return doc


def _host_port(base_url: str) -> tuple[str, int | None]:
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"{base_url!r} is not an https URL (did:web is served over HTTPS only)")
    return parts.hostname, parts.port


def node_did(base_url: str) -> str:
    """The node's ``did:web`` (document at ``{base_url}/.well-known/did.json``)."""
    host, port = _host_port(base_url)
    return str(Did.web(host, port))


def operator_did(base_url: str, operator_id: str) -> str:
    """The ``did:web`` of a subject a node holds keys for (an Ouranos hub operator):
    ``did:web:{host}%3A{port}:operators:{operatorId}``, resolving to
    ``{base_url}/operators/{operatorId}/did.json`` (did:web method spec §3.2.1)."""
    host, port = _host_port(base_url)
    return str(Did.web(host, port, "operators", operator_id))


def node_services(
    base_url: str, profiles: Sequence[str] = (), *, bridge: str | None = None
) -> dict[str, tuple[str, str]]:
    """Service entries of a node's DID documents: credential service and status lists always,
    the DSP connector (``#dsp``, its version metadata endpoint) for ``catena-x``/``bridge``, the
    Ouranos API for ``ouranos`` and, for a hub configured with one, its ``bridge`` (``#bridge``:
    the bridge's DID, through which its operators are reached from Catena-X)."""
    base = base_url.rstrip("/")
    services = {
        "credential-service": (SERVICE_TYPES["credential-service"], f"{base}/dcp"),
        "status-lists": (SERVICE_TYPES["status-lists"], f"{base}/v1/credentials/status"),
    }
    if {"catena-x", "bridge"} & set(profiles):
        # DSP 2025-1 "Discovery of Service Endpoints": the DataService entry names the version
        # metadata endpoint (the consumer finds the DSP base there); its id (`#dsp`) is the
        # `serviceId` that endpoint and the catalog's DataService advertise
        services["dsp"] = (SERVICE_TYPES["connector"], f"{base}/.well-known/dspace-version")
    if "ouranos" in profiles:
        services["ouranos"] = (SERVICE_TYPES["ouranos"], f"{base}/api/v1")
        if bridge:
            services["bridge"] = (SERVICE_TYPES["bridge"], bridge)
    return services


def subject_did_document(
    identity: NodeIdentity, *, base_url: str, profiles: Sequence[str] = (), bridge: str | None = None
) -> dict[str, Any]:
    """The document a node serves for itself (``/.well-known/did.json``) or for a subject it
    holds keys for (``/operators/{operatorId}/did.json``): its Ed25519 and P-256 keys, retired
    keys kept, and the node's service entries."""
    return did_document(identity, services=node_services(base_url, profiles, bridge=bridge))


class OwnDocument:
    """The document a node serves for itself, for its own resolver (``DidResolver.pin_live``):
    built again only when its keys changed — a rotation here or by another process (``batpass
    keys rotate``, another worker) — and the same object otherwise (one ``stat`` of the key index
    per look-up)."""

    def __init__(
        self, identity: NodeIdentity, *, base_url: str, profiles: Sequence[str] = (), bridge: str | None = None
    ) -> None:
        self._identity = identity
        self._base_url = base_url
        self._profiles = tuple(profiles)
        self._bridge = bridge
        self._doc: tuple[int, dict[str, Any]] | None = None

    def __call__(self) -> dict[str, Any]:
        self._identity.refresh()
        hit = self._doc
        if hit is None or hit[0] != self._identity.generation:
            doc = subject_did_document(
                self._identity, base_url=self._base_url, profiles=self._profiles, bridge=self._bridge
            )
            hit = self._doc = (self._identity.generation, doc)
        return hit[1]
