"""The stored form of event bodies (``ledger/_zprofile.py``, ``EventText``, ``ledger_0013``): on
PostgreSQL zlib with a versioned preset dictionary of their own, on SQLite the text. Every body
comes back exactly (a recorded scenario's, and arbitrary text), the vendored event dictionary 1
never changes, a body that does not decode is refused with IntegrityViolation, and the migrated
table matches the model."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_testkit import OWNER, identity
from sqlalchemy import Engine, LargeBinary, select, type_coerce

from batpass.core.errors import IntegrityViolation
from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger import _sql as t
from batpass.ledger._chain import GENESIS, event_hash
from batpass.ledger._zprofile import CURRENT, EVENT_ZDICTS, pack_event, unpack_event, unpack_or_none
from batpass.scenario import generate

#: the SHA-256 of event dictionary 1 as first shipped: rows name the version that compressed
#: them, so a version's bytes must never change (a new dictionary is a new version)
EVENT_ZDICT_1_SHA256 = "1de4896fea8833c309c47a88f131ec3ba9a766ab69c217343a99fc50e6b3de91"


def test_event_dictionary_1_is_the_one_first_shipped() -> None:
    assert hashlib.sha256(EVENT_ZDICTS[1]).hexdigest() == EVENT_ZDICT_1_SHA256
    assert CURRENT in EVENT_ZDICTS and all(1 <= v <= 255 for v in EVENT_ZDICTS)


def test_every_event_of_a_recorded_scenario_reads_back_exactly(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    """The bodies a ledger stores read back as the texts the chain hashed (the events feed gives
    the events recorded); on PostgreSQL each is stored compressed, far smaller than its text."""
    sc = generate(lots=300, owner=OWNER, seed=12)
    svc = LedgerService(make_store([MIGRATIONS_DIR]), identity(), batch_size=100)
    svc.record(sc.events)
    e = t.events
    with svc.engine.connect() as conn:
        rows = conn.execute(
            select(e.c.seq, e.c.body, type_coerce(e.c.body, LargeBinary), e.c.hash).order_by(e.c.seq)
        ).all()
    assert len(rows) == len(sc.events)
    prev = GENESIS
    for seq, body, _raw, stored in rows:  # the chain over the texts read back
        prev = event_hash(OWNER, seq, prev, body)
        assert prev == t.hash_hex(stored)
    feed = svc.events(OWNER, limit=100_000)
    assert [json.loads(b) for _s, b, _r, _h in rows] == [f["event"] for f in feed]
    if svc.engine.dialect.name == "postgresql":
        assert all(bytes(r)[0] == CURRENT and pack_event(b) == bytes(r) for _s, b, r, _h in rows)
        assert sum(len(r) for *_, r, _h in rows) < 0.45 * sum(len(b.encode()) for _s, b, _r, _h in rows)
    else:
        assert all((r if isinstance(r, str) else bytes(r).decode()) == b for _s, b, r, _h in rows)  # the text


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_event_text_round_trips(text: str) -> None:
    assert unpack_event(pack_event(text)) == text


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00",
        bytes((max(EVENT_ZDICTS) + 1,)) + pack_event("{}")[1:],
        pack_event('{"a":1}')[:-3],
        pack_event('{"a":1}') + b"x",
        b"\x01{}",
    ],
)
def test_an_event_body_that_does_not_decode_is_refused(body: bytes) -> None:
    assert unpack_or_none(body, EVENT_ZDICTS) is None
    with pytest.raises(IntegrityViolation) as refused:
        unpack_event(body)
    assert (refused.value.table, refused.value.rule) == ("ledger_events", "ledger.chain.hash")


def test_the_migrated_events_table_matches_the_model(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_store([MIGRATIONS_DIR])
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(ctx, t.metadata) if "ledger_events" in repr(d)]
    assert diff == []
