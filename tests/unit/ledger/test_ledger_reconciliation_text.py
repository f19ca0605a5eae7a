"""A reconciliation message whose signed payload spells a lone surrogate as a JSON escape is
refused where it is read — invalid input naming the member and the rule — and nothing of it is
stored (both stores refuse such text with a driver error, a 500 at the messages route)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from test_ledger_reconciliation import SHIPPER, Net, _pair, _shipment, _signed

from batpass.core.errors import InvalidInput
from batpass.core.unicode import SCALAR_TEXT_RULE
from batpass.ledger import _sql as t
from batpass.store import outbox_table
from batpass.trust import peek


@pytest.mark.parametrize("member", ["document", "to_site", "shipment"])
def test_a_message_with_a_lone_surrogate_is_refused_naming_the_member(
    make_store: Callable[[Sequence[Path]], Engine], member: str
) -> None:
    net = Net()
    sl, sr, _rl, rr = _pair(net, make_store)
    sl.record(_shipment())
    sr.run()
    with sr.engine.begin() as conn:
        jws = conn.execute(select(outbox_table.c.body)).scalar_one()["jws"]
    notice = peek(jws)[1]
    spoiled = {**notice, member: str(notice[member]) + "\ud800"}

    def rows() -> int:
        with rr.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.reconciliation)).scalar_one())

    before = rows()
    with pytest.raises(InvalidInput) as e:
        rr.receive(_signed(spoiled, net.keys[SHIPPER]))
    assert e.value.field == member
    assert e.value.rule == SCALAR_TEXT_RULE
    assert rows() == before
    assert rr.receive(jws)  # the genuine notice is taken
    assert rows() == before + 1
