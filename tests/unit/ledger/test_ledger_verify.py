"""`verify` catches edited, deleted and reordered rows (the tests tamper with the database)."""

from __future__ import annotations

import pytest
from ledger_testkit import ev, out
from sqlalchemy import text

from batpass.ledger import LedgerService


def _fill(ledger: LedgerService) -> None:
    ledger.record(
        [
            ev("extraction", site=f"M{i}", country="CL", outputs=[out(f"b{i}", "lithium_brine_concentrate", 100.0 + i)])
            for i in range(10)
        ]
    )


def test_clean_ledger_verifies(ledger: LedgerService) -> None:
    _fill(ledger)
    rep = ledger.verify()
    assert rep.ok, rep.problems
    assert (rep.events, rep.batches) == (10, 3)


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder", "delete_tail"])
def test_tampering_is_detected(ledger: LedgerService, tamper: str) -> None:
    _fill(ledger)
    with ledger.engine.begin() as conn:
        if tamper == "edit":
            conn.execute(text("UPDATE ledger_events SET body = replace(body, '105.0', '999.0') WHERE seq = 6"))
        elif tamper == "delete":
            conn.execute(text("DELETE FROM ledger_events WHERE seq = 3"))
        elif tamper == "delete_tail":
            conn.execute(text("DELETE FROM ledger_events WHERE seq = 10"))
        else:
            conn.execute(text("UPDATE ledger_events SET seq = -1 WHERE seq = 2"))
            conn.execute(text("UPDATE ledger_events SET seq = 2 WHERE seq = 7"))
            conn.execute(text("UPDATE ledger_events SET seq = 7 WHERE seq = -1"))
    rep = ledger.verify()
    assert not rep.ok
    rules = {p.rule for p in rep.problems}
    assert rules & {"ledger.chain.hash", "ledger.chain.gap", "ledger.chain.head", "ledger.batch.root"}


def test_forged_signature_is_detected(ledger: LedgerService) -> None:
    _fill(ledger)
    with ledger.engine.begin() as conn:
        jws = conn.execute(text("SELECT jws FROM ledger_batches WHERE batch_no = 2")).scalar_one()
        head, payload, sig = jws.split(".")
        forged = f"{head}.{payload}.{'A' * len(sig)}"
        conn.execute(text("UPDATE ledger_batches SET jws = :j WHERE batch_no = 2"), {"j": forged})
    rep = ledger.verify()
    assert "ledger.batch.signature" in {p.rule for p in rep.problems}
