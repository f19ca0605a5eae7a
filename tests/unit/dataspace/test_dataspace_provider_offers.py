"""A provider-initiated negotiation with batpass on both sides: the provider offers one of its
catalog offers to the consumer's callback, the consumer accepts, the provider agrees (its usage
policy checked against the verified consumer), the consumer verifies, the provider finalizes."""

from __future__ import annotations

from typing import Any

import pytest
from _dsp_harness import CONSUMER_DID, CX_USAGE, OTHER_BPN, OTHER_DID, access_for
from sqlalchemy import select

from batpass.core.errors import InvalidInput, NotFound
from batpass.dataspace import OfferDefinition, PartnerUnreachable
from batpass.dataspace import _sql as t
from batpass.dataspace._callbacks import ConsumerCallbacks
from batpass.dataspace._offers import ProviderOffers
from batpass.dataspace.model import Role
from batpass.store import outbox_table

pytestmark = pytest.mark.anyio

CALLBACK = "https://consumer.test/api/dsp/2025-1/callback"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def provider_negotiation(provider: Any, pid: str) -> Any:
    with provider.engine.connect() as conn:
        return conn.execute(
            select(t.negotiations).where(t.negotiations.c.pid == pid).where(t.negotiations.c.role == Role.PROVIDER)
        ).one()


async def test_an_offer_the_consumer_accepts_is_finalized_on_both_sides(network: Any) -> None:
    net, provider, consumer, _ = network
    offers = ProviderOffers(provider.provider, net.client())
    ppid = await offers.offer(CONSUMER_DID, CALLBACK, "offer-1")
    mine = provider_negotiation(provider, ppid)
    assert mine.state == "OFFERED" and mine.consumer_pid
    assert consumer.consumer.negotiation(mine.consumer_pid)["state"] == "OFFERED"
    assert ConsumerCallbacks(consumer.consumer).accept(mine.consumer_pid) == "ACCEPTED"
    await net.pump()
    assert provider_negotiation(provider, ppid).state == "FINALIZED"
    theirs = consumer.consumer.negotiation(mine.consumer_pid)
    assert theirs["state"] == "FINALIZED" and theirs["providerPid"] == ppid
    # the agreement serves a transfer like any other
    tpid = await consumer.consumer.transfer(theirs["agreementId"])
    await net.pump()
    assert (await consumer.consumer.pull(tpid))["value"] == 42


async def test_an_acceptance_by_a_consumer_the_offer_is_not_for_is_refused(network: Any) -> None:
    """The provider offered to a participant its access policy does not admit: the acceptance
    is refused (400) and nothing is agreed."""
    net, provider, consumer, _ = network
    provider.provider.register_offer(
        OfferDefinition(
            id="offer-other", asset_id="asset-1", access_policy=access_for(OTHER_BPN), usage_policy=CX_USAGE
        )
    )
    offers = ProviderOffers(provider.provider, net.client())
    ppid = await offers.offer(CONSUMER_DID, CALLBACK, "offer-other")
    cpid = provider_negotiation(provider, ppid).consumer_pid
    ConsumerCallbacks(consumer.consumer).accept(cpid)
    await net.pump()
    assert provider_negotiation(provider, ppid).state == "OFFERED"
    with provider.engine.connect() as conn:
        assert conn.execute(select(t.agreements)).first() is None
    with consumer.engine.connect() as conn:
        sent = conn.execute(select(outbox_table).where(outbox_table.c.kind == "dsp.negotiation.events")).one()
    assert sent.response_status == 400


async def test_an_unknown_offer_and_a_consumer_that_refuses_or_is_down(network: Any) -> None:
    net, provider, _consumer, _ = network
    offers = ProviderOffers(provider.provider, net.client())
    with pytest.raises(NotFound):
        await offers.offer(CONSUMER_DID, CALLBACK, "no-such-offer")
    # the consumer does not know the provider as OTHER_DID's connector: its verifier refuses
    with pytest.raises(InvalidInput):
        await offers.offer(OTHER_DID, CALLBACK, "offer-1")
    net.down.add("consumer.test")
    with pytest.raises(PartnerUnreachable):
        await offers.offer(CONSUMER_DID, CALLBACK, "offer-1")
    with provider.engine.connect() as conn:
        states = [r.state for r in conn.execute(select(t.negotiations).where(t.negotiations.c.role == Role.PROVIDER))]
    assert states == ["TERMINATED", "TERMINATED"]
