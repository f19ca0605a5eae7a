"""ledger: the slim store — profiles stored once per owner and text (``ledger_profiles``, lots
refer to them by number), edges without the (owner, event_id) index and, on SQLite, without a
rowid, the battery index partial

Existing lots' profile texts are moved out and deduplicated per owner; nothing hashed or signed
changes (profiles are derived data outside the chain).

Revision ID: ledger_0007
Revises: ledger_0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "ledger_0007"
down_revision = "ledger_0006"
branch_labels = None
depends_on = None

_PAGE = 10_000
_EDGE_COLUMNS = "owner, child, parent_owner, parent, event_id, input_kg"


def _edges_table(name: str, *, rowid: bool) -> None:
    op.create_table(
        name,
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("child", sa.String(128), nullable=False),
        sa.Column("parent_owner", sa.String(200), nullable=False),
        sa.Column("parent", sa.String(128), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("input_kg", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("owner", "child", "parent_owner", "parent", "event_id", name="pk_ledger_edges"),
        sqlite_with_rowid=rowid,
    )


def _rebuild_edges(*, rowid: bool) -> None:
    """SQLite: the edges copied into a table with (or without) a rowid."""
    op.drop_index("ix_ledger_edges_parent", table_name="ledger_edges")
    op.rename_table("ledger_edges", "ledger_edges_old")
    _edges_table("ledger_edges", rowid=rowid)
    op.execute(f"INSERT INTO ledger_edges ({_EDGE_COLUMNS}) SELECT {_EDGE_COLUMNS} FROM ledger_edges_old")
    op.drop_table("ledger_edges_old")
    op.create_index("ix_ledger_edges_parent", "ledger_edges", ["parent_owner", "parent"])


def _move_profiles(bind: sa.Connection) -> None:
    """Each owner's distinct profile texts into ``ledger_profiles`` (numbered 1, 2, … in the
    order of the lots' ids), each lot given its text's number; a page of lots at a time."""
    owners = [o for (o,) in bind.execute(sa.text("SELECT DISTINCT owner FROM ledger_lots ORDER BY owner"))]
    for owner in owners:
        numbers: dict[str, int] = {}
        after = ""
        while True:
            page = bind.execute(
                sa.text("SELECT id, profile FROM ledger_lots WHERE owner = :o AND id > :a ORDER BY id LIMIT :n"),
                {"o": owner, "a": after, "n": _PAGE},
            ).all()
            if not page:
                break
            new: list[dict[str, object]] = []
            sets: list[dict[str, object]] = []
            for lot, body in page:
                no = numbers.get(body)
                if no is None:
                    no = numbers[body] = len(numbers) + 1
                    digest = hashlib.sha256(body.encode()).hexdigest()
                    new.append({"o": owner, "n": no, "d": digest, "b": body})
                sets.append({"o": owner, "i": lot, "n": no})
            if new:
                bind.execute(
                    sa.text("INSERT INTO ledger_profiles (owner, no, digest, body) VALUES (:o, :n, :d, :b)"), new
                )
            bind.execute(sa.text("UPDATE ledger_lots SET profile_no = :n WHERE owner = :o AND id = :i"), sets)
            after = page[-1][0]


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    op.create_table(
        "ledger_profiles",
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("no", sa.BigInteger, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("owner", "no", name="pk_ledger_profiles"),
        sa.UniqueConstraint("owner", "digest", name="uq_ledger_profiles_digest"),
    )
    op.add_column("ledger_lots", sa.Column("profile_no", sa.BigInteger, nullable=True))
    _move_profiles(bind)
    op.drop_index("ix_ledger_lots_battery", table_name="ledger_lots")
    with op.batch_alter_table("ledger_lots") as batch:
        batch.drop_column("profile")
        batch.alter_column("profile_no", existing_type=sa.BigInteger, nullable=False)
    where = sa.text("battery_id IS NOT NULL")
    op.create_index(
        "ix_ledger_lots_battery",
        "ledger_lots",
        ["owner", "battery_id"],
        sqlite_where=where,
        postgresql_where=where,
    )
    op.drop_index("ix_ledger_edges_event", table_name="ledger_edges")
    if sqlite:
        _rebuild_edges(rowid=False)


def downgrade() -> None:
    bind = op.get_bind()
    op.add_column("ledger_lots", sa.Column("profile", sa.Text, nullable=True))
    op.execute(
        "UPDATE ledger_lots SET profile = (SELECT p.body FROM ledger_profiles p "
        "WHERE p.owner = ledger_lots.owner AND p.no = ledger_lots.profile_no)"
    )
    op.drop_index("ix_ledger_lots_battery", table_name="ledger_lots")
    with op.batch_alter_table("ledger_lots") as batch:
        batch.drop_column("profile_no")
        batch.alter_column("profile", existing_type=sa.Text, nullable=False)
    op.create_index("ix_ledger_lots_battery", "ledger_lots", ["owner", "battery_id"])
    op.drop_table("ledger_profiles")
    if bind.dialect.name == "sqlite":
        _rebuild_edges(rowid=True)
    op.create_index("ix_ledger_edges_event", "ledger_edges", ["owner", "event_id"])
