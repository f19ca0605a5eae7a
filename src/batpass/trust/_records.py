"""Node-signed records: rows a node authors itself — the operator keys it pinned, its acceptance
of a trust list, its recognition policy, its wallet entries — are stored with a compact JWS
signed by the node's own DID key, and read back only through that JWS's verified payload.

The private keys live in the node's key folder, never in the database (``_keys.py``), so a
change made to the database alone cannot produce a record that verifies. A record signed with a
key the node has since retired still verifies if it was signed before the retirement, as every
other signature does (``_resolver.check_key_time``).

Must not know SQL or HTTP: the service stores and reads the tokens.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from batpass.core.clock import utc_now
from batpass.trust._jose import peek, sign_compact, verify_compact
from batpass.trust._keys import NodeIdentity
from batpass.trust.errors import CredentialRejected
from batpass.trust.model import RejectReason, iso, parse_time

__all__ = ["RECORD_TYP", "digest", "open_record", "sign_record"]

RECORD_TYP = "application/vnd.batpass.node-record+jws"
_RULE = "a node's own records are signed with its own DID key"


def digest(text: str) -> str:
    """``sha-256:<hex>`` of a stored token, so a record names exactly the token it vouches for."""
    return "sha-256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def sign_record(
    identity: NodeIdentity, kind: str, payload: Mapping[str, Any], *, now: dt.datetime | None = None
) -> str:
    """A compact JWS of ``payload`` (with ``kind`` and ``signedAt``) by the node's active Ed25519 key."""
    key = identity.active("Ed25519")
    body = {**payload, "kind": kind, "signedAt": iso(now or utc_now())}
    return sign_compact(
        {"typ": RECORD_TYP, "kid": identity.key_id(key)},
        json.dumps(body, separators=(",", ":"), sort_keys=True).encode(),
        key,
    )


def open_record(identity: NodeIdentity, token: str | None, kind: str) -> dict[str, Any]:
    """The verified payload of a record of ``kind`` signed by ``identity``; raises
    ``CredentialRejected`` when it is missing, malformed, signed by another key or of another kind."""
    if not token:
        raise CredentialRejected(f"no signed {kind} record is stored", reason=RejectReason.SIGNATURE, rule=_RULE)
    header, _ = peek(token)
    kid = header.get("kid")
    key = identity.find(kid) if isinstance(kid, str) else None
    if key is None:
        raise CredentialRejected(
            f"{kind} record is signed by {kid!r}, not by a key of {identity.did}",
            reason=RejectReason.UNKNOWN_KEY,
            rule=_RULE,
        )
    _, payload = verify_compact(token, key.public_jwk(), typ=RECORD_TYP)
    if payload.get("kind") != kind:
        raise CredentialRejected(
            f"record is a {payload.get('kind')!r} record, expected {kind!r}", reason=RejectReason.MALFORMED, rule=_RULE
        )
    if key.retired_at is not None:
        try:
            signed_at = parse_time(str(payload.get("signedAt")))
        except ValueError as exc:
            raise CredentialRejected(f"{kind} record has no signedAt", reason=RejectReason.MALFORMED) from exc
        if signed_at > key.retired_at:
            raise CredentialRejected(
                f"{kind} record signed with {kid} after it was retired",
                reason=RejectReason.KEY_RETIRED,
                rule="key rotation: retired keys verify only earlier signatures",
            )
    return payload
