"""The stored form of origin profiles (``ledger/_zprofile.py``): zlib with a versioned preset
dictionary. Every text comes back exactly (the profiles of a recorded scenario, and arbitrary
text), the vendored dictionary 1 never changes, a body that does not decode is refused with
IntegrityViolation, and the migrated table matches the model."""

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
from batpass.ledger._zprofile import CURRENT, ZDICTS, pack, unpack, unpack_or_none
from batpass.scenario import generate

#: the SHA-256 of dictionary 1 as first shipped: rows name the version that compressed them, so a
#: version's bytes must never change (a new dictionary is a new version)
ZDICT_1_SHA256 = "445369e7a497161f58a038507b70fd88b8e6c778781fbe4fbda22cf48192acdd"


def test_dictionary_1_is_the_one_first_shipped() -> None:
    assert hashlib.sha256(ZDICTS[1]).hexdigest() == ZDICT_1_SHA256
    assert CURRENT in ZDICTS and all(1 <= v <= 255 for v in ZDICTS)


def test_every_profile_of_a_recorded_scenario_reads_back_exactly(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    """The profiles a ledger stores, read as the bytes they are and decoded, are the texts the
    lots carry; each body is far smaller than its text."""
    svc = LedgerService(make_store([MIGRATIONS_DIR]), identity(), batch_size=100)
    svc.record(generate(lots=400, owner=OWNER, seed=11).events)
    p = t.profiles
    with svc.engine.connect() as conn:
        raw = conn.execute(select(p.c.digest, type_coerce(p.c.body, LargeBinary)).where(p.c.owner == OWNER)).all()
        texts = dict(conn.execute(select(t.lots.c.id, t.profiles.c.body).select_from(t.LOTS_FROM)).all())
    assert len(raw) > 20
    decoded = [unpack(bytes(b)) for _d, b in raw]
    assert all(hashlib.sha256(s.encode()).digest() == bytes(d) for s, (d, _b) in zip(decoded, raw, strict=True))
    assert set(texts.values()) == set(decoded)
    assert all(bytes(b)[0] == CURRENT and pack(s) == bytes(b) for s, (_d, b) in zip(decoded, raw, strict=True))
    assert sum(len(b) for _d, b in raw) < 0.3 * sum(len(s.encode()) for s in decoded)
    for lot, text in list(texts.items())[:50]:
        got = svc.lot(OWNER, lot)
        assert json.loads(text) == (got.profile if isinstance(got.profile, dict) else json.loads(got.profile))


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_round_trips(text: str) -> None:
    assert unpack(pack(text)) == text


@pytest.mark.parametrize(
    "body",
    [b"", b"\x00", bytes((max(ZDICTS) + 1,)) + pack("{}")[1:], pack('{"a":1}')[:-3], pack('{"a":1}') + b"x", b"\x01{}"],
)
def test_a_body_that_does_not_decode_is_refused(body: bytes) -> None:
    assert unpack_or_none(body) is None
    with pytest.raises(IntegrityViolation) as refused:
        unpack(body)
    assert (refused.value.table, refused.value.rule) == ("ledger_profiles", "ledger.derived.profiles")


def test_the_migrated_profiles_table_matches_the_model(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_store([MIGRATIONS_DIR])
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(ctx, t.metadata) if "ledger_profiles" in repr(d)]
    assert diff == []
