"""The reads a federated trace makes for every lot of every question, made cheap.

A warm trace asks each tier about each supplier lot again, and each answer reads the owner's
change counter (``ledger_heads.seq``) once or twice and the stored received summaries of the
lots it sends onward (with the sealed keys that verified them). Through a reading unit of work and
a Core statement built per call those reads cost about 0.3–0.5 ms of CPU each on the shared
2-core machines, nearly all of it SQLAlchemy's connection, transaction and statement
construction around point lookups of a few µs.

- On SQLite they are statements handed to the driver as they are, on a pooled connection (the
  connection goes back to the pool as every other does): the change counter outside any
  transaction (a single statement reads one snapshot); the summaries and their keys inside one
  read transaction (``BEGIN``), so they are of one snapshot as in a reading unit of work.
- On PostgreSQL the Core statements (built once) run in a reading unit of work, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import Engine, bindparam, select

from batpass.ledger import _sql as t
from batpass.ledger._received_check import SealedRead, sealed_in
from batpass.store import UnitOfWork

__all__ = ["SummaryRow", "read_mark", "summary_reads"]

_MARK_SQLITE = "SELECT seq FROM ledger_heads WHERE owner = ?"
_MARK = select(t.heads.c.seq).where(t.heads.c.owner == bindparam("owner"))

_SUMMARIES_SQLITE = "SELECT lot, issuer, jws, summary FROM ledger_received_summaries WHERE owner = ? AND lot IN ({})"
_SEALED_SQLITE = "SELECT key_sha256, sealed_jwk FROM ledger_verified_keys WHERE kid = ? ORDER BY verified_at DESC"
_s = t.received_summaries.c
_SUMMARIES = select(_s.lot, _s.issuer, _s.jws, _s.summary).where(
    _s.owner == bindparam("owner"), _s.lot.in_(bindparam("lots", expanding=True))
)


class SummaryRow(NamedTuple):
    """What a use of a stored received summary reads of its row (attribute access, like a ``Row``)."""

    lot: str
    issuer: str
    jws: str
    summary: str


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


@contextmanager
def summary_reads(engine: Engine, owner: str, lots: Sequence[str]) -> Iterator[tuple[list[Any], SealedRead]]:
    """``owner``'s stored received summaries of ``lots`` (those it holds) and a reader of the
    sealed keys that verified them (``ledger_verified_keys``: each kid's keys), both of one snapshot for
    the ``with`` block."""
    if engine.dialect.name != "sqlite":
        with UnitOfWork(engine, write=False) as uow:
            rows: list[Any] = []
            for part in t.chunks(list(lots)):
                rows.extend(uow.conn.execute(_SUMMARIES, {"owner": owner, "lots": list(part)}).all())
            yield rows, sealed_in(uow.conn)
        return
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        try:
            cur.execute("BEGIN")  # one snapshot for the summaries and their keys
            rows = []
            for part in t.chunks(list(lots)):
                cur.execute(_SUMMARIES_SQLITE.format(",".join("?" * len(part))), (owner, *part))
                rows.extend(SummaryRow(*r) for r in cur.fetchall())

            def sealed(kid: str) -> tuple[tuple[str, str], ...]:
                cur.execute(_SEALED_SQLITE, (kid,))
                return tuple((str(d), str(s)) for d, s in cur.fetchall())

            yield rows, sealed
        finally:
            cur.close()
            raw.rollback()  # ends the read transaction
    finally:
        raw.close()
