"""Provider-initiated negotiations on the provider's side (DSP 2025-1 "Contract Negotiation
Protocol": the provider may start with a ``ContractOfferMessage`` to the consumer's
``/negotiations/offers``): :class:`ProviderOffers` sends one of this node's catalog offers to a
consumer and keeps the negotiation in ``OFFERED``. The consumer's ``ACCEPTED`` event is handled by
:meth:`~batpass.dataspace._provider.DspProvider.negotiation_message`, which checks the offer is
still the consumer's to see and its usage policy satisfied before it agrees (the agreement then
goes through verification and finalization as for a requested negotiation).

The offer is sent at once, not through the outbox: the consumer's 201 answer carries its process
id, which every later message names. Knows nothing of what the offered asset holds.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import insert, select, update

from batpass.core.errors import InvalidInput, NotFound
from batpass.core.ids import new_uuid7
from batpass.dataspace import _dsp_messages as msgs
from batpass.dataspace import _sql as t
from batpass.dataspace._provider import DspProvider
from batpass.dataspace._states import NEGOTIATION, NegotiationMessage, transition
from batpass.dataspace.errors import PartnerUnreachable, Stage
from batpass.dataspace.model import NegotiationState, Role
from batpass.store import UnitOfWork

__all__ = ["ProviderOffers"]


class ProviderOffers:
    """Offers this node (the provider) sends to consumers of its own choosing."""

    def __init__(self, provider: DspProvider, client: httpx.AsyncClient) -> None:
        self.provider = provider
        self.client = client

    async def offer(self, consumer_did: str, callback_address: str, offer_id: str) -> str:
        """Send offer ``offer_id`` to the consumer ``consumer_did`` at its DSP callback address;
        the provider's process id (its negotiation is ``OFFERED`` once the consumer created its
        own). A refusal or no answer terminates it and raises ``PartnerUnreachable`` (no answer,
        5xx) or ``InvalidInput`` naming the consumer's reason."""
        engine = self.provider.engine
        with UnitOfWork(engine, write=False) as uow:
            row = uow.conn.execute(select(t.offers).where(t.offers.c.id == offer_id)).first()
        if row is None:
            raise NotFound(f"no offer '{offer_id}' on this node", rule="DSP 2025-1: an offer from the catalog")
        policy = {k: v for k, v in dict(row.usage_policy).items() if k not in ("@context", "@id", "@type")}
        offer = {"@id": row.id, "@type": "Offer", **policy, "target": row.asset_id}
        pid = f"urn:uuid:{new_uuid7()}"
        now = self.provider.clock.now()
        stamp = transition(NEGOTIATION, Role.PROVIDER, None, NegotiationMessage.OFFER, count=0, now=now)
        address = callback_address.rstrip("/")
        with UnitOfWork(engine) as uow:  # stored before sending: the consumer may answer first
            uow.conn.execute(
                insert(t.negotiations).values(
                    pid=pid,
                    role=Role.PROVIDER,
                    consumer_pid="",  # the consumer names it in its answer
                    provider_pid=pid,
                    counterparty_did=consumer_did,
                    counterparty_bpnl=None,
                    counterparty_address=address,
                    state=stamp.state,
                    state_count=stamp.count,
                    state_at=stamp.at,
                    last_message=None,
                    offer=offer,
                    offer_id=row.id,
                    created_at=now,
                )
            )
            uow.commit()
        message = msgs.validated(
            {
                "@context": msgs.context(),
                "@type": "ContractOfferMessage",
                "providerPid": pid,
                "offer": offer,
                "callbackAddress": self.provider.settings.dsp_url,
            }
        )
        token = self.provider.token_issuer.issue(audience=consumer_did)
        try:
            resp = await self.client.post(
                address + "/negotiations/offers", json=message, headers={"Authorization": "Bearer " + token}
            )
            answer: Any = resp.json() if resp.status_code in (200, 201) else None
            ack = msgs.check_incoming(answer, "ContractNegotiation") if answer is not None else None
        except (httpx.HTTPError, ValueError, InvalidInput) as exc:
            self._terminate(pid, f"no answer: {type(exc).__name__}")
            raise PartnerUnreachable(
                f"{consumer_did} did not take the offer: {type(exc).__name__}",
                stage=Stage.NEGOTIATION,
                partner=consumer_did,
                rule="DSP 2025-1 POST /negotiations/offers",
            ) from exc
        if ack is None:
            self._terminate(pid, resp.text[:2000])
            raise InvalidInput(
                f"{consumer_did} refused the offer ({resp.status_code})",
                field="offer",
                rule="DSP 2025-1 POST /negotiations/offers",
            )
        with UnitOfWork(engine) as uow:
            uow.conn.execute(
                update(t.negotiations).where(t.negotiations.c.pid == pid).values(consumer_pid=ack["consumerPid"])
            )
            uow.commit()
        return pid

    def _terminate(self, pid: str, reason: str) -> None:
        with UnitOfWork(self.provider.engine) as uow:
            uow.conn.execute(
                update(t.negotiations)
                .where(t.negotiations.c.pid == pid)
                .values(state=NegotiationState.TERMINATED, state_at=self.provider.clock.now(), error_detail=reason)
            )
            uow.commit()
