"""The data plane passes a pull's query string, opaque, to a query source (with the consumer's
DID from the agreement); a plain source refuses a query; one transfer token serves many pulls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from _dsp_harness import CONSUMER_BPN, CONSUMER_DID, CX_USAGE, PROVIDER_DID, access_for

from batpass.core.errors import BatpassError, NotFound
from batpass.dataspace import Asset, OfferDefinition, QueryAssetSource

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class EchoQuery:
    """Answers with what it was asked and for whom; refuses the item 'secret'."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None, dict[str, str]]] = []

    async def query_content(
        self,
        key: str,
        *,
        consumer_did: str,
        consumer_bpnl: str | None,
        agreement_id: str,
        query: Mapping[str, str],
    ) -> Any:
        self.calls.append((key, consumer_did, consumer_bpnl, dict(query)))
        if query.get("item") == "secret":
            raise NotFound("no such item", rule="test source")
        return {"key": key, "item": query.get("item"), "consumer": consumer_did}


async def _started(net: Any, consumer: Any, asset_id: str) -> str:
    catalog = await consumer.consumer.catalog("https://provider.test/api/dsp/2025-1", PROVIDER_DID)
    ds = next(d for d in catalog["dataset"] if d["@id"] == asset_id)
    pid = await consumer.consumer.negotiate(
        "https://provider.test/api/dsp/2025-1", PROVIDER_DID, ds["hasPolicy"][0], target=asset_id
    )
    await net.pump()
    agreement_id = consumer.consumer.negotiation(pid)["agreementId"]
    tpid: str = await consumer.consumer.transfer(agreement_id)
    await net.pump()
    assert consumer.consumer.transfer_state(tpid)["state"] == "STARTED"
    return tpid


async def test_query_reaches_the_source_with_the_consumer_did(network: Any) -> None:
    net, provider, consumer, _ = network
    source = EchoQuery()
    assert isinstance(source, QueryAssetSource)
    provider.provider.register_source("echo", source)
    provider.provider.register_asset(Asset(id="asset-q", source="echo", source_key="k-1"))
    provider.provider.register_offer(
        OfferDefinition(id="offer-q", asset_id="asset-q", access_policy=access_for(CONSUMER_BPN), usage_policy=CX_USAGE)
    )
    tpid = await _started(net, consumer, "asset-q")
    a = await consumer.consumer.pull(tpid, query={"item": "lot A&b=c"})
    b = await consumer.consumer.pull(tpid, query={"item": "lot-2"})
    assert a == {"key": "k-1", "item": "lot A&b=c", "consumer": CONSUMER_DID}
    assert b["item"] == "lot-2"
    assert [c[3] for c in source.calls] == [{"item": "lot A&b=c"}, {"item": "lot-2"}]
    assert {c[2] for c in source.calls} == {CONSUMER_BPN}
    with pytest.raises(BatpassError) as err:
        await consumer.consumer.pull(tpid, query={"item": "secret"})
    assert "404" in str(err.value) or "no such item" in str(err.value)


async def test_plain_source_refuses_a_query(network: Any) -> None:
    net, _provider, consumer, _ = network
    tpid = await _started(net, consumer, "asset-1")
    assert (await consumer.consumer.pull(tpid))["value"] == 42
    with pytest.raises(BatpassError) as err:
        await consumer.consumer.pull(tpid, query={"lot": "x"})
    assert "takes no query" in str(err.value)
