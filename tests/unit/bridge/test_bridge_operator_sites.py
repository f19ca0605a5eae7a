"""A hub operator's site register across the bridge (Japan → Europe), in process on SQLite and
PostgreSQL: the bridge's site-register source asks the hub (``POST /v1/ouranos/bridge/sites``,
the bridge's DCP self-issued token) for the Catena-X consumer its connector verified; the hub
answers the operator's register only under the operator's release of ``sites`` to that BPNL.
Not released, released to another BPNL or withdrawn: refused (403 at the consumer), no site and
no supplier name cross. Only the configured bridge may ask."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import Engine

from batpass.bridge import HubFederation, HubLink, HubSites
from batpass.bridge.routes import hub_router
from batpass.core.errors import Forbidden, NotFound, UpstreamUnavailable
from batpass.exchange import SiteRegisterSource
from batpass.ouranos import MIGRATIONS_DIR, OuranosHub, Principal
from batpass.ouranos._harness import build_app, seed_operator
from batpass.sites import MIGRATIONS_DIR as SITES_MIGRATIONS
from batpass.sites import Site, SiteService
from batpass.trust import DidResolver, NodeIdentity, did_document, generate_keypair, load_or_create_identity

BASE = "https://hub.test:8443"
BRIDGE = "did:web:bridge.test"
CAR, CAR_BPNL, RECYCLER_BPNL = "did:web:car.test", "BPNL00000003CAR1", "BPNL00000003REC1"
REFINERY: dict[str, Any] = {
    "siteId": "REF-JP-1-NIIHAMA",
    "name": "Niihama nickel refinery",
    "operator": "Niihama Nickel Refining KK",
    "siteType": "refinery",
    "country": "JP",
    "region": "JP-38",
    "location": {"latitude": 33.96, "longitude": 133.28},
    "minerals": ["nickel"],
}


class World:
    def __init__(self, hub: OuranosHub, operator: Principal, operator_did: str, bridge: NodeIdentity) -> None:
        self.hub, self.operator, self.operator_did, self.bridge = hub, operator, operator_did, bridge

    def source(self, identity: NodeIdentity | None = None, *, node: SiteService | None = None) -> SiteRegisterSource:
        """The bridge's site-register source, reaching the hub in process over ASGI."""
        app = self.app
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
        link = HubLink(identity=identity or self.bridge, client=client, hub_url=BASE, hub_did=self.hub.identity.did)
        return SiteRegisterSource(node or SiteService(self.hub.engine), operators=HubSites(link))

    def pull(self, source: SiteRegisterSource, bpnl: str | None, **query: str) -> Any:
        q = {"operator": self.operator_did, **query}
        return asyncio.run(
            source.query_content("sites", consumer_did=CAR, consumer_bpnl=bpnl, agreement_id="ag-1", query=q)
        )


@pytest.fixture
def world(make_store: Callable[[Sequence[Path]], Engine], tmp_path: Path) -> Iterator[World]:
    engine = make_store([MIGRATIONS_DIR, SITES_MIGRATIONS])
    identity = load_or_create_identity(tmp_path / "node-keys", "did:web:hub.test%3A8443")
    hub = OuranosHub(engine, identity, hub_home=tmp_path / "hub", base_url=BASE)
    bridge = NodeIdentity(BRIDGE, [generate_keypair("Ed25519", "key-ed25519-1")])
    resolver = DidResolver()
    resolver.pin(did_document(bridge))
    app = build_app(hub, base_url=BASE)
    app.include_router(hub_router)
    app.state.ctx.services[HubFederation] = HubFederation(
        hub=hub,
        ledger=cast(Any, None),  # the site answer reads no ledger
        resolver=resolver,
        client=cast(Any, None),
        bridge_url="https://bridge.test",
        bridge_did=BRIDGE,
    )
    op = seed_operator(hub, 0)
    who = Principal(op.operator_id, op.account_id)
    hub.sites.put_site(who, REFINERY)
    w = World(hub, who, hub.operator_did_document(op.operator_id)["id"], bridge)
    w.app = app  # type: ignore[attr-defined]
    yield w


def _refused(world: World, source: SiteRegisterSource, bpnl: str | None) -> None:
    with pytest.raises(Forbidden) as info:
        world.pull(source, bpnl)
    for secret in (REFINERY["operator"], REFINERY["name"], REFINERY["siteId"]):
        assert secret not in info.value.message


def test_released_to_the_partners_bpnl_visible_otherwise_refused(world: World) -> None:
    source = world.source()
    _refused(world, source, CAR_BPNL)  # nothing released
    world.hub.releases.put_bridge_release(world.operator, CAR_BPNL, ["upstream-summary", "cfp"])
    _refused(world, source, CAR_BPNL)  # other scopes released, not the sites
    world.hub.releases.put_bridge_release(world.operator, CAR_BPNL, ["sites"])
    answer = world.pull(source, CAR_BPNL)
    assert answer["operator"] == world.operator_did
    (site,) = answer["sites"]
    assert site["operator"] == REFINERY["operator"] and site["region"] == "JP-38" and "sharedWith" not in site
    one = world.pull(source, CAR_BPNL, site=REFINERY["siteId"])
    assert one["siteId"] == REFINERY["siteId"]
    with pytest.raises(NotFound):
        world.pull(source, CAR_BPNL, site="NO-SUCH-SITE")
    _refused(world, source, RECYCLER_BPNL)  # released to someone else
    _refused(world, source, None)  # a consumer whose BPNL the connector did not verify
    world.hub.releases.put_bridge_release(world.operator, CAR_BPNL, ["sites"], released=False)
    _refused(world, source, CAR_BPNL)  # withdrawn


def test_only_the_configured_bridge_may_ask_the_hub(world: World) -> None:
    world.hub.releases.put_bridge_release(world.operator, CAR_BPNL, ["sites"])
    impostor = NodeIdentity("did:web:impostor.test", [generate_keypair("Ed25519", "key-ed25519-1")])
    fed = world.app.state.ctx.services[HubFederation]  # type: ignore[attr-defined]
    fed.resolver.pin(did_document(impostor))  # a valid token of a known DID: still not the bridge
    with pytest.raises(Forbidden):
        world.pull(world.source(impostor), CAR_BPNL)
    assert world.pull(world.source(), CAR_BPNL)["sites"]


def test_an_operator_the_hub_does_not_host_and_a_node_without_hub_registers(world: World) -> None:
    source = world.source()
    with pytest.raises(NotFound):
        asyncio.run(
            source.query_content(
                "sites",
                consumer_did=CAR,
                consumer_bpnl=CAR_BPNL,
                agreement_id="ag-1",
                query={"operator": "did:web:hub.test%3A8443:operators:019b0000-0000-7000-8000-00000000dead"},
            )
        )
    plain = SiteRegisterSource(SiteService(world.hub.engine))  # a node that is no bridge
    with pytest.raises(NotFound):
        world.pull(plain, CAR_BPNL)
    # the bridge's own register answers as before and never lists the operator's sites
    own = asyncio.run(plain.query_content("sites", consumer_did=CAR, consumer_bpnl=None, agreement_id="", query={}))
    assert own == {"sites": []}
    SiteService(world.hub.engine).register(Site.from_json({**REFINERY, "siteId": "BRIDGE-OWN-1"}))
    own = asyncio.run(plain.query_content("sites", consumer_did=CAR, consumer_bpnl=None, agreement_id="", query={}))
    assert [s["siteId"] for s in own["sites"]] == ["BRIDGE-OWN-1"] and "operator" not in own["sites"][0]


class _StubLink:
    def __init__(self, status: int, body: Any) -> None:
        self.status, self.body = status, body

    async def post(self, path: str, body: Any) -> httpx.Response:
        return httpx.Response(self.status, json=self.body)


@pytest.mark.parametrize(
    ("status", "error"), [(403, Forbidden), (404, NotFound), (401, UpstreamUnavailable), (500, UpstreamUnavailable)]
)
def test_the_hubs_answers_map_to_the_consumers_refusals(status: int, error: type[Exception]) -> None:
    sites = HubSites(cast(HubLink, _StubLink(status, {"detail": "Niihama Nickel Refining KK"})))
    with pytest.raises(error) as info:
        asyncio.run(sites.sites("did:web:x", consumer_did=CAR, consumer_bpnl=CAR_BPNL, site=None))
    assert "Niihama" not in str(info.value)
