"""HTTP edge of the Ouranos hub: the published data transaction API at its published paths
(``/auth/login``, ``/auth/refresh``, ``/auth/change``, ``/api/v1/authInfo``,
``/api/v1/datatransport``, one path each, routed by ``dataTarget`` as the real one is), the
extension ``dataTarget`` values (``_data/ouranos-hub-extensions.yaml``), the admin API under
``/v1/ouranos/admin`` and hosted operators' DID documents.

Errors on the published prefixes answer ``{code, message, detail}`` (:data:`ERROR_SHAPES`);
every success carries ``x-track``. Thin: parsing and shaping only, the rules live in the service;
each ``dataTarget``'s handler calls the hub component that serves it (``hub.parts``, ``hub.trades``, …).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from batpass.core.clock import utc_now
from batpass.core.errors import (
    BatpassError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    UpstreamUnavailable,
)
from batpass.core.ids import new_uuid7
from batpass.http import AdminKey, Ctx, guard
from batpass.ouranos import _wire as w
from batpass.ouranos._site_routes import router as _site_router
from batpass.ouranos.errors import UnknownTarget
from batpass.ouranos.model import (
    OPERATOR_IDS_MAX,
    PAGE_LIMIT_MAX,
    TRACE_IDS_MAX,
    AclItemGroup,
    Certification,
    CertificationFile,
    CfpResponseStatus,
    NotificationType,
    Page,
    StatusTarget,
)
from batpass.ouranos.service import BridgeRelease, OuranosHub, Principal

router = APIRouter(tags=["ouranos"])
#: operators' site registers under their release (extension, problem details)
router.include_router(_site_router)

_AUTH_PATHS = ("/auth/", "/api/v1/authInfo")
_STATUS = [
    (InvalidInput, 400, "BadRequest"),
    (Unauthorized, 401, "Unauthorized"),
    (Forbidden, 403, "AccessDenied"),
    (NotFound, 404, "NotFound"),
    (Conflict, 400, "BadRequest"),  # the published API has no 409: business refusals are 400
    (UpstreamUnavailable, 503, "ServiceUnavailable"),
]


def _status_of(err: BatpassError) -> tuple[int, str]:
    for cls, status, name in _STATUS:
        if isinstance(err, cls):
            return status, name
    if 400 <= err.status < 500:  # framework errors (405, 413, ...) keep their status
        return err.status, "BadRequest"
    return 500, "InternalServerError"


def _error_body(err: BatpassError, service: str) -> JSONResponse:
    status, name = _status_of(err)
    if isinstance(err, Unauthorized | Forbidden):
        service = "auth"
    elif service == "dataspace" and isinstance(err, Conflict):
        service = "traceability"
    stamp = utc_now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    parts = [f"id: {err.details.get('operator_id', '')}", f"timeStamp: {stamp}"]
    if isinstance(err, InvalidInput) and err.field:
        parts.append(f"field: {err.field}")
    if err.rule:
        parts.append(f"rule: {err.rule}")
    message = err.message if status < 500 else "Unexpected error occurred"
    return JSONResponse(
        {"code": f"[{service}] {name}", "message": message, "detail": ", ".join(parts)}, status_code=status
    )


def _auth_error(err: BatpassError) -> Response:
    return _error_body(err, "auth")


def _dataspace_error(err: BatpassError) -> Response:
    return _error_body(err, "dataspace")


#: the published API's error body ``{code, message, detail}`` for its prefixes
ERROR_SHAPES: dict[str, Callable[[BatpassError], Response]] = {
    "/auth/": _auth_error,
    "/api/v1/authInfo": _auth_error,
    "/api/v1/datatransport": _dataspace_error,
}


# ------------------------------------------------------------------------------------------ helpers


def _hub(ctx: Ctx) -> OuranosHub:
    return ctx.service(OuranosHub)


def _ok(body: Any, status: int = 200, *, link: str | None = None) -> Response:
    headers = {"x-track": str(new_uuid7())}
    if link:
        headers["link"] = link
    if body is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(w.to_json(body), status_code=status, headers=headers)


def _link(
    request: Request, target: str, page: Page[Any], limit: int, extra: dict[str, str] | None = None
) -> str | None:
    if page.next_after is None:
        return None
    query = {"dataTarget": target, **(extra or {}), "limit": str(limit), "after": page.next_after}
    return f'<{str(request.base_url).rstrip("/")}{request.url.path}?{urlencode(query)}>; rel="next"'


async def _principal(request: Request, hub: OuranosHub) -> Principal:
    auth = request.headers.get("authorization") or ""
    bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
    api_key = request.headers.get("apikey")
    return await run_in_threadpool(lambda: hub.accounts.authenticate(api_key=api_key, bearer=bearer))


@guard
async def _operator(request: Request, ctx: Ctx) -> Principal:
    """The calling operator (``Authorization: Bearer`` and ``apiKey``), before the body is read."""
    return await _principal(request, _hub(ctx))


Operator = Annotated[Principal, Depends(_operator)]


def _q(request: Request, name: str) -> str | None:
    """A query parameter's value, ``None`` when absent. Given, it must carry a value (the published
    OpenAPI 3.0 parameters leave ``allowEmptyValue`` at its default, false) and be given once
    (each is one ``form`` value; a list is one comma-separated value)."""
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidInput(
            f"Invalid request parameters, {name}: given more than once.",
            field=name,
            rule="each query parameter once (lists are comma-separated)",
        )
    if values[0] == "":
        raise InvalidInput(
            f"Invalid request parameters, {name}: cannot be blank.",
            field=name,
            rule="a query parameter given carries a value (OpenAPI 3.0 allowEmptyValue: false)",
        )
    return values[0]


def _target(request: Request) -> str:
    target = _q(request, "dataTarget")
    if target is None:
        raise UnknownTarget(
            "Invalid request parameters, dataTarget: cannot be blank.",
            field="dataTarget",
            rule="dataTarget is required",
        )
    return target


def _unknown(target: str) -> UnknownTarget:
    return UnknownTarget(
        f"Invalid request parameters, dataTarget: Unexpected query parameter ({target!r})",
        field="dataTarget",
        rule="a dataTarget this path and method serve",
    )


# ------------------------------------------------------------------------------------------ /auth


@router.post("/auth/login", status_code=201)
async def login(request: Request, ctx: Ctx) -> Response:
    hub = _hub(ctx)
    body = w.parse_body(await request.body(), "authentication.LoginInputModel")
    api_key = request.headers.get("apikey")
    access, refresh = await run_in_threadpool(
        lambda: hub.accounts.login(body["operatorAccountId"], body["accountPassword"], api_key=api_key)
    )
    return _ok({"accessToken": access, "refreshToken": refresh}, 201)


@router.post("/auth/refresh", status_code=201)
async def refresh(request: Request, ctx: Ctx) -> Response:
    hub = _hub(ctx)
    body = w.parse_body(await request.body(), "authentication.RefreshInputModel")
    api_key = request.headers.get("apikey")
    access = await run_in_threadpool(lambda: hub.accounts.refresh(body["refreshToken"], api_key=api_key))
    return _ok({"accessToken": access}, 201)


@router.post("/auth/change", status_code=201)
async def change(request: Request, ctx: Ctx) -> Response:
    hub = _hub(ctx)
    who = await _principal(request, hub)
    body = w.parse_body(await request.body(), "authentication.ChangePasswordModel")
    await run_in_threadpool(lambda: hub.accounts.change_password(who, body["newPassword"]))
    return _ok(None, 201)


# ------------------------------------------------------------------------------------------ authInfo


@router.get("/api/v1/authInfo")
async def auth_info_get(request: Request, ctx: Ctx) -> Response:
    hub = _hub(ctx)
    target = _target(request)
    who = await _principal(request, hub)
    if target == "operator":
        open_id, ids = _q(request, "openOperatorId"), _q(request, "operatorIds")
        if open_id is not None and ids is not None:
            raise InvalidInput(
                "Invalid request parameters, only one of operatorIds and openOperatorId can be set.",
                field="operatorIds",
                rule="operatorIds and openOperatorId exclude each other",
            )
        if ids is not None:
            wanted = w.uuid_list(ids, "operatorIds", maximum=OPERATOR_IDS_MAX, required=True)
            found = await run_in_threadpool(lambda: hub.directory.operators_by_ids(who, wanted))
            return _ok([w.operator_out(o) for o in found])
        if open_id is not None:
            return _ok(w.operator_out(await run_in_threadpool(lambda: hub.directory.find_operator(who, open_id))))
        return _ok(w.operator_out(await run_in_threadpool(lambda: hub.directory.get_operator(who))))
    if target == "plant":
        return _ok([w.plant_out(p) for p in await run_in_threadpool(lambda: hub.plants.list_plants(who))])
    raise _unknown(target)


@router.put("/api/v1/authInfo", status_code=201)
async def auth_info_put(request: Request, ctx: Ctx) -> Response:
    hub = _hub(ctx)
    target = _target(request)
    who = await _principal(request, hub)
    raw = await request.body()
    if target == "operator":
        op = w.operator_in(w.parse_body(raw, "traceability.OperatorModel"))
        return _ok(w.operator_out(await run_in_threadpool(lambda: hub.directory.put_operator(who, op))), 201)
    if target == "plant":
        plant = w.plant_in(w.parse_body(raw, "traceability.PlantModel"))
        return _ok(w.plant_out(await run_in_threadpool(lambda: hub.plants.put_plant(who, plant))), 201)
    raise _unknown(target)


# ------------------------------------------------------------------------------------------ datatransport


@router.get("/api/v1/datatransport")
async def datatransport_get(request: Request, ctx: Ctx) -> Response:
    hub = _hub(ctx)
    target = _target(request)
    if target not in _GETS:
        raise _unknown(target)
    who = await _principal(request, hub)
    return await _GETS[target](request, hub, who)


@router.put("/api/v1/datatransport", status_code=201)
async def datatransport_put(request: Request, ctx: Ctx) -> Response:
    hub = _hub(ctx)
    target = _target(request)
    if target not in _PUTS:
        raise _unknown(target)
    who = await _principal(request, hub)
    return await _PUTS[target](request, hub, who)


@router.delete("/api/v1/datatransport", status_code=204)
async def datatransport_delete(request: Request, ctx: Ctx) -> Response:
    hub = _hub(ctx)
    target = _target(request)
    if target != "parts":
        raise _unknown(target)
    who = await _principal(request, hub)
    trace_id = str(w.uuid_param(_q(request, "traceId"), "traceId", required=True))
    await run_in_threadpool(lambda: hub.parts.delete_part(who, trace_id))
    return _ok(None, 204)


Handler = Callable[[Request, OuranosHub, Principal], Awaitable[Response]]


async def _get_parts(request: Request, hub: OuranosHub, who: Principal) -> Response:
    limit = w.limit_param(_q(request, "limit"), PAGE_LIMIT_MAX)
    after = w.uuid_param(_q(request, "after"), "after")
    trace_id = w.uuid_param(_q(request, "traceId"), "traceId")
    plant_id = w.uuid_param(_q(request, "plantId"), "plantId")
    parts_name = _q(request, "partsName")
    parent_flag = w.bool_param(_q(request, "parentFlag"), "parentFlag")
    page = await run_in_threadpool(
        lambda: hub.parts.list_parts(
            who,
            trace_id=trace_id,
            parts_name=parts_name,
            plant_id=plant_id,
            parent_flag=parent_flag,
            after=after,
            limit=limit,
        )
    )
    extra = {k: v for k, v in (("traceId", trace_id), ("partsName", parts_name), ("plantId", plant_id)) if v}
    if parent_flag is not None:
        extra["parentFlag"] = str(parent_flag).lower()
    return _ok([w.part_out(p) for p in page.items], link=_link(request, "parts", page, limit, extra))


async def _get_structure(request: Request, hub: OuranosHub, who: Principal) -> Response:
    trace_id = str(w.uuid_param(_q(request, "traceId"), "traceId", required=True))
    s = await run_in_threadpool(lambda: hub.parts.get_parts_structure(who, trace_id))
    return _ok({"parentPartsModel": w.part_out(s.parent), "childrenPartsModel": [w.part_out(c) for c in s.children]})


async def _get_trade_requests(request: Request, hub: OuranosHub, who: Principal) -> Response:
    limit = w.limit_param(_q(request, "limit"), PAGE_LIMIT_MAX)
    after = w.uuid_param(_q(request, "after"), "after")
    ids = w.uuid_list(_q(request, "traceIds"), "traceIds", maximum=TRACE_IDS_MAX)
    page = await run_in_threadpool(lambda: hub.trades.list_trade_requests(who, trace_ids=ids, after=after, limit=limit))
    return _ok([w.trade_out(t) for t in page.items], link=_link(request, "tradeRequest", page, limit))


async def _get_trade_responses(request: Request, hub: OuranosHub, who: Principal) -> Response:
    limit = w.limit_param(_q(request, "limit"), PAGE_LIMIT_MAX)
    after = w.uuid_param(_q(request, "after"), "after")
    page = await run_in_threadpool(lambda: hub.trades.list_trade_responses(who, after=after, limit=limit))
    body = [
        {"tradeModel": w.trade_out(t), "statusModel": w.status_out(t, progress), "partsModel": w.part_out(p)}
        for t, p, progress in page.items
    ]
    return _ok(body, link=_link(request, "tradeResponse", page, limit))


async def _get_status(request: Request, hub: OuranosHub, who: Principal) -> Response:
    limit = w.limit_param(_q(request, "limit"), PAGE_LIMIT_MAX)
    after = w.uuid_param(_q(request, "after"), "after")
    raw_target = _q(request, "statusTarget")
    if raw_target is not None and raw_target not in StatusTarget.__members__.values():
        raise InvalidInput(
            "Invalid request parameters, statusTarget: must be REQUEST or RESPONSE.", field="statusTarget", rule="enum"
        )
    st = StatusTarget(raw_target) if raw_target is not None else None
    status_id = w.uuid_param(_q(request, "statusId"), "statusId")
    trace_id = w.uuid_param(_q(request, "traceId"), "traceId")
    page = await run_in_threadpool(
        lambda: hub.trades.list_status(
            who, status_target=st, status_id=status_id, trace_id=trace_id, after=after, limit=limit
        )
    )
    extra = {k: v for k, v in (("statusTarget", raw_target), ("statusId", status_id), ("traceId", trace_id)) if v}
    return _ok([w.status_out(t, p) for t, p in page.items], link=_link(request, "status", page, limit, extra))


async def _get_cfp(request: Request, hub: OuranosHub, who: Principal) -> Response:
    ids = w.uuid_list(_q(request, "traceIds"), "traceIds", maximum=TRACE_IDS_MAX, required=True)
    return _ok([w.cfp_out(e) for e in await run_in_threadpool(lambda: hub.cfp.get_cfp(who, ids))])


async def _get_certification(request: Request, hub: OuranosHub, who: Principal) -> Response:
    trace_id = str(w.uuid_param(_q(request, "traceId"), "traceId", required=True))
    certs = await run_in_threadpool(lambda: hub.certificates.get_certifications(who, trace_id))
    return _ok([w.certification_out(c) for c in certs])


async def _get_cfp_acl(request: Request, hub: OuranosHub, who: Principal) -> Response:
    trace_id = str(w.uuid_param(_q(request, "traceId"), "traceId", required=True))
    rels = await run_in_threadpool(lambda: hub.releases.get_cfp_releases(who, trace_id))
    return _ok([_acl_out(r.operator_id, r.trace_id, r.released_to_operator_id, r.groups) for r in rels])


def _acl_out(op: str, trace: str, to: str, groups: dict[AclItemGroup, bool]) -> dict[str, Any]:
    return {
        "operatorId": op,
        "traceId": trace,
        "releasedToOperatorId": to,
        "acl": [{"aclItemGroup": str(g), "releasedFlag": f} for g, f in sorted(groups.items())],
    }


async def _get_cert_acl(request: Request, hub: OuranosHub, who: Principal) -> Response:
    trace_id = str(w.uuid_param(_q(request, "traceId"), "traceId", required=True))
    rels = await run_in_threadpool(lambda: hub.releases.get_certification_releases(who, trace_id))
    return _ok(
        [
            {
                "operatorId": r.operator_id,
                "traceId": r.trace_id,
                "releasedToOperatorId": r.released_to_operator_id,
                "releasedFlag": r.released_flag,
            }
            for r in rels
        ]
    )


async def _get_file(request: Request, hub: OuranosHub, who: Principal) -> Response:
    file_id = str(w.uuid_param(_q(request, "fileId"), "fileId", required=True))
    owner = str(w.uuid_param(_q(request, "fileOperatorId"), "fileOperatorId", required=True))
    name, content = await run_in_threadpool(lambda: hub.certificates.download_certificate_file(who, owner, file_id))
    return Response(
        content,
        media_type="application/octet-stream",
        headers={"x-track": str(new_uuid7()), "content-disposition": f'attachment; filename="{_safe(name)}"'},
    )


def _safe(name: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)


async def _get_notifications(request: Request, hub: OuranosHub, who: Principal) -> Response:
    limit = w.limit_param(_q(request, "limit"), PAGE_LIMIT_MAX)
    after = w.uuid_param(_q(request, "after"), "after")
    raw = _q(request, "notificationType")
    if raw is not None and raw not in NotificationType.__members__.values():
        raise InvalidInput(
            "Invalid request parameters, notificationType: unknown value.", field="notificationType", rule="enum"
        )
    kind = NotificationType(raw) if raw is not None else None
    page = await run_in_threadpool(
        lambda: hub.notifications.list_notifications(who, kind=kind, after=after, limit=limit)
    )
    return _ok([w.notification_out(n) for n in page.items], link=_link(request, "notifications", page, limit))


async def _put_parts(request: Request, hub: OuranosHub, who: Principal) -> Response:
    draft = w.part_in(w.parse_body(await request.body(), "traceability.PartsModel"))
    return _ok(w.part_out(await run_in_threadpool(lambda: hub.parts.put_part(who, draft))), 201)


async def _put_structure(request: Request, hub: OuranosHub, who: Principal) -> Response:
    body = w.parse_body(await request.body(), "traceability.PartsStructureModel")
    parent = w.part_in(body["parentPartsModel"])
    children = [w.part_in(c) for c in body["childrenPartsModel"]]
    s = await run_in_threadpool(lambda: hub.parts.put_parts_structure(who, parent, children))
    return _ok(
        {"parentPartsModel": w.part_out(s.parent), "childrenPartsModel": [w.part_out(c) for c in s.children]}, 201
    )


async def _put_trade_request(request: Request, hub: OuranosHub, who: Principal) -> Response:
    draft = w.trade_request_in(w.parse_body(await request.body(), "traceability.TradeRequestModel"))
    t = await run_in_threadpool(lambda: hub.trades.put_trade_request(who, draft))
    return _ok({"tradeModel": w.trade_out(t), "statusModel": w.status_out(t, None, created=True)}, 201)


async def _put_trade_response(request: Request, hub: OuranosHub, who: Principal) -> Response:
    trade_id = str(w.uuid_param(_q(request, "tradeId"), "tradeId", required=True))
    trace_id = str(w.uuid_param(_q(request, "traceId"), "traceId", required=True))
    t = await run_in_threadpool(lambda: hub.trades.put_trade_response(who, trade_id, trace_id))
    return _ok(w.trade_out(t), 201)


async def _put_status(request: Request, hub: OuranosHub, who: Principal) -> Response:
    body = w.parse_body(await request.body(), "traceability.StatusModel")
    rs = body.get("requestStatus") or {}
    if "cfpResponseStatus" not in rs or "tradeTreeStatus" not in rs:
        raise InvalidInput(
            "Validation failed, requestStatus: cfpResponseStatus and tradeTreeStatus are required.",
            field="requestStatus",
            rule="PUT status: cfpResponseStatus and tradeTreeStatus are required",
        )
    if body.get("statusId") is None:
        raise InvalidInput("Validation failed, statusId: cannot be blank.", field="statusId", rule="required")
    status_id, target, reply = body["statusId"], CfpResponseStatus(rs["cfpResponseStatus"]), body.get("replyMessage")
    await run_in_threadpool(lambda: hub.trades.put_status(who, status_id, target, reply_message=reply))
    return _ok(None, 201)


async def _put_cfp(request: Request, hub: OuranosHub, who: Principal) -> Response:
    body = w.parse_body(await request.body(), "traceability.CfpModel", array=True)
    if not body:
        raise InvalidInput(
            "Validation failed, body: the four cfpType entries are required.",
            field="body",
            rule="PUT cfp: four entries",
        )
    entries = [w.cfp_in(e) for e in body]
    return _ok([w.cfp_out(e) for e in await run_in_threadpool(lambda: hub.cfp.put_cfp(who, entries))], 201)


async def _put_cfp_acl(request: Request, hub: OuranosHub, who: Principal) -> Response:
    body = w.parse_body(await request.body(), "extension.CfpAclModel")
    groups = {AclItemGroup(a["aclItemGroup"]): bool(a["releasedFlag"]) for a in body["acl"]}
    r = await run_in_threadpool(
        lambda: hub.releases.put_cfp_release(who, body["traceId"], body["releasedToOperatorId"], groups)
    )
    return _ok(_acl_out(r.operator_id, r.trace_id, r.released_to_operator_id, r.groups), 201)


async def _put_cert_acl(request: Request, hub: OuranosHub, who: Principal) -> Response:
    body = w.parse_body(await request.body(), "extension.CfpCertificationAclModel")
    r = await run_in_threadpool(
        lambda: hub.releases.put_certification_release(
            who, body["traceId"], body["releasedToOperatorId"], bool(body["releasedFlag"])
        )
    )
    return _ok(
        {
            "operatorId": r.operator_id,
            "traceId": r.trace_id,
            "releasedToOperatorId": r.released_to_operator_id,
            "releasedFlag": r.released_flag,
        },
        201,
    )


async def _put_cert_info(request: Request, hub: OuranosHub, who: Principal) -> Response:
    body = w.parse_body(await request.body(), "extension.CfpCertificationInfoModel")
    cert = Certification(
        body.get("cfpCertificationId") or "",
        body["traceId"],
        body.get("cfpCertificationDescription"),
        tuple(
            CertificationFile(who.operator_id, f["fileId"], f.get("fileName") or "")
            for f in body["cfpCertificationFileInfo"]
        ),
    )
    return _ok(w.certification_out(await run_in_threadpool(lambda: hub.certificates.put_certification(who, cert))), 201)


async def _put_file(request: Request, hub: OuranosHub, who: Principal) -> Response:
    name = _q(request, "fileName")
    if not name:
        raise InvalidInput("Invalid request parameters, fileName: cannot be blank.", field="fileName", rule="required")
    content = await request.body()
    f = await run_in_threadpool(lambda: hub.certificates.upload_certificate_file(who, name, content))
    return _ok({"operatorId": f.operator_id, "fileId": f.file_id, "fileName": f.file_name}, 201)


async def _put_reply(request: Request, hub: OuranosHub, who: Principal) -> Response:
    body = w.parse_body(await request.body(), "extension.ReplyMessageModel")
    t = await run_in_threadpool(lambda: hub.trades.put_reply_message(who, body["statusId"], body["replyMessage"]))
    return _ok(w.status_out(t, None), 201)


_GETS: dict[str, Handler] = {
    "parts": _get_parts,
    "partsStructure": _get_structure,
    "tradeRequest": _get_trade_requests,
    "tradeResponse": _get_trade_responses,
    "status": _get_status,
    "cfp": _get_cfp,
    "cfpCertification": _get_certification,
    # extensions (traceability back end names)
    "cfpAcl": _get_cfp_acl,
    "cfpCertificationAcl": _get_cert_acl,
    "cfpCertificationFile": _get_file,
    "notifications": _get_notifications,
}
_PUTS: dict[str, Handler] = {
    "parts": _put_parts,
    "partsStructure": _put_structure,
    "tradeRequest": _put_trade_request,
    "tradeResponse": _put_trade_response,
    "status": _put_status,
    "cfp": _put_cfp,
    # extensions
    "cfpAcl": _put_cfp_acl,
    "cfpCertificationAcl": _put_cert_acl,
    "cfpCertificationInfo": _put_cert_info,
    "cfpCertificationFile": _put_file,
    "replyMessage": _put_reply,
}


# ------------------------------------------------------------------------------------------ DIDs


@router.get(
    "/operators/{operator_id}/did.json",
    responses={200: {"content": {"application/did+json": {"schema": {"type": "object"}}}}},
)
def operator_did(operator_id: str, ctx: Ctx) -> JSONResponse:
    doc = _hub(ctx).operator_did_document(str(w.uuid_param(operator_id, "operatorId", required=True)))
    return JSONResponse(doc, media_type="application/did+json")


# ------------------------------------------------------------------------------------------ admin


class OperatorIn(BaseModel):
    openOperatorId: str = Field(min_length=1, max_length=20)
    operatorName: str = Field(min_length=1, max_length=256)
    operatorAddress: str = Field(min_length=1, max_length=256)
    globalOperatorId: str | None = Field(default=None, max_length=256)
    operatorId: str | None = None


class PlantIn(BaseModel):
    openPlantId: str
    plantName: str = Field(min_length=1, max_length=256)
    plantAddress: str = Field(min_length=1, max_length=256)
    globalPlantId: str | None = Field(default=None, max_length=256)
    plantId: str | None = None


class AccountIn(BaseModel):
    operatorAccountId: str
    accountPassword: str


class ApiKeyIn(BaseModel):
    operatorId: str | None = None
    label: str = Field(default="application", max_length=256)


@router.post("/v1/ouranos/admin/operators", status_code=201)
def admin_add_operator(body: OperatorIn, ctx: Ctx, _: AdminKey) -> dict[str, Any]:
    op = _hub(ctx).onboard_operator(
        open_operator_id=body.openOperatorId,
        operator_name=body.operatorName,
        operator_address=body.operatorAddress,
        global_operator_id=body.globalOperatorId,
        operator_id=body.operatorId,
    )
    return {**w.operator_out(op), "did": op.did}


@router.get("/v1/ouranos/admin/operators")
def admin_list_operators(ctx: Ctx, _: AdminKey) -> list[dict[str, Any]]:
    return [{**w.operator_out(o), "did": o.did} for o in _hub(ctx).operators()]


@router.post("/v1/ouranos/admin/operators/{operator_id}/plants", status_code=201)
def admin_add_plant(operator_id: str, body: PlantIn, ctx: Ctx, _: AdminKey) -> dict[str, Any]:
    p = _hub(ctx).add_plant(
        operator_id,
        open_plant_id=body.openPlantId,
        plant_name=body.plantName,
        plant_address=body.plantAddress,
        global_plant_id=body.globalPlantId,
        plant_id=body.plantId,
    )
    return w.plant_out(p)


@router.post("/v1/ouranos/admin/operators/{operator_id}/accounts", status_code=201)
def admin_add_account(operator_id: str, body: AccountIn, ctx: Ctx, _: AdminKey) -> dict[str, str]:
    _hub(ctx).add_account(operator_id, body.operatorAccountId, body.accountPassword)
    return {"operatorId": operator_id, "operatorAccountId": body.operatorAccountId}


@router.post("/v1/ouranos/admin/api-keys", status_code=201)
def admin_issue_key(body: ApiKeyIn, ctx: Ctx, _: AdminKey) -> dict[str, str | None]:
    key_id, secret = _hub(ctx).issue_api_key(operator_id=body.operatorId, label=body.label)
    return {"keyId": key_id, "apiKey": secret, "operatorId": body.operatorId}


@router.delete("/v1/ouranos/admin/api-keys/{key_id}", status_code=204)
def admin_revoke_key(key_id: str, ctx: Ctx, _: AdminKey) -> Response:
    _hub(ctx).revoke_api_key(key_id)
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------ PACT export


def _rfc3339(raw: str | None, name: str) -> dt.datetime | None:
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{name} {raw!r} is not an RFC 3339 date-time", field=name, rule="date-time") from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _percent_share(raw: str | None) -> Decimal | None:
    if raw is None:
        return None
    try:
        value = Decimal(raw)
    except ArithmeticError as exc:
        raise InvalidInput(
            f"primaryDataShare {raw!r} is not a decimal", field="primaryDataShare", rule="percent 0–100"
        ) from exc
    if not value.is_finite():
        raise InvalidInput(f"primaryDataShare {raw!r} is not finite", field="primaryDataShare", rule="percent 0–100")
    return value / 100


class BridgeReleaseIn(BaseModel):
    partnerBpnl: str
    scopes: list[str]
    released: bool = True


def _releases_out(who: Principal, releases: list[BridgeRelease]) -> dict[str, Any]:
    return {
        "operatorId": who.operator_id,
        "releases": [
            {"partnerBpnl": r.partner_bpnl, "scope": r.scope, "releasedAt": r.released_at.isoformat()} for r in releases
        ],
    }


@router.put("/v1/ouranos/bridge/releases", tags=["ouranos"])
async def put_bridge_release(who: Operator, body: BridgeReleaseIn, ctx: Ctx) -> dict[str, Any]:
    """Extension: the calling operator's consent (``released``) or its withdrawal that the
    hub's bridge offers ``scopes`` of its data (``upstream-summary``, ``downstream-recall``,
    ``cfp``, ``certificates``, ``sites``) to one Catena-X partner, named by BPNL. Operator credentials
    (``Authorization: Bearer`` and ``apiKey``) as on the published API."""
    hub = _hub(ctx)
    out = await run_in_threadpool(
        lambda: hub.releases.put_bridge_release(who, body.partnerBpnl, body.scopes, released=body.released)
    )
    return _releases_out(who, out)


@router.get("/v1/ouranos/bridge/releases", tags=["ouranos"])
async def get_bridge_releases(request: Request, ctx: Ctx) -> dict[str, Any]:
    """Extension: what the calling operator has released to Catena-X partners."""
    hub = _hub(ctx)
    who = await _principal(request, hub)
    return _releases_out(who, await run_in_threadpool(hub.releases.bridge_releases, who))


@router.get("/v1/ouranos/operators/{operator_id}/pact/{trace_id}", tags=["ouranos"])
async def export_pact(operator_id: str, trace_id: str, request: Request, ctx: Ctx) -> JSONResponse:
    """A hosted operator's released CFP of one part as a PACT v3 ProductFootprint (extension).

    Authenticated by the hub's admin key (``X-Api-Key``) or by the operator's own credentials
    (``Authorization: Bearer`` and ``apiKey``, as on the published API). Query: the reference
    period (``referencePeriodStart``, ``referencePeriodEnd``, RFC 3339) and the operator's
    ``primaryDataShare`` (percent), which Ouranos does not carry. Errors are problem details.
    """
    hub = _hub(ctx)
    op_id = str(w.uuid_param(operator_id, "operatorId", required=True))
    tid = str(w.uuid_param(trace_id, "traceId", required=True))
    caller: Principal | None = None
    admin_key = request.headers.get("x-api-key")
    if admin_key is not None:
        if not ctx.check_admin_key(admin_key):
            raise Unauthorized("the X-Api-Key is not the hub's admin key", rule="admin key or operator credentials")
    else:
        caller = await _principal(request, hub)
    start = _rfc3339(_q(request, "referencePeriodStart"), "referencePeriodStart")
    end = _rfc3339(_q(request, "referencePeriodEnd"), "referencePeriodEnd")
    share = _percent_share(_q(request, "primaryDataShare"))
    doc = await run_in_threadpool(
        lambda: hub.export_pact(op_id, tid, caller=caller, period_start=start, period_end=end, primary_data_share=share)
    )
    return JSONResponse(doc)
