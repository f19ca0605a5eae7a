"""End to end between two in-process nodes: catalog, negotiation, transfer, pull, refresh."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from _dsp_harness import CONSUMER_DID, OTHER_DID, PROVIDER_DID, token
from sqlalchemy import func, select, update

from batpass.core.errors import BatpassError
from batpass.dataspace import _sql as t
from batpass.dataspace._dsp_messages import DSP_CONTEXT
from batpass.dataspace.errors import ExpiredToken

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def negotiate(net: Any, consumer: Any) -> tuple[str, str]:
    catalog = await consumer.consumer.catalog("https://provider.test/api/dsp/2025-1", PROVIDER_DID)
    ds = catalog["dataset"][0]
    pid = await consumer.consumer.negotiate(
        "https://provider.test/api/dsp/2025-1", PROVIDER_DID, ds["hasPolicy"][0], target=ds["@id"]
    )
    await net.pump()
    state = consumer.consumer.negotiation(pid)
    return pid, state["agreementId"]


async def test_full_flow_and_refresh(network: Any) -> None:
    net, provider, consumer, _ = network
    pid, agreement_id = await negotiate(net, consumer)
    assert consumer.consumer.negotiation(pid)["state"] == "FINALIZED"
    tpid = await consumer.consumer.transfer(agreement_id)
    await net.pump()
    assert consumer.consumer.transfer_state(tpid)["state"] == "STARTED"
    data = await consumer.consumer.pull(tpid)
    assert data == {"key": "doc-1", "for": "BPNL000000000CNS", "value": 42}
    # expire the access token: the consumer refreshes once and pulls again
    with provider.engine.begin() as conn:
        conn.execute(
            update(t.tokens)
            .where(t.tokens.c.kind == "access")
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert (await consumer.consumer.pull(tpid))["value"] == 42
    consumer.consumer.send_transfer_message(tpid, "completion")
    await net.pump()
    async with net.client() as c:
        r = await c.get(
            f"https://provider.test/api/dsp/2025-1/transfers/{consumer.consumer.transfer_state(tpid)['providerPid']}",
            headers=token(CONSUMER_DID, PROVIDER_DID),
        )
    assert r.json()["state"] == "COMPLETED"
    # a completed transfer's token no longer pulls
    with pytest.raises(BatpassError, match="COMPLETED, not STARTED"):
        await consumer.consumer.pull(tpid)


async def test_restart_resumes(network: Any) -> None:
    """Processes live in the store: new service objects on the same engine carry on."""
    net, _provider, consumer, _ = network
    _pid, agreement_id = await negotiate(net, consumer)
    from batpass.dataspace import DspConsumer

    again = DspConsumer(
        consumer.engine,
        settings=consumer.consumer.settings,
        verifier=consumer.consumer.verifier,
        token_issuer=consumer.consumer.token_issuer,
        client=net.client(),
    )
    consumer.consumer = again
    net.apps["consumer.test"].state.ctx.services[DspConsumer] = again
    tpid = await again.transfer(agreement_id)
    await net.pump()
    assert (await again.pull(tpid))["value"] == 42


async def test_other_participant_sees_404_and_catalog_is_filtered(network: Any) -> None:
    net, _provider, consumer, _ = network
    pid, _ = await negotiate(net, consumer)
    provider_pid = consumer.consumer.negotiation(pid)["providerPid"]
    async with net.client() as c:
        r = await c.get(
            f"https://provider.test/api/dsp/2025-1/negotiations/{provider_pid}", headers=token(OTHER_DID, PROVIDER_DID)
        )
        assert r.status_code == 404
        assert r.json()["@type"] == "ContractNegotiationError"
        r = await c.post(
            "https://provider.test/api/dsp/2025-1/catalog/request",
            json={"@context": [DSP_CONTEXT], "@type": "CatalogRequestMessage", "filter": []},
            headers=token(OTHER_DID, PROVIDER_DID),
        )
        assert r.status_code == 200 and "dataset" not in r.json()
        r = await c.get(
            "https://provider.test/api/dsp/2025-1/catalog/datasets/asset-1", headers=token(OTHER_DID, PROVIDER_DID)
        )
        assert r.status_code == 404 and r.json()["@type"] == "CatalogError"


async def test_bad_input_changes_nothing(network: Any) -> None:
    net, provider, _consumer, _ = network
    url = "https://provider.test/api/dsp/2025-1/negotiations/request"
    offer = {
        "@id": "offer-1",
        "@type": "Offer",
        "target": "asset-1",
        "permission": [{"action": "use"}],
    }  # not the offered policy
    bodies = [
        {
            "@context": ["https://example.org/unknown.jsonld", DSP_CONTEXT],
            "@type": "ContractRequestMessage",
            "consumerPid": "c1",
            "offer": offer,
            "callbackAddress": "https://consumer.test/cb",
        },
        {
            "@context": [DSP_CONTEXT],
            "@type": "ContractRequestMessage",
            "consumerPid": "c1",
            "offer": offer,
            "callbackAddress": "https://consumer.test/cb",
        },
        {
            "@context": [DSP_CONTEXT],
            "@type": "ContractRequestMessage",
            "consumerPid": "c1",
            "offer": {**offer, "@id": "no-such-offer"},
            "callbackAddress": "https://consumer.test/cb",
        },
        {"@context": [DSP_CONTEXT], "@type": "ContractRequestMessage", "consumerPid": "c1"},
    ]
    async with net.client() as c:
        for body in bodies:
            r = await c.post(url, json=body, headers=token(CONSUMER_DID, PROVIDER_DID))
            assert r.status_code == 400, r.text
            assert r.json()["@type"] == "ContractNegotiationError"
        r = await c.post(
            url, content=b"{not json", headers={**token(CONSUMER_DID, PROVIDER_DID), "Content-Type": "application/json"}
        )
        assert r.status_code == 400
        r = await c.post(url, json=bodies[1], headers={"Authorization": "tok|did:web:x|expired"})
        assert r.status_code == 401
    with provider.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.negotiations)).scalar_one() == 0


async def test_well_known_version(network: Any) -> None:
    net, *_ = network
    async with net.client() as c:
        r = await c.get("https://provider.test/.well-known/dspace-version")
    assert r.json()["protocolVersions"][0]["path"] == "/api/dsp/2025-1"


async def test_a_remembered_token_is_judged_by_its_stored_row_at_every_request(network: Any) -> None:
    """The per-request check of a remembered token reads its row as it is now: revoked or
    expired in the store (the remembered expiry still ahead) is refused at once, and a token
    whose row is live again is served again."""
    net, provider, consumer, _ = network
    _pid, agreement_id = await negotiate(net, consumer)
    tpid = await consumer.consumer.transfer(agreement_id)
    await net.pump()
    address = consumer.consumer.data_address(tpid)
    assert address is not None
    dp = provider.provider
    bearer = f"Bearer {address.token}"
    row = t.tokens.c.token_sha256 == hashlib.sha256(address.token.encode()).hexdigest()
    with provider.engine.begin() as conn:
        expires_at = conn.execute(select(t.tokens.c.expires_at).where(row)).scalar_one()
    assert (await dp.pull(bearer))["value"] == 42  # checked in full, remembered
    assert (await dp.pull(bearer))["value"] == 42  # remembered, checked again in the store
    for stored in ({"expires_at": dp.clock.now() - dt.timedelta(seconds=1)}, {"revoked": True}):
        with provider.engine.begin() as conn:
            conn.execute(update(t.tokens).where(row).values(**stored))
        with pytest.raises(ExpiredToken) as refused:
            await dp.pull(bearer)
        assert refused.value.rule == "data plane tokens are short-lived"
        with provider.engine.begin() as conn:  # live again: checked in full, remembered again
            conn.execute(update(t.tokens).where(row).values(expires_at=expires_at, revoked=False))
        assert (await dp.pull(bearer))["value"] == 42
        assert (await dp.pull(bearer))["value"] == 42


async def test_a_remembered_token_is_refused_once_revoked_and_once_its_transfer_ended(network: Any) -> None:
    """The provider remembers a checked access token in memory, but revocation (a refresh
    revokes the old tokens) and the transfer's state are still read from the database."""
    net, provider, consumer, _ = network
    _pid, agreement_id = await negotiate(net, consumer)
    tpid = await consumer.consumer.transfer(agreement_id)
    await net.pump()
    old = consumer.consumer.data_address(tpid)
    assert old is not None
    dp = provider.provider
    assert (await dp.pull(f"Bearer {old.token}"))["value"] == 42  # checked in full, remembered
    assert (await dp.pull(f"Bearer {old.token}"))["value"] == 42  # remembered
    new = await consumer.consumer.refresh_data_address(tpid)
    with pytest.raises(ExpiredToken) as revoked:
        await dp.pull(f"Bearer {old.token}")
    assert (revoked.value.status, revoked.value.rule) == (401, "data plane tokens are short-lived")
    assert (await dp.pull(f"Bearer {new.token}"))["value"] == 42
    with provider.engine.begin() as conn:  # the transfer ends (as a termination would leave it)
        conn.execute(update(t.transfers).where(t.transfers.c.agreement_id == agreement_id).values(state="TERMINATED"))
    with pytest.raises(ExpiredToken) as ended:
        await dp.pull(f"Bearer {new.token}")
    assert (ended.value.status, ended.value.rule) == (401, "DSP transfer state")
