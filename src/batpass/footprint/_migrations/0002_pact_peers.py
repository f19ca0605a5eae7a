"""footprint: the requesting side of PACT (partners' credentials, requests sent)

Revision ID: footprint_0002
Revises: footprint_0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "footprint_0002"
down_revision = "footprint_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pact_peers",
        sa.Column("base_url", sa.String(512), nullable=False),
        sa.Column("token_url", sa.Text, nullable=False),
        sa.Column("client_id", sa.String(256), nullable=False),
        sa.Column("client_secret", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("base_url", name="pk_pact_peers"),
    )
    op.create_table(
        "pact_requests",
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("peer_base_url", sa.String(512), nullable=False),
        sa.Column("criteria", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=False),
        sa.Column("answered_at", UTCDateTime, nullable=True),
        sa.Column("answer_event_id", sa.String(256), nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_pact_requests"),
    )
    op.create_index("ix_pact_requests_peer", "pact_requests", ["peer_base_url"])


def downgrade() -> None:
    op.drop_index("ix_pact_requests_peer", table_name="pact_requests")
    op.drop_table("pact_requests")
    op.drop_table("pact_peers")
