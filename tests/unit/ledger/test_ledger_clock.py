"""The ledger stamps with the clock it is given (batpass.core.clock): each record call is signed at
the clock's time, and the self-audit's replay re-stamps its shadow ledger with each call's time, so
a ledger recorded at several fixed times still audits clean and its own clock is left alone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

from ledger_testkit import ev, identity, out
from sqlalchemy import Engine, select

from batpass.core.clock import FixedClock
from batpass.ledger import MIGRATIONS_DIR, LedgerService, _sql


def test_record_calls_are_stamped_by_the_clock_and_replay_clean(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    first = dt.datetime(2027, 2, 1, 9, 0, tzinfo=dt.UTC)
    clock = FixedClock(first)
    ledger = LedgerService(make_store([MIGRATIONS_DIR]), identity(), batch_size=2, clock=clock)
    ledger.record([ev("extraction", site="M1", country="CL", outputs=[out("b1", "lithium_brine_concentrate", 100.0)])])
    clock.advance(dt.timedelta(hours=3))
    ledger.record([ev("extraction", site="M2", country="CL", outputs=[out("b2", "lithium_brine_concentrate", 50.0)])])
    with ledger.engine.connect() as conn:
        stamps = conn.execute(select(_sql.batches.c.signed_at).order_by(_sql.batches.c.batch_no)).scalars().all()
    assert stamps == [first, first + dt.timedelta(hours=3)]
    assert ledger.self_audit() == []
    assert clock.now() == first + dt.timedelta(hours=3)  # the audit's replay has a clock of its own
