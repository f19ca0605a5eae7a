"""A trace that widens to another owner's partition in the same store (a hub holding its
operators' ledgers): sequence numbers order each owner's chain only, so the receiver's receipt
can carry a smaller number than the supplier's shipment it came from. The recomputation must
still take each lot after its parents (it raised KeyError on the supplier's lot before)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ledger_testkit import OWNER, lithium_supplier, receiver_of_lithium
from sqlalchemy import Engine

from batpass.ledger import MIGRATIONS_DIR

SUPPLIER = "did:web:lithium.example"


def test_an_upstream_trace_across_two_owners_reaches_the_suppliers_mine(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    engine = make_store([MIGRATIONS_DIR])
    lithium_supplier(engine, SUPPLIER)  # its chain: the ore mined, then shipped (higher numbers)
    receiver = receiver_of_lithium(engine, SUPPLIER)
    up = receiver.trace(OWNER, "li", owners=[OWNER, SUPPLIER])
    assert {(x["owner"], x["id"]) for x in up["lots"]} == {
        (OWNER, "li"),
        (OWNER, "ore-in"),
        (SUPPLIER, "ore-shipped"),
        (SUPPLIER, "ore"),
    }
    assert up["boundaries"] == []  # the receipt is joined to the shipment, not left at the edge
    supplier_view = receiver.trace(SUPPLIER, "ore-shipped")
    assert up["elements"]["Li"]["minedByCountry"] == supplier_view["elements"]["Li"]["minedByCountry"]
    assert up["elements"]["Li"]["originBySite"] == supplier_view["elements"]["Li"]["originBySite"]
    assert up["elements"]["Li"]["unknownShare"] == 0.0
    # the recipient's own view (its partition only) ends at the receipt, as before
    own = receiver.trace(OWNER, "li")
    assert {(x["owner"], x["id"]) for x in own["lots"]} == {(OWNER, "li"), (OWNER, "ore-in")}
