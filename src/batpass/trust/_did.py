"""DID documents for a node and for the subjects it holds keys for (W3C DID Core 1.0)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batpass.trust._keys import NodeIdentity

__all__ = ["did_document"]


def did_document(identity: NodeIdentity, *, services: Mapping[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    """The DID document: every key (retired ones too, so old signatures verify) as a JsonWebKey
    verification method; active keys for authentication and assertion; ``services`` maps a
    fragment to ``(type, endpoint)``."""
    methods = []
    active = []
    for k in identity.keys:
        vm_id = identity.key_id(k)
        methods.append(
            {"id": vm_id, "type": "JsonWebKey", "controller": identity.did, "publicKeyJwk": k.public_jwk()}
        )
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
