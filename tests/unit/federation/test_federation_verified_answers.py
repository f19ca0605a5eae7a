"""Partners' signed answers verified once per (token, key): a warm trace pulls the same signed
summaries again, and the same bytes against the same key verify the same way. A key that no
longer resolves, or resolves to another key, is verified afresh; a failure is never kept."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from batpass.core.errors import Unauthorized
from batpass.federation._wire import sign_recall, verify_recall
from batpass.trust import NodeIdentity, VerifiedTokens, generate_keypair

DID = "did:web:customer.example"


def _answer() -> dict[str, Any]:
    return {
        "issuer": DID,
        "subject": {"id": "lot-1"},
        "batteries": ["b1"],
        "lots": 1,
        "batteriesBelow": 0,
        "tombstones": [],
    }


def test_the_same_token_and_key_verify_once_and_another_key_verifies_afresh() -> None:
    ident = NodeIdentity(DID, [generate_keypair("Ed25519", "key-ed25519-1")])
    token = sign_recall(_answer(), ident)
    keys: dict[str, Mapping[str, Any]] = {ident.key_id(ident.active()): dict(ident.active().public_jwk())}
    calls: list[str] = []

    def verify(tok: str, resolve: Callable[[str], Mapping[str, Any] | None]) -> dict[str, Any]:
        calls.append(tok)
        return verify_recall(tok, resolve)

    cache = VerifiedTokens()
    first = cache.verify(token, keys.get, verify)
    first["batteries"].append("changed by the caller")
    again = cache.verify(token, keys.get, verify)
    assert again["batteries"] == ["b1"] and len(calls) == 1  # the caller's copy, verified once
    # the kid now resolves to another key (rotated): verified afresh, and it fails
    other = NodeIdentity(DID, [generate_keypair("Ed25519", "key-ed25519-1")])
    keys[ident.key_id(ident.active())] = dict(other.active().public_jwk())
    with pytest.raises(Unauthorized):
        cache.verify(token, keys.get, verify)
    with pytest.raises(Unauthorized):  # a failure is not kept either
        cache.verify(token, keys.get, verify)
    assert len(calls) == 3
    keys.clear()  # the key is gone from its DID document: the verification says so
    with pytest.raises(Unauthorized):
        cache.verify(token, keys.get, verify)
