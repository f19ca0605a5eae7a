"""A battery identifier several lots of one owner carry resolves to one and the same lot on both
stores: the lot with the lowest id (the order SQLite's primary key gives). PostgreSQL returned
the lots in whatever order its plan read them (heap order: the first written), so a trace, a
summary or a passport from the battery could start from another lot than on SQLite (found once
PostgreSQL knows the table's size: ``VACUUM`` or ``ANALYZE``, as autovacuum runs them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from ledger_testkit import OWNER, ev, identity, out, set_statistics
from sqlalchemy import Engine

from batpass.ledger import MIGRATIONS_DIR, LedgerService

BATTERY = "https://id.example/01/04012345000016/21/RA0000001"


def _battery_lot(lot: str) -> dict[str, Any]:
    return {
        "lot": lot,
        "material": "battery",
        "quantity": {"value": 1, "unit": "piece"},
        "mass_per_piece_kg": 10.0,
        "battery": {"id": BATTERY, "model": "RA-EV-60", "chemistry": "NMC811", "capacity_kwh": 60.0, "category": "ev"},
    }


@pytest.mark.parametrize("statistics", ["as ingested", "vacuumed", "analyzed"])
def test_a_battery_several_lots_carry_resolves_to_its_lowest_lot_id_on_both_stores(
    make_store: Callable[[Sequence[Path]], Engine], statistics: str
) -> None:
    engine = make_store([MIGRATIONS_DIR])
    svc = LedgerService(engine, identity())
    events = [ev("extraction", outputs=[out("ORE", "spodumene_concentrate", 100.0)])]
    # written (and numbered) in another order than their ids sort
    for lot in ("bat-3", "bat-1", "bat-4", "bat-2"):
        events.append(ev("assembly", inputs=[("ORE", 10.0)], outputs=[_battery_lot(lot)]))
    svc.record(events)
    set_statistics(engine, statistics)
    assert {str(svc.resolve_subject(OWNER, BATTERY).id) for _ in range(5)} == {"bat-1"}
    assert svc.trace(OWNER, BATTERY)["root"]["lot"] == "bat-1"
    engine.dispose()
