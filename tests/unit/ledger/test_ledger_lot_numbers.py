"""Lots as numbers in the edges (``ledger_lots.lot_no``, ``ledger_foreign_lots``): concurrent
writers of one owner never give two lots one number; a supplier's lot named by a receipt before
the store holds it gets a foreign number, which the lot keeps when the supplier records it in the
same store (a hub), so the edge finds it either way; a receipt and the supplier's shipment
recorded at once agree on the number. Every store (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from ledger_testkit import OWNER, ev, identity, lithium_receipt, lithium_supplier_events, out
from sqlalchemy import Engine, event, select

from batpass.core.errors import Conflict, IntegrityViolation
from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger import _sql as t

SUPPLIER = "did:web:lithium.example"
WORKERS = 12
ROUNDS = 12


def _lot_numbers(engine: Engine, owner: str) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(select(t.lots.c.id, t.lots.c.lot_no).where(t.lots.c.owner == owner)).all())


def _run_at_once(*jobs: Callable[[], Any]) -> list[BaseException]:
    start = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], Any]) -> None:
        try:
            start.wait()
            job()
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return errors


def test_concurrent_writers_of_one_owner_never_share_a_lot_number(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    engine = make_store([MIGRATIONS_DIR])
    svc = LedgerService(engine, identity())
    svc.record([ev("extraction", outputs=[out("ORE-0", "spodumene_concentrate", 5.0)])])

    def mine(n: int) -> Callable[[], Any]:
        events = [ev("extraction", outputs=[out(f"ORE-{n}-{k}", "spodumene_concentrate", 1.0)]) for k in range(3)]
        return lambda: svc.record(events)

    errors = _run_at_once(*(mine(n) for n in range(1, WORKERS + 1)))
    assert not errors, errors
    numbers = _lot_numbers(engine, OWNER)
    assert len(numbers) == 1 + 3 * WORKERS
    assert sorted(numbers.values()) == list(range(1, len(numbers) + 1))
    assert svc.verify(OWNER).ok and svc.self_audit() == []


def _supplier_events() -> list[dict[str, Any]]:
    return lithium_supplier_events(SUPPLIER)


def _receiver_events() -> list[dict[str, Any]]:
    return [
        lithium_receipt(SUPPLIER),
        ev("transformation", inputs=[("ore-in", 50.0)], outputs=[out("li", "lithium_carbonate", 9.0)]),
    ]


def _recalled(svc: LedgerService) -> set[tuple[str, str]]:
    recall = svc.trace(SUPPLIER, "ore", direction="down", owners=[SUPPLIER, OWNER])
    return {(x["owner"], x["id"]) for x in recall["lots"]}


def test_a_lot_received_before_the_store_holds_it_keeps_its_foreign_number(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    engine = make_store([MIGRATIONS_DIR])
    receiver = LedgerService(engine, identity())
    receiver.record(_receiver_events())
    with engine.connect() as conn:
        foreign = conn.execute(select(t.foreign_lots.c.id, t.foreign_lots.c.no)).all()
    assert [(lot, no < 0) for lot, no in foreign] == [("ore-shipped", True)]
    (found,) = receiver.suppliers_of(OWNER, ["ore-in", "li"])
    assert (found.lot, found.supplier, found.supplier_lot) == ("ore-in", SUPPLIER, "ore-shipped")
    assert receiver.receipts_of(OWNER, SUPPLIER, "ore-shipped") == ["ore-in"]

    supplier = LedgerService(engine, identity(SUPPLIER))
    supplier.record(_supplier_events())
    numbers = _lot_numbers(engine, SUPPLIER)
    assert numbers["ore-shipped"] == foreign[0][1] and numbers["ore"] == 1
    assert _recalled(supplier) >= {(SUPPLIER, "ore-shipped"), (OWNER, "ore-in"), (OWNER, "li")}
    assert receiver.self_audit(OWNER) == [] and supplier.self_audit(SUPPLIER) == []


def test_a_receipt_and_the_shipment_it_names_recorded_at_once_agree(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    """The receipt and the supplier's shipment race: whichever commits first, the edge's parent
    is the supplier's lot (a downstream recall from the supplier's ore reaches the receiver's)."""
    for _round in range(ROUNDS):
        engine = make_store([MIGRATIONS_DIR])
        receiver = LedgerService(engine, identity())
        supplier = LedgerService(engine, identity(SUPPLIER))
        # both owners numbered first, so that neither writer's first use of a number is the race
        receiver.record([ev("extraction", outputs=[out("other", "spodumene_concentrate", 1.0)])])
        supplier.record(
            [
                ev(
                    "extraction",
                    owner=SUPPLIER,
                    site="M9",
                    country="CL",
                    outputs=[out("x", "spodumene_concentrate", 1.0)],
                )
            ]
        )
        sup, rec = _supplier_events(), _receiver_events()
        errors = _run_at_once(partial(supplier.record, sup), partial(receiver.record, rec))
        assert not errors, errors
        assert _recalled(supplier) >= {(SUPPLIER, "ore-shipped"), (OWNER, "ore-in"), (OWNER, "li")}
        numbers = _lot_numbers(engine, SUPPLIER)
        assert len(set(numbers.values())) == len(numbers)


#: changes to the numbering that no served answer shows today but that make a later write give a
#: number already taken (refused as a lost race on every retry) or name the wrong lot: each must
#: be named by the self-audit, with the table and rule (found by the tamper matrix's review of
#: ``ledger_foreign_lots`` and the owners' counters)
NUMBERING_CHANGES = {
    # the next lot of the receiver would take the number of its last lot
    "last lot number lowered": (
        f"UPDATE ledger_owners SET last_lot_no = last_lot_no - 1 WHERE owner = '{OWNER}'",
        ("ledger_owners", OWNER, "ledger.numbers.counter"),
    ),
    # the next supplier lot a receipt names would take the number of one named before
    "last foreign number raised": (
        f"UPDATE ledger_owners SET last_foreign_no = last_foreign_no + 1 WHERE owner = '{SUPPLIER}'",
        ("ledger_owners", SUPPLIER, "ledger.numbers.counter"),
    ),
    # foreign numbers would be positive: the numbers of lots given in order
    "foreign counter above zero": (
        f"UPDATE ledger_owners SET last_foreign_no = 1 WHERE owner = '{OWNER}'",
        ("ledger_owners", OWNER, "ledger.numbers.counter"),
    ),
    # the held lot's number is now given by no foreign row, and the row's would read as a held lot's
    "foreign number made positive": (
        "UPDATE ledger_foreign_lots SET no = 5",
        ("ledger_foreign_lots", SUPPLIER, "ledger.numbers.foreign"),
    ),
    # the held lot keeps its number; a receipt naming the other id would get it as its parent
    "foreign row renamed": (
        "UPDATE ledger_foreign_lots SET id = 'ore-other'",
        ("ledger_foreign_lots", None, "ledger.numbers.foreign"),
    ),
}


@pytest.mark.parametrize("change", list(NUMBERING_CHANGES))
def test_the_self_audit_names_a_numbering_that_would_collide(
    make_store: Callable[[Sequence[Path]], Engine], change: str
) -> None:
    """A hub store (the receiver's receipt recorded before the supplier's shipment: the lot keeps
    its foreign number) with one change to its numbering: the audit names it."""
    engine = make_store([MIGRATIONS_DIR])
    receiver = LedgerService(engine, identity())
    receiver.record(_receiver_events())
    supplier = LedgerService(engine, identity(SUPPLIER))
    supplier.record(_supplier_events())
    assert receiver.self_audit(OWNER) == [] and supplier.self_audit(SUPPLIER) == []
    sql, (table, owner, rule) = NUMBERING_CHANGES[change]
    with engine.begin() as conn:
        assert conn.exec_driver_sql(sql).rowcount == 1
    findings = receiver.self_audit(OWNER) + supplier.self_audit(SUPPLIER)
    named = [(f.table, f.rule) for f in findings if owner is None or f.key.startswith(owner)]
    assert (table, rule) in named, findings


def test_a_write_on_a_lowered_lot_counter_is_refused_as_damage_and_nothing_is_written(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    """Nobody else is writing: the store is damaged. The write is refused as stored data failing
    its check (503, the table, the owner, the rule), never as a lost race a retry would win, and
    the ledger is left as it was."""
    engine = make_store([MIGRATIONS_DIR])
    svc = LedgerService(engine, identity())
    svc.record([ev("extraction", outputs=[out(f"ORE-{k}", "spodumene_concentrate", 1.0)]) for k in range(3)])
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE ledger_owners SET last_lot_no = last_lot_no - 1 WHERE owner = '{OWNER}'")
    before = _lot_numbers(engine, OWNER)
    for _attempt in range(2):  # and again: a retry meets the same damage
        with pytest.raises(IntegrityViolation) as refused:
            svc.record([ev("extraction", outputs=[out("ORE-new", "spodumene_concentrate", 1.0)])])
        exc = refused.value
        assert (exc.status, exc.table, exc.key, exc.rule) == (503, "ledger_owners", OWNER, "ledger.numbers.counter")
    assert _lot_numbers(engine, OWNER) == before and svc.count_events(OWNER) == 3
    # the chain is whole; what verify names is the counter alone
    report = svc.verify(OWNER)
    assert [(p.table, p.rule) for p in report.problems] == [("ledger_owners", "ledger.numbers.counter")]


#: the second owner of the writers below
OTHER = "did:web:other.example"


def test_a_writer_that_loses_a_real_race_still_gets_its_409(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    """Two writers each recording for two owners, in the opposite order: on PostgreSQL each holds
    its first owner's chain head when it asks for the other's (held at that point on purpose), a
    deadlock the server breaks by refusing one — a lost race, 409 (retry), not damage. SQLite's
    write transactions take the database lock up front: both are serialised and both succeed."""
    engine = make_store([MIGRATIONS_DIR])
    others = {OTHER: identity(OTHER)}
    svc = LedgerService(engine, identity(), identities=others.get)
    svc.record(
        [
            ev("extraction", outputs=[out("A-0", "spodumene_concentrate", 1.0)]),
            ev("extraction", owner=OTHER, outputs=[out("B-0", "spodumene_concentrate", 1.0)]),
        ]
    )

    def events(first: str, n: int) -> list[dict[str, Any]]:
        a = ev("extraction", outputs=[out(f"A-{n}", "spodumene_concentrate", 1.0)])
        b = ev("extraction", owner=OTHER, outputs=[out(f"B-{n}", "spodumene_concentrate", 1.0)])
        return [a, b] if first == OWNER else [b, a]

    both_hold_one = threading.Barrier(2)
    heads_locked: dict[int, int] = {}

    def hold(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "ledger_heads" in statement and "FOR UPDATE" in statement:
            me = threading.get_ident()
            heads_locked[me] = heads_locked.get(me, 0) + 1
            if heads_locked[me] == 1:
                both_hold_one.wait(timeout=30)

    postgres = engine.dialect.name == "postgresql"
    if postgres:
        event.listen(engine, "after_cursor_execute", hold)
    try:
        errors = _run_at_once(partial(svc.record, events(OWNER, 1)), partial(svc.record, events(OTHER, 2)))
    finally:
        if postgres:
            event.remove(engine, "after_cursor_execute", hold)
    if postgres:
        assert len(errors) == 1 and type(errors[0]) is Conflict, errors
        assert errors[0].status == 409
        assert svc.count_events() == 4  # the winner's two events, nothing of the loser's
    else:
        assert errors == []
        assert svc.count_events() == 6
    assert svc.self_audit() == []
