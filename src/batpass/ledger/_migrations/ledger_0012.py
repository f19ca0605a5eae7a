"""ledger: the edges on numbers — each lot numbered within its owner (``ledger_lots.lot_no``,
with the last number given kept on the owner's ``ledger_owners`` row), a parent lot the store
does not hold (a supplier's lot, received by reference) numbered in ``ledger_foreign_lots``
(negative numbers), and ``ledger_edges`` keyed by (owner_no, child_no, parent_owner_no,
parent_no, event_seq) instead of three 36-character strings stored twice (row and parent index)

Every owner's lots are numbered in the order of their events (then of their ids), every parent
an edge names and the store does not hold is numbered per owner (in the order of the ids), and
the edges are copied with the numbers in place of the strings, the event as its seq. Nothing
hashed or signed changes (the events are not touched; edges and lots are derived data). The
downgrade gives the strings back.

Revision ID: ledger_0012
Revises: ledger_0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "ledger_0012"
down_revision = "ledger_0011"
branch_labels = None
depends_on = None

_NUMBERED = "row_number() OVER (PARTITION BY owner ORDER BY seq, id)"


def _edges_table(*, numbered: bool) -> None:
    """``ledger_edges`` as this revision (lots and the event as numbers) or the one before has it."""
    cols: list[sa.Column[Any]]
    if numbered:
        cols = [
            sa.Column("owner_no", sa.Integer, nullable=False),
            sa.Column("child_no", sa.BigInteger, nullable=False),
            sa.Column("parent_owner_no", sa.Integer, nullable=False),
            sa.Column("parent_no", sa.BigInteger, nullable=False),
            sa.Column("event_seq", sa.BigInteger, nullable=False),
        ]
        key = ("owner_no", "child_no", "parent_owner_no", "parent_no", "event_seq")
    else:
        cols = [
            sa.Column("owner_no", sa.Integer, nullable=False),
            sa.Column("child", sa.String(128), nullable=False),
            sa.Column("parent_owner_no", sa.Integer, nullable=False),
            sa.Column("parent", sa.String(128), nullable=False),
            sa.Column("event_id", sa.String(128), nullable=False),
        ]
        key = ("owner_no", "child", "parent_owner_no", "parent", "event_id")
    op.create_table(
        "ledger_edges",
        *cols,
        sa.Column("input_kg", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint(*key, name="pk_ledger_edges"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_ledger_edges_parent", "ledger_edges", ["parent_owner_no", "parent_no" if numbered else "parent"]
    )


def _set_aside_edges() -> None:
    """The current edges renamed ``ledger_edges_old``, without the names the new table takes."""
    op.drop_index("ix_ledger_edges_parent", table_name="ledger_edges")
    op.rename_table("ledger_edges", "ledger_edges_old")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("pk_ledger_edges", "ledger_edges_old", type_="primary")


def _lots_sqlite(*, numbered: bool) -> None:
    """SQLite's ``ledger_lots`` rebuilt with (numbered in event order) or without ``lot_no``."""
    bind = op.get_bind()
    create = str(
        bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ledger_lots'").scalar_one()
    )
    indexes = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger_lots' AND sql IS NOT NULL"
    ).all()
    for name, _sql in indexes:
        op.drop_index(name, table_name="ledger_lots")
    cols = [r[1] for r in bind.exec_driver_sql("PRAGMA table_info(ledger_lots)").all() if r[1] != "lot_no"]
    op.rename_table("ledger_lots", "ledger_lots_old")
    if numbered:
        create = re.sub(r"(\s*)(CONSTRAINT pk_ledger_lots)", r"\1lot_no BIGINT NOT NULL,\1\2", create, count=1)
        op.execute(create)
        listed = ", ".join(cols)
        op.execute(f"INSERT INTO ledger_lots ({listed}, lot_no) SELECT {listed}, {_NUMBERED} FROM ledger_lots_old")
    else:
        op.execute(re.sub(r"\s*lot_no BIGINT NOT NULL,", "", create, count=1))
        listed = ", ".join(cols)
        op.execute(f"INSERT INTO ledger_lots ({listed}) SELECT {listed} FROM ledger_lots_old")
    op.drop_table("ledger_lots_old")
    for name, sql in indexes:
        if name != "ix_ledger_lots_no":
            op.execute(sql)


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("ledger_owners", sa.Column("last_lot_no", sa.BigInteger, nullable=False, server_default="0"))
    op.add_column("ledger_owners", sa.Column("last_foreign_no", sa.BigInteger, nullable=False, server_default="0"))
    op.execute(
        "INSERT INTO ledger_owners (owner) SELECT DISTINCT owner FROM ledger_lots "
        "WHERE owner NOT IN (SELECT owner FROM ledger_owners) ORDER BY owner"
    )
    if bind.dialect.name == "sqlite":
        _lots_sqlite(numbered=True)
    else:
        op.add_column("ledger_lots", sa.Column("lot_no", sa.BigInteger, nullable=True))
        op.execute(
            f"UPDATE ledger_lots SET lot_no = n.no FROM (SELECT owner, id, {_NUMBERED} AS no FROM ledger_lots) n "
            "WHERE ledger_lots.owner = n.owner AND ledger_lots.id = n.id"
        )
        op.alter_column("ledger_lots", "lot_no", nullable=False)
    op.create_index("ix_ledger_lots_no", "ledger_lots", ["owner", "lot_no"], unique=True)
    op.execute(
        "UPDATE ledger_owners SET last_lot_no = "
        "COALESCE((SELECT max(l.lot_no) FROM ledger_lots l WHERE l.owner = ledger_owners.owner), 0)"
    )
    op.create_table(
        "ledger_foreign_lots",
        sa.Column("owner_no", sa.Integer, nullable=False),
        sa.Column("no", sa.BigInteger, nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("owner_no", "no", name="pk_ledger_foreign_lots"),
        sa.UniqueConstraint("owner_no", "id", name="uq_ledger_foreign_lots_id"),
    )
    # the parents no lot of the store is: numbered -1, -2, … per owner in the order of their ids
    op.execute(
        "INSERT INTO ledger_foreign_lots (owner_no, no, id) "
        "SELECT parent_owner_no, -row_number() OVER (PARTITION BY parent_owner_no ORDER BY parent), parent "
        "FROM (SELECT DISTINCT e.parent_owner_no, e.parent FROM ledger_edges e "
        "JOIN ledger_owners o ON o.no = e.parent_owner_no "
        "WHERE NOT EXISTS (SELECT 1 FROM ledger_lots l WHERE l.owner = o.owner AND l.id = e.parent)) p"
    )
    op.execute(
        "UPDATE ledger_owners SET last_foreign_no = "
        "COALESCE((SELECT min(f.no) FROM ledger_foreign_lots f WHERE f.owner_no = ledger_owners.no), 0)"
    )
    _set_aside_edges()
    _edges_table(numbered=True)
    op.execute(
        "INSERT INTO ledger_edges (owner_no, child_no, parent_owner_no, parent_no, event_seq, input_kg) "
        "SELECT e.owner_no, c.lot_no, e.parent_owner_no, COALESCE(p.lot_no, f.no), ev.seq, e.input_kg "
        "FROM ledger_edges_old e "
        "JOIN ledger_owners co ON co.no = e.owner_no "
        "JOIN ledger_owners po ON po.no = e.parent_owner_no "
        "JOIN ledger_lots c ON c.owner = co.owner AND c.id = e.child "
        "LEFT JOIN ledger_lots p ON p.owner = po.owner AND p.id = e.parent "
        "LEFT JOIN ledger_foreign_lots f ON f.owner_no = e.parent_owner_no AND f.id = e.parent "
        "JOIN ledger_events ev ON ev.owner_no = e.owner_no AND ev.id = e.event_id"
    )
    op.drop_table("ledger_edges_old")


def downgrade() -> None:
    bind = op.get_bind()
    _set_aside_edges()
    _edges_table(numbered=False)
    op.execute(
        "INSERT INTO ledger_edges (owner_no, child, parent_owner_no, parent, event_id, input_kg) "
        "SELECT e.owner_no, c.id, e.parent_owner_no, COALESCE(p.id, f.id), ev.id, e.input_kg "
        "FROM ledger_edges_old e "
        "JOIN ledger_owners co ON co.no = e.owner_no "
        "JOIN ledger_owners po ON po.no = e.parent_owner_no "
        "JOIN ledger_lots c ON c.owner = co.owner AND c.lot_no = e.child_no "
        "LEFT JOIN ledger_lots p ON p.owner = po.owner AND p.lot_no = e.parent_no "
        "LEFT JOIN ledger_foreign_lots f ON f.owner_no = e.parent_owner_no AND f.no = e.parent_no "
        "JOIN ledger_events ev ON ev.owner_no = e.owner_no AND ev.seq = e.event_seq"
    )
    op.drop_table("ledger_edges_old")
    op.drop_table("ledger_foreign_lots")
    if bind.dialect.name == "sqlite":
        _lots_sqlite(numbered=False)
    else:
        op.drop_index("ix_ledger_lots_no", table_name="ledger_lots")
        op.drop_column("ledger_lots", "lot_no")
    op.drop_column("ledger_owners", "last_foreign_no")
    op.drop_column("ledger_owners", "last_lot_no")
