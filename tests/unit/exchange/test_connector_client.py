"""The connector client maps the channel's typed errors to this API's by type and fields: 403 for a
refusal (the membership or the usage policy named), 404 for nothing this node is entitled to, 502
when the provider's connector does not answer; never by parsing a message."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from batpass.core.errors import BatpassError, Forbidden, InvalidInput, NotFound, UpstreamUnavailable
from batpass.dataspace import (
    CatalogRefused,
    ChannelError,
    ChannelTimeout,
    NegotiationRefused,
    NotEntitled,
    NotOffered,
    PartnerUnreachable,
    PullFailed,
    ServiceEndpoint,
    Stage,
    TransferEnded,
    TransferRefused,
)
from batpass.exchange import ConnectorClient

pytestmark = pytest.mark.anyio

P = "did:web:supplier.example"
POLICY = "FrameworkAgreement DataExchangeGovernance:1.0: no verified DataExchangeGovernanceCredential"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _err(kind: type[ChannelError], stage: Stage, status: int | None = None, reason: str = "because") -> ChannelError:
    return kind(f"{stage} failed ({status})", stage=stage, partner=P, partner_status=status, reason=reason)


@pytest.mark.parametrize(
    ("error", "kind", "said"),
    [
        (_err(CatalogRefused, Stage.CATALOG, 401), Forbidden, "DCP membership (CX-0152)"),
        (_err(CatalogRefused, Stage.CATALOG, 400), Forbidden, "DSP 2025-1 catalog"),
        (_err(NotOffered, Stage.CATALOG), Forbidden, "offers no catenax-pcf to this node"),
        (_err(NegotiationRefused, Stage.NEGOTIATION, 400, POLICY), Forbidden, POLICY),
        (_err(NegotiationRefused, Stage.NEGOTIATION, None, "TERMINATED"), Forbidden, "negotiation of catenax-pcf"),
        (_err(TransferRefused, Stage.TRANSFER), Forbidden, "ended the transfer of catenax-pcf"),
        (_err(TransferRefused, Stage.TRANSFER, 400), Forbidden, "refused the transfer of catenax-pcf"),
        (_err(NotEntitled, Stage.DATA_PLANE, 404), NotFound, "entitled partners only"),
        (_err(ChannelTimeout, Stage.TRANSFER), UpstreamUnavailable, "did not answer in time"),
        (_err(PartnerUnreachable, Stage.CATALOG), UpstreamUnavailable, P),
        (_err(PullFailed, Stage.DATA_PLANE, 502), UpstreamUnavailable, P),
        (_err(TransferEnded, Stage.DATA_PLANE, 401), UpstreamUnavailable, P),
        (_err(PullFailed, Stage.DATA_PLANE, 400, "takes no query"), InvalidInput, "takes no query"),
        # the provider's source refused this consumer (a hub operator's register not released to it)
        (_err(PullFailed, Stage.DATA_PLANE, 403, "not released to you"), Forbidden, "not released to you"),
    ],
)
def test_each_channel_error_maps_by_type(error: ChannelError, kind: type[BatpassError], said: str) -> None:
    mapped = ConnectorClient._mapped(error, P, "catenax-pcf")
    assert type(mapped) is kind
    assert said in f"{mapped.message} {mapped.rule}"


class FakeChannels:
    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome
        self.endpoints: list[Any] = []
        self.partners: list[str] = []

    async def _answer(self, endpoint: Any) -> Any:
        self.endpoints.append(endpoint)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome

    async def pull(self, partner: str, asset: str, endpoint: Any, *, query: Any = None) -> Any:
        self.partners.append(partner)
        return await self._answer(endpoint)

    async def request(self, partner: str, asset: str, endpoint: Any, method: str, **_: Any) -> Any:
        self.partners.append(partner)
        return await self._answer(endpoint)

    async def address(self, partner: str, asset: str, endpoint: Any, *, fresh_for_s: float = 0) -> Any:
        self.partners.append(partner)
        return await self._answer(endpoint)


async def _no_did(did: str) -> dict[str, Any]:
    return {"id": did, "service": [{"type": "DataService", "serviceEndpoint": "https://supplier.example/dsp"}]}


async def test_fetch_and_send_map_the_channels_errors() -> None:
    channels = FakeChannels(_err(NotEntitled, Stage.DATA_PLANE, 404))
    client = ConnectorClient(channels, _no_did)  # type: ignore[arg-type]
    with pytest.raises(NotFound) as missing:
        await client.fetch(P, "catenax-pcf", {"productId": "p-1"})
    assert "{'productId': 'p-1'}" in missing.value.message and missing.value.rule == "entitled partners only"
    assert isinstance(missing.value.__cause__, NotEntitled)
    # the DSP endpoint is found only when a journey starts: the channel gets a way to find it
    # (the DID document's DataService entry, where the channel discovers the DSP base)
    assert await channels.endpoints[0]() == ServiceEndpoint("https://supplier.example/dsp")
    await_given = FakeChannels(httpx.Response(202, json={"status": "accepted"}))
    client = ConnectorClient(await_given, _no_did)  # type: ignore[arg-type]
    assert await client.send(P, "catenax-pcf", "GET", dsp_url="https://given.example/dsp") == (
        202,
        {"status": "accepted"},
    )
    assert await_given.endpoints == ["https://given.example/dsp"]
    client = ConnectorClient(FakeChannels(_err(NotOffered, Stage.CATALOG)), _no_did)  # type: ignore[arg-type]
    with pytest.raises(Forbidden):
        await client.send(P, "catenax-pcf", "GET")


@pytest.mark.parametrize("given", ["childrenPartsModel", "ftp://given.example/dsp", "https://", "//given.example/dsp"])
async def test_a_given_dsp_endpoint_that_is_no_url_is_invalid_input(given: str) -> None:
    """Found by schemathesis: ``POST /v1/ledger/claims/remote`` with ``dspEndpoint:
    "childrenPartsModel"`` answered 502 (the partner "unreachable": UnsupportedProtocol) for the
    caller's own mistake; the journey does not start."""
    channels = FakeChannels({"never": "reached"})
    client = ConnectorClient(channels, _no_did)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as refused:
        await client.fetch(P, "catenax-pcf", {"productId": "p-1"}, dsp_url=given)
    assert refused.value.field == "dspEndpoint" and channels.endpoints == []
    with pytest.raises(InvalidInput):
        await client.send(P, "catenax-pcf", "GET", dsp_url=given)


@pytest.mark.parametrize("given", ["http://\x05x/dsp", "http://😍/dsp", "http://[::1/dsp"])
async def test_a_given_dsp_endpoint_httpx_cannot_send_to_is_invalid_input(given: str) -> None:
    """Found by schemathesis: ``POST /v1/connector/pcf/requests`` with ``dspEndpoint:
    "http://\\x05..."`` passed the scheme check and made the outbound client raise InvalidURL (not
    an HTTPError): a 500."""
    channels = FakeChannels({"never": "reached"})
    client = ConnectorClient(channels, _no_did)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as refused:
        await client.fetch(P, "catenax-pcf", {"productId": "p-1"}, dsp_url=given)
    assert refused.value.field == "dspEndpoint" and channels.endpoints == []


BRIDGE = "did:web:bridge.example"


async def _bridged(did: str) -> dict[str, Any]:
    """A hub operator's DID document: its DataService is the bridge's connector (participantId)."""
    entry = {"type": "DataService", "serviceEndpoint": "https://bridge.example/dsp", "participantId": BRIDGE}
    return {"id": did, "service": [entry]}


async def test_a_connector_operated_by_another_participant_is_addressed_to_it() -> None:
    """Found by the demo (a hub operator's released site register through the bridge): the
    catalog request went to the operator's DID as the participant, and the bridge refused the
    token addressed to the operator (401). The channel is keyed by the participant that runs the
    connector, as the federated trace's partners are; a DataService without one is the DID's own."""
    channels = FakeChannels({"sites": []})
    client = ConnectorClient(channels, _bridged)  # type: ignore[arg-type]
    await client.fetch(P, "batpass-site-register", {"operator": P})
    await client.address(P, "batpass-site-register")
    channels.outcome = httpx.Response(200, json={"sites": []})
    await client.send(P, "batpass-site-register", "GET")
    assert channels.partners == [BRIDGE, BRIDGE, BRIDGE]
    own = FakeChannels({"sites": []})
    await ConnectorClient(own, _no_did).fetch(P, "batpass-site-register", {})  # type: ignore[arg-type]
    given = FakeChannels({"sites": []})
    await ConnectorClient(given, _bridged).fetch(  # type: ignore[arg-type]
        P, "batpass-site-register", {}, dsp_url="https://given.example/dsp"
    )
    assert own.partners == [P] and given.partners == [P]  # a given endpoint: the provider itself
