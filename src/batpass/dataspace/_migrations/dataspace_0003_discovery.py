"""dataspace: the operator's BPN-DID directory (BDRS), discovery finder and BPN discovery

Revision ID: dataspace_0003
Revises: dataspace_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "dataspace_0003"
down_revision = "dataspace_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bdrs_entries",
        sa.Column("bpn", sa.String(16), nullable=False),
        sa.Column("did", sa.String(512), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("bpn", name="pk_bdrs_entries"),
    )
    op.create_table(
        "discovery_endpoints",
        sa.Column("resource_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("endpoint_address", sa.String(300), nullable=False),
        sa.Column("documentation", sa.String(500), nullable=True),
        sa.Column("ttl", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("resource_id", name="pk_discovery_endpoints"),
    )
    op.create_table(
        "bpn_discovery",
        sa.Column("resource_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("bpn", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("resource_id", name="pk_bpn_discovery"),
        sa.UniqueConstraint("type", "key", "bpn", name="uq_bpn_discovery"),
    )


def downgrade() -> None:
    op.drop_table("bpn_discovery")
    op.drop_table("discovery_endpoints")
    op.drop_table("bdrs_entries")
