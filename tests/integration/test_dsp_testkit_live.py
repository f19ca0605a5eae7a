"""The DSP test kit's scenario list (``tests/conformance/dsp_tck_testkit.py``: MET, CAT, CN, CN_C,
TP, TP_C, with the illegal transitions, 404 for unknown or another participant's processes and
idempotent repeats) against two real Catena-X nodes started by the harness, over HTTPS on
loopback — one federation for the whole module.

Nothing is faked: the provider authenticates every caller as in production, with DCP (the
caller's self-issued token, its DID resolved over HTTPS, its membership and framework-agreement
presentation fetched from its credential service and verified against the trust list); there is
no test-mode token. The kit signs its wire messages with the nodes' own keys (as the consumer
towards the provider, as the provider towards the consumer's callbacks); "another participant" is
the node itself calling its own endpoints — a verified member, but not the process's
counterparty. The legal flow runs through the consumer node's EDC management API
(``/management/v3``: catalog, contract negotiation, transfer, suspend, EDR) and the provider's
(resume, suspend); the dataset is the Catena-X PCF asset, entitled to the consumer by a product
twin, so the pulls return a real Catena-X PCF.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from batpass.core.ids import new_uuid7
from batpass.demo._dataspace_setup import catenax_memberships, operator_config
from batpass.demo.harness import NodeSpec, RunningNode, federation, federation_ca
from batpass.footprint import (
    DeclaredUnit,
    FootprintHeader,
    OwnEmissions,
    Quantity,
    Stage,
    aggregate,
    write_pact_v3,
)
from batpass.trust import issue_self_issued_token

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "conformance"))
from dsp_tck_testkit import SCENARIOS, Scenario, msg

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

DSP = "/api/dsp/2025-1"
MGMT = "/management/v3"
PROTOCOL = "dataspace-protocol-http:2025-1"
PRODUCT = "urn:gtin:04012345678901"
_ACTIONS = {"suspension": "suspend", "termination": "terminate", "start": "resume"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _pact(bpnl: str) -> dict[str, Any]:
    """A PACT v3 footprint of ``PRODUCT`` (1 piece: 5000 + 1200 kg CO2e) for the provider's store."""
    header = FootprintHeader(
        id=str(new_uuid7()),
        product_ids=(PRODUCT,),
        product_name="EV battery pack",
        company_name="TCK provider",
        company_ids=(f"urn:bpn:id:{bpnl}",),
        reference_period_start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        reference_period_end=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
        created=dt.datetime.now(dt.UTC),
        product_description="EV battery pack, 75 kWh",
        geography="DE",
        standards=("ISO14067",),
    )
    fp = aggregate(
        [],
        own=OwnEmissions(
            by_stage={Stage.RAW_MATERIAL: Decimal("5000"), Stage.MAIN_PRODUCTION: Decimal("1200")},
            primary_data_share=Decimal("0.4"),
        ),
        output=Quantity(Decimal(1), DeclaredUnit.PIECE),
        header=header,
        mass_per_declared_unit_kg=Decimal("450"),
    )
    return write_pact_v3(fp)


@dataclass
class Live:
    """``dsp_tck_testkit.DspTarget`` over two running nodes."""

    home: Path
    provider: RunningNode
    consumer: RunningNode
    dataset: str = "catenax-pcf"
    cache: dict[str, Any] = field(default_factory=dict)
    _ssl: ssl.SSLContext | None = None

    @property
    def provider_dsp(self) -> str:
        return self.provider.base_url + DSP

    @property
    def callback(self) -> str:
        return self.consumer.base_url + DSP + "/callback"

    @property
    def version_url(self) -> str:
        return self.provider.base_url + "/.well-known/dspace-version"

    def client(self) -> httpx.AsyncClient:
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=str(federation_ca(self.home)))
        return httpx.AsyncClient(verify=self._ssl, timeout=30)

    @staticmethod
    def _token(who: RunningNode, to: RunningNode) -> dict[str, str]:
        """``who``'s DCP self-issued token for ``to`` (as its connector would send it)."""
        tok = issue_self_issued_token(who.node.identity, audience=to.did, bpn=who.node.config.bpnl)
        return {"Authorization": f"Bearer {tok}"}

    def as_consumer(self) -> dict[str, str]:
        return self._token(self.consumer, self.provider)

    def as_provider(self) -> dict[str, str]:
        return self._token(self.provider, self.consumer)

    def stranger_at_provider(self) -> dict[str, str]:
        return self._token(self.provider, self.provider)

    def stranger_at_consumer(self) -> dict[str, str]:
        return self._token(self.consumer, self.consumer)

    async def settle(self) -> None:
        await asyncio.sleep(0.02)  # the nodes' outboxes send as soon as their transaction commits

    async def more_offers(self) -> None:
        """Nothing to add: a Catena-X node offers a member its upstream summary, the downstream
        recall question, the battery pass and the PCF (the kit checks that there are at least 3)."""

    async def _mgmt(self, node: RunningNode, method: str, path: str, body: Any = None) -> httpx.Response:
        async with self.client() as c:
            return await c.request(method, node.base_url + MGMT + path, json=body, headers=node.admin_headers())

    async def _ok(self, node: RunningNode, method: str, path: str, body: Any = None) -> Any:
        r = await self._mgmt(node, method, path, body)
        assert r.status_code in (200, 204), f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.status_code == 200 else None

    async def consumer_catalog(self) -> dict[str, Any]:
        body = {
            "@context": {"@vocab": "https://w3id.org/edc/v0.0.1/ns/"},
            "@type": "CatalogRequest",
            "counterPartyAddress": self.provider_dsp,
            "counterPartyId": self.provider.did,
            "protocol": PROTOCOL,
        }
        out: dict[str, Any] = await self._ok(self.consumer, "POST", "/catalog/request", body)
        return out

    async def negotiate(self, offer: dict[str, Any], target: str) -> str:
        body = {
            "@context": {"@vocab": "https://w3id.org/edc/v0.0.1/ns/"},
            "@type": "ContractRequest",
            "counterPartyAddress": self.provider_dsp,
            "protocol": PROTOCOL,
            "policy": {**offer, "assigner": {"@id": self.provider.did}, "target": {"@id": target}},
        }
        return str((await self._ok(self.consumer, "POST", "/contractnegotiations", body))["@id"])

    async def negotiation(self, pid: str) -> dict[str, Any]:
        n = await self._ok(self.consumer, "GET", f"/contractnegotiations/{pid}")
        return {
            "state": n["state"],
            "providerPid": n.get("correlationId"),
            "agreementId": n.get("contractAgreementId"),
            "error": n.get("errorDetail"),
        }

    async def transfer(self, agreement_id: str) -> str:
        body = {
            "@context": {"@vocab": "https://w3id.org/edc/v0.0.1/ns/"},
            "@type": "TransferRequest",
            "counterPartyAddress": self.provider_dsp,
            "protocol": PROTOCOL,
            "contractId": agreement_id,
            "transferType": "HttpData-PULL",
            "dataDestination": {"type": "HttpProxy"},
        }
        return str((await self._ok(self.consumer, "POST", "/transferprocesses", body))["@id"])

    async def transfer_state(self, pid: str) -> dict[str, Any]:
        tp = await self._ok(self.consumer, "GET", f"/transferprocesses/{pid}")
        edr = await self._mgmt(self.consumer, "GET", f"/edrs/{pid}/dataaddress?auto_refresh=false")
        return {"state": tp["state"], "providerPid": tp.get("correlationId"), "hasDataAddress": edr.status_code == 200}

    async def consumer_says(self, pid: str, kind: str) -> None:
        await self._ok(self.consumer, "POST", f"/transferprocesses/{pid}/{_ACTIONS[kind]}", {"reason": "TCK"})

    async def provider_says(self, provider_pid: str, kind: str) -> None:
        await self._ok(self.provider, "POST", f"/transferprocesses/{provider_pid}/{_ACTIONS[kind]}", {})

    async def pull(self, pid: str) -> Any:
        address = await self._ok(self.consumer, "GET", f"/edrs/{pid}/dataaddress")
        async with self.client() as c:
            r = await c.get(
                address["endpoint"], params={"productId": PRODUCT}, headers={"Authorization": address["authorization"]}
            )
        assert r.status_code == 200, r.text
        return r.json()

    def pulled(self, content: Any) -> bool:
        info = content["companyAndProductInformation"][0]["productInformation"][0]
        return bool(info["productIds"] == [PRODUCT])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("dsptck")
    specs = [
        NodeSpec("tck-provider", ("catena-x",), legal_name="TCK provider", bpnl="BPNL00000000801T"),
        NodeSpec("tck-consumer", ("catena-x",), legal_name="TCK consumer", bpnl="BPNL00000000802T"),
    ]
    with federation(home, specs, configure=operator_config(0)) as runs:
        provider, consumer = runs
        catenax_memberships(home, provider, runs)
        admin = provider.admin_headers()
        with httpx.Client(verify=ssl.create_default_context(cafile=str(federation_ca(home))), timeout=60) as c:
            doc = _pact(str(provider.node.config.bpnl))
            r = c.post(provider.base_url + "/v1/footprints/pact/footprints", json=doc, headers=admin)
            assert r.status_code == 201, r.text
            twin = {"productId": PRODUCT, "readers": [consumer.node.config.bpnl]}
            r = c.post(provider.base_url + "/v1/connector/twins/products", json=twin, headers=admin)
            assert r.status_code == 201, r.text
        yield Live(home, provider, consumer)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
async def test_dsp_tck_live(live: Live, scenario: Scenario) -> None:
    await scenario.run(live)


async def test_the_provider_accepts_dcp_only(live: Live) -> None:
    """No test-mode token on a running node: only a DCP self-issued token for this provider, from
    a member whose presentation verifies, is accepted."""
    body = msg("CatalogRequestMessage", filter=[])
    url = live.provider_dsp + "/catalog/request"
    async with live.client() as c:
        assert (await c.post(url, json=body, headers=live.as_consumer())).status_code == 200
        for headers in (
            {"Authorization": "Bearer dsp-tck-fixed-test-token-0123456789"},  # a test kit's fixed token
            Live._token(live.consumer, live.consumer),  # the consumer's token for another audience
            {"Authorization": live.as_consumer()["Authorization"][:-4] + "AAAA"},  # signature broken
        ):
            r = await c.post(url, json=body, headers=headers)
            assert r.status_code == 401 and r.json()["@type"] == "CatalogError", r.text
