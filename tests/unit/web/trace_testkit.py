"""A console node with a federated trace for the trace page's tests (unit and browser).

The console node (``console_testkit``: the cell and battery maker ``OWNER``) received cobalt,
lithium and nickel from three direct suppliers and built cells, then a battery whose GS1 Digital
Link is the id of its first passport. The suppliers are real ``FederatedTrace`` nodes on their
own store, reached through :class:`InProcessPartners` — the partner port (the connector's place)
calling the supplier's provider side (``query_content``) directly, as the connector would after
its negotiation, with the asker's DID:

- the cobalt refiner mined in the DR Congo and bought part of its cobalt from :data:`FAR` (a
  tier-2 node that answers: Zambian ore); FAR's DID must never reach the console's page;
- the lithium producer's brine is Chilean, and it bought some from :data:`BRINE`, which does
  not answer (a tier-2 tombstone);
- the nickel supplier does not answer at all (a tier-1 tombstone).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

sys.path.insert(0, str(Path(__file__).parents[1] / "ledger"))
sys.path.insert(0, str(Path(__file__).parents[1] / "passport"))
from console_testkit import BATTERIES, ConsoleNode, make_console
from ledger_testkit import OWNER, ev, identity, out
from passport_testkit import RESOLVER

from batpass.core.errors import NotFound
from batpass.federation import UPSTREAM_ASSET, FederatedTrace, Refused
from batpass.federation.routes import router as federation_router
from batpass.ledger import MIGRATIONS_DIR as LEDGER_MIGRATIONS
from batpass.ledger import LedgerService
from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import upgrade
from batpass.trust import NodeIdentity
from did_testkit import did_documents

__all__ = [
    "BATTERY",
    "BRINE",
    "COBALT",
    "FAR",
    "LITHIUM",
    "NICKEL",
    "OWNER",
    "InProcessPartners",
    "TraceNode",
    "make_trace_console",
]

COBALT = "did:web:cobalt.example"
LITHIUM = "did:web:lithium.example"
NICKEL = "did:web:nickel.example"  # never answers
FAR = "did:web:far-away-mine.example"  # the cobalt refiner's supplier: tier 2, answers
BRINE = "did:web:brine.example"  # the lithium producer's supplier: tier 2, never answers
BATTERY = BATTERIES[0].digital_link(RESOLVER)


class InProcessPartners:
    """The partner port of one node (``asker``): each partner's provider side called in the
    same process; a partner not in ``nodes`` is unreachable, a lot it refuses is a refusal."""

    def __init__(self, asker: str, nodes: Mapping[str, FederatedTrace]) -> None:
        self.asker, self.nodes = asker, nodes

    async def pull(
        self, did: str, lot: str, asset: str, role: str, extra: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        node = self.nodes.get(did)
        if node is None:
            raise Refused(f"{role} unreachable")
        key = "lot" if asset == UPSTREAM_ASSET else "recall"
        try:
            answer = await node.query_content(
                key,
                consumer_did=self.asker,
                consumer_bpnl=None,
                agreement_id="in-process",
                query={"lot": lot, **(extra or {})},
            )
        except NotFound as exc:
            raise Refused(f"{role} refused: no answer about this lot for this node") from exc
        return dict(answer)


class TraceNode:
    def __init__(self, console: ConsoleNode, trace: FederatedTrace) -> None:
        self.console, self.trace = console, trace


def _ship(
    owner: str, site: str, country: str, inputs: list[tuple[str, float]], lot: str, material: str, to: str
) -> dict[str, Any]:
    shipment = {
        "to_site": {"id": "SITE-" + to.rsplit(":", 1)[-1], "country": "JP"},
        "destination_country": "JP",
        "document": lot,
        "to_owner": to,
    }
    kg = sum(q for _, q in inputs)
    return ev(
        "shipment",
        owner=owner,
        site=site,
        country=country,
        inputs=inputs,
        outputs=[out(lot, material, kg)],
        shipment=shipment,
    )


def _receive(owner: str, lot: str, material: str, kg: float, supplier: str, their_lot: str) -> dict[str, Any]:
    receipt = {"from_owner": supplier, "from_lot": their_lot, "document": their_lot}
    return ev("receipt", owner=owner, site="IN-1", country="JP", outputs=[out(lot, material, kg)], receipt=receipt)


def _supplier_events() -> dict[str, list[dict[str, Any]]]:
    return {
        FAR: [
            ev(
                "extraction",
                owner=FAR,
                site="MINE-ZM-1",
                country="ZM",
                outputs=[out("far-ore", "cobalt_hydroxide", 500)],
            ),
            _ship(FAR, "MINE-ZM-1", "ZM", [("far-ore", 200)], "far-1", "cobalt_hydroxide", COBALT),
        ],
        COBALT: [
            ev(
                "extraction",
                owner=COBALT,
                site="MINE-CD-1",
                country="CD",
                outputs=[out("co-ore", "cobalt_hydroxide", 1000)],
            ),
            _receive(COBALT, "co-far", "cobalt_hydroxide", 200, FAR, "far-1"),
            _ship(COBALT, "REF-1", "CD", [("co-ore", 300), ("co-far", 100)], "co-ship", "cobalt_hydroxide", OWNER),
        ],
        LITHIUM: [
            ev(
                "extraction",
                owner=LITHIUM,
                site="SALAR-1",
                country="CL",
                outputs=[out("li-brine", "lithium_brine_concentrate", 1000)],
            ),
            _receive(LITHIUM, "li-extra", "lithium_brine_concentrate", 200, BRINE, "brine-7"),
            _ship(
                LITHIUM,
                "SALAR-1",
                "CL",
                [("li-brine", 400), ("li-extra", 100)],
                "li-ship",
                "lithium_brine_concentrate",
                OWNER,
            ),
        ],
    }


def _own_events() -> list[dict[str, Any]]:
    cells = {"lot": "cells-t1", "material": "cell", "quantity": {"value": 60, "unit": "piece"}, "mass_per_piece_kg": 20}
    battery = {
        "lot": "battery-t1",
        "material": "battery",
        "quantity": {"value": 1, "unit": "piece"},
        "mass_per_piece_kg": 70,
        "battery": {"id": BATTERY, "model": "NC-EV-1", "chemistry": "NMC811", "capacity_kwh": 60, "category": "ev"},
    }
    return [
        _receive(OWNER, "t-co", "cobalt_hydroxide", 400, COBALT, "co-ship"),
        _receive(OWNER, "t-li", "lithium_brine_concentrate", 500, LITHIUM, "li-ship"),
        _receive(OWNER, "t-ni", "nickel_mhp", 300, NICKEL, "ni-ship"),
        ev(
            "assembly",
            owner=OWNER,
            site="CELLS-1",
            inputs=[("t-co", 400), ("t-li", 500), ("t-ni", 300)],
            outputs=[cells],
        ),
        {
            **ev("assembly", owner=OWNER, site="PACK-1", outputs=[battery]),
            "inputs": [{"lot": "cells-t1", "quantity": {"value": 3, "unit": "piece"}}],
        },
    ]


def make_trace_console(engine: Engine, partners_engine: Engine, *, lots: int = 10) -> TraceNode:
    """The console on ``engine`` (migrated with ``console_testkit.MIGRATIONS``) with the
    federated trace registered; the suppliers' ledgers on ``partners_engine``. The app also
    serves ``GET /v1/trace/federated/{subject}`` (admin key), the figures the page must show."""
    upgrade(partners_engine, [STORE_MIGRATIONS, LEDGER_MIGRATIONS])
    node = make_console(engine, lots=lots)
    ids: dict[str, NodeIdentity] = {d: identity(d) for d in (OWNER, COBALT, LITHIUM, FAR)}
    docs = did_documents(ids)

    async def resolve(did: str) -> dict[str, Any]:
        raise NotFound(f"{did} does not resolve here")

    nodes: dict[str, FederatedTrace] = {}
    for did, events in _supplier_events().items():
        ledger = LedgerService(partners_engine, ids[did])
        ledger.record(events)
        nodes[did] = FederatedTrace(
            ledger=ledger,
            identity=ids[did],
            resolve_did=resolve,
            cached_did=docs.get,
            partners=InProcessPartners(did, nodes),
        )
    node.ledger.record(_own_events())
    fed = FederatedTrace(
        ledger=node.ledger,
        identity=ids[OWNER],
        resolve_did=resolve,
        cached_did=docs.get,
        partners=InProcessPartners(OWNER, nodes),
    )
    node.app.state.ctx.services[FederatedTrace] = fed
    node.app.include_router(federation_router)
    return TraceNode(node, fed)
