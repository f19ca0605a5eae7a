"""The asynchronous Catena-X PCF exchange over the connector: a customer asks a
supplier for the PCF of a product; the supplier accepts the request and answers later by sending
the PCF to the customer's own PCF exchange asset, through the customer's connector.

Message shapes: CX-0136 "Use Case PCF" v1.0.1, §4.1 "PCF exchange API" (openAPI
``catena-x-pcf-endpoint-1_1_0.yaml``, not bundled here; the standard's text lists both calls):

- ``GET <data plane>/productIds/{productId}?requestId=<id>&comment=<text>`` — the request, sent
  by the customer through the supplier's data plane; answered **202 Accepted** (§4.1.2.4.1).
- ``PUT <data plane>/productIds/{productId}?requestId=<id>`` with the PCF as the body — the
  response, sent by the supplier through the *customer's* data plane; answered **200 OK**.
  ``requestId`` is mandatory in a response; a PUT without it is a PCF update, which this node does
  not take (it answers 400). API 1.3.0 later renamed the callback to
  ``PUT /footprintExchange/{requestId}``; this node speaks 1.1.0 (the CX-0136 1.0.1 text).
- The body is the Catena-X PCF aspect ``urn:samm:io.catenax.pcf:9.0.0#Pcf`` (the version the
  bundled schema and ``batpass.footprint.write_catenax`` implement; CX-0136 1.0.1 still names
  6.0.0), validated against the bundled schema by the receiver before anything is stored.
- Both calls go through the Dataspace Protocol: the asset ``catenax-pcf`` (CX-0136 §2.1.2.7
  requires ``proxyMethod``, ``proxyPath``, ``proxyQueryParams`` and ``proxyBody``), so the
  sender negotiates (``cx.pcf.base:1``) and sends with the transfer's token; the receiver learns
  the sender only from the agreement (its DCP-verified DID and BPNL), never from a header
  (CX-0136's ``Edc-Bpn`` is what an EDC data plane sets from the same agreement).

The synchronous answer (``GET /api/public?productId=&requestId=``, the PCF at once) stays in
:mod:`batpass.exchange._assets`; :class:`PcfExchange` is the same asset's source and adds the
two calls above (:class:`~batpass.dataspace.ProxyAssetSource`).

Supplier side (``role = provider``): every request is stored and accepted (202), whatever the
product, as CX-0136 §2.1.2.6 allows requests without a twin. The PCF goes back **automatically**
only when a product twin of this node names the requester (the entitlement of the synchronous
flow) and an active footprint exists; then a background task negotiates with the requester's
connector (its ``DataService`` endpoint from its DID document), takes a fresh token and writes the
``PUT`` into the outbox, in the transaction that marks the request answered: the dispatcher sends
it, retries, and keeps the partner's reply (the delivery state). Any other request waits for the
operator (``POST /v1/connector/pcf/incoming/answer``): an explicit release, never automatic.
Accepted requests of entitled partners not answered yet (interrupted, failed, or without an
active footprint then) are tried again when the node starts; the operator may answer any time.

Customer side (``role = consumer``): ``POST /v1/connector/pcf/exchanges`` stores the request
(a fresh ``requestId``) before it leaves, so an answer arriving at once finds it; the ``PUT`` is
taken only from the partner asked, for the product asked and a request not yet answered (a
replay of the same PCF answers 200 again; another PCF for an answered request is a 409); the
PCF must validate and name the product. ``GET /v1/connector/pcf/exchanges/{requestId}`` shows it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from sqlalchemy import JSON as SqlJson
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    select,
    update,
)

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import BatpassError, Conflict, InvalidInput, NotFound, UpstreamUnavailable
from batpass.dataspace import DataPlaneReply, TwinRegistry
from batpass.exchange._assets import PCF_ASSET, ConnectorClient, PcfSource, _entitled, _twin_id
from batpass.footprint import FootprintFilter, PactService, read_pact, validate_catenax, write_catenax
from batpass.store import UnitOfWork, enqueue, outbox_table
from batpass.store.metadata import UTCDateTime, metadata

__all__ = ["OUTBOX_KIND", "PcfExchange", "exchanges_table"]

OUTBOX_KIND = "cx.pcf.response"
_PREFIX = "productIds/"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_RULE = "CX-0136 v1.0.1 §4.1 PCF exchange API 1.1.0"
log = logging.getLogger(__name__)

exchanges_table = Table(
    "cx_pcf_exchanges",
    metadata,
    Column("role", String(16), nullable=False),  # consumer: this node asked; provider: it was asked
    Column("partner_did", String(200), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("partner_bpnl", String(16), nullable=True),
    Column("product_id", String(512), nullable=False),
    # consumer: requested | accepted | received | refused; provider: accepted | answered
    Column("status", String(16), nullable=False),
    Column("auto", Boolean, nullable=False),  # provider: answered without the operator (entitled)
    Column("comment", String(250), nullable=True),
    Column("pcf", SqlJson, nullable=True),  # consumer: the PCF received; provider: the PCF sent
    Column("answers", Integer, nullable=False),
    Column("outbox_key", String(128), nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("role", "partner_did", "request_id", name="pk_cx_pcf_exchanges"),
)
Index("ix_cx_pcf_exchanges_role", exchanges_table.c.role, exchanges_table.c.created_at)

_T = exchanges_table


def _request_id(query: Mapping[str, str]) -> str:
    rid = query.get("requestId", "")
    if not _REQUEST_ID.match(rid):
        raise InvalidInput(
            "requestId: required, 1-128 of A-Z a-z 0-9 . _ : -", field="requestId", rule=_RULE + " (requestId)"
        )
    return rid


def _product(path: str) -> str:
    """The product id of a CX-0136 path ``productIds/{productId}`` (the rest of the path)."""
    if not path.startswith(_PREFIX) or not path[len(_PREFIX) :] or len(path) > 512 + len(_PREFIX):
        raise NotFound(f"no resource '{path}' on the PCF exchange asset", rule=_RULE + ": /productIds/{productId}")
    return path[len(_PREFIX) :]


def _comment(query: Mapping[str, str]) -> str | None:
    text = query.get("comment") or query.get("message")  # 1.1.0 says comment; 1.1.1 message
    return text[:250] if text else None


def _view(row: Any, *, delivery: Mapping[str, Any] | None = None, with_pcf: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "requestId": row.request_id,
        "role": row.role,
        "partner": row.partner_did,
        "partnerBpnl": row.partner_bpnl,
        "productId": row.product_id,
        "status": row.status,
        "comment": row.comment,
        "createdAt": row.created_at.isoformat(),
        "updatedAt": row.updated_at.isoformat(),
    }
    if row.error:
        out["error"] = row.error
    if row.role == "provider":
        out["automatic"] = bool(row.auto)
        if delivery is not None:
            out["delivery"] = dict(delivery)
    if with_pcf and row.pcf is not None:
        out["pcf"] = row.pcf
    return out


def _names_product(pcf: Mapping[str, Any], product: str) -> bool:
    for company in pcf.get("companyAndProductInformation") or []:
        for info in (company or {}).get("productInformation") or []:
            if product in ((info or {}).get("productIds") or []):
                return True
    return False


class PcfExchange(PcfSource):
    """The ``catenax-pcf`` source of this node: the synchronous pull of :class:`PcfSource` and the
    CX-0136 asynchronous request and response (a :class:`~batpass.dataspace.ProxyAssetSource`),
    with the customer's and the supplier's side of the exchange (see the module docstring)."""

    def __init__(
        self,
        pact: PactService,
        registry: TwinRegistry,
        *,
        engine: Engine,
        connector: ConnectorClient,
        clock: Clock = SystemClock(),
    ) -> None:
        super().__init__(pact, registry)
        self.engine = engine
        self.connector = connector
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    # -- the asset: requests arriving through this node's data plane ----------------------------

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
        product = _product(path)
        if method == "GET":
            return await self._incoming_request(product, query, consumer_did, consumer_bpnl)
        if method == "PUT":
            return await anyio.to_thread.run_sync(self._incoming_response, product, query, body, consumer_did)
        raise InvalidInput(f"{method} is not a PCF exchange call (GET or PUT)", field="method", rule=_RULE)

    async def _incoming_request(
        self, product: str, query: Mapping[str, str], sender: str, sender_bpnl: str | None
    ) -> DataPlaneReply:
        """Store a customer's request (idempotent per customer and request id) and accept it;
        start the automatic answer if the customer is entitled."""
        rid = _request_id(query)
        auto = await anyio.to_thread.run_sync(self._auto_answerable, product, sender_bpnl)
        stored = await anyio.to_thread.run_sync(
            partial(self._store_request, sender, sender_bpnl, rid, product, _comment(query), auto)
        )
        if stored and auto:
            self._spawn(sender, rid)
        return DataPlaneReply(202, {"requestId": rid, "productId": product, "status": "accepted"})

    def _auto_answerable(self, product: str, bpnl: str | None) -> bool:
        return _entitled(self.registry, _twin_id("product", product), bpnl)

    def _store_request(
        self, sender: str, bpnl: str | None, rid: str, product: str, comment: str | None, auto: bool
    ) -> bool:
        now = self.clock.now()
        with UnitOfWork(self.engine) as uow:
            prev = uow.conn.execute(
                select(_T).where(_T.c.role == "provider", _T.c.partner_did == sender, _T.c.request_id == rid)
            ).first()
            if prev is not None:
                if prev.product_id != product:
                    raise Conflict(
                        f"request {rid} exists for another product", rule=_RULE + ": a requestId names one request"
                    )
                return False
            uow.conn.execute(
                _T.insert().values(
                    role="provider",
                    partner_did=sender,
                    request_id=rid,
                    partner_bpnl=bpnl,
                    product_id=product,
                    status="accepted",
                    auto=auto,
                    comment=comment,
                    pcf=None,
                    answers=0,
                    outbox_key=None,
                    error=None,
                    created_at=now,
                    updated_at=now,
                )
            )
            uow.commit()
        return True

    def _incoming_response(self, product: str, query: Mapping[str, str], body: Any, sender: str) -> DataPlaneReply:
        """A supplier's answer to one of this node's requests: only from the supplier asked, for
        the product asked; validated before it is stored."""
        if "requestId" not in query:
            raise InvalidInput(
                "a PUT without requestId is a PCF update, which this node does not take",
                field="requestId",
                rule=_RULE + ": requestId is mandatory in a response",
            )
        rid = _request_id(query)
        hidden = NotFound(f"no open PCF request {rid} of this node to you", field="requestId", rule=_RULE)
        with UnitOfWork(self.engine) as uow:
            row = uow.conn.execute(
                select(_T).where(_T.c.role == "consumer", _T.c.partner_did == sender, _T.c.request_id == rid)
            ).first()
            if row is None or row.product_id != product or row.status == "refused":
                raise hidden
            if not isinstance(body, dict):
                raise InvalidInput("the body must be a Catena-X PCF (a JSON object)", field="(body)", rule=_RULE)
            validate_catenax(body)
            if not _names_product(body, product):
                raise InvalidInput(
                    f"the PCF does not name product {product} in productInformation.productIds",
                    field="companyAndProductInformation.productInformation.productIds",
                    rule=_RULE + ": the response is the PCF of the product requested",
                )
            if row.status == "received":
                if row.pcf != body:
                    raise Conflict(f"request {rid} was already answered with another PCF", rule=_RULE)
            else:
                uow.conn.execute(
                    update(_T)
                    .where(_T.c.role == "consumer", _T.c.partner_did == sender, _T.c.request_id == rid)
                    .values(status="received", pcf=body, error=None, updated_at=self.clock.now())
                )
                uow.commit()
        return DataPlaneReply(200, {"requestId": rid, "productId": product, "status": "received"})

    # -- supplier: answering --------------------------------------------------------------------

    def _spawn(self, partner: str, rid: str) -> None:
        task = asyncio.get_running_loop().create_task(self._auto_answer(partner, rid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _auto_answer(self, partner: str, rid: str) -> None:
        try:
            await self.answer(partner, rid)
        except NotFound as exc:  # no active footprint yet: the request waits for the operator
            await anyio.to_thread.run_sync(self._note, partner, rid, exc.message)
        except BatpassError as exc:
            log.warning("PCF answer to %s (%s) failed: %s", partner, rid, exc)
            await anyio.to_thread.run_sync(self._note, partner, rid, f"{exc.kind}: {exc.message}")

    def _note(self, partner: str, rid: str, error: str) -> None:
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(
                update(_T)
                .where(_T.c.role == "provider", _T.c.partner_did == partner, _T.c.request_id == rid)
                .values(error=error[:2000], updated_at=self.clock.now())
            )
            uow.commit()

    def _row(self, role: str, partner: str, rid: str) -> Any:
        with UnitOfWork(self.engine, write=False) as uow:
            row = uow.conn.execute(
                select(_T).where(_T.c.role == role, _T.c.partner_did == partner, _T.c.request_id == rid)
            ).first()
        if row is None:
            raise NotFound(f"no PCF request {rid} of {partner}", field="requestId", rule="PCF exchanges")
        return row

    def _delivery(self, key: str | None) -> dict[str, Any] | None:
        if key is None:
            return None
        with self.engine.connect() as conn:
            msg = conn.execute(select(outbox_table).where(outbox_table.c.idempotency_key == key)).first()
        if msg is None:
            return None
        return {
            "state": msg.status,  # pending | sent | dead
            "attempts": msg.attempts,
            "responseStatus": msg.response_status,
            "lastError": msg.last_error,
        }

    def _current_pcf(self, product: str) -> dict[str, Any]:
        page = self.pact.list_footprints(FootprintFilter(product_ids=(product,), statuses=("Active",)))
        if not page.documents:
            raise NotFound(
                f"no active footprint of product {product} on this node yet",
                field="productId",
                rule="answer once a PACT v3 footprint of it is stored (POST /v1/connector/pcf/incoming/answer)",
            )
        return write_catenax(read_pact(dict(page.documents[-1]), expect=3))

    async def answer(self, partner: str, rid: str) -> dict[str, Any]:
        """Send the PCF of a request this node accepted to the requester, through its connector:
        a fresh data address of the requester's ``catenax-pcf`` asset, then the ``PUT`` written
        into the outbox with the request marked answered (one transaction). Answering again is
        allowed only when the previous ``PUT`` was refused or given up (the outbox row is dead)."""
        row = await anyio.to_thread.run_sync(self._row, "provider", partner, rid)
        delivery = await anyio.to_thread.run_sync(self._delivery, row.outbox_key)
        if row.status == "answered" and (delivery is None or delivery["state"] != "dead"):
            return _view(row, delivery=delivery, with_pcf=False)
        pcf = await anyio.to_thread.run_sync(self._current_pcf, row.product_id)
        address = await self.connector.address(partner, PCF_ASSET)
        destination = (
            f"{address.endpoint.rstrip('/')}/{_PREFIX}{quote(row.product_id, safe='')}?requestId={quote(rid, safe='')}"
        )
        digest = hashlib.sha256(f"{partner}|{rid}".encode()).hexdigest()[:32]
        key = f"{OUTBOX_KIND}:{digest}:{row.answers + 1}"
        return await anyio.to_thread.run_sync(
            partial(self._enqueue, partner, rid, pcf, destination, address.token, key, row.answers)
        )

    def _enqueue(
        self, partner: str, rid: str, pcf: dict[str, Any], destination: str, token: str, key: str, answers: int
    ) -> dict[str, Any]:
        with UnitOfWork(self.engine) as uow:
            res = uow.conn.execute(
                update(_T)
                .where(
                    _T.c.role == "provider",
                    _T.c.partner_did == partner,
                    _T.c.request_id == rid,
                    _T.c.answers == answers,  # a concurrent answer got there first: send once
                )
                .values(
                    status="answered",
                    pcf=pcf,
                    answers=answers + 1,
                    outbox_key=key,
                    error=None,
                    updated_at=self.clock.now(),
                )
            )
            if res.rowcount == 1:
                enqueue(
                    uow,
                    kind=OUTBOX_KIND,
                    destination=destination,
                    body=pcf,
                    method="PUT",
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                    idempotency_key=key,
                )
                uow.commit()
        row = self._row("provider", partner, rid)
        return _view(row, delivery=self._delivery(row.outbox_key), with_pcf=False)

    def resume(self) -> None:
        """At start: try again the automatic answers not sent yet (accepted, entitled), those a
        stop interrupted and those that failed or found no active footprint then."""
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(
                select(_T.c.partner_did, _T.c.request_id).where(
                    _T.c.role == "provider", _T.c.status == "accepted", _T.c.auto.is_(True)
                )
            ).all()
        for partner, rid in rows:
            self._spawn(partner, rid)

    def incoming(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """The requests this node was asked, newest first, with the delivery of their answer."""
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(
                select(_T).where(_T.c.role == "provider").order_by(_T.c.created_at.desc()).limit(limit)
            ).all()
        return [_view(r, delivery=self._delivery(r.outbox_key), with_pcf=False) for r in rows]

    # -- customer: asking -------------------------------------------------------------------------

    async def request(
        self, provider: str, product: str, *, comment: str | None = None, dsp_url: str | None = None
    ) -> dict[str, Any]:
        """Ask ``provider`` for the PCF of ``product`` (CX-0136 ``GET /productIds/{id}``); the
        request is stored first, so the answer (a ``PUT``, later) finds it."""
        if not product or len(product) > 512:
            raise InvalidInput("productId: 1-512 characters", field="productId", rule=_RULE)
        rid = str(uuid.uuid4())
        now = self.clock.now()
        comment = comment[:250] if comment else None
        row: dict[str, Any] = {
            "role": "consumer",
            "partner_did": provider,
            "request_id": rid,
            "partner_bpnl": None,
            "product_id": product,
            "status": "requested",
            "auto": False,
            "comment": comment,
            "pcf": None,
            "answers": 0,
            "outbox_key": None,
            "error": None,
            "created_at": now,
            "updated_at": now,
        }
        await anyio.to_thread.run_sync(self._insert, row)
        query = {"requestId": rid, **({"comment": comment} if comment else {})}
        try:
            status, body = await self.connector.send(
                provider, PCF_ASSET, "GET", path=_PREFIX + quote(product, safe=""), query=query, dsp_url=dsp_url
            )
        except BatpassError as exc:  # not offered, refused, unreachable: the request never arrived
            await anyio.to_thread.run_sync(self._mark, provider, rid, "refused", f"{exc.kind}: {exc.message}")
            raise
        if status != 202:
            detail = body.get("error_description", body) if isinstance(body, dict) else body
            await anyio.to_thread.run_sync(self._mark, provider, rid, "refused", f"HTTP {status}: {detail}")
            if status == 404:
                raise NotFound(f"{provider} has no PCF exchange for {product}: {detail}", rule=_RULE)
            raise UpstreamUnavailable(
                f"{provider} did not accept the PCF request (HTTP {status}): {detail}", rule=_RULE
            )
        await anyio.to_thread.run_sync(self._mark, provider, rid, "accepted", None)
        return await anyio.to_thread.run_sync(self.exchange, rid)

    def _insert(self, row: dict[str, Any]) -> None:
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(_T.insert().values(**row))
            uow.commit()

    def _mark(self, provider: str, rid: str, status: str, error: str | None) -> None:
        """Move a request out of ``requested`` (an answer may already have arrived: kept)."""
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(
                update(_T)
                .where(
                    _T.c.role == "consumer",
                    _T.c.partner_did == provider,
                    _T.c.request_id == rid,
                    _T.c.status == "requested",
                )
                .values(status=status, error=error[:2000] if error else None, updated_at=self.clock.now())
            )
            uow.commit()

    def exchange(self, rid: str) -> dict[str, Any]:
        """One of this node's requests, with the PCF once it arrived."""
        with UnitOfWork(self.engine, write=False) as uow:
            row = uow.conn.execute(select(_T).where(_T.c.role == "consumer", _T.c.request_id == rid)).first()
        if row is None:
            raise NotFound(f"no PCF request {rid} of this node", field="requestId", rule="PCF exchanges")
        return _view(row)

    def exchanges(self, *, limit: int = 100) -> list[dict[str, Any]]:
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(
                select(_T).where(_T.c.role == "consumer").order_by(_T.c.created_at.desc()).limit(limit)
            ).all()
        return [_view(r, with_pcf=False) for r in rows]


# -- routes (admin) ---------------------------------------------------------------------------
