"""``generate(owners=...)``: companies recorded on the nodes that own them; several companies may
share one node; shipments and receipts name the owning node on both sides."""

from __future__ import annotations

import pytest

from batpass.core.errors import InvalidInput
from batpass.scenario import COMPANIES, generate

MINES = [c for c in COMPANIES if COMPANIES[c].role.startswith("mine")]


def test_mines_share_one_node_and_receipts_name_it() -> None:
    owners = {code: "did:web:mining.example" for code in MINES} | {"jiangxi-refining": "did:web:refining.example"}
    sc = generate(lots=10, owners=owners)
    assert "did:web:mining.example" in sc.owners()
    assert not any(COMPANIES[m].did in sc.owners() for m in MINES)
    extractions = [e for e in sc.events if e["kind"] == "extraction"]
    assert extractions and {e["owner"] for e in extractions} == {"did:web:mining.example"}
    receipts = [e for e in sc.events if e["kind"] == "receipt" and e["owner"] == "did:web:refining.example"]
    assert receipts and {r["receipt"]["from_owner"] for r in receipts} == {"did:web:mining.example"}
    ships = [e for e in sc.events if e["kind"] == "shipment" and e["owner"] == "did:web:mining.example"]
    assert {"did:web:refining.example"} <= {s["shipment"]["to_owner"] for s in ships}
    # same lots and quantities as the default, only owners differ
    base = generate(lots=10)
    assert [e["id"] for e in base.events] == [e["id"] for e in sc.events]


def test_owners_refuses_unknown_codes_and_owner_together() -> None:
    with pytest.raises(InvalidInput, match="unknown company"):
        generate(lots=10, owners={"nobody": "did:web:x"})
    with pytest.raises(InvalidInput, match="exclude"):
        generate(lots=10, owner="did:web:x", owners={"rhein-auto": "did:web:y"})
