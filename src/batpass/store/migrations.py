"""Alembic migrations, one branch per capability.

``store/`` knows no capability: each capability ships a ``_migrations/`` folder whose first
revision carries ``branch_labels=("<capability>",)`` and ``down_revision=None``; the composition
root hands the list of folders to :func:`upgrade`, which applies every branch head. A database
holding a revision this code does not know was written by a newer batpass and is refused with
:class:`~batpass.core.errors.SchemaVersionError` before anything is touched.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from batpass.core.errors import SchemaVersionError

__all__ = ["MIGRATIONS_DIR", "alembic_config", "check_schema_version", "current_revisions", "pending_heads", "upgrade"]

_HERE = Path(__file__).resolve().parent
#: the store's own branch (the outbox and other shared infrastructure)
MIGRATIONS_DIR = _HERE / "_migrations"


def alembic_config(locations: Sequence[Path]) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "_alembic"))
    # os.pathsep-separated, so paths with spaces work
    cfg.set_main_option("path_separator", "os")
    import os

    cfg.set_main_option("version_locations", os.pathsep.join(str(p) for p in locations))
    return cfg


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        return set(ctx.get_current_heads())


def check_schema_version(engine: Engine, locations: Sequence[Path]) -> None:
    _check_known(current_revisions(engine), locations)


def _check_known(current: set[str], locations: Sequence[Path]) -> None:
    _, ancestry = _lineage(tuple(locations))
    unknown = current - ancestry.keys()  # every revision of the scripts is a key of ancestry
    if unknown:
        raise SchemaVersionError(
            f"the database is at schema revision(s) {', '.join(sorted(unknown))}, which this "
            "batpass does not know: it was written by a newer version; upgrade batpass",
            rule="a node never runs on a database newer than its code",
        )


@functools.lru_cache(maxsize=8)
def _lineage(locations: tuple[Path, ...]) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The heads of the migrations in ``locations`` and, per revision, the revisions it
    includes (itself and its ancestors); read once per process (the files do not change)."""
    script = ScriptDirectory.from_config(alembic_config(locations))
    ancestry = {
        rev.revision: frozenset(r.revision for r in script.iterate_revisions(rev.revision, "base"))
        for rev in script.walk_revisions()
    }
    return frozenset(script.get_heads()), ancestry


def pending_heads(conn: Connection, locations: Sequence[Path]) -> set[str]:
    """The migration heads in ``locations`` the database on ``conn`` has not reached (empty:
    current)."""
    heads, ancestry = _lineage(tuple(locations))
    reached: set[str] = set()
    for rev in MigrationContext.configure(conn).get_current_heads():
        reached |= ancestry.get(rev, frozenset())
    return set(heads - reached)


def upgrade(engine: Engine, locations: Sequence[Path]) -> None:
    """Bring the database to the head of every branch (idempotent). A database already at
    every head is only checked: alembic, which reads every migration script again, is not run
    (each node of a federation opens a database the harness migrated, twice)."""
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
        _check_known(current, locations)
        if not pending_heads(conn, locations):
            return
    cfg = alembic_config(locations)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # workers of one node start together: one migrates, the others wait and find it done
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema()), hashtext('migrations'))"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
