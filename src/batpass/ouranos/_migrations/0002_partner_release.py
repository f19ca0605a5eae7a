"""ouranos: operators' releases of their data to named Catena-X partners through the bridge

Revision ID: ouranos_0002
Revises: ouranos_0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "ouranos_0002"
down_revision = "ouranos_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ouranos_partner_release",
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("partner_bpnl", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("released_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("operator_id", "partner_bpnl", "scope", name="pk_ouranos_partner_release"),
    )


def downgrade() -> None:
    op.drop_table("ouranos_partner_release")
