"""participants: legal entities and their sites

Revision ID: participants_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "participants_0001"
down_revision = None
branch_labels = ("participants",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "participants",
        sa.Column("did", sa.String(255), nullable=False),
        sa.Column("legal_name", sa.Text, nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("bpnl", sa.String(16), nullable=True),
        sa.Column("corporate_number", sa.String(13), nullable=True),
        sa.Column("lei", sa.String(20), nullable=True),
        sa.Column("sites", sa.JSON, nullable=False),
        sa.Column("is_self", sa.String(1), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("did", name="pk_participants"),
    )
    op.create_index("ix_participants_bpnl", "participants", ["bpnl"])
    op.create_index("ix_participants_corporate_number", "participants", ["corporate_number"])


def downgrade() -> None:
    op.drop_index("ix_participants_corporate_number", table_name="participants")
    op.drop_index("ix_participants_bpnl", table_name="participants")
    op.drop_table("participants")
