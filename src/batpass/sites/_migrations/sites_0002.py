"""sites: the register's version — a token every write to the register (a site, its evidence, a
CAHRA data set loaded) changes in the same transaction, so a reader keeps its parsed view of the
register for as long as the token stands and is never stale after a write (docs/sites.md
"Reading the register").

Revision ID: sites_0002
Revises: sites_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "sites_0002"
down_revision = "sites_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "sites_register",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("version", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sites_register"),
    )
    op.bulk_insert(table, [{"id": 1, "version": str(uuid.uuid4())}])


def downgrade() -> None:
    op.drop_table("sites_register")
