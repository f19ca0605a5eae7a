"""A console node with what the footprint, compliance, trust and partners views read: passports
in each state of a life (with a declared footprint), the pack's PACT v3 document with the Annex II
stage extension, a trust service with two trust lists, a recognition policy and two credentials
issued, a PACT partner, and — as on a hub — two hosted operators with releases to Catena-X.
Users besides the console testkit's: ``kei`` (viewer, scoped to the first hosted operator) and
``rita`` (admin, scoped to the recycler, which answers for the repurposed and the waste battery)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from console_testkit import MIGRATIONS, PASSWORD, ConsoleNode, make_console
from sqlalchemy import Engine
from web_testkit import ORIGINAL, RECYCLER, make_lives

sys.path.insert(0, str(Path(__file__).parents[1] / "trust"))
from trust_http import load_lists, role_subject
from trust_world import CX_BASE, make_world

from batpass.compliance.routes import router as compliance_api
from batpass.footprint import MIGRATIONS_DIR as FOOTPRINT_MIGRATIONS
from batpass.footprint import PactService
from batpass.ouranos import MIGRATIONS_DIR as OURANOS_MIGRATIONS
from batpass.ouranos import OuranosHub, Principal
from batpass.trust import MIGRATIONS_DIR as TRUST_MIGRATIONS
from batpass.trust import TrustService, did_document

__all__ = ["PACK", "PARTNER_BPNL", "VIEW_MIGRATIONS", "make_views_console"]

VIEW_MIGRATIONS = (*MIGRATIONS, FOOTPRINT_MIGRATIONS, TRUST_MIGRATIONS, OURANOS_MIGRATIONS)
PARTNER_BPNL = "BPNL00000003AYRE"
STAGES_EXTENSION = "urn:batpass:pact-extension:annex-ii-stages:1.0.0"
#: the pack's footprint as its maker serves it (PACT v3 with the Annex II stage extension)
PACK = {
    "id": "0193a6f0-0000-7000-8000-000000000001",
    "specVersion": "3.0.0",
    "created": "2026-05-01T10:00:00Z",
    "status": "Active",
    "companyName": "NordCell Batteries GmbH",
    "companyIds": ["urn:bpn:id:BPNL00000003AYRE"],
    "productDescription": "EV pack",
    "productIds": [f"urn:gtin:{ORIGINAL.gtin}"],
    "productNameCompany": "NordCell EV pack",
    "pcf": {
        "declaredUnitOfMeasurement": "piece",
        "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": "420",
        "referencePeriodStart": "2025-04-01T00:00:00Z",
        "referencePeriodEnd": "2026-03-31T23:59:59Z",
        "pcfExcludingBiogenicUptake": "6294",
        "pcfIncludingBiogenicUptake": "6294",
        "fossilGhgEmissions": "6294",
        "fossilCarbonContent": "0",
        "ipccCharacterizationFactors": ["AR6"],
        "crossSectoralStandards": ["ISO14067"],
        "exemptedEmissionsPercent": "0",
        "primaryDataShare": "41.5",
    },
    "extensions": [
        {
            "specVersion": "2.0.0",
            "dataSchema": STAGES_EXTENSION,
            "data": {
                "stages": {
                    "raw_material_and_preprocessing": "4600",
                    "main_production": "1694",
                    "distribution": None,
                    "end_of_life": None,
                },
                "perKwhLifetimeEnergy": {"kgCo2ePerKwh": "0.0548573", "lifetimeKwh": "114735", "formula": "E = C × N"},
            },
        }
    ],
}


def make_views_console(engine: Engine, hub_home: Path) -> ConsoleNode:
    """The console on ``engine`` (migrated with :data:`VIEW_MIGRATIONS`), the compliance API
    mounted beside it (the view must show its findings)."""
    n = make_console(engine, lots=10)
    make_lives(n.passports)
    world = make_world()
    trust = TrustService(
        engine,
        world.cx,
        base_url=CX_BASE,
        ecosystem="catena-x",
        operators={"catena-x": world.cx.did, "ouranos": world.jp.did},
    )
    trust.resolver.pin(did_document(world.jp))
    load_lists(trust, world)
    trust.issue("AccessRoleCredential", role_subject(world))
    trust.issue("AccessRoleCredential", {**role_subject(world, "legitimate_interest"), "id": RECYCLER})
    pact = PactService(engine, base_url="https://id.nordcell.example")
    pact.store_document(PACK)
    pact.register_peer(
        "https://partner.example:8443/pact", client_id="cid-7", client_secret="never shown", name="Partner AG"
    )
    hub = OuranosHub(engine, world.cx, hub_home=hub_home, base_url="https://hub.example:9443")
    ops = [
        hub.onboard_operator(open_operator_id=oid, operator_name=name, operator_address="Tokyo")
        for oid, name in (("1111111111111", "Cell KK"), ("2222222222222", "Cathode KK"))
    ]
    hub.releases.put_bridge_release(Principal(ops[0].operator_id, "a"), PARTNER_BPNL, ["cfp"])
    hub.releases.put_bridge_release(Principal(ops[1].operator_id, "b"), PARTNER_BPNL, ["upstream-summary"])
    services: dict[Any, Any] = n.app.state.ctx.services
    services[TrustService], services[PactService], services[OuranosHub] = trust, pact, hub
    n.app.include_router(compliance_api)
    n.accounts.add_user("kei", "viewer", PASSWORD, operator=ops[0].did)
    n.accounts.add_user("rita", "admin", PASSWORD, operator=RECYCLER)
    return n
