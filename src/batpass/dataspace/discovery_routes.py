"""HTTP routes of the operator's directory and discovery services (profile ``discovery``):
Tractus-X BDRS, discovery finder, BPN discovery and EDC discovery
(:mod:`batpass.dataspace._discovery`).

Access as the Tractus-X services require, with batpass's credentials: reads (and a member's own
BPN-discovery entries) need the member's DCP self-issued token (``Authorization: Bearer``),
verified with its ``MembershipCredential`` as the connector verifies a consumer — the BDRS asks
for a presentation with a membership credential, the discovery services for a Catena-X token;
the BPNL comes from the verified membership, never from the body. Writes to the directory and the
finder are the operator's (admin key). Errors on the discovery services answer in their shape
(``{"error": {"message", "path", "details"}}``); the BDRS's as problem details.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.responses import Response as StarletteResponse

from batpass.core.errors import BatpassError, InvalidInput
from batpass.dataspace._discovery import (
    BDRS_DIRECTORY_PATH,
    BDRS_MANAGEMENT_PATH,
    BPN_DISCOVERY_PATH,
    DISCOVERY_FINDER_PATH,
    EDC_DISCOVERY_PATH,
    DiscoveryService,
    Member,
)
from batpass.http import Ctx, loads_json, require_admin

__all__ = ["ERROR_SHAPES", "router"]

router = APIRouter(tags=["discovery"])


async def _json(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > 4_000_000:
        raise InvalidInput("the body is too large", field="(body)", rule="discovery APIs: at most 4 MB")
    try:
        return loads_json(raw)
    except ValueError as exc:
        raise InvalidInput("the body is not JSON", field="(body)", rule="application/json") from exc


async def _member(request: Request, ctx: Ctx) -> Member:
    """The caller, a verified member with a BPNL (its DCP token and membership credential)."""
    return await ctx.service(DiscoveryService).member(request.headers.get("authorization"))


def _gzip_json(body: Any) -> Response:
    raw = json.dumps(body, separators=(",", ":")).encode()
    return Response(gzip.compress(raw), media_type="application/json", headers={"Content-Encoding": "gzip"})


def _svc(ctx: Ctx) -> DiscoveryService:
    return ctx.service(DiscoveryService)


# -- BPN-DID directory (BDRS) -----------------------------------------------------------------


@router.get(BDRS_DIRECTORY_PATH)
async def bdrs_directory(
    request: Request,
    ctx: Ctx,
    bpn: Annotated[list[str] | None, Query()] = None,
    did: Annotated[list[str] | None, Query()] = None,
) -> Response:
    """The BPN → DID directory (gzip JSON ``{bpn: did}``) for a member; ``?bpn=`` / ``?did=``
    narrow it to the partners the member asks about."""
    await _member(request, ctx)
    return _gzip_json(_svc(ctx).directory(bpns=bpn or [], dids=did or []))


@router.get(BDRS_MANAGEMENT_PATH)
async def bdrs_list(request: Request, ctx: Ctx) -> Response:
    require_admin(request, ctx)
    return _gzip_json(_svc(ctx).directory())


@router.post(BDRS_MANAGEMENT_PATH, status_code=204)
async def bdrs_create(request: Request, ctx: Ctx) -> Response:
    require_admin(request, ctx)
    _svc(ctx).put_mapping(await _json(request), create=True)
    return Response(status_code=204)


@router.put(BDRS_MANAGEMENT_PATH, status_code=204)
async def bdrs_update(request: Request, ctx: Ctx) -> Response:
    require_admin(request, ctx)
    _svc(ctx).put_mapping(await _json(request), create=False)
    return Response(status_code=204)


@router.delete(BDRS_MANAGEMENT_PATH + "/{bpn}", status_code=204)
async def bdrs_delete(bpn: str, request: Request, ctx: Ctx) -> Response:
    require_admin(request, ctx)
    _svc(ctx).delete_mapping(bpn)
    return Response(status_code=204)


# -- discovery finder -------------------------------------------------------------------------


@router.post(DISCOVERY_FINDER_PATH, status_code=201)
async def finder_add(request: Request, ctx: Ctx) -> JSONResponse:
    require_admin(request, ctx)
    return JSONResponse(_svc(ctx).add_endpoint(await _json(request)), status_code=201)


@router.post(DISCOVERY_FINDER_PATH + "/search")
async def finder_search(request: Request, ctx: Ctx) -> JSONResponse:
    await _member(request, ctx)
    return JSONResponse(_svc(ctx).search_endpoints(await _json(request)))


@router.delete(DISCOVERY_FINDER_PATH + "/{resource_id}", status_code=204)
async def finder_delete(resource_id: str, request: Request, ctx: Ctx) -> Response:
    require_admin(request, ctx)
    _svc(ctx).delete_endpoint(resource_id)
    return Response(status_code=204)


# -- BPN discovery ----------------------------------------------------------------------------


@router.post(BPN_DISCOVERY_PATH, status_code=201)
async def bpn_add(request: Request, ctx: Ctx) -> JSONResponse:
    member = await _member(request, ctx)
    return JSONResponse(_svc(ctx).add_identifiers(member, [await _json(request)])[0], status_code=201)


@router.post(BPN_DISCOVERY_PATH + "/batch", status_code=201)
async def bpn_batch(request: Request, ctx: Ctx) -> JSONResponse:
    member = await _member(request, ctx)
    body = await _json(request)
    if not isinstance(body, list):
        raise InvalidInput("the body must be a list", field="(body)", rule="sldt-bpn-discovery batch")
    added = _svc(ctx).add_identifiers(member, body)
    return JSONResponse(
        [{"message": "created", "key": a["key"], "status": 201} for a in added],
        status_code=201,
    )


@router.post(BPN_DISCOVERY_PATH + "/search")
async def bpn_search(request: Request, ctx: Ctx) -> JSONResponse:
    await _member(request, ctx)
    return JSONResponse(_svc(ctx).search_identifiers(await _json(request)))


@router.delete(BPN_DISCOVERY_PATH + "/{resource_id}", status_code=204)
async def bpn_delete(resource_id: str, request: Request, ctx: Ctx) -> Response:
    member = await _member(request, ctx)
    _svc(ctx).delete_identifier(member, resource_id)
    return Response(status_code=204)


# -- EDC discovery ----------------------------------------------------------------------------


@router.post(EDC_DISCOVERY_PATH)
async def edc_discovery(request: Request, ctx: Ctx) -> JSONResponse:
    await _member(request, ctx)
    return JSONResponse(await _svc(ctx).connectors(await _json(request)))


# -- error shape ------------------------------------------------------------------------------


def _discovery_error(err: BatpassError) -> StarletteResponse:
    details: dict[str, Any] = {"rule": err.rule} if err.rule else {}
    field = getattr(err, "field", None)
    if field:
        details["field"] = field
    return JSONResponse({"error": {"message": err.message, "path": field, "details": details}}, status_code=err.status)


#: path prefix → the Tractus-X discovery services' ``ErrorResponse``
ERROR_SHAPES: dict[str, Callable[[BatpassError], StarletteResponse]] = {
    "/api/v1.0/administration/": _discovery_error,
    EDC_DISCOVERY_PATH: _discovery_error,
}
