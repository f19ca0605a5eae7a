"""DID documents for test identities: what a partner's ``did:web`` resolver would serve for a
node, built from its :class:`NodeIdentity` (its active key as a ``JsonWebKey2020`` method)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batpass.trust import NodeIdentity


def did_documents(identities: Mapping[str, NodeIdentity]) -> dict[str, dict[str, Any]]:
    """``{did: document}`` for each identity, keyed as given."""
    return {
        did: {
            "id": did,
            "verificationMethod": [
                {"id": i.key_id(i.active()), "type": "JsonWebKey2020", "publicKeyJwk": dict(i.active().public_jwk())}
            ],
        }
        for did, i in identities.items()
    }
