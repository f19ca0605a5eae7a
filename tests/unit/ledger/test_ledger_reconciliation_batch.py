"""Several reconciliation messages in one request (docs/outflows.md "Several messages in one
request"), on both stores: a batch is a JSON array of individually signed messages, each judged
exactly as if it had come alone (its own answer, in order); the outbox hands the messages due
together to the courier, which posts those for one connector in one request; a lone message keeps
the single form, and a receiver that answers a batch with anything but one answer per message
gets the messages again one by one. The single-message tests: test_ledger_reconciliation_connector.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from ledger_testkit import ev, out, receipt
from sqlalchemy import Engine, update
from test_ledger_reconciliation_connector import RECEIVER, SHIPPER, SITE, DataPlanes, Node

from batpass.core.errors import InvalidInput
from batpass.dataspace import DataPlaneReply
from batpass.exchange import RECONCILIATION_MAX_BATCH, ReconciliationInbox
from batpass.ledger import RECONCILIATION_OUTBOX_KIND
from batpass.store import OutboxDispatcher, outbox_table
from batpass.trust import NodeIdentity


def _pair(
    make_store: Callable[[Sequence[Path]], Engine], keys: dict[str, NodeIdentity] | None = None
) -> tuple[Node, Node]:
    keys = {} if keys is None else keys
    shipper, receiver = Node(make_store, SHIPPER, keys), Node(make_store, RECEIVER, keys)
    shipper.planes.inboxes[RECEIVER] = ReconciliationInbox(receiver.recon)
    receiver.planes.inboxes[SHIPPER] = ReconciliationInbox(shipper.recon)
    for node in (shipper, receiver):
        node.dispatcher = OutboxDispatcher(
            node.ledger.engine,
            httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(599))),
            senders={RECONCILIATION_OUTBOX_KIND: node.courier.send},
            batch_senders={RECONCILIATION_OUTBOX_KIND: node.courier.send_many},
        )
    return shipper, receiver


def _record(shipper: Node, receiver: Node, received: Sequence[float | None]) -> None:
    shipped, receipts = _events(received)
    shipper.ledger.record(shipped)
    if receipts:
        receiver.ledger.record(receipts)


def _events(received: Sequence[float | None]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One shipment per entry of ``received`` (1,000 kg each), and the receipt of what arrived."""
    shipped: list[dict[str, Any]] = []
    receipts: list[dict[str, Any]] = []
    for i, kg in enumerate(received, start=1):
        shipped.append(
            ev("extraction", owner=SHIPPER, site="P", country="NL", outputs=[out(f"L{i}", "lithium_carbonate", 1000.0)])
        )
        shipped.append(
            ev(
                "shipment",
                owner=SHIPPER,
                site="P",
                country="NL",
                at="2026-01-10T08:00:00Z",
                inputs=[(f"L{i}", 1000.0)],
                outputs=[out(f"L{i}-D", "lithium_carbonate", 1000.0)],
                shipment={
                    "to_site": {"id": SITE, "country": "DE"},
                    "destination_country": "DE",
                    "document": f"BL-{i}",
                    "to_owner": RECEIVER,
                },
            )
        )
        if kg is not None:
            receipts.append(
                receipt(
                    SHIPPER,
                    f"L{i}-D",
                    f"R-{i}",
                    "lithium_carbonate",
                    kg,
                    document=f"BL-{i}",
                    owner=RECEIVER,
                    site=SITE,
                    country="DE",
                    at="2026-01-12T08:00:00Z",
                )
            )
    return shipped, receipts


def _forge(jws: str) -> str:
    head, body, sig = jws.split(".")
    return f"{head}.{body}.{'A' * len(sig)}"


def _post(planes: DataPlanes, body: Any) -> httpx.Response:
    return asyncio.run(planes.request(RECEIVER, "inbox", None, "POST", path="messages", body=body))


def _notices(make_store: Callable[[Sequence[Path]], Engine]) -> tuple[Node, Node, list[str]]:
    shipper, receiver = _pair(make_store)
    _record(shipper, receiver, [1000.0, 990.0, None])
    shipper.recon.run()
    return shipper, receiver, [r.body["jws"] for r in shipper.outbox()]


def test_a_batch_with_one_bad_signature_refuses_that_one_and_applies_the_others(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    shipper, receiver, jwss = _notices(make_store)
    jwss[1] = _forge(jwss[1])
    resp = _post(shipper.planes, [{"jws": j} for j in jwss])
    assert resp.status_code == 200
    answers = resp.json()
    assert [a["status"] for a in answers] == [200, 403, 200]
    assert answers[1]["body"]["status"] == 403 and answers[1]["body"]["rule"]  # a problem, as alone
    assert [a["body"]["outcome"] for a in (answers[0], answers[2])] == ["ok", "pending"]
    seen = {s["shipment"] for s in receiver.recon.outcomes(RECEIVER)["shipments"]}
    assert len(seen) == 2  # the forged notice changed nothing


def test_a_batch_is_answered_as_its_messages_one_by_one(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    # two receivers with the same ledger: one takes the shipper's notices as a batch, the other
    # one by one
    keys: dict[str, NodeIdentity] = {}
    alone, alone_receiver = _pair(make_store, keys)
    second = dict(keys)
    batched, batched_receiver = _pair(make_store, keys)
    shipped, receipts = _events([1000.0, 990.0, None])
    for node, events in ((batched, shipped), (batched_receiver, receipts), (alone_receiver, receipts)):
        node.ledger.record(events)
    batched.recon.run()
    jwss = [r.body["jws"] for r in batched.outbox()]
    jwss[1] = _forge(jwss[1])
    keys[RECEIVER] = second[RECEIVER]  # the second receiver keeps its own key
    alone.planes.inboxes[RECEIVER] = ReconciliationInbox(alone_receiver.recon)
    together = _post(batched.planes, [{"jws": j} for j in jwss]).json()
    one_by_one = [_post(alone.planes, {"jws": j}) for j in jwss]
    assert [(a["status"], a["body"]) for a in together] == [(r.status_code, r.json()) for r in one_by_one]
    assert batched_receiver.recon.outcomes(RECEIVER) == alone_receiver.recon.outcomes(RECEIVER)


def test_a_batch_that_is_no_array_of_messages_is_refused_with_its_field(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    shipper, _, jwss = _notices(make_store)
    for bad in ([], [{"jws": jwss[0]}] * (RECONCILIATION_MAX_BATCH + 1)):
        with pytest.raises(InvalidInput) as err:
            _post(shipper.planes, bad)
        assert err.value.field == "messages"
    # an item that is no message is that item's own 400, the others judged
    answers = _post(shipper.planes, [{"jws": jwss[0]}, {"nope": 1}]).json()
    assert [a["status"] for a in answers] == [200, 400] and answers[1]["body"]["field"] == "jws"


def test_the_messages_due_together_go_in_one_request_and_each_is_recorded(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    shipper, receiver = _pair(make_store)
    _record(shipper, receiver, [1000.0, 990.0, 1000.0])
    shipper.recon.run()
    shipper.dispatch()
    bodies = [r[4] for r in shipper.planes.requests]
    assert len(bodies) == 1 and isinstance(bodies[0], list) and len(bodies[0]) == 3
    rows = shipper.outbox()
    assert [(r.status, r.response_status) for r in rows] == [("sent", 200)] * 3
    assert sorted(r.response_body["outcome"] for r in rows) == ["ok", "ok", "short"]
    receiver.dispatch()  # the three verdicts come back in one request too
    assert len(receiver.planes.requests) == 1 and len(receiver.planes.requests[0][4]) == 3
    assert sorted(s["outcome"] for s in shipper.recon.outcomes(SHIPPER)["shipments"]) == ["ok", "ok", "short"]


def test_a_forged_message_among_those_due_is_given_up_and_the_others_sent(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    shipper, receiver = _pair(make_store)
    _record(shipper, receiver, [1000.0, 1000.0])
    shipper.recon.run()
    forged_id = shipper.outbox()[0].id
    with shipper.ledger.engine.begin() as conn:
        row = conn.execute(outbox_table.select().where(outbox_table.c.id == forged_id)).one()
        conn.execute(
            update(outbox_table).where(outbox_table.c.id == forged_id).values(body={"jws": _forge(row.body["jws"])})
        )
    shipper.dispatch()
    by_id = {r.id: r for r in shipper.outbox()}
    forged = by_id.pop(forged_id)
    assert (forged.status, forged.response_status) == ("dead", 403) and forged.response_body["field"] == "jws"
    assert [(r.status, r.response_status) for r in by_id.values()] == [("sent", 200)]


def test_a_receiver_that_takes_no_batches_gets_the_messages_one_by_one(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    shipper, receiver = _pair(make_store)
    inbox = shipper.planes.inboxes[RECEIVER]

    class SingleOnly(ReconciliationInbox):
        """A receiver from before batches: an array body is not ``{"jws"}`` (400)."""

        async def proxy(self, key: str, *, body: Any, **kw: Any) -> DataPlaneReply:
            if isinstance(body, list):
                return DataPlaneReply(400, {"status": 400, "field": "jws"})
            return await inbox.proxy(key, body=body, **kw)

    shipper.planes.inboxes[RECEIVER] = SingleOnly(receiver.recon)
    _record(shipper, receiver, [1000.0, 1000.0])
    shipper.recon.run()
    shipper.dispatch()
    kinds = [type(r[4]).__name__ for r in shipper.planes.requests]
    assert kinds == ["list", "dict", "dict"]
    assert [(r.status, r.response_status) for r in shipper.outbox()] == [("sent", 200)] * 2
    assert [s["outcome"] for s in receiver.recon.outcomes(RECEIVER)["shipments"]] == ["ok", "ok"]


def test_a_bridge_hands_a_batch_for_hub_operators_to_its_hub_together(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    shipper, receiver = _pair(make_store)
    handed: list[list[str]] = []
    hub_inbox = ReconciliationInbox(receiver.recon)

    async def to_hub(jws: str) -> DataPlaneReply:
        raise AssertionError("a batch's messages go to the hub together")

    async def to_hub_many(jwss: Sequence[str]) -> list[DataPlaneReply]:
        handed.append(list(jwss))
        return [await hub_inbox.take(j) for j in jwss]

    bridge = Node(make_store, "did:web:bridge.example", shipper.keys).recon
    shipper.planes.inboxes[RECEIVER] = ReconciliationInbox(bridge, relay=to_hub, relay_many=to_hub_many)
    _record(shipper, receiver, [1000.0, 1000.0])
    shipper.recon.run()
    shipper.dispatch()
    assert [len(h) for h in handed] == [2]
    assert [(r.status, r.response_status) for r in shipper.outbox()] == [("sent", 200)] * 2
    assert [s["outcome"] for s in receiver.recon.outcomes(RECEIVER)["shipments"]] == ["ok", "ok"]
