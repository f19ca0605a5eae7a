"""The consumer's channel between two in-process nodes: one journey (catalog → negotiation →
transfer) per provider and asset, awaited through the notifier (a lost notification only
delays; no callback at all is a typed timeout), shared by concurrent askers, negotiated once more
when the provider ended the transfer; every failure a typed error with its stage, partner, the
provider's status and reason."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from _dsp_harness import CONSUMER_BPN, CONSUMER_DID, CX_USAGE, OTHER_BPN, PROVIDER_DID, access_for
from sqlalchemy import func, select

from batpass.core.errors import Forbidden, NotFound, UpstreamUnavailable
from batpass.dataspace import (
    Asset,
    CatalogRefused,
    ChannelError,
    ChannelTimeout,
    ConsumerChannels,
    DspConsumer,
    ExpiredToken,
    NegotiationRefused,
    NotEntitled,
    NotOffered,
    OfferDefinition,
    PartnerUnreachable,
    PullFailed,
    Stage,
    TransferEnded,
    TransferRefused,
)
from batpass.dataspace import _sql as t
from batpass.dataspace.model import Role
from batpass.store import UnitOfWork

pytestmark = pytest.mark.anyio

DSP = "https://provider.test/api/dsp/2025-1"
T = TypeVar("T")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def pumping(net: Any, work: Awaitable[T]) -> T:
    """Await ``work`` while delivering every node's outbox, as the dispatcher does."""
    task = asyncio.ensure_future(work)
    while not task.done():
        await net.pump()
        await asyncio.sleep(0.01)
    return task.result()


def negotiations(node: Any) -> int:
    with node.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(t.negotiations).where(t.negotiations.c.role == Role.CONSUMER)
            ).scalar_one()
        )


class _Deaf:
    async def wait(self, timeout_s: float) -> bool:
        await asyncio.sleep(timeout_s)
        return False


class DeafNotifier:
    """A notifier whose notifications are all lost."""

    def __init__(self) -> None:
        self.waits = 0

    def changed(self, uow: UnitOfWork, process_id: str) -> None:
        return None

    @contextlib.contextmanager
    def watch(self, process_id: str) -> Iterator[_Deaf]:
        self.waits += 1
        yield _Deaf()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


async def test_one_journey_then_reuse(network: Any) -> None:
    net, _provider, consumer, _ = network
    # a re-read only every 30 s: a timely answer proves the callbacks were heard through the notifier
    channels = ConsumerChannels(consumer.consumer, timeout_s=10, recheck_s=30)
    got = await pumping(net, channels.pull(PROVIDER_DID, "asset-1", DSP))
    assert got == {"key": "doc-1", "for": CONSUMER_BPN, "value": 42}
    channel = channels.cached(PROVIDER_DID, "asset-1")
    assert channel is not None and channel.dsp_url == DSP
    assert consumer.consumer.transfer_state(channel.transfer_pid)["state"] == "STARTED"
    assert consumer.consumer.negotiation(channel.negotiation_pid)["agreementId"] == channel.agreement_id

    # kept: no further negotiation, and the endpoint is not looked up again
    async def nowhere() -> str:
        raise AssertionError("the endpoint of a kept channel is not looked up")

    assert (await channels.pull(PROVIDER_DID, "asset-1", nowhere))["value"] == 42
    address = await channels.address(PROVIDER_DID, "asset-1", nowhere, fresh_for_s=10)
    assert address.endpoint == "https://provider.test/api/public"
    assert negotiations(consumer) == 1


class Prefetching:
    """The node's verifier, recording what it is asked to prefetch (dataspace PresentationPrefetch)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.asked: list[str] = []

    async def verify(self, authorization: str | None) -> Any:
        return await self.inner.verify(authorization)

    def prefetch(self, did: str) -> None:
        self.asked.append(did)


async def test_a_new_journey_asks_for_the_provider_s_presentation_ahead(network: Any) -> None:
    """Opening a channel starts the provider's presentation query before the journey (its
    callbacks need it); a kept channel asks nothing."""
    net, _provider, consumer, _ = network
    verifier = Prefetching(consumer.consumer.verifier)
    consumer.consumer.verifier = verifier
    channels = ConsumerChannels(consumer.consumer, timeout_s=10, recheck_s=30)
    assert (await pumping(net, channels.pull(PROVIDER_DID, "asset-1", DSP)))["value"] == 42
    assert (await channels.pull(PROVIDER_DID, "asset-1", DSP))["value"] == 42
    assert verifier.asked == [PROVIDER_DID]


async def test_a_pull_may_wait_longer_than_the_client_timeout(network: Any) -> None:
    """A source that takes its time (a federated question with a long deadline): the pull itself
    waits ``timeout_s``; every other request keeps the client's timeout."""
    net, _provider, consumer, _ = network
    seen: list[tuple[str, float | None]] = []
    inner = net.transport()

    class Recording(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append((request.url.path, request.extensions.get("timeout", {}).get("read")))
            response: httpx.Response = await inner.handle_async_request(request)
            return response

    consumer.consumer.client = httpx.AsyncClient(transport=Recording(), timeout=httpx.Timeout(10.0))
    channels = ConsumerChannels(consumer.consumer, timeout_s=10)
    assert (await pumping(net, channels.pull(PROVIDER_DID, "asset-1", DSP, timeout_s=27.5)))["value"] == 42
    assert (await channels.pull(PROVIDER_DID, "asset-1", DSP))["value"] == 42
    assert [read for path, read in seen if path == "/api/public"] == [27.5, 10.0]
    assert {read for path, read in seen if path != "/api/public"} == {10.0}


async def test_concurrent_askers_share_one_journey(network: Any) -> None:
    net, _provider, consumer, _ = network
    channels = ConsumerChannels(consumer.consumer, timeout_s=10)
    found = await pumping(net, asyncio.gather(*(channels.pull(PROVIDER_DID, "asset-1", DSP) for _ in range(4))))
    assert [f["value"] for f in found] == [42] * 4
    assert negotiations(consumer) == 1


async def test_a_lost_notification_only_delays(network: Any) -> None:
    net, _provider, consumer, _ = network
    deaf = DeafNotifier()
    consumer.consumer.notifier = deaf
    channels = ConsumerChannels(consumer.consumer, timeout_s=10, recheck_s=0.05)
    assert (await pumping(net, channels.pull(PROVIDER_DID, "asset-1", DSP)))["value"] == 42
    assert deaf.waits == 2  # the negotiation and the transfer, each found by re-reading


async def test_no_callback_is_a_typed_timeout(network: Any) -> None:
    _net, _provider, consumer, _ = network
    channels = ConsumerChannels(consumer.consumer, timeout_s=0.3, recheck_s=0.05)
    with pytest.raises(ChannelTimeout) as err:
        await channels.pull(PROVIDER_DID, "asset-1", DSP)  # nobody delivers the provider's agreement
    assert err.value.stage is Stage.NEGOTIATION and err.value.partner == PROVIDER_DID
    assert isinstance(err.value, UpstreamUnavailable)
    assert channels.cached(PROVIDER_DID, "asset-1") is None


async def test_not_offered_and_catalog_refused(network: Any) -> None:
    _net, _provider, consumer, directory = network
    channels = ConsumerChannels(consumer.consumer, timeout_s=5)
    with pytest.raises(NotOffered) as offered:
        await channels.pull(PROVIDER_DID, "asset-none", DSP)
    assert offered.value.stage is Stage.CATALOG and offered.value.partner == PROVIDER_DID
    assert isinstance(offered.value, Forbidden)
    directory.participants.pop(CONSUMER_DID)  # the provider no longer accepts this node's token
    with pytest.raises(CatalogRefused) as refused:
        await channels.pull(PROVIDER_DID, "asset-1", DSP)
    assert refused.value.partner_status == 401 and refused.value.stage is Stage.CATALOG
    assert negotiations(consumer) == 0


async def test_an_unreachable_partner(network: Any) -> None:
    net, _provider, consumer, _ = network
    channels = ConsumerChannels(consumer.consumer, timeout_s=5)
    net.down.add("provider.test")
    with pytest.raises(PartnerUnreachable) as err:
        await channels.pull(PROVIDER_DID, "asset-1", DSP)
    assert err.value.partner_status is None and err.value.stage is Stage.CATALOG
    assert err.value.partner == PROVIDER_DID
    # the data plane down once the channel stands: unreachable too, and the channel is kept
    net.down.clear()
    await pumping(net, channels.pull(PROVIDER_DID, "asset-1", DSP))
    net.down.add("provider.test")
    with pytest.raises(PartnerUnreachable) as err:
        await channels.pull(PROVIDER_DID, "asset-1", DSP)
    assert err.value.stage is Stage.DATA_PLANE
    assert channels.cached(PROVIDER_DID, "asset-1") is not None


async def test_an_answer_that_is_no_dsp_message_is_a_connector_not_working(
    network: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _net, provider, consumer, _ = network
    monkeypatch.setattr(provider.provider, "catalog", lambda *_a, **_k: ({"@type": "Catalog"}, None))
    channels = ConsumerChannels(consumer.consumer, timeout_s=5)
    with pytest.raises(PartnerUnreachable) as err:
        await channels.pull(PROVIDER_DID, "asset-1", DSP)
    assert err.value.partner_status == 200 and err.value.stage is Stage.CATALOG
    assert err.value.reason is not None and "@context" in err.value.reason


async def test_a_refused_negotiation_carries_the_providers_reason(network: Any) -> None:
    net, provider, consumer, _ = network
    usage = {
        "permission": [
            {
                "action": "use",
                "constraint": [
                    {
                        "and": [
                            {"leftOperand": "BusinessPartnerNumber", "operator": "isAnyOf", "rightOperand": [OTHER_BPN]}
                        ]
                    }
                ],
            }
        ]
    }
    provider.provider.register_offer(
        OfferDefinition(
            id="offer-other", asset_id="asset-1", access_policy=access_for(CONSUMER_BPN), usage_policy=usage
        )
    )
    provider.provider.register_asset(Asset(id="asset-2", source="json", source_key="doc-1"))
    provider.provider.register_offer(
        OfferDefinition(id="offer-2", asset_id="asset-2", access_policy=access_for(CONSUMER_BPN), usage_policy=usage)
    )
    channels = ConsumerChannels(consumer.consumer, timeout_s=5)
    with pytest.raises(NegotiationRefused) as err:
        await pumping(net, channels.pull(PROVIDER_DID, "asset-2", DSP))
    assert err.value.partner_status == 400 and err.value.stage is Stage.NEGOTIATION
    assert err.value.reason is not None and "usage policy not satisfied" in err.value.reason
    # the stored process ended TERMINATED with the provider's answer
    with consumer.engine.connect() as conn:
        states = conn.execute(select(t.negotiations.c.state).where(t.negotiations.c.role == Role.CONSUMER)).all()
    assert [s[0] for s in states] == ["TERMINATED"]


async def test_nothing_entitled_is_a_404(network: Any) -> None:
    net, provider, consumer, _ = network

    class Secretive:
        async def query_content(self, key: str, **_: Any) -> Any:
            raise NotFound("no such lot for you", rule="test source")

    provider.provider.register_source("secret", Secretive())
    provider.provider.register_asset(Asset(id="asset-s", source="secret", source_key="k"))
    provider.provider.register_offer(
        OfferDefinition(id="offer-s", asset_id="asset-s", access_policy=access_for(CONSUMER_BPN), usage_policy=CX_USAGE)
    )
    channels = ConsumerChannels(consumer.consumer, timeout_s=5)
    with pytest.raises(NotEntitled) as err:
        await pumping(net, channels.pull(PROVIDER_DID, "asset-s", DSP, query={"lot": "x"}))
    assert err.value.partner_status == 404 and err.value.stage is Stage.DATA_PLANE
    assert isinstance(err.value, NotFound)
    assert channels.cached(PROVIDER_DID, "asset-s") is not None  # the channel stands


async def test_an_ended_transfer_is_negotiated_once_more(network: Any) -> None:
    net, provider, consumer, _ = network
    channels = ConsumerChannels(consumer.consumer, timeout_s=10)
    await pumping(net, channels.pull(PROVIDER_DID, "asset-1", DSP))
    first = channels.cached(PROVIDER_DID, "asset-1")
    assert first is not None
    provider_pid = consumer.consumer.transfer_state(first.transfer_pid)["providerPid"]
    provider.provider.provider_transfer_action(provider_pid, "termination", reason="done")
    assert (await pumping(net, channels.pull(PROVIDER_DID, "asset-1", DSP)))["value"] == 42
    second = channels.cached(PROVIDER_DID, "asset-1")
    assert second is not None and second.transfer_pid != first.transfer_pid
    assert negotiations(consumer) == 2
    # a proxied request and a data address behave alike
    provider_pid = consumer.consumer.transfer_state(second.transfer_pid)["providerPid"]
    provider.provider.provider_transfer_action(provider_pid, "termination")
    resp = await pumping(net, channels.request(PROVIDER_DID, "asset-1", DSP, "GET"))
    assert resp.status_code == 200 and resp.json()["value"] == 42  # a GET through the data plane: a pull
    assert negotiations(consumer) == 3


async def test_a_provider_ending_every_transfer_fails_typed_after_one_more_negotiation(
    network: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    net, provider, consumer, _ = network
    channels = ConsumerChannels(consumer.consumer, timeout_s=10)
    await pumping(net, channels.pull(PROVIDER_DID, "asset-1", DSP))

    def ended(*_: Any) -> Any:
        raise ExpiredToken("the transfer ended", rule="test provider")

    # from now on the provider's data plane honours no transfer's tokens, not even refreshed
    monkeypatch.setattr(provider.provider, "_authorise", ended)
    monkeypatch.setattr(provider.provider, "refresh", ended)
    with pytest.raises(TransferEnded) as err:
        await pumping(net, channels.pull(PROVIDER_DID, "asset-1", DSP))
    assert err.value.partner_status == 401 and isinstance(err.value, PullFailed)
    assert negotiations(consumer) == 2  # once more, not forever
    assert channels.cached(PROVIDER_DID, "asset-1") is None


@pytest.mark.parametrize(
    ("stage", "status", "kind"),
    [
        (Stage.CATALOG, 401, CatalogRefused),
        (Stage.CATALOG, 400, CatalogRefused),
        (Stage.CATALOG, 503, PartnerUnreachable),
        (Stage.NEGOTIATION, 400, NegotiationRefused),
        (Stage.NEGOTIATION, 403, NegotiationRefused),
        (Stage.NEGOTIATION, 500, PartnerUnreachable),
        (Stage.TRANSFER, 400, TransferRefused),
        (Stage.TRANSFER, 502, PartnerUnreachable),
        (Stage.DATA_PLANE, 404, NotEntitled),
        (Stage.DATA_PLANE, 401, TransferEnded),
        (Stage.DATA_PLANE, 400, PullFailed),
        (Stage.DATA_PLANE, 500, PullFailed),
    ],
)
def test_each_answer_is_typed(stage: Stage, status: int, kind: type[ChannelError]) -> None:
    resp = httpx.Response(status, json={"@type": "CatalogError", "code": "x", "reason": ["because", "so"]})
    err = DspConsumer._refusal(resp, "what", stage, "did:web:p.test")
    assert type(err) is kind
    assert (err.stage, err.partner, err.partner_status, err.reason) == (stage, "did:web:p.test", status, "because; so")
    assert err.details["field"] == "what" and err.rule


async def test_a_transfer_another_worker_started_is_taken_up_and_an_ended_one_is_not(network: Any) -> None:
    """Two workers of one node share its store, not their memory: the second takes up the
    transfer the first started instead of negotiating again; once the provider ended it, the
    second negotiates a new one (and never takes the ended one up again)."""
    net, provider, consumer, _ = network
    first = ConsumerChannels(consumer.consumer, timeout_s=10)
    await pumping(net, first.pull(PROVIDER_DID, "asset-1", DSP))
    opened = first.cached(PROVIDER_DID, "asset-1")
    assert opened is not None and negotiations(consumer) == 1

    async def nowhere() -> str:
        raise AssertionError("a transfer taken up from the store needs no endpoint")

    second = ConsumerChannels(consumer.consumer, timeout_s=10)
    assert (await second.pull(PROVIDER_DID, "asset-1", nowhere))["value"] == 42
    assert second.cached(PROVIDER_DID, "asset-1") == opened and negotiations(consumer) == 1
    # the provider ends it: the second worker's next pull is refused, and it negotiates anew
    provider_pid = consumer.consumer.transfer_state(opened.transfer_pid)["providerPid"]
    provider.provider.provider_transfer_action(provider_pid, "termination", reason="done")
    assert (await pumping(net, second.pull(PROVIDER_DID, "asset-1", DSP)))["value"] == 42
    renewed = second.cached(PROVIDER_DID, "asset-1")
    assert renewed is not None and renewed.transfer_pid != opened.transfer_pid and negotiations(consumer) == 2


async def test_a_pull_after_another_worker_rotated_the_tokens_takes_the_stored_address(network: Any) -> None:
    """A worker keeps the data address its pulls use; when another worker of the node refreshed
    the transfer's tokens (revoking the kept ones), the next pull is refused once, takes the
    stored address and succeeds, rather than refreshing with a revoked refresh token."""
    net, _provider, consumer, _ = network
    first = ConsumerChannels(consumer.consumer, timeout_s=10)
    assert (await pumping(net, first.pull(PROVIDER_DID, "asset-1", DSP)))["value"] == 42
    channel = first.cached(PROVIDER_DID, "asset-1")
    assert channel is not None
    c = consumer.consumer
    other = DspConsumer(
        c.engine, settings=c.settings, verifier=c.verifier, token_issuer=c.token_issuer, client=c.client
    )
    before = c.data_address(channel.transfer_pid)
    rotated = await other.refresh_data_address(channel.transfer_pid)
    assert before is not None and rotated.token != before.token
    assert (await first.pull(PROVIDER_DID, "asset-1", DSP))["value"] == 42
    assert c.data_address(channel.transfer_pid) == rotated  # no refresh of its own was needed
    assert (await first.pull(PROVIDER_DID, "asset-1", DSP))["value"] == 42
