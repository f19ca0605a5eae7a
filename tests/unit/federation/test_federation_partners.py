"""The connector's partner port maps the channel's typed errors to tombstone categories by type and
fields: the reason texts the trace has always given (tests and the demo read them)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from batpass.dataspace import (
    CatalogRefused,
    ChannelError,
    ChannelTimeout,
    NegotiationRefused,
    NoCommonVersion,
    NotEntitled,
    NotOffered,
    PartnerUnreachable,
    PullFailed,
    ServiceEndpoint,
    Stage,
    TransferEnded,
    TransferRefused,
)
from batpass.federation import RECALL_ASSET, UPSTREAM_ASSET, DspPartners, Refused

pytestmark = pytest.mark.anyio

P = "did:web:partner.example"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _err(kind: type[ChannelError], stage: Stage, status: int | None = None) -> ChannelError:
    return kind("x", stage=stage, partner=P, partner_status=status, reason="because")


@pytest.mark.parametrize(
    ("error", "asset", "reason"),
    [
        (_err(PartnerUnreachable, Stage.CATALOG), UPSTREAM_ASSET, "supplier unreachable"),
        (_err(PartnerUnreachable, Stage.NEGOTIATION, 503), UPSTREAM_ASSET, "supplier unreachable"),
        (_err(PartnerUnreachable, Stage.DATA_PLANE), UPSTREAM_ASSET, "supplier unreachable"),
        # a partner speaking no DSP version this node speaks cannot be asked at all
        (_err(NoCommonVersion, Stage.CATALOG), UPSTREAM_ASSET, "supplier unreachable"),
        (_err(CatalogRefused, Stage.CATALOG, 400), UPSTREAM_ASSET, "supplier refused the catalog request"),
        (_err(CatalogRefused, Stage.CATALOG, 401), UPSTREAM_ASSET, "supplier unreachable"),
        (_err(NotOffered, Stage.CATALOG), UPSTREAM_ASSET, "supplier offers no upstream summary to this node"),
        (_err(NotOffered, Stage.CATALOG), RECALL_ASSET, "supplier offers no recall answer to this node"),
        (_err(NegotiationRefused, Stage.NEGOTIATION, 400), UPSTREAM_ASSET, "supplier refused the contract negotiation"),
        (_err(NegotiationRefused, Stage.NEGOTIATION, 401), UPSTREAM_ASSET, "supplier unreachable"),
        (_err(NegotiationRefused, Stage.NEGOTIATION), UPSTREAM_ASSET, "supplier terminated the contract negotiation"),
        (_err(ChannelTimeout, Stage.NEGOTIATION), UPSTREAM_ASSET, "supplier's connector did not answer in time"),
        (_err(TransferRefused, Stage.TRANSFER, 400), UPSTREAM_ASSET, "supplier refused the transfer"),
        (_err(TransferRefused, Stage.TRANSFER), UPSTREAM_ASSET, "supplier terminated the transfer"),
        (
            _err(NotEntitled, Stage.DATA_PLANE, 404),
            UPSTREAM_ASSET,
            "supplier refused: no answer about this lot for this node",
        ),
        (_err(PullFailed, Stage.DATA_PLANE, 400), UPSTREAM_ASSET, "supplier refused the data-plane pull"),
        (_err(PullFailed, Stage.DATA_PLANE, 500), UPSTREAM_ASSET, "supplier unreachable"),
        (_err(TransferEnded, Stage.DATA_PLANE, 401), UPSTREAM_ASSET, "supplier unreachable"),
    ],
)
def test_each_channel_error_has_its_category(error: ChannelError, asset: str, reason: str) -> None:
    assert DspPartners._category(error, asset, "supplier") == reason


class FakeChannels:
    """Answers or fails like :class:`ConsumerChannels.pull`, remembering what it was asked."""

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome
        self.asked: list[tuple[str, str, str, dict[str, str]]] = []
        self.timeouts: list[float | None] = []
        self.journey_s = 0.0  # how long opening a channel takes (the first time: the journey)

    async def open(self, partner: str, asset: str, endpoint: Any) -> None:
        await asyncio.sleep(self.journey_s)

    async def pull(
        self, partner: str, asset: str, endpoint: Any, *, query: dict[str, str], timeout_s: float | None = None
    ) -> Any:
        self.asked.append((partner, asset, endpoint, query))
        self.timeouts.append(timeout_s)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def _did_document(connector: str | None = None) -> dict[str, Any]:
    service: dict[str, Any] = {"type": "DataService", "serviceEndpoint": "https://bridge.example/api/dsp/2025-1"}
    if connector:
        service["participantId"] = connector
    return {"id": P, "service": [service]}


async def test_pull_asks_the_connector_named_in_the_did_document_once() -> None:
    resolved: list[str] = []

    async def resolve(did: str) -> dict[str, Any]:
        resolved.append(did)
        return _did_document("did:web:bridge.example")

    channels = FakeChannels({"summary": "jws", "tiers": 2})
    partners = DspPartners(channels, resolve)  # type: ignore[arg-type]
    for _ in range(2):
        got = await partners.pull(P, "lot-1", UPSTREAM_ASSET, "supplier", {"delegation": "tok"})
        assert got == {"summary": "jws", "tiers": 2}
    assert resolved == [P]  # the endpoint is kept while it works
    assert channels.asked[0] == (
        "did:web:bridge.example",
        UPSTREAM_ASSET,
        ServiceEndpoint("https://bridge.example/api/dsp/2025-1"),  # its DSP base is discovered there
        {"delegation": "tok", "lot": "lot-1"},
    )
    channels.outcome = _err(PartnerUnreachable, Stage.DATA_PLANE)
    with pytest.raises(Refused) as refused:
        await partners.pull(P, "lot-1", UPSTREAM_ASSET, "supplier")
    assert refused.value.reason == "supplier unreachable"
    channels.outcome = {"summary": "jws", "tiers": 2}
    await partners.pull(P, "lot-1", UPSTREAM_ASSET, "supplier")
    assert resolved == [P, P]  # a failed branch asks the DID document again
    # a question with a deadline waits for the partner as long as it was given, not the client's
    # 10 s; the time spent opening the channel (the journey) is not the partner's
    channels.journey_s = 0.5
    await partners.pull(P, "lot-1", UPSTREAM_ASSET, "supplier", {"deadline_ms": "27000"})
    sent = float(channels.asked[-1][3]["deadline_ms"])
    assert 25_000 < sent <= 26_500 and channels.asked[-1][3]["lot"] == "lot-1"
    assert channels.timeouts[:4] == [None] * 4 and channels.timeouts[4] == pytest.approx(sent / 1000 + 1.0, abs=0.01)
    # nothing left worth asking for once the channel is open: a deadline tombstone, not a pull
    with pytest.raises(Refused) as late:
        await partners.pull(P, "lot-1", UPSTREAM_ASSET, "supplier", {"deadline_ms": "700"})
    assert late.value.reason == "supplier deadline exceeded" and len(channels.asked) == 5


async def test_pull_categories_before_the_channel() -> None:
    async def unknown(did: str) -> dict[str, Any]:
        return {"id": did, "service": []}

    partners = DspPartners(FakeChannels([]), unknown)  # type: ignore[arg-type]
    with pytest.raises(Refused) as refused:
        await partners.pull(P, "lot-1", RECALL_ASSET, "customer")
    assert refused.value.reason == "customer has no DataService (DSP connector) in its DID document"
    partners = DspPartners(FakeChannels(["not", "an", "object"]), lambda did: _async(_did_document()))  # type: ignore[arg-type]
    with pytest.raises(Refused) as refused:
        await partners.pull(P, "lot-1", RECALL_ASSET, "customer")
    assert refused.value.reason == "customer's answer is not an object"


async def _async(value: Any) -> Any:
    return value


class OldDataPlane(FakeChannels):
    """A partner that predates lists: its data plane refuses ``?lots=`` (400) and answers ``?lot=``."""

    async def pull(
        self, partner: str, asset: str, endpoint: Any, *, query: dict[str, str], timeout_s: float | None = None
    ) -> Any:
        self.asked.append((partner, asset, endpoint, query))
        if "lots" in query:
            raise _err(PullFailed, Stage.DATA_PLANE, 400)
        if query["lot"] == "gone":
            raise _err(NotEntitled, Stage.DATA_PLANE, 404)
        return {"summary": f"jws-{query['lot']}", "tiers": 1}


async def test_pull_many_asks_once_for_every_lot_and_answers_each_alone() -> None:
    channels = FakeChannels(
        {"answers": [{"lot": "b", "summary": "jws-b", "tiers": 2}, {"lot": "a", "refused": "not-found"}]}
    )
    partners = DspPartners(channels, lambda did: _async(_did_document()))  # type: ignore[arg-type]
    got = await partners.pull_many(P, ["a", "b", "c"], UPSTREAM_ASSET, "supplier", {"deadline_ms": "5000"})
    assert len(channels.asked) == 1 and channels.asked[0][3]["lots"] == '["a","b","c"]'
    assert "lot" not in channels.asked[0][3] and float(channels.asked[0][3]["deadline_ms"]) <= 5000
    assert isinstance(got[0], Refused) and got[0].reason == "supplier refused: no answer about this lot for this node"
    assert got[1] == {"lot": "b", "summary": "jws-b", "tiers": 2}
    assert isinstance(got[2], Refused) and got[2].reason == "supplier's answer is not an object"  # left out
    # one lot is asked the single way, which every node answers
    channels.outcome = {"summary": "jws-a", "tiers": 1}
    assert await partners.pull_many(P, ["a"], UPSTREAM_ASSET, "supplier") == [{"summary": "jws-a", "tiers": 1}]
    assert channels.asked[-1][3] == {"lot": "a"}
    # a failure of the one pull is every lot's
    channels.outcome = _err(PartnerUnreachable, Stage.DATA_PLANE)
    with pytest.raises(Refused) as refused:
        await partners.pull_many(P, ["a", "b"], UPSTREAM_ASSET, "supplier")
    assert refused.value.reason == "supplier unreachable"


async def test_pull_many_asks_a_node_that_predates_lists_lot_by_lot() -> None:
    channels = OldDataPlane(None)
    partners = DspPartners(channels, lambda did: _async(_did_document()))  # type: ignore[arg-type]
    got = await partners.pull_many(P, ["a", "gone"], RECALL_ASSET, "customer", {"salt": "ab"})
    assert got[0] == {"summary": "jws-a", "tiers": 1}
    assert isinstance(got[1], Refused) and got[1].reason == "customer refused: no answer about this lot for this node"
    assert [q for *_, q in channels.asked] == [
        {"salt": "ab", "lots": '["a","gone"]'},
        {"salt": "ab", "lot": "a"},
        {"salt": "ab", "lot": "gone"},
    ]
