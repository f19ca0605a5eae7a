"""The provider side of DSP 2025-1 on this node: catalog, contract negotiation, transfer process
and data plane (:class:`DspProvider`).

The catalog is filtered in the database; negotiation and transfer are driven by the tables of
``_states``; agreements are stored; data-plane tokens are short-lived and refreshable. This
provider agrees as soon as a request matches an offer the requester may see and whose usage
policy it satisfies, and starts a transfer as soon as it is requested for a valid agreement; both
replies go to the consumer's callback through the outbox (written in the same transaction, sent
after commit). The data plane serves a pull (``GET /api/public``) and, for a
:class:`~batpass.dataspace.ports.ProxyAssetSource`, requests with a method, a sub-path and a body
(the Tractus-X ``HttpData`` proxy pattern of CX-0018 that the CX-0136 PCF exchange relies on);
the same transfer token authorises both.

Sources: DSP 2025-1 catalog / negotiation / transfer specifications and their HTTPS bindings;
CX-0018 (Catena-X connector), CX-0152 (policies). Knows nothing of passports and nothing of the
consumer side: asset content comes from :class:`~batpass.dataspace.ports.AssetSource` providers
registered by name.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from batpass.core.clock import Clock, SystemClock
from batpass.core.errors import InvalidInput, NotFound, Unauthorized
from batpass.core.ids import new_uuid7
from batpass.dataspace import _dsp_messages as msgs
from batpass.dataspace import _sql as t
from batpass.dataspace._common import HTTP_ENDPOINT_TYPE, PULL_FORMAT, DataspaceSettings
from batpass.dataspace._contact import ContactHooks
from batpass.dataspace._grants import live_grant
from batpass.dataspace._odrl import EvaluationContext, evaluate, normalise_policy, project_access
from batpass.dataspace._states import (
    NEGOTIATION,
    TRANSFER,
    InvalidTransition,
    NegotiationMessage,
    TransferMessage,
    next_state,
    transition,
)
from batpass.dataspace.errors import ExpiredToken, PolicyNotSatisfied
from batpass.dataspace.model import (
    Asset,
    DataPlaneReply,
    NegotiationState,
    OfferDefinition,
    Participant,
    Role,
    TransferState,
)
from batpass.dataspace.ports import (
    AssetSource,
    ParticipantVerifier,
    ProxyAssetSource,
    QueryAssetSource,
    TokenIssuer,
)
from batpass.store import UnitOfWork, enqueue

__all__ = ["DspProvider"]

#: access tokens a worker remembers as checked (each only until it expires)
_GRANTS_MAX = 4096


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _cursor_encode(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def _cursor_decode(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except Exception as exc:
        raise InvalidInput(
            "the continuation token is not one this node issued",
            field="continuationToken",
            rule="DSP catalog pagination",
        ) from exc


class DspProvider:
    """The provider side of DSP 2025-1 on this node (catalog, negotiation, transfer, data plane)."""

    def __init__(
        self,
        engine: Engine,
        *,
        settings: DataspaceSettings,
        verifier: ParticipantVerifier,
        token_issuer: TokenIssuer,
        sources: Mapping[str, AssetSource] | None = None,
        clock: Clock = SystemClock(),
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.verifier = verifier
        self.token_issuer = token_issuer
        self.sources: dict[str, AssetSource] = dict(sources or {})
        self.clock = clock
        # access token (its SHA-256) → (its expiry, its agreement): checked in full once per token
        # and worker, then only for revocation and the transfer's state (see _authorise)
        self._grants: dict[str, tuple[dt.datetime, Any]] = {}
        # told of each verified catalog or contract request (the routes call ``contacts.note``)
        self.contacts = ContactHooks()

    # -- administration ---------------------------------------------------------------------

    def register_source(self, name: str, source: AssetSource) -> None:
        self.sources[name] = source

    def register_asset(self, asset: Asset) -> None:
        """Create or replace an asset (its content stays with its source)."""
        with UnitOfWork(self.engine) as uow:
            exists_ = uow.conn.execute(select(t.assets.c.id).where(t.assets.c.id == asset.id)).first()
            values = dict(
                source=asset.source, source_key=asset.source_key, title=asset.title, properties=dict(asset.properties)
            )
            if exists_:
                uow.conn.execute(update(t.assets).where(t.assets.c.id == asset.id).values(**values))
            else:
                uow.conn.execute(insert(t.assets).values(id=asset.id, created_at=self.clock.now(), **values))
            uow.commit()

    def register_offer(self, offer: OfferDefinition) -> None:
        """Create or replace an offer; its access policy is projected to SQL gates (exactly)."""
        with UnitOfWork(self.engine) as uow:
            self.store_offer(uow.conn, offer)
            uow.commit()

    def store_offer(self, conn: Any, offer: OfferDefinition) -> None:
        """Write an offer and its access gates in the caller's transaction (``register_offer``
        and the management API's contract definitions)."""
        gates = project_access(offer.access_policy)
        if not offer.usage_policy.get("permission") and not offer.usage_policy.get("prohibition"):
            raise InvalidInput(
                "a usage policy needs a permission or a prohibition",
                field="usage_policy",
                rule="DSP 2025-1 contract-schema Offer",
            )
        if conn.execute(select(t.assets.c.id).where(t.assets.c.id == offer.asset_id)).first() is None:
            raise InvalidInput(
                f"asset '{offer.asset_id}' is not registered",
                field="asset_id",
                rule="an offer names a registered asset",
            )
        conn.execute(delete(t.offer_gates).where(t.offer_gates.c.offer_id == offer.id))
        conn.execute(delete(t.offers).where(t.offers.c.id == offer.id))
        conn.execute(
            insert(t.offers).values(
                id=offer.id,
                asset_id=offer.asset_id,
                access_policy=dict(offer.access_policy),
                usage_policy=dict(offer.usage_policy),
                created_at=self.clock.now(),
                **t.gate_values(gates),
            )
        )
        rows = [{"offer_id": offer.id, "kind": k, "value": v} for k, v in gates.rows()]
        if rows:
            conn.execute(insert(t.offer_gates), rows)

    def set_groups(self, bpnl: str, groups: frozenset[str]) -> None:
        """Put a partner's BPNL in the given BusinessPartnerGroups (replaces its groups)."""
        with UnitOfWork(self.engine) as uow:
            uow.conn.execute(delete(t.bpn_groups).where(t.bpn_groups.c.bpnl == bpnl))
            if groups:
                uow.conn.execute(insert(t.bpn_groups), [{"bpnl": bpnl, "group_name": g} for g in sorted(groups)])
            uow.commit()

    def offers(self) -> list[tuple[str, str]]:
        """(offer id, asset id) of every registered offer, by offer id."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.offers.c.id, t.offers.c.asset_id).order_by(t.offers.c.id))
            return [(r.id, r.asset_id) for r in rows]

    def _groups(self, conn: Any, bpnl: str | None) -> frozenset[str]:
        if not bpnl:
            return frozenset()
        rows = conn.execute(select(t.bpn_groups.c.group_name).where(t.bpn_groups.c.bpnl == bpnl))
        return frozenset(r[0] for r in rows)

    def _ctx(self, conn: Any, participant: Participant) -> EvaluationContext:
        return EvaluationContext(participant, self._groups(conn, participant.bpnl), self.clock.now())

    # -- catalog ----------------------------------------------------------------------------

    def _visible(
        self, conn: Any, participant: Participant, *, after: str | None, limit: int, offer_ids: list[str] | None = None
    ) -> list[Any]:
        return self._visible_page(conn, participant, after=after, limit=limit, offer_ids=offer_ids)[0]

    def _visible_page(
        self, conn: Any, participant: Participant, *, after: str | None, limit: int, offer_ids: list[str] | None = None
    ) -> tuple[list[Any], str | None]:
        """The offers the participant may see, and the id the next page starts after: the last
        row the database gave when the page was full, even if the evaluator then drops it (the
        SQL gates check a framework credential's type; the evaluator also its contractVersion)."""
        ctx = self._ctx(conn, participant)
        rows = t.visible_offers(
            conn,
            bpnl=participant.bpnl,
            groups=sorted(ctx.groups),
            credentials=sorted(participant.memberships),
            now=ctx.now,
            after=after,
            limit=limit,
            offer_ids=offer_ids,
        )
        last = rows[-1].id if rows and len(rows) == limit else None
        # defence in depth: the full evaluator agrees with the SQL gates (property-tested)
        return [r for r in rows if evaluate(r.access_policy, ctx).allowed], last

    def _dataset(
        self, asset_id: str, title: str | None, properties: Mapping[str, Any], offer_rows: list[Any]
    ) -> dict[str, Any]:
        ds: dict[str, Any] = {"@id": asset_id, "@type": "Dataset"}
        if title:
            ds["title"] = title
        for key, value in properties.items():  # under a term, an IRI or the EDC vocabulary
            ds[msgs.catalog_key(key)] = value
        ds["hasPolicy"] = [self._offer_json(r) for r in offer_rows]
        ds["distribution"] = [{"@type": "Distribution", "format": PULL_FORMAT, "accessService": self._service_id}]
        return ds

    @property
    def _service_id(self) -> str:
        return self.settings.did + "#dsp"

    @staticmethod
    def _offer_json(row: Any) -> dict[str, Any]:
        policy = {k: v for k, v in dict(row.usage_policy).items() if k not in ("@context", "target", "@id")}
        policy["@id"] = row.id
        policy["@type"] = "Offer"
        return policy

    def catalog(
        self, participant: Participant, *, limit: int = 100, cursor: str | None = None
    ) -> tuple[dict[str, Any], str | None]:
        """The catalog page the participant may see, and the continuation token of the next page."""
        if not 1 <= limit <= self.settings.max_page:
            raise InvalidInput(
                f"page size {limit} outside 1..{self.settings.max_page}", field="limit", rule="DSP catalog pagination"
            )
        after = _cursor_decode(cursor) if cursor else None
        with UnitOfWork(self.engine, write=False) as uow:
            rows, last = self._visible_page(uow.conn, participant, after=after, limit=limit)
        by_asset: dict[str, list[Any]] = {}
        meta: dict[str, Any] = {}
        for r in rows:
            by_asset.setdefault(r.asset_id, []).append(r)
            meta[r.asset_id] = r
        catalog: dict[str, Any] = {
            "@context": msgs.catalog_context(),
            "@id": f"urn:uuid:{new_uuid7()}",
            "@type": "Catalog",
            "participantId": self.settings.did,
            "service": [{"@id": self._service_id, "@type": "DataService", "endpointURL": self.settings.dsp_url}],
        }
        if by_asset:
            catalog["dataset"] = [
                self._dataset(aid, meta[aid].title, meta[aid].properties, rs) for aid, rs in by_asset.items()
            ]
        next_cursor = _cursor_encode(last) if last else None
        return msgs.validated_catalog(catalog), next_cursor

    def dataset(self, participant: Participant, dataset_id: str) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            offer_ids = [r[0] for r in uow.conn.execute(select(t.offers.c.id).where(t.offers.c.asset_id == dataset_id))]
            rows = (
                self._visible(uow.conn, participant, after=None, limit=self.settings.max_page, offer_ids=offer_ids)
                if offer_ids
                else []
            )
        if not rows:
            raise NotFound(
                f"dataset '{dataset_id}' is unknown or not offered to this participant",
                rule="DSP 2025-1 catalog: GET /catalog/datasets/:id",
            )
        ds = self._dataset(dataset_id, rows[0].title, rows[0].properties, rows)
        ds["@context"] = msgs.catalog_context()
        return msgs.validated(ds, "Dataset")

    # -- negotiation ------------------------------------------------------------------------

    def _agree(self, uow: UnitOfWork, current: Any, offer_row: Any, participant: Participant) -> Any:
        """Agree on ``offer_row`` in negotiation ``current`` (its usage policy satisfied): store the
        agreement, move to AGREED and send the ``ContractAgreementMessage`` by outbox, in ``uow``."""
        now = self.clock.now()
        pid, consumer_pid = current.pid, current.consumer_pid
        agreement_id = f"urn:uuid:{new_uuid7()}"
        policy = {k: v for k, v in dict(offer_row.usage_policy).items() if k not in ("@context", "@id", "@type")}
        agreement = {
            "@id": agreement_id,
            "@type": "Agreement",
            **policy,
            "target": offer_row.asset_id,
            "assigner": self.settings.did,
            "assignee": participant.did,
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        uow.conn.execute(
            insert(t.agreements).values(
                id=agreement_id,
                negotiation_pid=pid,
                asset_id=offer_row.asset_id,
                offer_id=offer_row.id,
                provider_did=self.settings.did,
                consumer_did=participant.did,
                consumer_bpnl=participant.bpnl,
                policy=agreement,
                signed_at=now,
            )
        )
        state = self._apply(
            uow.conn,
            t.negotiations,
            current,
            NEGOTIATION,
            Role.PROVIDER,
            NegotiationMessage.AGREEMENT,
            agreement_id=agreement_id,
        )
        message = msgs.validated(
            {
                "@context": msgs.context(),
                "@type": "ContractAgreementMessage",
                "providerPid": pid,
                "consumerPid": consumer_pid,
                "agreement": agreement,
            }
        )
        self._send(
            uow,
            "dsp.negotiation.agreement",
            current.counterparty_address + f"/negotiations/{consumer_pid}/agreement",
            message,
            participant.did,
            f"{pid}:agreement",
        )
        return state

    def _negotiation_row(
        self, conn: Any, participant: Participant, provider_pid: str, consumer_pid: str | None = None
    ) -> Any:
        row = conn.execute(
            select(t.negotiations)
            .where(t.negotiations.c.pid == provider_pid)
            .where(t.negotiations.c.role == Role.PROVIDER)
        ).first()
        if (
            row is None
            or row.counterparty_did != participant.did
            or (consumer_pid is not None and consumer_pid != row.consumer_pid)
        ):
            # another participant's process is answered exactly like an unknown one
            raise NotFound(
                f"no contract negotiation '{provider_pid}'",
                rule="DSP 2025-1 negotiation binding: 404",
                providerPid=provider_pid,
                consumerPid=consumer_pid or "",
            )
        return row

    def _apply(self, conn: Any, table: Any, row: Any, machine: Any, sender: Role, message: Any, **extra: Any) -> Any:
        stamp = transition(
            machine, sender, machine.states(row.state), message, count=row.state_count, now=self.clock.now()
        )
        values: dict[str, Any] = {"state": stamp.state, "state_count": stamp.count, "state_at": stamp.at, **extra}
        if sender != Role(row.role):  # remember the last message received from the counterparty
            values["last_message"] = str(message)
        conn.execute(update(table).where(table.c.pid == row.pid).values(**values))
        return stamp.state

    def _repeat_or_raise(self, row: Any, machine: Any, sender: Role, message: Any) -> bool:
        """True when ``message`` repeats the last one received and the state has moved on."""
        try:
            next_state(machine, sender, machine.states(row.state), message)
        except InvalidTransition as exc:
            if row.last_message == str(message):
                return True
            exc.details.update(providerPid=row.provider_pid or "", consumerPid=row.consumer_pid)
            raise
        return False

    def get_negotiation(self, participant: Participant, provider_pid: str) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            row = self._negotiation_row(uow.conn, participant, provider_pid)
        return msgs.negotiation_ack(row.pid, row.consumer_pid, row.state)

    def request_negotiation(self, participant: Participant, body: Any) -> tuple[dict[str, Any], int]:
        """``POST /negotiations/request`` (initial ContractRequestMessage): agree or refuse."""
        m = msgs.check_incoming(body, "ContractRequestMessage")
        if "providerPid" in m:
            raise InvalidInput(
                "an initial contract request has no providerPid",
                field="providerPid",
                rule="DSP 2025-1 negotiation binding: POST /negotiations/request",
            )
        consumer_pid, offer = m["consumerPid"], m["offer"]
        with UnitOfWork(self.engine) as uow:
            existing = uow.conn.execute(
                select(t.negotiations)
                .where(t.negotiations.c.role == Role.PROVIDER)
                .where(t.negotiations.c.consumer_pid == consumer_pid)
                .where(t.negotiations.c.counterparty_did == participant.did)
            ).first()
            if existing is not None:  # a repeated initial request: same process, nothing changes
                return msgs.negotiation_ack(existing.pid, consumer_pid, existing.state), 200
            visible = self._visible(uow.conn, participant, after=None, limit=1, offer_ids=[offer["@id"]])
            if not visible:
                raise PolicyNotSatisfied(
                    f"offer '{offer['@id']}' is not in this participant's catalog",
                    rule="DSP 2025-1: the offer must come from the provider's catalog",
                    consumerPid=consumer_pid,
                )
            row = visible[0]
            if offer.get("target", row.asset_id) != row.asset_id:
                raise PolicyNotSatisfied(
                    f"offer target '{offer.get('target')}' is not the offer's dataset",
                    rule="DSP 2025-1 Offer.target",
                    consumerPid=consumer_pid,
                )
            if normalise_policy(offer) != normalise_policy(row.usage_policy):
                raise PolicyNotSatisfied(
                    "the requested policy does not match the offer",
                    rule="the consumer accepts the offer's policy unchanged",
                    consumerPid=consumer_pid,
                )
            decision = evaluate(row.usage_policy, self._ctx(uow.conn, participant))
            if not decision.allowed:
                raise PolicyNotSatisfied(
                    "usage policy not satisfied: " + "; ".join(decision.failures),
                    rule="CX-0152 usage policy",
                    consumerPid=consumer_pid,
                )
            now = self.clock.now()
            pid = f"urn:uuid:{new_uuid7()}"
            first = transition(NEGOTIATION, Role.CONSUMER, None, NegotiationMessage.REQUEST, count=0, now=now)
            uow.conn.execute(
                insert(t.negotiations).values(
                    pid=pid,
                    role=Role.PROVIDER,
                    consumer_pid=consumer_pid,
                    provider_pid=pid,
                    counterparty_did=participant.did,
                    counterparty_bpnl=participant.bpnl,
                    counterparty_address=m["callbackAddress"].rstrip("/"),
                    state=first.state,
                    state_count=first.count,
                    state_at=first.at,
                    last_message=str(NegotiationMessage.REQUEST),
                    offer=dict(offer),
                    offer_id=row.id,
                    created_at=now,
                )
            )
            # the provider agrees at once (the policy is satisfied): the agreement goes out by outbox
            current = uow.conn.execute(select(t.negotiations).where(t.negotiations.c.pid == pid)).one()
            state = self._agree(uow, current, row, participant)
            uow.commit()
        return msgs.negotiation_ack(pid, consumer_pid, state), 201

    def _send(self, uow: UnitOfWork, kind: str, url: str, body: dict[str, Any], audience: str, key: str) -> None:
        enqueue(
            uow,
            kind=kind,
            destination=url,
            body=body,
            idempotency_key=key,
            headers={
                "Authorization": "Bearer " + self.token_issuer.issue(audience=audience),
                "Content-Type": "application/json",
            },
        )

    def negotiation_message(self, participant: Participant, provider_pid: str, body: Any, kind: str) -> dict[str, Any]:
        """Consumer messages on an existing negotiation: ``request`` (counter-offer), ``events``,
        ``agreement/verification``, ``termination``."""
        expected = {
            "request": "ContractRequestMessage",
            "events": "ContractNegotiationEventMessage",
            "verification": "ContractAgreementVerificationMessage",
            "termination": "ContractNegotiationTerminationMessage",
        }[kind]
        m = msgs.check_incoming(body, expected)
        if m.get("providerPid") != provider_pid:
            raise InvalidInput(
                "providerPid in the body differs from the path",
                field="providerPid",
                rule="DSP 2025-1 negotiation binding",
            )
        message = {
            "request": NegotiationMessage.REQUEST,
            "verification": NegotiationMessage.VERIFICATION,
            "termination": NegotiationMessage.TERMINATION,
        }.get(kind) or NegotiationMessage(f"ContractNegotiationEventMessage:{m['eventType']}")
        with UnitOfWork(self.engine) as uow:
            row = self._negotiation_row(uow.conn, participant, provider_pid, m["consumerPid"])
            if self._repeat_or_raise(row, NEGOTIATION, Role.CONSUMER, message):
                return msgs.negotiation_ack(row.pid, row.consumer_pid, row.state)
            extra = (
                {"error_detail": "; ".join(map(str, m.get("reason", [])))[:2000] or m.get("code")}
                if message is NegotiationMessage.TERMINATION
                else {}
            )
            state = self._apply(uow.conn, t.negotiations, row, NEGOTIATION, Role.CONSUMER, message, **extra)
            if state is NegotiationState.ACCEPTED:  # an offer this provider made, accepted: agree
                row = uow.conn.execute(select(t.negotiations).where(t.negotiations.c.pid == row.pid)).one()
                state = self._agree(uow, row, self._accepted_offer(uow.conn, participant, row), participant)
            if state is NegotiationState.VERIFIED:
                row = uow.conn.execute(select(t.negotiations).where(t.negotiations.c.pid == row.pid)).one()
                state = self._apply(
                    uow.conn, t.negotiations, row, NEGOTIATION, Role.PROVIDER, NegotiationMessage.FINALIZED
                )
                event = msgs.validated(
                    {
                        "@context": msgs.context(),
                        "@type": "ContractNegotiationEventMessage",
                        "providerPid": row.pid,
                        "consumerPid": row.consumer_pid,
                        "eventType": "FINALIZED",
                    }
                )
                self._send(
                    uow,
                    "dsp.negotiation.finalized",
                    row.counterparty_address + f"/negotiations/{row.consumer_pid}/events",
                    event,
                    participant.did,
                    f"{row.pid}:finalized",
                )
            uow.commit()
        return msgs.negotiation_ack(row.pid, row.consumer_pid, state)

    def _accepted_offer(self, conn: Any, participant: Participant, row: Any) -> Any:
        """The offer of a provider-initiated negotiation the consumer accepted, if the consumer
        may still see it and satisfies its usage policy (else the acceptance is refused and the
        negotiation stays OFFERED)."""
        visible = self._visible(conn, participant, after=None, limit=1, offer_ids=[row.offer_id or ""])
        if not visible:
            raise PolicyNotSatisfied(
                f"offer '{row.offer_id}' is not in this participant's catalog",
                rule="DSP 2025-1: the offer must come from the provider's catalog",
                providerPid=row.pid,
                consumerPid=row.consumer_pid,
            )
        decision = evaluate(visible[0].usage_policy, self._ctx(conn, participant))
        if not decision.allowed:
            raise PolicyNotSatisfied(
                "usage policy not satisfied: " + "; ".join(decision.failures),
                rule="CX-0152 usage policy",
                providerPid=row.pid,
                consumerPid=row.consumer_pid,
            )
        return visible[0]

    # -- transfer ---------------------------------------------------------------------------

    def _transfer_row(
        self, conn: Any, participant: Participant, provider_pid: str, consumer_pid: str | None = None
    ) -> Any:
        row = conn.execute(
            select(t.transfers).where(t.transfers.c.pid == provider_pid).where(t.transfers.c.role == Role.PROVIDER)
        ).first()
        if (
            row is None
            or row.counterparty_did != participant.did
            or (consumer_pid is not None and consumer_pid != row.consumer_pid)
        ):
            raise NotFound(
                f"no transfer process '{provider_pid}'",
                rule="DSP 2025-1 transfer binding: 404",
                providerPid=provider_pid,
                consumerPid=consumer_pid or "",
            )
        return row

    def get_transfer(self, participant: Participant, provider_pid: str) -> dict[str, Any]:
        with UnitOfWork(self.engine, write=False) as uow:
            row = self._transfer_row(uow.conn, participant, provider_pid)
        return msgs.transfer_ack(row.pid, row.consumer_pid, row.state)

    def _issue_tokens(self, conn: Any, transfer_pid: str) -> list[dict[str, Any]]:
        now = self.clock.now()
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        ttl = self.settings.token_ttl_s
        conn.execute(
            insert(t.tokens),
            [
                {
                    "token_sha256": _sha(access),
                    "transfer_pid": transfer_pid,
                    "kind": "access",
                    "expires_at": now + dt.timedelta(seconds=ttl),
                    "revoked": False,
                },
                {
                    "token_sha256": _sha(refresh),
                    "transfer_pid": transfer_pid,
                    "kind": "refresh",
                    "expires_at": now + dt.timedelta(seconds=self.settings.refresh_ttl_s),
                    "revoked": False,
                },
            ],
        )
        return [
            {"@type": "EndpointProperty", "name": "authorization", "value": access},
            {"@type": "EndpointProperty", "name": "authType", "value": "bearer"},
            {"@type": "EndpointProperty", "name": "refreshToken", "value": refresh},
            {"@type": "EndpointProperty", "name": "refreshEndpoint", "value": self.settings.dataplane_url + "/token"},
            {"@type": "EndpointProperty", "name": "expiresIn", "value": str(ttl)},
        ]

    def request_transfer(self, participant: Participant, body: Any) -> tuple[dict[str, Any], int]:
        """``POST /transfers/request``: check the agreement, then start at once (by outbox)."""
        m = msgs.check_incoming(body, "TransferRequestMessage")
        consumer_pid = m["consumerPid"]
        with UnitOfWork(self.engine) as uow:
            existing = uow.conn.execute(
                select(t.transfers)
                .where(t.transfers.c.role == Role.PROVIDER)
                .where(t.transfers.c.consumer_pid == consumer_pid)
                .where(t.transfers.c.counterparty_did == participant.did)
            ).first()
            if existing is not None:
                return msgs.transfer_ack(existing.pid, consumer_pid, existing.state), 200
            agreement = uow.conn.execute(select(t.agreements).where(t.agreements.c.id == m["agreementId"])).first()
            if (
                agreement is None
                or agreement.consumer_did != participant.did
                or agreement.provider_did != self.settings.did
            ):
                raise InvalidInput(
                    f"agreement '{m['agreementId']}' is not one this participant holds here",
                    field="agreementId",
                    rule="DSP 2025-1 TransferRequestMessage.agreementId",
                    consumerPid=consumer_pid,
                )
            if m["format"] != PULL_FORMAT:
                raise InvalidInput(
                    f"format '{m['format']}' is not offered; use {PULL_FORMAT}",
                    field="format",
                    rule="DSP 2025-1 Distribution.format",
                    consumerPid=consumer_pid,
                )
            decision = evaluate(agreement.policy, self._ctx(uow.conn, participant))
            if not decision.allowed:
                raise PolicyNotSatisfied(
                    "the agreement no longer holds: " + "; ".join(decision.failures),
                    rule="CX-0152 usage policy at transfer",
                    consumerPid=consumer_pid,
                )
            now = self.clock.now()
            pid = f"urn:uuid:{new_uuid7()}"
            first = transition(TRANSFER, Role.CONSUMER, None, TransferMessage.REQUEST, count=0, now=now)
            address = m["callbackAddress"].rstrip("/")
            uow.conn.execute(
                insert(t.transfers).values(
                    pid=pid,
                    role=Role.PROVIDER,
                    consumer_pid=consumer_pid,
                    provider_pid=pid,
                    agreement_id=agreement.id,
                    format=m["format"],
                    counterparty_did=participant.did,
                    counterparty_bpnl=participant.bpnl,
                    counterparty_address=address,
                    state=first.state,
                    state_count=first.count,
                    state_at=first.at,
                    last_message=str(TransferMessage.REQUEST),
                    created_at=now,
                )
            )
            row = uow.conn.execute(select(t.transfers).where(t.transfers.c.pid == pid)).one()
            self._start(uow, row, participant.did)
            uow.commit()
        return msgs.transfer_ack(pid, consumer_pid, TransferState.STARTED), 201

    def _start(self, uow: UnitOfWork, row: Any, audience: str) -> None:
        self._apply(uow.conn, t.transfers, row, TRANSFER, Role.PROVIDER, TransferMessage.START)
        start = msgs.validated(
            {
                "@context": msgs.context(),
                "@type": "TransferStartMessage",
                "providerPid": row.pid,
                "consumerPid": row.consumer_pid,
                "dataAddress": {
                    "@type": "DataAddress",
                    "endpointType": HTTP_ENDPOINT_TYPE,
                    "endpoint": self.settings.dataplane_url,
                    "endpointProperties": self._issue_tokens(uow.conn, row.pid),
                },
            }
        )
        self._send(
            uow,
            "dsp.transfer.start",
            row.counterparty_address + f"/transfers/{row.consumer_pid}/start",
            start,
            audience,
            f"{row.pid}:start:{row.state_count + 1}",
        )

    def transfer_message(self, participant: Participant, provider_pid: str, body: Any, kind: str) -> dict[str, Any]:
        """Consumer messages on an existing transfer: start (resume), completion, suspension, termination."""
        message = TransferMessage(
            {
                "start": "TransferStartMessage",
                "completion": "TransferCompletionMessage",
                "suspension": "TransferSuspensionMessage",
                "termination": "TransferTerminationMessage",
            }[kind]
        )
        m = msgs.check_incoming(body, str(message))
        if m.get("providerPid") != provider_pid:
            raise InvalidInput(
                "providerPid in the body differs from the path", field="providerPid", rule="DSP 2025-1 transfer binding"
            )
        with UnitOfWork(self.engine) as uow:
            row = self._transfer_row(uow.conn, participant, provider_pid, m["consumerPid"])
            if self._repeat_or_raise(row, TRANSFER, Role.CONSUMER, message):
                return msgs.transfer_ack(row.pid, row.consumer_pid, row.state)
            extra = (
                {"error_detail": "; ".join(map(str, m.get("reason", [])))[:2000] or m.get("code")}
                if message in (TransferMessage.TERMINATION, TransferMessage.SUSPENSION)
                else {}
            )
            state = self._apply(uow.conn, t.transfers, row, TRANSFER, Role.CONSUMER, message, **extra)
            uow.commit()
        return msgs.transfer_ack(row.pid, row.consumer_pid, state)

    def provider_transfer_action(self, provider_pid: str, kind: str, *, reason: str | None = None) -> str:
        """The provider suspends, completes, terminates or resumes one of its transfers (admin)."""
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
                select(t.transfers).where(t.transfers.c.pid == provider_pid).where(t.transfers.c.role == Role.PROVIDER)
            ).first()
            if row is None:
                raise NotFound(f"no transfer process '{provider_pid}'", rule="provider transfers")
            if message is TransferMessage.START:
                self._start(uow, row, row.counterparty_did)
            else:
                self._apply(uow.conn, t.transfers, row, TRANSFER, Role.PROVIDER, message)
                body: dict[str, Any] = {
                    "@context": msgs.context(),
                    "@type": str(message),
                    "providerPid": row.pid,
                    "consumerPid": row.consumer_pid,
                }
                if reason and message is not TransferMessage.COMPLETION:
                    body["reason"] = [reason]
                self._send(
                    uow,
                    f"dsp.transfer.{kind}",
                    row.counterparty_address + f"/transfers/{row.consumer_pid}/{kind}",
                    msgs.validated(body),
                    row.counterparty_did,
                    f"{row.pid}:{kind}:{row.state_count + 1}",
                )
            state = uow.conn.execute(select(t.transfers.c.state).where(t.transfers.c.pid == provider_pid)).scalar_one()
            uow.commit()
        return str(state)

    # -- data plane -------------------------------------------------------------------------

    def _token_row(self, conn: Any, token: str, kind: str) -> Any:
        row = conn.execute(
            select(t.tokens).where(t.tokens.c.token_sha256 == _sha(token)).where(t.tokens.c.kind == kind)
        ).first()
        if row is None:
            raise Unauthorized(f"unknown {kind} token", rule="data plane: the token of the transfer-start message")
        if row.revoked or row.expires_at <= self.clock.now():
            raise ExpiredToken(
                f"the {kind} token expired or was revoked; refresh it", rule="data plane tokens are short-lived"
            )
        return row

    def _authorise(self, authorization: str | None) -> tuple[Any, Any, Any]:
        """The agreement, asset and source a data-plane request may reach: its bearer token must
        be a live access token of a STARTED transfer (the same check for a pull and a proxied
        request).

        A token checked in full is remembered in this worker's memory until it expires, with its
        agreement (which never changes); every later request with it is still checked against the
        database in one query — the token not revoked (a refresh revokes it), its transfer still
        STARTED — and the asset read afresh. Anything else than a live token and a started
        transfer takes the full check again, with its refusals."""
        token = (authorization or "").removeprefix("Bearer ").strip()
        if not token:
            raise Unauthorized("the data plane needs the transfer's access token", rule="data plane")
        sha = _sha(token)
        now = self.clock.now()
        grant = self._grants.get(sha)
        if grant is not None and grant[0] > now:
            ag = grant[1]
            live = live_grant(self.engine, sha, ag.asset_id)  # a point read: every pull of every tier
            if live is not None and not live.revoked and live.expires_at > now and live.state == TransferState.STARTED:
                return ag, live, self._source(live)
        self._grants.pop(sha, None)
        with UnitOfWork(self.engine, write=False) as uow:
            tok = self._token_row(uow.conn, token, "access")
            tr = uow.conn.execute(select(t.transfers).where(t.transfers.c.pid == tok.transfer_pid)).one()
            if tr.state != TransferState.STARTED:
                raise ExpiredToken(f"transfer {tr.pid} is {tr.state}, not STARTED", rule="DSP transfer state")
            ag = uow.conn.execute(select(t.agreements).where(t.agreements.c.id == tr.agreement_id)).one()
            asset = uow.conn.execute(select(t.assets).where(t.assets.c.id == ag.asset_id)).one()
        if len(self._grants) >= _GRANTS_MAX:
            self._grants = {k: v for k, v in self._grants.items() if v[0] > now}
            if len(self._grants) >= _GRANTS_MAX:
                self._grants.clear()
        self._grants[sha] = (tok.expires_at, ag)
        return ag, asset, self._source(asset)

    def _source(self, asset: Any) -> AssetSource:
        source = self.sources.get(asset.source)
        if source is None:
            raise NotFound(f"no content source '{asset.source}' on this node", rule="asset sources")
        return source

    async def proxy(
        self,
        authorization: str | None,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> DataPlaneReply:
        """Pass a request the consumer sends through the data plane (a method, a sub-path, a
        JSON body) to the asset's :class:`~batpass.dataspace.ports.ProxyAssetSource`, as a
        Tractus-X data plane forwards it for an ``HttpData`` asset with ``proxyMethod``,
        ``proxyPath`` and ``proxyBody``. The bearer token is checked exactly as for a pull; the
        source learns the consumer only from the agreement. A source that is not a proxy source
        refuses anything but a plain pull."""
        ag, asset, source = self._authorise(authorization)
        if not isinstance(source, ProxyAssetSource):
            raise InvalidInput(
                f"asset '{asset.id}' takes only a pull (GET {self.settings.dataplane_url})",
                field="method",
                rule="data plane: only a proxy source takes a method, a path or a body",
            )
        return await source.proxy(
            asset.source_key,
            method=method,
            path=path,
            query=dict(query or {}),
            body=body,
            consumer_did=ag.consumer_did,
            consumer_bpnl=ag.consumer_bpnl,
            agreement_id=ag.id,
        )

    async def pull(self, authorization: str | None, query: Mapping[str, str] | None = None) -> Any:
        """Serve the asset of a started transfer to the bearer of its access token.

        ``query`` (the pull request's query parameters) is passed, opaque, to a
        :class:`~batpass.dataspace.ports.QueryAssetSource`; a source that takes none refuses one."""
        ag, asset, source = self._authorise(authorization)
        if isinstance(source, QueryAssetSource):
            return await source.query_content(
                asset.source_key,
                consumer_did=ag.consumer_did,
                consumer_bpnl=ag.consumer_bpnl,
                agreement_id=ag.id,
                query=dict(query or {}),
            )
        if query:
            raise InvalidInput(
                f"asset '{asset.id}' takes no query",
                field=sorted(query)[0],
                rule="data plane: only a query source reads the pull's query",
            )
        return await source.content(asset.source_key, participant_bpnl=ag.consumer_bpnl, agreement_id=ag.id)

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """Rotate a transfer's tokens (OAuth2-style ``refresh_token`` grant at ``/api/public/token``)."""
        with UnitOfWork(self.engine) as uow:
            tok = self._token_row(uow.conn, refresh_token, "refresh")
            tr = uow.conn.execute(select(t.transfers).where(t.transfers.c.pid == tok.transfer_pid)).one()
            if tr.state != TransferState.STARTED:
                raise ExpiredToken(f"transfer {tr.pid} is {tr.state}, not STARTED", rule="DSP transfer state")
            uow.conn.execute(update(t.tokens).where(t.tokens.c.transfer_pid == tr.pid).values(revoked=True))
            props = {p["name"]: p["value"] for p in self._issue_tokens(uow.conn, tr.pid)}
            uow.commit()
        return {
            "access_token": props["authorization"],
            "token_type": "bearer",
            "refresh_token": props["refreshToken"],
            "expires_in": int(props["expiresIn"]),
        }
