from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, text

from batpass.core.errors import SchemaVersionError
from batpass.node._composition import migration_dirs
from batpass.participants._sql import participants_table
from batpass.store import MIGRATIONS_DIR, current_revisions, upgrade


def test_upgrade_keeps_existing_data(engine: Engine) -> None:
    """A database at an older state (only the store branch) that holds data is upgraded to all
    heads; the data stays."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO inbox (idempotency_key, sender, received_at, result) VALUES ('k', 'did:web:a', :ts, NULL)"
            ),
            {"ts": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)},
        )
    upgrade(engine, migration_dirs())
    assert {"store_0002", "participants_0001"} <= current_revisions(engine)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT sender FROM inbox WHERE idempotency_key='k'")).scalar_one() == "did:web:a"
        conn.execute(
            insert(participants_table).values(
                did="did:web:x",
                legal_name="X",
                country="DE",
                sites=[],
                is_self="N",
                updated_at=dt.datetime.now(dt.UTC),
            )
        )
    upgrade(engine, migration_dirs())  # idempotent
    with engine.connect() as conn:
        assert conn.execute(select(participants_table.c.legal_name)).scalar_one() == "X"


def test_newer_schema_is_refused_and_untouched(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'store_9999'"))
    with pytest.raises(SchemaVersionError, match="newer version"):
        upgrade(engine, [MIGRATIONS_DIR])
    assert current_revisions(engine) == {"store_9999"}
