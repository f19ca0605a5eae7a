"""An owner's ledger time as reconciliation reads it (:class:`batpass.ledger._ledger_time.LedgerTime`):
always the latest ``at`` of the owner's recorded events — an event dated earlier than the latest
does not move it back, a later one moves it on, and a store holding another chain of the same
length (a restore) is read afresh, not answered from memory. On both stores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

from ledger_testkit import OWNER, ev, identity, out
from sqlalchemy import Engine, func, select

from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger import _sql as t
from batpass.ledger._ledger_time import LedgerTime


def _event(n: int, at: str) -> dict[str, object]:
    return ev("extraction", site="MINE", outputs=[out(f"T-{n}", "lithium_carbonate", 1.0)], at=at)


def _now(memo: LedgerTime, engine: Engine) -> dt.datetime | None:
    with engine.connect() as conn:
        got = memo.now(conn, OWNER)
        direct = conn.execute(select(func.max(t.events.c.at)).where(t.events_of(OWNER))).scalar()
    assert got == direct  # what reading every event says
    return got


def test_ledger_time_follows_the_latest_event_and_a_replaced_chain(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    engine = make_store([MIGRATIONS_DIR])
    ledger = LedgerService(engine, identity(), batch_size=2)
    memo = LedgerTime()
    assert _now(memo, engine) is None
    ledger.record([_event(1, "2026-03-01T00:00:00Z")])
    assert _now(memo, engine) == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert _now(memo, engine) == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)  # remembered
    ledger.record([_event(2, "2026-02-01T00:00:00Z")])  # recorded later, dated earlier
    assert _now(memo, engine) == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    ledger.record([_event(3, "2026-04-01T00:00:00Z"), _event(4, "2026-01-01T00:00:00Z")])
    assert _now(memo, engine) == dt.datetime(2026, 4, 1, tzinfo=dt.UTC)

    # another store, the same owner, a chain as long but different (a restore): read afresh
    other = make_store([MIGRATIONS_DIR])
    replaced = LedgerService(other, identity(), batch_size=2)
    replaced.record([_event(n, f"2026-0{n}-15T00:00:00Z") for n in (5, 6, 7, 8)])
    assert _now(memo, other) == dt.datetime(2026, 8, 15, tzinfo=dt.UTC)
    ledger.record([_event(9, "2026-05-01T00:00:00Z")])  # grown past another chain's memory
    assert _now(memo, engine) == dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
