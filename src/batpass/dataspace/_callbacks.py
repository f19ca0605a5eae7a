"""The consumer's side of the DSP 2025-1 callback binding beyond the messages of a running
process (those are :meth:`~batpass.dataspace._consumer.DspConsumer.on_negotiation_message` and
``on_transfer_message``): a provider-initiated negotiation (``POST /negotiations/offers`` at the
consumer's callback address: the consumer creates its process in ``OFFERED``), the consumer's
answer to such an offer (``ContractNegotiationEventMessage`` ``ACCEPTED``, through the outbox), and
the state of a consumer process as its provider asks for it (``GET /negotiations/:consumerPid``,
``GET /transfers/:consumerPid``, in the ``ContractNegotiation`` / ``TransferProcess`` shape).

A process is shown only to the participant it was negotiated with; anyone else gets the same 404
as for an unknown process (DSP 2025-1 HTTPS bindings: the consumer callback endpoints).
Sources: DSP 2025-1 "Contract Negotiation Protocol" § 2 and its HTTPS binding § 3 (consumer
callback path bindings), "Transfer Process Protocol" HTTPS binding. Knows nothing of the
provider side and nothing of what the assets mean.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import insert, select

from batpass.core.errors import InvalidInput, NotFound
from batpass.core.ids import new_uuid7
from batpass.dataspace import _dsp_messages as msgs
from batpass.dataspace import _sql as t
from batpass.dataspace._consumer import DspConsumer
from batpass.dataspace._states import NEGOTIATION, NegotiationMessage, transition
from batpass.dataspace.model import Participant, Role
from batpass.store import UnitOfWork, enqueue

__all__ = ["ConsumerCallbacks"]


def _callback_address(value: Any) -> str:
    """The provider's address for this node's answers: an absolute http(s) URL."""
    try:
        url = httpx.URL(str(value))
        ok = url.scheme in ("https", "http") and bool(url.host) and not url.query and not url.fragment
    except httpx.InvalidURL:
        ok = False
    if not ok:
        raise InvalidInput(
            "callbackAddress must be an absolute https URL without query or fragment",
            field="callbackAddress",
            rule="DSP 2025-1 ContractOfferMessage: callbackAddress",
        )
    return str(value).rstrip("/")


class ConsumerCallbacks:
    """Provider-initiated offers and process state at this node's consumer callback address,
    over the node's :class:`DspConsumer` (its store, token issuer and notifier)."""

    def __init__(self, consumer: DspConsumer) -> None:
        self.consumer = consumer

    def _row(self, table: Any, participant: Participant, consumer_pid: str) -> Any:
        with UnitOfWork(self.consumer.engine, write=False) as uow:
            row = uow.conn.execute(
                select(table).where(table.c.pid == consumer_pid).where(table.c.role == Role.CONSUMER)
            ).first()
        if row is None or row.counterparty_did != participant.did:
            raise NotFound(
                f"no process '{consumer_pid}' with this participant",
                rule="DSP 2025-1 callbacks: 404",
                consumerPid=consumer_pid,
            )
        return row

    def negotiation(self, participant: Participant, consumer_pid: str) -> dict[str, Any]:
        """``GET /negotiations/:consumerPid`` at the callback: the ``ContractNegotiation``."""
        row = self._row(t.negotiations, participant, consumer_pid)
        return msgs.negotiation_ack(row.provider_pid or "", row.pid, row.state)

    def transfer(self, participant: Participant, consumer_pid: str) -> dict[str, Any]:
        """``GET /transfers/:consumerPid`` at the callback: the ``TransferProcess``."""
        row = self._row(t.transfers, participant, consumer_pid)
        return msgs.transfer_ack(row.provider_pid or "", row.pid, row.state)

    def offered(self, participant: Participant, body: Any) -> tuple[dict[str, Any], int]:
        """``POST /negotiations/offers``: a provider starts a negotiation with an offer. The
        consumer creates its process in ``OFFERED`` (201 with the ``ContractNegotiation``); the
        same offer again (same provider process) returns the existing process (200)."""
        m = msgs.check_incoming(body, "ContractOfferMessage")
        if "consumerPid" in m:
            raise InvalidInput(
                "an initial offer carries no consumerPid (the consumer assigns it)",
                field="consumerPid",
                rule="DSP 2025-1 ContractOfferMessage: initial offer",
            )
        address = _callback_address(m.get("callbackAddress"))
        provider_pid = str(m["providerPid"])
        offer = {k: v for k, v in m["offer"].items() if k != "@context"}
        with UnitOfWork(self.consumer.engine) as uow:
            existing = uow.conn.execute(
                select(t.negotiations)
                .where(t.negotiations.c.role == Role.CONSUMER)
                .where(t.negotiations.c.provider_pid == provider_pid)
                .where(t.negotiations.c.counterparty_did == participant.did)
            ).first()
            if existing is not None:
                return msgs.negotiation_ack(provider_pid, existing.pid, existing.state), 200
            pid = f"urn:uuid:{new_uuid7()}"
            now = self.consumer.clock.now()
            stamp = transition(NEGOTIATION, Role.PROVIDER, None, NegotiationMessage.OFFER, count=0, now=now)
            uow.conn.execute(
                insert(t.negotiations).values(
                    pid=pid,
                    role=Role.CONSUMER,
                    consumer_pid=pid,
                    provider_pid=provider_pid,
                    counterparty_did=participant.did,
                    counterparty_bpnl=participant.bpnl,
                    counterparty_address=address,
                    state=stamp.state,
                    state_count=stamp.count,
                    state_at=stamp.at,
                    last_message=str(NegotiationMessage.OFFER),
                    offer=offer,
                    offer_id=offer.get("@id"),
                    created_at=now,
                )
            )
            self.consumer.notifier.changed(uow, pid)
            uow.commit()
        return msgs.negotiation_ack(provider_pid, pid, stamp.state), 201

    def accept(self, consumer_pid: str) -> str:
        """Accept an offer this node holds in ``OFFERED``: ``ACCEPTED``, and the event message to
        the provider's ``/negotiations/:providerPid/events`` through the outbox. The provider
        answers with its agreement at the callback (verified as for a requested negotiation)."""
        with UnitOfWork(self.consumer.engine) as uow:
            row = uow.conn.execute(
                select(t.negotiations)
                .where(t.negotiations.c.pid == consumer_pid)
                .where(t.negotiations.c.role == Role.CONSUMER)
            ).first()
            if row is None or row.provider_pid is None:
                raise NotFound(f"no consumer negotiation '{consumer_pid}'", rule="consumer negotiations")
            state = self.consumer._apply_consumer(
                uow.conn, t.negotiations, row, NEGOTIATION, Role.CONSUMER, NegotiationMessage.ACCEPTED
            )
            self.consumer.notifier.changed(uow, row.pid)
            event = msgs.validated(
                {
                    "@context": msgs.context(),
                    "@type": "ContractNegotiationEventMessage",
                    "providerPid": row.provider_pid,
                    "consumerPid": row.pid,
                    "eventType": "ACCEPTED",
                }
            )
            enqueue(
                uow,
                kind="dsp.negotiation.events",
                destination=row.counterparty_address + f"/negotiations/{row.provider_pid}/events",
                body=event,
                idempotency_key=f"{row.pid}:accepted",
                headers={
                    "Authorization": "Bearer " + self.consumer.token_issuer.issue(audience=row.counterparty_did),
                    "Content-Type": "application/json",
                },
            )
            uow.commit()
        return str(state)
