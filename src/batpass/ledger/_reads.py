"""The two reads a federated trace makes for every lot of every question, made cheap.

A warm trace asks each tier about each supplier lot again, and each answer reads the owner's
change counter (``ledger_heads.seq``) and the stored received summaries of the lot's boundary lots
(``ledger_received_summaries``). Through a reading unit of work and a Core statement each read
cost about 0.3–0.5 ms of CPU on the shared 2-core machines, nearly all of it SQLAlchemy's
connection, transaction and statement-cache machinery around a point lookup of a few µs.

- On SQLite each read is one statement handed to the driver as it is, on a pooled connection
  outside any transaction (a single statement reads one snapshot; the connection goes back to
  the pool as every other does): about a tenth of the cost.
- On PostgreSQL the Core statements run in a reading unit of work, as everywhere else.

:class:`CheckedSummaries` keeps the outcome of each stored summary row's check (its copy equal to
its signed token, issuer and lot as signed, the signature verified once per token) keyed by the
row's whole content: the same row content always checks the same way, a changed row is checked
afresh, and a row that fails is never kept (it raises each time it is read).
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine, bindparam, select

from batpass.ledger import _sql as t
from batpass.ledger.model import ReceivedSummary
from batpass.store import UnitOfWork

__all__ = ["CheckedSummaries", "SummaryRow", "read_mark", "summary_rows"]

#: a stored received summary as the trace reads it (attribute access, like a ``Row``)
SummaryRow = namedtuple("SummaryRow", ["lot", "issuer", "jws", "summary"])

_MARK_SQLITE = "SELECT seq FROM ledger_heads WHERE owner = ?"
_MARK = select(t.heads.c.seq).where(t.heads.c.owner == bindparam("owner"))
_SUMMARIES_SQLITE = (
    "SELECT lot, issuer, jws, summary FROM ledger_received_summaries WHERE owner = ? AND lot IN ({marks})"
)
_SUMMARIES = select(
    t.received_summaries.c.lot,
    t.received_summaries.c.issuer,
    t.received_summaries.c.jws,
    t.received_summaries.c.summary,
).where(t.received_summaries.c.owner == bindparam("owner"))


def _sqlite_rows(engine: Engine, sql: str, params: Sequence[Any]) -> list[Any]:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        try:
            cur.execute(sql, tuple(params))
            return list(cur.fetchall())
        finally:
            cur.close()
    finally:
        raw.close()


def read_mark(engine: Engine, owner: str) -> int:
    """``owner``'s change counter: the sequence number of its last recorded event (0 before any)."""
    if engine.dialect.name == "sqlite":
        rows = _sqlite_rows(engine, _MARK_SQLITE, (owner,))
        return int(rows[0][0]) if rows else 0
    with UnitOfWork(engine, write=False) as uow:
        seq = uow.conn.execute(_MARK, {"owner": owner}).scalar()
    return int(seq or 0)


def summary_rows(engine: Engine, owner: str, lots: Sequence[str]) -> list[SummaryRow]:
    """``owner``'s stored received summaries of ``lots`` (lots without one are absent)."""
    want = list(dict.fromkeys(lots))
    if not want:
        return []
    out: list[SummaryRow] = []
    if engine.dialect.name == "sqlite":
        for part in t.chunks(want):
            sql = _SUMMARIES_SQLITE.replace("{marks}", ",".join("?" * len(part)))
            out.extend(SummaryRow(*r) for r in _sqlite_rows(engine, sql, (owner, *part)))
        return out
    with UnitOfWork(engine, write=False) as uow:
        for part in t.chunks(want):
            q = _SUMMARIES.where(t.received_summaries.c.lot.in_(part))
            out.extend(SummaryRow(*r) for r in uow.conn.execute(q, {"owner": owner}))
    return out


class CheckedSummaries:
    """Rows that passed their check, by their whole content (see the module docstring);
    bounded, least recently used out first, in this worker's memory."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._ok: OrderedDict[SummaryRow, ReceivedSummary] = OrderedDict()

    def checked(self, row: SummaryRow, check: Callable[[SummaryRow], ReceivedSummary]) -> ReceivedSummary:
        """``check(row)`` (which raises for a row that fails), or its kept result for the same row."""
        hit = self._ok.get(row)
        if hit is not None:
            self._ok.move_to_end(row)
            return hit
        got = check(row)
        self._ok[row] = got
        while len(self._ok) > self.limit:
            self._ok.popitem(last=False)
        return got
