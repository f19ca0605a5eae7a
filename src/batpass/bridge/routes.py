"""``/v1/bridge/crosswalk``: the identity crosswalk over HTTP (admin key for reads and writes).

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

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from batpass.bridge.errors import EntryMalformed
from batpass.bridge.model import SLOTS, EntryKind
from batpass.bridge.service import CrosswalkService
from batpass.http import AdminKey, Ctx

router = APIRouter(prefix="/v1/bridge/crosswalk", tags=["bridge"])

_ALL_SLOTS = tuple(s for slots in SLOTS.values() for s in slots)


@router.post("", status_code=201)
async def submit_entry(request: Request, ctx: Ctx, _: AdminKey) -> JSONResponse:
    svc = ctx.service(CrosswalkService)
    raw = await request.body()
    stored = await run_in_threadpool(svc.submit, raw)
    return JSONResponse(stored.to_json(), status_code=201)


@router.get("")
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


@router.get("/lookup")
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


@router.get("/entries/{entry_id}")
def get_entry(entry_id: str, ctx: Ctx, _: AdminKey) -> dict[str, Any]:
    return ctx.service(CrosswalkService).get(entry_id).to_json()
