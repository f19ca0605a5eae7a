"""The consumer callback endpoints beyond the messages of a running process (DSP 2025-1 HTTPS
bindings): a provider-initiated offer creates the consumer's negotiation in OFFERED, and a
provider reads the state of the consumer's negotiation or transfer; unknown processes, another
participant's process and bad input get the DSP error shape."""

from __future__ import annotations

from typing import Any

import pytest
from _dsp_harness import CONSUMER_DID, CX_USAGE, OTHER_DID, PROVIDER_DID, token
from sqlalchemy import select

from batpass.dataspace import _sql as t
from batpass.dataspace._callbacks import ConsumerCallbacks
from batpass.dataspace._dsp_messages import DSP_CONTEXT, schema_errors
from batpass.store import outbox_table

pytestmark = pytest.mark.anyio

CALLBACK = "https://consumer.test/api/dsp/2025-1/callback"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def offer_message(provider_pid: str = "urn:uuid:prov-offer-1", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@context": [DSP_CONTEXT],
        "@type": "ContractOfferMessage",
        "providerPid": provider_pid,
        "offer": {"@type": "Offer", "@id": "offer-1", "target": "asset-1", **CX_USAGE},
        "callbackAddress": "https://provider.test/api/dsp/2025-1",
    }
    body.update(extra)
    return body


async def test_a_provider_initiated_offer_creates_the_negotiation_in_offered(network: Any) -> None:
    net, _provider, consumer, _ = network
    async with net.client() as c:
        r = await c.post(
            CALLBACK + "/negotiations/offers", json=offer_message(), headers=token(PROVIDER_DID, CONSUMER_DID)
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert schema_errors(body) == []
        assert body["@type"] == "ContractNegotiation"
        assert body["state"] == "OFFERED"
        assert body["providerPid"] == "urn:uuid:prov-offer-1"
        pid = body["consumerPid"]
        assert consumer.consumer.negotiation(pid)["state"] == "OFFERED"
        # the same offer again is the same process, not a second one
        again = await c.post(
            CALLBACK + "/negotiations/offers", json=offer_message(), headers=token(PROVIDER_DID, CONSUMER_DID)
        )
        assert again.status_code == 200
        assert again.json()["consumerPid"] == pid
        # the provider reads its state at the callback
        got = await c.get(CALLBACK + f"/negotiations/{pid}", headers=token(PROVIDER_DID, CONSUMER_DID))
        assert got.status_code == 200
        assert got.json() == body
    with consumer.engine.connect() as conn:
        row = conn.execute(select(t.negotiations).where(t.negotiations.c.pid == pid)).one()
    assert row.counterparty_did == PROVIDER_DID
    assert row.counterparty_address == "https://provider.test/api/dsp/2025-1"
    assert row.offer["target"] == "asset-1"


async def test_accepting_an_offer_sends_the_accepted_event_to_the_provider(network: Any) -> None:
    net, _provider, consumer, _ = network
    async with net.client() as c:
        r = await c.post(
            CALLBACK + "/negotiations/offers", json=offer_message(), headers=token(PROVIDER_DID, CONSUMER_DID)
        )
    pid = r.json()["consumerPid"]
    assert ConsumerCallbacks(consumer.consumer).accept(pid) == "ACCEPTED"
    with consumer.engine.connect() as conn:
        sent = conn.execute(select(outbox_table).where(outbox_table.c.kind == "dsp.negotiation.events")).one()
    assert sent.destination == "https://provider.test/api/dsp/2025-1/negotiations/urn:uuid:prov-offer-1/events"
    assert sent.body["eventType"] == "ACCEPTED" and sent.body["consumerPid"] == pid
    assert schema_errors(sent.body) == []
    # accepting twice is an illegal transition (ACCEPTED → ACCEPTED)
    with pytest.raises(Exception, match="not allowed"):
        ConsumerCallbacks(consumer.consumer).accept(pid)


async def test_an_offered_negotiation_reaches_finalized_through_the_agreement(network: Any) -> None:
    """The provider's agreement to an accepted offer is verified like any other."""
    net, _provider, consumer, _ = network
    async with net.client() as c:
        r = await c.post(
            CALLBACK + "/negotiations/offers", json=offer_message(), headers=token(PROVIDER_DID, CONSUMER_DID)
        )
        pid = r.json()["consumerPid"]
        ConsumerCallbacks(consumer.consumer).accept(pid)
        agreement = {
            "@context": [DSP_CONTEXT],
            "@type": "ContractAgreementMessage",
            "providerPid": "urn:uuid:prov-offer-1",
            "consumerPid": pid,
            "agreement": {
                "@id": "urn:uuid:agreement-offered-1",
                "@type": "Agreement",
                "target": "asset-1",
                "assigner": PROVIDER_DID,
                "assignee": CONSUMER_DID,
                "timestamp": "2026-12-06T10:00:00Z",
                **CX_USAGE,
            },
        }
        a = await c.post(
            CALLBACK + f"/negotiations/{pid}/agreement", json=agreement, headers=token(PROVIDER_DID, CONSUMER_DID)
        )
        assert a.status_code == 200, a.text
        assert a.json()["state"] == "VERIFIED"
    assert consumer.consumer.negotiation(pid)["agreementId"] == "urn:uuid:agreement-offered-1"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"consumerPid": "urn:uuid:mine"}, "consumerPid"),
        ({"callbackAddress": "ftp://provider.test/x"}, "callbackAddress"),
        ({"callbackAddress": "not a url"}, "callbackAddress"),
        ({"@type": "ContractRequestMessage"}, "@type"),
        ({"offer": {"@type": "Offer", "@id": "offer-1", "permission": []}}, "offer"),
    ],
)
async def test_a_bad_offer_is_a_dsp_error_naming_the_field(network: Any, change: dict[str, Any], field: str) -> None:
    net, _provider, consumer, _ = network
    body = offer_message(**change)
    async with net.client() as c:
        r = await c.post(CALLBACK + "/negotiations/offers", json=body, headers=token(PROVIDER_DID, CONSUMER_DID))
    assert r.status_code == 400, r.text
    err = r.json()
    assert err["@type"] == "ContractNegotiationError"
    assert schema_errors(err) == []
    assert field in " ".join(err["reason"]) or field in err.get("code", "")
    with consumer.engine.connect() as conn:
        assert conn.execute(select(t.negotiations)).first() is None


async def test_an_unauthenticated_offer_is_refused(network: Any) -> None:
    net, *_ = network
    async with net.client() as c:
        r = await c.post(CALLBACK + "/negotiations/offers", json=offer_message())
    assert r.status_code == 401
    assert r.json()["@type"] == "ContractNegotiationError"


async def test_process_state_at_the_callback_and_the_404s(network: Any) -> None:
    """After a whole journey the provider reads the consumer's negotiation and transfer; an
    unknown pid and another participant asking get the DSP 404 error."""
    net, _provider, consumer, _ = network
    catalog = await consumer.consumer.catalog("https://provider.test/api/dsp/2025-1", PROVIDER_DID)
    ds = catalog["dataset"][0]
    pid = await consumer.consumer.negotiate(
        "https://provider.test/api/dsp/2025-1", PROVIDER_DID, ds["hasPolicy"][0], target=ds["@id"]
    )
    await net.pump()
    agreement_id = consumer.consumer.negotiation(pid)["agreementId"]
    tpid = await consumer.consumer.transfer(agreement_id)
    await net.pump()
    async with net.client() as c:
        neg = await c.get(CALLBACK + f"/negotiations/{pid}", headers=token(PROVIDER_DID, CONSUMER_DID))
        assert neg.status_code == 200
        assert neg.json()["@type"] == "ContractNegotiation" and neg.json()["state"] == "FINALIZED"
        assert neg.json()["providerPid"] == consumer.consumer.negotiation(pid)["providerPid"]
        assert schema_errors(neg.json()) == []
        tr = await c.get(CALLBACK + f"/transfers/{tpid}", headers=token(PROVIDER_DID, CONSUMER_DID))
        assert tr.status_code == 200
        assert tr.json()["@type"] == "TransferProcess" and tr.json()["state"] == "STARTED"
        assert schema_errors(tr.json()) == []
        for path, kind in (
            (f"/negotiations/{pid}", "ContractNegotiationError"),
            (f"/transfers/{tpid}", "TransferError"),
        ):
            other = await c.get(CALLBACK + path, headers=token(OTHER_DID, CONSUMER_DID))
            assert other.status_code == 404
            assert other.json()["@type"] == kind
            assert schema_errors(other.json()) == []
        for path, kind in (
            ("/negotiations/urn:uuid:nope", "ContractNegotiationError"),
            ("/transfers/urn:uuid:nope", "TransferError"),
        ):
            unknown = await c.get(CALLBACK + path, headers=token(PROVIDER_DID, CONSUMER_DID))
            assert unknown.status_code == 404
            assert unknown.json()["@type"] == kind
            assert unknown.json()["consumerPid"] == "urn:uuid:nope"
