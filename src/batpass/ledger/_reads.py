"""The change counter a federated trace reads for every lot of every question, made cheap.

A warm trace asks each tier about each supplier lot again, and each answer reads the owner's
change counter (``ledger_heads.seq``) once or twice. Through a reading unit of work and a Core
statement that read cost about 0.3–0.5 ms of CPU on the shared 2-core machines, nearly all of it
SQLAlchemy's connection, transaction and statement-cache machinery around a point lookup of a
few µs.

- On SQLite it is one statement handed to the driver as it is, on a pooled connection outside
  any transaction (a single statement reads one snapshot; the connection goes back to the pool
  as every other does): about a tenth of the cost.
- On PostgreSQL the Core statement (built once) runs in a reading unit of work, as everywhere else.
"""

from __future__ import annotations

from sqlalchemy import Engine, bindparam, select

from batpass.ledger import _sql as t
from batpass.store import UnitOfWork

__all__ = ["read_mark"]

_MARK_SQLITE = "SELECT seq FROM ledger_heads WHERE owner = ?"
_MARK = select(t.heads.c.seq).where(t.heads.c.owner == bindparam("owner"))


def read_mark(engine: Engine, owner: str) -> int:
    """``owner``'s change counter: the sequence number of its last recorded event (0 before any)."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            try:
                cur.execute(_MARK_SQLITE, (owner,))
                row = cur.fetchone()
            finally:
                cur.close()
        finally:
            raw.close()
        return int(row[0]) if row else 0
    with UnitOfWork(engine, write=False) as uow:
        seq = uow.conn.execute(_MARK, {"owner": owner}).scalar()
    return int(seq or 0)
