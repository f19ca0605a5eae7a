"""The consumer side of DSP 2025-1 on this node (:class:`DspConsumer`): one protocol step at a
time against another node over HTTPS, with an injected ``httpx.AsyncClient``.

It sends the catalog request, the initial contract request and transfer request, answers the
provider's asynchronous messages at its callback (agreement verification through the outbox),
pulls from the provider's data plane, sends requests through it (``DspConsumer.request``, the
Tractus-X ``HttpData`` proxy pattern: ``proxyMethod``/``proxyPath``/``proxyBody``) and refreshes
its token. Every process is stored, so a restarted node resumes. The whole journey (catalog →
negotiate → transfer → pull, awaiting the callbacks) is :class:`~batpass.dataspace._channel.ConsumerChannels`.

Sources: DSP 2025-1 catalog / negotiation / transfer specifications and their HTTPS bindings;
CX-0018 (Catena-X connector). Knows nothing of passports and nothing of the provider side.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import httpx
from sqlalchemy import Engine, insert, select, update

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import InvalidInput, NotFound
from batpass.core.ids import new_uuid7
from batpass.dataspace import _dsp_messages as msgs
from batpass.dataspace import _sql as t
from batpass.dataspace._common import PULL_FORMAT, DataspaceSettings
from batpass.dataspace._notify import InProcessNotifier
from batpass.dataspace._odrl import normalise_policy
from batpass.dataspace._states import (
    NEGOTIATION,
    TRANSFER,
    InvalidTransition,
    NegotiationMessage,
    TransferMessage,
    next_state,
    transition,
)
from batpass.dataspace.errors import (
    CatalogRefused,
    ChannelError,
    NegotiationRefused,
    NotEntitled,
    PartnerUnreachable,
    PullFailed,
    Stage,
    TransferEnded,
    TransferRefused,
)
from batpass.dataspace.model import (
    DataAddress,
    NegotiationState,
    Participant,
    Role,
    TransferState,
)
from batpass.dataspace.ports import ParticipantVerifier, ProcessNotifier, TokenIssuer
from batpass.store import UnitOfWork, enqueue

__all__ = ["DspConsumer"]


class DspConsumer:
    """The consumer side: drive a negotiation and a transfer against a provider, pull its data."""

    def __init__(
        self,
        engine: Engine,
        *,
        settings: DataspaceSettings,
        verifier: ParticipantVerifier,
        token_issuer: TokenIssuer,
        client: httpx.AsyncClient,
        clock: Clock = SystemClock(),
        notifier: ProcessNotifier | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.verifier = verifier
        self.token_issuer = token_issuer
        self.client = client
        self.clock = clock
        # told of every change of this node's consumer processes (the channel awaits them)
        self.notifier: ProcessNotifier = notifier or InProcessNotifier()
        # the data address each pull last used, by transfer (this worker's memory): a pull reads
        # the store only when it has none or the provider refused it (another worker may have
        # rotated the tokens: the stored address is tried before a refresh)
        self._live: dict[str, tuple[DataAddress, str]] = {}

    async def _post(self, url: str, body: dict[str, Any], audience: str, stage: Stage) -> httpx.Response:
        try:
            return await self.client.post(
                url, json=body, headers={"Authorization": "Bearer " + self.token_issuer.issue(audience=audience)}
            )
        except httpx.HTTPError as exc:
            raise PartnerUnreachable(
                f"{url} unreachable: {type(exc).__name__}", stage=stage, partner=audience, rule="DSP HTTPS binding"
            ) from exc

    @staticmethod
    def _refusal(resp: httpx.Response, what: str, stage: Stage, partner: str) -> ChannelError:
        """The typed error of a provider's answer other than success: a refusal (4xx) of the
        stage, a data-plane 404 (:class:`NotEntitled`) or 401 (:class:`TransferEnded`), a
        connector that is not working (5xx); with the provider's status and reason."""
        try:
            reason = resp.json().get("reason") or resp.text
        except (ValueError, AttributeError):
            reason = resp.text
        if isinstance(reason, list):  # DSP error messages carry a list of reasons
            reason = "; ".join(map(str, reason))
        status = resp.status_code
        if status in (400, 404):
            message, rule = f"{what} refused ({status}): {reason}", "DSP 2025-1 error message"
        else:
            message, rule = f"{what} failed ({status}): {reason}", "DSP 2025-1"
        kind: type[ChannelError]
        if stage is Stage.DATA_PLANE:
            kind = {404: NotEntitled, 401: TransferEnded}.get(status, PullFailed)
        elif status >= 500 or status < 400:
            kind = PartnerUnreachable
        else:
            kind = {Stage.CATALOG: CatalogRefused, Stage.NEGOTIATION: NegotiationRefused}.get(stage, TransferRefused)
        return kind(
            message,
            stage=stage,
            partner=partner,
            partner_status=status,
            reason=str(reason)[:2000],
            rule=rule,
            field=what,
        )

    @staticmethod
    def _answer(resp: httpx.Response, expected: str, stage: Stage, partner: str) -> dict[str, Any]:
        """The provider's successful answer as the DSP message ``expected``; an answer that is
        not one (not JSON, fails its schema) means its connector is not working for this node."""
        try:
            return msgs.check_incoming(resp.json(), expected)
        except (ValueError, InvalidInput) as exc:
            reason = exc.message if isinstance(exc, InvalidInput) else "not JSON"
            raise PartnerUnreachable(
                f"the {stage} answer is not a DSP {expected}: {reason}",
                stage=stage,
                partner=partner,
                partner_status=resp.status_code,
                reason=reason,
                rule=f"DSP 2025-1 {expected}",
            ) from exc

    async def catalog(self, dsp_url: str, provider_did: str, *, max_pages: int = 100) -> dict[str, Any]:
        """The provider's whole catalog for this node, following ``Link: rel="next"`` pages (its
        nested catalogs kept; ``_catalogs`` reads them)."""
        url: str | None = dsp_url.rstrip("/") + "/catalog/request"
        body = msgs.validated({"@context": msgs.context(), "@type": "CatalogRequestMessage", "filter": []})
        merged: dict[str, Any] | None = None
        pages = 0
        while url and pages < max_pages:
            resp = await self._post(url, body, provider_did, Stage.CATALOG)
            if resp.status_code != 200:
                raise self._refusal(resp, "catalog", Stage.CATALOG, provider_did)
            page = self._answer(resp, "Catalog", Stage.CATALOG, provider_did)
            if merged is None:
                merged = page
            else:  # a later page adds datasets and nested catalogs
                for key in ("dataset", "catalog"):
                    if page.get(key):
                        merged.setdefault(key, []).extend(page[key])
            url = resp.links.get("next", {}).get("url")
            pages += 1
        assert merged is not None
        return merged

    async def negotiate(
        self, dsp_url: str, provider_did: str, offer: Mapping[str, Any], *, target: str, pid: str | None = None
    ) -> str:
        """Send the initial ContractRequestMessage; returns this node's (consumer) process id.

        The provider's agreement arrives at the callback; :meth:`negotiation` reports progress.
        ``pid`` lets a caller that must answer with the id even on refusal (the management API)
        choose it.
        """
        pid = pid or f"urn:uuid:{new_uuid7()}"
        offer_body = {k: v for k, v in dict(offer).items() if k != "@context"}
        offer_body["target"] = target
        message = msgs.validated(
            {
                "@context": msgs.context(),
                "@type": "ContractRequestMessage",
                "consumerPid": pid,
                "offer": offer_body,
                "callbackAddress": self.settings.callback_url,
            }
        )
        now = self.clock.now()
        first = transition(NEGOTIATION, Role.CONSUMER, None, NegotiationMessage.REQUEST, count=0, now=now)
        with UnitOfWork(self.engine) as uow:  # stored before sending: the callback may come first
            uow.conn.execute(
                insert(t.negotiations).values(
                    pid=pid,
                    role=Role.CONSUMER,
                    consumer_pid=pid,
                    provider_pid=None,
                    counterparty_did=provider_did,
                    counterparty_bpnl=None,
                    counterparty_address=dsp_url.rstrip("/"),
                    state=first.state,
                    state_count=first.count,
                    state_at=first.at,
                    last_message=None,
                    offer=offer_body,
                    offer_id=offer_body.get("@id"),
                    created_at=now,
                )
            )
            uow.commit()
        await self._send_initial(
            t.negotiations,
            pid,
            dsp_url.rstrip("/") + "/negotiations/request",
            message,
            provider_did,
            terminated=(NegotiationState.TERMINATED, first.count + 1),
            ack_type="ContractNegotiation",
            fail_field="offer",
            stage=Stage.NEGOTIATION,
        )
        return pid

    async def _send_initial(
        self,
        table: Any,
        pid: str,
        url: str,
        message: dict[str, Any],
        counterparty_did: str,
        *,
        terminated: tuple[str, int],
        ack_type: str,
        fail_field: str,
        stage: Stage,
    ) -> None:
        """Send a process's initial request (negotiation or transfer). A refusal terminates the
        stored process with the provider's answer kept (and raises the stage's typed error); an
        acknowledgement records the provider's process id."""
        resp = await self._post(url, message, counterparty_did, stage)
        if resp.status_code not in (200, 201):
            state, count = terminated
            with UnitOfWork(self.engine) as uow:
                uow.conn.execute(
                    update(table)
                    .where(table.c.pid == pid)
                    .values(state=state, state_count=count, state_at=self.clock.now(), error_detail=resp.text[:2000])
                )
                self.notifier.changed(uow, pid)
                uow.commit()
            raise self._refusal(resp, fail_field, stage, counterparty_did)
        ack = self._answer(resp, ack_type, stage, counterparty_did)
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(
                update(table)
                .where(table.c.pid == pid)
                .where(table.c.provider_pid.is_(None))
                .values(provider_pid=ack["providerPid"])
            )
            uow.commit()

    def negotiation(self, pid: str) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            row = uow.conn.execute(
                select(t.negotiations).where(t.negotiations.c.pid == pid).where(t.negotiations.c.role == Role.CONSUMER)
            ).first()
        if row is None:
            raise NotFound(f"no consumer negotiation '{pid}'", rule="consumer negotiations")
        return {
            "pid": row.pid,
            "providerPid": row.provider_pid,
            "state": row.state,
            "agreementId": row.agreement_id,
            "error": row.error_detail,
        }

    def _consumer_row(
        self, conn: Any, table: Any, participant: Participant, consumer_pid: str, provider_pid: str | None
    ) -> Any:
        row = conn.execute(
            select(table).where(table.c.pid == consumer_pid).where(table.c.role == Role.CONSUMER)
        ).first()
        if (
            row is None
            or row.counterparty_did != participant.did
            or (provider_pid and row.provider_pid and row.provider_pid != provider_pid)
        ):
            raise NotFound(
                f"no process '{consumer_pid}' with this participant",
                rule="DSP 2025-1 callbacks: 404",
                providerPid=provider_pid or "",
                consumerPid=consumer_pid,
            )
        return row

    def _apply_consumer(
        self, conn: Any, table: Any, row: Any, machine: Any, sender: Role, message: Any, **extra: Any
    ) -> Any:
        stamp = transition(
            machine, sender, machine.states(row.state), message, count=row.state_count, now=self.clock.now()
        )
        values: dict[str, Any] = {"state": stamp.state, "state_count": stamp.count, "state_at": stamp.at, **extra}
        if sender == Role.PROVIDER:
            values["last_message"] = str(message)
        conn.execute(update(table).where(table.c.pid == row.pid).values(**values))
        return stamp.state

    def on_negotiation_message(
        self, participant: Participant, consumer_pid: str, body: Any, kind: str
    ) -> dict[str, Any]:
        """Provider messages at the callback: ``offers``, ``agreement``, ``events``, ``termination``."""
        expected = {
            "offers": "ContractOfferMessage",
            "agreement": "ContractAgreementMessage",
            "events": "ContractNegotiationEventMessage",
            "termination": "ContractNegotiationTerminationMessage",
        }[kind]
        m = msgs.check_incoming(body, expected)
        if m.get("consumerPid") != consumer_pid:
            raise InvalidInput(
                "consumerPid in the body differs from the path",
                field="consumerPid",
                rule="DSP 2025-1 negotiation callbacks",
            )
        message = {
            "offers": NegotiationMessage.OFFER,
            "agreement": NegotiationMessage.AGREEMENT,
            "termination": NegotiationMessage.TERMINATION,
        }.get(kind) or NegotiationMessage(f"ContractNegotiationEventMessage:{m['eventType']}")
        with UnitOfWork(self.engine) as uow:
            row = self._consumer_row(uow.conn, t.negotiations, participant, consumer_pid, m.get("providerPid"))
            try:
                next_state(NEGOTIATION, Role.PROVIDER, NegotiationState(row.state), message)
            except InvalidTransition as exc:
                if row.last_message == str(message):
                    return msgs.negotiation_ack(row.provider_pid or "", row.pid, row.state)
                exc.details.update(providerPid=row.provider_pid or "", consumerPid=row.pid)
                raise
            extra: dict[str, Any] = {"provider_pid": m["providerPid"]}
            if message is NegotiationMessage.AGREEMENT:
                ag = m["agreement"]
                if ag.get("assignee") != self.settings.did or ag.get("assigner") != participant.did:
                    raise InvalidInput(
                        "the agreement's assignee/assigner are not this node and the provider",
                        field="agreement.assignee",
                        rule="DSP 2025-1 Agreement",
                        providerPid=m["providerPid"],
                        consumerPid=consumer_pid,
                    )
                if normalise_policy(ag) != normalise_policy(row.offer):
                    raise InvalidInput(
                        "the agreement's policy differs from the offer requested",
                        field="agreement",
                        rule="the agreement is the offer agreed",
                        providerPid=m["providerPid"],
                        consumerPid=consumer_pid,
                    )
                extra["agreement_id"] = ag["@id"]
                uow.conn.execute(
                    insert(t.agreements).values(
                        id=ag["@id"],
                        negotiation_pid=row.pid,
                        asset_id=ag["target"],
                        offer_id=row.offer_id or "",
                        provider_did=participant.did,
                        consumer_did=self.settings.did,
                        consumer_bpnl=self.settings.bpnl,
                        policy=ag,
                        signed_at=self.clock.now(),
                    )
                )
            if message is NegotiationMessage.TERMINATION:
                extra["error_detail"] = "; ".join(map(str, m.get("reason", [])))[:2000] or m.get("code")
            state = self._apply_consumer(uow.conn, t.negotiations, row, NEGOTIATION, Role.PROVIDER, message, **extra)
            self.notifier.changed(uow, row.pid)
            if state is NegotiationState.AGREED:  # verify at once, through the outbox
                row = uow.conn.execute(select(t.negotiations).where(t.negotiations.c.pid == row.pid)).one()
                state = self._apply_consumer(
                    uow.conn, t.negotiations, row, NEGOTIATION, Role.CONSUMER, NegotiationMessage.VERIFICATION
                )
                verification = msgs.validated(
                    {
                        "@context": msgs.context(),
                        "@type": "ContractAgreementVerificationMessage",
                        "providerPid": row.provider_pid,
                        "consumerPid": row.pid,
                    }
                )
                enqueue(
                    uow,
                    kind="dsp.negotiation.verification",
                    destination=row.counterparty_address + f"/negotiations/{row.provider_pid}/agreement/verification",
                    body=verification,
                    idempotency_key=f"{row.pid}:verification",
                    headers={
                        "Authorization": "Bearer " + self.token_issuer.issue(audience=participant.did),
                        "Content-Type": "application/json",
                    },
                )
            uow.commit()
        return msgs.negotiation_ack(m["providerPid"], consumer_pid, state)

    async def transfer(self, agreement_id: str, *, pid: str | None = None) -> str:
        """Send a TransferRequestMessage (HttpData-PULL) for an agreement this node holds
        (``pid``: as for :meth:`negotiate`)."""
        with UnitOfWork(self.engine, write=False) as uow:
            ag = uow.conn.execute(
                select(t.agreements)
                .where(t.agreements.c.id == agreement_id)
                .where(t.agreements.c.consumer_did == self.settings.did)
            ).first()
            neg = (
                None
                if ag is None
                else uow.conn.execute(select(t.negotiations).where(t.negotiations.c.pid == ag.negotiation_pid)).first()
            )
        if ag is None or neg is None or neg.state != NegotiationState.FINALIZED:
            raise InvalidInput(
                f"no finalized agreement '{agreement_id}' on this node",
                field="agreementId",
                rule="DSP 2025-1: a transfer needs a finalized agreement",
            )
        pid = pid or f"urn:uuid:{new_uuid7()}"
        now = self.clock.now()
        first = transition(TRANSFER, Role.CONSUMER, None, TransferMessage.REQUEST, count=0, now=now)
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(
                insert(t.transfers).values(
                    pid=pid,
                    role=Role.CONSUMER,
                    consumer_pid=pid,
                    provider_pid=None,
                    agreement_id=agreement_id,
                    format=PULL_FORMAT,
                    counterparty_did=ag.provider_did,
                    counterparty_bpnl=None,
                    counterparty_address=neg.counterparty_address,
                    state=first.state,
                    state_count=first.count,
                    state_at=first.at,
                    last_message=None,
                    created_at=now,
                )
            )
            uow.commit()
        message = msgs.validated(
            {
                "@context": msgs.context(),
                "@type": "TransferRequestMessage",
                "consumerPid": pid,
                "agreementId": agreement_id,
                "format": PULL_FORMAT,
                "callbackAddress": self.settings.callback_url,
            }
        )
        await self._send_initial(
            t.transfers,
            pid,
            neg.counterparty_address + "/transfers/request",
            message,
            ag.provider_did,
            terminated=(TransferState.TERMINATED, first.count + 1),
            ack_type="TransferProcess",
            fail_field="agreementId",
            stage=Stage.TRANSFER,
        )
        return pid

    def started_channel(
        self, partner: str, asset: str, *, skip: frozenset[str] = frozenset()
    ) -> tuple[str, str, str, str] | None:
        """The newest transfer this node started as the consumer of ``partner``'s ``asset`` that
        is still STARTED with a data address (a channel another worker of the node, or the node
        before a restart, opened), its pid not in ``skip``: (negotiation pid, agreement id,
        transfer pid, the provider's DSP URL), or None."""
        query = (
            select(
                t.agreements.c.negotiation_pid, t.agreements.c.id, t.transfers.c.pid, t.transfers.c.counterparty_address
            )
            .select_from(t.transfers.join(t.agreements, t.agreements.c.id == t.transfers.c.agreement_id))
            .where(
                t.transfers.c.role == Role.CONSUMER,
                t.transfers.c.state == TransferState.STARTED,
                t.transfers.c.data_address.is_not(None),
                t.agreements.c.asset_id == asset,
                t.agreements.c.provider_did == partner,
                t.agreements.c.consumer_did == self.settings.did,
            )
            .order_by(t.transfers.c.state_at.desc())
        )
        with UnitOfWork(self.engine, write=False) as uow:
            for row in uow.conn.execute(query.limit(len(skip) + 1)):
                if row.pid not in skip:
                    return str(row.negotiation_pid), str(row.id), str(row.pid), str(row.counterparty_address)
        return None

    def transfer_state(self, pid: str) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            row = uow.conn.execute(
                select(t.transfers).where(t.transfers.c.pid == pid).where(t.transfers.c.role == Role.CONSUMER)
            ).first()
        if row is None:
            raise NotFound(f"no consumer transfer '{pid}'", rule="consumer transfers")
        return {
            "pid": row.pid,
            "providerPid": row.provider_pid,
            "state": row.state,
            "error": row.error_detail,
            "hasDataAddress": row.data_address is not None,
        }

    def on_transfer_message(self, participant: Participant, consumer_pid: str, body: Any, kind: str) -> dict[str, Any]:
        """Provider messages at the callback: start (with the data address), completion, suspension, termination."""
        self._live.pop(consumer_pid, None)  # a pull reads the address this message leaves in the store
        message = TransferMessage(
            {
                "start": "TransferStartMessage",
                "completion": "TransferCompletionMessage",
                "suspension": "TransferSuspensionMessage",
                "termination": "TransferTerminationMessage",
            }[kind]
        )
        m = msgs.check_incoming(body, str(message))
        if m.get("consumerPid") != consumer_pid:
            raise InvalidInput(
                "consumerPid in the body differs from the path",
                field="consumerPid",
                rule="DSP 2025-1 transfer callbacks",
            )
        with UnitOfWork(self.engine) as uow:
            row = self._consumer_row(uow.conn, t.transfers, participant, consumer_pid, m.get("providerPid"))
            try:
                next_state(TRANSFER, Role.PROVIDER, TransferState(row.state), message)
            except InvalidTransition as exc:
                if row.last_message == str(message) and message is not TransferMessage.START:
                    return msgs.transfer_ack(row.provider_pid or "", row.pid, row.state)
                exc.details.update(providerPid=row.provider_pid or "", consumerPid=row.pid)
                raise
            extra: dict[str, Any] = {"provider_pid": m["providerPid"]}
            if message is TransferMessage.START and "dataAddress" in m:
                props = {p["name"]: p["value"] for p in m["dataAddress"].get("endpointProperties", [])}
                if "authorization" not in props or "endpoint" not in m["dataAddress"]:
                    raise InvalidInput(
                        "a pull data address needs an endpoint and an authorization token",
                        field="dataAddress",
                        rule="DSP 2025-1 DataAddress (HttpData-PULL)",
                        providerPid=m["providerPid"],
                        consumerPid=consumer_pid,
                    )
                expires = self.clock.now() + dt.timedelta(seconds=int(props.get("expiresIn", "300")))
                extra["data_address"] = {
                    "endpoint": m["dataAddress"]["endpoint"],
                    "token": props["authorization"],
                    "refresh_token": props.get("refreshToken"),
                    "refresh_endpoint": props.get("refreshEndpoint"),
                    "expires_at": expires.isoformat(),
                }
            if message in (TransferMessage.TERMINATION, TransferMessage.SUSPENSION):
                extra["error_detail"] = "; ".join(map(str, m.get("reason", [])))[:2000] or m.get("code")
            state = self._apply_consumer(uow.conn, t.transfers, row, TRANSFER, Role.PROVIDER, message, **extra)
            self.notifier.changed(uow, row.pid)
            uow.commit()
        return msgs.transfer_ack(m["providerPid"], consumer_pid, state)

    def data_address(self, pid: str) -> DataAddress | None:
        return self._address(pid)[0]

    def _address(self, pid: str) -> tuple[DataAddress | None, str]:
        """The stored data address of a transfer (``None`` before its start) and its provider."""
        with UnitOfWork(self.engine, write=False) as uow:
            row = uow.conn.execute(
                select(t.transfers.c.data_address, t.transfers.c.counterparty_did).where(t.transfers.c.pid == pid)
            ).first()
        if row is None or row.data_address is None:
            return None, row.counterparty_did if row is not None else ""
        raw = row.data_address
        address = DataAddress(
            endpoint=raw["endpoint"],
            token=raw["token"],
            refresh_token=raw.get("refresh_token"),
            refresh_endpoint=raw.get("refresh_endpoint"),
            expires_at=dt.datetime.fromisoformat(raw["expires_at"]) if raw.get("expires_at") else None,
        )
        return address, row.counterparty_did

    def _started(self, pid: str, rule: str) -> tuple[DataAddress, str]:
        address, partner = self._address(pid)
        if address is None:
            raise InvalidInput(f"transfer '{pid}' has no data address yet (not started)", field="pid", rule=rule)
        return address, partner

    async def pull(self, pid: str, *, query: Mapping[str, str] | None = None, timeout_s: float | None = None) -> Any:
        """Fetch the data of a started transfer; refresh the token once if it expired.

        ``query`` goes to the data plane as query parameters (the provider's source reads them);
        ``timeout_s`` replaces the client's timeout for this pull (a source that takes its time,
        such as a federated question with a long deadline);
        the transfer and its token serve any number of pulls while it is started. A refusal is
        :class:`NotEntitled` (404), :class:`TransferEnded` (401 even after a refresh: the
        provider ended the transfer) or :class:`PullFailed`; no answer is
        :class:`PartnerUnreachable`."""
        rule = "DSP 2025-1: pull after TransferStartMessage"
        kept = self._live.get(pid)
        address, partner = kept if kept is not None else self._started(pid, rule)
        params = dict(query or {})
        resp = await self._get(address.endpoint, address.token, params, partner, timeout_s)
        if resp.status_code == 401 and kept is not None:  # the stored address may be newer
            address, partner = self._started(pid, rule)
            if address.token != kept[0].token:
                resp = await self._get(address.endpoint, address.token, params, partner, timeout_s)
        if resp.status_code == 401 and address.refresh_token and address.refresh_endpoint:
            address = await self._refresh(pid, address, partner)
            resp = await self._get(address.endpoint, address.token, params, partner, timeout_s)
        if resp.status_code != 200:
            self._live.pop(pid, None)
            raise self._refusal(resp, "data plane", Stage.DATA_PLANE, partner)
        if len(self._live) >= 4096:
            self._live.clear()
        self._live[pid] = (address, partner)
        try:
            return resp.json()
        except ValueError as exc:
            raise PullFailed(
                "the data plane's answer is not JSON",
                stage=Stage.DATA_PLANE,
                partner=partner,
                partner_status=resp.status_code,
                reason=resp.text[:200],
                rule="data plane: a JSON answer",
            ) from exc

    async def request(
        self,
        pid: str,
        method: str,
        *,
        path: str = "",
        query: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        """Send one request through a started transfer's data plane (``method`` on the endpoint
        plus ``path``, the query, a JSON body) with its bearer token; refresh the token once if it
        expired. The response is returned as is: its status is the provider source's answer."""
        address, partner = self._started(pid, "DSP 2025-1: the data plane after TransferStartMessage")
        url = address.endpoint.rstrip("/") + ("/" + path.lstrip("/") if path else "")

        async def send(token: str) -> httpx.Response:
            try:
                return await self.client.request(
                    method.upper(),
                    url,
                    params=dict(query or {}),
                    json=body if body is not None else None,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError as exc:
                raise PartnerUnreachable(
                    f"data plane {url} unreachable: {type(exc).__name__}",
                    stage=Stage.DATA_PLANE,
                    partner=partner,
                    rule="data plane",
                ) from exc

        resp = await send(address.token)
        if resp.status_code == 401 and address.refresh_token and address.refresh_endpoint:
            address = await self._refresh(pid, address, partner)
            resp = await send(address.token)
        return resp

    async def _get(
        self, url: str, token: str, params: Mapping[str, str], partner: str, timeout_s: float | None = None
    ) -> httpx.Response:
        timeout = httpx.Timeout(timeout_s) if timeout_s is not None else httpx.USE_CLIENT_DEFAULT
        try:
            return await self.client.get(
                url, params=dict(params), headers={"Authorization": f"Bearer {token}"}, timeout=timeout
            )
        except httpx.HTTPError as exc:
            raise PartnerUnreachable(
                f"data plane {url} unreachable: {type(exc).__name__}",
                stage=Stage.DATA_PLANE,
                partner=partner,
                rule="data plane",
            ) from exc

    async def refresh_data_address(self, pid: str) -> DataAddress:
        """Rotate the tokens of a started transfer at the provider's refresh endpoint now."""
        address, partner = self._address(pid)
        if address is None or not address.refresh_token or not address.refresh_endpoint:
            raise InvalidInput(
                f"transfer '{pid}' has no refreshable data address",
                field="pid",
                rule="DSP 2025-1 DataAddress (refreshToken, refreshEndpoint)",
            )
        return await self._refresh(pid, address, partner)

    async def _refresh(self, pid: str, address: DataAddress, partner: str) -> DataAddress:
        assert address.refresh_endpoint and address.refresh_token
        try:
            resp = await self.client.post(
                address.refresh_endpoint, data={"grant_type": "refresh_token", "refresh_token": address.refresh_token}
            )
        except httpx.HTTPError as exc:
            raise PartnerUnreachable(
                "token refresh failed", stage=Stage.DATA_PLANE, partner=partner, rule="data plane"
            ) from exc
        if resp.status_code != 200:
            raise self._refusal(resp, "refresh_token", Stage.DATA_PLANE, partner)
        tok = resp.json()
        expires = self.clock.now() + dt.timedelta(seconds=int(tok["expires_in"]))
        raw = {
            "endpoint": address.endpoint,
            "token": tok["access_token"],
            "refresh_token": tok["refresh_token"],
            "refresh_endpoint": address.refresh_endpoint,
            "expires_at": expires.isoformat(),
        }
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(update(t.transfers).where(t.transfers.c.pid == pid).values(data_address=raw))
            uow.commit()
        fresh = DataAddress(
            endpoint=address.endpoint,
            token=raw["token"],
            refresh_token=raw["refresh_token"],
            refresh_endpoint=address.refresh_endpoint,
            expires_at=expires,
        )
        self._live[pid] = (fresh, partner)
        return fresh

    def send_transfer_message(self, pid: str, kind: str, *, reason: str | None = None) -> str:
        """Complete, suspend, terminate or resume one of this consumer's transfers (by outbox)."""
        message = TransferMessage(
            {
                "start": "TransferStartMessage",
                "completion": "TransferCompletionMessage",
                "suspension": "TransferSuspensionMessage",
                "termination": "TransferTerminationMessage",
            }[kind]
        )
        with UnitOfWork(self.engine) as uow:
            row = uow.conn.execute(
                select(t.transfers).where(t.transfers.c.pid == pid).where(t.transfers.c.role == Role.CONSUMER)
            ).first()
            if row is None or row.provider_pid is None:
                raise NotFound(f"no consumer transfer '{pid}' known to its provider", rule="consumer transfers")
            state = self._apply_consumer(uow.conn, t.transfers, row, TRANSFER, Role.CONSUMER, message)
            self.notifier.changed(uow, row.pid)
            body: dict[str, Any] = {
                "@context": msgs.context(),
                "@type": str(message),
                "providerPid": row.provider_pid,
                "consumerPid": row.pid,
            }
            if reason and message in (TransferMessage.TERMINATION, TransferMessage.SUSPENSION):
                body["reason"] = [reason]
            enqueue(
                uow,
                kind=f"dsp.transfer.{kind}",
                destination=row.counterparty_address + f"/transfers/{row.provider_pid}/{kind}",
                body=msgs.validated(body),
                idempotency_key=f"{row.pid}:{kind}:{row.state_count + 1}",
                headers={
                    "Authorization": "Bearer " + self.token_issuer.issue(audience=row.counterparty_did),
                    "Content-Type": "application/json",
                },
            )
            uow.commit()
        return str(state)
