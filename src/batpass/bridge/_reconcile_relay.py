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

Both legs take several messages in one request as the inbox does (docs/outflows.md, "Several
messages in one request"): a JSON array of ``{"jws"}``, answered by an array with one ``{"status",
"body"}`` per message — the bridge's inbox hands the hub operators' messages of a batch to the
hub together (:func:`hub_relay_many`), and the hub's outbox hands the bridge the messages due
together (:meth:`BridgeCourier.send_many`), which the bridge sends on together per connector.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from batpass.bridge._link import HubFederation, HubLink
from batpass.core.errors import BatpassError, Forbidden, Unauthorized, UpstreamUnavailable
from batpass.dataspace import DataPlaneReply
from batpass.exchange import (
    RECONCILIATION_MAX_BATCH,
    ReconciliationCourier,
    ReconciliationInbox,
    reconciliation_answer,
    reconciliation_batch_or_each,
    reconciliation_chunks,
)
from batpass.http import Ctx, guard
from batpass.trust import DidResolver, NodeIdentity, TrustService, issue_self_issued_token, verify_self_issued_token

__all__ = [
    "BridgeCourier",
    "bridge_reconciliation_router",
    "hub_reconciliation_router",
    "hub_relay",
    "hub_relay_many",
]

HUB_PATH = "/v1/ouranos/bridge/reconciliation"
BRIDGE_PATH = "/v1/bridge/reconciliation"
_TIMEOUT = httpx.Timeout(60.0)

bridge_reconciliation_router = APIRouter(tags=["bridge"])
hub_reconciliation_router = APIRouter(tags=["bridge"])


class _MessageIn(BaseModel):
    jws: str = Field(min_length=1, max_length=16384)


#: a batch: up to MAX_BATCH messages, each answered as alone
_Batch = Annotated[list[_MessageIn], Field(min_length=1, max_length=RECONCILIATION_MAX_BATCH)]


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


def hub_relay_many(link: HubLink) -> Callable[[Sequence[str]], Awaitable[list[DataPlaneReply]]]:
    """The bridge inbox's relay of a batch: the hub operators' messages handed to the hub in one
    request (one alone in the single form); the hub's answer for each, in order."""

    relay = hub_relay(link)

    async def relay_many(jwss: Sequence[str]) -> list[DataPlaneReply]:
        # not one answer per message (a hub that takes no batches): one by one
        return await reconciliation_batch_or_each(
            jwss,
            alone=relay,
            together=lambda part: _post_hub(link, [{"jws": j} for j in part]),
            answer=DataPlaneReply,
        )

    return relay_many


async def _post_hub(link: HubLink, body: list[dict[str, str]]) -> httpx.Response:
    token = issue_self_issued_token(link.identity, audience=link.hub_did, bpn=None)
    try:
        return await link.client.post(
            link.hub_url + HUB_PATH, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=_TIMEOUT
        )
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable("the Ouranos hub is unreachable", rule="bridge → hub") from exc


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

    async def send_many(self, rows: Sequence[dict[str, Any]]) -> list[httpx.Response | httpx.HTTPError]:
        """The messages due together, handed to the bridge in one request per
        ``RECONCILIATION_MAX_BATCH`` (one alone in the single form); each message's answer as
        the addressee gave it. A bridge that does not answer one per message gets them again one
        by one."""
        out: list[httpx.Response | httpx.HTTPError] = []
        for part in reconciliation_chunks(rows, RECONCILIATION_MAX_BATCH):
            out.extend(await self._send_part(part))
        return out

    async def _send_part(self, rows: Sequence[dict[str, Any]]) -> list[httpx.Response | httpx.HTTPError]:
        async def alone(row: dict[str, Any]) -> httpx.Response | httpx.HTTPError:
            try:
                return await self.send(row)
            except httpx.HTTPError as exc:
                return exc

        async def together(part: Sequence[dict[str, Any]]) -> httpx.Response:
            token = issue_self_issued_token(self.identity, audience=self.bridge_did, bpn=None)
            return await self.client.post(
                self.url,
                json=[r["body"] for r in part],
                headers={"Authorization": f"Bearer {token}"},
                timeout=_TIMEOUT,
            )

        try:
            return await reconciliation_batch_or_each(
                rows,
                alone=alone,
                together=together,
                answer=lambda status, body: httpx.Response(status, json=body),
            )
        except httpx.HTTPError as exc:
            return [exc] * len(rows)


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
    courier: Annotated[ReconciliationCourier, Depends(_from_hub)], body: _MessageIn | _Batch
) -> JSONResponse:
    """Send a hub operator's signed message through this bridge's connector; the addressee's
    answer (status and body) comes back as is. A batch (a JSON array of messages) is sent on
    together per connector and answered with one ``{"status", "body"}`` per message, in order."""
    if isinstance(body, list):
        sent = await courier.deliver_many([m.jws for m in body])
        return JSONResponse([_answer_sent(s) for s in sent])
    reply = _reply(await courier.deliver(body.jws))
    return JSONResponse(reply.content, status_code=reply.status)


def _answer_sent(sent: httpx.Response | BatpassError | httpx.HTTPError) -> dict[str, Any]:
    if isinstance(sent, httpx.Response):
        return reconciliation_answer(_reply(sent))
    if isinstance(sent, BatpassError):
        return reconciliation_answer(sent)
    silent = UpstreamUnavailable("the addressee's connector did not answer", rule="bridge → connector")
    return reconciliation_answer(silent)


@hub_reconciliation_router.post(HUB_PATH)
async def hub_reconciliation(
    inbox: Annotated[ReconciliationInbox, Depends(_from_bridge)], body: _MessageIn | _Batch
) -> JSONResponse:
    """A message for one of this hub's operators, handed on by the bridge: verified (the sending
    owner's signature) and applied here; a replay changes nothing. A batch is judged message by
    message, one ``{"status", "body"}`` each, in order."""
    if isinstance(body, list):
        return JSONResponse(await inbox.take_many([m.jws for m in body]))
    reply = await inbox.take(body.jws)
    return JSONResponse(reply.content, status_code=reply.status)
