"""node: the Catena-X PCF exchange requests (CX-0136, asynchronous request and response) this
node sent and received through its connector

Revision ID: node_0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "node_0001"
down_revision = None
branch_labels = ("node",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cx_pcf_exchanges",
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("partner_did", sa.String(200), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("partner_bpnl", sa.String(16), nullable=True),
        sa.Column("product_id", sa.String(512), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("auto", sa.Boolean, nullable=False),
        sa.Column("comment", sa.String(250), nullable=True),
        sa.Column("pcf", sa.JSON, nullable=True),
        sa.Column("answers", sa.Integer, nullable=False),
        sa.Column("outbox_key", sa.String(128), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("role", "partner_did", "request_id", name="pk_cx_pcf_exchanges"),
    )
    op.create_index("ix_cx_pcf_exchanges_role", "cx_pcf_exchanges", ["role", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_cx_pcf_exchanges_role", table_name="cx_pcf_exchanges")
    op.drop_table("cx_pcf_exchanges")
