"""The stores tests run on: a scratch database of either kind (a SQLite file, or a schema of its
own in the PostgreSQL test database) and the removal of such a schema afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from batpass.store import MIGRATIONS_DIR, make_engine, upgrade

PG_URL = os.environ.get("BATPASS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def scratch_schema(prefix: str = "t") -> str:
    """A new schema name in the PostgreSQL test database (the schema itself is made by the first
    migration, or by a node started on it; remove it with :func:`drop_schema`)."""
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def scratch_engine(store_kind: str, sqlite_file: Path, *, prefix: str = "t") -> tuple[Engine, str | None]:
    """An empty store: ``sqlite_file`` on SQLite, else a new schema (its name second, for
    :func:`drop_schema`)."""
    if store_kind == "sqlite":
        return make_engine(f"sqlite:///{sqlite_file}"), None
    schema = scratch_schema(prefix)
    return make_engine(PG_URL, schema=schema), schema


def drop_schema(schema: str) -> None:
    """Remove a schema :func:`scratch_engine` made, with everything in it."""
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@contextmanager
def scratch_stores(store_kind: str, folder: Path, *, prefix: str = "t") -> Iterator[Callable[[Sequence[Path]], Engine]]:
    """Factory of migrated stores (``make([migration dirs])``, the store's own branch always
    included): SQLite files in ``folder``, or PostgreSQL schemas, each disposed of and dropped on
    exit (the suite's ``make_store``)."""
    engines: list[tuple[Engine, str | None]] = []

    def make(locations: Sequence[Path] = ()) -> Engine:
        eng, schema = scratch_engine(store_kind, folder / f"store-{len(engines)}.db", prefix=prefix)
        engines.append((eng, schema))  # before migrating: the schema exists already, and a failed migration keeps it
        upgrade(eng, [MIGRATIONS_DIR, *locations])
        return eng

    try:
        yield make
    finally:
        for eng, schema in engines:
            eng.dispose()
            if schema is not None:
                drop_schema(schema)
