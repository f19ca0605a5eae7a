"""Owners as numbers (``ledger_owners``): an owner gets its number when an edge first names it,
keeps it, and every answer names owners by their strings. Two owners in one store (a hub)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ledger_testkit import OWNER, lithium_supplier, receiver_of_lithium
from sqlalchemy import Engine, select

from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger import _sql as t

SUPPLIER = "did:web:lithium.example"


def _numbers(svc: LedgerService) -> dict[str, int]:
    with svc.engine.connect() as conn:
        return dict(conn.execute(select(t.owners.c.owner, t.owners.c.no)).all())


def test_owners_are_numbered_on_first_use_and_never_renumbered(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    engine = make_store([MIGRATIONS_DIR])
    supplier = lithium_supplier(engine, SUPPLIER)
    first = _numbers(supplier)
    assert list(first) == [SUPPLIER]  # its shipment's edge named it; nobody else yet

    receiver = receiver_of_lithium(engine, SUPPLIER)
    numbers = _numbers(receiver)
    assert numbers[SUPPLIER] == first[SUPPLIER] and set(numbers) == {SUPPLIER, OWNER}
    assert numbers[OWNER] != numbers[SUPPLIER]

    # answers name the owners by their strings, across the partition boundary
    (found,) = receiver.suppliers_of(OWNER, ["ore-in", "li"])
    assert (found.lot, found.supplier, found.supplier_lot) == ("ore-in", SUPPLIER, "ore-shipped")
    recall = receiver.trace(SUPPLIER, "ore", direction="down", owners=[SUPPLIER, OWNER])
    assert {(x["owner"], x["id"]) for x in recall["lots"]} >= {(SUPPLIER, "ore-shipped"), (OWNER, "li")}
    up = receiver.trace(OWNER, "li")
    assert [(e["parent_owner"], e["parent"]) for e in up["edges"]] == [(OWNER, "ore-in")]
