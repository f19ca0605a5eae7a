"""Signed tokens already verified, in this worker's memory: verifying the same bytes against the
same key gives the same result, and a node meets the same tokens again (a warm federated trace
pulls the same signed summaries; the ledger checks a received summary at every use and in its
self-audit). :class:`VerifiedTokens` keeps the result of a successful verification by (the
token's SHA-256, the canonical JWK of the key its ``kid`` resolves to *now*): a key rotated out of
its DID document, replaced, or no longer known misses and the token is verified afresh (and
fails); a token that fails is never kept. Bounded, least recently used out first.

It knows nothing of what a token means: each caller passes its own verification.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from batpass.trust._jose import peek_header
from batpass.trust.errors import CredentialRejected

__all__ = ["VerifiedTokens"]

T = TypeVar("T")
Resolver = Callable[[str], Mapping[str, Any] | None]


def _entry(token: str, jwk: Mapping[str, Any]) -> tuple[str, str]:
    return hashlib.sha256(token.encode()).hexdigest(), json.dumps(dict(jwk), sort_keys=True)


class VerifiedTokens:
    """Successful verifications by (token digest, key): see the module docstring."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._done: OrderedDict[tuple[str, str], Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._done)

    def verify(self, token: str, resolve_key: Resolver, verify: Callable[[str, Resolver], T]) -> T:
        """``verify(token, resolve_key)``, or its kept result for the same token and the key its
        ``kid`` resolves to now. A token whose key does not resolve is verified (which says why)."""
        try:
            kid = peek_header(token).get("kid")
        except CredentialRejected:
            kid = None
        jwk = resolve_key(kid) if isinstance(kid, str) else None
        if jwk is None:
            return verify(token, resolve_key)
        entry = _entry(token, jwk)
        if entry in self._done:
            self._done.move_to_end(entry)
            kept: T = self._done[entry]
            # a frozen value is shared as is; a mutable answer (a dict) is the caller's own copy
            return copy.deepcopy(kept) if isinstance(kept, dict) else kept
        # the key the entry names, not a second lookup that could answer another
        result = verify(token, lambda k: jwk if k == kid else resolve_key(k))
        self.keep(token, jwk, result)
        return result

    def keep(self, token: str, jwk: Mapping[str, Any], result: Any) -> None:
        """Keep ``result`` of a successful verification of ``token`` with ``jwk`` (verified by the
        caller, e.g. with a key resolved afresh after a cached one failed)."""
        entry = _entry(token, jwk)
        self._done[entry] = copy.deepcopy(result) if isinstance(result, dict) else result
        self._done.move_to_end(entry)
        while len(self._done) > self.limit:
            self._done.popitem(last=False)
