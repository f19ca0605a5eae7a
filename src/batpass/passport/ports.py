"""What the passport needs from outside, as Protocols (the node wires the implementations).

- :class:`RoleVerifier` (docs/contracts.md): the roles a reader proves with a bearer presentation;
  ``trust`` implements it (verified ``vp+jwt`` / SD-JWT with key binding, audience the serving
  node's DID, nonce from ``/v1/auth/nonce``).
- :class:`CallerVerifier`: the DID of a writer on another node, from its DCP self-issued token
  (``Authorization: Bearer <token>``, audience this node's DID, DCP 1.0 §4.3); ``trust``
  verifies it (the node wires an adapter). The passport's write rules (responsible operator or
  written mandate, Art. 77(4)) then decide with that DID as the actor.
- :class:`UpstreamSummarySource` (docs/contracts.md): the verified upstream summary of a battery, from
  the ledger (origin, recycled content, footprint, credentials).
- :class:`PublicKeyResolver`: the public JWK of a ``did#kid`` (did:web resolution), used to check
  the signature of backup copies another node sends.
- :class:`Clock`: the time, so tests and lifecycle dates are deterministic — batpass's one clock,
  re-exported from :mod:`batpass.core.clock` (as is :class:`SystemClock`).
- :class:`PageRenderer`: the HTML pages of the resolver (``batpass.web`` renders them), so the
  passport knows no templates and the pages only ever receive the reader's visible view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from batpass.core.clock import Clock, SystemClock
from batpass.core.ids import BatteryId
from batpass.ledger import UpstreamSummary

if TYPE_CHECKING:
    from batpass.passport.model import Passport, Tier

__all__ = [
    "CallerVerifier",
    "Clock",
    "PageRenderer",
    "PublicKeyResolver",
    "RoleVerifier",
    "SystemClock",
    "UpstreamSummarySource",
]


class RoleVerifier(Protocol):
    async def roles_for(self, bearer_token: str | None) -> frozenset[str]:
        """The verified roles of the presenter (empty for ``None`` or an anonymous reader).

        Raises ``Unauthorized`` for a presentation that does not verify.
        """
        ...


class CallerVerifier(Protocol):
    async def caller_did(self, authorization: str | None) -> str | None:
        """The verified DID of the caller presenting ``authorization`` (the whole header value,
        ``Bearer <self-issued token>``), or ``None`` when there is no header.

        Raises ``Unauthorized`` for a token that does not verify (signature by a key of the
        ``iss`` DID, ``iss`` = ``sub``, audience this node's DID, ``exp``/``iat``).
        """
        ...


class UpstreamSummarySource(Protocol):
    def summary_for(self, battery: BatteryId) -> UpstreamSummary | None:
        """The verified upstream summary (docs/contracts.md) for ``battery``, or ``None``."""
        ...


class PublicKeyResolver(Protocol):
    def jwk_for(self, kid: str) -> Mapping[str, Any]:
        """The public JWK of the key ``kid`` (a DID URL); raises ``NotFound`` if unknown."""
        ...


class PageRenderer(Protocol):
    def passport_page(
        self,
        passport: Passport,
        view: Mapping[str, Any],
        *,
        tiers: Iterable[Tier],
        roles: Iterable[str],
        resolve_link: Callable[[str], str | None],
    ) -> str:
        """The HTML page of ``passport`` showing ``view`` (already cut to the reader's tiers);
        ``resolve_link`` turns a linked passport's URN into its resolver path, or None."""
        ...

    def message_page(self, title: str, text: str) -> str:
        """A short HTML page with a message (an unknown or malformed battery identifier)."""
        ...
