from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, text

from batpass.core.errors import SchemaVersionError
from batpass.node._composition import migration_dirs
from batpass.participants._sql import participants_table
from batpass.store import MIGRATIONS_DIR, current_revisions, migrations, upgrade


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


def test_a_database_at_every_head_is_checked_without_running_alembic(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a current database (every node of a federation, twice) reads no migration script
    again: alembic's upgrade is not called; a database behind a head is still migrated by it."""
    upgrade(engine, migration_dirs())
    before = current_revisions(engine)
    called: list[str] = []
    monkeypatch.setattr(migrations.command, "upgrade", lambda cfg, target: called.append(target))
    upgrade(engine, migration_dirs())
    assert called == []
    assert current_revisions(engine) == before
    with engine.begin() as conn:  # one branch set back: its head is pending again
        conn.execute(text("UPDATE alembic_version SET version_num = 'store_0001' WHERE version_num LIKE 'store_%'"))
    upgrade(engine, migration_dirs())
    assert called == ["heads"]
