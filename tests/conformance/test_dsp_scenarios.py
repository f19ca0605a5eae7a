# ruff: noqa: F811  (the harness fixture is imported by name)
"""The DSP test kit's scenario list (MET, CAT, CN, CN_C, TP, TP_C; eclipse-dataspacetck/dsp-tck),
run against two in-process nodes over httpx (ASGI transports routed by host), on SQLite and
PostgreSQL. The scenarios live in ``dsp_tck_testkit`` and are shared with the live runner
(``tests/integration/test_dsp_testkit_live.py``: two real nodes over HTTPS, DCP); here the
participant verifier is the harness's table of tokens and the outbox is pumped by the test.

One scenario needs what only an in-process network gives (holding a delivery back) and stays here:
the consumer refuses a completion for a transfer whose start it has not received yet.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from dsp_tck_testkit import SCENARIOS, Scenario, agreed, msg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "dataspace"))
from _dsp_harness import (  # noqa: F401
    CONSUMER_DID,
    CX_USAGE,
    OTHER_DID,
    PROVIDER_DID,
    Network,
    Node,
    access_for,
    network,
    token,
)

from batpass.dataspace import OfferDefinition

pytestmark = pytest.mark.anyio
DSP = "https://provider.test/api/dsp/2025-1"
CB = "https://consumer.test/api/dsp/2025-1/callback"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class InProcess:
    """``dsp_tck_testkit.DspTarget`` over the in-process network of ``_dsp_harness``."""

    net: Network
    provider: Node
    consumer: Node
    provider_dsp: str = DSP
    callback: str = CB
    version_url: str = "https://provider.test/.well-known/dspace-version"
    dataset: str = "asset-1"
    cache: dict[str, Any] = field(default_factory=dict)

    def client(self) -> httpx.AsyncClient:
        return self.net.client()

    def as_consumer(self) -> dict[str, str]:
        return token(CONSUMER_DID, PROVIDER_DID)

    def as_provider(self) -> dict[str, str]:
        return token(PROVIDER_DID, CONSUMER_DID)

    def stranger_at_provider(self) -> dict[str, str]:
        return token(OTHER_DID, PROVIDER_DID)

    def stranger_at_consumer(self) -> dict[str, str]:
        return token(OTHER_DID, CONSUMER_DID)

    async def settle(self) -> None:
        await self.net.pump()

    async def more_offers(self) -> None:
        for i in range(5):
            self.provider.provider.register_offer(
                OfferDefinition(id=f"offer-p{i}", asset_id="asset-1", access_policy=access_for(), usage_policy=CX_USAGE)
            )

    async def consumer_catalog(self) -> dict[str, Any]:
        return await self.consumer.consumer.catalog(DSP, PROVIDER_DID)

    async def negotiate(self, offer: dict[str, Any], target: str) -> str:
        return await self.consumer.consumer.negotiate(DSP, PROVIDER_DID, offer, target=target)

    async def negotiation(self, pid: str) -> dict[str, Any]:
        return self.consumer.consumer.negotiation(pid)

    async def transfer(self, agreement_id: str) -> str:
        return await self.consumer.consumer.transfer(agreement_id)

    async def transfer_state(self, pid: str) -> dict[str, Any]:
        return self.consumer.consumer.transfer_state(pid)

    async def consumer_says(self, pid: str, kind: str) -> None:
        self.consumer.consumer.send_transfer_message(pid, kind)

    async def provider_says(self, provider_pid: str, kind: str) -> None:
        self.provider.provider.provider_transfer_action(provider_pid, kind)

    async def pull(self, pid: str) -> Any:
        return await self.consumer.consumer.pull(pid)

    def pulled(self, content: Any) -> bool:
        return isinstance(content, dict) and content.get("value") == 42


@pytest.fixture
def target(network: Any) -> InProcess:
    net, provider, consumer, _ = network
    return InProcess(net, provider, consumer)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
async def test_dsp_tck(target: InProcess, scenario: Scenario) -> None:
    await scenario.run(target)


async def test_tp_c_02_consumer_refuses_completion_before_start(target: InProcess) -> None:
    a = await agreed(target)
    target.net.down.add("consumer.test")  # the start message is not delivered yet
    tpid = await target.consumer.consumer.transfer(a.agreement_id)
    target.net.down.clear()
    ppid = target.consumer.consumer.transfer_state(tpid)["providerPid"]
    async with target.client() as c:
        r = await c.post(
            f"{CB}/transfers/{tpid}/completion",
            headers=target.as_provider(),
            json=msg("TransferCompletionMessage", providerPid=ppid, consumerPid=tpid),
        )
        assert r.status_code == 400 and r.json()["@type"] == "TransferError"
    await target.net.pump()
    assert target.consumer.consumer.transfer_state(tpid)["state"] == "STARTED"
