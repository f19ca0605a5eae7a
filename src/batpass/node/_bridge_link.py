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

import asyncio
import datetime as dt
import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import anyio.to_thread
import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from batpass.bridge import CrosswalkEntry, CrosswalkService, OperatorLink, sign_entry
from batpass.core.errors import (
    BatpassError,
    Forbidden,
    InvalidIdentifier,
    InvalidInput,
    NotFound,
    Unauthorized,
    UpstreamUnavailable,
)
from batpass.core.ids import Bpnl, CorporateNumber, Did
from batpass.dataspace import TwinRegistry
from batpass.footprint import PactService
from batpass.http import AdminKey, Ctx
from batpass.ledger import LedgerService
from batpass.node._connector_assets import product_twin, register_twin
from batpass.node._federation import (
    RECALL_ASSET,
    UPSTREAM_ASSET,
    DspPartners,
    FederatedTrace,
    Refused,
)
from batpass.ouranos import OuranosHub
from batpass.trust import (
    DidResolver,
    NodeIdentity,
    TrustService,
    issue_self_issued_token,
    present_sd_jwt,
    verify_self_issued_token,
)

__all__ = ["BridgeAnswers", "BridgeRelay", "HubFederation", "HubLink", "HubPartners", "bridge_router", "hub_router"]

_ASSETS = {UPSTREAM_ASSET: "lot", RECALL_ASSET: "recall"}
#: the operator's credentials that travel in its summaries, and what a claim discloses there
ATTACHED = frozenset(
    {"CertifiedCarbonFootprintCredential", "RecycledContentAttestationCredential", "OriginAttestationCredential"}
)
DISCLOSED = ("originByCountry", "minesReached", "custodyModels")  # asset → the source key FederatedTrace serves
_TIMEOUT = httpx.Timeout(60.0)
#: query parameters of a question that travel with it across the bridge (a recall's salt)
_PASSED = frozenset({"salt"})


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
    """The :class:`~batpass.node._federation.PartnerPort` of one hub operator: partners hosted on
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


class _CrosswalkIn(BaseModel):
    bpnl: str = Field(min_length=16, max_length=16)


class _AnswerIn(BaseModel):
    asset: str = Field(max_length=64)
    lot: str = Field(min_length=1, max_length=128)
    consumer_did: str = Field(min_length=1, max_length=512)
    consumer_bpnl: str | None = Field(default=None, max_length=16)
    query: dict[str, str] = Field(default_factory=dict, max_length=4)


class _RelayIn(BaseModel):
    partner: str = Field(min_length=1, max_length=512)
    lot: str = Field(min_length=1, max_length=128)
    asset: str = Field(max_length=64)
    role: str = Field(default="supplier", pattern="^(supplier|customer)$")
    delegation: str = Field(min_length=1, max_length=8192)
    query: dict[str, str] = Field(default_factory=dict, max_length=4)


hub_router = APIRouter(tags=["bridge"])
bridge_router = APIRouter(tags=["bridge"])


async def _from_bridge(request: Request, ctx: Ctx) -> HubFederation:
    """Only the hub's configured bridge calls these routes: a DCP self-issued token of its DID,
    addressed to the hub."""
    fed = ctx.service(HubFederation)
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("expected 'Authorization: Bearer <self-issued token>'", rule="DCP 1.0 §4.3")
    caller = await asyncio.to_thread(verify_self_issued_token, token, audience=ctx.did, resolver=fed.resolver)
    if caller.did != fed.bridge_did:
        raise Forbidden(f"{caller.did} is not this hub's bridge", rule="only the configured bridge asks the hub")
    return fed


@hub_router.post("/v1/ouranos/bridge/answer")
async def hub_answer(body: _AnswerIn, request: Request, ctx: Ctx) -> JSONResponse:
    """The hub answers its bridge for a Catena-X consumer the bridge verified."""
    fed = await _from_bridge(request, ctx)
    return JSONResponse(await fed.answer(body.asset, body.lot, body.consumer_did, body.consumer_bpnl, body.query))


class _PactIn(BaseModel):
    operator_did: str = Field(min_length=1, max_length=512)
    trace_id: str = Field(min_length=36, max_length=36)
    partner_bpnl: str = Field(min_length=16, max_length=16)
    reference_period_start: dt.datetime | None = None
    reference_period_end: dt.datetime | None = None
    primary_data_share: Decimal | None = Field(default=None, ge=0, le=100)


@hub_router.post("/v1/ouranos/bridge/pact")
async def hub_pact(body: _PactIn, request: Request, ctx: Ctx) -> JSONResponse:
    """The hub gives its bridge an operator's part CFP as PACT v3, for one Catena-X partner the
    operator released ``cfp`` to (percent ``primary_data_share`` as the operator declares it)."""
    fed = await _from_bridge(request, ctx)
    op_id = await anyio.to_thread.run_sync(fed.hub.operator_id_of, body.operator_did)
    if op_id is None:
        raise NotFound(f"{body.operator_did} is not an operator of this hub", field="operator_did")
    share = None if body.primary_data_share is None else body.primary_data_share / 100
    doc = await anyio.to_thread.run_sync(
        lambda: fed.hub.export_pact(
            op_id,
            body.trace_id,
            caller=None,
            period_start=body.reference_period_start,
            period_end=body.reference_period_end,
            primary_data_share=share,
            bridge_partner=body.partner_bpnl,
        )
    )
    return JSONResponse(doc)


@hub_router.post("/v1/ouranos/admin/operators/{operator_id}/crosswalk-entry", status_code=201)
async def hub_crosswalk_entry(operator_id: str, body: _CrosswalkIn, ctx: Ctx, _: AdminKey) -> JSONResponse:
    """The hub asserts, signed with its key, who one of its operators is on the Catena-X side:
    its corporate number (the Ouranos ``openOperatorId``, check digit enforced) ⇄ the BPNL given
    ⇄ its DID on this hub. The answer is the signed crosswalk entry a bridge accepts (when it
    trusts this hub as an asserter of operators); the hub itself stores nothing."""
    hub = ctx.service(OuranosHub)
    op = next((o for o in await anyio.to_thread.run_sync(hub.operators) if o.operator_id == operator_id), None)
    if op is None:
        raise NotFound(f"no operator {operator_id} on this hub", field="operator_id", rule="hosted operators only")
    try:
        link = OperatorLink(CorporateNumber(op.open_operator_id), Bpnl(body.bpnl), Did(op.did))
    except InvalidIdentifier as exc:
        raise InvalidInput(
            exc.message, field="bpnl" if "BPN" in exc.message else "openOperatorId", rule=exc.rule
        ) from exc
    entry = CrosswalkEntry(link, Did(ctx.did), dt.datetime.now(dt.UTC))
    signed = sign_entry(entry, ctx.identity)
    return JSONResponse(signed.to_json(), status_code=201)


class _CertifyIn(BaseModel):
    certifier: str = Field(min_length=1, max_length=512)
    lot: str = Field(min_length=1, max_length=128)
    claim: str = Field(pattern="^(recycled-content|no-high-risk-origin)$")
    element: str | None = Field(default=None, max_length=16)
    threshold: float | None = Field(default=None, ge=0, le=1)


@hub_router.post("/v1/ouranos/admin/operators/{operator_id}/certification-requests", status_code=201)
async def hub_certification_request(operator_id: str, body: _CertifyIn, ctx: Ctx, _: AdminKey) -> dict[str, Any]:
    """The hub asks a certifier, as one of its operators (it keeps the operator's keys), to
    certify a claim computed from that operator's signed upstream summary of one of its lots
    (computed now, its suppliers asked through the federation); the SD-JWT VC, bound to the
    operator's key, is kept in the hub's wallet for it and travels in the operator's summaries
    to partners it released ``certificates`` to."""
    fed = ctx.service(HubFederation)
    identity = await anyio.to_thread.run_sync(fed.hub.operator_identity, operator_id)
    up = await fed.trace_for(str(identity.did)).upstream(body.lot)
    return await ctx.service(TrustService).request_certification(
        body.certifier,
        up.token,
        claim=body.claim,
        element=body.element,
        threshold=body.threshold,
        holder=identity,
    )


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

    def _check(self, body: _RelayIn) -> str:
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

    async def relay(self, body: _RelayIn) -> dict[str, Any]:
        if body.asset not in _ASSETS:
            raise InvalidInput(f"unknown asset {body.asset!r}", field="asset", rule=f"one of {sorted(_ASSETS)}")
        await anyio.to_thread.run_sync(self._check, body)
        extra = {**{k: v for k, v in body.query.items() if k in _PASSED}, "delegation": body.delegation}
        return await self.partners.pull(body.partner, body.lot, body.asset, body.role, extra=extra)


@bridge_router.post("/v1/bridge/relay")
async def bridge_relay(body: _RelayIn, ctx: Ctx) -> JSONResponse:
    """Relay one hub operator's question to a Catena-X partner (the operator's delegation is the
    credential). A refusal keeps its category (``reason``) so the hub's tombstone says why."""
    relay = ctx.service(BridgeRelay)
    try:
        return JSONResponse(await relay.relay(body))
    except Refused as r:
        return JSONResponse({"reason": r.reason}, status_code=502)
    except BatpassError:
        raise


class _PublishCfpIn(BaseModel):
    operatorDid: str = Field(min_length=1, max_length=512)
    traceId: str = Field(min_length=36, max_length=36)
    partnerBpnl: str = Field(min_length=16, max_length=16)
    referencePeriodStart: dt.datetime | None = None
    referencePeriodEnd: dt.datetime | None = None
    primaryDataShare: Decimal | None = Field(default=None, ge=0, le=100)


@bridge_router.post("/v1/bridge/publications/cfp", status_code=201)
async def publish_cfp(body: _PublishCfpIn, ctx: Ctx, _: AdminKey) -> dict[str, Any]:
    """Japan → Europe: publish a hub operator's part CFP on Catena-X for one partner. The hub
    gives it only if the operator released ``cfp`` to that partner (else 403, nothing stored);
    the bridge keeps it in its PACT store (served on its PACT API) and registers the product's
    twin with the partner as the only reader, so the Catena-X PCF asset of its connector
    (``catenax-pcf``, usage purpose ``cx.pcf.base:1``) answers that partner's PCF request."""
    hub = ctx.service(HubLink)
    req = {
        "operator_did": body.operatorDid,
        "trace_id": body.traceId,
        "partner_bpnl": body.partnerBpnl,
        "reference_period_start": None if body.referencePeriodStart is None else body.referencePeriodStart.isoformat(),
        "reference_period_end": None if body.referencePeriodEnd is None else body.referencePeriodEnd.isoformat(),
        "primary_data_share": None if body.primaryDataShare is None else str(body.primaryDataShare),
    }
    resp = await hub.post("/v1/ouranos/bridge/pact", req)
    if resp.status_code != 200:
        try:
            detail = resp.json().get("detail") or resp.text
        except ValueError:
            detail = resp.text
        err = Forbidden if resp.status_code in (401, 403) else NotFound if resp.status_code == 404 else InvalidInput
        raise err(f"the hub refused the CFP of {body.traceId}: {detail}", rule="Japan → Europe publication")
    doc = resp.json()
    pact = ctx.service(PactService)
    stored = await anyio.to_thread.run_sync(pact.store_document, doc)
    products = [str(p) for p in doc.get("productIds", [])]
    if not products:
        raise InvalidInput("the exported footprint names no productIds", field="productIds", rule="PACT v3")
    dsp = ctx.base_url.rstrip("/") + "/api/dsp/2025-1"
    twin = product_twin(products[0], base_url=ctx.base_url, dsp_url=dsp, readers=[body.partnerBpnl])
    await anyio.to_thread.run_sync(register_twin, ctx.service(TwinRegistry), twin)
    return {"footprintId": stored.get("id", doc.get("id")), "productIds": products, "twin": twin["id"]}
