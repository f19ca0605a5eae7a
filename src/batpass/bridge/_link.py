"""The bridge between the Ouranos hub and Catena-X, for the recursive trace (docs/architecture.md
"Flows", flow 2, and "Confidentiality"): both directions, with each hub operator's consent.

**Japan → Europe.** A hub operator's DID document names the bridge's connector as its
``DataService`` (``participantId`` = the bridge, see :meth:`OuranosHub.operator_did_document`)
once the operator has released something to a Catena-X partner. A Catena-X node that received
a lot from that operator therefore negotiates with the bridge, which offers ``upstream-summary``
and ``downstream-recall`` like any connector (Membership policy) but answers from the hub:
:class:`BridgeAnswers` asks the hub (``POST /v1/ouranos/bridge/answer``, a DCP self-issued token
of the bridge addressed to the hub), and the hub answers for the operator whose partition shipped
the lot to that consumer — only if the operator released that scope to the consumer's BPNL
(verified by the bridge's DCP check, never taken from a header). The summary is signed with the
operator's key, so the consumer verifies it against the operator's DID like any supplier's.

**Europe → Japan.** When a hub operator's trace reaches a partner that lives on Catena-X (a
refiner or a mine node), :class:`HubPartners` asks the bridge to relay (``POST
/v1/bridge/relay``) with a *delegation*: a self-issued token of the operator (signed with the
key the hub holds for it), addressed to that partner, whose RFC 8693 ``act`` claim names the
bridge. The bridge accepts it only for operators in its crosswalk, pulls through its own
connector with the delegation as a query parameter, and the partner answers as if the operator
asked (:meth:`FederatedTrace._asker`): only about lots it shipped to (or received from) that
operator. Partners hosted on the same hub are asked in-process, with the same rule.

Nothing here learns more than a connector would: the bridge passes signed envelopes through
(shares, counts and tombstones), and tombstone reasons stay categories.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
import httpx
from pydantic import BaseModel, Field

from batpass.bridge.service import CrosswalkService
from batpass.core.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    UpstreamUnavailable,
)
from batpass.federation import (
    DEADLINE_FIELD,
    RECALL_ASSET,
    UPSTREAM_ASSET,
    DspPartners,
    FederatedTrace,
    Refused,
)
from batpass.ledger import LedgerService
from batpass.ouranos import OuranosHub
from batpass.trust import (
    DidResolver,
    NodeIdentity,
    TrustService,
    issue_self_issued_token,
    present_sd_jwt,
    verify_self_issued_token,
)

__all__ = ["BridgeAnswers", "BridgeRelay", "HubFederation", "HubLink", "HubPartners", "RelayQuestion"]

_ASSETS = {UPSTREAM_ASSET: "lot", RECALL_ASSET: "recall"}
#: the operator's credentials that travel in its summaries, and what a claim discloses there
ATTACHED = frozenset(
    {"CertifiedCarbonFootprintCredential", "RecycledContentAttestationCredential", "OriginAttestationCredential"}
)
DISCLOSED = ("originByCountry", "minesReached", "custodyModels")  # asset → the source key FederatedTrace serves
_TIMEOUT = httpx.Timeout(60.0)
#: query parameters of a question that travel with it across the bridge (a recall's salt, the
#: question's deadline: the hub's operators and the Catena-X partner apply it to their own questions)
_PASSED = frozenset({"salt", DEADLINE_FIELD})


def _refusal(resp: httpx.Response, role: str) -> Refused:
    """A partner's refusal relayed by the bridge keeps its category; anything else is generic."""
    try:
        reason = resp.json().get("reason")
    except ValueError:
        reason = None
    if isinstance(reason, str) and reason and len(reason) <= 200:
        return Refused(reason)
    if resp.status_code == 404:
        return Refused(f"{role} refused: no answer about this lot for this node")
    return Refused(f"{role} unreachable through the bridge")


# ------------------------------------------------------------------------------ the hub side


class HubPartners:
    """The :class:`~batpass.federation.PartnerPort` of one hub operator: partners hosted on
    the same hub are asked in-process, every other partner through the bridge's relay."""

    def __init__(self, federation: HubFederation, owner: str) -> None:
        self.federation = federation
        self.owner = owner

    async def pull(
        self, did: str, lot: str, asset: str, role: str, extra: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        fed = self.federation
        query = {**(extra or {}), "lot": lot}
        if await anyio.to_thread.run_sync(fed.hub.operator_id_of, did) is not None:
            try:
                answer = await fed.trace_for(did).query_content(
                    _ASSETS[asset], consumer_did=self.owner, consumer_bpnl=None, agreement_id="", query=query
                )
            except NotFound as exc:
                raise Refused(f"{role} refused: no answer about this lot for this node") from exc
            return dict(answer)
        return await fed.relay(self.owner, did, lot, asset, role, extra or {})


class HubFederation:
    """The recursive trace on an Ouranos hub: one :class:`FederatedTrace` per hosted operator
    (its partition, its key), reaching Catena-X partners through the configured bridge.

    ``bridge_url`` is the bridge's base URL and ``bridge_did`` its DID (the relay and the hub's
    answers to it are addressed to and checked against it)."""

    def __init__(
        self,
        *,
        hub: OuranosHub,
        ledger: LedgerService,
        resolver: DidResolver,
        client: httpx.AsyncClient,
        bridge_url: str,
        bridge_did: str,
        wallet: TrustService | None = None,
    ) -> None:
        self.hub = hub
        #: where the hub keeps its operators' credentials (it holds their keys)
        self.wallet = wallet
        self._bpnl_of: dict[str, str] = {}  # Catena-X consumer DID → its BPNL, as the bridge verified it
        self.ledger = ledger
        self.resolver = resolver
        self.client = client
        self.bridge_url = bridge_url.rstrip("/")
        self.bridge_did = bridge_did
        self._traces: dict[str, FederatedTrace] = {}

    def trace_for(self, owner: str) -> FederatedTrace:
        hit = self._traces.get(owner)
        if hit is None:
            op_id = self.hub.operator_id_of(owner)
            if op_id is None:
                raise NotFound(f"{owner} is not an operator of this hub", rule="hosted operators only")
            hit = FederatedTrace(
                ledger=self.ledger,
                identity=self.hub.operator_identity(op_id),
                partners=HubPartners(self, owner),
                resolve_did=self.resolver.resolve,
                cached_did=self.resolver.cached,
                credentials=functools.partial(self._certificates, op_id, owner),
            )
            self._traces[owner] = hit
        return hit

    def _certificates(self, op_id: str, owner: str, requester: str) -> list[str]:
        """What the hub keeps for the operator and attaches to its summaries for a Catena-X
        requester the operator released ``certificates`` to (nothing for anyone else): its
        certified CFP (``vc+jwt``), and its certified claims (SD-JWT VCs) presented with the
        claim disclosed and the supply evidence (suppliers, quantities) left out."""
        bpnl = self._bpnl_of.get(requester)
        if self.wallet is None or not self.hub.bridge_released(op_id, bpnl, "certificates"):
            return []
        held = self.wallet.held(ATTACHED, subject=owner)
        return [token if "~" not in token else present_sd_jwt(token, disclose=DISCLOSED) for token in held]

    def _delegation(self, owner: str, audience: str) -> str:
        op_id = self.hub.operator_id_of(owner)
        if op_id is None:
            raise NotFound(f"{owner} is not an operator of this hub", rule="hosted operators only")
        identity: NodeIdentity = self.hub.operator_identity(op_id)
        return issue_self_issued_token(identity, audience=audience, bpn=None, actor=self.bridge_did)

    async def relay(
        self, owner: str, partner: str, lot: str, asset: str, role: str, query: Mapping[str, str]
    ) -> dict[str, Any]:
        """Ask a Catena-X partner through the bridge, as ``owner`` (one of the hub's operators);
        ``query`` carries the question's other parameters (a recall question's salt)."""
        token = await anyio.to_thread.run_sync(self._delegation, owner, partner)
        body = {"partner": partner, "lot": lot, "asset": asset, "role": role, "delegation": token, "query": dict(query)}
        try:
            resp = await self.client.post(self.bridge_url + "/v1/bridge/relay", json=body, timeout=_TIMEOUT)
        except httpx.HTTPError as exc:
            raise Refused("the bridge is unreachable") from exc
        if resp.status_code != 200:
            raise _refusal(resp, role)
        answer = resp.json()
        if not isinstance(answer, dict):
            raise Refused(f"{role}'s answer is not an object")
        return answer

    async def answer(
        self,
        asset: str,
        lot: str,
        consumer_did: str,
        consumer_bpnl: str | None,
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The bridge asks on behalf of a verified Catena-X consumer: the operator whose
        partition shipped ``lot`` to it (upstream) or received ``lot`` from it (recall) answers,
        if it released that scope to the consumer's BPNL."""
        if asset not in _ASSETS:
            raise InvalidInput(f"unknown asset {asset!r}", field="asset", rule=f"one of {sorted(_ASSETS)}")
        owner = await anyio.to_thread.run_sync(self._operator_for, asset, lot, consumer_did)
        hidden = NotFound(f"no lot {lot} for you", field="lot", rule="answers about lots exchanged with you")
        if owner is None:
            raise hidden
        op_id = self.hub.operator_id_of(owner)
        assert op_id is not None
        if not await anyio.to_thread.run_sync(self.hub.bridge_released, op_id, consumer_bpnl, asset):
            raise Forbidden(
                f"the operator has not released {asset} to {consumer_bpnl or 'this partner'}",
                rule="Japan → Europe: only what the hub operator released crosses the bridge",
            )
        if consumer_bpnl:
            self._bpnl_of[consumer_did] = consumer_bpnl
        result: dict[str, Any] = await self.trace_for(owner).query_content(
            _ASSETS[asset],
            consumer_did=consumer_did,
            consumer_bpnl=consumer_bpnl,
            agreement_id="",
            query={**(query or {}), "lot": lot},
        )
        return result

    def _operator_for(self, asset: str, lot: str, consumer_did: str) -> str | None:
        for op in self.hub.operators():
            if asset == RECALL_ASSET:
                if self.ledger.receipts_of(op.did, consumer_did, lot):
                    return op.did
                continue
            try:
                self.ledger.lot(op.did, lot)
            except NotFound:
                continue
            return op.did
        return None


class RelayQuestion(BaseModel):
    """A hub operator's question the bridge relays to a Catena-X partner (``POST /v1/bridge/relay``)."""

    partner: str = Field(min_length=1, max_length=512)
    lot: str = Field(min_length=1, max_length=128)
    asset: str = Field(max_length=64)
    role: str = Field(default="supplier", pattern="^(supplier|customer)$")
    delegation: str = Field(min_length=1, max_length=8192)
    query: dict[str, str] = Field(default_factory=dict, max_length=4)


# ------------------------------------------------------------------------------ the bridge side


class HubLink:
    """The bridge's calls to its hub: HTTPS with a DCP self-issued token addressed to the hub."""

    def __init__(self, *, identity: NodeIdentity, client: httpx.AsyncClient, hub_url: str, hub_did: str) -> None:
        self.identity = identity
        self.client = client
        self.hub_url = hub_url.rstrip("/")
        self.hub_did = hub_did

    async def post(self, path: str, body: Mapping[str, Any]) -> httpx.Response:
        token = issue_self_issued_token(self.identity, audience=self.hub_did, bpn=None)
        try:
            return await self.client.post(
                self.hub_url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=_TIMEOUT
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("the Ouranos hub is unreachable", rule="bridge → hub") from exc


class BridgeAnswers:
    """The ``upstream-summary`` / ``downstream-recall`` source of a bridge's connector: answers
    come from the hub, for the consumer the connector verified (DID and BPNL from the agreement)."""

    def __init__(self, hub: HubLink) -> None:
        self.hub = hub
        self.owner = hub.identity.did

    async def content(self, key: str, *, participant_bpnl: str | None, agreement_id: str) -> Any:
        raise InvalidInput(f"the {key} asset needs ?lot=ID", field="lot", rule="federated trace asset query")

    async def query_content(
        self,
        key: str,
        *,
        consumer_did: str,
        consumer_bpnl: str | None,
        agreement_id: str,
        query: Mapping[str, str],
    ) -> Any:
        lot = query.get("lot", "")
        if not lot or len(lot) > 128:
            raise InvalidInput("the asset needs ?lot=ID", field="lot", rule="federated trace asset query")
        asset = next(a for a, k in _ASSETS.items() if k == key)
        passed = {k: v for k, v in query.items() if k in _PASSED}
        body = {
            "asset": asset,
            "lot": lot,
            "consumer_did": consumer_did,
            "consumer_bpnl": consumer_bpnl,
            "query": passed,
        }
        resp = await self.hub.post("/v1/ouranos/bridge/answer", body)
        if resp.status_code == 200:
            return resp.json()
        if resp.status_code in (403, 404):  # not released, or not this consumer's: the same answer
            raise NotFound(f"no lot {lot} shipped to you", field="lot", rule="upstream summary: lots shipped to you")
        raise UpstreamUnavailable(f"the hub answered {resp.status_code}", rule="bridge → hub")


class BridgeRelay:
    """The bridge's relay for hub operators (Europe → Japan): pull a Catena-X partner's answer
    through this bridge's connector, presenting the operator's delegation."""

    def __init__(self, *, did: str, partners: DspPartners, resolver: DidResolver, crosswalk: CrosswalkService) -> None:
        self.did = did
        self.partners = partners
        self.resolver = resolver
        self.crosswalk = crosswalk

    def _check(self, body: RelayQuestion) -> str:
        principal = verify_self_issued_token(body.delegation, audience=body.partner, resolver=self.resolver)
        if principal.actor != self.did:
            raise Unauthorized("the delegation names another actor than this bridge", rule="RFC 8693 §4.1 act")
        try:
            self.crosswalk.lookup("did", principal.did)
        except NotFound as exc:
            raise Forbidden(
                f"{principal.did} is not an operator in this bridge's crosswalk",
                rule="the bridge acts only for operators it maps",
            ) from exc
        return principal.did

    async def relay(self, body: RelayQuestion) -> dict[str, Any]:
        if body.asset not in _ASSETS:
            raise InvalidInput(f"unknown asset {body.asset!r}", field="asset", rule=f"one of {sorted(_ASSETS)}")
        await anyio.to_thread.run_sync(self._check, body)
        extra = {**{k: v for k, v in body.query.items() if k in _PASSED}, "delegation": body.delegation}
        return await self.partners.pull(body.partner, body.lot, body.asset, body.role, extra=extra)
