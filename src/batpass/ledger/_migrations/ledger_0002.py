"""ledger: the suppliers' public keys that verified a received summary, sealed with the node's
secrets key (so a summary is checked again whenever it is used, without the network)

Revision ID: ledger_0002
Revises: ledger_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "ledger_0002"
down_revision = "ledger_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_verified_keys",
        sa.Column("kid", sa.String(512), nullable=False),
        sa.Column("sealed_jwk", sa.Text, nullable=False),
        sa.Column("verified_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("kid", name="pk_ledger_verified_keys"),
    )


def downgrade() -> None:
    op.drop_table("ledger_verified_keys")
