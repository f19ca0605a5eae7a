"""The PACT v3 API of a node under ``/pact``, PACT v2.3 beside it, and the admin routes under
``/v1/footprints``.

``/pact/auth/token`` (OAuth2 client credentials, RFC 6749 section 4.4: HTTP Basic or the
``client_id``/``client_secret`` form fields), ``GET /pact/3/footprints`` (filters and ``Link``
pagination), ``GET /pact/3/footprints/{id}``, ``POST /pact/3/events`` (CloudEvents). Errors on
``/pact/`` answer in the PACT v3 ``Error`` shape (``{code, message}``) and on ``/pact/auth/`` in
the OAuth2 shape (``{error, error_description}``), through :data:`ERROR_SHAPES`. The admin routes
under ``/v1/footprints/pact/`` also keep partners' credentials (``peers``) and send requests to
them (``requests``).

PACT v2.3 (``/pact/2/footprints``, ``/pact/2/footprints/{id}``, ``/pact/2/events``) is served from
the same store with the same tokens (:mod:`._pact_v2_api`); a 404 there is v2's
``NoSuchFootprint``. ``/pact/extensions/batpass-pact-conversion/1.0.0/schema.json`` is the public
schema of the extension that states every value converted between the versions.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qs, unquote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field
from starlette.responses import Response as StarletteResponse

from batpass.core.errors import BatpassError, InvalidInput, NotFound
from batpass.footprint._pact_v2 import EXTENSION_NAME, EXTENSION_SCHEMA, EXTENSION_VERSION
from batpass.footprint._pact_v2_api import PactV2Api
from batpass.footprint.errors import OAuthError, TokenExpired
from batpass.footprint.service import FootprintFilter, PactService, _parse_time
from batpass.http import AdminKey, Ctx, Document, Items, OpenRequestModel, RequestModel, Token, loads_json

__all__ = ["ERROR_SHAPES", "router"]

router = APIRouter()

#: ListFootprints query parameters (PACT v3) plus ``offset``, which our pagination links carry
LIST_PARAMS = frozenset(
    {
        "limit",
        "offset",
        "productId",
        "companyId",
        "geography",
        "classification",
        "validOn",
        "validAfter",
        "validBefore",
        "status",
    }
)
_PACT_CODES = {400: "BadRequest", 401: "BadRequest", 403: "AccessDenied", 404: "NotFound", 501: "NotImplemented"}


def _pact_error(err: BatpassError) -> StarletteResponse:
    """PACT v3 ``Error``: ``code`` from the enum, ``message`` naming field and rule."""
    status = err.status
    code = "TokenExpired" if isinstance(err, TokenExpired) else _PACT_CODES.get(status)
    if code is None:
        code = "InternalError" if status >= 500 else "BadRequest"
    message = err.message if not err.rule or status >= 500 else f"{err.message} ({err.rule})"
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def _oauth_error(err: BatpassError) -> StarletteResponse:
    """RFC 6749 section 5.2 error response."""
    if isinstance(err, OAuthError):
        error, status = err.error, err.status
    else:
        error, status = ("invalid_request", 400) if err.status < 500 else ("server_error", err.status)
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="pact"'
    return JSONResponse({"error": error, "error_description": err.message}, status_code=status, headers=headers)


def _pact_v2_error(err: BatpassError) -> StarletteResponse:
    """PACT v2 ``Error``: as v3, but an unknown footprint is ``NoSuchFootprint`` (Technical
    Specifications v2 error codes; the official tool's v2 TC8 expects it)."""
    if err.status == 404:
        return JSONResponse({"code": "NoSuchFootprint", "message": err.message}, status_code=404)
    return _pact_error(err)


ERROR_SHAPES: dict[str, Callable[[BatpassError], StarletteResponse]] = {
    "/pact/": _pact_error,
    "/pact/2/": _pact_v2_error,
    "/pact/auth/": _oauth_error,
}


def _pact(ctx: Ctx) -> PactService:
    return ctx.service(PactService)


def _client(request: Request, ctx: Ctx) -> str:
    return _pact(ctx).authenticate(request.headers.get("authorization"))


PactClient = Annotated[str, Depends(_client)]


def _basic(header: str | None) -> tuple[str | None, str | None]:
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError(
            "client authentication failed: malformed Basic credentials",
            error="invalid_client",
            status=401,
            rule="RFC 7617",
        ) from exc
    cid, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError(
            "client authentication failed: malformed Basic credentials",
            error="invalid_client",
            status=401,
            rule="RFC 7617 user-id ':' password",
        )
    # RFC 6749 section 2.3.1: id and secret are form-urlencoded before Basic encoding
    return unquote(cid), unquote(secret)


@router.post("/pact/auth/token", tags=["pact"])
async def token(request: Request, ctx: Ctx) -> JSONResponse:
    """OAuth2 client credentials grant (RFC 6749 section 4.4; PACT v3 authentication flow)."""
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    cid, secret = _basic(request.headers.get("authorization"))
    if cid is None:
        cid, secret = form.get("client_id"), form.get("client_secret")
    issued = _pact(ctx).issue_token(cid, secret, grant_type=form.get("grant_type"))
    return JSONResponse(
        {"access_token": issued.access_token, "token_type": issued.token_type, "expires_in": issued.expires_in},
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _list_filter(request: Request) -> tuple[FootprintFilter, int, int | None]:
    q = request.query_params
    unknown = sorted(set(q.keys()) - LIST_PARAMS)
    if unknown:
        raise InvalidInput(
            f"query parameter {unknown[0]!r} is not a ListFootprints parameter",
            field=unknown[0],
            rule="PACT v3 ListFootprints parameters (the v2 $filter syntax is not part of v3)",
        )

    def number(name: str) -> int | None:
        raw = q.get(name)
        if raw is None:
            return None
        if not raw.isdigit():
            raise InvalidInput(f"{name} {raw!r} is not a non-negative integer", field=name, rule="uint", value=raw)
        return int(raw)

    def when(name: str) -> Any:
        raw = q.get(name)
        return None if raw is None else _parse_time(raw, name)

    def values(name: str) -> tuple[str, ...]:
        # an empty value (``classification=``) constrains nothing: the official tool's TC22/TC23
        # send one for a footprint without that property and expect every footprint back
        return tuple(v for v in q.getlist(name) if v)

    flt = FootprintFilter(
        product_ids=values("productId"),
        company_ids=values("companyId"),
        geographies=values("geography"),
        classifications=values("classification"),
        valid_on=when("validOn"),
        valid_after=when("validAfter"),
        valid_before=when("validBefore"),
        statuses=values("status"),
    )
    return flt, number("offset") or 0, number("limit")


def _link(request: Request, offset: int, limit: int) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit")]
    params += [("offset", str(offset)), ("limit", str(limit))]
    return str(request.url.replace(query=urlencode(params)))


@router.get("/pact/3/footprints", tags=["pact"])
def list_footprints(request: Request, ctx: Ctx, _client_id: PactClient) -> JSONResponse:
    """Action ListFootprints: ``Link`` (RFC 8288) with ``next`` while more footprints remain."""
    flt, offset, limit = _list_filter(request)
    page = _pact(ctx).list_footprints(flt, offset=offset, limit=limit)
    headers: dict[str, str] = {}
    if page.limit > 0 and page.total > 0:
        last = ((page.total - 1) // page.limit) * page.limit
        links = [f'<{_link(request, 0, page.limit)}>; rel="first"']
        if offset > 0:
            links.append(f'<{_link(request, max(0, offset - page.limit), page.limit)}>; rel="prev"')
        if offset + page.limit < page.total:
            links.append(f'<{_link(request, offset + page.limit, page.limit)}>; rel="next"')
        links.append(f'<{_link(request, last, page.limit)}>; rel="last"')
        headers["Link"] = ", ".join(links)
    return JSONResponse({"data": page.documents}, headers=headers)


@router.get("/pact/3/footprints/{footprint_id}", tags=["pact"])
def get_footprint(footprint_id: str, ctx: Ctx, _client_id: PactClient) -> JSONResponse:
    """Action GetFootprint (404 for an unknown id)."""
    return JSONResponse({"data": _pact(ctx).get_footprint(footprint_id)})


@router.post("/pact/3/events", tags=["pact"])
async def events(request: Request, ctx: Ctx, client_id: PactClient) -> StarletteResponse:
    """Action Events: accept a CloudEvent (200, empty body); a RequestCreatedEvent is answered."""
    raw = await request.body()
    try:
        event = loads_json(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput("the event is not JSON", field="body", rule="application/cloudevents+json") from exc
    _pact(ctx).receive_event(event, client_id=client_id)
    return StarletteResponse(status_code=200)


# ---- PACT v2.3, beside v3, from the same store -------------------------------------------------


def _v2(ctx: Ctx) -> PactV2Api:
    return PactV2Api(_pact(ctx))


@router.get("/pact/2/footprints", tags=["pact"])
def list_footprints_v2(request: Request, ctx: Ctx, _client_id: PactClient) -> JSONResponse:
    """PACT v2.3 Action ListFootprints (``limit``, ``Link`` with ``next``, ``$filter`` in the OData
    subset of the v2 Technical Specifications). Footprints given as v3 are converted, each
    converted value stated in the document (extension ``batpass-pact-conversion``)."""
    q = request.query_params
    unknown = sorted(set(q.keys()) - {"limit", "offset", "$filter"})
    if unknown:
        raise InvalidInput(
            f"query parameter {unknown[0]!r} is not a PACT v2 ListFootprints parameter",
            field=unknown[0],
            rule="PACT v2 ListFootprints parameters: limit, $filter",
        )
    offset, limit = _uint(q.get("offset"), "offset") or 0, _uint(q.get("limit"), "limit")
    page = _v2(ctx).list_footprints(offset=offset, limit=limit, odata=q.get("$filter") or None)
    headers: dict[str, str] = {}
    if page.limit > 0 and offset + page.limit < page.total:
        headers["Link"] = f'<{_link(request, offset + page.limit, page.limit)}>; rel="next"'
    return JSONResponse({"data": page.documents}, headers=headers)


def _uint(raw: str | None, name: str) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit():
        raise InvalidInput(f"{name} {raw!r} is not a non-negative integer", field=name, rule="uint", value=raw)
    return int(raw)


@router.get("/pact/2/footprints/{footprint_id}", tags=["pact"])
def get_footprint_v2(footprint_id: str, ctx: Ctx, _client_id: PactClient) -> JSONResponse:
    """PACT v2.3 Action GetFootprint (404 ``NoSuchFootprint`` for an unknown id, or one v2 cannot
    express)."""
    return JSONResponse({"data": _v2(ctx).get_footprint(footprint_id)})


@router.post("/pact/2/events", tags=["pact"])
async def events_v2(request: Request, ctx: Ctx, client_id: PactClient) -> StarletteResponse:
    """PACT v2.3 Action Events: a ``ProductFootprintRequest.Created.v1`` is answered at
    ``<source>/2/events``; the other v2 events are recorded."""
    raw = await request.body()
    try:
        event = loads_json(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput("the event is not JSON", field="body", rule="application/cloudevents+json") from exc
    _v2(ctx).receive_event(event, client_id=client_id)
    return StarletteResponse(status_code=200)


@router.get(f"/pact/extensions/{EXTENSION_NAME}/{{version}}/schema.json", tags=["pact"])
def conversion_extension_schema(version: str) -> JSONResponse:
    """The JSON Schema of the Data Model Extension that states every value converted between PACT
    v2.3 and v3 (its ``dataSchema``; public, as the Data Model Extensions specification asks)."""
    if version != EXTENSION_VERSION:
        raise NotFound(f"no {EXTENSION_NAME} version {version!r}", rule=f"served: {EXTENSION_VERSION}")
    return JSONResponse(EXTENSION_SCHEMA, media_type="application/schema+json")


# ---- admin (batpass's own API, RFC 9457 problems) ---------------------------------------------


class ClientIn(RequestModel):
    """A PACT API client to create (OAuth2 client credentials)."""

    name: Token = Field(description="who the client is for (shown in listings)")


class FootprintIn(OpenRequestModel):
    """A footprint to serve: a PACT v3 ProductFootprint (``specVersion`` 3.x), or PACT v2
    (converted to v3 through the normalised model). The document is checked against the PACT
    data model by the service; its main members are named here."""

    id: Token | None = Field(default=None, description="the footprint's id (a UUID)")
    spec_version: Token | None = Field(default=None, alias="specVersion", description="PACT data model version")
    product_ids: Items[Token] | None = Field(default=None, alias="productIds", description="product ids (URNs)")
    company_name: Token | None = Field(default=None, alias="companyName", description="the data owner's name")
    pcf: Document | None = Field(default=None, description="the carbon footprint (PACT CarbonFootprint)")


class PeerIn(RequestModel):
    """The OAuth2 client a partner gave this node for its PACT API."""

    model_config = ConfigDict(extra="forbid")

    base_url: Token = Field(description="the partner's PACT base URL, e.g. https://partner:8443/pact")
    client_id: Token = Field(description="the OAuth2 client id")
    client_secret: Token = Field(description="the OAuth2 client secret (never returned)")
    token_url: Token | None = Field(default=None, description="the token endpoint (default <base_url>/auth/token)")
    name: Token | None = Field(default=None, description="the partner's name")


class FootprintRequestIn(RequestModel):
    """Ask a partner for footprints (a PACT RequestCreatedEvent)."""

    peer: Token = Field(description="the partner's PACT base URL (registered with POST /v1/footprints/pact/peers)")
    data: Document = Field(
        default={}, description="the RequestCreatedEvent criteria (PACT v3 §6.9: productId, companyId, ...)"
    )


@router.post("/v1/footprints/pact/clients", status_code=201, tags=["footprints"])
def create_client(ctx: Ctx, _admin: AdminKey, body: ClientIn) -> dict[str, str]:
    """A PACT API client (OAuth2 credentials); the secret is returned once."""
    creds = _pact(ctx).create_client(body.name)
    return {"client_id": creds.client_id, "client_secret": creds.client_secret, "name": creds.name}


@router.post("/v1/footprints/pact/footprints", status_code=201, tags=["footprints"])
def store_footprint(ctx: Ctx, _admin: AdminKey, body: FootprintIn) -> dict[str, Any]:
    """Serve a footprint given as a PACT v3 document, or as PACT v2 (kept as given for the v2.3 API
    and converted to v3 for the v3 API, every converted value stated in the v3 document)."""
    doc = body.wire()
    if (body.spec_version or "").startswith("3."):
        return _pact(ctx).store_document(doc)
    return _v2(ctx).store_v2_document(doc)


@router.get("/v1/footprints/pact/events", tags=["footprints"])
def events_received(ctx: Ctx, _admin: AdminKey) -> list[dict[str, Any]]:
    """PACT events this node received (a requester finds its RequestFulfilled answers here)."""
    return _pact(ctx).events_received()


@router.post("/v1/footprints/pact/peers", status_code=201, tags=["footprints"])
def register_peer(ctx: Ctx, _admin: AdminKey, body: PeerIn) -> dict[str, Any]:
    """Keep the OAuth2 client a partner gave this node for its PACT API: ``base_url`` (the
    partner's PACT base URL, e.g. ``https://partner:8443/pact``), ``client_id``,
    ``client_secret``, optional ``token_url`` (default ``<base_url>/auth/token``) and ``name``.
    The secret is never returned."""
    peer = _pact(ctx).register_peer(
        body.base_url,
        client_id=body.client_id,
        client_secret=body.client_secret,
        token_url=body.token_url,
        name=body.name,
    )
    return peer.public()


@router.get("/v1/footprints/pact/peers", tags=["footprints"])
def list_peers(ctx: Ctx, _admin: AdminKey) -> list[dict[str, Any]]:
    """The partners whose PACT APIs this node has credentials for (secrets are not shown)."""
    return [p.public() for p in _pact(ctx).peers()]


@router.post("/v1/footprints/pact/requests", status_code=202, tags=["footprints"])
def request_footprints(ctx: Ctx, _admin: AdminKey, body: FootprintRequestIn) -> dict[str, Any]:
    """Ask a partner for footprints: ``{"peer": <its PACT base URL>, "data": <RequestCreatedEvent
    criteria>}``. 202 once the partner accepted the RequestCreatedEvent; its answer arrives
    later on this node's ``/pact/3/events`` (see ``GET /v1/footprints/pact/requests`` and
    ``/v1/footprints/pact/events``)."""
    return _pact(ctx).request_footprints(body.peer, body.data)


@router.get("/v1/footprints/pact/requests", tags=["footprints"])
def requests_sent(ctx: Ctx, _admin: AdminKey) -> list[dict[str, Any]]:
    """RequestCreatedEvents this node sent, with their state (sending, sent, failed, fulfilled,
    rejected)."""
    return _pact(ctx).requests()
