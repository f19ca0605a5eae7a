"""Unit of work: one transaction per use case, all or nothing.

``with UnitOfWork(engine) as uow:`` opens a connection and a transaction; leaving the block
without ``uow.commit()`` rolls back, and so does an exception. A reading unit of work
(``write=False``) sees one snapshot of the database on both stores (``REPEATABLE READ`` on
PostgreSQL). Work that must happen only once
the data is durable (waking the outbox dispatcher) registers with :meth:`after_commit`.

A unique key taken by a concurrent writer between a use case's check and its insert (or a
PostgreSQL serialization failure or deadlock) surfaces as :class:`batpass.core.errors.Conflict`,
never as a driver error: the loser of a race gets a 409 naming the rule, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from batpass.core.errors import Conflict

__all__ = ["UnitOfWork"]


class UnitOfWork:
    def __init__(self, engine: Engine, *, write: bool = True) -> None:
        self._engine = engine
        self._write = write
        self._conn: Connection | None = None
        self._committed = False
        self._after_commit: list[Callable[[], None]] = []

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside its 'with' block")
        return self._conn

    def __enter__(self) -> Self:
        self._conn = self._engine.connect()
        # read by the SQLite 'begin' hook: writers take the lock up front (no upgrade deadlocks)
        self._conn.info["write"] = self._write
        if not self._write and self._conn.dialect.name == "postgresql":
            # a reading use case sees one snapshot across its statements, as SQLite's read
            # transaction does: a self-audit or a signed-chain check compares rows read by several
            # statements, and a writer (another worker) committing in between is no break
            self._conn.execution_options(isolation_level="REPEATABLE READ")
        self._conn.begin()
        self._committed = False
        self._after_commit = []
        return self

    def after_commit(self, fn: Callable[[], None]) -> None:
        self._after_commit.append(fn)

    def commit(self) -> None:
        try:
            self.conn.commit()
        except DBAPIError as exc:
            _raise_conflict(exc)
            raise
        self._committed = True
        hooks, self._after_commit = self._after_commit, []
        for fn in hooks:
            fn()
        # a use case commits once; later statements in the block start a new transaction
        self.conn.begin()

    def rollback(self) -> None:
        self.conn.rollback()
        self._after_commit = []
        self.conn.begin()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._conn
        self._conn = None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                conn.rollback()
        finally:
            conn.info.pop("write", None)
            conn.close()
        if isinstance(exc, DBAPIError):
            _raise_conflict(exc)


#: PostgreSQL SQLSTATEs of a lost race: serialization failure, deadlock detected
_RACE_STATES = frozenset({"40001", "40P01"})
#: SQLite's extended codes of a unique key already taken
_SQLITE_UNIQUE = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


def _raise_conflict(exc: DBAPIError) -> None:
    """Raise :class:`Conflict` for a driver error that means "another writer got there first"."""
    state = getattr(exc.orig, "sqlstate", None)
    sqlite = getattr(exc.orig, "sqlite_errorname", None)
    if isinstance(exc, IntegrityError) and (state == "23505" or sqlite in _SQLITE_UNIQUE):
        raise Conflict(
            "a concurrent writer stored the same key first; nothing was written",
            rule="unique keys (the first writer wins; retry reads the stored state)",
        ) from exc
    if state in _RACE_STATES:
        raise Conflict(
            "the transaction lost a race with a concurrent writer; nothing was written",
            rule="serialised writers (retry)",
        ) from exc
