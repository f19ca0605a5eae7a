"""Every DSP message batpass emits keeps every term under JSON-LD expansion (pyld, contexts from
the bundle only): a JSON-LD consumer such as the EDC reads what a plain-JSON reader reads.

The messages are recorded on the wire between two in-process nodes (requests a node sends,
answers it gives, outbox deliveries) through a whole journey, a provider-initiated offer and the
three error shapes. For each, the compacted keys are compared with the expansion: a key whose
term the contexts do not define vanishes from the expansion (and from the expansion compacted
again), which is what happened to ``title``, ``description`` and ``semanticId`` in the catalog.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from _dsp_harness import CONSUMER_BPN, CONSUMER_DID, CX_USAGE, OTHER_DID, PROVIDER_DID, access_for, token
from cachetools import LRUCache
from pyld import jsonld
from pyld.context_resolver import ContextResolver

from batpass.dataspace import Asset, OfferDefinition, ProviderOffers
from batpass.dataspace._callbacks import ConsumerCallbacks
from batpass.dataspace._dsp_messages import BATPASS_CATALOG_CONTEXT, DSP_CONTEXT, bundled_context, document_loader

pytestmark = pytest.mark.anyio

DSP = "https://provider.test/api/dsp/2025-1"
CALLBACK = "https://consumer.test/api/dsp/2025-1/callback"
DCT = "http://purl.org/dc/terms/"
AUTHORED = {"X-Test-Authored": "1"}
SEMANTIC_ID = "urn:samm:io.catenax.battery.battery_pass:6.1.0#BatteryPass"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Recorder:
    """ASGI middleware keeping every JSON-LD body a node receives (sent by the other node) or
    answers."""

    def __init__(self, app: Any, seen: list[tuple[str, dict[str, Any]]], *, record_requests: bool) -> None:
        self.app = app
        self.seen = seen
        self.record_requests = record_requests

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = f"{scope['method']} {scope['path']}"
        authored = (b"x-test-authored", b"1") in scope["headers"]  # written by this test, not batpass
        chunks: list[bytes] = []

        async def receiving() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body") and self.record_requests and not authored:
                    self._keep("request " + where, b"".join(chunks))
            return message

        out: list[bytes] = []

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.body":
                out.append(message.get("body", b""))
                if not message.get("more_body"):
                    self._keep("answer " + where, b"".join(out))
            await send(message)

        await self.app(scope, receiving, sending)

    def _keep(self, where: str, raw: bytes) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            return
        if isinstance(body, dict) and "@context" in body:
            self.seen.append((where, body))


def _local(name: str) -> str:
    """The last segment of a term, compact IRI or IRI (``dct:title``, ``http://…/terms/title``)."""
    return re.split(r"[#/:]", name)[-1]


def _dropped(compacted: Any, expanded: Any, path: str) -> list[str]:
    """The keys of ``compacted`` with no expanded counterpart: each key is paired with the
    expanded IRI ending in the same name (every DSP, ODRL, DCAT and Dublin Core term does, and
    so do batpass's), and the walk goes on in the pair's values."""
    if not isinstance(compacted, dict) or not isinstance(expanded, dict) or "@value" in expanded:
        return []
    out: list[str] = []
    for key, value in compacted.items():
        if key.startswith("@") or value is None:  # keywords; a null value states nothing
            continue
        iri = next((i for i in expanded if not i.startswith("@") and _local(i) == _local(key)), None)
        if iri is None:
            out.append(path + key)
            continue
        values = value if isinstance(value, list) else [value]
        for c, e in zip(values, expanded[iri], strict=False):
            out += _dropped(c, e, f"{path}{key}.")
    return out


def expand(doc: dict[str, Any]) -> list[Any]:
    """``doc`` expanded with the bundled contexts only, by a context resolver of its own: pyld
    3.3.0's shared resolved-context cache carries a type-scoped context over from one document
    to the next (after a ``Catalog``, a ``ContractAgreementMessage`` loses ``agreement``)."""
    resolver = ContextResolver(LRUCache(maxsize=64), document_loader)
    return list(jsonld.expand(doc, {"documentLoader": document_loader, "contextResolver": resolver}))


def dropped_terms(doc: dict[str, Any]) -> list[str]:
    """The keys of ``doc`` that JSON-LD expansion drops."""
    (expanded,) = expand(doc)
    return _dropped(doc, expanded, "")


def test_the_check_sees_a_dropped_term() -> None:
    doc = {
        "@context": [DSP_CONTEXT],
        "@type": "ContractNegotiation",
        "providerPid": "p",
        "consumerPid": "c",
        "state": "REQUESTED",
        "undefinedTerm": "lost",
    }
    assert dropped_terms(doc) == ["undefinedTerm"]
    assert dropped_terms({k: v for k, v in doc.items() if k != "undefinedTerm"}) == []


async def _journey(net: Any, provider: Any, consumer: Any) -> None:
    """Catalog, dataset, negotiation, transfer, suspension, resumption, completion; a terminated
    transfer; a provider-initiated offer, accepted; the three DSP error shapes."""
    catalog = await consumer.consumer.catalog(DSP, PROVIDER_DID)
    async with net.client() as c:
        await c.get(DSP + "/catalog/datasets/asset-1", headers=token(CONSUMER_DID, PROVIDER_DID))
    ds = next(d for d in catalog["dataset"] if d["@id"] == "asset-1")
    pid = await consumer.consumer.negotiate(DSP, PROVIDER_DID, ds["hasPolicy"][0], target="asset-1")
    await net.pump()
    agreement = consumer.consumer.negotiation(pid)["agreementId"]
    tpid = await consumer.consumer.transfer(agreement)
    await net.pump()
    ppid = consumer.consumer.transfer_state(tpid)["providerPid"]
    provider.provider.provider_transfer_action(ppid, "suspension", reason="maintenance")
    await net.pump()
    provider.provider.provider_transfer_action(ppid, "start")
    await net.pump()
    consumer.consumer.send_transfer_message(tpid, "completion")
    await net.pump()
    # a second negotiation, read by the consumer
    ds2 = next(d for d in catalog["dataset"] if d["@id"] == "battery-pass")
    pid2 = await consumer.consumer.negotiate(DSP, PROVIDER_DID, ds2["hasPolicy"][0], target="battery-pass")
    async with net.client() as c:
        ppid2 = consumer.consumer.negotiation(pid2)["providerPid"]
        await c.get(DSP + f"/negotiations/{ppid2}", headers=token(CONSUMER_DID, PROVIDER_DID))
        await c.get(CALLBACK + f"/negotiations/{pid}", headers=token(PROVIDER_DID, CONSUMER_DID))
        await c.get(CALLBACK + f"/transfers/{tpid}", headers=token(PROVIDER_DID, CONSUMER_DID))
        await c.get(DSP + f"/transfers/{ppid}", headers=token(CONSUMER_DID, PROVIDER_DID))
        # a provider-initiated offer, accepted
        offer = {
            "@context": [DSP_CONTEXT],
            "@type": "ContractOfferMessage",
            "providerPid": "urn:uuid:offer-from-provider",
            "offer": {"@type": "Offer", "@id": "offer-x", "target": "asset-1", **CX_USAGE},
            "callbackAddress": DSP,
        }
        r = await c.post(
            CALLBACK + "/negotiations/offers", json=offer, headers=AUTHORED | token(PROVIDER_DID, CONSUMER_DID)
        )
        ConsumerCallbacks(consumer.consumer).accept(r.json()["consumerPid"])
        # and one batpass's provider sends (ContractOfferMessage), accepted and agreed
        ppid3 = await ProviderOffers(provider.provider, net.client()).offer(CONSUMER_DID, CALLBACK, "offer-1")
        cpid3 = (await c.get(DSP + f"/negotiations/{ppid3}", headers=token(CONSUMER_DID, PROVIDER_DID))).json()
        ConsumerCallbacks(consumer.consumer).accept(cpid3["consumerPid"])
        # the error shapes: catalog, negotiation, transfer
        await c.get(DSP + "/catalog/datasets/asset-1", headers=token(OTHER_DID, PROVIDER_DID))
        await c.get(DSP + "/negotiations/urn:uuid:nope", headers=token(CONSUMER_DID, PROVIDER_DID))
        await c.get(DSP + "/transfers/urn:uuid:nope", headers=token(CONSUMER_DID, PROVIDER_DID))
    await net.pump()
    # a transfer the consumer terminates
    tpid2 = await consumer.consumer.transfer(agreement)
    await net.pump()
    consumer.consumer.send_transfer_message(tpid2, "termination", reason="no longer needed")
    await net.pump()


async def test_no_term_is_dropped_from_any_message_batpass_emits(network: Any) -> None:
    net, provider, consumer, _ = network
    provider.provider.register_asset(
        Asset(
            id="battery-pass",
            source="json",
            source_key="bp",
            title="Catena-X battery pass",
            properties={
                "dct:type": "https://w3id.org/catenax/taxonomy#Submodel",
                "semanticId": SEMANTIC_ID,
                "description": "io.catenax.battery.battery_pass:6.1.0 of a battery",
                "version": "6.1.0",  # a plain key the management API would also store
            },
        )
    )
    provider.provider.register_offer(
        OfferDefinition(
            id="offer-bp", asset_id="battery-pass", access_policy=access_for(CONSUMER_BPN), usage_policy=CX_USAGE
        )
    )
    seen: list[tuple[str, dict[str, Any]]] = []
    # the provider's answers and what the consumer sends it; the consumer's answers and what the
    # provider sends it (callbacks)
    for host in ("provider.test", "consumer.test"):
        net.apps[host] = Recorder(net.apps[host], seen, record_requests=True)  # type: ignore[assignment]
    await _journey(net, provider, consumer)
    kinds = {body.get("@type") for _, body in seen}
    assert {
        "Catalog",
        "Dataset",
        "CatalogRequestMessage",
        "CatalogError",
        "ContractRequestMessage",
        "ContractOfferMessage",
        "ContractNegotiation",
        "ContractAgreementMessage",
        "ContractAgreementVerificationMessage",
        "ContractNegotiationEventMessage",
        "ContractNegotiationError",
        "TransferRequestMessage",
        "TransferStartMessage",
        "TransferSuspensionMessage",
        "TransferCompletionMessage",
        "TransferTerminationMessage",
        "TransferProcess",
        "TransferError",
    } <= kinds, kinds
    problems = {f"{where} {body.get('@type')}": d for where, body in seen if (d := dropped_terms(body))}
    assert problems == {}, json.dumps(problems, indent=1)


async def test_the_catalog_terms_expand_to_dcterms_and_the_semantic_id_to_an_iri(network: Any) -> None:
    _net, provider, consumer, _ = network
    provider.provider.register_asset(
        Asset(
            id="asset-1",
            source="json",
            source_key="doc-1",
            title="Battery data",
            properties={"description": "opaque JSON", "semanticId": SEMANTIC_ID},
        )
    )
    catalog = await consumer.consumer.catalog(DSP, PROVIDER_DID)
    (node,) = expand(catalog)
    (dataset,) = node["http://www.w3.org/ns/dcat#dataset"]
    assert dataset[DCT + "title"] == [{"@value": "Battery data"}]
    assert dataset[DCT + "description"] == [{"@value": "opaque JSON"}]
    semantic = [v for k, v in dataset.items() if k.endswith("semanticId")]
    assert semantic == [[{"@id": SEMANTIC_ID}]]


async def test_the_node_serves_the_catalog_context_and_plain_keys_keep_their_meaning(network: Any) -> None:
    net, provider, consumer, _ = network
    async with net.client() as c:
        served = await c.get("https://provider.test/ns/dsp-catalog/v1")
    assert served.status_code == 200 and served.headers["content-type"].startswith("application/ld+json")
    assert served.json() == bundled_context(BATPASS_CATALOG_CONTEXT)
    provider.provider.register_asset(
        Asset(
            id="asset-1",
            source="json",
            source_key="doc-1",
            properties={"version": "3.0", "cx-common:version": "3.0", "https://example.org/x": 1},
        )
    )
    catalog = await consumer.consumer.catalog(DSP, PROVIDER_DID)
    assert catalog["@context"] == [DSP_CONTEXT, BATPASS_CATALOG_CONTEXT]
    (dataset,) = catalog["dataset"]
    # a plain key is read in the EDC vocabulary, as the management API stores it; the others as they are
    assert {k for k in dataset if not k.startswith("@")} >= {
        "edc:version",
        "cx-common:version",
        "https://example.org/x",
    }
    (node,) = expand(catalog)
    (expanded,) = node["http://www.w3.org/ns/dcat#dataset"]
    assert expanded["https://w3id.org/edc/v0.0.1/ns/version"] == [{"@value": "3.0"}]
    assert expanded["https://w3id.org/catenax/ontology/common#version"] == [{"@value": "3.0"}]
