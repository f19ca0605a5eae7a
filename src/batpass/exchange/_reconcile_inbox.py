"""Reconciliation messages over the connector (docs/outflows.md "Reconciliation across nodes",
"Over the connector"), in the manner of Catena-X notifications: the receiver offers an inbox
asset in its catalog under a usage policy; the sender negotiates a contract and posts each
message through the data plane.

- Receiver side: asset ``batpass-reconciliation-inbox`` (source :class:`ReconciliationInbox`).
  Access and usage policy ``Membership eq active``, ``FrameworkAgreement eq
  DataExchangeGovernance:1.0`` and, when the node's config names its trading partners
  (``reconciliation.partners``: their BPNLs, the authority's, a bridge's that relays for hub
  operators), ``BusinessPartnerNumber isAnyOf`` them: any other participant sees no offer and
  gets no agreement, so it cannot post. A message is ``POST <data plane>/messages`` with
  ``{"jws": <compact JWS>}``; its effect is decided by :meth:`Reconciliation.receive` (the
  signature by the sending owner's key, through its DID document; a replay changes nothing).
  A message for an owner this node does not keep goes to ``relay`` when one is given (a bridge
  hands it to its hub), else it is refused (403). A bad signature is a 403 problem (not a 401:
  that answer belongs to the data plane's token). A sender may post several messages in one
  request: a JSON array of up to :data:`MAX_BATCH` bodies ``{"jws": ...}``, each signed on its
  own and judged exactly as if it had come alone; the answer (200) is an array with one
  ``{"status", "body"}`` per message, in order — what that message alone would have been
  answered (a bad signature's 403 problem beside the others' outcomes). Messages of a batch for
  owners another node keeps go to that node together (``relay_many``).
- Sender side: :class:`ReconciliationCourier` is the outbox dispatcher's sender of kind
  ``ledger.reconciliation``: the receiver's connector is the ``DataService`` of its DID document
  (a hub operator's names the bridge as ``participantId``), one agreement and one started
  transfer per connector are reused (:class:`~batpass.dataspace.ConsumerChannels`). A connector
  that offers no inbox to this node, or refuses the negotiation under its policy, is a final
  refusal (403: the message is given up, with the reason, not retried); no answer is retried.
  :meth:`ReconciliationCourier.send_many` sends the messages due together to one connector in one
  request (the batch form above; a lone message in the single form), and each message's answer
  is recorded as its own; a receiver that does not answer a batch with one answer per message
  gets the messages again one by one.

Composition-level: it joins the ledger's reconciliation (content) and the connector (transport).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import httpx

from batpass.core.errors import BatpassError, Forbidden, InvalidInput, NotFound, Unauthorized
from batpass.dataspace import (
    Asset,
    CatalogRefused,
    ConsumerChannels,
    DataPlaneReply,
    DspProvider,
    NegotiationRefused,
    NotOffered,
    OfferDefinition,
    ServiceEndpoint,
)
from batpass.exchange._post_only import check_post_only
from batpass.http import problem_body
from batpass.ledger import Reconciliation
from batpass.trust import BRIDGE_SERVICE, CredentialRejected, peek

__all__ = [
    "MAX_BATCH",
    "RECONCILIATION_ASSET",
    "ReconciliationCourier",
    "ReconciliationInbox",
    "addressee",
    "inbox_policies",
    "install_reconciliation_offer",
]

RECONCILIATION_ASSET = "batpass-reconciliation-inbox"
_PATH = "messages"
#: a hub operator's DID: ``did:web:<hub>:operators:<id>`` (the hub's DID before it)
_OPERATORS = ":operators:"
_MAX_JWS = 16384
#: messages applied in one transaction at most
_TOGETHER = 64
#: messages in one posted batch at most
MAX_BATCH = 64
_RULE = 'reconciliation inbox (docs/outflows.md "Reconciliation across nodes")'
_MEMBERSHIP = {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"}
_FRAMEWORK = {"leftOperand": "FrameworkAgreement", "operator": "eq", "rightOperand": "DataExchangeGovernance:1.0"}

#: a message for an owner another node keeps, handed on (a bridge's relay to its hub)
Relay = Callable[[str], Awaitable[DataPlaneReply]]
#: several such messages handed on together, an answer for each in order
RelayMany = Callable[[Sequence[str]], Awaitable[list[DataPlaneReply]]]
#: what a sender makes of one message: the receiver's answer, or why there was none
Sent = httpx.Response | BatpassError | httpx.HTTPError


def inbox_policies(partners: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The inbox's access and usage policies: members; and only ``partners`` (BPNLs) if named."""
    constraints: list[dict[str, Any]] = [_MEMBERSHIP]
    if partners:
        constraints.append({"leftOperand": "BusinessPartnerNumber", "operator": "isAnyOf", "rightOperand": [*partners]})
    access = {"permission": [{"action": "access", "constraint": [{"and": constraints}]}]}
    usage = {"permission": [{"action": "use", "constraint": [{"and": [*constraints, _FRAMEWORK]}]}]}
    return access, usage


def install_reconciliation_offer(provider: DspProvider, source: ReconciliationInbox) -> None:
    """Register the inbox's source, asset and offer (policies of :func:`inbox_policies` for the
    node's ``reconciliation.partners``); idempotent, and a changed partner list replaces the offer."""
    provider.register_source(RECONCILIATION_ASSET, source)
    provider.register_asset(
        Asset(
            id=RECONCILIATION_ASSET,
            source=RECONCILIATION_ASSET,
            source_key=_PATH,
            title="Reconciliation inbox",
            properties={
                "description": "signed shipment notices, verdicts and reports of the reconciliation across nodes"
                " (POST messages {jws})"
            },
        )
    )
    access, usage = inbox_policies(source.reconciliation.settings.partners)
    provider.register_offer(
        OfferDefinition(
            id=f"{RECONCILIATION_ASSET}:partners",
            asset_id=RECONCILIATION_ASSET,
            access_policy=access,
            usage_policy=usage,
        )
    )


def addressee(jws: str) -> str:
    """The ``aud`` of a reconciliation message (read, not verified: the receiver verifies)."""
    try:
        aud = peek(jws)[1].get("aud")
    except CredentialRejected as exc:
        raise InvalidInput("the message is not a compact JWS", field="jws", rule="RFC 7515 §7.1") from exc
    if not isinstance(aud, str) or not aud:
        raise InvalidInput("the message names no addressee", field="aud", rule=_RULE)
    return aud


def message_of(body: Any) -> str:
    """The JWS of a posted body ``{"jws": ...}``; anything else is refused."""
    if not isinstance(body, dict) or set(body) != {"jws"}:
        raise InvalidInput('the body is {"jws": <compact JWS>}', field="jws", rule=_RULE)
    jws = body["jws"]
    if not isinstance(jws, str) or not 0 < len(jws) <= _MAX_JWS:
        raise InvalidInput(f"jws: a compact JWS of at most {_MAX_JWS} characters", field="jws", rule=_RULE)
    return jws


def messages_of(body: Any) -> list[str | BatpassError]:
    """The messages of a posted batch (a JSON array of 1 to :data:`MAX_BATCH` bodies ``{"jws"}``);
    an item that is no message is that item's refusal, as it would be posted alone."""
    if not isinstance(body, list) or not 0 < len(body) <= MAX_BATCH:
        raise InvalidInput(
            f'a batch is a JSON array of 1 to {MAX_BATCH} bodies {{"jws": <compact JWS>}}', field="messages", rule=_RULE
        )
    out: list[str | BatpassError] = []
    for item in body:
        try:
            out.append(message_of(item))
        except BatpassError as exc:
            out.append(exc)
    return out


def answer(reply: DataPlaneReply | BatpassError) -> dict[str, Any]:
    """One message's answer in a batch: the status and body it would have been answered alone."""
    if isinstance(reply, BatpassError):
        return {"status": reply.status, "body": problem_body(reply)}
    return {"status": reply.status, "body": reply.content}


def answers_of(status: int, content: Any, count: int) -> list[tuple[int, Any]] | None:
    """The per-message answers of a batch's reply, or None when it is not one answer per message
    (a receiver that does not take batches, or a refusal of the whole request)."""
    if status != 200 or not isinstance(content, list) or len(content) != count:
        return None
    out: list[tuple[int, Any]] = []
    for a in content:
        if not isinstance(a, dict) or not isinstance(a.get("status"), int) or not 100 <= a["status"] <= 599:
            return None
        out.append((a["status"], a.get("body")))
    return out


def chunks(items: Sequence[Any], size: int = MAX_BATCH) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


async def batch_or_each(
    items: Sequence[_Item],
    *,
    alone: Callable[[_Item], Awaitable[_Result]],
    together: Callable[[Sequence[_Item]], Awaitable[httpx.Response]],
    answer: Callable[[int, Any], _Result],
    whole: Callable[[httpx.Response], _Result | None] | None = None,
    concurrent: bool = False,
) -> list[_Result]:
    """Send ``items`` in one request and answer each: every sender of several reconciliation
    messages (a node's courier, the bridge's relay to its hub, the hub's courier to its bridge).
    One item goes ``alone`` (the single form). A reply of one answer per item (:func:`answers_of`)
    gives each its ``answer(status, body)``; a reply ``whole`` says stands for each (a refusal of
    the whole request) is each one's; any other reply (a receiver that takes no batches) sends
    them again ``alone``, one after another or, if ``concurrent``, together. What ``alone``
    raises, and what ``together`` raises, reach the caller (who catches what it answers with)."""
    if len(items) == 1:
        return [await alone(items[0])]
    resp = await together(items)
    try:
        content = resp.json()
    except ValueError:
        content = None
    found = answers_of(resp.status_code, content, len(items))
    if found is not None:
        return [answer(status, body) for status, body in found]
    stands = whole(resp) if whole is not None else None
    if stands is not None:
        return [stands] * len(items)
    if concurrent:
        return list(await asyncio.gather(*(alone(item) for item in items)))
    return [await alone(item) for item in items]


def _data_service(doc: Mapping[str, Any], did: str) -> tuple[ServiceEndpoint, str] | None:
    for svc in doc.get("service", []):
        if svc.get("type") == "DataService" and isinstance(svc.get("serviceEndpoint"), str):
            operated_by = svc.get("participantId")
            return ServiceEndpoint(str(svc["serviceEndpoint"])), (operated_by if isinstance(operated_by, str) else did)
    return None


def _bridge_of(hub_doc: Mapping[str, Any]) -> str | None:
    """The bridge (its DID) a hub's DID document names for its operators, if any."""
    for svc in hub_doc.get("service", []):
        endpoint = svc.get("serviceEndpoint")
        if svc.get("type") == BRIDGE_SERVICE and isinstance(endpoint, str) and endpoint.startswith("did:web:"):
            return endpoint
    return None


class ReconciliationInbox:
    """The ``batpass-reconciliation-inbox`` source (``ProxyAssetSource``)."""

    def __init__(
        self, reconciliation: Reconciliation, *, relay: Relay | None = None, relay_many: RelayMany | None = None
    ) -> None:
        self.reconciliation = reconciliation
        self.relay = relay
        self.relay_many = relay_many
        # a burst of messages waits on the event loop, not in threads holding database
        # connections (the node's database takes one writer at a time): one thread applies
        # what arrived meanwhile, together (one transaction for up to _TOGETHER messages)
        self._arrived: list[tuple[str, asyncio.Future[dict[str, Any] | BatpassError]]] = []
        self._applying: asyncio.Task[None] | None = None

    async def content(self, key: str, *, participant_bpnl: str | None, agreement_id: str) -> Any:
        raise InvalidInput("messages are POSTed to <data plane>/messages", field="method", rule=_RULE)

    async def proxy(
        self,
        key: str,
        *,
        method: str,
        path: str,
        query: Mapping[str, str],
        body: Any,
        consumer_did: str,
        consumer_bpnl: str | None,
        agreement_id: str,
    ) -> DataPlaneReply:
        check_post_only(
            asset="reconciliation inbox",
            resource=_PATH,
            noun="message",
            path=path,
            method=method,
            query=query,
            rule=_RULE,
        )
        if isinstance(body, list):
            return DataPlaneReply(200, await self.take_many(messages_of(body)))
        jws = message_of(body)
        return await self.take(jws)

    async def take_many(self, messages: Sequence[str | BatpassError]) -> list[dict[str, Any]]:
        """A batch: each message judged as :meth:`take` judges it alone (they arrive together, so
        they are applied together); those for owners another node keeps are handed on together
        (``relay_many``). An answer per message, in order (:func:`answer`)."""
        answers: list[dict[str, Any]] = [{} for _ in messages]
        relayed: list[int] = []
        kept: list[int] = []
        for i, msg in enumerate(messages):
            if isinstance(msg, BatpassError):
                answers[i] = answer(msg)
            elif self.relay is not None and self.relay_many is not None:
                try:
                    (kept if self.reconciliation.keeps(addressee(msg)) else relayed).append(i)
                except BatpassError as exc:
                    answers[i] = answer(exc)
            else:
                kept.append(i)

        async def alone(i: int) -> None:
            try:
                answers[i] = answer(await self.take(str(messages[i])))
            except BatpassError as exc:
                answers[i] = answer(exc)

        async def handed_on() -> None:
            assert self.relay_many is not None
            try:
                replies: list[DataPlaneReply | BatpassError] = [
                    *await self.relay_many([str(messages[i]) for i in relayed])
                ]
            except BatpassError as exc:
                replies = [exc] * len(relayed)
            for i, reply in zip(relayed, replies, strict=True):
                answers[i] = answer(reply)

        await asyncio.gather(*(alone(i) for i in kept), *([handed_on()] if relayed else []))
        return answers

    async def take(self, jws: str) -> DataPlaneReply:
        """Apply one message here, or hand it to the relay when another node keeps its addressee."""
        rec = self.reconciliation
        if self.relay is not None and not rec.keeps(addressee(jws)):
            return await self.relay(jws)
        await rec.prefetch(jws)  # the sender's DID document, fetched on the event loop
        arrived: asyncio.Future[dict[str, Any] | BatpassError] = asyncio.get_running_loop().create_future()
        self._arrived.append((jws, arrived))
        if self._applying is None or self._applying.done():
            self._applying = asyncio.create_task(self._apply_arrived(), name="reconciliation-inbox")
        result = await arrived
        if isinstance(result, Unauthorized):  # a bad signature: refused, and not as the data plane's 401
            problem = problem_body(result)
            problem["status"] = 403
            return DataPlaneReply(403, problem)
        if isinstance(result, BatpassError):
            raise result
        return DataPlaneReply(200, result)

    async def _apply_arrived(self) -> None:
        while self._arrived:
            batch, self._arrived = self._arrived[:_TOGETHER], self._arrived[_TOGETHER:]
            try:
                results = await anyio.to_thread.run_sync(self.reconciliation.receive_many, [j for j, _ in batch])
            except Exception as exc:  # the store failed: every message of the batch with it
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), res in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(res)


class ReconciliationCourier:
    """Sends this node's reconciliation messages through the receivers' connectors (the outbox
    dispatcher's sender for kind ``ledger.reconciliation``)."""

    def __init__(self, channels: ConsumerChannels, resolve_did: Callable[[str], Awaitable[Mapping[str, Any]]]) -> None:
        self.channels = channels
        self._resolve_did = resolve_did

    async def connector_of(self, did: str) -> tuple[ServiceEndpoint, str]:
        """The ``DataService`` of ``did``'s DID document and the participant operating it (its
        ``participantId``: a bridge for a hub operator; else ``did``). A hub operator whose
        document names none (it has released nothing yet) is reached through the bridge its hub
        names (the hub's ``OuranosBridgeService`` entry: the bridge's DID, whose own document
        names its connector); the bridge's inbox hands the message to the hub."""
        found = _data_service(await self._resolve_did(did), did)
        hub, sep, _ = did.partition(_OPERATORS)
        if found is None and sep and hub.startswith("did:web:"):
            bridge = _bridge_of(await self._resolve_did(hub))
            if bridge is not None:
                found = _data_service(await self._resolve_did(bridge), bridge)
        if found is None:
            raise NotFound(f"{did} publishes no DataService", field="aud", rule="DSP discovery (DID document)")
        return found

    async def deliver(self, jws: str) -> httpx.Response:
        """Post one signed message to its addressee's inbox; the receiver's answer as is, or a
        403 of this node's own when the receiver's connector admits no agreement for it."""
        to = addressee(jws)
        endpoint, connector = await self.connector_of(to)
        return await self._post(connector, endpoint, {"jws": jws})

    async def deliver_many(self, messages: Sequence[str]) -> list[Sent]:
        """Post signed messages to their addressees' inboxes: those for one connector in one
        request (a batch; a lone message alone), each message's own answer in order, or why it
        got none (its addressee not found, the connector not answering)."""
        out: list[Sent | None] = [None] * len(messages)
        groups: dict[tuple[str, ServiceEndpoint], list[int]] = {}
        for i, jws in enumerate(messages):
            try:
                endpoint, connector = await self.connector_of(addressee(jws))
            except BatpassError as exc:
                out[i] = exc
                continue
            groups.setdefault((connector, endpoint), []).append(i)

        async def group(connector: str, endpoint: ServiceEndpoint, idx: Sequence[int]) -> None:
            jwss = [messages[i] for i in idx]
            for i, sent in zip(idx, await self._post_batch(connector, endpoint, jwss), strict=True):
                out[i] = sent

        await asyncio.gather(*(group(c, e, part) for (c, e), idx in groups.items() for part in chunks(idx, MAX_BATCH)))
        return [o if o is not None else NotFound("no answer", rule=_RULE) for o in out]

    async def _post_batch(self, connector: str, endpoint: ServiceEndpoint, jwss: Sequence[str]) -> list[Sent]:
        """One request for ``jwss`` (the single form for one); a reply that is not one answer per
        message (a receiver that takes no batches) sends them again one by one, together."""

        async def alone(jws: str) -> Sent:
            try:
                return await self._post(connector, endpoint, {"jws": jws})
            except (BatpassError, httpx.HTTPError) as exc:
                return exc

        async def together(part: Sequence[str]) -> httpx.Response:
            return await self._post(connector, endpoint, [{"jws": j} for j in part])

        def refused(resp: httpx.Response) -> Sent | None:
            return resp if resp.status_code == 403 else None  # the usage policy: as each would be

        try:
            return await batch_or_each(
                jwss,
                alone=alone,
                together=together,
                answer=lambda status, body: httpx.Response(status, json=body),
                whole=refused,
                concurrent=True,
            )
        except (BatpassError, httpx.HTTPError) as exc:
            return [exc] * len(jwss)

    async def _post(self, connector: str, endpoint: ServiceEndpoint, body: Any) -> httpx.Response:
        try:
            return await self.channels.request(connector, RECONCILIATION_ASSET, endpoint, "POST", path=_PATH, body=body)
        except (NotOffered, NegotiationRefused, CatalogRefused) as exc:
            if isinstance(exc, CatalogRefused) and exc.partner_status not in (401, 403):
                raise  # a catalog not answered: tried again later
            refused = Forbidden(
                f"{connector} admits no reconciliation messages from this node: {exc}",
                rule=_RULE + ": the inbox's usage policy",
            )
            return httpx.Response(403, json=problem_body(refused))

    async def send(self, row: dict[str, Any]) -> httpx.Response:
        """The dispatcher's sender: the outbox row's body is ``{"jws": ...}``."""
        try:
            jws = message_of(row["body"])
        except BatpassError as exc:
            return httpx.Response(400, json=problem_body(exc))
        return await self.deliver(jws)

    async def send_many(self, rows: Sequence[dict[str, Any]]) -> list[Sent]:
        """The dispatcher's sender of the messages due together (:meth:`deliver_many`)."""
        out: list[Sent | None] = [None] * len(rows)
        jwss: list[str] = []
        idx: list[int] = []
        for i, row in enumerate(rows):
            try:
                jwss.append(message_of(row["body"]))
                idx.append(i)
            except BatpassError as exc:
                out[i] = httpx.Response(400, json=problem_body(exc))
        for i, sent in zip(idx, await self.deliver_many(jwss), strict=True):
            out[i] = sent
        return [o for o in out if o is not None]
