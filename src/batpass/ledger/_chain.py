"""Hash chain and signed Merkle roots over each owner's events.

Each event's hash binds the owner, its sequence number, the previous hash and the stored body:
``sha256(owner "\\n" seq "\\n" prev_hash "\\n" body)``; editing a body, deleting a row or
swapping two rows breaks the chain. Every batch of events is summarised by a Merkle root (RFC 6962
§2.1 tree hash: leaves prefixed 0x00, nodes 0x01) signed by the owner's Ed25519 key as a compact
JWS (``typ`` ``application/vnd.batpass.ledger-batch+jws``) whose payload also names the previous
batch's root, so whole batches cannot be dropped from the middle either.

Pure apart from signing, which is trust's one JWS signer (``sign_compact``/``verify_compact``);
the key comes from the caller.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from batpass.trust import CredentialRejected, NodeIdentity, peek, sign_compact, verify_compact

__all__ = ["BATCH_TYP", "GENESIS", "event_hash", "merkle_root", "merkle_root_of_digests", "sign_batch", "verify_batch"]

GENESIS = "0" * 64
BATCH_TYP = "application/vnd.batpass.ledger-batch+jws"


_sha256 = hashlib.sha256


def event_hash(owner: str, seq: int, prev_hash: str, body: str) -> str:
    # one string, encoded and hashed at once: the same bytes as the header and the body apart
    return _sha256(f"{owner}\n{seq}\n{prev_hash}\n{body}".encode()).hexdigest()


def merkle_root(leaves: Sequence[str]) -> str:
    """RFC 6962 Merkle tree hash over hex leaf values."""
    return merkle_root_of_digests([bytes.fromhex(x) for x in leaves])


def merkle_root_of_digests(leaves: Sequence[bytes]) -> str:
    """:func:`merkle_root` over the leaf values as bytes (the record loop holds each event's
    hash as the 32 bytes it stores)."""
    if not leaves:
        return _sha256(b"").hexdigest()
    level = [_sha256(b"\x00" + x).digest() for x in leaves]
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            nxt.append(_sha256(b"\x01" + level[i] + level[i + 1]).digest())
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


def batch_payload(
    owner: str, batch_no: int, first_seq: int, last_seq: int, root: str, prev_root: str, head: str
) -> dict[str, Any]:
    return {
        "owner": owner,
        "batch": batch_no,
        "firstSeq": first_seq,
        "lastSeq": last_seq,
        "root": root,
        "prevRoot": prev_root,
        "headHash": head,
    }


def sign_batch(payload: Mapping[str, Any], identity: NodeIdentity) -> tuple[str, str]:
    """Sign a batch payload with the owner's active Ed25519 key; returns (kid, compact JWS)."""
    kp = identity.active("Ed25519")
    kid = identity.key_id(kp)
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return kid, sign_compact({"kid": kid, "typ": BATCH_TYP}, body, kp)


def verify_batch(token: str, resolver: Callable[[str], Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """Verify a batch JWS with the key its ``kid`` names; None when it does not verify."""
    try:
        parsed = peek(token)
        kid = parsed[0].get("kid")
        if not isinstance(kid, str) or parsed[0].get("typ") != BATCH_TYP:
            return None
        jwk = resolver(kid)
        if jwk is None:
            return None
        _, payload = verify_compact(token, jwk, typ=BATCH_TYP, parsed=parsed, algs=("Ed25519",))
        return payload
    except (CredentialRejected, ValueError, KeyError, TypeError):
        return None
