"""Nested catalogs (DSP 2025-1 Catalog: ``catalog`` inside a ``Catalog``): the consumer finds a
dataset in a nested catalog and negotiates it with the connector that catalog names (its
``DataService`` ``endpointURL`` and ``participantId``), here a provider listed by a catalog
service that holds no dataset itself."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from _dsp_harness import PROVIDER_DID
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import select

from batpass.dataspace import ConsumerChannels, NotOffered
from batpass.dataspace import _sql as t
from batpass.dataspace._catalogs import MAX_DEPTH, datasets, locate
from batpass.dataspace._dsp_messages import DSP_CONTEXT, schema_errors

pytestmark = pytest.mark.anyio

CATALOG_SERVICE_DID = "did:web:catalogs.test"
CATALOG_SERVICE_DSP = "https://catalogs.test/api/dsp/2025-1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def catalog_of_catalogs(member: dict[str, Any]) -> dict[str, Any]:
    """A catalog service's catalog: no dataset of its own, the member's catalog nested."""
    nested = {k: v for k, v in copy.deepcopy(member).items() if k != "@context"}
    return {
        "@context": [DSP_CONTEXT],
        "@id": "urn:uuid:catalog-of-catalogs",
        "@type": "Catalog",
        "participantId": CATALOG_SERVICE_DID,
        "service": [{"@id": CATALOG_SERVICE_DID + "#dsp", "@type": "DataService", "endpointURL": CATALOG_SERVICE_DSP}],
        "catalog": [nested],
    }


def serve_catalog(net: Any, body: dict[str, Any]) -> None:
    app = FastAPI()

    @app.post("/api/dsp/2025-1/catalog/request")
    async def catalog_request() -> JSONResponse:
        return JSONResponse(body)

    net.apps["catalogs.test"] = app


async def pumping(net: Any, work: Any) -> Any:
    task = asyncio.ensure_future(work)
    while not task.done():
        await net.pump()
        await asyncio.sleep(0.01)
    return task.result()


async def test_a_dataset_in_a_nested_catalog_is_negotiated_with_its_connector(network: Any) -> None:
    net, _provider, consumer, _ = network
    member = await consumer.consumer.catalog("https://provider.test/api/dsp/2025-1", PROVIDER_DID)
    root = catalog_of_catalogs(member)
    assert schema_errors(root, "Catalog") == []
    assert "dataset" not in root  # only the nested catalog holds it
    serve_catalog(net, root)
    channels = ConsumerChannels(consumer.consumer, recheck_s=0.05)
    data = await pumping(net, channels.pull(CATALOG_SERVICE_DID, "asset-1", CATALOG_SERVICE_DSP))
    assert data["value"] == 42
    channel = channels.cached(CATALOG_SERVICE_DID, "asset-1")
    assert channel is not None and channel.dsp_url == "https://provider.test/api/dsp/2025-1"
    negotiation = consumer.consumer.negotiation(channel.negotiation_pid)
    assert negotiation["state"] == "FINALIZED"
    with consumer.engine.connect() as conn:
        row = conn.execute(select(t.agreements).where(t.agreements.c.id == channel.agreement_id)).one()
    assert row.provider_did == PROVIDER_DID  # the member, not the catalog service


async def test_a_nested_catalog_without_the_asset_is_not_offered(network: Any) -> None:
    net, _provider, consumer, _ = network
    member = await consumer.consumer.catalog("https://provider.test/api/dsp/2025-1", PROVIDER_DID)
    serve_catalog(net, catalog_of_catalogs(member))
    channels = ConsumerChannels(consumer.consumer)
    with pytest.raises(NotOffered):
        await channels.pull(CATALOG_SERVICE_DID, "asset-2", CATALOG_SERVICE_DSP)


def _chain(depth: int) -> dict[str, Any]:
    """A catalog with ``depth`` catalogs nested one in the other, the dataset in the deepest."""
    node: dict[str, Any] = {
        "@id": f"c{depth}",
        "@type": "Catalog",
        "dataset": [{"@id": "deep", "@type": "Dataset", "hasPolicy": [{"@id": "o", "@type": "Offer"}]}],
    }
    for level in range(depth - 1, -1, -1):
        node = {"@id": f"c{level}", "@type": "Catalog", "catalog": [node]}
    return node


def test_nested_catalogs_are_followed_to_a_bounded_depth() -> None:
    assert [d["@id"] for d in datasets(_chain(MAX_DEPTH))] == ["deep"]
    assert datasets(_chain(MAX_DEPTH + 1)) == []
    found = locate(_chain(3), "deep")
    assert found is not None and found.depth == 3
    # no other connector named: negotiated with the connector asked
    assert found.dsp_url is None and found.participant is None


def test_top_level_datasets_come_first_and_stay_with_the_connector_asked() -> None:
    root = _chain(1)
    root["participantId"] = "did:web:root.test"
    root["dataset"] = [{"@id": "deep", "@type": "Dataset", "hasPolicy": [{"@id": "top", "@type": "Offer"}]}]
    found = locate(root, "deep")
    assert found is not None and found.depth == 0 and found.dataset["hasPolicy"][0]["@id"] == "top"
    assert found.dsp_url is None and found.participant is None
