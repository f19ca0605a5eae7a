"""The wire side of the published API: request bodies validated against the published OpenAPI's
own component schemas (bundled as ``_data/published-openapi.yaml``), and the mapping tables
between its camelCase models and :mod:`batpass.ouranos.model`.

Used by the routes (server) and by the client, so both speak exactly the published shapes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft7Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

from batpass.core.errors import InvalidInput
from batpass.http import loads_json
from batpass.ouranos.model import (
    AmountUnit,
    Certification,
    CfpEntry,
    CfpType,
    Dqr,
    DqrType,
    Notification,
    Operator,
    Part,
    PartDraft,
    Plant,
    RequestProgress,
    RequestType,
    Trade,
    TradeRequestDraft,
)

PUBLISHED = "published-openapi.yaml"
EXTENSIONS = "ouranos-hub-extensions.yaml"


#: libyaml's safe loader where PyYAML was built with it, else PyYAML's own: the same documents
#: (tests/unit/ouranos/test_ouranos_wire_documents.py), read about 8x faster (the published
#: OpenAPI is 277 kB: 0.35 s of the hub's first request with the pure-Python loader)
SAFE_LOADER = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


@cache
def _document(name: str) -> dict[str, Any]:
    text = resources.files("batpass.ouranos").joinpath("_data", name).read_text(encoding="utf-8")
    doc: dict[str, Any] = yaml.load(text, Loader=SAFE_LOADER)
    return doc


def published_document() -> dict[str, Any]:
    """The published OpenAPI, byte-exact copy (MIT, NTT DATA Group): ``docs/openapi.yaml`` of
    ouranos-ecosystem-idi/data-transaction-system @ 7f259274955bd912b998b530aea6fe065d64f725."""
    return _document(PUBLISHED)


def extensions_document() -> dict[str, Any]:
    """The hub's own OpenAPI of its extension ``dataTarget`` values."""
    return _document(EXTENSIONS)


def _to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: ``nullable`` becomes a null alternative; bounds become
    exact decimals (99999.99999 as a float would refuse the decimal 99999.99999)."""
    if isinstance(node, list):
        return [_to_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: _to_json_schema(v) for k, v in node.items() if k not in ("example", "examples", "description", "nullable")
    }
    if out.get("format") in ("string", "double"):
        del out["format"]
    for bound in ("minimum", "maximum"):
        if isinstance(out.get(bound), float):
            out[bound] = Decimal(repr(out[bound]))
    if isinstance(out.get("$ref"), str):
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/definitions/")
    if node.get("nullable") is True:
        if "type" in out and "enum" not in out:
            out["type"] = [out["type"], "null"]
        elif "enum" in out:
            out["enum"] = [*out["enum"], None]
            if "type" in out:
                out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _definitions() -> dict[str, Any]:
    schemas = {**published_document()["components"]["schemas"], **extensions_document()["components"]["schemas"]}
    return {k: _to_json_schema(v) for k, v in schemas.items()}


@cache
def validator(model: str, *, array: bool = False) -> Draft7Validator:
    ref = {"$ref": f"#/definitions/{model}"}
    schema = {"definitions": _definitions(), **({"type": "array", "items": ref} if array else ref)}
    return Draft7Validator(schema, format_checker=FormatChecker())


def parse_body(raw: bytes, model: str, *, array: bool = False) -> Any:
    """Parse a JSON body (decimals exact) and validate it against a published model."""
    if not raw:
        raise InvalidInput(
            "Validation failed, request body: cannot be blank.", field="body", rule="a JSON body is required"
        )
    try:
        data = loads_json(raw, parse_float=Decimal, field="body")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Validation failed, invalid JSON: {exc}", field="body", rule="application/json") from exc
    check(data, model, array=array)
    return data


def check(data: Any, model: str, *, array: bool = False) -> None:
    err = best_match(validator(model, array=array).iter_errors(data))
    if err is not None:
        path = ".".join(str(p) for p in err.absolute_path) or "body"
        raise InvalidInput(
            f"Validation failed, {path}: {err.message}",
            field=path,
            rule=f"OpenAPI {model}: {err.validator} {err.validator_value!r}"[:300],
        )


def to_json(value: Any) -> Any:
    """Decimals as JSON numbers (their shortest float has the same 5 decimals)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def uuid_param(value: str | None, name: str, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise InvalidInput(f"Invalid request parameters, {name}: cannot be blank.", field=name, rule="required")
        return None
    try:
        return str(uuid.UUID(value)) if len(value) == 36 else _bad_uuid(value, name)
    except ValueError as exc:
        raise InvalidInput(
            f"Invalid request parameters, {name}: must be a valid UUID.", field=name, rule="format uuid"
        ) from exc


def _bad_uuid(value: str, name: str) -> str:
    raise InvalidInput(
        f"Invalid request parameters, {name}: must be a valid UUID.", field=name, rule="format uuid", value=value
    )


def uuid_list(value: str | None, name: str, *, maximum: int, required: bool = False) -> list[str]:
    if value is None or value == "":
        if required:
            raise InvalidInput(f"Invalid request parameters, {name}: cannot be blank.", field=name, rule="required")
        return []
    items = value.split(",")
    if len(items) > maximum:
        raise InvalidInput(
            f"Invalid request parameters, {name}: at most {maximum} ids.", field=name, rule=f"at most {maximum}"
        )
    return [str(uuid_param(i, name, required=True)) for i in items]


def limit_param(value: str | None, maximum: int = 100) -> int:
    if value is None or value == "":
        return maximum
    try:
        n = int(value)
    except ValueError as exc:
        raise InvalidInput(
            "Invalid request parameters, limit: must be an integer.", field="limit", rule="integer"
        ) from exc
    if not 1 <= n <= maximum:
        raise InvalidInput(
            f"Invalid request parameters, limit: must be 1 to {maximum}.", field="limit", rule=f"1..{maximum}"
        )
    return n


def bool_param(value: str | None, name: str) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidInput(f"Invalid request parameters, {name}: must be true or false.", field=name, rule="boolean")


# -- mapping tables ------------------------------------------------------------------------------


def operator_out(op: Operator) -> dict[str, Any]:
    return {
        "operatorId": op.operator_id,
        "operatorName": op.operator_name,
        "operatorAddress": op.operator_address,
        "openOperatorId": op.open_operator_id,
        "operatorAttribute": {"globalOperatorId": op.global_operator_id},
    }


def operator_in(d: dict[str, Any]) -> Operator:
    attr = d.get("operatorAttribute") or {}
    return Operator(
        d["operatorId"], d["openOperatorId"], d["operatorName"], d["operatorAddress"], attr.get("globalOperatorId"), ""
    )


def plant_out(p: Plant) -> dict[str, Any]:
    return {
        "plantId": p.plant_id,
        "operatorId": p.operator_id,
        "plantName": p.plant_name,
        "plantAddress": p.plant_address,
        "openPlantId": p.open_plant_id,
        "plantAttribute": {"globalPlantId": p.global_plant_id},
    }


def plant_in(d: dict[str, Any]) -> Plant:
    attr = d.get("plantAttribute") or {}
    return Plant(
        d.get("plantId") or "",
        d["operatorId"],
        d["openPlantId"],
        d["plantName"],
        d["plantAddress"],
        attr.get("globalPlantId"),
    )


def part_out(p: Part) -> dict[str, Any]:
    return {
        "traceId": p.trace_id,
        "operatorId": p.operator_id,
        "plantId": p.plant_id,
        "partsName": p.parts_name,
        "supportPartsName": p.support_parts_name,
        "terminatedFlag": p.terminated_flag,
        "amountRequired": p.amount_required,
        "amountRequiredUnit": None if p.amount_required_unit is None else str(p.amount_required_unit),
        "partsLabelName": p.parts_label_name,
        "partsAddInfo1": p.parts_add_info1,
        "partsAddInfo2": p.parts_add_info2,
        "partsAddInfo3": p.parts_add_info3,
    }


def part_in(d: dict[str, Any]) -> PartDraft:
    unit = d.get("amountRequiredUnit")
    amount = d.get("amountRequired")
    return PartDraft(
        trace_id=d.get("traceId"),
        operator_id=d["operatorId"],
        plant_id=d["plantId"],
        parts_name=d["partsName"],
        support_parts_name=d.get("supportPartsName"),
        terminated_flag=bool(d["terminatedFlag"]),
        amount_required_unit=None if unit is None else AmountUnit(unit),
        parts_label_name=d.get("partsLabelName"),
        parts_add_info1=d.get("partsAddInfo1"),
        parts_add_info2=d.get("partsAddInfo2"),
        parts_add_info3=d.get("partsAddInfo3"),
        amount_required=None if amount is None else Decimal(str(amount)),
    )


def trade_out(t: Trade) -> dict[str, Any]:
    return {
        "tradeId": t.trade_id,
        "downstreamOperatorId": t.downstream_operator_id,
        "upstreamOperatorId": t.upstream_operator_id,
        "downstreamTraceId": t.downstream_trace_id,
        "upstreamTraceId": t.upstream_trace_id,
    }


def _ts(v: dt.datetime | None) -> str | None:
    return None if v is None else v.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def status_out(t: Trade, progress: RequestProgress | None, *, created: bool = False) -> dict[str, Any]:
    """``StatusModel``; ``created``: as ``PUT tradeRequest`` answers it (its published example
    gives ``requestStatus`` only the four counts, all null — nothing is known of the tree yet)."""
    rs: dict[str, Any] = {
        "cfpResponseStatus": str(t.status),
        "tradeTreeStatus": None,
        "completedCount": None,
        "completedCountModifiedAt": None,
        "tradesCount": None,
        "tradesCountModifiedAt": None,
    }
    if progress is not None:
        rs.update(
            tradeTreeStatus=str(progress.trade_tree_status),
            completedCount=progress.completed_count,
            completedCountModifiedAt=_ts(progress.completed_count_modified_at),
            tradesCount=progress.trades_count,
            tradesCountModifiedAt=_ts(progress.trades_count_modified_at),
        )
    else:
        del rs["tradeTreeStatus"]
    if created:
        del rs["cfpResponseStatus"]
    return {
        "statusId": t.status_id,
        "tradeId": t.trade_id,
        "requestStatus": rs,
        "message": t.message,
        "replyMessage": t.reply_message,
        "requestType": str(t.request_type),
        "responseDueDate": None if t.response_due_date is None else t.response_due_date.isoformat(),
    }


def trade_request_in(d: dict[str, Any]) -> TradeRequestDraft:
    tm, sm = d["tradeModel"], d["statusModel"]
    due = sm.get("responseDueDate")
    return TradeRequestDraft(
        trade_id=tm.get("tradeId"),
        downstream_operator_id=tm["downstreamOperatorId"],
        upstream_operator_id=tm["upstreamOperatorId"],
        downstream_trace_id=tm["downstreamTraceId"],
        message=sm.get("message"),
        response_due_date=None if due is None else dt.date.fromisoformat(due),
        request_type=RequestType(sm["requestType"]),
    )


def _dqr_out(d: Dqr) -> dict[str, Any]:
    return {"TeR": d.ter, "GeR": d.ger, "TiR": d.tir}


def cfp_out(e: CfpEntry) -> dict[str, Any]:
    return {
        "cfpId": e.cfp_id,
        "traceId": e.trace_id,
        "ghgEmission": e.ghg_emission,
        "ghgDeclaredUnit": e.ghg_declared_unit,
        "cfpType": str(e.cfp_type),
        "dqrType": str(e.dqr_type),
        "dqrValue": _dqr_out(e.dqr),
    }


def _dec(v: Any) -> Decimal | None:
    return None if v is None else Decimal(str(v))


def cfp_in(d: dict[str, Any]) -> CfpEntry:
    q = d["dqrValue"]
    return CfpEntry(
        cfp_id=d.get("cfpId"),
        trace_id=d["traceId"],
        ghg_emission=_dec(d.get("ghgEmission")),
        ghg_declared_unit=d["ghgDeclaredUnit"],
        cfp_type=CfpType(d["cfpType"]),
        dqr_type=DqrType(d["dqrType"]),
        dqr=Dqr(_dec(q.get("TeR")), _dec(q.get("GeR")), _dec(q.get("TiR"))),
    )


def certification_out(c: Certification) -> dict[str, Any]:
    return {
        "cfpCertificationId": c.cfp_certification_id,
        "traceId": c.trace_id,
        "cfpCertificationDescription": None if c.withheld else c.description,
        "cfpCertificationFileInfo": None
        if c.withheld
        else [{"operatorId": f.operator_id, "fileId": f.file_id, "fileName": f.file_name} for f in c.files],
    }


def notification_out(n: Notification) -> dict[str, Any]:
    return {
        "notificationId": n.notification_id,
        "notificationType": str(n.notification_type),
        "notifiedAt": _ts(n.notified_at),
        "tradeRelation": {
            "tradeId": n.trade_id,
            "downstreamOperatorId": n.downstream_operator_id,
            "upstreamOperatorId": n.upstream_operator_id,
            "downstreamTraceId": n.downstream_trace_id,
            "upstreamTraceId": n.upstream_trace_id,
        },
    }
