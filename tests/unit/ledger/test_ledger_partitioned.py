"""The ledger on PostgreSQL with its largest tables partitioned by owner (docs/scaling.md).

``ledger_events`` (one row per event), ``ledger_lots`` and ``ledger_edges`` are turned into
declarative ``PARTITION BY HASH (owner)`` tables (``owner_no`` for the events and edges) in the
test's own schema, after the migrations ran, keeping every constraint and index under its name. Then the
ledger's store contract tests (record, replay, conflict, trace, verify, received summaries, reads
of changes) and its concurrency tests (concurrent shipments from one lot, concurrent claims) run
here again, unchanged, on the partitioned schema: the code needs no change to run on it. Every
primary key and unique constraint of these tables already starts with ``owner`` (or
``owner_no``), which PostgreSQL requires of a unique constraint on a partitioned table; the test
fails naming the constraint if one ever does not.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from ledger_testkit import OWNER, ev, identity, out
from sqlalchemy import Connection, Engine, text

# the store contract and concurrency tests of the ledger, collected again in this module, where
# ``make_store`` below gives them the partitioned schema (pytest resolves fixtures per module)
from test_ledger_change_reads import *  # noqa: F403
from test_ledger_claims_concurrent import *  # noqa: F403
from test_ledger_received_summaries import *  # noqa: F403
from test_ledger_record import *  # noqa: F403
from test_ledger_record_concurrent import *  # noqa: F403
from test_ledger_trace import *  # noqa: F403
from test_ledger_verify import *  # noqa: F403

from batpass.ledger import MIGRATIONS_DIR, LedgerService
from batpass.store import MIGRATIONS_DIR as STORE_MIGRATIONS
from batpass.store import make_engine, upgrade
from store_testkit import PG_URL, drop_schema

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PARTITIONED = ("ledger_events", "ledger_lots", "ledger_edges")
#: the owner column of each partitioned table (the edges name their owner by number)
OWNER_COLUMN = {"ledger_edges": "owner_no", "ledger_events": "owner_no"}
PARTITIONS = 4


def partition_by_owner(conn: Connection, table: str, *, partitions: int = PARTITIONS) -> None:
    """Replace the (empty) ``table`` of the current schema by a table partitioned by
    ``HASH (owner)`` into ``partitions`` parts, with the same columns, defaults, constraints and
    indexes under the same names."""
    oid = conn.execute(text("SELECT to_regclass(:t)::oid"), {"t": table}).scalar_one()
    referenced = conn.execute(text("SELECT conname FROM pg_constraint WHERE confrelid = :oid"), {"oid": oid}).scalars()
    assert list(referenced) == [], f"foreign keys reference {table}: drop and re-add them around the change"
    constraints = conn.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = :oid AND contype IN ('p', 'u', 'c', 'x') ORDER BY contype, conname"
        ),
        {"oid": oid},
    ).all()
    indexes = conn.execute(
        text(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = :oid AND indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE conrelid = :oid)"
        ),
        {"oid": oid},
    ).all()
    conn.execute(text(f"ALTER TABLE {table} RENAME TO {table}_unpartitioned"))
    conn.execute(
        text(
            f"CREATE TABLE {table} (LIKE {table}_unpartitioned INCLUDING DEFAULTS) "
            f"PARTITION BY HASH ({OWNER_COLUMN.get(table, 'owner')})"
        )
    )
    conn.execute(text(f"DROP TABLE {table}_unpartitioned"))  # frees the constraint and index names
    for name, definition in constraints:
        conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))
    for _name, definition in indexes:
        conn.execute(text(definition))
    for r in range(partitions):
        conn.execute(
            text(
                f"CREATE TABLE {table}_p{r} PARTITION OF {table} FOR VALUES WITH (MODULUS {partitions}, REMAINDER {r})"
            )
        )


@pytest.fixture
def store_kind() -> str:
    """This module runs on PostgreSQL only (partitioning is PostgreSQL's)."""
    try:
        eng = make_engine(PG_URL)
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
    except Exception as exc:  # any driver error means "not reachable", as in tests/conftest.py
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} unreachable: {type(exc).__name__}: {exc}")
    return "postgresql"


@pytest.fixture
def make_store(store_kind: str) -> Iterator[Callable[[Sequence[Path]], Engine]]:
    """Like the suite's ``make_store`` on PostgreSQL, with the ledger's largest tables
    partitioned by owner once its migrations ran."""
    schemas: list[tuple[Engine, str]] = []

    def factory(locations: Sequence[Path] = ()) -> Engine:
        schema = f"p_{uuid.uuid4().hex[:16]}"
        eng = make_engine(PG_URL, schema=schema)
        schemas.append((eng, schema))  # the schema exists now: dropped even if what follows fails
        upgrade(eng, [STORE_MIGRATIONS, *locations])
        if MIGRATIONS_DIR in locations:
            with eng.begin() as conn:
                for table in PARTITIONED:
                    partition_by_owner(conn, table)
        return eng

    yield factory
    for eng, schema in schemas:
        eng.dispose()
        drop_schema(schema)


def test_the_largest_tables_are_partitioned_and_rows_land_in_partitions(
    make_store: Callable[[Sequence[Path]], Engine],
) -> None:
    eng = make_store([MIGRATIONS_DIR])
    svc = LedgerService(eng, identity())
    svc.record([ev("extraction", outputs=[out("ORE-1", "spodumene_concentrate", 5.0)])])
    with eng.connect() as conn:
        kinds = dict(
            conn.execute(
                text("SELECT relname, relkind FROM pg_class WHERE relnamespace = current_schema()::regnamespace")
            ).all()
        )
        where = conn.execute(
            text(
                "SELECT e.tableoid::regclass::text FROM ledger_events e "
                "JOIN ledger_owners o ON o.no = e.owner_no WHERE o.owner = :o"
            ),
            {"o": OWNER},
        )
        held_in = set(where.scalars())
    assert {kinds[t] for t in PARTITIONED} == {"p"}  # partitioned tables
    assert all(kinds[f"{t}_p{r}"] == "r" for t in PARTITIONED for r in range(PARTITIONS))
    assert len(held_in) == 1 and held_in.pop().startswith("ledger_events_p")
    assert svc.verify(OWNER).ok
