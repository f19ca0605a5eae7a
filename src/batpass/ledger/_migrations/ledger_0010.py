"""ledger: the event log's small columns — ``ledger_events`` keyed by (owner_no, seq), its owner
a number of ``ledger_owners``, its hash the 32 bytes of the SHA-256 digest instead of 64 hex
characters, its catalogue a number of a new ``ledger_catalogues`` table instead of the digest's
71 characters on every event; on SQLite, ``ledger_lots`` without a rowid (its rows in the primary
key's B-tree, where a rowid table kept a second B-tree of the (owner, id) keys)

Every owner with events is numbered (after those the edges already named, in the order of the
strings), every catalogue digest likewise, and the events are copied with the numbers and the
bytes in place of the strings. Nothing hashed or signed changes: the chain, the Merkle roots and
every answer use the hex text, which the bytes give back exactly. A stored hash that is not
64 lower-case hex characters (a changed row) is kept as the bytes of its text, so it still fails
the chain check; the downgrade gives that text back.

Revision ID: ledger_0010
Revises: ledger_0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "ledger_0010"
down_revision = "ledger_0009"
branch_labels = None
depends_on = None

_REST = "seq, id, kind, at, body, batch_no"
_HEX = re.compile(r"[0-9a-f]{64}")


def _hash_bytes(value: Any) -> Any:
    """SQLite's conversion of a stored hex hash (it has no ``unhex`` before 3.41)."""
    if value is None:
        return None
    text = str(value)
    return bytes.fromhex(text) if _HEX.fullmatch(text) else text.encode()


def _events_table(*, slim: bool) -> None:
    """``ledger_events`` as this revision (``slim``) or the one before has it."""
    op.create_table(
        "ledger_events",
        sa.Column("owner_no", sa.Integer, nullable=False)
        if slim
        else sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("hash", sa.LargeBinary(32) if slim else sa.String(64), nullable=False),
        sa.Column("batch_no", sa.Integer, nullable=False),
        sa.Column("catalogue_no", sa.Integer, nullable=True)
        if slim
        else sa.Column("catalogue", sa.String(80), nullable=True),
        sa.PrimaryKeyConstraint("owner_no" if slim else "owner", "seq", name="pk_ledger_events"),
        sa.UniqueConstraint("owner_no" if slim else "owner", "id", name="uq_ledger_events_owner"),
    )


def _set_aside_events() -> None:
    """The current events renamed ``ledger_events_old``, without the names the new table takes."""
    op.rename_table("ledger_events", "ledger_events_old")
    if op.get_bind().dialect.name == "postgresql":  # constraint (and its index) names are per schema
        op.drop_constraint("uq_ledger_events_owner", "ledger_events_old", type_="unique")
        op.drop_constraint("pk_ledger_events", "ledger_events_old", type_="primary")


def _rebuild_lots_sqlite(*, rowid: bool) -> None:
    """SQLite's ``ledger_lots`` rebuilt with or without a rowid: same columns, constraints,
    indexes (the partial battery index) and rows."""
    bind = op.get_bind()
    table = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ledger_lots'")
    create = re.sub(r"\s*WITHOUT ROWID\s*$", "", str(table.scalar_one()).rstrip())
    indexes = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger_lots' AND sql IS NOT NULL"
    ).all()
    for name, _sql in indexes:
        op.drop_index(name, table_name="ledger_lots")
    op.rename_table("ledger_lots", "ledger_lots_old")
    op.execute(create if rowid else f"{create} WITHOUT ROWID")
    op.execute("INSERT INTO ledger_lots SELECT * FROM ledger_lots_old")
    op.drop_table("ledger_lots_old")
    for _name, sql in indexes:
        op.execute(sql)


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "ledger_catalogues",
        sa.Column("no", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.PrimaryKeyConstraint("no", name="pk_ledger_catalogues"),
        sa.UniqueConstraint("digest", name="uq_ledger_catalogues_digest"),
    )
    op.execute(
        "INSERT INTO ledger_catalogues (digest) SELECT DISTINCT catalogue FROM ledger_events "
        "WHERE catalogue IS NOT NULL ORDER BY catalogue"
    )
    op.execute(
        "INSERT INTO ledger_owners (owner) SELECT DISTINCT owner FROM ledger_events "
        "WHERE owner NOT IN (SELECT owner FROM ledger_owners) ORDER BY owner"
    )
    if bind.dialect.name == "postgresql":
        to_bytes = "CASE WHEN e.hash ~ '^[0-9a-f]{64}$' THEN decode(e.hash, 'hex') ELSE convert_to(e.hash, 'UTF8') END"
    else:
        bind.connection.dbapi_connection.create_function(  # type: ignore[union-attr]
            "batpass_hash_bytes", 1, _hash_bytes, deterministic=True
        )
        to_bytes = "batpass_hash_bytes(e.hash)"
    _set_aside_events()
    _events_table(slim=True)
    rest = ", ".join("e." + x for x in _REST.split(", "))
    op.execute(
        f"INSERT INTO ledger_events (owner_no, {_REST}, hash, catalogue_no) "
        f"SELECT o.no, {rest}, {to_bytes}, c.no FROM ledger_events_old e "
        "JOIN ledger_owners o ON o.owner = e.owner LEFT JOIN ledger_catalogues c ON c.digest = e.catalogue"
    )
    op.drop_table("ledger_events_old")
    if bind.dialect.name == "sqlite":
        _rebuild_lots_sqlite(rowid=False)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        to_text = "CASE WHEN length(e.hash) = 32 THEN encode(e.hash, 'hex') ELSE convert_from(e.hash, 'UTF8') END"
    else:
        to_text = "CASE WHEN length(e.hash) = 32 THEN lower(hex(e.hash)) ELSE CAST(e.hash AS TEXT) END"
    _set_aside_events()
    _events_table(slim=False)
    rest = ", ".join("e." + x for x in _REST.split(", "))
    op.execute(
        f"INSERT INTO ledger_events (owner, {_REST}, hash, catalogue) "
        f"SELECT o.owner, {rest}, {to_text}, c.digest FROM ledger_events_old e "
        "JOIN ledger_owners o ON o.no = e.owner_no LEFT JOIN ledger_catalogues c ON c.no = e.catalogue_no"
    )
    op.drop_table("ledger_events_old")
    op.drop_table("ledger_catalogues")
    if bind.dialect.name == "sqlite":
        _rebuild_lots_sqlite(rowid=True)
