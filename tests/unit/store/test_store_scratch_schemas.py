"""The stores tests run on leave nothing behind in the PostgreSQL test database: a scratch
schema is removed however the test using it ends — a migration that fails (a bad migration
directory, a revision that raises) included. Before, ``make_store`` made the schema (the engine
creates it) and only recorded it for removal once the migrations had run, so a failed migration
left the schema in database ``test`` for good."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from batpass.store import make_engine
from store_testkit import PG_URL, scratch_stores


def _schemas_named(prefix: str) -> list[str]:
    eng = make_engine(PG_URL)
    try:
        with eng.connect() as conn:
            return list(
                conn.execute(
                    text("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, :p)"), {"p": prefix}
                ).scalars()
            )
    finally:
        eng.dispose()


@pytest.mark.parametrize("store_kind", ["postgresql"], indirect=True)
def test_a_schema_whose_migration_failed_is_removed(store_kind: str, tmp_path: Path) -> None:
    prefix = f"leak_{uuid.uuid4().hex[:8]}"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "b_0001_fails.py").write_text(
        'revision = "b_0001"\ndown_revision = None\nbranch_labels = ("broken",)\ndepends_on = None\n\n'
        "def upgrade() -> None:\n    raise RuntimeError('this migration fails')\n"
    )
    with pytest.raises(RuntimeError), scratch_stores(store_kind, tmp_path, prefix=prefix) as make:
        make([broken])
    assert _schemas_named(prefix) == []


@pytest.mark.parametrize("store_kind", ["postgresql"], indirect=True)
def test_every_schema_made_is_removed(store_kind: str, tmp_path: Path) -> None:
    prefix = f"kept_{uuid.uuid4().hex[:8]}"
    with scratch_stores(store_kind, tmp_path, prefix=prefix) as make:
        make([])
        make([])
        assert len(_schemas_named(prefix)) == 2
    assert _schemas_named(prefix) == []
