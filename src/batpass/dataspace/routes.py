"""HTTP routes of the dataspace package: DSP 2025-1 (provider and consumer callbacks), version
discovery, the data plane and the digital twin registry (AAS Registry API v3 subset).

Thin: each route verifies the caller through the service's ``ParticipantVerifier`` (the BPN comes
only from there), calls the service and returns its JSON. Errors answer in each standard's shape
through :data:`ERROR_SHAPES` (longest matching prefix wins): DSP ``CatalogError`` /
``ContractNegotiationError`` / ``TransferError`` (DSP 2025-1 HTTPS bindings), AAS ``Result``
messages on ``/api/v3``, OAuth2-style errors on the data plane.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.responses import Response as StarletteResponse

from batpass.core.clock import utc_now
from batpass.core.errors import BatpassError, InvalidInput
from batpass.dataspace import _dsp_messages as msgs
from batpass.dataspace._callbacks import ConsumerCallbacks
from batpass.dataspace._dtr import OWNER, Reader, TwinRegistry, decode_id
from batpass.dataspace._states import InvalidTransition
from batpass.dataspace.ports import IdentifyingVerifier
from batpass.dataspace.service import DSP_PATH, DspConsumer, DspProvider
from batpass.http import Ctx, loads_json

__all__ = ["ERROR_SHAPES", "router"]

router = APIRouter(tags=["dataspace"])


async def _json(request: Request) -> Any:
    try:
        return loads_json(await request.body())
    except ValueError as exc:
        raise InvalidInput("the body is not JSON", field="(body)", rule="DSP 2025-1: application/json") from exc


async def _participant(request: Request, provider: DspProvider) -> Any:
    return await provider.verifier.verify(request.headers.get("authorization"))


async def _contact(request: Request, provider: DspProvider) -> Any:
    """The verified participant of a catalog or contract request. The provider's contact hooks
    hear the caller's DID as soon as its token is verified, while its credentials are still being
    asked for (docs/dataspace.md "Channels opened on first contact"); a verifier that cannot
    tell that apart has them told once the participant is verified. Hooks only start work."""
    authorization = request.headers.get("authorization")
    if isinstance(provider.verifier, IdentifyingVerifier):
        return await provider.verifier.verify_identified(authorization, provider.contacts.note)
    participant = await provider.verifier.verify(authorization)
    provider.contacts.note(participant.did)
    return participant


def _dsp(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


# -- version discovery (DSP 2025-1 "Common functionality" § version) -------------------------


@router.get("/.well-known/dspace-version")
async def dspace_version(ctx: Ctx) -> JSONResponse:
    provider = ctx.service(DspProvider)
    body = {
        "protocolVersions": [
            {
                "version": "2025-1",
                "path": DSP_PATH,
                "binding": "HTTPS",
                "serviceId": provider.settings.did + "#dsp",
                "identifierType": "did:web",
                "auth": {"protocol": "DCP", "version": "1.0", "profile": ["vc20-bssl/jwt"]},
            }
        ]
    }
    if msgs.schema_errors(body, "protocol-version"):
        raise AssertionError("version document fails its schema")
    return JSONResponse(body)


@router.get(
    "/ns/dsp-catalog/v1",
    response_class=JSONResponse,
    responses={200: {"description": "the JSON-LD context", "content": {"application/ld+json": {}}}},
)
async def catalog_context() -> JSONResponse:
    """The JSON-LD context of batpass's catalog terms (``BATPASS_CATALOG_CONTEXT``), the bundled
    copy, at the path of its IRI: for a JSON-LD reader that loads contexts from the node."""
    return JSONResponse(
        msgs.bundled_context(msgs.BATPASS_CATALOG_CONTEXT),
        media_type="application/ld+json",
        headers={"Cache-Control": "public, max-age=86400"},
    )


# -- catalog ----------------------------------------------------------------------------------


@router.post(DSP_PATH + "/catalog/request")
async def catalog_request(
    request: Request,
    ctx: Ctx,
    continuationToken: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    provider = ctx.service(DspProvider)
    participant = await _contact(request, provider)  # its hooks' work started; never waited for
    msgs.check_incoming(await _json(request), "CatalogRequestMessage")
    catalog, next_cursor = provider.catalog(participant, limit=limit, cursor=continuationToken)
    headers = {}
    if next_cursor:
        url = f"{provider.settings.dsp_url}/catalog/request?continuationToken={next_cursor}&limit={limit}"
        headers["Link"] = f'<{url}>; rel="next"'
    return _dsp(catalog, headers=headers)


@router.get(DSP_PATH + "/catalog/datasets/{dataset_id:path}")
async def dataset(dataset_id: str, request: Request, ctx: Ctx) -> JSONResponse:
    provider = ctx.service(DspProvider)
    return _dsp(provider.dataset(await _participant(request, provider), dataset_id))


# -- negotiation (provider) -------------------------------------------------------------------


@router.post(DSP_PATH + "/negotiations/request")
async def negotiation_request(request: Request, ctx: Ctx) -> JSONResponse:
    provider = ctx.service(DspProvider)
    participant = await _contact(request, provider)  # its hooks' work started; never waited for
    body, status = provider.request_negotiation(participant, await _json(request))
    return _dsp(body, status)


@router.get(DSP_PATH + "/negotiations/{pid}")
async def negotiation_get(pid: str, request: Request, ctx: Ctx) -> JSONResponse:
    provider = ctx.service(DspProvider)
    return _dsp(provider.get_negotiation(await _participant(request, provider), pid))


async def _negotiation_msg(pid: str, request: Request, ctx: Ctx, kind: str) -> JSONResponse:
    provider = ctx.service(DspProvider)
    participant = await _participant(request, provider)
    return _dsp(provider.negotiation_message(participant, pid, await _json(request), kind))


@router.post(DSP_PATH + "/negotiations/{pid}/request")
async def negotiation_counter(pid: str, request: Request, ctx: Ctx) -> JSONResponse:
    return await _negotiation_msg(pid, request, ctx, "request")


@router.post(DSP_PATH + "/negotiations/{pid}/events")
async def negotiation_events(pid: str, request: Request, ctx: Ctx) -> JSONResponse:
    return await _negotiation_msg(pid, request, ctx, "events")


@router.post(DSP_PATH + "/negotiations/{pid}/agreement/verification")
async def negotiation_verification(pid: str, request: Request, ctx: Ctx) -> JSONResponse:
    return await _negotiation_msg(pid, request, ctx, "verification")


@router.post(DSP_PATH + "/negotiations/{pid}/termination")
async def negotiation_termination(pid: str, request: Request, ctx: Ctx) -> JSONResponse:
    return await _negotiation_msg(pid, request, ctx, "termination")


# -- transfer (provider) ----------------------------------------------------------------------


@router.post(DSP_PATH + "/transfers/request")
async def transfer_request(request: Request, ctx: Ctx) -> JSONResponse:
    provider = ctx.service(DspProvider)
    participant = await _participant(request, provider)
    body, status = provider.request_transfer(participant, await _json(request))
    return _dsp(body, status)


@router.get(DSP_PATH + "/transfers/{pid}")
async def transfer_get(pid: str, request: Request, ctx: Ctx) -> JSONResponse:
    provider = ctx.service(DspProvider)
    return _dsp(provider.get_transfer(await _participant(request, provider), pid))


@router.post(DSP_PATH + "/transfers/{pid}/{kind}")
async def transfer_message(pid: str, kind: str, request: Request, ctx: Ctx) -> JSONResponse:
    if kind not in ("start", "completion", "suspension", "termination"):
        raise InvalidInput(f"unknown transfer message path '{kind}'", field="path", rule="DSP 2025-1 transfer binding")
    provider = ctx.service(DspProvider)
    participant = await _participant(request, provider)
    return _dsp(provider.transfer_message(participant, pid, await _json(request), kind))


# -- consumer callbacks -----------------------------------------------------------------------


@router.post(DSP_PATH + "/callback/negotiations/offers")
async def callback_offer(request: Request, ctx: Ctx) -> JSONResponse:
    """A provider-initiated negotiation: the consumer's process starts in OFFERED (201)."""
    consumer = ctx.service(DspConsumer)
    participant = await consumer.verifier.verify(request.headers.get("authorization"))
    body, status = ConsumerCallbacks(consumer).offered(participant, await _json(request))
    return _dsp(body, status)


@router.get(DSP_PATH + "/callback/negotiations/{pid}")
async def callback_negotiation_get(pid: str, request: Request, ctx: Ctx) -> JSONResponse:
    consumer = ctx.service(DspConsumer)
    participant = await consumer.verifier.verify(request.headers.get("authorization"))
    return _dsp(ConsumerCallbacks(consumer).negotiation(participant, pid))


@router.get(DSP_PATH + "/callback/transfers/{pid}")
async def callback_transfer_get(pid: str, request: Request, ctx: Ctx) -> JSONResponse:
    consumer = ctx.service(DspConsumer)
    participant = await consumer.verifier.verify(request.headers.get("authorization"))
    return _dsp(ConsumerCallbacks(consumer).transfer(participant, pid))


@router.post(DSP_PATH + "/callback/negotiations/{pid}/{kind}")
async def callback_negotiation(pid: str, kind: str, request: Request, ctx: Ctx) -> JSONResponse:
    if kind not in ("offers", "agreement", "events", "termination"):
        raise InvalidInput(f"unknown negotiation callback '{kind}'", field="path", rule="DSP 2025-1 callbacks")
    consumer = ctx.service(DspConsumer)
    participant = await consumer.verifier.verify(request.headers.get("authorization"))
    return _dsp(consumer.on_negotiation_message(participant, pid, await _json(request), kind))


@router.post(DSP_PATH + "/callback/transfers/{pid}/{kind}")
async def callback_transfer(pid: str, kind: str, request: Request, ctx: Ctx) -> JSONResponse:
    if kind not in ("start", "completion", "suspension", "termination"):
        raise InvalidInput(f"unknown transfer callback '{kind}'", field="path", rule="DSP 2025-1 callbacks")
    consumer = ctx.service(DspConsumer)
    participant = await consumer.verifier.verify(request.headers.get("authorization"))
    return _dsp(consumer.on_transfer_message(participant, pid, await _json(request), kind))


# -- data plane -------------------------------------------------------------------------------


@router.get("/api/public")
async def dataplane_pull(request: Request, ctx: Ctx) -> JSONResponse:
    query = dict(request.query_params)  # opaque to the connector: the asset's source reads it
    content = await ctx.service(DspProvider).pull(request.headers.get("authorization"), query)
    return JSONResponse(content)


@router.post("/api/public/token")
async def dataplane_refresh(request: Request, ctx: Ctx) -> JSONResponse:
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    if form.get("grant_type") != "refresh_token" or not form.get("refresh_token"):
        raise InvalidInput(
            "grant_type must be refresh_token with a refresh_token", field="grant_type", rule="RFC 6749 § 6"
        )
    return JSONResponse(ctx.service(DspProvider).refresh(form["refresh_token"]), headers={"Cache-Control": "no-store"})


_MAX_PROXY_BODY = 1_000_000  # bytes: the JSON documents these APIs carry are a few kB


async def _proxy(request: Request, ctx: Ctx, path: str) -> JSONResponse:
    """A request sent through the data plane (Tractus-X ``HttpData`` proxy: method, sub-path,
    query and body forwarded) to the asset of the bearer's transfer."""
    if len(path) > 1024:
        raise InvalidInput("the data-plane path is too long", field="path", rule="data plane proxy: at most 1024 chars")
    body: Any = None
    if request.method != "GET":
        raw = await request.body()
        if len(raw) > _MAX_PROXY_BODY:
            raise InvalidInput("the body is too large", field="(body)", rule="data plane proxy: at most 1 MB")
        if raw.strip():
            try:
                body = loads_json(raw)
            except ValueError as exc:
                raise InvalidInput("the body is not JSON", field="(body)", rule="data plane proxy: JSON") from exc
    reply = await ctx.service(DspProvider).proxy(
        request.headers.get("authorization"), request.method, path, dict(request.query_params), body
    )
    return JSONResponse(reply.content, status_code=reply.status)


@router.post("/api/public")
async def dataplane_post(request: Request, ctx: Ctx) -> JSONResponse:
    """A write the consumer sends to the data-plane endpoint itself (proxied to the asset)."""
    return await _proxy(request, ctx, "")


@router.put("/api/public")
async def dataplane_put(request: Request, ctx: Ctx) -> JSONResponse:
    """A write the consumer sends to the data-plane endpoint itself (proxied to the asset)."""
    return await _proxy(request, ctx, "")


# below the endpoint (``/api/public/<path>``; ``POST /api/public/token`` is the token refresh,
# registered first): proxied to the asset of the bearer's transfer


@router.get("/api/public/{path:path}")
async def dataplane_proxy_get(path: str, request: Request, ctx: Ctx) -> JSONResponse:
    return await _proxy(request, ctx, path)


@router.post("/api/public/{path:path}")
async def dataplane_proxy_post(path: str, request: Request, ctx: Ctx) -> JSONResponse:
    return await _proxy(request, ctx, path)


@router.put("/api/public/{path:path}")
async def dataplane_proxy_put(path: str, request: Request, ctx: Ctx) -> JSONResponse:
    return await _proxy(request, ctx, path)


# -- digital twin registry (/api/v3) ----------------------------------------------------------


async def _reader(request: Request, ctx: Ctx, registry: TwinRegistry) -> Reader:
    if ctx.check_admin_key(request.headers.get("x-api-key")):
        return OWNER
    auth = request.headers.get("authorization")
    if not auth:
        return Reader(bpnl=None)  # anonymous: PUBLIC_READABLE ids only; Edc-Bpn is never trusted
    participant = await registry.verifier.verify(auth)
    return Reader(bpnl=participant.bpnl)


def _owner(request: Request, ctx: Ctx) -> None:
    from batpass.http import require_admin

    require_admin(request, ctx)


@router.get("/api/v3/shell-descriptors")
async def shells_list(
    request: Request,
    ctx: Ctx,
    limit: int | None = None,
    cursor: str | None = None,
    assetKind: str | None = None,
    assetType: str | None = None,
) -> JSONResponse:
    reg = ctx.service(TwinRegistry)
    return JSONResponse(
        reg.list_shells(
            await _reader(request, ctx, reg), limit=limit, cursor=cursor, asset_kind=assetKind, asset_type=assetType
        )
    )


@router.post("/api/v3/shell-descriptors")
async def shells_create(request: Request, ctx: Ctx) -> JSONResponse:
    _owner(request, ctx)
    return JSONResponse(ctx.service(TwinRegistry).create_shell(await _json(request)), status_code=201)


@router.get("/api/v3/shell-descriptors/{aas_id}")
async def shells_get(aas_id: str, request: Request, ctx: Ctx) -> JSONResponse:
    reg = ctx.service(TwinRegistry)
    return JSONResponse(reg.get_shell(decode_id(aas_id, field="aasIdentifier"), await _reader(request, ctx, reg)))


@router.put("/api/v3/shell-descriptors/{aas_id}")
async def shells_put(aas_id: str, request: Request, ctx: Ctx) -> Response:
    _owner(request, ctx)
    ctx.service(TwinRegistry).replace_shell(decode_id(aas_id, field="aasIdentifier"), await _json(request))
    return Response(status_code=204)


@router.delete("/api/v3/shell-descriptors/{aas_id}")
async def shells_delete(aas_id: str, request: Request, ctx: Ctx) -> Response:
    _owner(request, ctx)
    ctx.service(TwinRegistry).delete_shell(decode_id(aas_id, field="aasIdentifier"))
    return Response(status_code=204)


@router.get("/api/v3/shell-descriptors/{aas_id}/submodel-descriptors")
async def submodels_list(aas_id: str, request: Request, ctx: Ctx) -> JSONResponse:
    reg = ctx.service(TwinRegistry)
    shell = reg.get_shell(decode_id(aas_id, field="aasIdentifier"), await _reader(request, ctx, reg))
    return JSONResponse({"paging_metadata": {}, "result": shell.get("submodelDescriptors", [])})


@router.post("/api/v3/shell-descriptors/{aas_id}/submodel-descriptors")
async def submodels_create(aas_id: str, request: Request, ctx: Ctx) -> JSONResponse:
    _owner(request, ctx)
    reg = ctx.service(TwinRegistry)
    return JSONResponse(
        reg.add_submodel(decode_id(aas_id, field="aasIdentifier"), await _json(request)), status_code=201
    )


@router.get("/api/v3/lookup/shells")
async def lookup_get(
    request: Request,
    ctx: Ctx,
    limit: int | None = None,
    cursor: str | None = None,
    assetIds: Annotated[list[str] | None, Query()] = None,
) -> JSONResponse:
    reg = ctx.service(TwinRegistry)
    links = TwinRegistry.parse_asset_ids_query(assetIds or [])
    return JSONResponse(reg.lookup(links, await _reader(request, ctx, reg), limit=limit, cursor=cursor))


@router.post("/api/v3/lookup/shellsByAssetLink")
async def lookup_post(request: Request, ctx: Ctx, limit: int | None = None, cursor: str | None = None) -> JSONResponse:
    reg = ctx.service(TwinRegistry)
    body = await _json(request)
    if not isinstance(body, list) or len(body) > 10000:
        raise InvalidInput(
            "the body must be a list of at most 10000 asset links",
            field="(body)",
            rule="AAS API SearchAllAssetAdministrationShellIdsByAssetLink",
        )
    return JSONResponse(reg.lookup(body, await _reader(request, ctx, reg), limit=limit, cursor=cursor))


@router.get("/api/v3/description")
async def description() -> JSONResponse:
    return JSONResponse(
        {
            "profiles": [
                "https://admin-shell.io/aas/API/3/0/AssetAdministrationShellRegistryServiceSpecification/SSP-001",
                "https://admin-shell.io/aas/API/3/0/DiscoveryServiceSpecification/SSP-001",
            ]
        }
    )


# -- error shapes -----------------------------------------------------------------------------


def _dsp_error(kind: str) -> Callable[[BatpassError], StarletteResponse]:
    def build(err: BatpassError) -> StarletteResponse:
        status = err.status if err.status in (400, 401, 403, 404, 409) else (400 if err.status == 422 else err.status)
        if isinstance(err, InvalidTransition):
            status = 400
        body = msgs.error_message(
            kind,
            code=err.kind,
            reason=err.message,
            provider_pid=str(err.details.get("providerPid", "")),
            consumer_pid=str(err.details.get("consumerPid", "")),
        )
        return JSONResponse(body, status_code=status)

    return build


def _aas_error(err: BatpassError) -> StarletteResponse:
    now = utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")
    return JSONResponse(
        {"messages": [{"code": str(err.status), "messageType": "Error", "text": err.message, "timestamp": now}]},
        status_code=err.status,
    )


def _oauth_error(err: BatpassError) -> StarletteResponse:
    # RFC 6750 § 3.1 names the token errors; a refusal by a proxied source (404, 409) is the
    # request's fault, not the server's
    code = {400: "invalid_request", 401: "invalid_token"}.get(
        err.status, "invalid_request" if err.status < 500 else "server_error"
    )
    headers = {"WWW-Authenticate": f'Bearer error="{code}"'} if err.status == 401 else None
    return JSONResponse({"error": code, "error_description": err.message}, status_code=err.status, headers=headers)


#: path prefix → builder of that standard's error response (the longest matching prefix wins)
ERROR_SHAPES: dict[str, Callable[[BatpassError], StarletteResponse]] = {
    DSP_PATH + "/callback/transfers/": _dsp_error("TransferError"),
    DSP_PATH + "/callback/negotiations/": _dsp_error("ContractNegotiationError"),
    DSP_PATH + "/transfers/": _dsp_error("TransferError"),
    DSP_PATH + "/negotiations/": _dsp_error("ContractNegotiationError"),
    DSP_PATH + "/catalog/": _dsp_error("CatalogError"),
    DSP_PATH + "/": _dsp_error("CatalogError"),
    "/.well-known/dspace-version": _dsp_error("CatalogError"),
    "/api/public": _oauth_error,
    "/api/v3/": _aas_error,
}
