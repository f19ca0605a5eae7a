"""ledger: owners as numbers in the edges — a ``ledger_owners`` table (owner string → small
number, given on first use, never renumbered) and ``ledger_edges`` keyed by (owner_no, child,
parent_owner_no, parent, event_id), its parent index on (parent_owner_no, parent)

Every owner an edge names is numbered (in the order of the strings) and the edges are copied with
the numbers in place of the strings; nothing hashed or signed changes (edges are derived data).

Revision ID: ledger_0008
Revises: ledger_0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ledger_0008"
down_revision = "ledger_0007"
branch_labels = None
depends_on = None

_REST = "child, parent, event_id, input_kg"


def _edges_table(*, numbered: bool) -> None:
    """``ledger_edges`` as this revision (owners as numbers) or the one before (as strings) has it."""
    owner: sa.Integer | sa.String = sa.Integer() if numbered else sa.String(200)
    first, second = ("owner_no", "parent_owner_no") if numbered else ("owner", "parent_owner")
    op.create_table(
        "ledger_edges",
        sa.Column(first, owner, nullable=False),
        sa.Column("child", sa.String(128), nullable=False),
        sa.Column(second, owner, nullable=False),
        sa.Column("parent", sa.String(128), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("input_kg", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint(first, "child", second, "parent", "event_id", name="pk_ledger_edges"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_ledger_edges_parent", "ledger_edges", [second, "parent"])


def _set_aside_edges() -> None:
    """The current edges renamed ``ledger_edges_old``, without the names the new table takes."""
    op.drop_index("ix_ledger_edges_parent", table_name="ledger_edges")
    op.rename_table("ledger_edges", "ledger_edges_old")
    if op.get_bind().dialect.name == "postgresql":  # constraint (and its index) names are per schema
        op.drop_constraint("pk_ledger_edges", "ledger_edges_old", type_="primary")


def upgrade() -> None:
    op.create_table(
        "ledger_owners",
        sa.Column("no", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("no", name="pk_ledger_owners"),
        sa.UniqueConstraint("owner", name="uq_ledger_owners_owner"),
    )
    op.execute(
        "INSERT INTO ledger_owners (owner) SELECT o FROM "
        "(SELECT owner AS o FROM ledger_edges UNION SELECT parent_owner FROM ledger_edges) AS named ORDER BY o"
    )
    _set_aside_edges()
    _edges_table(numbered=True)
    op.execute(
        f"INSERT INTO ledger_edges (owner_no, parent_owner_no, {_REST}) "
        f"SELECT c.no, p.no, {', '.join('e.' + x for x in _REST.split(', '))} FROM ledger_edges_old e "
        "JOIN ledger_owners c ON c.owner = e.owner JOIN ledger_owners p ON p.owner = e.parent_owner"
    )
    op.drop_table("ledger_edges_old")


def downgrade() -> None:
    _set_aside_edges()
    _edges_table(numbered=False)
    op.execute(
        f"INSERT INTO ledger_edges (owner, parent_owner, {_REST}) "
        f"SELECT c.owner, p.owner, {', '.join('e.' + x for x in _REST.split(', '))} FROM ledger_edges_old e "
        "JOIN ledger_owners c ON c.no = e.owner_no JOIN ledger_owners p ON p.no = e.parent_owner_no"
    )
    op.drop_table("ledger_edges_old")
    op.drop_table("ledger_owners")
