"""EDC management API v3 ``/v3/catalog/request`` and ``/v3/contractnegotiations``: this node's
:class:`~batpass.dataspace._consumer.DspConsumer` asks the counter-party (``counterPartyAddress`` =
its DSP 2025-1 URL, ``counterPartyId`` = its DID); negotiations of both roles are read from the
store. A contract request the counter-party refuses is answered, as EDC does, with the id of a
process that is TERMINATED with the reason. Sources: Eclipse EDC management API v3
(CatalogRequest, ContractRequest, ContractNegotiation, ContractAgreement), Tractus-X EDC (DSP
2025-1, "saturn"). Knows no HTTP framework.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from batpass.core.clock import Clock
from batpass.core.errors import InvalidInput, NotFound
from batpass.core.ids import new_uuid7
from batpass.dataspace import _dsp_messages as msgs
from batpass.dataspace import _sql as t
from batpass.dataspace._consumer import DspConsumer
from batpass.dataspace._mgmt_jsonld import (
    MANAGEMENT_CONTEXT,
    PROTOCOL,
    compact_policy,
    edc_body,
    epoch_ms,
    id_response,
    query,
    string_of,
    value_of,
)
from batpass.dataspace.errors import ChannelError
from batpass.dataspace.model import NegotiationState, Role
from batpass.store import UnitOfWork

__all__ = ["Negotiations", "counterparty", "terminate_unsent"]


def counterparty(body: Mapping[str, Any], *, did_fallback: str | None = None) -> tuple[str, str]:
    """The counter-party's DSP URL and DID from a management request (``counterPartyAddress``,
    ``counterPartyId`` or ``did_fallback``); only DSP 2025-1 is spoken."""
    address = string_of(body, "counterPartyAddress", required=True)
    protocol = string_of(body, "protocol")
    if protocol is not None and protocol != PROTOCOL:
        raise InvalidInput(
            f"protocol '{protocol}' is not spoken here; use {PROTOCOL}",
            field="protocol",
            rule="Tractus-X EDC: DSP 2025-1 (saturn)",
        )
    did = string_of(body, "counterPartyId") or did_fallback
    if not did:
        raise InvalidInput(
            "counterPartyId (the counter-party's DID) is required",
            field="counterPartyId",
            rule="DSP 2025-1: the self-issued token's audience",
        )
    assert address is not None
    if not address.startswith(("https://", "http://")):
        raise InvalidInput("counterPartyAddress must be an http(s) URL", field="counterPartyAddress", rule="DSP")
    return address.rstrip("/"), did


def terminate_unsent(engine: Engine, table: Any, pid: str, state: str, reason: str, *, now: dt.datetime) -> None:
    """End a stored process the counter-party refused (as EDC: it exists, TERMINATED with the reason);
    a process refused before it was stored is an input error."""
    with UnitOfWork(engine) as uow:
        row = uow.conn.execute(select(table).where(table.c.pid == pid)).first()
        if row is None:  # refused before it was stored (e.g. the message failed its schema)
            raise InvalidInput(reason, field="policy", rule="DSP 2025-1 ContractRequestMessage")
        if row.state != state:
            uow.conn.execute(
                update(table)
                .where(table.c.pid == pid)
                .values(state=state, state_count=row.state_count + 1, state_at=now, error_detail=reason)
            )
        uow.commit()


class Negotiations:
    """``/v3/catalog/request`` and ``/v3/contractnegotiations``: ask for catalogs, start
    negotiations, read negotiations and their agreements."""

    def __init__(self, consumer: DspConsumer, *, clock: Clock) -> None:
        self.consumer = consumer
        self.engine = consumer.engine
        self.clock = clock

    async def catalog(self, body: Any) -> dict[str, Any]:
        """``POST /v3/catalog/request``: the counter-party's catalog for this node (all pages),
        its datasets filtered by the ``querySpec``."""
        body = edc_body(body, "CatalogRequest")
        address, did = counterparty(body)
        catalog = await self.consumer.catalog(address, did)
        spec = value_of(body, "querySpec")
        if isinstance(spec, dict) and any(value_of(spec, k) for k in ("filterExpression", "limit", "offset")):
            catalog["dataset"] = query(list(catalog.get("dataset", [])), spec)
        # the provider's contexts (its catalog terms) kept, then the management vocabulary
        given = catalog.get("@context")
        catalog["@context"] = [*(given if isinstance(given, list) else msgs.context()), MANAGEMENT_CONTEXT]
        catalog["originator"] = address
        return catalog

    async def negotiate(self, body: dict[str, Any]) -> str:
        policy = value_of(body, "policy") or value_of(body, "offer")
        if not isinstance(policy, dict):
            raise InvalidInput(
                "a contract request needs the offer's policy", field="policy", rule="EDC ContractRequest"
            )
        offer_id = string_of(policy, "@id", required=True, where="policy.")
        target = string_of(policy, "target", required=True, where="policy.")
        assigner = string_of(policy, "assigner")
        address, did = counterparty(body, did_fallback=assigner)
        assert offer_id is not None and target is not None
        offer = compact_policy({k: v for k, v in policy.items() if k not in ("@context", "assigner", "target")})
        offer["@id"], offer["@type"] = offer_id, "Offer"
        pid = f"urn:uuid:{new_uuid7()}"
        try:
            await self.consumer.negotiate(address, did, offer, target=target, pid=pid)
        except (InvalidInput, ChannelError) as exc:  # the counter-party refused it or did not answer
            # as EDC: the process exists and is TERMINATED with the reason; the caller polls it
            terminate_unsent(
                self.engine, t.negotiations, pid, str(NegotiationState.TERMINATED), exc.message, now=self.clock.now()
            )
        return pid

    async def start_negotiation(self, body: Any) -> dict[str, Any]:
        pid = await self.negotiate(edc_body(body, "ContractRequest"))
        return id_response(pid, self.clock.now())

    def _negotiation_json(self, row: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "@context": MANAGEMENT_CONTEXT,
            "@type": "ContractNegotiation",
            "@id": row.pid,
            "type": "CONSUMER" if row.role == Role.CONSUMER else "PROVIDER",
            "protocol": PROTOCOL,
            "state": row.state,
            "counterPartyId": row.counterparty_did,
            "counterPartyAddress": row.counterparty_address,
            "callbackAddresses": [],
            "createdAt": epoch_ms(row.created_at),
            "stateTimestamp": epoch_ms(row.state_at),
            "assetId": (row.offer or {}).get("target"),
        }
        other = row.provider_pid if row.role == Role.CONSUMER else row.consumer_pid
        if other:
            out["correlationId"] = other
        if row.agreement_id:
            out["contractAgreementId"] = row.agreement_id
        if row.error_detail:
            out["errorDetail"] = row.error_detail
        return out

    def _negotiation_row(self, conn: Connection, pid: str) -> Any:
        row = conn.execute(select(t.negotiations).where(t.negotiations.c.pid == pid)).first()
        if row is None:
            raise NotFound(f"contract negotiation '{pid}' does not exist", rule="EDC /v3/contractnegotiations/{id}")
        return row

    def get_negotiation(self, pid: str) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            return self._negotiation_json(self._negotiation_row(uow.conn, pid))

    def negotiation_state(self, pid: str) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            row = self._negotiation_row(uow.conn, pid)
        return {"@context": MANAGEMENT_CONTEXT, "@type": "NegotiationState", "state": row.state}

    def query_negotiations(self, spec: Any) -> list[dict[str, Any]]:
        with UnitOfWork(self.engine, write=False) as uow:
            rows = uow.conn.execute(select(t.negotiations).order_by(t.negotiations.c.pid)).all()
        return query([self._negotiation_json(r) for r in rows], spec)

    def negotiation_agreement(self, pid: str) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            row = self._negotiation_row(uow.conn, pid)
            ag = (
                uow.conn.execute(select(t.agreements).where(t.agreements.c.id == row.agreement_id)).first()
                if row.agreement_id
                else None
            )
        if ag is None:
            raise NotFound(f"contract negotiation '{pid}' has no agreement yet", rule="EDC /{id}/agreement")
        return self._agreement_json(ag)

    @staticmethod
    def _agreement_json(ag: Any) -> dict[str, Any]:
        return {
            "@context": MANAGEMENT_CONTEXT,
            "@type": "ContractAgreement",
            "@id": ag.id,
            "assetId": ag.asset_id,
            "policy": {k: v for k, v in dict(ag.policy).items() if k != "@context"},
            "contractSigningDate": int(ag.signed_at.timestamp()),
            "consumerId": ag.consumer_did,
            "providerId": ag.provider_did,
        }
