"""Helpers for ledger tests: an event builder, a service on a migrated store, a supplier and
the ledgers that receive from it (one with sealed keys, as a node keeps them), and the ledger's
routes served in process for one service."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from batpass.http import NodeContext, install_error_handlers, require_json
from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger.routes import router
from batpass.trust import NodeIdentity, SecretBox, generate_keypair

OWNER = "did:web:cells.example"
#: the child lot of the 8th edge (in the order of the child lots' ids): a lot made from others
CHILD_8TH = (
    "SELECT l.id AS child FROM ledger_edges e JOIN ledger_lots l ON l.lot_no = e.child_no "
    "AND l.owner = (SELECT owner FROM ledger_owners WHERE no = e.owner_no) ORDER BY l.id LIMIT 1 OFFSET 7"
)
_counter = itertools.count(1)


def ev(
    kind: str,
    *,
    owner: str = OWNER,
    site: str = "S1",
    country: str = "JP",
    inputs: Sequence[tuple[str, float]] = (),
    outputs: Sequence[dict[str, Any]] = (),
    **extra: Any,
) -> dict[str, Any]:
    n = next(_counter)
    d: dict[str, Any] = {
        "id": f"ev-{n:06d}",
        "kind": kind,
        "owner": owner,
        "at": f"2026-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z",
        "site": {"id": site, "country": country},
    }
    if inputs:
        d["inputs"] = [{"lot": lot, "quantity": {"value": q, "unit": "kg"}} for lot, q in inputs]
    if outputs:
        d["outputs"] = list(outputs)
    d.update(extra)
    return d


def out(lot: str, material: str, kg: float, **extra: Any) -> dict[str, Any]:
    return {"lot": lot, "material": material, "quantity": {"value": kg, "unit": "kg"}, **extra}


def identity(did: str = OWNER) -> NodeIdentity:
    return NodeIdentity(did, [generate_keypair("Ed25519", "key-ed25519-1")])


@pytest.fixture
def ledger(make_store: Callable[[Sequence[Path]], Engine]) -> LedgerService:
    eng = make_store([MIGRATIONS_DIR])
    return LedgerService(eng, identity(), high_risk_sites=["MINE-CD-2"], batch_size=4)


def lithium_supplier_events(did: str) -> list[dict[str, Any]]:
    """The events of :func:`lithium_supplier`: ``did`` mines 50 kg of brine concentrate (lot
    ``ore``) and ships it all to ``OWNER`` as lot ``ore-shipped``."""
    return [
        ev(
            "extraction",
            owner=did,
            site="M1",
            country="CL",
            outputs=[out("ore", "lithium_brine_concentrate", 50.0)],
        ),
        ev(
            "shipment",
            owner=did,
            inputs=[("ore", 50.0)],
            outputs=[out("ore-shipped", "lithium_brine_concentrate", 50.0)],
            shipment={
                "to_site": {"id": "S1", "country": "JP"},
                "destination_country": "JP",
                "document": "BL-1",
                "to_owner": OWNER,
            },
        ),
    ]


def lithium_supplier(engine: Engine, did: str) -> LedgerService:
    """A supplier's ledger that mined 50 kg of brine concentrate (lot ``ore``) and shipped it all
    to ``OWNER`` as lot ``ore-shipped``."""
    svc = LedgerService(engine, identity(did))
    svc.record(lithium_supplier_events(did))
    return svc


def receipt(
    from_owner: str, from_lot: str, lot: str, material: str, kg: float, *, document: str, **where: Any
) -> dict[str, Any]:
    """A receipt of ``kg`` of ``material`` shipped by ``from_owner`` as ``from_lot``, taken in
    as ``lot`` (``where``: the receiver's owner, site, country, time, as :func:`ev` takes them)."""
    return ev(
        "receipt",
        outputs=[out(lot, material, kg)],
        receipt={"from_owner": from_owner, "from_lot": from_lot, "document": document},
        **where,
    )


def lithium_receipt(
    supplier: str, from_lot: str = "ore-shipped", lot: str = "ore-in", *, document: str = "BL-1"
) -> dict[str, Any]:
    """``OWNER``'s receipt of 50 kg of the supplier's brine concentrate ``from_lot`` as ``lot``."""
    return receipt(supplier, from_lot, lot, "lithium_brine_concentrate", 50.0, document=document)


def receiver_of_lithium(engine: Engine, supplier: str) -> LedgerService:
    """``OWNER``'s ledger in the same store as :func:`lithium_supplier`'s: it received the
    supplier's ``ore-shipped`` as ``ore-in`` and made 9 kg of lithium carbonate (``li``) of it."""
    receiver = LedgerService(engine, identity())
    receiver.record(
        [
            lithium_receipt(supplier),
            ev("transformation", inputs=[("ore-in", 50.0)], outputs=[out("li", "lithium_carbonate", 9.0)]),
        ]
    )
    return receiver


def sealed_receiver(engine: Engine, supplier: LedgerService, keys: dict[str, Any]) -> LedgerService:
    """``OWNER``'s ledger with sealed keys (a secrets key, as a node has) that received
    :func:`lithium_supplier`'s ``ore-shipped`` as ``ore-in`` and then its signed summary, verified
    with the supplier's key published in ``keys`` — what DID resolution gives, beside ``OWNER``'s
    own keys (clear it, and later uses have only the sealed key)."""
    own = identity()
    own_key = own.active("Ed25519")
    own_keys = {own.key_id(own_key): own_key.public_jwk()}
    receiver = LedgerService(
        engine,
        own,
        public_jwk_resolver=lambda kid: own_keys.get(kid) or keys.get(kid),
        secrets=SecretBox.generate(),
    )
    receiver.record([lithium_receipt(str(supplier.identity.did))])
    sup_key = supplier.identity.active("Ed25519")
    keys[supplier.identity.key_id(sup_key)] = sup_key.public_jwk()
    receiver.receive_summary(OWNER, supplier.signed_summary(str(supplier.identity.did), "ore-shipped"))
    return receiver


@contextmanager
def ledger_api(
    svc: LedgerService, admin_key: str, *, name: str, base_url: str, services: Mapping[type, object] | None = None
) -> Iterator[TestClient]:
    """The ledger's routes (and the problem handlers) in process, on ``svc``'s engine and identity;
    the admin key is ``admin_key``; ``services`` adds to the ledger service."""
    app = FastAPI(dependencies=[Depends(require_json)])  # as the node's app: JSON bodies checked first
    app.include_router(router)
    install_error_handlers(app, {})
    sync_client, async_client = httpx.Client(), httpx.AsyncClient()
    app.state.ctx = NodeContext(
        name=name,
        did=svc.identity.did,
        base_url=base_url,
        resolver_base=base_url,
        profiles=("catena-x",),
        engine=svc.engine,
        admin_key_sha256=hashlib.sha256(admin_key.encode()).hexdigest(),
        production=False,
        client=async_client,
        sync_client=sync_client,
        identity=svc.identity,
        settings=None,
        services={LedgerService: svc, **(services or {})},
    )
    try:
        with TestClient(app) as client:
            yield client
    finally:
        sync_client.close()
        asyncio.run(async_client.aclose())


def change_stored_summary(engine: Engine) -> None:
    """Change the stored copy of the one received summary (its lithium mined in AU only), as
    someone with write access to the database would: the token no longer matches it."""
    with engine.begin() as conn:
        stored = json.loads(conn.execute(text("SELECT summary FROM ledger_received_summaries")).scalar_one())
        stored["elements"]["Li"]["minedByCountry"] = {"AU": 1.0}
        conn.execute(text("UPDATE ledger_received_summaries SET summary = :s"), {"s": json.dumps(stored)})


def event_catalogue_digests(engine: Engine) -> list[str | None]:
    """The catalogue digest each stored event names, in event order (None: a number
    ``ledger_catalogues`` does not hold)."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT c.digest FROM ledger_events e "
                    "LEFT JOIN ledger_catalogues c ON c.no = e.catalogue_no ORDER BY e.seq"
                )
            ).scalars()
        )


def set_statistics(engine: Engine, state: str) -> None:
    """Leave the planner of ``engine``'s store in ``state``: "as ingested" (nothing run),
    "vacuumed" (``VACUUM``: PostgreSQL learns the table sizes) or "analyzed" (``ANALYZE``: column
    statistics too) — the states the plan tests check a statement in."""
    if state == "as ingested":
        return
    command = "ANALYZE" if state == "analyzed" else "VACUUM"
    if engine.dialect.name == "sqlite":
        import sqlite3

        engine.dispose()
        db = sqlite3.connect(str(engine.url.database), isolation_level=None)  # VACUUM: no transaction
        db.execute(command)
        db.close()
        return
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("ledger_edges", "ledger_lots", "ledger_owners", "ledger_foreign_lots", "ledger_profiles"):
            conn.exec_driver_sql(f"{command} {table}")
