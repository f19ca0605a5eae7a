"""passport: the newest backup copy held for each passport, signed by this node (so a deleted
newest copy is found: the chain alone cannot tell a truncated list)

Revision ID: passport_0002
Revises: passport_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "passport_0002"
down_revision = "passport_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "passport_backup_heads",
        sa.Column("passport_id", sa.String(36), nullable=False),
        sa.Column("jws", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("passport_id", name="pk_passport_backup_heads"),
    )


def downgrade() -> None:
    op.drop_table("passport_backup_heads")
