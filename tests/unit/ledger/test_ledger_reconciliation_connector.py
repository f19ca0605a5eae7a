"""Reconciliation messages delivered through the connector, on both stores (docs/outflows.md
"Reconciliation across nodes", "Over the connector"): the outbox dispatcher hands each message of
kind ``ledger.reconciliation`` to the :class:`ReconciliationCourier`, which posts it through the
receiver's data plane (here a stand-in for the channel that calls the receiver's inbox source as
its provider's data plane does, with the agreement's consumer); the receiver's inbox applies it.

A receiver whose connector offers no agreement (its policy) makes the message a final refusal
(dead, not retried); a message with a bad signature is refused (403, not the data plane's 401)
and changes nothing; a message delivered again changes nothing (one outcome, one alert).
The served nodes over HTTPS: tests/integration/test_reconciliation_nodes.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from ledger_testkit import ev, identity, out, receipt
from sqlalchemy import Engine, select, update

from batpass.core.clock import utc_now
from batpass.core.errors import ConfigurationError, Forbidden, NotFound
from batpass.dataspace import DataPlaneReply, NotOffered, Stage
from batpass.exchange import RECONCILIATION_ASSET, ReconciliationCourier, ReconciliationInbox
from batpass.exchange._reconcile_inbox import inbox_policies
from batpass.ledger import (
    MIGRATIONS_DIR,
    RECONCILIATION_OUTBOX_KIND,
    LedgerService,
    Reconciliation,
    parse_reconciliation,
)
from batpass.store import OutboxDispatcher, outbox_table
from batpass.trust import BRIDGE_SERVICE, NodeIdentity

SHIPPER = "did:web:shipper.example"
RECEIVER = "did:web:receiver.example"
SITE = "WH-DE-1"


class DataPlanes:
    """Stands for the receivers' connectors: a channel request reaches the addressee node's
    inbox source as the provider's data plane would pass it (the consumer from the agreement)."""

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer
        self.inboxes: dict[str, ReconciliationInbox] = {}
        self.refusing: set[str] = set()
        self.requests: list[tuple[str, str, str, str, Any]] = []

    async def request(
        self, partner: str, asset: str, endpoint: Any, method: str, *, path: str = "", body: Any = None
    ) -> httpx.Response:
        self.requests.append((partner, asset, method, path, body))
        if partner in self.refusing:
            raise NotOffered(f"{partner} offers no {asset}", stage=Stage.CATALOG, partner=partner, rule="access")
        reply = await self.inboxes[partner].proxy(
            "messages",
            method=method,
            path=path,
            query={},
            body=body,
            consumer_did=self.consumer,
            consumer_bpnl=None,
            agreement_id="agreement-1",
        )
        return httpx.Response(reply.status, json=reply.content)


class Node:
    def __init__(self, make_store: Callable[[Sequence[Path]], Engine], did: str, keys: dict[str, NodeIdentity]) -> None:
        keys[did] = identity(did)
        self.keys = keys
        self.ledger = LedgerService(make_store([MIGRATIONS_DIR]), keys[did], batch_size=8)

        def partner_key(kid: str, *, fresh: bool = False) -> Mapping[str, Any] | None:
            ident = keys.get(kid.split("#", 1)[0])
            found = ident.find(kid) if ident is not None else None
            return found.public_jwk() if found is not None else None

        self.recon = Reconciliation(self.ledger, signer_keys=partner_key)
        self.planes = DataPlanes(did)

        async def resolve(did: str) -> Mapping[str, Any]:
            return {"id": did, "service": [{"type": "DataService", "serviceEndpoint": f"https://{did[8:]}/dsp"}]}

        self.courier = ReconciliationCourier(self.planes, resolve)  # type: ignore[arg-type]
        self.dispatcher = OutboxDispatcher(
            self.ledger.engine,
            httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(599))),
            senders={RECONCILIATION_OUTBOX_KIND: self.courier.send},
        )

    def dispatch(self) -> None:
        """Send every message due (what the node's dispatcher does once its transaction commits)."""
        with self.ledger.engine.begin() as conn:  # due now, whatever the back-off said
            conn.execute(update(outbox_table).values(next_attempt_at=utc_now()))

        async def run() -> None:
            await self.dispatcher.dispatch_due()
            await self.dispatcher.drain()  # the connector's sends run beside the dispatcher's loop

        asyncio.run(run())

    def outbox(self) -> list[Any]:
        with self.ledger.engine.connect() as conn:
            return list(conn.execute(select(outbox_table).order_by(outbox_table.c.created_at)).all())

    def outcome(self, owner: str, role: str) -> str | None:
        rows = [s for s in self.recon.outcomes(owner)["shipments"] if s["role"] == role]
        return str(rows[0]["outcome"]) if rows else None


def _nodes(make_store: Callable[[Sequence[Path]], Engine]) -> tuple[Node, Node]:
    keys: dict[str, NodeIdentity] = {}
    shipper, receiver = Node(make_store, SHIPPER, keys), Node(make_store, RECEIVER, keys)
    shipper.planes.inboxes[RECEIVER] = ReconciliationInbox(receiver.recon)
    receiver.planes.inboxes[SHIPPER] = ReconciliationInbox(shipper.recon)
    return shipper, receiver


def _events(received: float | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    shipped = [
        ev("extraction", owner=SHIPPER, site="P", country="NL", outputs=[out("L1", "lithium_carbonate", 1000.0)]),
        ev(
            "shipment",
            owner=SHIPPER,
            site="P",
            country="NL",
            at="2026-01-10T08:00:00Z",
            inputs=[("L1", 1000.0)],
            outputs=[out("L1-D", "lithium_carbonate", 1000.0)],
            shipment={
                "to_site": {"id": SITE, "country": "DE"},
                "destination_country": "DE",
                "document": "BL-1",
                "to_owner": RECEIVER,
            },
        ),
    ]
    receipts = []
    if received is not None:
        receipts.append(
            receipt(
                SHIPPER,
                "L1-D",
                "R-1",
                "lithium_carbonate",
                received,
                document="BL-1",
                owner=RECEIVER,
                site=SITE,
                country="DE",
                at="2026-01-12T08:00:00Z",
            )
        )
    return shipped, receipts


def test_messages_go_through_the_receivers_data_plane_and_come_back(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    shipper, receiver = _nodes(make_store)
    shipped, receipts = _events(990.0)
    shipper.ledger.record(shipped)
    receiver.ledger.record(receipts)
    shipper.recon.run()
    shipper.dispatch()  # the notice, through the receiver's inbox asset
    assert [(r[0], r[1], r[2], r[3]) for r in shipper.planes.requests] == [
        (RECEIVER, RECONCILIATION_ASSET, "POST", "messages")
    ]
    assert receiver.outcome(RECEIVER, "receiver") == "short"
    receiver.dispatch()  # the verdict, through the shipper's inbox asset
    assert [r[0] for r in receiver.planes.requests] == [SHIPPER]
    assert shipper.outcome(SHIPPER, "shipper") == "short"
    assert {r.status for r in shipper.outbox() + receiver.outbox()} == {"sent"}
    assert [r.response_status for r in shipper.outbox()] == [200]

    # delivered again (a retry after a lost answer): the same outcome, one alert at each end
    again = shipper.planes.requests[0][4]
    planes = shipper.planes
    resp = asyncio.run(planes.request(RECEIVER, RECONCILIATION_ASSET, None, "POST", path="messages", body=again))
    assert resp.status_code == 200 and resp.json()["outcome"] == "short"
    assert len(receiver.recon.alerts(RECEIVER)) == 1 and len(shipper.recon.alerts(SHIPPER)) == 1
    assert receiver.outbox()[0].status == "sent" and len(receiver.outbox()) == 1  # no second verdict


def test_a_message_with_a_bad_signature_is_refused_and_changes_nothing(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    shipper, receiver = _nodes(make_store)
    shipped, _ = _events(None)
    shipper.ledger.record(shipped)
    shipper.recon.run()
    jws = shipper.outbox()[0].body["jws"]
    head, body, sig = jws.split(".")
    forged = f"{head}.{body}.{'A' * len(sig)}"
    with shipper.ledger.engine.begin() as conn:
        conn.execute(update(outbox_table).values(body={"jws": forged}))
    shipper.dispatch()
    row = shipper.outbox()[0]
    # refused as the message's signature, not as the data plane's token: given up, not retried
    assert (row.status, row.response_status) == ("dead", 403) and "signature" in row.last_error
    assert receiver.recon.outcomes(RECEIVER)["shipments"] == [] and receiver.outbox() == []


def test_a_receiver_that_admits_no_agreement_gets_nothing_and_the_message_is_given_up(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    shipper, receiver = _nodes(make_store)
    shipper.planes.refusing.add(RECEIVER)  # its inbox is not offered to this shipper
    shipped, _ = _events(1000.0)
    shipper.ledger.record(shipped)
    shipper.recon.run()
    shipper.dispatch()
    row = shipper.outbox()[0]
    assert (row.status, row.response_status, row.attempts) == ("dead", 403, 1)
    assert receiver.recon.outcomes(RECEIVER)["shipments"] == []
    assert shipper.outcome(SHIPPER, "shipper") == "pending"


def test_a_message_not_answered_is_tried_again(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    shipper, _ = _nodes(make_store)

    async def unreachable(*a: Any, **k: Any) -> httpx.Response:
        raise httpx.ConnectError("no route")

    shipper.planes.request = unreachable  # type: ignore[method-assign]
    shipped, _ = _events(1000.0)
    shipper.ledger.record(shipped)
    shipper.recon.run()
    shipper.dispatch()
    row = shipper.outbox()[0]
    assert (row.status, row.attempts) == ("pending", 1) and "ConnectError" in row.last_error


def test_the_inbox_policy_admits_members_or_only_the_named_partners() -> None:
    access, usage = inbox_policies(())
    assert access["permission"][0]["constraint"][0]["and"] == [
        {"leftOperand": "Membership", "operator": "eq", "rightOperand": "active"}
    ]
    access, usage = inbox_policies(("BPNL00000000S01F",))
    bpn = {"leftOperand": "BusinessPartnerNumber", "operator": "isAnyOf", "rightOperand": ["BPNL00000000S01F"]}
    assert bpn in access["permission"][0]["constraint"][0]["and"]
    assert bpn in usage["permission"][0]["constraint"][0]["and"]


def test_the_partners_config_takes_bpnls_only() -> None:
    got = parse_reconciliation({"partners": ["BPNL00000000S01F", "BPNL00000000S01F", "BPNL00000003AUTH"]})
    assert got.partners == ("BPNL00000000S01F", "BPNL00000003AUTH")
    assert parse_reconciliation(None).partners == ()
    for bad in (["did:web:x.example"], "BPNL00000000S01F", ["BPNL0000"], [7]):
        with pytest.raises(ConfigurationError) as err:
            parse_reconciliation({"partners": bad})
        assert err.value.rule == "reconciliation.partners"


def test_a_bridge_inbox_hands_a_hub_operators_message_to_its_hub(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    shipper, receiver = _nodes(make_store)
    relayed: list[str] = []

    async def to_hub(jws: str) -> DataPlaneReply:
        relayed.append(jws)
        return DataPlaneReply(200, {"relayed": True})

    # the receiver's connector is a bridge's: it keeps no ledger for the addressee
    bridge = ReconciliationInbox(Node(make_store, "did:web:bridge.example", shipper.keys).recon, relay=to_hub)
    shipper.planes.inboxes[RECEIVER] = bridge
    shipped, _ = _events(1000.0)
    shipper.ledger.record(shipped)
    shipper.recon.run()
    shipper.dispatch()
    assert relayed == [shipper.outbox()[0].body["jws"]] and shipper.outbox()[0].status == "sent"
    # without a relay, a message for an owner the node does not keep is refused there
    bridge.relay = None
    with pytest.raises(Forbidden):
        asyncio.run(bridge.take(relayed[0]))
    assert receiver.recon.outcomes(RECEIVER)["shipments"] == []


def test_a_notice_to_a_hub_operator_without_a_release_goes_through_the_hubs_bridge(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    hub, bridge_did = "did:web:hub.example", "did:web:bridge.example"
    operator = f"{hub}:operators:op-1"
    keys: dict[str, NodeIdentity] = {}
    shipper, receiver = Node(make_store, SHIPPER, keys), Node(make_store, operator, keys)
    docs: dict[str, dict[str, Any]] = {
        operator: {"id": operator},  # released nothing: no DataService of its own
        hub: {"id": hub, "service": [{"id": f"{hub}#bridge", "type": BRIDGE_SERVICE, "serviceEndpoint": bridge_did}]},
        bridge_did: {"id": bridge_did, "service": [{"type": "DataService", "serviceEndpoint": "https://bridge/dsp"}]},
    }

    async def resolve(did: str) -> Mapping[str, Any]:
        return docs[did]

    shipper.courier = ReconciliationCourier(shipper.planes, resolve)  # type: ignore[arg-type]
    shipper.dispatcher = OutboxDispatcher(
        shipper.ledger.engine,
        httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(599))),
        senders={RECONCILIATION_OUTBOX_KIND: shipper.courier.send},
    )
    hub_inbox = ReconciliationInbox(receiver.recon)

    async def to_hub(jws: str) -> DataPlaneReply:
        return await hub_inbox.take(jws)

    # the bridge's connector keeps no ledger for the operator: its inbox hands the message to the hub
    shipper.planes.inboxes[bridge_did] = ReconciliationInbox(Node(make_store, bridge_did, keys).recon, relay=to_hub)
    receiver.planes.inboxes[SHIPPER] = ReconciliationInbox(shipper.recon)  # the way back, as the bridge sends it
    shipped, _ = _events(None)
    shipped[1]["shipment"]["to_owner"] = operator
    shipper.ledger.record(shipped)
    receiver.ledger.record(
        [
            ev(
                "receipt",
                owner=operator,
                site=SITE,
                country="DE",
                at="2026-01-12T08:00:00Z",
                outputs=[out("R-1", "lithium_carbonate", 1000.0)],
                receipt={"from_owner": SHIPPER, "from_lot": "L1-D", "document": "BL-1"},
            )
        ]
    )
    shipper.recon.run()
    shipper.dispatch()
    assert [r[0] for r in shipper.planes.requests] == [bridge_did]  # the bridge's connector, for the operator
    assert shipper.outbox()[0].status == "sent"
    assert receiver.outcome(operator, "receiver") == "ok"
    receiver.dispatch()  # the operator's verdict comes back
    assert shipper.outcome(SHIPPER, "shipper") == "ok"


def test_a_hub_operator_whose_hub_names_no_bridge_is_not_reached(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    operator = "did:web:hub.example:operators:op-1"
    planes = DataPlanes(SHIPPER)

    async def resolve(did: str) -> Mapping[str, Any]:
        return {"id": did}  # neither the operator nor its hub names a connector

    with pytest.raises(NotFound):
        asyncio.run(ReconciliationCourier(planes, resolve).connector_of(operator))  # type: ignore[arg-type]
    assert planes.requests == []
