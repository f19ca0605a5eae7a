"""What the ledger needs from outside: keys per owner, public keys by DID URL (its own, and its
partners' resolved through their DID documents), who pushes a summary, and the graph reader the
trace walks (implemented in SQL by ``_sql``/``_trace``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from batpass.trust import NodeIdentity

__all__ = [
    "EdgeRow",
    "FootprintSource",
    "GraphReader",
    "IdentityProvider",
    "PublicKeyResolver",
    "SignerKeyResolver",
    "SummaryPushers",
]


class IdentityProvider(Protocol):
    """The signing identity of an owner whose ledger this node keeps (the node itself, or a hub
    operator whose keys the hub holds); None when the node may not write for that owner."""

    def __call__(self, owner: str) -> NodeIdentity | None: ...


class FootprintSource(Protocol):
    """The product footprint (a PACT v3 document) that travels in a lot's or battery's upstream
    summary; None when this node has declared none for that product. ``product`` is the battery's
    GS1 Digital Link URI or the lot's material code."""

    def __call__(self, *, battery: str | None, material: str) -> Mapping[str, Any] | None: ...


class PublicKeyResolver(Protocol):
    """The public JWK of a DID URL (``did#kid``), from the owner's DID document; None if unknown."""

    def __call__(self, kid: str) -> Mapping[str, Any] | None: ...


class SignerKeyResolver(Protocol):
    """A partner's public JWK for a DID URL (``did#kid``), resolved through its DID document under
    the federation's trust (the node wires trust's did:web resolver: HTTPS with the federation
    CA). ``fresh`` asks past every cache the implementation keeps (the partner may have rotated
    its key). None when the DID does not resolve or its document names no such key. It may do
    I/O: the ledger calls it only while receiving a summary, never when it uses one."""

    def __call__(self, kid: str, *, fresh: bool = False) -> Mapping[str, Any] | None: ...


class SummaryPushers(Protocol):
    """Who pushes a signed summary to ``POST /v1/ledger/summaries``: the verified DID of a
    federation member's DCP self-issued token (``authorization`` is the request's
    ``Authorization`` header). Raises ``Unauthorized``/``Forbidden`` (or trust's
    ``CredentialRejected``) when the token, the membership or its single use does not hold."""

    async def pusher_did(self, authorization: str) -> str: ...


EdgeRow = tuple[str, str, str, str, str, float]  # (owner, child, parent_owner, parent, event_id, input_kg)


class GraphReader(Protocol):
    """One query per hop: edges into (upstream) or out of (downstream) a frontier of lots."""

    def parents(self, frontier: Sequence[tuple[str, str]], owners: frozenset[str]) -> list[EdgeRow]: ...

    def children(self, frontier: Sequence[tuple[str, str]], owners: frozenset[str]) -> list[EdgeRow]: ...
