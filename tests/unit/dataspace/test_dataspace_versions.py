"""Version discovery (DSP 2025-1 "Exposure of Versions"): the consumer reads the partner's
``/.well-known/dspace-version`` to find its DSP base for 2025-1 over HTTPS, keeps it per partner,
and refuses a partner with no common version; the channel's journey starts there when it is given
the DID document's ``DataService`` endpoint."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from _dsp_harness import PROVIDER_DID

from batpass.core.errors import UpstreamUnavailable
from batpass.dataspace import (
    ConsumerChannels,
    NoCommonVersion,
    PartnerUnreachable,
    ServiceEndpoint,
    Stage,
    VersionDiscovery,
)

pytestmark = pytest.mark.anyio

P = "did:web:partner.example"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def serving(document: Any, *, status: int = 200, seen: list[str] | None = None) -> httpx.AsyncClient:
    """A client whose every GET answers ``document`` (the URLs asked go to ``seen``)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(str(request.url))
        if isinstance(document, bytes):
            return httpx.Response(status, content=document)
        return httpx.Response(status, json=document)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


def versions(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"protocolVersions": list(entries)}


V2025 = {"version": "2025-1", "path": "/connector/dsp/2025-1", "binding": "HTTPS", "serviceId": P + "#dsp"}


async def test_the_base_is_the_root_and_the_path_of_the_2025_1_https_entry() -> None:
    seen: list[str] = []
    doc = versions(
        {"version": "2024-1", "path": "/connector/dsp/2024-1", "binding": "HTTPS"},
        V2025,
    )
    discovery = VersionDiscovery(serving(doc, seen=seen))
    base = await discovery.dsp_base(P, "https://partner.example/base/.well-known/dspace-version")
    assert base == "https://partner.example/base/connector/dsp/2025-1"
    assert seen == ["https://partner.example/base/.well-known/dspace-version"]
    # kept per partner: asked once
    assert await discovery.dsp_base(P, "https://partner.example/base/.well-known/dspace-version") == base
    assert len(seen) == 1
    # forgotten (a failed journey): asked again
    discovery.forget(P)
    await discovery.dsp_base(P, "https://partner.example/base/.well-known/dspace-version")
    assert len(seen) == 2


async def test_an_endpoint_that_is_the_dsp_base_is_looked_up_at_its_origin() -> None:
    """A DID document written before the binding (its DataService names the DSP base)."""
    seen: list[str] = []
    discovery = VersionDiscovery(serving(versions(V2025), seen=seen))
    base = await discovery.dsp_base(P, "https://partner.example:8443/api/dsp/2025-1")
    assert seen == ["https://partner.example:8443/.well-known/dspace-version"]
    assert base == "https://partner.example:8443/connector/dsp/2025-1"


async def test_no_common_version_is_refused_typed() -> None:
    doc = versions({"version": "2024-1", "path": "/dsp/2024-1", "binding": "HTTPS"})
    discovery = VersionDiscovery(serving(doc))
    with pytest.raises(NoCommonVersion) as refused:
        await discovery.dsp_base(P, "https://partner.example/.well-known/dspace-version")
    err = refused.value
    assert isinstance(err, UpstreamUnavailable)
    assert err.stage is Stage.CATALOG and err.partner == P and err.reason == "2024-1/HTTPS"
    assert "Exposure of Versions" in (err.rule or "")


@pytest.mark.parametrize(
    ("document", "status"),
    [
        (b"<html>not json</html>", 200),
        ({"versions": []}, 200),  # fails protocol-version-schema
        (versions(), 200),  # minItems 1
        (versions({**V2025, "path": "relative/path"}), 200),
        (versions({**V2025, "path": "/a/../../etc"}), 200),
        ({"error": "nope"}, 404),
    ],
)
async def test_a_version_document_that_is_not_one_is_a_connector_not_working(document: Any, status: int) -> None:
    discovery = VersionDiscovery(serving(document, status=status))
    with pytest.raises(PartnerUnreachable) as failed:
        await discovery.dsp_base(P, "https://partner.example/.well-known/dspace-version")
    assert failed.value.stage is Stage.CATALOG and failed.value.partner == P
    assert not isinstance(failed.value, NoCommonVersion)


async def test_an_unreachable_version_endpoint() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    discovery = VersionDiscovery(httpx.AsyncClient(transport=httpx.MockTransport(down)))
    with pytest.raises(PartnerUnreachable) as failed:
        await discovery.dsp_base(P, "https://partner.example/.well-known/dspace-version")
    assert failed.value.partner_status is None


async def pumping(net: Any, work: Any) -> Any:
    task = asyncio.ensure_future(work)
    while not task.done():
        await net.pump()
        await asyncio.sleep(0.01)
    return task.result()


async def test_a_journey_from_the_did_service_endpoint(network: Any) -> None:
    """The channel discovers the provider's DSP base from the node's own version document."""
    net, _provider, consumer, _ = network
    channels = ConsumerChannels(consumer.consumer, recheck_s=0.05)
    endpoint = ServiceEndpoint("https://provider.test/.well-known/dspace-version")
    data = await pumping(net, channels.pull(PROVIDER_DID, "asset-1", endpoint))
    assert data["value"] == 42
    assert channels.cached(PROVIDER_DID, "asset-1").dsp_url == "https://provider.test/api/dsp/2025-1"  # type: ignore[union-attr]
    # an endpoint found later (a DID document resolved when the journey starts) works the same
    channels.forget(PROVIDER_DID, "asset-1")

    async def later() -> ServiceEndpoint:
        return endpoint

    assert (await pumping(net, channels.pull(PROVIDER_DID, "asset-1", later)))["value"] == 42


async def test_the_catalog_advertises_the_service_id_of_the_version_document(network: Any) -> None:
    net, _provider, consumer, _ = network
    async with net.client() as c:
        versions_doc = (await c.get("https://provider.test/.well-known/dspace-version")).json()
    service_id = versions_doc["protocolVersions"][0]["serviceId"]
    assert service_id == PROVIDER_DID + "#dsp"
    catalog = await consumer.consumer.catalog("https://provider.test/api/dsp/2025-1", PROVIDER_DID)
    assert [s["@id"] for s in catalog["service"]] == [service_id]
    assert {d["accessService"] for ds in catalog["dataset"] for d in ds["distribution"]} == {service_id}
