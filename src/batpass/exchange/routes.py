"""HTTP routes of the connector-served exchanges (admin key): battery and product twins in the
registry, battery-pass and PCF requests through a partner's connector, the asynchronous CX-0136
PCF exchange, and recycled-content claims at a recycler's credit account."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import Field

from batpass.core.errors import NotFound
from batpass.dataspace import TwinRegistry
from batpass.exchange._assets import (
    BATTERY_PASS_ASSET,
    PCF_ASSET,
    ConnectorClient,
    _battery,
    _check_readers,
    product_twin,
    register_twin,
)
from batpass.exchange._credit import _DOUBLE, CreditClaims
from batpass.exchange._industry_core import BomReleases, industry_core_twin, lot_twin
from batpass.exchange._pcf_async import PcfExchange
from batpass.exchange._sites import SITES_ASSET
from batpass.footprint import FootprintFilter, PactService
from batpass.http import AdminKey, Ctx, Items, MassKg, RequestModel, Token, problem_body
from batpass.ledger import DoubleClaim, LedgerService
from batpass.passport import PassportService

__all__ = ["router"]

_connector = APIRouter(tags=["connector"])
_ledger = APIRouter(tags=["ledger"])


_PROVIDER = (
    "the partner's DID (its connector is found through its DID document), or its BPNL (resolved to the DID"
    " through the operator's BPN-DID directory)"
)
_DSP = "the partner's Dataspace Protocol endpoint (default: the one its DID document names)"
_URL = r"^https?://[^\s]+$"
_READERS = "the partners (BPNLs) that may see the twin; closed to everyone else"


class BatteryTwinIn(RequestModel):
    """The twin of one of this node's batteries, with its battery-pass and Industry Core
    (SerialPart, SingleLevelUsageAsBuilt, SingleLevelBomAsBuilt) submodel descriptors."""

    battery: Token = Field(description="the battery: a GS1 Digital Link URI or 01{gtin14}21{serial}")
    readers: Items[Token] = Field(description=_READERS)


class LotTwinIn(RequestModel):
    """The twin of one of this node's lots (a batch) with its Industry Core usage and bill of material."""

    lot: Token = Field(description="the lot id in this node's ledger")
    readers: Items[Token] = Field(description=_READERS)


class ProductTwinIn(RequestModel):
    """A product twin with its PCF submodel descriptor."""

    product_id: Token = Field(alias="productId", description="the product id its footprints are kept under")
    readers: Items[Token] = Field(description=_READERS)


class BatteryPassRequestIn(RequestModel):
    """Fetch a partner's Catena-X battery pass through the connector."""

    provider: Token = Field(description=_PROVIDER)
    battery: Token = Field(description="the battery: a GS1 Digital Link URI or 01{gtin14}21{serial}")
    dsp_endpoint: Token | None = Field(default=None, alias="dspEndpoint", pattern=_URL, description=_DSP)


class SitesRequestIn(RequestModel):
    """Read a partner's site register through the connector."""

    provider: Token = Field(description=_PROVIDER)
    site: Token | None = Field(default=None, description="one site's id (all sites when absent)")
    operator: Token | None = Field(
        default=None, description="a hub operator's DID: its register, released to this node, through the bridge"
    )
    dsp_endpoint: Token | None = Field(default=None, alias="dspEndpoint", pattern=_URL, description=_DSP)


class PcfRequestIn(RequestModel):
    """Ask a supplier's connector for the PCF of a product."""

    provider: Token = Field(description=_PROVIDER)
    product_id: Token = Field(alias="productId", description="the supplier's product id")
    dsp_endpoint: Token | None = Field(default=None, alias="dspEndpoint", pattern=_URL, description=_DSP)


class PcfExchangeIn(PcfRequestIn):
    """Ask a supplier for a PCF, asynchronously (CX-0136)."""

    comment: Token | None = Field(default=None, description="a note for the supplier")


class PcfAnswerIn(RequestModel):
    """The operator's release of the answer to a partner's PCF request."""

    partner: Token = Field(description="the requesting partner's DID")
    request_id: Token = Field(alias="requestId", description="the id of the partner's request")


@_connector.post("/v1/connector/twins/batteries", status_code=201)
def register_battery_twin(ctx: Ctx, _: AdminKey, body: BatteryTwinIn) -> dict[str, Any]:
    """Register (or replace) the twin of one of this node's batteries with its battery-pass and
    Industry Core submodel descriptors. Body: ``{battery, readers: [BPNL...]}``. The bill of
    material (SingleLevelBomAsBuilt) is served only to partners it is released to
    (``PUT /v1/connector/industry-core/bom-releases/{bpnl}``)."""
    battery = _battery(body.battery)
    passport = ctx.service(PassportService).find_by_battery(battery)
    if passport is None:
        raise NotFound(f"battery: no passport of {battery} on this node", field="battery", rule="twins of passports")
    dsp = ctx.base_url.rstrip("/") + "/api/dsp/2025-1"
    twin = industry_core_twin(
        battery, model_id=passport.model_id, base_url=ctx.base_url, dsp_url=dsp, readers=_check_readers(body.readers)
    )
    return register_twin(ctx.service(TwinRegistry), twin)


@_connector.post("/v1/connector/twins/lots", status_code=201)
def register_lot_twin(ctx: Ctx, _: AdminKey, body: LotTwinIn) -> dict[str, Any]:
    """Register (or replace) the twin of one of this node's lots (typically one it dispatched),
    with its SingleLevelUsageAsBuilt and SingleLevelBomAsBuilt submodel descriptors; its global
    asset id is the one its customers' bills of material name. Body: ``{lot, readers: [BPNL...]}``."""
    owner = ctx.did
    lot = ctx.service(LedgerService).lot(owner, body.lot)
    dsp = ctx.base_url.rstrip("/") + "/api/dsp/2025-1"
    twin = lot_twin(
        str(lot.id),
        owner=owner,
        material=lot.material,
        base_url=ctx.base_url,
        dsp_url=dsp,
        readers=_check_readers(body.readers),
    )
    return register_twin(ctx.service(TwinRegistry), twin)


@_connector.get("/v1/connector/industry-core/bom-releases")
def list_bom_releases(ctx: Ctx, _: AdminKey) -> list[dict[str, Any]]:
    """The partners (BPNLs) this node released its SingleLevelBomAsBuilt to (default: none)."""
    return ctx.service(BomReleases).list()


@_connector.put("/v1/connector/industry-core/bom-releases/{bpnl}")
def release_bom(bpnl: str, ctx: Ctx, _: AdminKey) -> dict[str, Any]:
    """Release the bill of material (one tier of suppliers: their BPNLs and lots) of this
    node's batteries to the partner ``bpnl``; idempotent. Suppliers stay undisclosed to
    everyone else."""
    return ctx.service(BomReleases).release(bpnl)


@_connector.delete("/v1/connector/industry-core/bom-releases/{bpnl}", status_code=204)
def revoke_bom(bpnl: str, ctx: Ctx, _: AdminKey) -> None:
    """Take a release of the bill of material back (404 when there was none)."""
    ctx.service(BomReleases).revoke(bpnl)


@_connector.post("/v1/connector/twins/products", status_code=201)
def register_product_twin(ctx: Ctx, _: AdminKey, body: ProductTwinIn) -> dict[str, Any]:
    """Register (or replace) a product twin with its PCF submodel descriptor; the readers are the
    partners entitled to its PCF. Body: ``{productId, readers: [BPNL...]}``."""
    product = body.product_id
    page = ctx.service(PactService).list_footprints(FootprintFilter(product_ids=(product,)), limit=1)
    if not page.documents:
        raise NotFound(f"productId: no footprint of {product} on this node", field="productId", rule="PCF twins")
    dsp = ctx.base_url.rstrip("/") + "/api/dsp/2025-1"
    twin = product_twin(product, base_url=ctx.base_url, dsp_url=dsp, readers=_check_readers(body.readers))
    return register_twin(ctx.service(TwinRegistry), twin)


@_connector.post("/v1/connector/passports/requests")
async def request_battery_pass(ctx: Ctx, _: AdminKey, body: BatteryPassRequestIn) -> dict[str, Any]:
    """Fetch a partner's Catena-X battery pass through the connector (usage purpose
    ``cx.circular.dpp:1``). Body: ``{provider: DID or BPNL, battery, dspEndpoint?}``."""
    provider, battery = body.provider, body.battery
    doc = await ctx.service(ConnectorClient).fetch(
        provider, BATTERY_PASS_ASSET, {"battery": battery}, dsp_url=body.dsp_endpoint
    )
    return {"provider": provider, "battery": battery, "batteryPass": doc}


@_connector.post("/v1/connector/sites/requests")
async def request_sites(ctx: Ctx, _: AdminKey, body: SitesRequestIn) -> dict[str, Any]:
    """Read a partner's site register through the connector (usage purpose
    ``cx.circular.materialaccounting:1``): full records of the sites shared with this node, the
    public summary of the others; with ``operator`` a hub operator's register, under its release,
    through the bridge (``provider``: the operator's DID). Body: ``{provider: DID, site?, operator?,
    dspEndpoint?}``."""
    query = {k: v for k, v in (("site", body.site), ("operator", body.operator)) if v is not None}
    doc = await ctx.service(ConnectorClient).fetch(body.provider, SITES_ASSET, query, dsp_url=body.dsp_endpoint)
    return {"provider": body.provider, "sites": doc}


@_connector.post("/v1/connector/pcf/requests")
async def request_pcf(ctx: Ctx, _: AdminKey, body: PcfRequestIn) -> dict[str, Any]:
    """The Catena-X PCF request: ask a supplier's connector for the PCF of a product.
    Body: ``{provider: DID, productId, dspEndpoint?}``; answers ``{requestId, productId, pcf}``."""
    provider, product = body.provider, body.product_id
    request_id = str(uuid.uuid4())
    query = {"productId": product, "requestId": request_id}
    doc = await ctx.service(ConnectorClient).fetch(provider, PCF_ASSET, query, dsp_url=body.dsp_endpoint)
    return {"requestId": request_id, "productId": product, "pcf": doc}


@_connector.post("/v1/connector/pcf/exchanges", status_code=202)
async def request_pcf_async(ctx: Ctx, _: AdminKey, body: PcfExchangeIn) -> dict[str, Any]:
    """Ask a supplier for a PCF, asynchronously (CX-0136): ``{provider: DID, productId, comment?,
    dspEndpoint?}``. Answers 202 with the stored request (``status: accepted``); the PCF arrives
    later (``GET /v1/connector/pcf/exchanges/{requestId}``, ``status: received``)."""
    return await ctx.service(PcfExchange).request(
        body.provider, body.product_id, comment=body.comment, dsp_url=body.dsp_endpoint
    )


@_connector.get("/v1/connector/pcf/exchanges")
def list_pcf_exchanges(
    ctx: Ctx, _: AdminKey, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """This node's PCF requests, newest first (without the PCFs)."""
    return ctx.service(PcfExchange).exchanges(limit=limit)


@_connector.get("/v1/connector/pcf/exchanges/{request_id}")
def get_pcf_exchange(request_id: str, ctx: Ctx, _: AdminKey) -> dict[str, Any]:
    """One of this node's PCF requests, with the PCF once the supplier answered."""
    return ctx.service(PcfExchange).exchange(request_id)


@_connector.get("/v1/connector/pcf/incoming")
def list_pcf_incoming(ctx: Ctx, _: AdminKey, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """The PCF requests partners sent this node, newest first, with the delivery of each answer."""
    return ctx.service(PcfExchange).incoming(limit=limit)


@_connector.post("/v1/connector/pcf/incoming/answer")
async def answer_pcf_request(ctx: Ctx, _: AdminKey, body: PcfAnswerIn) -> dict[str, Any]:
    """Answer a partner's PCF request now (the operator's release): ``{partner: DID,
    requestId}``. Sends the current PCF of the product through the partner's connector."""
    return await ctx.service(PcfExchange).answer(body.partner, body.request_id)


class RemoteClaimIn(RequestModel):
    """A claim of recycled content against a recycler's credit account, sent through its
    connector. The claimant is this node (its DID, verified by the recycler through DCP)."""

    recycler: str = Field(min_length=1, max_length=512, description="the recycler's DID")
    id: str = Field(min_length=1, max_length=96, description="the claim's id (idempotency key)")
    lot: str = Field(min_length=1, max_length=128, description="the recycler's recovered lot")
    element: str = Field(min_length=1, max_length=16, description="Co, Li, Ni or Pb")
    kg: MassKg = Field(description="recycled element mass claimed, in kg (> 0, finite)")
    subject: str = Field(min_length=1, max_length=512, description="the battery or passport the claim is for")
    custody: str = Field(
        default="mass_balance", max_length=64, description="ISO 22095 chain-of-custody model of the claim"
    )
    dspEndpoint: str | None = Field(
        default=None,
        max_length=2048,
        pattern=_URL,
        description="the recycler's DSP endpoint (default: its DID document)",
    )


@_ledger.post("/v1/ledger/claims/remote", status_code=201)
async def claim_remote(ctx: Ctx, _: AdminKey, body: RemoteClaimIn) -> JSONResponse:
    """Claim recycled content at a recycler, through its connector. Answers 201 with the claim
    (``status: accepted``) and the account, or 409 problem details (``double-claim``) whose
    ``claim`` member holds the claim the recycler recorded as a double claim and ``account`` the
    kilograms credited, already debited and left; who else claimed stays with the recycler."""
    res = await ctx.service(CreditClaims).claim_remote(
        body.recycler,
        claim_id=body.id,
        lot=body.lot,
        element=body.element,
        kg=body.kg,
        subject=body.subject,
        custody=body.custody,
        dsp_url=body.dspEndpoint,
    )
    if res["claim"].get("status") != "double_claim":
        return JSONResponse(res, status_code=201)
    account = res["account"]
    err = DoubleClaim(
        f"claim {body.id}: the recycler {body.recycler} holds {account.get('creditedKg', '?')} kg {body.element} "
        f"of lot {body.lot}, of which {account.get('debitedKg', '?')} kg are already claimed; "
        f"{body.kg} kg more is a double claim (recorded there)",
        rule=_DOUBLE,
    )
    problem = problem_body(err, instance=f"/v1/ledger/claims/remote/{body.id}")
    problem.update(res)
    return JSONResponse(problem, status_code=err.status, media_type="application/problem+json")


router = APIRouter()
router.include_router(_connector)
router.include_router(_ledger)
