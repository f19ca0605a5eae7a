"""The reads the federated trace keys its answer cache on: the change counter, received
summaries as stored, receipts of a supplier's lot, and who shipped or received a lot (on both
stores)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ledger_testkit import OWNER, ev, identity, out
from sqlalchemy import Engine

from batpass.ledger import MIGRATIONS_DIR, CustomerLot, LedgerService, LotId, SupplierLot
from batpass.trust import NodeIdentity

MINE = "did:web:mine.example"


def _resolver(*ids: NodeIdentity) -> Callable[[str], dict[str, object] | None]:
    keys = {i.key_id(i.active("Ed25519")): dict(i.active("Ed25519").public_jwk()) for i in ids}
    return keys.get


def test_change_mark_receipts_and_received_summaries(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    eng = make_store([MIGRATIONS_DIR])
    mine_id, cells_id = identity(MINE), identity(OWNER)
    resolve = _resolver(mine_id, cells_id)
    mine = LedgerService(eng, mine_id, public_jwk_resolver=resolve)
    cells = LedgerService(eng, cells_id, public_jwk_resolver=resolve)
    assert cells.change_mark(OWNER) == 0 and mine.change_mark(MINE) == 0

    ship = {
        "to_owner": OWNER,
        "to_site": {"id": "S1", "country": "JP"},
        "destination_country": "JP",
        "document": "BL-1",
    }
    extraction = ev(
        "extraction", owner=MINE, site="MINE-CD-1", country="CD", outputs=[out("ore", "cobalt_hydroxide", 100)]
    )
    shipment = ev(
        "shipment",
        owner=MINE,
        site="MINE-CD-1",
        country="CD",
        inputs=[("ore", 100)],
        outputs=[out("ore-shipped", "cobalt_hydroxide", 100)],
        shipment=ship,
    )
    mine.record([extraction, shipment])
    assert mine.change_mark(MINE) == 2 and cells.change_mark(OWNER) == 0  # per owner

    receipt = ev(
        "receipt",
        outputs=[out("ore-in", "cobalt_hydroxide", 100)],
        receipt={"from_owner": MINE, "from_lot": "ore-shipped", "document": "BL-1"},
    )
    cells.record([receipt])
    assert cells.change_mark(OWNER) == 1
    cells.record([receipt])  # a replay is a no-op: the counter stays
    assert cells.change_mark(OWNER) == 1
    assert cells.receipts_of(OWNER, MINE, "ore-shipped") == ["ore-in"]
    assert cells.receipts_of(OWNER, MINE, "ore") == [] and cells.receipts_of(OWNER, OWNER, "ore-shipped") == []

    assert cells.received_summaries(OWNER, ["ore-shipped"]) == {}
    token = mine.signed_summary(MINE, "ore-shipped")
    cells.receive_summary(OWNER, token)
    got = cells.received_summaries(OWNER, ["ore-shipped", "unknown"])
    assert set(got) == {"ore-shipped"}
    assert got["ore-shipped"].jws == token and got["ore-shipped"].issuer == MINE
    assert got["ore-shipped"].summary.subject.id == "ore-shipped"
    # receiving a summary recomputes profiles but records no event: the stored JWS is what changes
    assert cells.change_mark(OWNER) == 1
    later = mine.signed_summary(MINE, "ore-shipped", credentials=["urn:example:credential"])
    assert later != token
    cells.receive_summary(OWNER, later)
    assert cells.received_summaries(OWNER, ["ore-shipped"])["ore-shipped"].jws == later


def test_suppliers_and_customers_of_lots(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    """The federation's questions, as typed ledger reads: who shipped a received lot (and which
    of their lots it was), and to whom a lot was shipped (a move between own sites is none)."""
    eng = make_store([MIGRATIONS_DIR])
    mine = LedgerService(eng, identity(MINE))
    cells = LedgerService(eng, identity(OWNER))
    other = "did:web:other-cells.example"

    def ship(lot: str, to: str | None) -> dict[str, object]:
        doc = {"to_site": {"id": "S9", "country": "JP"}, "destination_country": "JP", "document": f"BL-{lot}"}
        return ev(
            "shipment",
            owner=MINE,
            site="MINE-CD-1",
            country="CD",
            inputs=[("ore", 100)],
            outputs=[out(lot, "cobalt_hydroxide", 100)],
            shipment={**doc, "to_owner": to} if to else doc,
        )

    extraction = ev(
        "extraction", owner=MINE, site="MINE-CD-1", country="CD", outputs=[out("ore", "cobalt_hydroxide", 300)]
    )
    mine.record([extraction, ship("ore-shipped", OWNER), ship("ore-moved", None), ship("ore-2", other)])
    receipt = ev(
        "receipt",
        outputs=[out("ore-in", "cobalt_hydroxide", 100)],
        receipt={"from_owner": MINE, "from_lot": "ore-shipped", "document": "BL-ore-shipped"},
    )
    cells.record([receipt])

    assert mine.customers_of(MINE, ["ore-2", "ore-moved", "ore", "unknown", "ore-shipped"]) == [
        CustomerLot(lot=LotId("ore-2"), customer=other),
        CustomerLot(lot=LotId("ore-shipped"), customer=OWNER),
    ]
    assert cells.customers_of(OWNER, ["ore-in"]) == [] and mine.customers_of(OWNER, ["ore-shipped"]) == []
    assert cells.suppliers_of(OWNER, ["unknown", "ore-in"]) == [
        SupplierLot(lot=LotId("ore-in"), supplier=MINE, supplier_lot=LotId("ore-shipped"))
    ]
    assert mine.suppliers_of(MINE, ["ore", "ore-shipped"]) == [] and cells.suppliers_of(OWNER, []) == []
