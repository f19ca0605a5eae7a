"""An owner's ledger time (the latest ``at`` of its recorded events), remembered per process.

Reconciliation reads an owner's ledger time for every message it judges; the events table has no
index on ``at``, so ``max(at)`` reads every event row of the owner (bodies included) each time.
The chain head (``ledger_heads``: the last sequence number and its hash) names exactly which
events exist: the remembered time stands while the head is the one it was computed at, and when
the chain has grown past it (the event at the remembered sequence number still has the
remembered hash) only the newer events are read. Anything else — another chain, a store restored
from a backup — reads every event again. Read in the caller's transaction, so the answer is that
transaction's view.
"""

from __future__ import annotations

import datetime as _dt
import threading
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from batpass.ledger import _sql as t

__all__ = ["LedgerTime"]


@dataclass(frozen=True, slots=True)
class _Seen:
    seq: int
    hash: str
    at: _dt.datetime | None


class LedgerTime:
    """``now(conn, owner)``: ``owner``'s latest event time (None: no events)."""

    def __init__(self) -> None:
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()

    def now(self, conn: Connection, owner: str) -> _dt.datetime | None:
        head = conn.execute(select(t.heads.c.seq, t.heads.c.hash).where(t.heads.c.owner == owner)).first()
        if head is None:  # no head: nothing remembered, the events say
            return _latest(conn, owner, after=None)
        seq, digest = int(head.seq), str(head.hash)
        with self._lock:
            seen = self._seen.get(owner)
        if seen is not None and seen.seq == seq and seen.hash == digest:
            return seen.at
        if seen is not None and seen.seq < seq and _extends(conn, owner, seen):
            newer = _latest(conn, owner, after=seen.seq)
            at = seen.at if newer is None or (seen.at is not None and seen.at >= newer) else newer
        else:
            at = _latest(conn, owner, after=None)
        with self._lock:
            self._seen[owner] = _Seen(seq, digest, at)
        return at


def _extends(conn: Connection, owner: str, seen: _Seen) -> bool:
    """Whether the chain still holds the remembered event (same sequence number, same hash)."""
    if seen.seq == 0:  # the genesis head: no event was remembered
        return True
    got = conn.execute(
        select(t.events.c.hash).where(t.events_of(owner), t.events.c.seq == seen.seq)
    ).scalar_one_or_none()
    return bool(t.hash_hex(got) == seen.hash)


def _latest(conn: Connection, owner: str, *, after: int | None) -> _dt.datetime | None:
    q = select(func.max(t.events.c.at)).where(t.events_of(owner))
    if after is not None:
        q = q.where(t.events.c.seq > after)
    at: _dt.datetime | None = conn.execute(q).scalar()
    return at
