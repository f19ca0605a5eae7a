"""The reads every federated-trace question makes: the change counter as a point read
(``ledger._reads``) and the stored received summaries, checked at every read — on both stores. A
row read (and passed) before never hides a change made to it afterwards."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from ledger_testkit import OWNER, change_stored_summary, ev, lithium_supplier, out, sealed_receiver
from sqlalchemy import Engine, text

from batpass.core.errors import IntegrityViolation
from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger._reads import read_mark

SUPPLIER = "did:web:refiner.example"


@pytest.fixture
def receiver(make_store: Callable[[Sequence[Path]], Engine]) -> LedgerService:
    supplier = lithium_supplier(make_store([MIGRATIONS_DIR]), SUPPLIER)
    return sealed_receiver(make_store([MIGRATIONS_DIR]), supplier, {})


def test_the_change_mark_is_the_last_event_number_and_zero_before_any(receiver: LedgerService) -> None:
    with receiver.engine.connect() as conn:
        seq = conn.execute(text("SELECT seq FROM ledger_heads WHERE owner = :o"), {"o": OWNER}).scalar_one()
    assert seq >= 1
    assert receiver.change_mark(OWNER) == read_mark(receiver.engine, OWNER) == seq
    assert read_mark(receiver.engine, "did:web:nobody.example") == 0
    receiver.record([ev("extraction", outputs=[out("ore-2", "lithium_brine_concentrate", 5.0)])])
    assert receiver.change_mark(OWNER) > seq


def test_a_row_changed_after_it_passed_is_refused_at_the_next_read(receiver: LedgerService) -> None:
    first = receiver.received_summaries(OWNER, ["ore-shipped"])
    assert first["ore-shipped"].summary.issuer == SUPPLIER
    assert receiver.received_summaries(OWNER, ["ore-shipped"]) == first  # the kept check
    change_stored_summary(receiver.engine)
    with pytest.raises(IntegrityViolation) as caught:
        receiver.received_summaries(OWNER, ["ore-shipped"])
    assert caught.value.table == "ledger_received_summaries" and caught.value.rule == "ledger.summary.signed"


def test_a_row_whose_issuer_was_changed_after_it_passed_is_refused(receiver: LedgerService) -> None:
    receiver.received_summaries(OWNER, ["ore-shipped"])
    with receiver.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_received_summaries SET issuer = 'did:web:other.example'"))
    with pytest.raises(IntegrityViolation):
        receiver.received_summaries(OWNER, ["ore-shipped"])


def test_a_summary_folding_a_row_changed_after_it_passed_is_refused(receiver: LedgerService) -> None:
    """The summary a node signs folds its received summaries in: a row changed since an earlier
    read is refused there too."""
    assert receiver.summary(OWNER, "ore-in").issuer == OWNER
    with receiver.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_received_summaries SET jws = jws || 'x'"))
    with pytest.raises(IntegrityViolation):
        receiver.summary(OWNER, "ore-in")
