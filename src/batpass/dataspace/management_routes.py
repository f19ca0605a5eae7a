"""HTTP routes of the EDC management API v3 facade under ``/management/v3`` (the node's admin key
in ``X-Api-Key``, as EDC's management API takes it).

Thin: each route reads the JSON-LD body, calls :class:`~batpass.dataspace._management.EdcManagement`
and answers in EDC's shapes (``IdResponse`` on creation, ``204`` on update and delete, arrays on
``/request`` queries). Errors answer in EDC's error array ``[{message, type, path, invalidValue}]``
through :data:`ERROR_SHAPES`. Sources: Eclipse EDC management API v3; Tractus-X EDC ``/v3/edrs``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.responses import Response as StarletteResponse

from batpass.core.errors import BatpassError, InvalidInput
from batpass.dataspace._management import EdcManagement
from batpass.http import Ctx, loads_json, require_admin

__all__ = ["ERROR_SHAPES", "MANAGEMENT_PATH", "router"]

MANAGEMENT_PATH = "/management"
_V3 = MANAGEMENT_PATH + "/v3"

router = APIRouter(tags=["management"], dependencies=[Depends(require_admin)])


async def _json(request: Request, *, optional: bool = False) -> Any:
    raw = await request.body()
    if not raw.strip() and optional:
        return {}
    try:
        return loads_json(raw)
    except ValueError as exc:
        raise InvalidInput("the body is not JSON", field="(body)", rule="EDC management API: application/json") from exc


def _mgmt(ctx: Ctx) -> EdcManagement:
    return ctx.service(EdcManagement)


Mgmt = Annotated[EdcManagement, Depends(_mgmt)]


def _no_content() -> Response:
    return Response(status_code=204)


# -- assets -------------------------------------------------------------------------------------


@router.post(_V3 + "/assets")
async def asset_create(request: Request, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(mgmt.create_asset(await _json(request)))


@router.put(_V3 + "/assets", status_code=204, response_class=Response)
async def asset_update(request: Request, mgmt: Mgmt) -> Response:
    mgmt.update_asset(await _json(request))
    return _no_content()


@router.post(_V3 + "/assets/request")
async def asset_query(request: Request, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(mgmt.query_assets(await _json(request, optional=True)))


@router.get(_V3 + "/assets/{asset_id:path}")
async def asset_get(asset_id: str, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(mgmt.get_asset(asset_id))


@router.put(_V3 + "/assets/{asset_id:path}", status_code=204, response_class=Response)
async def asset_put(asset_id: str, request: Request, mgmt: Mgmt) -> Response:
    mgmt.update_asset(await _json(request), asset_id)
    return _no_content()


@router.delete(_V3 + "/assets/{asset_id:path}", status_code=204, response_class=Response)
async def asset_delete(asset_id: str, mgmt: Mgmt) -> Response:
    mgmt.delete_asset(asset_id)
    return _no_content()


# -- policy definitions -------------------------------------------------------------------------


@router.post(_V3 + "/policydefinitions")
async def policy_create(request: Request, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(mgmt.create_policy(await _json(request)))


@router.post(_V3 + "/policydefinitions/request")
async def policy_query(request: Request, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(mgmt.query_policies(await _json(request, optional=True)))


@router.get(_V3 + "/policydefinitions/{policy_id:path}")
async def policy_get(policy_id: str, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(mgmt.get_policy(policy_id))


@router.put(_V3 + "/policydefinitions/{policy_id:path}", status_code=204, response_class=Response)
async def policy_put(policy_id: str, request: Request, mgmt: Mgmt) -> Response:
    mgmt.update_policy(policy_id, await _json(request))
    return _no_content()


@router.delete(_V3 + "/policydefinitions/{policy_id:path}", status_code=204, response_class=Response)
async def policy_delete(policy_id: str, mgmt: Mgmt) -> Response:
    mgmt.delete_policy(policy_id)
    return _no_content()


# -- contract definitions -----------------------------------------------------------------------


@router.post(_V3 + "/contractdefinitions")
async def definition_create(request: Request, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(mgmt.create_contract_definition(await _json(request)))


@router.put(_V3 + "/contractdefinitions", status_code=204, response_class=Response)
async def definition_update(request: Request, mgmt: Mgmt) -> Response:
    mgmt.update_contract_definition(await _json(request))
    return _no_content()


@router.post(_V3 + "/contractdefinitions/request")
async def definition_query(request: Request, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(mgmt.query_contract_definitions(await _json(request, optional=True)))


@router.get(_V3 + "/contractdefinitions/{definition_id:path}")
async def definition_get(definition_id: str, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(mgmt.get_contract_definition(definition_id))


@router.put(_V3 + "/contractdefinitions/{definition_id:path}", status_code=204, response_class=Response)
async def definition_put(definition_id: str, request: Request, mgmt: Mgmt) -> Response:
    mgmt.update_contract_definition(await _json(request), definition_id)
    return _no_content()


@router.delete(_V3 + "/contractdefinitions/{definition_id:path}", status_code=204, response_class=Response)
async def definition_delete(definition_id: str, mgmt: Mgmt) -> Response:
    mgmt.delete_contract_definition(definition_id)
    return _no_content()


# -- catalog ------------------------------------------------------------------------------------


@router.post(_V3 + "/catalog/request")
async def catalog_request(request: Request, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(await mgmt.catalog(await _json(request)))


# -- contract negotiations ----------------------------------------------------------------------


@router.post(_V3 + "/contractnegotiations")
async def negotiation_start(request: Request, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(await mgmt.start_negotiation(await _json(request)))


@router.post(_V3 + "/contractnegotiations/request")
async def negotiation_query(request: Request, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(mgmt.query_negotiations(await _json(request, optional=True)))


@router.get(_V3 + "/contractnegotiations/{pid}/state")
async def negotiation_state(pid: str, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(mgmt.negotiation_state(pid))


@router.get(_V3 + "/contractnegotiations/{pid}/agreement")
async def negotiation_agreement(pid: str, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(mgmt.negotiation_agreement(pid))


@router.get(_V3 + "/contractnegotiations/{pid}")
async def negotiation_get(pid: str, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(mgmt.get_negotiation(pid))


# -- transfer processes -------------------------------------------------------------------------


@router.post(_V3 + "/transferprocesses")
async def transfer_start(request: Request, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(await mgmt.start_transfer(await _json(request)))


@router.post(_V3 + "/transferprocesses/request")
async def transfer_query(request: Request, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(mgmt.query_transfers(await _json(request, optional=True)))


@router.get(_V3 + "/transferprocesses/{pid}/state")
async def transfer_state(pid: str, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(mgmt.transfer_state(pid))


@router.get(_V3 + "/transferprocesses/{pid}")
async def transfer_get(pid: str, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(mgmt.get_transfer(pid))


@router.post(_V3 + "/transferprocesses/{pid}/{action}", status_code=204, response_class=Response)
async def transfer_action(pid: str, action: str, request: Request, mgmt: Mgmt) -> Response:
    if action not in ("terminate", "suspend", "resume"):
        raise InvalidInput(f"unknown transfer action '{action}'", field="path", rule="EDC /v3/transferprocesses")
    mgmt.transfer_action(pid, action, await _json(request, optional=True))
    return _no_content()


# -- EDRs (Tractus-X) ---------------------------------------------------------------------------


@router.post(_V3 + "/edrs")
async def edr_start(request: Request, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(await mgmt.start_edr(await _json(request)))


@router.post(_V3 + "/edrs/request")
async def edr_query(request: Request, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(await mgmt.query_edrs(await _json(request, optional=True)))


@router.get(_V3 + "/edrs/{pid}/dataaddress")
async def edr_address(pid: str, mgmt: Mgmt, auto_refresh: Annotated[bool, Query()] = True) -> JSONResponse:
    return JSONResponse(await mgmt.edr_data_address(pid, auto_refresh=auto_refresh))


@router.post(_V3 + "/edrs/{pid}/refresh")
async def edr_refresh(pid: str, mgmt: Mgmt) -> JSONResponse:
    return JSONResponse(await mgmt.refresh_edr(pid))


# -- error shape --------------------------------------------------------------------------------

#: HTTP status → EDC ``ApiErrorDetail.type``
_ERROR_TYPES = {
    400: "InvalidRequest",
    401: "AuthenticationFailed",
    403: "NotAuthorized",
    404: "ObjectNotFound",
    409: "ObjectConflict",
}


def _edc_error(err: BatpassError) -> StarletteResponse:
    status = 400 if err.status == 422 else err.status
    value = getattr(err, "value", None)
    body = [
        {
            "message": err.message,
            "type": _ERROR_TYPES.get(status, "ServiceUnavailable" if status >= 500 else "InvalidRequest"),
            "path": getattr(err, "field", None),
            "invalidValue": value if isinstance(value, str | int | float | bool) else None,
        }
    ]
    return JSONResponse(body, status_code=status)


#: path prefix → builder of EDC's error response
ERROR_SHAPES: dict[str, Callable[[BatpassError], StarletteResponse]] = {MANAGEMENT_PATH + "/": _edc_error}
