"""Engines for the two stores: SQLite (embedded default, one file per node) and PostgreSQL.

Same schema and same code path on both. SQLite runs with WAL and foreign keys on; PostgreSQL
takes an optional schema (each test run uses its own) through the connection's search path.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from batpass.core.errors import ConfigurationError, InvalidInput
from batpass.store.metadata import read_stored_json

__all__ = ["is_sqlite", "make_engine", "normalise_url"]


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, schema: str | None = None, echo: bool = False) -> Engine:
    """Build an engine for ``url``; ``schema`` (PostgreSQL only) isolates a node or a test run."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with no field
        raise InvalidInput(f"cannot parse database URL: {exc}", field="db_url", rule="SQLAlchemy URL") from exc
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if backend == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        kwargs["json_deserializer"] = read_stored_json  # JSON columns hold text: any text can be there
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Python's sqlite3 opens transactions lazily; let SQLAlchemy drive BEGIN itself
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            # Bulk ledger ingest writes ~3 KB and ~10 index entries per event. With SQLite's
            # defaults (a 2 MiB page cache, a checkpoint with its fsync every 4 MiB of WAL) half
            # of a 10,000-event commit went to re-reading evicted index pages and to checkpoints.
            # A page cache of up to 64 MiB per connection (filled only as pages are used) and a
            # checkpoint every 64 MiB of WAL halve the write time (benchmarks/ledger.py).
            cur.execute("PRAGMA cache_size=-65536")
            cur.execute("PRAGMA wal_autocheckpoint=16384")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

        return engine
    if backend == "postgresql":
        if schema is not None:
            if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
                raise InvalidInput(
                    f"schema name '{schema}' is not a plain lower-case identifier",
                    field="schema",
                    rule="[a-z_][a-z0-9_]{0,62}",
                )
            kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
        kwargs["pool_pre_ping"] = True
        engine = create_engine(url, **kwargs)
        if schema is not None:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                conn.commit()
        return engine
    raise ConfigurationError(f"unsupported database backend '{backend}'", rule="sqlite or postgresql")
