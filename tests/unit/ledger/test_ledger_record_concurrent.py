"""Lot consumption under concurrent writers: several workers (threads with their own database
connections, as several server processes would have) shipping from one lot at once never take
more than the lot holds, on either store, and the losers are refused with the rule."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from ledger_testkit import OWNER, ev, identity, out
from sqlalchemy import Engine

from batpass.core.errors import BatpassError
from batpass.ledger import MIGRATIONS_DIR, LedgerService, LotOverdrawn

WORKERS = 20


def _ship(n: int) -> dict[str, object]:
    return ev(
        "shipment",
        inputs=[("ORE-1", 1.0)],
        outputs=[out(f"SHIP-{n}", "spodumene_concentrate", 1.0)],
        shipment={"to_site": {"id": f"S-{n}", "country": "JP"}, "destination_country": "JP", "document": f"BL-{n}"},
    )


def test_concurrent_shipments_never_overdraw_a_lot(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    svc = LedgerService(make_store([MIGRATIONS_DIR]), identity())
    svc.record([ev("extraction", outputs=[out("ORE-1", "spodumene_concentrate", 5.0)])])
    start = threading.Barrier(WORKERS)
    accepted: list[int] = []
    refused: list[BatpassError] = []
    errors: list[BaseException] = []

    def ship(n: int) -> None:
        event = _ship(n)
        try:
            start.wait()
            svc.record([event])
            accepted.append(n)
        except LotOverdrawn as exc:
            refused.append(exc)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=ship, args=(n,)) for n in range(WORKERS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert len(accepted) == 5 and len(refused) == WORKERS - 5
    assert all((exc.rule and "overdraw" in exc.rule.lower()) or exc.status == 422 for exc in refused)
    assert svc.lot(OWNER, "ORE-1").remaining_kg == 0.0
    assert svc.verify(OWNER).ok
