"""Requests sent through the data plane (the Tractus-X ``HttpData`` proxy pattern): a method, a
sub-path, the query and a JSON body reach a proxy source with the consumer's DID from the
agreement, under exactly the token checks of a pull; a source that is not a proxy source takes
only a pull; the source's status passes through."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from _dsp_harness import CONSUMER_BPN, CONSUMER_DID, CX_USAGE, PROVIDER_DID, access_for

from batpass.core.errors import NotFound
from batpass.dataspace import Asset, DataPlaneReply, OfferDefinition, ProxyAssetSource, QueryAssetSource

pytestmark = pytest.mark.anyio

DSP = "https://provider.test/api/dsp/2025-1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Recorder:
    """A proxy source that answers what it was sent, with a status the request chooses."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def content(self, key: str, *, participant_bpnl: str | None, agreement_id: str) -> Any:
        return {"pulled": key}

    async def proxy(
        self,
        key: str,
        *,
        method: str,
        path: str,
        query: Mapping[str, str],
        body: Any,
        consumer_did: str,
        consumer_bpnl: str | None,
        agreement_id: str,
    ) -> DataPlaneReply:
        call = {"key": key, "method": method, "path": path, "query": dict(query), "body": body}
        self.calls.append({**call, "did": consumer_did, "bpnl": consumer_bpnl, "agreement": agreement_id})
        if path == "hidden":
            raise NotFound("nothing here for you", rule="test source")
        return DataPlaneReply(int(query.get("status", "200")), call)


async def _started(net: Any, consumer: Any, asset_id: str) -> str:
    catalog = await consumer.consumer.catalog(DSP, PROVIDER_DID)
    ds = next(d for d in catalog["dataset"] if d["@id"] == asset_id)
    pid = await consumer.consumer.negotiate(DSP, PROVIDER_DID, ds["hasPolicy"][0], target=asset_id)
    await net.pump()
    tpid: str = await consumer.consumer.transfer(consumer.consumer.negotiation(pid)["agreementId"])
    await net.pump()
    assert consumer.consumer.transfer_state(tpid)["state"] == "STARTED"
    return tpid


def _offer(provider: Any, source: Recorder) -> None:
    provider.provider.register_source("rec", source)
    provider.provider.register_asset(Asset(id="asset-p", source="rec", source_key="k-p"))
    provider.provider.register_offer(
        OfferDefinition(id="offer-p", asset_id="asset-p", access_policy=access_for(CONSUMER_BPN), usage_policy=CX_USAGE)
    )


async def test_method_path_query_and_body_reach_the_source(network: Any) -> None:
    net, provider, consumer, _ = network
    source = Recorder()
    assert isinstance(source, ProxyAssetSource) and not isinstance(source, QueryAssetSource)
    _offer(provider, source)
    tpid = await _started(net, consumer, "asset-p")
    r = await consumer.consumer.request(tpid, "POST", path="claims", body={"kg": 1.5, "who": "ignored"})
    assert r.status_code == 200
    assert r.json() == {
        "key": "k-p",
        "method": "POST",
        "path": "claims",
        "query": {},
        "body": {"kg": 1.5, "who": "ignored"},
    }
    r = await consumer.consumer.request(
        tpid, "PUT", path="productIds/urn:gtin:1", query={"requestId": "r-1", "status": "202"}, body={"a": [1]}
    )
    assert r.status_code == 202 and r.json()["path"] == "productIds/urn:gtin:1"
    assert r.json()["query"] == {"requestId": "r-1", "status": "202"}
    r = await consumer.consumer.request(tpid, "GET", path="productIds/x", query={"requestId": "r-2"})
    assert r.status_code == 200 and r.json()["body"] is None and r.json()["method"] == "GET"
    r = await consumer.consumer.request(tpid, "POST", body={"x": 1})  # the endpoint itself
    assert r.status_code == 200 and r.json()["path"] == ""
    # the consumer the source learns is the agreement's, whatever the body says
    assert {c["did"] for c in source.calls} == {CONSUMER_DID} and {c["bpnl"] for c in source.calls} == {CONSUMER_BPN}
    # a refusal of the source is an error in the data plane's shape, its status kept
    r = await consumer.consumer.request(tpid, "GET", path="hidden")
    assert r.status_code == 404 and r.json()["error"] == "invalid_request"
    # a plain pull of the same transfer still reaches the source's content
    assert await consumer.consumer.pull(tpid) == {"pulled": "k-p"}


async def test_the_token_is_checked_as_for_a_pull(network: Any) -> None:
    net, provider, consumer, _ = network
    source = Recorder()
    _offer(provider, source)
    tpid = await _started(net, consumer, "asset-p")
    address = consumer.consumer.data_address(tpid)
    async with net.client() as c:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            r = await c.post(address.endpoint + "/claims", json={"a": 1}, headers=headers)
            assert r.status_code == 401 and r.json()["error"] == "invalid_token"
            assert "Bearer" in r.headers["www-authenticate"]
        auth = {"Authorization": f"Bearer {address.token}"}
        r = await c.put(address.endpoint + "/x", content=b"{not json", headers=auth)
        assert r.status_code == 400 and "JSON" in r.json()["error_description"]
        r = await c.post(address.endpoint + "/" + "p" * 1100, json={}, headers=auth)
        assert r.status_code == 400
    assert source.calls == []
    # the provider ends the transfer: the token no longer reaches the source
    provider.provider.provider_transfer_action(
        consumer.consumer.transfer_state(tpid)["providerPid"], "termination", reason="done"
    )
    async with net.client() as c:
        r = await c.post(
            address.endpoint + "/claims", json={"a": 1}, headers={"Authorization": f"Bearer {address.token}"}
        )
        assert r.status_code == 401
    assert source.calls == []


async def test_a_source_that_is_no_proxy_takes_only_a_pull(network: Any) -> None:
    net, _provider, consumer, _ = network
    tpid = await _started(net, consumer, "asset-1")  # the harness's plain JSON source
    r = await consumer.consumer.request(tpid, "POST", path="claims", body={"a": 1})
    assert r.status_code == 400 and "only a pull" in r.json()["error_description"]
    r = await consumer.consumer.request(tpid, "GET", path="sub")
    assert r.status_code == 400
    assert (await consumer.consumer.pull(tpid))["value"] == 42
