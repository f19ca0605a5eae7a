"""ouranos: operators' releases of their site registers to other hosted operators

Revision ID: ouranos_0003
Revises: ouranos_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "ouranos_0003"
down_revision = "ouranos_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ouranos_site_release",
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("released_to_operator_id", sa.String(36), nullable=False),
        sa.Column("released_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("operator_id", "released_to_operator_id", name="pk_ouranos_site_release"),
    )


def downgrade() -> None:
    op.drop_table("ouranos_site_release")
