"""sites: the site register (mines and processing sites) and the CAHRA data sets it screens with

Revision ID: sites_0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "sites_0001"
down_revision = None
branch_labels = ("sites",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("site_id", sa.String(128), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("region", sa.String(8), nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("screening", sa.JSON, nullable=True),
        sa.Column("flagged", sa.String(1), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("site_id", name="pk_sites"),
    )
    op.create_index("ix_sites_flagged", "sites", ["flagged"])
    op.create_table(
        "sites_cahra",
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("loaded_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("label", name="pk_sites_cahra"),
    )


def downgrade() -> None:
    op.drop_table("sites_cahra")
    op.drop_index("ix_sites_flagged", table_name="sites")
    op.drop_table("sites")
