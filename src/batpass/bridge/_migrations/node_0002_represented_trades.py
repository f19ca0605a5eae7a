"""node: the Catena-X suppliers a bridge represents on its Ouranos hub, their parts there, and the
hub trades the bridge answered (or refused) for them (Europe → Japan)

Revision ID: node_0002
Revises: node_0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "node_0002"
down_revision = "node_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "represented_suppliers",
        sa.Column("bpnl", sa.String(16), nullable=False),
        sa.Column("supplier_did", sa.String(512), nullable=False),
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("open_operator_id", sa.String(20), nullable=False),
        sa.Column("plant_id", sa.String(36), nullable=False),
        sa.Column("api_key", sa.Text, nullable=False),
        sa.Column("account_id", sa.String(320), nullable=False),
        sa.Column("account_password", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("bpnl", name="pk_represented_suppliers"),
        sa.UniqueConstraint("operator_id", name="uq_represented_suppliers_operator_id"),
    )
    op.create_table(
        "represented_products",
        sa.Column("bpnl", sa.String(16), nullable=False),
        sa.Column("product_id", sa.String(512), nullable=False),
        sa.Column("trace_id", sa.String(36), nullable=False),
        sa.Column("parts_name", sa.String(50), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("bpnl", "product_id", name="pk_represented_products"),
        sa.UniqueConstraint("trace_id", name="uq_represented_products_trace_id"),
    )
    op.create_table(
        "represented_trades",
        sa.Column("trade_id", sa.String(36), nullable=False),
        sa.Column("bpnl", sa.String(16), nullable=False),
        sa.Column("status_id", sa.String(36), nullable=False),
        sa.Column("buyer_operator_id", sa.String(36), nullable=False),
        sa.Column("product_id", sa.String(512), nullable=True),
        sa.Column("trace_id", sa.String(36), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("answer", sa.JSON, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("trade_id", name="pk_represented_trades"),
    )
    op.create_index("ix_represented_trades_bpnl", "represented_trades", ["bpnl", "outcome"])


def downgrade() -> None:
    op.drop_index("ix_represented_trades_bpnl", table_name="represented_trades")
    op.drop_table("represented_trades")
    op.drop_table("represented_products")
    op.drop_table("represented_suppliers")
