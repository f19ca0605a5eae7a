"""Extension routes of the hub for operators' site registers (docs/ouranos-hub.md "Site
registers"), under ``/v1/ouranos``: operator credentials (``Authorization: Bearer`` and
``apiKey``) as on the published API; errors are problem details (RFC 9457). Thin: the rules
live in :class:`~batpass.ouranos._sites.OperatorSites`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from batpass.core.errors import InvalidInput
from batpass.http import Ctx, guard, loads_json
from batpass.ouranos._context import Principal
from batpass.ouranos._sites import SiteRelease, released_json
from batpass.ouranos.service import OuranosHub

router = APIRouter(tags=["ouranos"])


async def _who(request: Request, hub: OuranosHub) -> Principal:
    auth = request.headers.get("authorization") or ""
    bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
    api_key = request.headers.get("apikey")
    return await run_in_threadpool(lambda: hub.accounts.authenticate(api_key=api_key, bearer=bearer))


@guard
async def _operator(request: Request, ctx: Ctx) -> Principal:
    """The calling operator, authenticated before the body is read."""
    return await _who(request, ctx.service(OuranosHub))


Operator = Annotated[Principal, Depends(_operator)]


def _releases_out(who: Principal, releases: list[SiteRelease]) -> dict[str, Any]:
    return {
        "operatorId": who.operator_id,
        "releases": [
            {"releasedToOperatorId": r.released_to_operator_id, "releasedAt": r.released_at.isoformat()}
            for r in releases
        ],
    }


@router.put("/v1/ouranos/sites", status_code=200, responses={201: {"description": "registered (new)"}})
async def put_operator_site(request: Request, ctx: Ctx) -> JSONResponse:
    """Extension: register (201) or replace (200) one of the calling operator's sites (the site
    register's record, docs/sites.md, without ``sharedWith``: the release says who reads)."""
    hub = ctx.service(OuranosHub)
    who = await _who(request, hub)
    try:
        body = loads_json(await request.body())  # RFC 8259 limits: no lone surrogate, nesting, finite numbers
    except ValueError as exc:
        raise InvalidInput("the body is not JSON", field="body", rule="one site as a JSON object") from exc
    site, created = await run_in_threadpool(hub.sites.put_site, who, body)
    return JSONResponse(released_json(site), status_code=201 if created else 200)


@router.get("/v1/ouranos/sites")
async def get_operator_sites(request: Request, ctx: Ctx) -> dict[str, Any]:
    """Extension: the calling operator's own site register."""
    hub = ctx.service(OuranosHub)
    who = await _who(request, hub)
    sites = await run_in_threadpool(hub.sites.own_sites, who)
    return {"operatorId": who.operator_id, "sites": [released_json(s) for s in sites]}


class SiteReleaseIn(BaseModel):
    releasedToOperatorId: str = Field(min_length=1, max_length=64)
    releasedFlag: bool


@router.put("/v1/ouranos/sites/releases")
async def put_site_release(who: Operator, body: SiteReleaseIn, ctx: Ctx) -> dict[str, Any]:
    """Extension: release the calling operator's site register to one hosted operator
    (``releasedFlag: true``) or withdraw the release (``false``); answers the releases now."""
    hub = ctx.service(OuranosHub)
    out = await run_in_threadpool(hub.sites.put_release, who, body.releasedToOperatorId, body.releasedFlag)
    return _releases_out(who, out)


@router.get("/v1/ouranos/sites/releases")
async def get_site_releases(request: Request, ctx: Ctx) -> dict[str, Any]:
    """Extension: to whom the calling operator has released its site register."""
    hub = ctx.service(OuranosHub)
    who = await _who(request, hub)
    return _releases_out(who, await run_in_threadpool(hub.sites.releases, who))


@router.get("/v1/ouranos/operators/{operator_id}/sites")
async def get_released_sites(operator_id: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    """Extension: another operator's site register, if it released it to the caller; else 403
    (``ouranos-not-released``) and no site."""
    hub = ctx.service(OuranosHub)
    who = await _who(request, hub)
    sites = await run_in_threadpool(hub.sites.released_sites, who, operator_id)
    return {"operatorId": operator_id, "sites": [released_json(s) for s in sites]}
