"""Participant tables and the SQL implementation of the participant store."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, String, Table, Text, insert, select, update

from batpass.participants.model import Participant
from batpass.store import UnitOfWork, UTCDateTime, metadata

participants_table = Table(
    "participants",
    metadata,
    Column("did", String(255), primary_key=True),
    Column("legal_name", Text, nullable=False),
    Column("country", String(2), nullable=False),
    Column("bpnl", String(16), nullable=True, index=True),
    Column("corporate_number", String(13), nullable=True, index=True),
    Column("lei", String(20), nullable=True),
    Column("sites", JSON, nullable=False),
    Column("is_self", String(1), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


class SqlParticipantStore:
    def __init__(self, uow: UnitOfWork) -> None:
        self._conn = uow.conn

    def upsert(self, p: Participant, *, at: dt.datetime, is_self: bool = False) -> None:
        values = {
            "legal_name": p.legal_name,
            "country": p.country,
            "bpnl": p.bpnl,
            "corporate_number": p.corporate_number,
            "lei": p.lei,
            "sites": [s.to_json() for s in p.sites],
            "is_self": "Y" if is_self else "N",
            "updated_at": at,
        }
        exists = self._conn.execute(select(participants_table.c.did).where(participants_table.c.did == p.did)).first()
        if exists:
            self._conn.execute(update(participants_table).where(participants_table.c.did == p.did).values(**values))
        else:
            self._conn.execute(insert(participants_table).values(did=p.did, **values))

    def get(self, did: str) -> Participant | None:
        row = self._conn.execute(select(participants_table).where(participants_table.c.did == did)).mappings().first()
        return None if row is None else _from_row(dict(row))

    def get_self(self) -> Participant | None:
        row = (
            self._conn.execute(select(participants_table).where(participants_table.c.is_self == "Y")).mappings().first()
        )
        return None if row is None else _from_row(dict(row))

    def list(self) -> list[Participant]:
        rows = self._conn.execute(select(participants_table).order_by(participants_table.c.legal_name)).mappings()
        return [_from_row(dict(r)) for r in rows]


def _from_row(row: dict[str, object]) -> Participant:
    return Participant.from_json(
        {
            "legalName": row["legal_name"],
            "country": row["country"],
            "did": row["did"],
            "bpnl": row["bpnl"],
            "corporateNumber": row["corporate_number"],
            "lei": row["lei"],
            "sites": row["sites"],
        }
    )
