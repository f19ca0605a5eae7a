"""A PostgreSQL node's schema out and in with PostgreSQL's own client programs: ``pg_dump`` (custom
format, the node's schema only, without owners or grants, so it restores under another role) and
``pg_restore`` in one transaction (a failure leaves nothing behind).

The programs are found on ``PATH``; ``pg_dump`` must be of the server's major version or newer.
The password (if the URL has one) goes through ``PGPASSWORD``, never on the command line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from batpass.core.errors import ConfigurationError, Conflict
from batpass.store import make_engine
from batpass.store.engine import normalise_url

__all__ = ["current_schema", "dump_schema", "restore_schema", "schema_tables"]


def _program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ConfigurationError(
            f"{name} is not on PATH: a PostgreSQL node's backup and restore use PostgreSQL's client programs",
            rule="install the PostgreSQL client (Debian: postgresql-client) of the server's version or newer",
        )
    return path


def _libpq(db_url: str) -> tuple[str, dict[str, str]]:
    """The libpq connection URI for ``db_url`` (without the password) and the environment to run with."""
    url = make_url(normalise_url(db_url))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    conninfo = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return conninfo, env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    p = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        detail = " ".join(p.stderr.split())[:500] or f"exit code {p.returncode}"
        raise ConfigurationError(f"{what} failed: {detail}", rule=f"{Path(args[0]).name} must succeed")


def current_schema(db_url: str, schema: str | None) -> str:
    """The schema a node's tables live in: its configured one, else the search path's first."""
    if schema:
        return schema
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT current_schema()")).scalar_one())
    finally:
        engine.dispose()


def schema_tables(db_url: str, schema: str) -> int | None:
    """How many tables ``schema`` holds; None if it does not exist."""
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
            ).scalar_one_or_none()
            if exists is None:
                return None
            return int(
                conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = :s"), {"s": schema}).scalar_one()
            )
    finally:
        engine.dispose()


def dump_schema(db_url: str, schema: str, out: Path) -> None:
    """``pg_dump`` of ``schema`` into ``out`` (custom format): one consistent snapshot, taken while
    the node keeps serving."""
    conninfo, env = _libpq(db_url)
    args = [_program("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--schema={schema}"]
    _run([*args, f"--file={out}", f"--dbname={conninfo}"], env, f"pg_dump of schema {schema}")


def restore_schema(db_url: str, schema: str, dump: Path) -> None:
    """``pg_restore`` of ``dump`` into ``schema``, in one transaction. A schema holding tables is
    refused; an empty one that exists is kept (its ``CREATE SCHEMA`` entry is skipped)."""
    tables = schema_tables(db_url, schema)
    if tables:
        raise Conflict(
            f"schema {schema} already holds {tables} table(s): a restore never writes over a node's data",
            rule="restore a PostgreSQL node into a schema that is absent or empty",
        )
    program = _program("pg_restore")
    conninfo, env = _libpq(db_url)
    listing = subprocess.run([program, "--list", str(dump)], env=env, capture_output=True, text=True, check=False)
    if listing.returncode != 0:
        raise ConfigurationError(
            f"pg_restore cannot read the dump: {' '.join(listing.stderr.split())[:500]}",
            rule="a pg_dump custom-format archive",
        )
    entries = listing.stdout
    if tables == 0:  # the schema exists: leave out its creation
        entries = "\n".join(
            line for line in entries.splitlines() if not re.search(rf"\sSCHEMA - {re.escape(schema)}\s", line + " ")
        )
    list_file = dump.with_suffix(".list")
    list_file.write_text(entries + "\n")
    args = [program, "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges"]
    _run([*args, f"--use-list={list_file}", f"--dbname={conninfo}", str(dump)], env, f"pg_restore into schema {schema}")
