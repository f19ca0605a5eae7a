"""HTTP routes of the material ledger under ``/v1/ledger`` (docs/architecture.md "URL layout").

Every route acts on one owner's partition: the node's own DID unless ``owner`` names another
partition this node keeps (the Ouranos hub). The routes need the admin key: lots, traces and
outflows are the node's own bill of materials; the signed upstream summary is what customers
get, and stays behind the admin key until the connector serves it under a contract. One route
also takes a partner: a supplier pushes its signed summary (``POST /v1/ledger/summaries``) with
its DCP self-issued token, and the summary must be signed by the token's DID.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from batpass.core.errors import InvalidInput, Unauthorized
from batpass.core.summary import encode_summary
from batpass.http import (
    AdminKey,
    Ctx,
    Items,
    MassKg,
    RequestModel,
    Token,
    guard,
    loads_json,
    problem_body,
)
from batpass.ledger._reconcile import Reconciliation
from batpass.ledger._wire import decode_event_stream, openapi_request_body
from batpass.ledger.errors import DoubleClaim
from batpass.ledger.model import Lot
from batpass.ledger.ports import SummaryPushers
from batpass.ledger.service import LedgerService
from batpass.trust import TrustService

__all__ = ["AuthorisationIn", "ClaimIn", "lot_json", "parse_event_stream", "router"]

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])

OwnerQuery = Annotated[str | None, Query(description="owner partition (default: this node's DID)")]


def parse_event_stream(raw: bytes) -> list[Any]:
    """A request body of events: a JSON array, or JSON Lines (one event object per line,
    blank lines ignored). Errors name the line (``line N``) and the rule."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("events body is not UTF-8", field="body", rule="RFC 8259 §8.1") from exc
    stripped = text.lstrip()
    if not stripped:
        raise InvalidInput("events body is empty", field="body", rule="a JSON array or JSON Lines of events")
    if stripped.startswith("["):
        try:
            data = loads_json(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"events body is not JSON: {exc.msg} at line {exc.lineno}", field="body", rule="RFC 8259"
            ) from exc
        if not isinstance(data, list):
            raise InvalidInput("events body must be a JSON array", field="body", rule="docs/ledger-events.md")
        return data
    out: list[Any] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(loads_json(line, field=f"line {n}"))
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"line {n}: not JSON ({exc.msg})", field=f"line {n}", rule="JSON Lines: one JSON value per line"
            ) from exc
    return out


def _owner(ctx: Ctx, owner: str | None) -> str:
    return owner or ctx.service(LedgerService).identity.did


def lot_json(lot: Lot) -> dict[str, Any]:
    """A lot's wire form (its precomputed profile is left out: see the summary route)."""
    return {
        "owner": lot.owner,
        "id": str(lot.id),
        "material": lot.material,
        "unit": lot.unit.value,
        "quantity": lot.quantity,
        "mass_kg": lot.mass_kg,
        "remaining_kg": lot.remaining_kg,
        "mass_per_piece_kg": lot.mass_per_piece_kg,
        "site": lot.site,
        "country": lot.country,
        "custody": lot.custody.value,
        "recycled": lot.recycled.value if lot.recycled else None,
        "composition": {el.value: f for el, f in sorted(lot.composition.items())},
        "produced_at": lot.produced_at.isoformat(),
        "event": str(lot.event_id),
        "kind": lot.kind.value,
        "status": lot.status,
        "battery": lot.battery.id if lot.battery else None,
        "held": lot.held,
        "voided": lot.voided,
    }


@router.post("/events", openapi_extra={"requestBody": openapi_request_body()})
async def record_events(request: Request, ctx: Ctx, _: AdminKey) -> dict[str, Any]:
    """Record events (JSON array or JSON Lines), all or nothing; answers the RecordResult."""
    raw = await request.body()
    svc = ctx.service(LedgerService)
    # decoded from the bytes by msgspec's strict structs; a body they refuse goes the strict way
    # (parsed as JSON, each event by the strict parser), whose refusal names the field and rule
    events: list[Any] | None = decode_event_stream(raw, svc.catalogue)
    if events is None:
        events = parse_event_stream(raw)
    res = await run_in_threadpool(svc.record, events)
    return dataclasses.asdict(res)


@router.get("/lots/{lot_id}")
def get_lot(lot_id: str, ctx: Ctx, _: AdminKey, owner: OwnerQuery = None) -> dict[str, Any]:
    return lot_json(ctx.service(LedgerService).lot(_owner(ctx, owner), lot_id))


@router.get("/trace/{subject:path}")
def trace(
    subject: str,
    ctx: Ctx,
    _: AdminKey,
    direction: Literal["up", "down"] = "up",
    owner: OwnerQuery = None,
) -> dict[str, Any]:
    """Local trace from a lot or battery (GS1 Digital Link URI), upstream or downstream."""
    return ctx.service(LedgerService).trace(_owner(ctx, owner), subject, direction=direction)


@router.get(
    "/summaries/{subject:path}",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "the upstream summary as a compact JWS (RFC 7515)",
            "content": {"application/jose": {"schema": {"type": "string"}}},
        }
    },
)
def signed_summary(subject: str, ctx: Ctx, _: AdminKey, owner: OwnerQuery = None) -> PlainTextResponse:
    """The signed upstream summary (compact JWS, docs/contracts.md) of a lot or battery."""
    token = ctx.service(LedgerService).signed_summary(_owner(ctx, owner), subject)
    return PlainTextResponse(token, media_type="application/jose")


_PUSH_RULE = 'a pushed summary comes with the pusher\'s DCP self-issued token (docs/architecture.md "URL layout")'


@guard
async def _pusher(request: Request, ctx: Ctx) -> str | None:
    """Who pushes a summary: None for this node's operator (the admin key), else the verified DID
    of a federation member's self-issued token (``Authorization: Bearer``, single use)."""
    if ctx.check_admin_key(request.headers.get("x-api-key")):
        return None
    auth = request.headers.get("authorization")
    if not auth:
        raise Unauthorized(
            "pushing a summary needs 'Authorization: Bearer <self-issued token>' or the node's admin key in X-Api-Key",
            rule=_PUSH_RULE,
        )
    pushers: SummaryPushers | None = ctx.services.get(SummaryPushers)
    if pushers is None:
        raise Unauthorized("this node verifies no self-issued tokens; use the admin key", rule=_PUSH_RULE)
    return await pushers.pusher_did(auth)


#: who pushes a summary (None: this node's operator, by the admin key)
Pusher = Annotated[str | None, Depends(_pusher)]


_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@router.post(
    "/summaries",
    responses={
        401: {
            "description": "no admin key and no verifying self-issued token of a member (a replayed token too), "
            "or the signer's key does not resolve or does not verify the summary",
            "content": _PROBLEM,
        },
        403: {
            "description": "the summary is not signed by the token's DID (ledger.summary.pusher)",
            "content": _PROBLEM,
        },
    },
)
async def receive_summary(request: Request, ctx: Ctx, pusher: Pusher, owner: OwnerQuery = None) -> dict[str, Any]:
    """Receive a supplier's signed summary (the compact JWS as the body, or ``{"jws": ...}``),
    pushed by the supplier itself with its DCP self-issued token (the summary's signer must be the
    token's DID, else 403) or by this node's operator with the admin key."""
    raw = (await request.body()).decode("utf-8", errors="replace").strip()
    token = raw
    if raw.startswith("{"):
        try:
            token = loads_json(raw).get("jws", "")
        except (json.JSONDecodeError, AttributeError) as exc:
            raise InvalidInput("summary body is not JSON", field="body", rule="RFC 8259") from exc
    if not isinstance(token, str) or not token:
        raise InvalidInput("no signed summary in the body", field="jws", rule="upstream summary 1.0: a compact JWS")
    receive = ctx.service(LedgerService).receive_summary
    # resolving the signer's DID document may fetch it over HTTPS: off the event loop
    summary = await run_in_threadpool(receive, _owner(ctx, owner), token, pusher=pusher)
    return encode_summary(summary)


@router.get("/verify")
def verify(ctx: Ctx, _: AdminKey, owner: OwnerQuery = None) -> dict[str, Any]:
    """Check every hash link and batch signature (all partitions unless ``owner`` is given)."""
    rep = ctx.service(LedgerService).verify(owner)
    return {
        "ok": rep.ok,
        "owners": rep.owners,
        "events": rep.events,
        "batches": rep.batches,
        "problems": [dataclasses.asdict(p) for p in rep.problems],
    }


@router.get("/outflows")
def outflows(ctx: Ctx, _: AdminKey, owner: OwnerQuery = None) -> list[dict[str, Any]]:
    return ctx.service(LedgerService).outflows(owner)


@router.get("/recycling-efficiency")
def recycling_efficiency(
    ctx: Ctx,
    _: AdminKey,
    recycler: Annotated[str | None, Query(description="the recycler's owner partition (default: this node)")] = None,
    start: Annotated[str | None, Query(alias="from", description="RFC 3339 timestamp or date (inclusive)")] = None,
    end: Annotated[str | None, Query(alias="to", description="RFC 3339 timestamp or date (exclusive)")] = None,
) -> dict[str, Any]:
    """Recycling efficiency and material recovery of a recycler over a period, computed from its
    ledger and compared with Annex XII's dated targets: a simplified estimate, never a pass
    (docs/recycling.md)."""
    return ctx.service(LedgerService).recycling_efficiency(_owner(ctx, recycler), start, end)


@router.get("/reconciliation")
def reconciliation(ctx: Ctx, _: AdminKey, owner: OwnerQuery = None) -> dict[str, Any]:
    """Each shipment to another owner (or from one, or reported to this node as the authority)
    with its outcome: ``pending`` (not yet due), ``ok``, ``short``, ``diverted`` or ``missing``,
    judged at the owner's latest ledger event (docs/outflows.md "Reconciliation across nodes")."""
    return ctx.service(Reconciliation).outcomes(_owner(ctx, owner))


@router.post("/reconciliation")
def reconcile(ctx: Ctx, _: AdminKey, owner: OwnerQuery = None) -> dict[str, Any]:
    """Reconcile now: notices of new shipments to their receivers' nodes, verdicts on receipts
    recorded since, ``missing`` where a window has passed; answers what changed and the outcomes."""
    svc = ctx.service(Reconciliation)
    changed = svc.run(owner)
    return {"changed": changed, **svc.outcomes(_owner(ctx, owner))}


class AuthorisationIn(RequestModel):
    """An export authorisation of a strategic material (docs/ledger-events.md, "Export
    authorisations"): shipments of ``material`` by ``holder`` to ``destinations`` up to
    ``cap_kg`` within the validity are not outflows."""

    id: str = Field(min_length=1, max_length=128, description="the authorisation's id (unique per owner)")
    holder: Token = Field(description="who holds the authorisation (a DID)")
    material: str = Field(min_length=1, max_length=64, description="a ledger material (batpass.ledger.MATERIALS)")
    destinations: Items[Annotated[str, Field(min_length=2, max_length=3)]] = Field(
        min_length=1, description="ISO 3166-1 alpha-2 codes or regions (EU, EEA)"
    )
    cap_kg: MassKg = Field(description="the mass the authorisation allows, in kg (> 0, finite)")
    valid_from: Token = Field(description="RFC 3339 timestamp with zone")
    valid_to: Token = Field(description="RFC 3339 timestamp with zone, after valid_from")


@router.post("/authorisations", status_code=201)
def authorise_export(ctx: Ctx, _: AdminKey, body: AuthorisationIn, owner: OwnerQuery = None) -> dict[str, Any]:
    """Record an export authorisation (holder, material, destinations, cap, validity)."""
    return ctx.service(LedgerService).authorise_export(_owner(ctx, owner), body.wire())


class AuthorisationCredentialIn(RequestModel):
    """An authority's ``ExportAuthorisationCredential`` issued to this shipper (docs/outflows.md,
    "Authorisations as credentials")."""

    credential: str = Field(min_length=1, max_length=65536, description="the credential (vc+jwt or dc+sd-jwt)")


@router.post("/authorisations/credentials", status_code=201)
async def hold_authorisation(
    ctx: Ctx, _: AdminKey, body: AuthorisationCredentialIn, owner: OwnerQuery = None
) -> dict[str, Any]:
    """Keep an export authorisation issued as a credential: verified (signature, status,
    validity) and accepted only from an issuer a trust list names for
    ``ExportAuthorisationCredential``; 400 naming ``credential`` and the rule otherwise."""
    trust = ctx.service(TrustService)
    return await ctx.service(LedgerService).hold_authorisation(_owner(ctx, owner), body.credential, trust.verify)


@router.get("/authorisations")
def authorisations(ctx: Ctx, _: AdminKey, owner: OwnerQuery = None) -> list[dict[str, Any]]:
    """The export authorisations held, each with its kind (``self_declared`` or ``credential``,
    with its issuer) and the mass it has covered so far."""
    return ctx.service(LedgerService).authorisations(_owner(ctx, owner))


@router.get("/double-claims")
def double_claims(ctx: Ctx, _: AdminKey, owner: OwnerQuery = None) -> list[dict[str, Any]]:
    return ctx.service(LedgerService).double_claims(_owner(ctx, owner))


class ClaimIn(RequestModel):
    """A claim of recycled content against a recovered lot's credit account (Art. 8; docs/architecture.md
    "Flows", flow 6): ``kg`` of ``element`` from ``lot``, claimed by ``claimant`` for
    ``subject`` (a battery or lot). The account is kept by the partition owning ``lot``."""

    id: str = Field(min_length=1, max_length=128, description="the claim's id (idempotency key)")
    lot: str = Field(min_length=1, max_length=128, description="recovered lot whose credit account is debited")
    element: str = Field(min_length=1, max_length=16, description="Co, Li, Ni or Pb")
    kg: MassKg = Field(description="recycled element mass claimed, in kg (> 0, finite)")
    claimant: str = Field(min_length=1, max_length=512, description="who claims (a DID)")
    subject: str = Field(min_length=1, max_length=512, description="what the claim is for (a battery id or lot)")
    custody: str = Field(
        default="mass_balance", max_length=64, description="ISO 22095 chain-of-custody model of the claim"
    )


@router.post("/claims", status_code=201)
def claim_recycled(ctx: Ctx, _: AdminKey, body: ClaimIn, owner: OwnerQuery = None) -> JSONResponse:
    """Debit a recovered lot's credit account. Answers 201 with the claim (``status: accepted``),
    or 409 problem details (``double-claim``) whose ``claim`` member holds the claim with
    ``status: double_claim`` and the claims that already debited the account; the claim is kept
    and ``GET /v1/ledger/double-claims`` lists it. A replayed claim id answers the stored claim."""
    res = ctx.service(LedgerService).claim_recycled(
        _owner(ctx, owner),
        claim_id=body.id,
        lot=body.lot,
        element=body.element,
        kg=body.kg,
        claimant=body.claimant,
        subject=body.subject,
        custody=body.custody,
    )
    if res["status"] != "double_claim":
        return JSONResponse(res, status_code=201)
    err = DoubleClaim(
        f"claim {body.id}: {body.kg} kg {res['element']} from lot {body.lot}, but the account credits "
        f"{res['credited_kg']} kg of which {res['debited_kg']} kg are already claimed",
        rule="Art. 8 (EU) 2023/1542: recycled mass is credited once; ledger.credit.double-claim",
    )
    problem = problem_body(err, instance=f"/v1/ledger/claims/{body.id}")
    problem["claim"] = res
    return JSONResponse(problem, status_code=err.status, media_type="application/problem+json")


@router.get("/recycled-content")
def recycled_content(
    ctx: Ctx,
    _: AdminKey,
    owner: OwnerQuery = None,
    battery: Annotated[
        str | None, Query(description="a battery (GS1 Digital Link URI or lot): its model, year and plant")
    ] = None,
    model: str | None = None,
    year: int | None = None,
    plant: str | None = None,
) -> list[dict[str, Any]]:
    """Art. 8 recycled content on the regulation's basis, per battery model and batch
    (production year) per plant (``basis`` ``art8_model_batch_plant``; pre- and post-consumer
    apart, per element, ``null`` where unknown with ``unknown_mass_share`` beside, with the claims
    against it). ``battery`` selects the group that battery belongs to; ``model``/``year``/``plant``
    filter further."""
    svc = ctx.service(LedgerService)
    who = _owner(ctx, owner)
    if battery is not None:
        group = svc.recycled_content_of(who, battery)
        if group is None or any(
            want and want != got
            for want, got in ((model, group["model"]), (year, group["year"]), (plant, group["plant"]))
        ):
            return []
        return [group]
    return svc.recycled_content(who, model=model, year=year, plant=plant)
