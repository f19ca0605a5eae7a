"""Crosswalk tables on the shared metadata and the SQL store of the crosswalk.

``bridge_crosswalk_entries`` keeps every accepted signed entry (superseded ones too, for the
record of who asserted what); ``bridge_crosswalk_slots`` holds, for each identifier of an
*active* entry, the entry that maps it — its primary key (slot, value) makes "one active mapping
per identifier" a database rule, so two concurrent contradictory writes cannot both land.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, String, Table, Text, delete, insert, select, update

from batpass.bridge.model import CrosswalkEntry, EntryKind, SignedEntry, StoredEntry
from batpass.store import UnitOfWork, UTCDateTime, metadata

__all__ = ["SqlCrosswalkStore", "entries_table", "slots_table"]

_ID = 71  # "sha256:" + 64 hex

entries_table = Table(
    "bridge_crosswalk_entries",
    metadata,
    Column("entry_id", String(_ID), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("asserted_by", String(255), nullable=False, index=True),
    Column("asserted_at", UTCDateTime, nullable=False),
    Column("entry", JSON, nullable=False),
    Column("signature", Text, nullable=False),
    Column("superseded_by", String(_ID), nullable=True),
    Column("stored_at", UTCDateTime, nullable=False),
)

slots_table = Table(
    "bridge_crosswalk_slots",
    metadata,
    Column("slot", String(32), primary_key=True),
    Column("value", String(255), primary_key=True),
    Column("entry_id", String(_ID), ForeignKey("bridge_crosswalk_entries.entry_id"), nullable=False, index=True),
)


def _from_row(row: Any) -> StoredEntry:
    entry = CrosswalkEntry.from_json(row.entry)
    return StoredEntry(SignedEntry(entry, row.signature), stored_at=row.stored_at, superseded_by=row.superseded_by)


class SqlCrosswalkStore:
    """The crosswalk's persistence inside one unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._conn = uow.conn

    def get(self, entry_id: str) -> StoredEntry | None:
        row = self._conn.execute(select(entries_table).where(entries_table.c.entry_id == entry_id)).first()
        return None if row is None else _from_row(row)

    def active_holding(self, slots: Iterable[tuple[str, str]]) -> list[StoredEntry]:
        """Active entries that map any of the (slot, value) identifiers, oldest first."""
        ids: set[str] = set()
        for slot, value in slots:
            hit = self._conn.execute(
                select(slots_table.c.entry_id).where(slots_table.c.slot == slot, slots_table.c.value == value)
            ).scalar_one_or_none()
            if hit is not None:
                ids.add(hit)
        found = [e for e in (self.get(i) for i in sorted(ids)) if e is not None]
        return sorted(found, key=lambda e: (e.entry.asserted_at, e.entry_id))

    def find(self, slot: str, value: str) -> StoredEntry | None:
        row = self._conn.execute(
            select(entries_table)
            .join(slots_table, slots_table.c.entry_id == entries_table.c.entry_id)
            .where(slots_table.c.slot == slot, slots_table.c.value == value)
        ).first()
        return None if row is None else _from_row(row)

    def list_active(self, kind: EntryKind | None = None) -> list[StoredEntry]:
        q = select(entries_table).where(entries_table.c.superseded_by.is_(None))
        if kind is not None:
            q = q.where(entries_table.c.kind == kind.value)
        rows = self._conn.execute(q.order_by(entries_table.c.asserted_at, entries_table.c.entry_id))
        return [_from_row(r) for r in rows]

    def supersede(self, old_id: str, new_id: str) -> None:
        self._conn.execute(delete(slots_table).where(slots_table.c.entry_id == old_id))
        self._conn.execute(update(entries_table).where(entries_table.c.entry_id == old_id).values(superseded_by=new_id))

    def add(self, signed: SignedEntry, *, now: dt.datetime) -> StoredEntry:
        e = signed.entry
        self._conn.execute(
            insert(entries_table).values(
                entry_id=signed.entry_id,
                kind=e.kind.value,
                asserted_by=str(e.asserted_by),
                asserted_at=e.asserted_at,
                entry=e.to_json(),
                signature=signed.signature,
                superseded_by=None,
                stored_at=now,
            )
        )
        self._conn.execute(
            insert(slots_table),
            [{"slot": k, "value": v, "entry_id": signed.entry_id} for k, v in e.slots().items()],
        )
        return StoredEntry(signed, stored_at=now, superseded_by=None)
