"""What the passport needs from outside, as Protocols (the node wires the implementations).

- :class:`RoleVerifier` (docs/contracts.md): the roles a reader proves with a bearer presentation;
  ``trust`` implements it (verified ``vp+jwt`` / SD-JWT with key binding, audience the serving
  node's DID, nonce from ``/v1/auth/nonce``).
- :class:`CallerVerifier`: the DID of a writer on another node, from its DCP self-issued token
  (``Authorization: Bearer <token>``, audience this node's DID, DCP 1.0 §4.3); ``trust``
  verifies it (the node wires an adapter). The passport's write rules (responsible operator or
  written mandate, Art. 77(4)) then decide with that DID as the actor.
- :class:`UpstreamSummarySource` (docs/contracts.md): the verified upstream summary of a battery, from
  the ledger (origin, footprint, credentials; its recycled shares, per battery by mass balance,
  only where no Art. 8 figure is known).
- :class:`RecycledContentSource`: the Art. 8 recycled content of the battery's model and batch
  per plant, from the ledger — the one figure the passport, the API and the compliance report show.
- :class:`PublicKeyResolver`: the public JWK of a ``did#kid`` (did:web resolution), used to check
  the signature of backup copies another node sends.
- :class:`Clock`: the time, so tests and lifecycle dates are deterministic — batpass's one clock,
  re-exported from :mod:`batpass.core.clock` (as is :class:`SystemClock`).
- :class:`PageRenderer`: the HTML pages of the resolver (``batpass.web`` renders them), so the
  passport knows no templates and the pages only ever receive the reader's visible view.
- :class:`BatteryResolver`: a node with the ``resolver`` role answers the Digital Link of a
  battery operated elsewhere (from its operator's node, else its backup node's signed copy;
  ``batpass.federation`` implements it, docs/resolver.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from batpass.core.clock import Clock, SystemClock
from batpass.core.ids import BatteryId
from batpass.ledger import UpstreamSummary

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from batpass.passport.model import Passport, Tier

__all__ = [
    "BatteryResolver",
    "CallerVerifier",
    "Clock",
    "PageRenderer",
    "PublicKeyResolver",
    "RecycledContentSource",
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


class RecycledContentSource(Protocol):
    def art8_recycled_for(self, battery: BatteryId) -> Mapping[str, Any] | None:
        """The Art. 8 recycled content of the battery's model and batch per plant (the ledger's
        ``recycled_content_of``: ``elements`` by symbol, each with ``basis``, ``pre_consumer``,
        ``post_consumer`` — None where unknown — and ``unknown_mass_share``), or None."""
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
        served_from: Mapping[str, Any] | None = None,
    ) -> str:
        """The HTML page of ``passport`` showing ``view`` (already cut to the reader's tiers);
        ``resolve_link`` turns a linked passport's URN into its resolver path, or None;
        ``served_from`` (``holder``, ``holderName``, ``version``, ``heldSince``) marks a page served
        from a backup node's copy."""
        ...

    def history_page(self, passport: Passport, versions: Sequence[Mapping[str, Any]]) -> str:
        """The HTML page of ``passport``'s versions (the history entries, cut to the reader's tiers)."""
        ...

    def message_page(self, title: str, text: str) -> str:
        """A short HTML page with a message (an unknown or malformed battery identifier)."""
        ...


class BatteryResolver(Protocol):
    def handles(self, battery: BatteryId) -> bool:
        """Whether this node resolves the battery elsewhere (a route for its GTIN)."""
        ...

    async def answer(self, battery: BatteryId, request: Request) -> Response | None:
        """The answer to the battery's Digital Link request when another node operates it (None:
        no route for it here, the node answers from its own store)."""
        ...
