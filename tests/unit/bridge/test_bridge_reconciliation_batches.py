"""Both bridge legs of reconciliation take several messages in one request (docs/outflows.md
"Several messages in one request"): the hub's courier hands the bridge the messages due together,
and the bridge's relay hands the hub a batch's messages for its operators, each in one request
with a self-issued token; each message's answer comes back in order, a lone message keeps the
single form, and a side that answers a batch otherwise gets the messages one by one."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from batpass.bridge import BridgeCourier, hub_relay_many
from batpass.bridge._link import HubLink
from batpass.trust import NodeIdentity, generate_keypair

HUB, BRIDGE = "did:web:hub.example", "did:web:bridge.example"


def _client(batches: bool, seen: list[Any]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"].startswith("Bearer ")
        body = json.loads(request.content)
        seen.append(body)
        if isinstance(body, list):
            if not batches:  # a side from before batches: the body is not {"jws"}
                return httpx.Response(422, json={"status": 422, "field": "body"})
            return httpx.Response(200, json=[_one(m) for m in body])
        one = _one(body)
        return httpx.Response(one["status"], json=one["body"])

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


def _one(message: dict[str, str]) -> dict[str, Any]:
    if message["jws"].endswith(".forged"):
        return {"status": 403, "body": {"status": 403, "field": "jws"}}
    return {"status": 200, "body": {"outcome": "ok", "jws": message["jws"]}}


def _rows(*jwss: str) -> list[dict[str, Any]]:
    return [{"body": {"jws": j}} for j in jwss]


def _identity(did: str) -> NodeIdentity:
    return NodeIdentity(did, [generate_keypair("Ed25519", "key-ed25519-1")])


def test_the_hub_hands_its_bridge_the_messages_due_together_in_one_request() -> None:
    seen: list[Any] = []
    courier = BridgeCourier(
        identity=_identity(HUB), client=_client(True, seen), bridge_url="https://bridge", bridge_did=BRIDGE
    )
    sent = asyncio.run(courier.send_many(_rows("a.b.1", "a.b.forged", "a.b.3")))
    assert len(seen) == 1 and len(seen[0]) == 3
    assert [s.status_code for s in sent] == [200, 403, 200]  # type: ignore[union-attr]
    assert sent[2].json()["jws"] == "a.b.3"  # type: ignore[union-attr]
    seen.clear()
    (alone,) = asyncio.run(courier.send_many(_rows("a.b.9")))
    assert seen == [{"jws": "a.b.9"}] and alone.status_code == 200  # type: ignore[union-attr]


def test_a_bridge_that_takes_no_batches_gets_the_messages_one_by_one() -> None:
    seen: list[Any] = []
    courier = BridgeCourier(
        identity=_identity(HUB), client=_client(False, seen), bridge_url="https://bridge", bridge_did=BRIDGE
    )
    sent = asyncio.run(courier.send_many(_rows("a.b.1", "a.b.forged")))
    assert [type(b).__name__ for b in seen] == ["list", "dict", "dict"]
    assert [s.status_code for s in sent] == [200, 403]  # type: ignore[union-attr]


def test_the_bridge_relays_a_batch_for_hub_operators_to_the_hub_together() -> None:
    for batches, requests in ((True, ["list"]), (False, ["list", "dict", "dict"])):
        seen: list[Any] = []
        link = HubLink(identity=_identity(BRIDGE), client=_client(batches, seen), hub_url="https://hub", hub_did=HUB)
        replies = asyncio.run(hub_relay_many(link)(["a.b.1", "a.b.forged"]))
        assert [type(b).__name__ for b in seen] == requests
        assert [(r.status, r.content.get("status")) for r in replies] == [(200, None), (403, 403)]
