"""Helpers for ledger tests: an event builder and a service on a migrated store."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.trust import NodeIdentity, generate_keypair

OWNER = "did:web:cells.example"
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


def lithium_supplier(engine: Engine, did: str) -> LedgerService:
    """A supplier's ledger that mined 50 kg of brine concentrate (lot ``ore``) and shipped it all
    to ``OWNER`` as lot ``ore-shipped``."""
    svc = LedgerService(engine, identity(did))
    svc.record(
        [
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
    )
    return svc
