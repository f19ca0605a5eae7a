"""node: the partners this node released its Industry Core SingleLevelBomAsBuilt to

Revision ID: exchange_0002
Revises: node_0001 (beside the bridge's node_0002: the exchange tables need no bridge)
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "exchange_0002"
down_revision = "node_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cx_bom_releases",
        sa.Column("partner_bpnl", sa.String(16), nullable=False),
        sa.Column("released_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("partner_bpnl", name="pk_cx_bom_releases"),
    )


def downgrade() -> None:
    op.drop_table("cx_bom_releases")
