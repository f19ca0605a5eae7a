"""ledger: shipments reconciled across nodes (the shipper's, the receiver's and an authority's
view of each shipment to another owner, with its outcome and alert)

Revision ID: ledger_0005
Revises: ledger_0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "ledger_0005"
down_revision = "ledger_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_reconciliation",
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("shipper", sa.String(200), nullable=False),
        sa.Column("shipment", sa.String(128), nullable=False),
        sa.Column("reported_by", sa.String(200), nullable=False),
        sa.Column("lot", sa.String(128), nullable=False),
        sa.Column("to_owner", sa.String(200), nullable=False),
        sa.Column("to_site", sa.String(128), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("shipped_at", UTCDateTime, nullable=False),
        sa.Column("shipped_kg", sa.Float, nullable=True),
        sa.Column("window_days", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("judged_at", UTCDateTime, nullable=True),
        sa.Column("alert_id", sa.String(36), nullable=True),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("owner", "role", "shipper", "shipment", "reported_by", name="pk_ledger_reconciliation"),
    )


def downgrade() -> None:
    op.drop_table("ledger_reconciliation")
