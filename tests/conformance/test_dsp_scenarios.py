# ruff: noqa: F811  (the harness fixture is imported by name)
"""The DSP test kit's scenario list (MET, CAT, CN, CN_C, TP, TP_C; eclipse-dataspacetck/dsp-tck),
re-expressed as pytest tests against two in-process nodes over httpx (ASGI transports).

Each test names the TCK scenario group it covers; negative cases check the spec's status and error
message type (DSP 2025-1 HTTPS bindings: 400 invalid transition, 404 unknown or another's process).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "dataspace"))
from _dsp_harness import CONSUMER_DID, OTHER_DID, PROVIDER_DID, network, token  # noqa: F401

from batpass.dataspace._dsp_messages import DSP_CONTEXT

pytestmark = pytest.mark.anyio
DSP = "https://provider.test/api/dsp/2025-1"
CB = "https://consumer.test/api/dsp/2025-1/callback"
AS_CONSUMER = token(CONSUMER_DID, PROVIDER_DID)
AS_PROVIDER = token(PROVIDER_DID, CONSUMER_DID)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def msg(kind: str, **fields: Any) -> dict[str, Any]:
    return {"@context": [DSP_CONTEXT], "@type": kind, **fields}


async def agreed(net: Any, consumer: Any) -> tuple[str, str, str]:
    cat = await consumer.consumer.catalog(DSP, PROVIDER_DID)
    ds = cat["dataset"][0]
    pid = await consumer.consumer.negotiate(DSP, PROVIDER_DID, ds["hasPolicy"][0], target=ds["@id"])
    await net.pump()
    n = consumer.consumer.negotiation(pid)
    return pid, n["providerPid"], n["agreementId"]


async def test_met_01_version_metadata(network: Any) -> None:
    net, *_ = network
    async with net.client() as c:
        r = await c.get("https://provider.test/.well-known/dspace-version")
    v = r.json()["protocolVersions"][0]
    assert (r.status_code, v["version"], v["binding"]) == (200, "2025-1", "HTTPS")


async def test_cat_01_catalog_and_dataset(network: Any) -> None:
    net, *_ = network
    async with net.client() as c:
        r = await c.post(DSP + "/catalog/request", json=msg("CatalogRequestMessage", filter=[]), headers=AS_CONSUMER)
        assert r.status_code == 200 and r.json()["dataset"][0]["@id"] == "asset-1"
        r = await c.get(DSP + "/catalog/datasets/asset-1", headers=AS_CONSUMER)
        assert r.status_code == 200 and r.json()["@type"] == "Dataset"
        r = await c.get(DSP + "/catalog/datasets/nope", headers=AS_CONSUMER)
        assert r.status_code == 404 and r.json()["@type"] == "CatalogError"
        r = await c.post(DSP + "/catalog/request", json=msg("CatalogRequestMessage", filter=[]))
        assert r.status_code == 401 and r.json()["@type"] == "CatalogError"


async def test_cat_02_pagination(network: Any) -> None:
    net, provider, consumer, _ = network
    from _dsp_harness import CX_USAGE, access_for

    from batpass.dataspace import OfferDefinition

    for i in range(5):
        provider.provider.register_offer(
            OfferDefinition(id=f"offer-p{i}", asset_id="asset-1", access_policy=access_for(), usage_policy=CX_USAGE)
        )
    async with net.client() as c:
        r = await c.post(
            DSP + "/catalog/request?limit=2", json=msg("CatalogRequestMessage", filter=[]), headers=AS_CONSUMER
        )
        assert 'rel="next"' in r.headers["link"]
    full = await consumer.consumer.catalog(DSP, PROVIDER_DID)
    offers = [o["@id"] for d in full["dataset"] for o in d["hasPolicy"]]
    assert len(offers) == 6


async def test_cn_01_provider_negotiation_to_finalized(network: Any) -> None:
    net, _, consumer, _ = network
    pid, ppid, agreement_id = await agreed(net, consumer)
    assert consumer.consumer.negotiation(pid)["state"] == "FINALIZED" and agreement_id
    async with net.client() as c:
        r = await c.get(f"{DSP}/negotiations/{ppid}", headers=AS_CONSUMER)
    assert r.json()["state"] == "FINALIZED"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("events", {"@type": "ContractNegotiationEventMessage", "eventType": "FINALIZED"}),  # consumer may not finalize
        ("events", {"@type": "ContractNegotiationEventMessage", "eventType": "ACCEPTED"}),  # not in OFFERED
        (
            "request",
            {
                "@type": "ContractRequestMessage",
                "offer": {"@id": "offer-1", "@type": "Offer", "permission": [{"action": "use"}]},
            },
        ),
        ("termination", {"@type": "ContractNegotiationTerminationMessage", "code": "1"}),  # FINALIZED is final
    ],
)
async def test_cn_02_illegal_consumer_messages(network: Any, path: str, body: dict[str, Any]) -> None:
    net, _, consumer, _ = network
    pid, ppid, _ = await agreed(net, consumer)
    async with net.client() as c:
        r = await c.post(
            f"{DSP}/negotiations/{ppid}/{path}",
            json={"@context": [DSP_CONTEXT], "providerPid": ppid, "consumerPid": pid, **body},
            headers=AS_CONSUMER,
        )
    assert r.status_code == 400, r.text
    assert r.json()["@type"] == "ContractNegotiationError" and r.json()["providerPid"] == ppid


async def test_cn_03_termination_then_verification_refused(network: Any) -> None:
    net, _provider, consumer, _ = network
    cat = await consumer.consumer.catalog(DSP, PROVIDER_DID)
    ds = cat["dataset"][0]
    async with net.client() as c:
        r = await c.post(
            DSP + "/negotiations/request",
            headers=AS_CONSUMER,
            json=msg(
                "ContractRequestMessage",
                consumerPid="urn:c:1",
                offer={**ds["hasPolicy"][0], "target": "asset-1"},
                callbackAddress=CB,
            ),
        )
        assert r.status_code == 201
        ppid = r.json()["providerPid"]
        again = await c.post(
            DSP + "/negotiations/request",
            headers=AS_CONSUMER,
            json=msg(
                "ContractRequestMessage",
                consumerPid="urn:c:1",
                offer={**ds["hasPolicy"][0], "target": "asset-1"},
                callbackAddress=CB,
            ),
        )
        assert again.status_code == 200 and again.json()["providerPid"] == ppid  # idempotent repeat
        t = msg(
            "ContractNegotiationTerminationMessage",
            providerPid=ppid,
            consumerPid="urn:c:1",
            code="99",
            reason=["changed mind"],
        )
        assert (await c.post(f"{DSP}/negotiations/{ppid}/termination", json=t, headers=AS_CONSUMER)).json()[
            "state"
        ] == "TERMINATED"
        assert (await c.post(f"{DSP}/negotiations/{ppid}/termination", json=t, headers=AS_CONSUMER)).status_code == 200
        v = msg("ContractAgreementVerificationMessage", providerPid=ppid, consumerPid="urn:c:1")
        r = await c.post(f"{DSP}/negotiations/{ppid}/agreement/verification", json=v, headers=AS_CONSUMER)
        assert r.status_code == 400
        r = await c.post(
            f"{DSP}/negotiations/{ppid}/agreement/verification", json=v, headers=token(OTHER_DID, PROVIDER_DID)
        )
        assert r.status_code == 404


async def test_cn_c_01_consumer_refuses_illegal_provider_messages(network: Any) -> None:
    net, _, consumer, _ = network
    pid, ppid, _ = await agreed(net, consumer)
    async with net.client() as c:
        # FINALIZED again is a repeat (idempotent); ACCEPTED from the provider is never legal
        r = await c.post(
            f"{CB}/negotiations/{pid}/events",
            headers=AS_PROVIDER,
            json=msg("ContractNegotiationEventMessage", providerPid=ppid, consumerPid=pid, eventType="FINALIZED"),
        )
        assert r.status_code == 200 and r.json()["state"] == "FINALIZED"
        r = await c.post(
            f"{CB}/negotiations/{pid}/events",
            headers=AS_PROVIDER,
            json=msg("ContractNegotiationEventMessage", providerPid=ppid, consumerPid=pid, eventType="ACCEPTED"),
        )
        assert r.status_code == 400 and r.json()["@type"] == "ContractNegotiationError"
        r = await c.post(
            f"{CB}/negotiations/unknown/events",
            headers=AS_PROVIDER,
            json=msg("ContractNegotiationEventMessage", providerPid=ppid, consumerPid="unknown", eventType="FINALIZED"),
        )
        assert r.status_code == 404


async def test_tp_01_transfer_start_suspend_resume_complete(network: Any) -> None:
    net, provider, consumer, _ = network
    _, _, agreement_id = await agreed(net, consumer)
    tpid = await consumer.consumer.transfer(agreement_id)
    await net.pump()
    tr = consumer.consumer.transfer_state(tpid)
    assert tr["state"] == "STARTED" and tr["hasDataAddress"]
    assert consumer.consumer.send_transfer_message(tpid, "suspension", reason="pause") == "SUSPENDED"
    await net.pump()
    assert provider.provider.provider_transfer_action(tr["providerPid"], "start") == "STARTED"
    await net.pump()
    assert consumer.consumer.transfer_state(tpid)["state"] == "STARTED"
    assert (await consumer.consumer.pull(tpid))["value"] == 42
    assert consumer.consumer.send_transfer_message(tpid, "completion") == "COMPLETED"
    await net.pump()
    async with net.client() as c:
        r = await c.get(f"{DSP}/transfers/{tr['providerPid']}", headers=AS_CONSUMER)
    assert r.json()["state"] == "COMPLETED"


@pytest.mark.parametrize(
    ("first", "then"),
    [("termination", "start"), ("termination", "completion"), ("completion", "suspension"), (None, "start")],
)
async def test_tp_02_illegal_transitions(network: Any, first: str | None, then: str) -> None:
    net, _, consumer, _ = network
    _, _, agreement_id = await agreed(net, consumer)
    tpid = await consumer.consumer.transfer(agreement_id)
    await net.pump()
    ppid = consumer.consumer.transfer_state(tpid)["providerPid"]
    kinds = {
        "start": "TransferStartMessage",
        "completion": "TransferCompletionMessage",
        "suspension": "TransferSuspensionMessage",
        "termination": "TransferTerminationMessage",
    }
    async with net.client() as c:
        if first:
            r = await c.post(
                f"{DSP}/transfers/{ppid}/{first}",
                headers=AS_CONSUMER,
                json=msg(kinds[first], providerPid=ppid, consumerPid=tpid),
            )
            assert r.status_code == 200
        r = await c.post(
            f"{DSP}/transfers/{ppid}/{then}",
            headers=AS_CONSUMER,
            json=msg(kinds[then], providerPid=ppid, consumerPid=tpid),
        )
        assert r.status_code == 400 and r.json()["@type"] == "TransferError"


async def test_tp_03_transfer_request_checks(network: Any) -> None:
    net, _, consumer, _ = network
    _, _, agreement_id = await agreed(net, consumer)
    async with net.client() as c:
        for agreement, fmt, who, status in (
            (agreement_id, "HttpData-PUSH", AS_CONSUMER, 400),
            ("no-such", "HttpData-PULL", AS_CONSUMER, 400),
            (agreement_id, "HttpData-PULL", token(OTHER_DID, PROVIDER_DID), 400),
        ):
            r = await c.post(
                DSP + "/transfers/request",
                headers=who,
                json=msg(
                    "TransferRequestMessage",
                    consumerPid="urn:t:1",
                    agreementId=agreement,
                    format=fmt,
                    callbackAddress=CB,
                ),
            )
            assert r.status_code == status and r.json()["@type"] == "TransferError"
        r = await c.get(DSP + "/transfers/urn:nope", headers=AS_CONSUMER)
        assert r.status_code == 404


async def test_tp_c_01_consumer_refuses_completion_before_start(network: Any) -> None:
    net, _provider, consumer, _ = network
    _, _, agreement_id = await agreed(net, consumer)
    net.down.add("consumer.test")  # the start message is not delivered yet
    tpid = await consumer.consumer.transfer(agreement_id)
    net.down.clear()
    ppid = consumer.consumer.transfer_state(tpid)["providerPid"]
    async with net.client() as c:
        r = await c.post(
            f"{CB}/transfers/{tpid}/completion",
            headers=AS_PROVIDER,
            json=msg("TransferCompletionMessage", providerPid=ppid, consumerPid=tpid),
        )
        assert r.status_code == 400 and r.json()["@type"] == "TransferError"
    await net.pump()
    assert consumer.consumer.transfer_state(tpid)["state"] == "STARTED"
