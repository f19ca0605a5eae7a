"""Adapters the composition root plugs between capabilities that must not import each other.

- trust's DCP verifier → dataspace's :class:`~batpass.dataspace.ports.ParticipantVerifier`: the
  BPNL is taken only from a verified credential (the membership's ``holderIdentifier``), never
  from the caller's self-issued token or a header; memberships are the verified credential types,
  and each verified credential's claims and validity go along (CX-0152 ``FrameworkAgreement``
  checks the framework credential's ``contractVersion`` and expiry), as do the framework
  credentials it presented that did not verify, with the reason.
- trust's self-issued tokens → dataspace's :class:`~batpass.dataspace.ports.TokenIssuer`.
- trust's DID resolver → passport's ``PublicKeyResolver``; the ledger → passport's
  ``UpstreamSummarySource``.
- trust's self-issued token verification → passport's ``CallerVerifier``: a writer on another
  node is the verified issuer DID of its DCP self-issued token (audience this node's DID).
- trust's DID resolver → ledger's ``SignerKeyResolver`` (a pushed summary's signer key), and the
  DCP participant verifier with the single-use check → ledger's ``SummaryPushers``.
- :func:`federation_fetches`: which hosts trust's resolver may fetch DID documents from — every
  host whose certificate the federation CA signed, or only the configured ``federation_hosts``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from batpass.core.errors import BatpassError, NotFound
from batpass.core.ids import BatteryId
from batpass.dataspace import Participant, PresentedCredential
from batpass.footprint import FootprintFilter, PactService
from batpass.ledger import LedgerService, UpstreamSummary
from batpass.trust import (
    CredentialRejected,
    DidResolver,
    NodeIdentity,
    RejectReason,
    TrustService,
    UsedTokens,
    issue_self_issued_token,
    verify_self_issued_token,
)

__all__ = [
    "DcpParticipantAdapter",
    "DidKeyResolver",
    "DidSignerKeys",
    "FederationCaHosts",
    "LedgerSummarySource",
    "MemberPushers",
    "SelfIssuedCaller",
    "SelfIssuedTokenIssuer",
    "federation_fetches",
    "resolves",
]

log = logging.getLogger("batpass.node")


class DcpParticipantAdapter:
    def __init__(self, trust: TrustService) -> None:
        self._trust = trust

    def prefetch(self, did: str) -> None:
        """Ask ``did``'s credential service ahead of its first message (dataspace ``PresentationPrefetch``)."""
        self._trust.participant_verifier().prefetch(did)

    async def verify(self, authorization: str | None) -> Participant:
        return await self.verify_identified(authorization, None)

    async def verify_identified(
        self, authorization: str | None, identified: Callable[[str], None] | None
    ) -> Participant:
        """dataspace ``IdentifyingVerifier``: ``identified`` hears the DID once the token verifies."""
        verified = await self._trust.participant_verifier().verify(authorization, identified=identified)
        types: set[str] = set()
        bpnl: str | None = None
        # the membership names the BPNL; framework credentials were checked to name the same one
        ordered = sorted(verified.credentials, key=lambda v: "MembershipCredential" not in v.types)
        for v in ordered:
            types |= set(v.types)
            hid = v.subject.get("holderIdentifier")
            if bpnl is None and isinstance(hid, str) and hid.startswith("BPNL"):
                bpnl = hid
        presented = tuple(
            PresentedCredential(types=v.types, subject=dict(v.subject), valid_until=v.valid_until, issuer=v.issuer)
            for v in verified.credentials
        )
        return Participant(
            did=verified.did,
            bpnl=bpnl,
            memberships=frozenset(types),
            credentials=presented,
            refused=dict(verified.refused),
        )


class SelfIssuedTokenIssuer:
    def __init__(self, identity: NodeIdentity, *, bpn: str | None) -> None:
        self._identity = identity
        self._bpn = bpn

    def issue(self, *, audience: str) -> str:
        return issue_self_issued_token(self._identity, audience=audience, bpn=self._bpn)


class DidKeyResolver:
    """passport's ``PublicKeyResolver``: the public JWK of ``did#kid`` through trust's did:web
    resolver (allow-listed federation hosts, cached)."""

    def __init__(self, trust: TrustService) -> None:
        self._trust = trust

    def jwk_for(self, kid: str) -> Mapping[str, Any]:
        try:  # a key the cached document lacks fetches it again (the partner rotated)
            return dict(self._trust.resolver.method(kid).jwk)
        except CredentialRejected as exc:
            if exc.reason is not RejectReason.UNKNOWN_KEY:
                raise
            raise NotFound(f"{kid}: {exc}", rule="DID Core verificationMethod") from exc

    def jwk_or_none(self, kid: str) -> Mapping[str, Any] | None:
        """The same, answering ``None`` for an unknown key (ports that treat it as a refusal)."""
        try:
            return self.jwk_for(kid)
        except NotFound:
            return None


class LedgerSummarySource:
    """passport's ``UpstreamSummarySource`` and ``RecycledContentSource``, from the node's own ledger."""

    def __init__(self, ledger: LedgerService, owner: str, resolver_base: str) -> None:
        self._ledger = ledger
        self._owner = owner
        self._resolver_base = resolver_base

    def summary_for(self, battery: BatteryId) -> UpstreamSummary | None:
        try:
            return self._ledger.summary(self._owner, battery.digital_link(self._resolver_base))
        except NotFound:
            return None

    def art8_recycled_for(self, battery: BatteryId) -> Mapping[str, Any] | None:
        """passport's ``RecycledContentSource``: the ledger's Art. 8 figure of the battery's group."""
        try:
            return self._ledger.recycled_content_of(self._owner, battery.digital_link(self._resolver_base))
        except NotFound:
            return None


class SelfIssuedCaller:
    """passport's ``CallerVerifier``: the DID of a caller on another node, from its DCP
    self-issued token (``Authorization: Bearer <token>``; DCP 1.0 §4.3).

    trust's :func:`~batpass.trust.verify_self_issued_token` checks the signature by a key of the
    ``iss`` DID (resolved with the node's allow-listed did:web resolver), ``iss`` = ``sub``,
    ``aud`` = ``audience`` (this node's DID), ``exp`` and ``iat``, and that the token was not used
    for a write before (``used``). The check runs in a worker
    thread because resolving a DID not yet cached fetches its document over HTTPS.
    """

    def __init__(self, resolver: DidResolver, *, audience: str, used: UsedTokens) -> None:
        self._resolver = resolver
        self._audience = audience
        self._used = used

    async def caller_did(self, authorization: str | None) -> str | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise CredentialRejected(
                "Authorization: expected 'Bearer <self-issued token>'",
                reason=RejectReason.MALFORMED,
                rule="RFC 6750; DCP 1.0 §4.3",
            )
        caller = await asyncio.to_thread(
            verify_self_issued_token, token.strip(), audience=self._audience, resolver=self._resolver
        )
        # a write's token is single-use: the same token twice is a replay
        await asyncio.to_thread(self._used.consume, caller)
        return caller.did


class DidSignerKeys:
    """ledger's ``SignerKeyResolver``: a partner's key through its DID document, resolved by trust's
    did:web resolver (HTTPS with the federation CA; documents cached for the resolver's TTL).
    ``fresh`` drops the cached document first, so a rotated key is fetched. An unresolvable DID or
    an unknown key answers None (the ledger refuses the summary with 401 naming the key)."""

    def __init__(self, trust: TrustService) -> None:
        self._trust = trust
        self._keys = DidKeyResolver(trust)

    def __call__(self, kid: str, *, fresh: bool = False) -> Mapping[str, Any] | None:
        did = kid.split("#", 1)[0]
        if fresh:
            self._trust.resolver.forget(did)
        try:
            return self._keys.jwk_for(kid)
        except (NotFound, CredentialRejected) as exc:
            log.info("no key %s: %s", kid, exc)
            return None


def resolves(trust: TrustService, did: str) -> bool:
    """Whether ``did`` resolves through trust's did:web resolver (the federation's hosts, HTTPS with
    its CA; cached): who a node may send a message to (docs/outflows.md "Reconciliation")."""
    try:
        trust.resolver.resolve_sync(did)
    except (BatpassError, CredentialRejected) as exc:
        log.info("%s does not resolve: %s", did, exc)
        return False
    return True


class MemberPushers:
    """ledger's ``SummaryPushers``: the DID of a federation member pushing a summary, from its DCP
    self-issued token — verified and spent once by :class:`SelfIssuedCaller` (the passport
    writers' check), then its membership by the node's DCP participant verifier (the caller's
    credential service presents a MembershipCredential of a trusted issuer)."""

    def __init__(self, caller: SelfIssuedCaller, trust: TrustService) -> None:
        self._caller = caller
        self._trust = trust

    async def pusher_did(self, authorization: str) -> str:
        did = await self._caller.caller_did(authorization)
        if not did:
            raise CredentialRejected("the self-issued token names no caller", reason=RejectReason.MALFORMED)
        member = await self._trust.participant_verifier().verify(authorization)
        if member.did != did:  # the same token: cannot differ, but the pusher is the member
            raise CredentialRejected("the membership belongs to another DID", reason=RejectReason.HOLDER)
        return did


class FederationCaHosts(set[str]):
    """trust's fetch allow-list when the configuration names no ``federation_hosts``: every host.
    The guard is the TLS trust: the node's HTTPS clients trust only the federation CA
    (:func:`~batpass.trust.client_ssl_context`), so a DID document or status list is read only
    from a host whose certificate the federation issued (docs/decisions/2026-12-06-partners-by-identity.md)."""

    def __contains__(self, host: object) -> bool:
        return isinstance(host, str)


def federation_fetches(trust: TrustService, federation_hosts: Iterable[str] | None, *, own: str) -> None:
    """Set which hosts trust's resolver may fetch from: with ``federation_hosts`` configured, only
    those and the node's own ``host:port`` (an extra restriction); without, every host the
    federation CA vouches for (:class:`FederationCaHosts`)."""
    if federation_hosts is None:
        trust.fetcher.allowed_hosts = FederationCaHosts()
    else:
        trust.fetcher.allowed_hosts = {h.lower() for h in (own, *federation_hosts)}


class PactFootprintSource:
    """ledger's ``FootprintSource``: the newest active PACT v3 footprint this node declared for a
    battery's product (``urn:gtin:{gtin}``, as the pack maker declares it), so the footprint
    travels in the battery's upstream summary."""

    def __init__(self, pact: PactService) -> None:
        self._pact = pact

    def __call__(self, *, battery: str | None, material: str) -> Mapping[str, Any] | None:
        if battery is None:
            return None
        product = f"urn:gtin:{BatteryId.parse(battery).gtin}"
        page = self._pact.list_footprints(FootprintFilter(product_ids=(product,), statuses=("Active",)))
        return dict(page.documents[-1]) if page.documents else None
