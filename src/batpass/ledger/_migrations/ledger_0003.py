"""ledger: the material catalogue (its SHA-256 digest) each event was checked with; NULL for
events recorded before the catalogue was versioned

Revision ID: ledger_0003
Revises: ledger_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ledger_0003"
down_revision = "ledger_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_events") as batch:
        batch.add_column(sa.Column("catalogue", sa.String(80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_events") as batch:
        batch.drop_column("catalogue")
