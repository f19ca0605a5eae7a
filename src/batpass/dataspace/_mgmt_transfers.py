"""EDC management API v3 ``/v3/transferprocesses`` and Tractus-X EDC ``/v3/edrs``: pull
transfers started by this node's :class:`~batpass.dataspace._consumer.DspConsumer` under an
agreement it holds, transfers of both roles read from the store, and the provider's or the
consumer's suspend / resume / terminate.

An EDR (``POST /v3/edrs``: negotiate, then pull-transfer) is a negotiation remembered in
``dsp_mgmt_edrs``; its transfer is started as soon as the negotiation is FINALIZED, checked
whenever EDRs are read (restart-safe, no background task). An EDR entry is a consumer transfer
holding the provider's ``DataAddress``. Sources: Eclipse EDC management API v3 (TransferRequest,
TransferProcess), Tractus-X EDC EDR API (docs/usage/management-api-walkthrough). Knows no HTTP
framework.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, insert, select, update

from batpass.core.clock import Clock
from batpass.core.errors import InvalidInput, NotFound
from batpass.core.ids import new_uuid7
from batpass.dataspace import _sql as t
from batpass.dataspace._common import HTTP_ENDPOINT_TYPE, PULL_FORMAT
from batpass.dataspace._consumer import DspConsumer
from batpass.dataspace._mgmt_jsonld import (
    MANAGEMENT_CONTEXT,
    PROTOCOL,
    edc_body,
    epoch_ms,
    id_response,
    query,
    string_of,
)
from batpass.dataspace._mgmt_negotiations import Negotiations, counterparty, terminate_unsent
from batpass.dataspace._provider import DspProvider
from batpass.dataspace.errors import ChannelError
from batpass.dataspace.model import NegotiationState, Role, TransferState
from batpass.store import UnitOfWork

__all__ = ["Edrs", "Transfers"]


class Transfers:
    """``/v3/transferprocesses``: start pull transfers, read them, suspend, resume or terminate."""

    def __init__(self, provider: DspProvider, consumer: DspConsumer, *, clock: Clock) -> None:
        self.provider = provider
        self.consumer = consumer
        self.engine = consumer.engine
        self.clock = clock

    async def transfer(self, agreement_id: str) -> str:
        pid = f"urn:uuid:{new_uuid7()}"
        try:
            await self.consumer.transfer(agreement_id, pid=pid)
        except (InvalidInput, ChannelError) as exc:  # the counter-party refused it or did not answer
            with UnitOfWork(self.engine, write=False) as uow:
                stored = uow.conn.execute(select(t.transfers.c.pid).where(t.transfers.c.pid == pid)).first()
            if stored is None:  # no finalized agreement here: nothing was started
                raise
            terminate_unsent(
                self.engine, t.transfers, pid, str(TransferState.TERMINATED), exc.message, now=self.clock.now()
            )
        return pid

    async def start_transfer(self, body: Any) -> dict[str, Any]:
        body = edc_body(body, "TransferRequest")
        agreement_id = string_of(body, "contractId", required=True)
        kind = string_of(body, "transferType") or PULL_FORMAT
        if kind != PULL_FORMAT:
            raise InvalidInput(
                f"transferType '{kind}' is not offered; use {PULL_FORMAT}",
                field="transferType",
                rule="DSP 2025-1 Distribution.format",
            )
        counterparty(body, did_fallback="(from the agreement)")
        assert agreement_id is not None
        pid = await self.transfer(agreement_id)
        return id_response(pid, self.clock.now())

    def _transfers(self, conn: Connection, pids: list[str] | None = None) -> list[dict[str, Any]]:
        q = select(t.transfers, t.agreements.c.asset_id).outerjoin(
            t.agreements, t.agreements.c.id == t.transfers.c.agreement_id
        )
        if pids is not None:
            q = q.where(t.transfers.c.pid.in_(pids))
        out = []
        for row in conn.execute(q.order_by(t.transfers.c.pid)):
            item: dict[str, Any] = {
                "@context": MANAGEMENT_CONTEXT,
                "@type": "TransferProcess",
                "@id": row.pid,
                "type": "CONSUMER" if row.role == Role.CONSUMER else "PROVIDER",
                "protocol": PROTOCOL,
                "state": row.state,
                "stateTimestamp": epoch_ms(row.state_at),
                "createdAt": epoch_ms(row.created_at),
                "contractId": row.agreement_id,
                "assetId": row.asset_id,
                "transferType": row.format,
                "counterPartyAddress": row.counterparty_address,
                "counterPartyId": row.counterparty_did,
                "dataDestination": {"@type": "DataAddress", "type": "HttpProxy"},
                "callbackAddresses": [],
            }
            other = row.provider_pid if row.role == Role.CONSUMER else row.consumer_pid
            if other:
                item["correlationId"] = other
            if row.error_detail:
                item["errorDetail"] = row.error_detail
            out.append(item)
        return out

    def get_transfer(self, pid: str) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            found = self._transfers(uow.conn, [pid])
        if not found:
            raise NotFound(f"transfer process '{pid}' does not exist", rule="EDC /v3/transferprocesses/{id}")
        return found[0]

    def transfer_state(self, pid: str) -> dict[str, Any]:
        return {"@context": MANAGEMENT_CONTEXT, "@type": "TransferState", "state": self.get_transfer(pid)["state"]}

    def query_transfers(self, spec: Any) -> list[dict[str, Any]]:
        with UnitOfWork(self.engine, write=False) as uow:
            return query(self._transfers(uow.conn), spec)

    def transfer_action(self, pid: str, action: str, body: Any = None) -> None:
        """``POST /v3/transferprocesses/{id}/{terminate,suspend,resume}`` on either side."""
        kind = {"terminate": "termination", "suspend": "suspension", "resume": "start"}[action]
        reason = string_of(body, "reason") if isinstance(body, dict) else None
        role = self.get_transfer(pid)["type"]
        if role == "CONSUMER":
            self.consumer.send_transfer_message(pid, kind, reason=reason)
        else:
            self.provider.provider_transfer_action(pid, kind, reason=reason)


class Edrs:
    """Tractus-X ``/v3/edrs``: negotiate then pull-transfer, list the entries, hand out (and
    refresh) their data addresses."""

    def __init__(self, negotiations: Negotiations, transfers: Transfers, *, clock: Clock) -> None:
        self.negotiations = negotiations
        self.transfers = transfers
        self.consumer = transfers.consumer
        self.engine = transfers.engine
        self.clock = clock

    async def start_edr(self, body: Any) -> dict[str, Any]:
        """``POST /v3/edrs``: negotiate; the pull transfer follows once the agreement is final."""
        pid = await self.negotiations.negotiate(edc_body(body, "ContractRequest"))
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(insert(t.mgmt_edrs).values(negotiation_pid=pid, created_at=self.clock.now()))
            uow.commit()
        await self.advance_edrs()
        return id_response(pid, self.clock.now())

    async def advance_edrs(self) -> int:
        """Start the transfer of every EDR negotiation that became FINALIZED (claimed with a
        conditional update, so two readers never start two transfers); returns how many."""
        with UnitOfWork(self.engine, write=False) as uow:
            pending = uow.conn.execute(
                select(t.mgmt_edrs.c.negotiation_pid, t.negotiations.c.state, t.negotiations.c.agreement_id)
                .join(t.negotiations, t.negotiations.c.pid == t.mgmt_edrs.c.negotiation_pid)
                .where(t.mgmt_edrs.c.transfer_pid.is_(None))
                .where(t.mgmt_edrs.c.error_detail.is_(None))
                .where(t.negotiations.c.state.in_([NegotiationState.FINALIZED, NegotiationState.TERMINATED]))
            ).all()
        started = 0
        for row in pending:
            claim = "claimed"
            with UnitOfWork(self.engine) as uow:
                if row.state == NegotiationState.TERMINATED:
                    uow.conn.execute(
                        update(t.mgmt_edrs)
                        .where(t.mgmt_edrs.c.negotiation_pid == row.negotiation_pid)
                        .values(error_detail="the contract negotiation was terminated")
                    )
                    uow.commit()
                    continue
                done = uow.conn.execute(
                    update(t.mgmt_edrs)
                    .where(t.mgmt_edrs.c.negotiation_pid == row.negotiation_pid)
                    .where(t.mgmt_edrs.c.transfer_pid.is_(None))
                    .values(transfer_pid=claim)
                )
                uow.commit()
            if done.rowcount != 1:
                continue
            values: dict[str, Any]
            try:
                values = {"transfer_pid": await self.transfers.transfer(row.agreement_id)}
                started += 1
            except Exception as exc:
                with UnitOfWork(self.engine) as uow:
                    uow.conn.execute(
                        update(t.mgmt_edrs)
                        .where(t.mgmt_edrs.c.negotiation_pid == row.negotiation_pid)
                        .values(transfer_pid=None, error_detail=str(exc)[:2000])
                    )
                    uow.commit()
                raise
            with UnitOfWork(self.engine) as uow:
                uow.conn.execute(
                    update(t.mgmt_edrs).where(t.mgmt_edrs.c.negotiation_pid == row.negotiation_pid).values(**values)
                )
                uow.commit()
        return started

    async def query_edrs(self, spec: Any) -> list[dict[str, Any]]:
        """``POST /v3/edrs/request``: the EDR entries (consumer pull transfers with a data address)."""
        await self.advance_edrs()
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(
                select(
                    t.transfers.c.pid,
                    t.transfers.c.agreement_id,
                    t.transfers.c.counterparty_did,
                    t.transfers.c.created_at,
                    t.agreements.c.asset_id,
                    t.agreements.c.negotiation_pid,
                )
                .join(t.agreements, t.agreements.c.id == t.transfers.c.agreement_id)
                .where(t.transfers.c.role == Role.CONSUMER)
                .where(t.transfers.c.data_address.is_not(None))
                .order_by(t.transfers.c.pid)
            ).all()
        entries = [
            {
                "@context": MANAGEMENT_CONTEXT,
                "@id": r.pid,
                "@type": "EndpointDataReferenceEntry",
                "transferProcessId": r.pid,
                "agreementId": r.agreement_id,
                "contractNegotiationId": r.negotiation_pid,
                "assetId": r.asset_id,
                "providerId": r.counterparty_did,
                "createdAt": epoch_ms(r.created_at),
            }
            for r in rows
        ]
        return query(entries, spec)

    async def edr_data_address(self, transfer_pid: str, *, auto_refresh: bool = True) -> dict[str, Any]:
        """``GET /v3/edrs/{transferProcessId}/dataaddress``: endpoint and token; with
        ``auto_refresh`` an expired token is refreshed first (Tractus-X token refresh)."""
        with UnitOfWork(self.engine, write=False) as uow:
            row = uow.conn.execute(
                select(t.transfers.c.role, t.transfers.c.state)
                .where(t.transfers.c.pid == transfer_pid)
                .where(t.transfers.c.role == Role.CONSUMER)
            ).first()
        address = self.consumer.data_address(transfer_pid) if row is not None else None
        if row is None or address is None:
            raise NotFound(f"no EDR for transfer process '{transfer_pid}'", rule="Tractus-X EDC /v3/edrs")
        expired = address.expires_at is not None and address.expires_at <= self.clock.now() + dt.timedelta(seconds=5)
        if auto_refresh and expired and address.refresh_token and row.state == TransferState.STARTED:
            address = await self.consumer.refresh_data_address(transfer_pid)
        return self._address_json(address)

    async def refresh_edr(self, transfer_pid: str) -> dict[str, Any]:
        self.transfers.get_transfer(transfer_pid)
        return self._address_json(await self.consumer.refresh_data_address(transfer_pid))

    def _address_json(self, address: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "@context": MANAGEMENT_CONTEXT,
            "@type": "DataAddress",
            "type": HTTP_ENDPOINT_TYPE,
            "endpointType": HTTP_ENDPOINT_TYPE,
            "endpoint": address.endpoint,
            "authType": "bearer",
            "authorization": address.token,
        }
        if address.refresh_token:
            out["tx-auth:refreshToken"] = address.refresh_token
        if address.refresh_endpoint:
            out["tx-auth:refreshEndpoint"] = address.refresh_endpoint
        if address.expires_at is not None:
            left = int((address.expires_at - self.clock.now()).total_seconds())
            out["tx-auth:expiresIn"] = str(max(left, 0))
        return out
