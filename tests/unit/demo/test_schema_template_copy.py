"""A node created from the harness's migrated schema template (``init_node(schema_template=...)``)
has the very database a node migrated on its own has: the same tables, indexes, triggers and
views with the same SQL, the same migration revisions, nothing pending, and a file only its
owner reads."""

from __future__ import annotations

import sqlite3
import stat
from contextlib import closing
from pathlib import Path

from batpass.core.settings import Settings
from batpass.demo.harness import schema_template
from batpass.node._composition import migration_dirs
from batpass.node.local import init_node
from batpass.store import pending_heads


def _schema(db: Path) -> dict[str, object]:
    with closing(sqlite3.connect(db)) as conn:
        return {
            "objects": sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()),
            "revisions": sorted(conn.execute("SELECT * FROM alembic_version").fetchall()),
            "user_version": conn.execute("PRAGMA user_version").fetchone(),
            "journal_mode": conn.execute("PRAGMA journal_mode").fetchone(),
        }


def test_a_node_copied_from_the_template_has_the_schema_of_a_node_migrated_alone(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    alone, _ = init_node("alone", profiles=("catena-x",), settings=settings)
    alone.close()
    template = schema_template(tmp_path / "template.db")
    copied, _ = init_node("copied", profiles=("catena-x",), settings=settings, schema_template=template)
    try:
        with copied.engine.connect() as conn:
            assert pending_heads(conn, migration_dirs()) == set()
        # the node's own rows (itself as participant) are there, as in the node migrated alone
        with closing(sqlite3.connect(copied.paths.database)) as conn:
            assert conn.execute("SELECT count(*) FROM participants").fetchone() == (1,)
    finally:
        copied.close()
    expected = _schema(alone.paths.database)
    assert expected["objects"] and expected["revisions"]
    assert _schema(copied.paths.database) == expected
    assert stat.S_IMODE(copied.paths.database.stat().st_mode) == 0o600
