"""Partners' signed answers already verified: a warm trace pulls the same signed summaries again
(a partner re-signs only when one of its inputs changed), and verifying the same bytes against
the same key gives the same result. :class:`VerifiedAnswers` keeps the result of a successful
verification by (token, the public key the token's ``kid`` resolves to *now*): a key that is
rotated out of its DID document, or resolves to another key, misses and is verified afresh; a
token that fails is never kept. Bounded (least recently used out first), in this worker's memory.
"""

from __future__ import annotations

import base64
import copy
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

__all__ = ["VerifiedAnswers"]

T = TypeVar("T")
Resolver = Callable[[str], Mapping[str, Any] | None]


class VerifiedAnswers:
    """Successful verifications by (token, key): see the module docstring."""

    def __init__(self, limit: int = 1024) -> None:
        self.limit = limit
        self._done: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._kids: dict[str, str | None] = {}  # a JWS header (its base64url part) → its kid

    def _kid(self, token: str) -> str | None:
        head = token.split(".", 1)[0]
        if head in self._kids:
            return self._kids[head]
        try:
            header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
        except ValueError:
            return None
        kid = header.get("kid") if isinstance(header, dict) else None
        if len(self._kids) >= self.limit:
            self._kids.clear()
        self._kids[head] = kid if isinstance(kid, str) else None
        return self._kids[head]

    def verify(self, token: str, resolve_key: Resolver, verify: Callable[[str, Resolver], T]) -> T:
        """``verify(token, resolve_key)``, or its kept result for the same token and key."""
        kid = self._kid(token)
        jwk = resolve_key(kid) if kid is not None else None
        if jwk is None:  # the verification says why
            return verify(token, resolve_key)
        key = (token, json.dumps(dict(jwk), sort_keys=True))
        if key in self._done:
            self._done.move_to_end(key)
            kept: T = self._done[key]
            # a frozen summary is shared as is; a mutable answer (a dict) is the caller's own copy
            return copy.deepcopy(kept) if isinstance(kept, dict) else kept
        result = verify(token, resolve_key)
        self._done[key] = copy.deepcopy(result) if isinstance(result, dict) else result
        while len(self._done) > self.limit:
            self._done.popitem(last=False)
        return result
