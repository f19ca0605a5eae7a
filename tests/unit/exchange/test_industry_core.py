"""Industry Core aspects of a battery (SerialPart, SingleLevelUsageAsBuilt, SingleLevelBomAsBuilt)
mapped from a real passport and a real ledger (the seeded scenario's car maker, its cells received
from the cell maker's node), each validated against the schema vendored in ``tests/specs`` (not
the package's copy); the bill of material only for a partner it is released to (both stores);
the registry asset answers what the consumer's BPNL may see."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from sqlalchemy import Engine

from batpass.compliance import load_ruleset
from batpass.core.clock import FixedClock
from batpass.core.errors import InvalidInput, NotFound
from batpass.core.ids import BatteryId
from batpass.dataspace import MIGRATIONS_DIR as DATASPACE_MIGRATIONS
from batpass.dataspace import Participant, TwinRegistry
from batpass.exchange import (
    BOM_AS_BUILT_ASSET,
    SERIAL_PART_ASSET,
    USAGE_AS_BUILT_ASSET,
    BomReleases,
    IndustryCore,
    RegistryProxy,
    industry_core_twin,
    lot_asset_id,
    lot_twin,
    register_twin,
)
from batpass.exchange import (
    MIGRATIONS_DIR as EXCHANGE_MIGRATIONS,
)
from batpass.ledger import MIGRATIONS_DIR as LEDGER_MIGRATIONS
from batpass.ledger import LedgerService, decode_summary
from batpass.passport import MIGRATIONS_DIR as PASSPORT_MIGRATIONS
from batpass.passport import PassportRules, PassportService, load_static_product_data
from batpass.scenario import generate
from batpass.trust import NodeIdentity, generate_keypair

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[3]
SPECS = ROOT / "tests/specs/catenax/semantic-models"  # vendored (tests/specs/PROVENANCE.md)
SCHEMAS = {
    SERIAL_PART_ASSET: SPECS / "io.catenax.serial_part/4.0.0/gen/SerialPart-schema.json",
    USAGE_AS_BUILT_ASSET: SPECS
    / "io.catenax.single_level_usage_as_built/4.0.0/gen/SingleLevelUsageAsBuilt-schema.json",
    BOM_AS_BUILT_ASSET: SPECS / "io.catenax.single_level_bom_as_built/4.0.0/gen/SingleLevelBomAsBuilt-schema.json",
}
EXAMPLE = ROOT / "src/batpass/passport/_data/demo-ev-model.yaml"  # the scenario pack GTIN
CAR, CELLS = "did:web:car.example", "did:web:cells.example"
CELLS_BPNL, RECYCLER_BPNL, OTHER_BPNL = "BPNL0000JPCELL01", "BPNL00000003REC1", "BPNL00000003OTHR"
RESOLVER = "https://id.car.example"
BASE = "https://car.example:8443"
ITEM = {"manufacturing_place": "Wolfsburg, DE", "manufacturing_date": "2026-10-20"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _NoVerifier:
    async def verify(self, authorization: str | None) -> Participant:
        raise AssertionError("the sources are given the verified consumer; nothing is verified here")


def _summary(link: str) -> dict[str, Any]:
    return {
        "summaryVersion": "1.0",
        "subject": {"kind": "battery", "id": link, "material": "battery"},
        "issuer": CAR,
        "computedAt": "2026-10-21T10:00:00Z",
        "elements": {},
        "minesReached": 0,
        "tombstones": [],
        "credentials": [],
        "foldedSupplierSummaries": 0,
    }


class Setup:
    def __init__(self, make_store: Callable[[Sequence[Path]], Engine]) -> None:
        engine = make_store([LEDGER_MIGRATIONS, PASSPORT_MIGRATIONS, DATASPACE_MIGRATIONS, EXCHANGE_MIGRATIONS])
        identity = NodeIdentity(CAR, [generate_keypair("Ed25519", "key-ed25519-1")])
        sc = generate(lots=60, seed=7, owners={"rhein-auto": CAR, "osaka-cells": CELLS}, resolver=RESOLVER)
        self.ledger = LedgerService(engine, identity)
        self.ledger.record([e for e in sc.events if e["owner"] == CAR])
        self.link = sc.battery_ids[0]
        self.battery = BatteryId.parse(self.link)
        clock = FixedClock(dt.datetime(2026, 10, 21, 12, 0, tzinfo=dt.UTC))
        self.passports = PassportService(
            engine,
            identity,
            rules=PassportRules.from_ruleset(load_ruleset()),
            resolver_base=RESOLVER,
            backup_url=BASE,
            clock=clock,
        )
        static = load_static_product_data(EXAMPLE)
        self.passport = self.passports.build(
            static, self.battery, item=ITEM, summary=decode_summary(_summary(self.battery.digital_link(RESOLVER)))
        )
        self.registry = TwinRegistry(engine, verifier=_NoVerifier())
        twin = industry_core_twin(
            self.battery,
            model_id=self.passport.model_id,
            base_url=BASE,
            dsp_url=BASE + "/api/dsp/2025-1",
            readers=[RECYCLER_BPNL],
        )
        register_twin(self.registry, twin)
        self.twin = twin
        self.releases = BomReleases(engine)
        known = {CELLS: CELLS_BPNL}

        async def bpnl_of(did: str) -> str | None:
            return known.get(did)

        self.core = IndustryCore(self.passports, self.ledger, self.registry, self.releases, owner=CAR, bpnl_of=bpnl_of)

    async def pull(self, asset: str, bpnl: str | None) -> Any:
        return await self.core.query_content(
            asset, consumer_did="did:web:x.example", consumer_bpnl=bpnl, agreement_id="a1", query={"battery": self.link}
        )


@pytest.fixture
def setup(make_store: Callable[[Sequence[Path]], Engine]) -> Setup:
    return Setup(make_store)


def _valid(asset: str, doc: Any) -> None:
    jsonschema.validate(doc, json.loads(SCHEMAS[asset].read_text(encoding="utf-8")))


async def test_serial_part_and_usage_are_served_to_partners_the_twin_names(setup: Setup) -> None:
    part = await setup.pull(SERIAL_PART_ASSET, RECYCLER_BPNL)
    _valid(SERIAL_PART_ASSET, part)
    assert part["globalAssetId"] == setup.twin["globalAssetId"]
    assert {"key": "partInstanceId", "value": setup.battery.serial} in part["localIdentifiers"]
    assert part["manufacturingInformation"] == {"productionDate": "2026-10-20", "country": "DEU"}
    assert part["partTypeInformation"]["manufacturerPartId"] == setup.passport.model_id
    usage = await setup.pull(USAGE_AS_BUILT_ASSET, RECYCLER_BPNL)
    _valid(USAGE_AS_BUILT_ASSET, usage)
    assert usage["globalAssetId"] == part["globalAssetId"]
    for asset in (SERIAL_PART_ASSET, USAGE_AS_BUILT_ASSET):  # a partner the twin does not name: nothing
        with pytest.raises(NotFound):
            await setup.pull(asset, OTHER_BPNL)


async def test_the_bill_of_material_only_under_a_release_to_the_partner(setup: Setup) -> None:
    with pytest.raises(NotFound, match="no cx-bom-as-built"):  # default: suppliers undisclosed
        await setup.pull(BOM_AS_BUILT_ASSET, RECYCLER_BPNL)
    setup.releases.release(RECYCLER_BPNL)
    bom = await setup.pull(BOM_AS_BUILT_ASSET, RECYCLER_BPNL)
    _valid(BOM_AS_BUILT_ASSET, bom)
    # one tier: the cell maker's lots the battery was assembled from, by the id its twin gets
    boundary = [b["lot"] for b in setup.ledger.trace(CAR, setup.link)["boundaries"]]
    received = setup.ledger.suppliers_of(CAR, boundary)
    assert received and {r.supplier for r in received} == {CELLS}
    assert {c["businessPartner"] for c in bom["childItems"]} == {CELLS_BPNL}
    assert {c["globalAssetId"] for c in bom["childItems"]} == {lot_asset_id(CELLS, r.supplier_lot) for r in received}
    assert all(c["quantity"]["unit"] == "unit:kilogram" and c["quantity"]["value"] > 0 for c in bom["childItems"])
    with pytest.raises(NotFound):  # released to one partner, not to another the twin does not name
        await setup.pull(BOM_AS_BUILT_ASSET, OTHER_BPNL)
    setup.releases.revoke(RECYCLER_BPNL)
    with pytest.raises(NotFound):
        await setup.pull(BOM_AS_BUILT_ASSET, RECYCLER_BPNL)


async def test_releases_are_kept_per_partner_and_checked(setup: Setup) -> None:
    assert setup.releases.list() == []
    first = setup.releases.release(RECYCLER_BPNL)
    assert setup.releases.release(RECYCLER_BPNL) == first  # idempotent: the first release's time
    assert [r["partner"] for r in setup.releases.list()] == [RECYCLER_BPNL]
    with pytest.raises(InvalidInput) as bad:
        setup.releases.release("recycler")
    assert bad.value.field == "bpnl"
    setup.releases.revoke(RECYCLER_BPNL)
    with pytest.raises(NotFound):
        setup.releases.revoke(RECYCLER_BPNL)


async def test_the_twin_lists_every_aspect_and_the_registry_asset_shows_what_the_reader_may_see(
    setup: Setup,
) -> None:
    semantic = {sm["semanticId"]["keys"][0]["value"] for sm in setup.twin["submodelDescriptors"]}
    assert {s.split("#")[0].split(":")[2] for s in semantic} == {
        "io.catenax.battery.battery_pass",
        "io.catenax.serial_part",
        "io.catenax.single_level_usage_as_built",
        "io.catenax.single_level_bom_as_built",
    }
    proxy = RegistryProxy(setup.registry)
    aas = base64.urlsafe_b64encode(setup.twin["id"].encode()).decode().rstrip("=")

    async def get(path: str, bpnl: str, query: dict[str, str] | None = None) -> Any:
        return await proxy.proxy(
            "digital-twin-registry",
            method="GET",
            path=path,
            query=query or {},
            body=None,
            consumer_did="did:web:x.example",
            consumer_bpnl=bpnl,
            agreement_id="a1",
        )

    shell = await get(f"shell-descriptors/{aas}", RECYCLER_BPNL)
    assert shell.status == 200 and shell.content["globalAssetId"] == setup.twin["globalAssetId"]
    subs = await get(f"shell-descriptors/{aas}/submodel-descriptors", RECYCLER_BPNL)
    assert len(subs.content["result"]) == 4
    link = json.dumps({"name": "partInstanceId", "value": setup.battery.serial})
    found = await get("lookup/shells", RECYCLER_BPNL, {"assetIds": link})
    assert found.content["result"] == [setup.twin["id"]]
    assert (await get("lookup/shells", OTHER_BPNL, {"assetIds": link})).content["result"] == []
    with pytest.raises(NotFound):
        await get(f"shell-descriptors/{aas}", OTHER_BPNL)
    with pytest.raises(NotFound):
        await get("shell-descriptors", RECYCLER_BPNL)


async def test_a_lot_twin_names_its_suppliers_lots_under_the_same_release(setup: Setup) -> None:
    boundary = [b["lot"] for b in setup.ledger.trace(CAR, setup.link)["boundaries"]]
    [received] = setup.ledger.suppliers_of(CAR, boundary[:1])
    lot = setup.ledger.lot(CAR, str(received.lot))
    twin = lot_twin(
        str(lot.id),
        owner=CAR,
        material=lot.material,
        base_url=BASE,
        dsp_url=BASE + "/api/dsp/2025-1",
        readers=[RECYCLER_BPNL],
    )
    register_twin(setup.registry, twin)
    assert twin["globalAssetId"] == lot_asset_id(CAR, str(lot.id))
    query = {"lot": str(lot.id)}

    async def pull(asset: str, bpnl: str) -> Any:
        return await setup.core.query_content(
            asset, consumer_did="did:web:x.example", consumer_bpnl=bpnl, agreement_id="a1", query=query
        )

    usage = await pull(USAGE_AS_BUILT_ASSET, RECYCLER_BPNL)
    _valid(USAGE_AS_BUILT_ASSET, usage)
    with pytest.raises(NotFound):  # a batch is no serialised part
        await pull(SERIAL_PART_ASSET, RECYCLER_BPNL)
    with pytest.raises(NotFound):
        await pull(BOM_AS_BUILT_ASSET, RECYCLER_BPNL)
    setup.releases.release(RECYCLER_BPNL)
    bom = await pull(BOM_AS_BUILT_ASSET, RECYCLER_BPNL)
    _valid(BOM_AS_BUILT_ASSET, bom)
    # the received lot itself: the cell maker's dispatched lot, with the mass received
    assert [(c["globalAssetId"], c["businessPartner"]) for c in bom["childItems"]] == [
        (lot_asset_id(CELLS, str(received.supplier_lot)), CELLS_BPNL)
    ]
    assert bom["childItems"][0]["quantity"]["value"] == pytest.approx(lot.mass_kg)
    with pytest.raises(NotFound):
        await pull(USAGE_AS_BUILT_ASSET, OTHER_BPNL)
