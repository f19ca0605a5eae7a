"""A profile is looked up by its address, (owner, digest), never by reading the owner's profiles:
asked as ``owner = ? AND digest IN (...)``, PostgreSQL whose statistics predated the owner's
growth (a bulk ingest that autovacuum had not yet analysed) read every profile of the owner and
searched the list for each — 35 ms a statement with its parameters, 1.27 s as the prepared
statement's generic plan, at 130,000 profiles: PostgreSQL ingest fell from 10,600 events/s at
10⁴ lots to 1,600 at 10⁶ (benchmarks/ledger.py, a quiet machine). Each store is checked with
statistics taken when the table was small and after it grew, and after ``ANALYZE``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from batpass.ledger import MIGRATIONS_DIR
from batpass.ledger import _sql as t

OWNER = "did:web:node.example"
#: profiles the owner holds when the lookup is planned
GROWN = 30_000


def _grow(engine: Engine, start: int, stop: int) -> None:
    """Profiles ``start``..``stop - 1`` of :data:`OWNER` (synthetic texts: only the plan matters)."""
    rows = [(OWNER, n, hashlib.sha256(str(n).encode()).digest(), b"\x00") for n in range(start, stop)]
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("INSERT INTO ledger_profiles (owner, no, digest, body) VALUES (?, ?, ?, ?)", rows)
        else:
            conn.exec_driver_sql(
                "INSERT INTO ledger_profiles (owner, no, digest, body)"
                " SELECT %(o)s, g, sha256(convert_to(g::text, 'UTF8')), '\\x00'::bytea"
                " FROM generate_series(%(a)s::bigint, %(b)s::bigint) AS g",
                {"o": OWNER, "a": start, "b": stop - 1},
            )


def _analyze(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE ledger_profiles")


def _plan(engine: Engine, statement: str, parameters: Any) -> list[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return [str(r[3]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
        return [str(r[0]).strip() for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters)]


def _reads_by_owner(plan: Sequence[str]) -> list[str]:
    """The steps of ``plan`` that read the profiles without their digest: a scan, or an index
    searched by the owner alone."""
    out = [line for line in plan if line.startswith("SCAN ledger_profiles") or "Seq Scan on ledger_profiles" in line]
    out += [line for line in plan if "USING PRIMARY KEY (owner=?)" in line or "(owner=?)" in line.split("INDEX")[-1]]
    for i, line in enumerate(plan):
        if "Index Scan" in line and "ledger_profiles" in line:
            cond = next((c for c in plan[i + 1 :] if "Cond:" in c), "")
            if "digest" not in cond:
                out.append(f"{line} / {cond}")
    return out


@pytest.mark.parametrize("statistics", ["taken when small", "analyzed"])
def test_a_profile_is_found_by_its_digest_whatever_the_statistics(
    make_store: Callable[[Sequence[Path]], Engine], statistics: str
) -> None:
    engine = make_store([MIGRATIONS_DIR])
    _grow(engine, 1, 51)
    _analyze(engine)
    _grow(engine, 51, GROWN + 1)
    if statistics == "analyzed":
        _analyze(engine)
    seen: list[tuple[str, Any]] = []

    def log(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "ledger_profiles" in statement:
            seen.append((statement, parameters))

    bodies = [f'{{"profile": {n}}}' for n in range(400)]
    event.listen(engine, "before_cursor_execute", log)
    try:
        with engine.connect() as conn:
            numbers = t.intern_profiles(conn, OWNER, bodies)
            conn.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", log)
    assert sorted(numbers.values()) == list(range(GROWN + 1, GROWN + 401))  # new: the next numbers
    lookups = [(s, p) for s, p in seen if "max(" not in s.lower()]
    assert lookups
    for statement, parameters in lookups:
        plan = _plan(engine, statement, parameters)
        assert not _reads_by_owner(plan), statement[:200] + "\n" + "\n".join(line[:200] for line in plan)
    engine.dispose()


def test_the_guard_sees_a_read_by_owner(make_store: Callable[[Sequence[Path]], Engine]) -> None:
    """The pattern above must catch a read of every profile of the owner on this store."""
    engine = make_store([MIGRATIONS_DIR])
    _grow(engine, 1, 2_001)
    _analyze(engine)
    if engine.dialect.name == "sqlite":
        statement, parameters = "SELECT no FROM ledger_profiles WHERE owner = ? AND length(body) = ?", (OWNER, 3)
    else:
        statement, parameters = (
            "SELECT no FROM ledger_profiles WHERE owner = %(o)s AND length(body) = %(n)s",
            {"o": OWNER, "n": 3},
        )
    assert _reads_by_owner(_plan(engine, statement, parameters))
    engine.dispose()
