"""HTTP routes of the bridge: on a bridge node the identity crosswalk, the relay of hub operators'
questions, Japan → Europe publications and the Catena-X suppliers it represents on the hub
(``router``); on a hub, the routes its configured bridge calls and the operators' bridge admin
(``hub_router``).

The identity crosswalk, ``/v1/bridge/crosswalk`` (admin key for reads and writes):

- ``POST /v1/bridge/crosswalk``: submit a signed entry document (docs/bridge.md) → 201 with the
  stored entry; a refusal is a problem detail naming the reason (format, check digit, signature,
  untrusted asserter, conflict) and nothing is stored.
- ``GET /v1/bridge/crosswalk[?type=operator|site|part]``: the active entries.
- ``GET /v1/bridge/crosswalk/lookup?<slot>=<value>``: the active entry mapping one identifier,
  in either direction (``corporateNumber``, ``bpnl``, ``did``, ``ouranosPlantId``, ``bpns``,
  ``ouranosTraceId``, ``catenaXId``).
- ``GET /v1/bridge/crosswalk/entries/{entryId}``: one entry, also a superseded one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from batpass.bridge._link import BridgeRelay, HubFederation, HubLink, RelayQuestion
from batpass.bridge._proof import sign_entry
from batpass.bridge._reconcile_relay import bridge_reconciliation_router, hub_reconciliation_router
from batpass.bridge._sites import hub_sites_answer
from batpass.bridge._trades import BridgeTrades, RepresentedProduct
from batpass.bridge.errors import EntryMalformed
from batpass.bridge.model import SLOTS, CrosswalkEntry, EntryKind, OperatorLink
from batpass.bridge.service import CrosswalkService
from batpass.core.errors import BatpassError, Forbidden, InvalidIdentifier, InvalidInput, NotFound, Unauthorized
from batpass.core.ids import Bpnl, CorporateNumber, Did
from batpass.dataspace import TwinRegistry
from batpass.exchange import product_twin, register_twin
from batpass.federation import Refused
from batpass.footprint import PactService, SupplierRole
from batpass.http import AdminKey, Ctx, guard
from batpass.ouranos import AmountUnit, OuranosHub
from batpass.trust import TrustService, verify_self_issued_token

_crosswalk = APIRouter(prefix="/v1/bridge/crosswalk", tags=["bridge"])
#: the bridge node's own routes (relay, publications, represented suppliers and their trades)
_bridge = APIRouter(tags=["bridge"])
#: mounted on a hub (``ouranos`` profile): the routes its configured bridge calls, and operator admin
hub_router = APIRouter(tags=["bridge"])

_ALL_SLOTS = tuple(s for slots in SLOTS.values() for s in slots)


@_crosswalk.post("", status_code=201)
async def submit_entry(request: Request, ctx: Ctx, _: AdminKey) -> JSONResponse:
    svc = ctx.service(CrosswalkService)
    raw = await request.body()
    stored = await run_in_threadpool(svc.submit, raw)
    return JSONResponse(stored.to_json(), status_code=201)


@_crosswalk.get("")
def list_entries(
    ctx: Ctx, _: AdminKey, entry_type: Annotated[str | None, Query(alias="type")] = None
) -> list[dict[str, Any]]:
    kind: EntryKind | None = None
    if entry_type is not None:
        try:
            kind = EntryKind(entry_type)
        except ValueError as exc:
            raise EntryMalformed(
                f"type {entry_type!r} is not one of operator, site, part", field="type", rule="crosswalk entry types"
            ) from exc
    return [e.to_json() for e in ctx.service(CrosswalkService).list(kind)]


@_crosswalk.get("/lookup")
def lookup(request: Request, ctx: Ctx, _: AdminKey) -> dict[str, Any]:
    given = [(k, v) for k, v in request.query_params.multi_items() if k in _ALL_SLOTS]
    unknown = sorted(set(request.query_params) - set(_ALL_SLOTS))
    if unknown or len(given) != 1:
        raise EntryMalformed(
            f"lookup takes exactly one of {', '.join(_ALL_SLOTS)}"
            + (f"; unknown parameter {unknown[0]!r}" if unknown else ""),
            field=unknown[0] if unknown else "query",
            rule="crosswalk lookup (docs/bridge.md)",
        )
    slot, value = given[0]
    return ctx.service(CrosswalkService).lookup(slot, value).to_json()


@_crosswalk.get("/entries/{entry_id}")
def get_entry(entry_id: str, ctx: Ctx, _: AdminKey) -> dict[str, Any]:
    return ctx.service(CrosswalkService).get(entry_id).to_json()


# ------------------------------------------------------------------------ the hub side


class _CrosswalkIn(BaseModel):
    bpnl: str = Field(min_length=16, max_length=16)


class _AnswerIn(BaseModel):
    asset: str = Field(max_length=64)
    lot: str = Field(min_length=1, max_length=128)
    consumer_did: str = Field(min_length=1, max_length=512)
    consumer_bpnl: str | None = Field(default=None, max_length=16)
    query: dict[str, str] = Field(default_factory=dict, max_length=4)


@guard
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


#: the hub's federation, once the caller proved it is the hub's bridge (before the body is read)
FromBridge = Annotated[HubFederation, Depends(_from_bridge)]


@hub_router.post("/v1/ouranos/bridge/answer")
async def hub_answer(fed: FromBridge, body: _AnswerIn) -> JSONResponse:
    """The hub answers its bridge for a Catena-X consumer the bridge verified."""
    return JSONResponse(await fed.answer(body.asset, body.lot, body.consumer_did, body.consumer_bpnl, body.query))


class _SitesIn(BaseModel):
    operator_did: str = Field(min_length=1, max_length=512)
    consumer_did: str = Field(min_length=1, max_length=512)
    consumer_bpnl: str | None = Field(default=None, max_length=16)


@hub_router.post("/v1/ouranos/bridge/sites")
async def hub_sites(fed: FromBridge, body: _SitesIn) -> JSONResponse:
    """The hub gives its bridge an operator's site register for a Catena-X consumer the bridge
    verified, only under the operator's release of ``sites`` to the consumer's BPNL (else 403)."""
    return JSONResponse(await hub_sites_answer(fed.hub, body.operator_did, body.consumer_bpnl))


class _PactIn(BaseModel):
    operator_did: str = Field(min_length=1, max_length=512)
    trace_id: str = Field(min_length=36, max_length=36)
    partner_bpnl: str = Field(min_length=16, max_length=16)
    reference_period_start: dt.datetime | None = None
    reference_period_end: dt.datetime | None = None
    primary_data_share: Decimal | None = Field(default=None, ge=0, le=100)


@hub_router.post("/v1/ouranos/bridge/pact")
async def hub_pact(fed: FromBridge, body: _PactIn) -> JSONResponse:
    """The hub gives its bridge an operator's part CFP as PACT v3, for one Catena-X partner the
    operator released ``cfp`` to (percent ``primary_data_share`` as the operator declares it)."""
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
            exc.message, field="bpnl" if exc.id_kind == Bpnl.id_kind else "openOperatorId", rule=exc.rule
        ) from exc
    entry = CrosswalkEntry(link, Did(ctx.did), hub.context.clock.now())
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


@_bridge.post("/v1/bridge/relay")
async def bridge_relay(body: RelayQuestion, ctx: Ctx) -> JSONResponse:
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


@_bridge.post("/v1/bridge/publications/cfp", status_code=201)
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


# ------------------------------------------------------------------------ represented suppliers


class _ProductIn(BaseModel):
    productId: str = Field(min_length=1, max_length=512)
    partsName: str = Field(min_length=1, max_length=50)
    unit: AmountUnit
    role: SupplierRole = SupplierRole.COMPONENT


class _RepresentIn(BaseModel):
    bpnl: str = Field(min_length=16, max_length=16)
    did: str = Field(min_length=1, max_length=512)
    operatorId: str = Field(min_length=36, max_length=36)
    apiKey: str = Field(min_length=1, max_length=512)
    operatorAccountId: str = Field(min_length=3, max_length=320)
    accountPassword: str = Field(min_length=1, max_length=128)
    products: list[_ProductIn] = Field(min_length=1, max_length=100)


@_bridge.post("/v1/bridge/represented", status_code=201)
async def represent(body: _RepresentIn, ctx: Ctx, _: AdminKey) -> dict[str, Any]:
    """Represent a Catena-X supplier on the hub (the hub admin onboarded it as an operator with
    its BPNL as ``openOperatorId`` and ``globalOperatorId`` and gave the bridge a login and an
    API key). Registers one terminated part per product; answers the record without secrets."""
    svc = ctx.service(BridgeTrades)
    products = [RepresentedProduct(p.productId, p.partsName, p.unit, p.role) for p in body.products]

    def run() -> dict[str, Any]:
        return svc.represent(
            bpnl=body.bpnl,
            supplier_did=body.did,
            operator_id=body.operatorId,
            api_key=body.apiKey,
            account_id=body.operatorAccountId,
            password=body.accountPassword,
            products=products,
        )

    return await anyio.to_thread.run_sync(run)


@_bridge.get("/v1/bridge/represented")
async def list_represented(ctx: Ctx, _: AdminKey) -> list[dict[str, Any]]:
    """The represented suppliers, their hub operators and parts (no credentials)."""
    return await anyio.to_thread.run_sync(ctx.service(BridgeTrades).represented)


@_bridge.post("/v1/bridge/trades/sync")
async def sync_trades(ctx: Ctx, _: AdminKey) -> dict[str, Any]:
    """Answer the open trade requests addressed to represented suppliers; idempotent. Answers
    ``{suppliers, answered, refused, unanswered, unchanged}`` for this run."""
    return await ctx.service(BridgeTrades).sync()


@_bridge.get("/v1/bridge/trades")
async def list_trades(ctx: Ctx, _: AdminKey, bpnl: str | None = None) -> list[dict[str, Any]]:
    """The bridge's record of the requests it handled, with the reasons and the values sent."""
    svc = ctx.service(BridgeTrades)
    return await anyio.to_thread.run_sync(lambda: svc.trades(bpnl=bpnl))


#: mounted on a bridge node (``bridge`` profile)
router = APIRouter()
router.include_router(_crosswalk)
router.include_router(_bridge)
router.include_router(bridge_reconciliation_router)
hub_router.include_router(hub_reconciliation_router)
