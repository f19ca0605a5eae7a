"""HTTP surface of the passport: the GS1 Digital Link resolver and ``/v1/passports``.

- ``GET /01/{gtin}/21/{serial}``: HTML to a browser, JSON to a machine (by ``Accept``); an ended
  passport still resolves (status ``ended``). ``?linkType=all`` or ``Accept:
  application/linkset+json`` answers the battery's linkset (RFC 9264, GS1 link types),
  ``?linkType=<type>`` redirects to that link, and every answer announces the linkset in ``Link``.
- ``/v1/passports/...``: reads (tiered), writes, history, exports, QR codes, audit log, and
  ``POST /v1/passports/backup`` (signed copies from the nodes this node backs up; checked by
  signature, no admin key), read back by this node's operator with
  ``GET /v1/passports/backups/{id}`` (admin key).

Readers prove roles with ``Authorization: Bearer <presentation>``, verified through the
:class:`~batpass.passport.ports.RoleVerifier` the node registers as
``ctx.services[RoleVerifier]``; without one, only anonymous (public) reads work. The admin key
reads every tier. A field outside the reader's tiers never enters a response: views are cut by
the model before anything is serialised or rendered. Errors are problem details (node).

Writers (``PATCH /v1/passports/{id}``, ``POST .../dynamic``, ``.../status``, ``.../second-life``,
``.../recycle``, ``.../mandates``) authenticate with the admin key in ``X-Api-Key`` (the actor is
this node's DID) or, from another node, with ``Authorization: Bearer <DCP self-issued token>``
whose audience is this node's DID (DCP 1.0 §4.3), verified through the
:class:`~batpass.passport.ports.CallerVerifier` the node registers as
``ctx.services[CallerVerifier]``: the actor is then the token's verified issuer DID. Who may
write is decided by the service alone (the responsible operator or a party it mandated in
writing, Art. 77(4)): a verified caller without responsibility or mandate gets 403 naming the
field and the rule, and the stored passport stays as it was.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import Response as StarletteResponse

from batpass.core.errors import BatpassError, InvalidInput, NotFound, Unauthorized
from batpass.core.ids import BatteryId
from batpass.core.limits import UNIT_RANGES
from batpass.http import (
    AdminKey,
    Ctx,
    Document,
    FiniteFloat,
    IsoDate,
    Items,
    Jws,
    MassKg,
    NodeContext,
    RequestModel,
    Text,
    Token,
    guard,
)
from batpass.ledger import decode_summary
from batpass.participants import ParticipantService
from batpass.passport._backups import BackupCopyRefused, HeldCopy
from batpass.passport._export_aas import to_aas_json
from batpass.passport._export_batterypass import LATEST as LATEST_BATTERYPASS
from batpass.passport._export_batterypass import MODULES as BATTERYPASS_MODULES
from batpass.passport._export_batterypass import to_batterypass
from batpass.passport._export_catenax import to_catenax
from batpass.passport._import import FORMATS as IMPORT_FORMATS
from batpass.passport._importers import read_import
from batpass.passport._linkset import LINKSET_MEDIA_TYPE, linkset, target
from batpass.passport._qr import qr_png, qr_svg
from batpass.passport.model import ALL_TIERS, Passport, Tier, tiers_for_roles
from batpass.passport.ports import BatteryResolver, CallerVerifier, PageRenderer, RoleVerifier
from batpass.passport.service import PassportService, load_static_product_data

__all__ = [
    "ERROR_SHAPES",
    "BackupIn",
    "BuildIn",
    "MandateIn",
    "RecycleIn",
    "SecondLifeIn",
    "StatusIn",
    "ValuesIn",
    "router",
]

router = APIRouter(tags=["passport"])


#: the passport routes answer RFC 9457 problem details (the node's default shape)
ERROR_SHAPES: dict[str, Callable[[BatpassError], StarletteResponse]] = {}

OPERATOR_ROLE = "operator"


# --- request bodies ------------------------------------------------------------------------------

_BATTERY = "the battery: a GS1 Digital Link URI or the element string 01{gtin14}21{serial}"
_VALUES = (
    "data points by key (docs/passport.md, the Annex XIII table): quantities as {value, unit} in the"
    " data point's unit, dates YYYY-MM-DD; each is checked against its data point"
)
_VERSION = "the version the writer last read; another version answers 409 (optimistic concurrency)"


class BuildIn(RequestModel):
    """Build a passport (or rebuild it as a new version)."""

    static: Document = Field(
        description="the battery model's static product data (the YAML of `batpass passport build` as JSON:"
        " model, category, values by data point), checked data point by data point"
    )
    battery: Token = Field(description=_BATTERY)
    item: Document | None = Field(default=None, description="item-level data points by key. " + _VALUES)
    summary: Document | None = Field(
        default=None, description="the upstream summary (docs/contracts.md, decoded form) the passport carries"
    )
    footprint: Document | None = Field(default=None, description="the carbon footprint (kg CO2e per kWh by stage)")
    credentials: Items[Jws] = Field(default=[], description="credentials (JWT or SD-JWT) backing the claims")
    expected_version: int | None = Field(default=None, alias="expectedVersion", ge=0, description=_VERSION)


class ValuesIn(RequestModel):
    """Data points to write (static through PATCH, dynamic through ``.../dynamic``)."""

    values: Document = Field(default={}, description=_VALUES)
    expected_version: int | None = Field(default=None, alias="expectedVersion", ge=0, description=_VERSION)


class StatusIn(RequestModel):
    """A status change (Annex XIII (4)(b); Art. 77(6))."""

    status: Text = Field(description="the new status (original, repurposed, re-used, remanufactured, waste)")
    waste_operator: Token | None = Field(
        default=None, alias="wasteOperator", description="the waste operator (DID) once the battery is waste"
    )


_SOH = UNIT_RANGES["%"]


class SecondLifeIn(RequestModel):
    """A second life (Art. 77(7)): a new passport and identifier linked to its predecessors."""

    status: Token = Field(description="repurposed, re-used or remanufactured")
    new_battery: Token = Field(alias="newBattery", description="the new battery identifier. " + _BATTERY)
    new_operator: Token = Field(alias="newOperator", description="the operator responsible now (a DID)")
    values: Document = Field(default={}, description="data points changed for the new life. " + _VALUES)
    restored_capacity_ah: float | None = Field(
        default=None,
        alias="restoredCapacityAh",
        gt=0,
        le=UNIT_RANGES["Ah"][1],
        strict=True,
        allow_inf_nan=False,
        description="capacity after remanufacturing, in Ah (Art. 3(1)(32): at least 90 % of the rated capacity)",
    )
    cell_soh: Items[Annotated[FiniteFloat, Field(ge=_SOH[0], le=_SOH[1])]] = Field(
        default=[], alias="cellSoh", description="state of health of every cell, in % (remanufacturing: within 3 %)"
    )
    other_predecessors: Items[Token] = Field(
        default=[], alias="otherPredecessors", description="further predecessor passports (urn:uuid:...)"
    )
    new_category: Token | None = Field(
        default=None,
        alias="newCategory",
        description="repurposing only: the battery's category in its new life (e.g. stationary)",
    )
    use: Token | None = Field(
        default=None, description="repurposing only: what the battery is used for in its new life"
    )


class RecoveredIn(RequestModel):
    """A material recovered by recycling the battery (Annex XII Part C)."""

    material: Token = Field(description="the material recovered (e.g. cobalt, lithium carbonate)")
    mass_kg: MassKg = Field(alias="massKg", description="its mass in kg")


class RecycleIn(RequestModel):
    """The end of a passport: the battery is recycled (Art. 77(8))."""

    recycler: Token | None = Field(default=None, description="the recycler (a DID; default: the writer)")
    recovered: Items[RecoveredIn] = Field(default=[], description="what was recovered from the battery, by material")


class MandateIn(RequestModel):
    """A written mandate to another party to write data (Art. 77(4))."""

    mandatee: Token = Field(description="who is mandated (a DID)")
    scope: Items[Token] = Field(description="static and/or dynamic")
    document: Token = Field(description="a reference to the written mandate itself")
    valid_until: IsoDate | None = Field(default=None, alias="validUntil", description="last day of validity")


class BackupIn(RequestModel):
    """A signed passport version from the node that names this node as its backup (Art. 77(5))."""

    jws: Jws = Field(description="the signed version (compact JWS by the issuer's DID key)")


def _svc(ctx: NodeContext) -> PassportService:
    return ctx.service(PassportService)


async def _reader(ctx: NodeContext, request: Request) -> tuple[frozenset[str], frozenset[Tier]]:
    """Roles and tiers of the caller: admin key -> every tier; bearer -> verified roles."""
    if ctx.check_admin_key(request.headers.get("x-api-key")):
        return frozenset({OPERATOR_ROLE}), ALL_TIERS
    auth = request.headers.get("authorization")
    if not auth:
        return frozenset(), frozenset({Tier.PUBLIC})
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(
            "Authorization: expected 'Bearer <presentation>'", rule='RFC 6750; docs/architecture.md "URL layout"'
        )
    try:
        verifier: RoleVerifier = ctx.services[RoleVerifier]
    except KeyError:
        raise Unauthorized(
            "this node verifies no role presentations", rule="passport access tiers (Art. 77(2))"
        ) from None
    roles = await verifier.roles_for(token)
    return roles, tiers_for_roles(roles)


@guard
async def _writer(request: Request, ctx: Ctx) -> str:
    """The actor of a write: the admin key acts as this node's DID; a DCP self-issued token from
    another node acts as its verified issuer DID. Whether that DID may write is the service's call."""
    if ctx.check_admin_key(request.headers.get("x-api-key")):
        return _svc(ctx).operator
    auth = request.headers.get("authorization")
    if not auth:
        raise Unauthorized(
            "this write needs the node's admin key in X-Api-Key or 'Authorization: Bearer <self-issued token>'",
            rule='write routes are authenticated (docs/architecture.md "URL layout")',
        )
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization: expected 'Bearer <self-issued token>'", rule="RFC 6750; DCP 1.0 §4.3")
    verifier: CallerVerifier | None = ctx.services.get(CallerVerifier)
    if verifier is None:
        raise Unauthorized(
            "this node verifies no self-issued tokens; use the admin key",
            rule='write routes are authenticated (docs/architecture.md "URL layout")',
        )
    did = await verifier.caller_did(auth)
    if not did:
        raise Unauthorized("Authorization: the self-issued token names no caller", rule="DCP 1.0 §4.3.1")
    return did


#: the acting DID of a write route (admin key -> this node; self-issued token -> the caller)
Writer = Annotated[str, Depends(_writer)]


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    if "text/html" not in accept:
        return False
    html_pos = accept.find("text/html")
    json_pos = accept.find("application/json")
    return json_pos == -1 or html_pos < json_pos


def _pid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value.removeprefix("urn:uuid:"))
    except ValueError:
        raise InvalidInput(
            f"passport_id: '{value}' is not a UUID", field="passport_id", rule="passport identifier (UUID)"
        ) from None


def _document(
    svc: PassportService, p: Passport, roles: frozenset[str], tiers: frozenset[Tier], channel: str
) -> dict[str, Any]:
    view = svc.read(p, roles=roles, tiers=tiers, channel=channel)
    return {
        "passportId": p.urn,
        "batteryId": p.digital_link,
        "status": "ended" if p.ended else p.status.value,
        "version": p.version,
        "tiers": sorted(t.value for t in tiers),
        "data": view,
    }


def _pages(ctx: NodeContext) -> PageRenderer:
    """The node's page renderer (``batpass.web`` in a node)."""
    pages: PageRenderer = ctx.services[PageRenderer]
    return pages


def _link_resolver(svc: PassportService) -> Callable[[str], str | None]:
    def resolve(urn: str) -> str | None:
        try:
            return svc.get(_pid(urn)).battery_id.path
        except BatpassError:
            return None

    return resolve


def _page_response(
    pages: PageRenderer,
    svc: PassportService,
    p: Passport,
    roles: frozenset[str],
    tiers: frozenset[Tier],
    view: dict[str, Any],
) -> HTMLResponse:
    html = pages.passport_page(p, view, tiers=tiers, roles=roles, resolve_link=_link_resolver(svc))
    return HTMLResponse(html, headers={"Vary": "Accept, Authorization", "Cache-Control": "no-store"})


@router.get("/01/{gtin}/21/{serial}", response_model=None)
async def resolve_battery(gtin: str, serial: str, request: Request, ctx: Ctx) -> Response:
    """GS1 Digital Link resolver: the passport of a battery, as a page or JSON.

    The node's own passport first; else, on a node with the ``resolver`` role and a route for the
    GTIN, the operator's node (or the backup node's signed copy when the operator does not
    answer, docs/resolver.md); else the signed backup copy this node holds as the passport's
    backup node, marked as such."""
    svc = _svc(ctx)
    html = _wants_html(request)
    try:
        battery = BatteryId(gtin, serial)
        passport = svc.find_by_battery(battery)
    except InvalidInput:
        if html:
            return HTMLResponse(
                _pages(ctx).message_page("Not a battery identifier", "This code is not a valid battery identifier."),
                status_code=400,
            )
        raise
    if passport is None:
        resolver: BatteryResolver | None = ctx.services.get(BatteryResolver)
        routed = await resolver.answer(battery, request) if resolver is not None else None
        if routed is not None:
            return routed
        try:
            held = await run_in_threadpool(svc.held_copy, battery)
        except BackupCopyRefused:
            if not html:
                raise
            return HTMLResponse(
                _pages(ctx).message_page(
                    "Backup copy not shown", "The backup copy held here did not pass its signature check."
                ),
                status_code=503,
                headers={"Cache-Control": "no-store"},
            )
        if held is not None:
            return _from_backup_copy(ctx, request, held, html=html)
    if passport is None:
        if html:
            return HTMLResponse(
                _pages(ctx).message_page("Battery not found", "No passport is registered for this battery here."),
                status_code=404,
            )
        raise NotFound(f"battery {battery} has no passport on this node", rule="GS1 Digital Link resolver")
    link_type = request.query_params.get("linkType")
    if link_type is not None or LINKSET_MEDIA_TYPE in request.headers.get("accept", ""):
        links = linkset(passport, api_base=str(request.base_url))
        if link_type in (None, "all"):
            return JSONResponse(links, media_type=LINKSET_MEDIA_TYPE, headers={"Vary": "Accept"})
        # a link type this node has: redirect to it (the page itself is served right here, by
        # Accept); one it has not: the default link, as GS1 resolvers do
        href = target(links, link_type)
        if href is not None and href != passport.digital_link:
            return RedirectResponse(href, status_code=307)
    roles, tiers = await _reader(ctx, request)
    doc = _document(svc, passport, roles, tiers, "resolver")
    # RFC 8288 / GS1 resolvers: the linkset is announced on every answer
    announce = f'<{passport.digital_link}?linkType=all>; rel="linkset"; type="{LINKSET_MEDIA_TYPE}"'
    if html:
        page = _page_response(_pages(ctx), svc, passport, roles, tiers, doc["data"])
        page.headers["Link"] = announce
        return page
    return JSONResponse(
        doc,
        headers={"Vary": "Accept, Authorization", "Link": f'<{passport.urn}>; rel="describedby", {announce}'},
    )


#: the header that marks an answer served from a backup node's copy (docs/resolver.md)
SERVED_FROM_HEADER = "Batpass-Served-From"


def _holder_name(ctx: NodeContext) -> str:
    participants = ctx.services.get(ParticipantService)
    me = participants.me() if participants is not None else None
    return me.legal_name if me is not None else ctx.name


def _from_backup_copy(ctx: NodeContext, request: Request, held: HeldCopy, *, html: bool) -> Response:
    """The battery's Digital Link answered from the signed copy this node holds as its backup node
    (Art. 77(5)), checked before it is served (:meth:`PassportService.held_copy`): the public tier
    only (a reader's presentation is addressed to the operator's node, not this one), marked with
    who holds the copy — a visible notice on the page, ``servedFrom`` in the JSON and the
    ``Batpass-Served-From`` header on every answer."""
    p = held.passport
    served = {
        "source": "backup-copy",
        "holder": ctx.did,
        "holderName": _holder_name(ctx),
        "operator": held.issuer,
        "version": held.version,
        "digest": held.digest,
        "signedBy": held.kid,
        "heldSince": held.received_at.isoformat(),
    }
    marker = {SERVED_FROM_HEADER: f'backup-copy; holder="{ctx.did}"', "Cache-Control": "no-store"}
    link_type = request.query_params.get("linkType")
    if link_type is not None or LINKSET_MEDIA_TYPE in request.headers.get("accept", ""):
        links = linkset(p, api_base=None)
        if link_type in (None, "all"):
            return JSONResponse(links, media_type=LINKSET_MEDIA_TYPE, headers={"Vary": "Accept", **marker})
    public = frozenset({Tier.PUBLIC})
    view = _svc(ctx).read(p, tiers=public, channel="backup")
    announce = f'<{p.digital_link}?linkType=all>; rel="linkset"; type="{LINKSET_MEDIA_TYPE}"'
    headers = {"Vary": "Accept", "Link": announce, **marker}
    if html:
        page = _pages(ctx).passport_page(
            p, view, tiers=public, roles=frozenset(), resolve_link=lambda _urn: None, served_from=served
        )
        return HTMLResponse(page, headers=headers)
    doc = {
        "passportId": p.urn,
        "batteryId": p.digital_link,
        "status": "ended" if p.ended else p.status.value,
        "version": p.version,
        "tiers": [Tier.PUBLIC.value],
        "data": view,
        "servedFrom": served,
    }
    return JSONResponse(doc, headers=headers)


_PAGE_ERROR = {"text/html": {"schema": {"type": "string"}}, "application/problem+json": {"schema": {"type": "object"}}}


@router.get(
    "/01/{gtin}/21/{serial}/history",
    response_class=HTMLResponse,
    responses={
        404: {"description": "no passport for this battery here (a page saying so)", "content": _PAGE_ERROR},
        503: {"description": "a routed battery whose operator and backup node do not answer", "content": _PAGE_ERROR},
    },
)
async def history_page(gtin: str, serial: str, request: Request, ctx: Ctx) -> Response:
    """The passport's version history as a page (date, operator, change, digest per version),
    cut to the reader's tiers like the history API. On a node with the resolver role, a routed
    GTIN's history page comes from the operator's node (docs/resolver.md)."""
    svc = _svc(ctx)
    try:
        battery: BatteryId | None = BatteryId(gtin, serial)
        passport = svc.find_by_battery(battery) if battery is not None else None
    except InvalidInput:
        battery, passport = None, None
    resolver: BatteryResolver | None = ctx.services.get(BatteryResolver)
    if passport is None and battery is not None and resolver is not None:
        routed = await resolver.answer(battery, request)
        if routed is not None:
            return routed
    if passport is None:
        return HTMLResponse(
            _pages(ctx).message_page("Battery not found", "No passport is registered for this battery here."),
            status_code=404,
        )
    roles, tiers = await _reader(ctx, request)
    svc.audit(passport, roles=roles, tiers=tiers, channel="history")
    html = _pages(ctx).history_page(passport, svc.history(passport.passport_id, tiers=tiers))
    return HTMLResponse(html, headers={"Vary": "Accept, Authorization", "Cache-Control": "no-store"})


@router.get("/v1/passports")
def list_passports(ctx: Ctx, _admin: AdminKey, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    items = _svc(ctx).list_passports(limit=min(max(limit, 1), 1000), offset=max(offset, 0))
    return {
        "items": [
            {
                "passportId": p.urn,
                "batteryId": p.digital_link,
                "status": "ended" if p.ended else p.status.value,
                "version": p.version,
            }
            for p in items
        ]
    }


@router.post("/v1/passports", status_code=201)
def build_passport(ctx: Ctx, _admin: AdminKey, body: BuildIn) -> dict[str, Any]:
    """Build (or rebuild as a new version)."""
    svc = _svc(ctx)
    static = load_static_product_data(body.static)
    battery = BatteryId.parse(body.battery)
    p = svc.build(
        static,
        battery,
        item=body.item or {},
        summary=decode_summary(body.summary) if body.summary else None,
        footprint=body.footprint,
        credentials=tuple(body.credentials),
        expected_version=body.expected_version,
    )
    return {"passportId": p.urn, "batteryId": p.digital_link, "version": p.version}


_IMPORT_FILES = 16


@router.post(
    "/v1/passports:import",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "description": "the document: JSON (Catena-X battery_pass 6.1.0, Battery Pass modules keyed by module,"
            " an AAS environment), an .aasx package, or multipart/form-data with one or more 'file' parts"
            " (Battery Pass module documents named after their module) and an optional 'format' field",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": "one of the three formats' documents (their top-level members below)",
                        "properties": {
                            "specVersion": {"type": "string", "description": "Catena-X battery_pass 6.1.0"},
                            "identification": {"type": "object", "description": "Catena-X battery_pass 6.1.0"},
                            **{
                                module: {"type": "object", "description": "a Battery Pass module"}
                                for module in BATTERYPASS_MODULES
                            },
                            "assetAdministrationShells": {"type": "array", "description": "AAS V3 environment"},
                            "submodels": {"type": "array", "description": "AAS V3 environment"},
                        },
                    }
                },
                "application/asset-administration-shell-package": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "format": {"type": "string", "enum": list(IMPORT_FORMATS)},
                            "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        },
                    }
                },
            },
        }
    },
)
async def import_passport(
    request: Request,
    ctx: Ctx,
    _admin: AdminKey,
    fmt: Annotated[str | None, Query(alias="format", max_length=32, description="catenax, batterypass or aas")] = None,
) -> dict[str, Any]:
    """Import a passport from another format; it is checked, signed and stored like a built one.

    Answers the passport and the document paths batpass keeps no data point for (``ignored``)."""
    files: list[tuple[str, bytes]] = []
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=_IMPORT_FILES, max_fields=_IMPORT_FILES + 1) as form:
            field = form.get("format")
            fmt = fmt or (field if isinstance(field, str) else None)
            for part in form.getlist("file"):
                if isinstance(part, UploadFile):
                    files.append((part.filename or "document.json", await part.read()))
    else:
        body = await request.body()
        files.append(("document.aasx" if body[:4] == b"PK\x03\x04" else "document.json", body))
    if fmt is None:
        raise InvalidInput(
            "format: name the document's format (?format=catenax|batterypass|aas)",
            field="format",
            rule="passport import formats",
        )
    imported = read_import(fmt, files)
    p = await run_in_threadpool(_svc(ctx).import_passport, imported)
    return {
        "passportId": p.urn,
        "batteryId": p.digital_link,
        "version": p.version,
        "format": imported.format,
        "sourcePassportId": imported.source_id,
        "ignored": list(imported.ignored),
    }


@router.post("/v1/passports/backup")
def accept_backup(
    ctx: Ctx, body: BackupIn, idempotency_key: Annotated[str | None, Header(max_length=256)] = None
) -> dict[str, Any]:
    """A signed version from a node that names this node as its backup (Art. 77(5))."""
    return _svc(ctx).accept_backup(body.wire(), idempotency_key=idempotency_key)


@router.get("/v1/passports/backups/{passport_id}")
def backup_copies(passport_id: str, ctx: Ctx, _admin: AdminKey) -> dict[str, Any]:
    """The signed copies this node keeps as another operator's backup node (Art. 77(5)).

    Each was checked on arrival (signature by the issuer's DID key, hash chain); a reader can
    check them again against the issuer's DID document.
    """
    pid = _pid(passport_id)
    copies = _svc(ctx).backup_copies(pid)
    if not copies:
        raise NotFound(f"passport_id: this node holds no backup copy of urn:uuid:{pid}", rule="passport backup copy")
    return {"passportId": f"urn:uuid:{pid}", "copies": copies}


@router.get("/v1/passports/{passport_id}", response_model=None)
async def read_passport(passport_id: str, request: Request, ctx: Ctx) -> Response:
    svc = _svc(ctx)
    p = svc.get(_pid(passport_id))
    roles, tiers = await _reader(ctx, request)
    doc = _document(svc, p, roles, tiers, "api")
    if _wants_html(request):
        return _page_response(_pages(ctx), svc, p, roles, tiers, doc["data"])
    return JSONResponse(doc)


@router.patch("/v1/passports/{passport_id}")
def update_passport(passport_id: str, ctx: Ctx, actor: Writer, body: ValuesIn) -> dict[str, Any]:
    svc = _svc(ctx)
    p = svc.update(_pid(passport_id), body.values, actor=actor, expected_version=body.expected_version)
    return {"passportId": p.urn, "version": p.version}


@router.post("/v1/passports/{passport_id}/dynamic")
def record_dynamic(passport_id: str, ctx: Ctx, actor: Writer, body: ValuesIn) -> dict[str, Any]:
    svc = _svc(ctx)
    p = svc.record_dynamic(_pid(passport_id), body.values, actor=actor, expected_version=body.expected_version)
    return {"passportId": p.urn, "version": p.version}


@router.post("/v1/passports/{passport_id}/status")
def change_status(passport_id: str, ctx: Ctx, actor: Writer, body: StatusIn) -> dict[str, Any]:
    svc = _svc(ctx)
    p = svc.change_status(_pid(passport_id), body.status, actor=actor, waste_operator=body.waste_operator)
    return {"passportId": p.urn, "version": p.version, "status": p.status.value}


@router.post("/v1/passports/{passport_id}/second-life", status_code=201)
def second_life(passport_id: str, ctx: Ctx, actor: Writer, body: SecondLifeIn) -> dict[str, Any]:
    svc = _svc(ctx)
    others = [_pid(x) for x in body.other_predecessors]
    p = svc.second_life(
        [_pid(passport_id), *others],
        status=body.status,
        new_battery=BatteryId.parse(body.new_battery),
        new_operator=body.new_operator,
        actor=actor,
        values=body.values,
        restored_capacity_ah=body.restored_capacity_ah,
        cell_soh=tuple(body.cell_soh),
        category=body.new_category,
        use=body.use,
    )
    return {"passportId": p.urn, "batteryId": p.digital_link, "status": p.status.value}


@router.post("/v1/passports/{passport_id}/recycle")
def recycle(passport_id: str, ctx: Ctx, actor: Writer, body: RecycleIn) -> dict[str, Any]:
    svc = _svc(ctx)
    p = svc.recycle(
        _pid(passport_id),
        recycler=body.recycler or actor,
        actor=actor,
        recovered=[{"material": r.material, "mass_kg": r.mass_kg} for r in body.recovered],
    )
    return {"passportId": p.urn, "status": "ended"}


@router.post("/v1/passports/{passport_id}/mandates", status_code=201)
def grant_mandate(passport_id: str, ctx: Ctx, actor: Writer, body: MandateIn) -> dict[str, Any]:
    svc = _svc(ctx)
    m = svc.grant_mandate(
        _pid(passport_id),
        mandatee=body.mandatee,
        scope=tuple(body.scope),
        document=body.document,
        actor=actor,
        valid_until=body.valid_until,
    )
    return {"mandateId": str(m.mandate_id), "scope": sorted(m.scope)}


@router.get("/v1/passports/{passport_id}/history")
async def history(passport_id: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    svc = _svc(ctx)
    pid = _pid(passport_id)
    roles, tiers = await _reader(ctx, request)
    svc.audit(svc.get(pid), roles=roles, tiers=tiers, channel="history")
    return {"passportId": f"urn:uuid:{pid}", "versions": svc.history(pid, tiers=tiers)}


@router.get("/v1/passports/{passport_id}/versions/{version}")
def signed_version(passport_id: str, version: int, ctx: Ctx, _admin: AdminKey) -> dict[str, Any]:
    """The signed JWS of one version (every tier: the operator's own copy)."""
    for v in _svc(ctx).versions(_pid(passport_id)):
        if v.version == version:
            return {"version": v.version, "jws": v.jws, "digest": v.digest, "prevDigest": v.prev_digest}
    raise NotFound(f"version: {version} not found", rule="passport history")


@router.get("/v1/passports/{passport_id}/backup-status")
def backup_status(passport_id: str, ctx: Ctx, _admin: AdminKey) -> dict[str, Any]:
    """The operator's view of the backup copies (Art. 77(5)): for every version, whether its copy
    reached the backup node (``sent``), is being retried (``pending``) or was given up (``dead``),
    with the attempts made and the last cause."""
    pid = _pid(passport_id)
    return {"passportId": f"urn:uuid:{pid}", "copies": _svc(ctx).backup_status(pid)}


@router.get("/v1/passports/{passport_id}/verify")
def verify_passport(passport_id: str, ctx: Ctx, _admin: AdminKey) -> dict[str, Any]:
    """Check one passport: every signed version (digest, signature, link) and that what is served
    is the newest one. Answers ``{passportId, ok, versions, findings: [{table, key, rule, detail}]}``
    (200 either way: the findings are the answer)."""
    return _svc(ctx).verify(_pid(passport_id))


@router.get("/v1/passports/{passport_id}/audit")
def audit_log(passport_id: str, ctx: Ctx, _admin: AdminKey) -> dict[str, Any]:
    return {"entries": _svc(ctx).audit_entries(_pid(passport_id))}


#: the export formats (``GET /v1/passports/{id}/export/{fmt}``) and the QR codes, in the order the
#: bundle (``GET /v1/passports/{id}/exports``) answers them by default
EXPORT_FORMATS = ("catenax", "batterypass", "aas")
BUNDLE_FORMATS = (*EXPORT_FORMATS, "qr.svg", "qr.png")


def _export_body(
    fmt: str, p: Passport, versions: list[Any], tiers: frozenset[Tier], version: str | None
) -> tuple[bytes, str]:
    """One export's body and media type, exactly as its own route serves it."""
    if fmt == "catenax":
        issued, modified = versions[0].created_at.date(), versions[-1].created_at.date()
        return _json(to_catenax(p, issued=issued, modified=modified, tiers=tiers)), "application/json"
    if fmt == "aas":
        return to_aas_json(p, tiers=tiers).encode("utf-8"), "application/json"
    if fmt == "batterypass":
        return _json(to_batterypass(p, tiers=tiers, version=version or LATEST_BATTERYPASS)), "application/json"
    if fmt == "qr.svg":
        return qr_svg(p.digital_link).encode("utf-8"), "image/svg+xml"
    return qr_png(p.digital_link), "image/png"


def _json(content: Any) -> bytes:
    """A JSON body as :class:`JSONResponse` renders it."""
    return bytes(JSONResponse(content).body)


def _check_version(version: str | None, formats: Iterable[str]) -> None:
    if version is not None and "batterypass" not in formats:
        raise InvalidInput(
            f"version: only the batterypass format has versions to choose ({', '.join(formats)} has one)",
            field="version",
            rule="passport exports",
        )


_BATTERYPASS_VERSION = Annotated[
    str | None, Query(max_length=16, description="batterypass: 1.2.1 (default, the newest) or 1.2.0")
]


@router.get("/v1/passports/{passport_id}/export/{fmt}", response_model=None)
async def export(
    passport_id: str, fmt: str, request: Request, ctx: Ctx, version: _BATTERYPASS_VERSION = None
) -> Response:
    """``catenax`` (battery_pass 6.1.0), ``aas`` (AAS V3.1 JSON), ``batterypass`` (modules 1.2.0,
    Performance 1.2.1 or, with ``version=1.2.0``, 1.2.0)."""
    svc = _svc(ctx)
    # the Catena-X export dates itself by its first and last versions: read with the passport,
    # from the one chain its check reads
    p, versions = svc.with_versions(_pid(passport_id)) if fmt == "catenax" else (svc.get(_pid(passport_id)), [])
    roles, tiers = await _reader(ctx, request)
    _check_version(version, (fmt,))
    svc.audit(p, roles=roles, tiers=tiers, channel=f"export:{fmt}")
    if fmt not in EXPORT_FORMATS:
        raise NotFound(f"format: '{fmt}' is not one of catenax, aas, batterypass", rule="passport exports")
    body, media_type = _export_body(fmt, p, versions, tiers, version)
    return Response(body, media_type=media_type)


_BUNDLE_SCHEMA = {
    "type": "object",
    "required": ["passportId", "exports"],
    "properties": {
        "passportId": {"type": "string"},
        "exports": {
            "type": "object",
            "description": "by format: the body its own route serves, byte for byte (text as UTF-8, PNG as base64)",
            "additionalProperties": {
                "type": "object",
                "required": ["mediaType", "encoding", "body"],
                "properties": {
                    "mediaType": {"type": "string"},
                    "encoding": {"type": "string", "enum": ["utf-8", "base64"]},
                    "body": {"type": "string"},
                },
            },
        },
    },
}


@router.get(
    "/v1/passports/{passport_id}/exports",
    response_model=None,
    responses={
        200: {"description": "the exports of one passport", "content": {"application/json": {"schema": _BUNDLE_SCHEMA}}}
    },
)
async def export_bundle(
    passport_id: str,
    request: Request,
    ctx: Ctx,
    formats: Annotated[
        str | None,
        Query(max_length=200, description="comma-separated, of " + ", ".join(BUNDLE_FORMATS) + " (default: all)"),
    ] = None,
    version: _BATTERYPASS_VERSION = None,
) -> Response:
    """Several exports of one passport in one answer, from one checked read of its chain: each the
    body its own route (``export/{fmt}``, ``qr.svg``, ``qr.png``) serves, byte for byte, and each
    export beyond the public tier written to the audit log as its own route writes it."""
    listed = ",".join(BUNDLE_FORMATS) if formats is None else formats
    wanted = list(dict.fromkeys(f.strip() for f in listed.split(",") if f.strip()))
    unknown = [f for f in wanted if f not in BUNDLE_FORMATS]
    if unknown or not wanted:
        raise InvalidInput(
            f"formats: {', '.join(unknown) or 'none'} is not a list of {', '.join(BUNDLE_FORMATS)}",
            field="formats",
            rule="passport exports",
        )
    _check_version(version, wanted)
    svc = _svc(ctx)
    p, versions = svc.with_versions(_pid(passport_id))
    roles, tiers = await _reader(ctx, request)
    svc.audit(p, roles=roles, tiers=tiers, channel=[f"export:{f}" for f in wanted if f in EXPORT_FORMATS])
    out: dict[str, dict[str, str]] = {}
    for fmt in wanted:
        body, media_type = _export_body(fmt, p, versions, tiers, version)
        text = media_type != "image/png"
        out[fmt] = {
            "mediaType": media_type,
            "encoding": "utf-8" if text else "base64",
            "body": body.decode("utf-8") if text else base64.b64encode(body).decode("ascii"),
        }
    return JSONResponse({"passportId": p.urn, "exports": out})


@router.get(
    "/v1/passports/{passport_id}/qr.{ext}",
    response_model=None,
    responses={
        200: {
            "description": "the passport's GS1 Digital Link as a QR code (ext: svg or png)",
            "content": {
                "image/svg+xml": {"schema": {"type": "string"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
def qr_code(passport_id: str, ext: str, ctx: Ctx) -> Response:
    p = _svc(ctx).get(_pid(passport_id))
    if ext == "svg":
        return Response(qr_svg(p.digital_link), media_type="image/svg+xml")
    if ext == "png":
        return Response(qr_png(p.digital_link), media_type="image/png")
    raise NotFound(f"qr.{ext}: svg or png", rule="QR code formats")
