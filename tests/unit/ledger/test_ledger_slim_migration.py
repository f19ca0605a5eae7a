"""Migration ``ledger_0007`` (the slim store) on a store holding data, SQLite and PostgreSQL.

A store at ``ledger_0006`` gets a scenario's ledger (the rows a ledger at that revision holds:
each lot's profile as its own text; copied from a ledger recorded by this code, so both hold
the same content), then is migrated: every lot keeps its profile text (now stored once per owner
and text), and every trace, summary, lot and verify answer equals the one of the ledger recorded
directly on the current schema.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from ledger_testkit import OWNER, identity
from sqlalchemy import Engine, MetaData, select, text

from batpass.core.clock import FixedClock
from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.ledger import _sql as t
from batpass.scenario import generate
from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import make_engine, upgrade
from batpass.store.migrations import alembic_config

PG_URL = os.environ.get("BATPASS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
LOCATIONS = [STORE_MIGRATIONS, MIGRATIONS_DIR]
#: summaries carry the time they were computed at
CLOCK = FixedClock(dt.datetime(2027, 3, 1, tzinfo=dt.UTC))


@pytest.fixture
def old_store(store_kind: str, tmp_path: Path) -> Iterator[Engine]:
    """An empty store with the ledger at ``ledger_0006``."""
    if store_kind == "sqlite":
        eng, schema = make_engine(f"sqlite:///{tmp_path / 'old.db'}"), None
    else:
        schema = f"t_{uuid.uuid4().hex[:16]}"
        eng = make_engine(PG_URL, schema=schema)
    cfg = alembic_config(LOCATIONS)
    with eng.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "store@head")
        command.upgrade(cfg, "ledger_0006")
    yield eng
    eng.dispose()
    if schema is not None:
        admin = make_engine(PG_URL)
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.commit()
        admin.dispose()


def _copy_to_old(new: Engine, old: Engine) -> None:
    """Every ledger row of ``new`` into ``old`` as a store at ``ledger_0006`` holds it."""
    reflected = MetaData()
    with old.connect() as conn:
        reflected.reflect(conn, only=lambda name, _m: name.startswith("ledger_") and name != "ledger_profiles")
    with new.connect() as src, old.begin() as dst:
        for name, table in reflected.tables.items():
            if name == "ledger_lots":
                cols = [c for c in t.lots.c if c.name != "profile_no"]
                q: Any = select(*cols, t.profiles.c.body.label("profile")).select_from(t.LOTS_FROM)
            else:
                q = select(t.metadata.tables[name])
            rows = [dict(r) for r in src.execute(q).mappings()]
            assert set(table.c.keys()) == (set(rows[0]) if rows else set(table.c.keys())), name
            if rows:
                dst.execute(table.insert(), rows)


def _answers(svc: LedgerService, batteries: Sequence[str], lots: Sequence[str]) -> dict[str, Any]:
    rep = svc.verify()
    return {
        "traces": [svc.trace(OWNER, b) for b in batteries],
        "recalls": [svc.trace(OWNER, lot, direction="down") for lot in lots],
        "summaries": [svc.summary(OWNER, b) for b in batteries],
        "lots": [svc.lot(OWNER, lot) for lot in lots],
        "verify": (rep.ok, rep.events, rep.batches, rep.problems),
        "audit": svc.self_audit(),
    }


def test_ledger_0007_converts_a_store_with_data(
    make_store: Callable[[Sequence[Path]], Engine], old_store: Engine
) -> None:
    sc = generate(lots=300, owner=OWNER, seed=5)
    me = identity()
    direct = LedgerService(make_store([MIGRATIONS_DIR]), me, batch_size=50, clock=CLOCK)
    direct.record(sc.events)
    with direct.engine.connect() as conn:
        mined = [r[0] for r in conn.execute(select(t.lots.c.id).where(t.lots.c.kind == "extraction").limit(5))]
    batteries = sc.batteries[:6]
    expected = _answers(direct, batteries, mined)
    assert expected["verify"][0] and expected["audit"] == []

    _copy_to_old(direct.engine, old_store)
    with old_store.connect() as conn:
        before = dict(conn.execute(text("SELECT id, profile FROM ledger_lots")).all())
        events = conn.execute(text("SELECT count(*) FROM ledger_events")).scalar_one()
    assert len(before) > 250 and events > 250
    upgrade(old_store, LOCATIONS)

    with old_store.connect() as conn:
        after = dict(conn.execute(select(t.lots.c.id, t.profiles.c.body).select_from(t.LOTS_FROM)).all())
        stored = conn.execute(select(t.profiles.c.digest, t.profiles.c.body)).all()
        indexes = {i["name"] for i in _indexes(conn, "ledger_edges")}
    assert after == before  # every lot keeps its profile's text
    assert len(stored) == len(set(before.values())) < len(before)  # each text once
    assert all(hashlib.sha256(b.encode()).hexdigest() == d for d, b in stored)
    assert "ix_ledger_edges_event" not in indexes and "ix_ledger_edges_parent" in indexes

    migrated = LedgerService(old_store, me, batch_size=50, clock=CLOCK)
    assert _answers(migrated, batteries, mined) == expected


def _indexes(conn: Any, table: str) -> list[Any]:
    from sqlalchemy import inspect

    return list(inspect(conn).get_indexes(table))
