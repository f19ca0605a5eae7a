"""Reconciliation messages across the bridge (docs/outflows.md "Reconciliation across nodes",
"Over the connector"): a hub operator has no connector of its own; the bridge's connector is its
``DataService`` (``participantId`` = the bridge), so messages to and from hub operators cross the
bridge, still signed by the sending owner's key end to end (the bridge never signs one).

- **Europe → Japan.** A Catena-X node posts a message for a hub operator to the bridge's
  ``batpass-reconciliation-inbox`` (negotiated under its policy like any partner's); the bridge
  keeps no ledger for that operator and hands the message to its hub (:func:`hub_relay`: ``POST
  /v1/ouranos/bridge/reconciliation`` with a DCP self-issued token of the bridge addressed to
  the hub), which verifies and applies it (:func:`hub_reconciliation`).
- **Japan → Europe.** The hub's outbox hands a message of one of its operators to the bridge
  (:class:`BridgeCourier`: ``POST /v1/bridge/reconciliation`` with a self-issued token of the hub
  addressed to the bridge); the bridge accepts it only from its configured hub and sends it
  through its own connector to the addressee's inbox (:func:`bridge_reconciliation`), answering
  the addressee's status and answer, so the hub's outbox retries or gives up as for any message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from batpass.bridge._link import HubFederation, HubLink
from batpass.core.errors import Forbidden, Unauthorized
from batpass.dataspace import DataPlaneReply
from batpass.exchange import ReconciliationCourier, ReconciliationInbox
from batpass.http import Ctx, guard
from batpass.trust import DidResolver, NodeIdentity, TrustService, issue_self_issued_token, verify_self_issued_token

__all__ = ["BridgeCourier", "bridge_reconciliation_router", "hub_reconciliation_router", "hub_relay"]

HUB_PATH = "/v1/ouranos/bridge/reconciliation"
BRIDGE_PATH = "/v1/bridge/reconciliation"
_TIMEOUT = httpx.Timeout(60.0)

bridge_reconciliation_router = APIRouter(tags=["bridge"])
hub_reconciliation_router = APIRouter(tags=["bridge"])


class _MessageIn(BaseModel):
    jws: str = Field(min_length=1, max_length=16384)


def _reply(resp: httpx.Response) -> DataPlaneReply:
    try:
        content: Any = resp.json()
    except ValueError:
        content = {"detail": resp.text[:500]}
    return DataPlaneReply(resp.status_code, content)


def hub_relay(link: HubLink) -> Callable[[str], Awaitable[DataPlaneReply]]:
    """The bridge inbox's relay: a message for a hub operator, handed to the hub."""

    async def relay(jws: str) -> DataPlaneReply:
        return _reply(await link.post(HUB_PATH, {"jws": jws}))

    return relay


class BridgeCourier:
    """The hub's sender of reconciliation messages (outbox kind ``ledger.reconciliation``): each
    goes to the hub's bridge, which sends it through its connector."""

    def __init__(self, *, identity: NodeIdentity, client: httpx.AsyncClient, bridge_url: str, bridge_did: str) -> None:
        self.identity = identity
        self.client = client
        self.url = bridge_url.rstrip("/") + BRIDGE_PATH
        self.bridge_did = bridge_did

    async def send(self, row: dict[str, Any]) -> httpx.Response:
        token = issue_self_issued_token(self.identity, audience=self.bridge_did, bpn=None)
        return await self.client.post(
            self.url, json=row["body"], headers={"Authorization": f"Bearer {token}"}, timeout=_TIMEOUT
        )


async def _caller(request: Request, audience: str, resolver: DidResolver) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("expected 'Authorization: Bearer <self-issued token>'", rule="DCP 1.0 §4.3")
    caller = await asyncio.to_thread(verify_self_issued_token, token, audience=audience, resolver=resolver)
    return caller.did


@guard
async def _from_hub(request: Request, ctx: Ctx) -> ReconciliationCourier:
    """Only the bridge's configured hub hands it messages to send."""
    link = ctx.service(HubLink)
    if await _caller(request, ctx.did, ctx.service(TrustService).resolver) != link.hub_did:
        raise Forbidden("only this bridge's hub hands it reconciliation messages", rule="bridge ← hub")
    return ctx.service(ReconciliationCourier)


@guard
async def _from_bridge(request: Request, ctx: Ctx) -> ReconciliationInbox:
    """Only the hub's configured bridge hands it messages for its operators."""
    fed = ctx.service(HubFederation)
    if await _caller(request, ctx.did, fed.resolver) != fed.bridge_did:
        raise Forbidden("only this hub's bridge hands it reconciliation messages", rule="hub ← bridge")
    return ctx.service(ReconciliationInbox)


@bridge_reconciliation_router.post(BRIDGE_PATH)
async def bridge_reconciliation(
    courier: Annotated[ReconciliationCourier, Depends(_from_hub)], body: _MessageIn
) -> JSONResponse:
    """Send a hub operator's signed message through this bridge's connector; the addressee's
    answer (status and body) comes back as is."""
    reply = _reply(await courier.deliver(body.jws))
    return JSONResponse(reply.content, status_code=reply.status)


@hub_reconciliation_router.post(HUB_PATH)
async def hub_reconciliation(
    inbox: Annotated[ReconciliationInbox, Depends(_from_bridge)], body: _MessageIn
) -> JSONResponse:
    """A message for one of this hub's operators, handed on by the bridge: verified (the sending
    owner's signature) and applied here; a replay changes nothing."""
    reply = await inbox.take(body.jws)
    return JSONResponse(reply.content, status_code=reply.status)
