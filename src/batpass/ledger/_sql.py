"""The ledger's tables on the shared metadata, and the SQL side of its ports.

Every table is keyed by ``owner`` (the DID whose ledger a row belongs to): the Ouranos hub keeps
many operators' ledgers in one database, and every query names the owner. Same SQL on SQLite and
PostgreSQL (SQLAlchemy Core only). The hand-written migration in ``_migrations/`` matches these
definitions exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    tuple_,
)

from batpass.store import UTCDateTime, metadata

__all__ = [
    "alerts",
    "authorisations",
    "batches",
    "claims",
    "credits",
    "edges",
    "events",
    "heads",
    "lots",
    "received_summaries",
]

OWNER = 200  # a DID

events = Table(
    "ledger_events",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("id", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("body", Text, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("batch_no", Integer, nullable=False),
    PrimaryKeyConstraint("owner", "seq", name="pk_ledger_events"),
    UniqueConstraint("owner", "id", name="uq_ledger_events_owner"),
)

heads = Table(
    "ledger_heads",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("batch_no", Integer, nullable=False),
    Column("root", String(64), nullable=False),
    PrimaryKeyConstraint("owner", name="pk_ledger_heads"),
)

batches = Table(
    "ledger_batches",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("batch_no", Integer, nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("root", String(64), nullable=False),
    Column("kid", Text, nullable=False),
    Column("jws", Text, nullable=False),
    Column("signed_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("owner", "batch_no", name="pk_ledger_batches"),
)

lots = Table(
    "ledger_lots",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("id", String(128), nullable=False),
    Column("material", String(64), nullable=False),
    Column("unit", String(8), nullable=False),
    Column("quantity", Float, nullable=False),
    Column("mass_kg", Float, nullable=False),
    Column("remaining_kg", Float, nullable=False),
    Column("mass_per_piece_kg", Float, nullable=True),
    Column("site", String(128), nullable=False),
    Column("country", String(2), nullable=False),
    Column("custody", String(32), nullable=False),
    Column("recycled", String(16), nullable=True),
    Column("composition", Text, nullable=False),
    Column("produced_at", UTCDateTime, nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=True),
    Column("battery_id", Text, nullable=True),
    Column("battery", Text, nullable=True),
    Column("held", Boolean, nullable=False),
    Column("voided", Boolean, nullable=False),
    Column("profile", Text, nullable=False),
    PrimaryKeyConstraint("owner", "id", name="pk_ledger_lots"),
)
Index("ix_ledger_lots_battery", lots.c.owner, lots.c.battery_id)

edges = Table(
    "ledger_edges",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("child", String(128), nullable=False),
    Column("parent_owner", String(OWNER), nullable=False),
    Column("parent", String(128), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("input_kg", Float, nullable=False),
    PrimaryKeyConstraint("owner", "child", "parent_owner", "parent", "event_id", name="pk_ledger_edges"),
)
Index("ix_ledger_edges_parent", edges.c.parent_owner, edges.c.parent)
Index("ix_ledger_edges_event", edges.c.owner, edges.c.event_id)

received_summaries = Table(
    "ledger_received_summaries",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("lot", String(128), nullable=False),
    Column("issuer", String(OWNER), nullable=False),
    Column("jws", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("owner", "lot", name="pk_ledger_received_summaries"),
)

authorisations = Table(
    "ledger_authorisations",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("id", String(128), nullable=False),
    Column("holder", String(OWNER), nullable=False),
    Column("material", String(64), nullable=False),
    Column("destinations", Text, nullable=False),
    Column("cap_kg", Float, nullable=False),
    Column("used_kg", Float, nullable=False),
    Column("valid_from", UTCDateTime, nullable=False),
    Column("valid_to", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("owner", "id", name="pk_ledger_authorisations"),
)

alerts = Table(
    "ledger_alerts",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("id", String(36), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("evidence", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("owner", "id", name="pk_ledger_alerts"),
)

credits = Table(
    "ledger_credits",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("lot", String(128), nullable=False),
    Column("element", String(8), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("credited_kg", Float, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("owner", "lot", "element", name="pk_ledger_credits"),
)

claims = Table(
    "ledger_claims",
    metadata,
    Column("owner", String(OWNER), nullable=False),
    Column("id", String(128), nullable=False),
    Column("lot", String(128), nullable=False),
    Column("element", String(8), nullable=False),
    Column("kg", Float, nullable=False),
    Column("claimant", String(OWNER), nullable=False),
    Column("subject", Text, nullable=False),
    Column("custody", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("owner", "id", name="pk_ledger_claims"),
)
Index("ix_ledger_claims_lot", claims.c.owner, claims.c.lot, claims.c.element)

LOT_COLUMNS = (
    lots.c.owner,
    lots.c.id,
    lots.c.material,
    lots.c.unit,
    lots.c.quantity,
    lots.c.mass_kg,
    lots.c.remaining_kg,
    lots.c.mass_per_piece_kg,
    lots.c.site,
    lots.c.country,
    lots.c.custody,
    lots.c.recycled,
    lots.c.composition,
    lots.c.produced_at,
    lots.c.event_id,
    lots.c.kind,
    lots.c.status,
    lots.c.battery,
    lots.c.held,
    lots.c.voided,
    lots.c.profile,
    lots.c.seq,
)

_CHUNK = 400


def chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def select_lots(conn: Connection, owner: str, ids: Sequence[str]) -> list[Any]:
    rows: list[Any] = []
    for part in chunks(list(ids)):
        rows.extend(conn.execute(select(*LOT_COLUMNS).where(lots.c.owner == owner, lots.c.id.in_(part))).all())
    return rows


def select_lots_keyed(conn: Connection, keys: Sequence[tuple[str, str]]) -> list[Any]:
    rows: list[Any] = []
    for part in chunks(list(keys)):
        rows.extend(conn.execute(select(*LOT_COLUMNS).where(tuple_(lots.c.owner, lots.c.id).in_(part))).all())
    return rows
