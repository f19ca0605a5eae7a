"""sites: a site's owner, the hosted operator whose register holds it on an Ouranos hub

Revision ID: sites_0003
Revises: sites_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "sites_0003"
down_revision = "sites_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("owner", sa.String(64), nullable=True))
    op.create_index("ix_sites_owner", "sites", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_sites_owner", table_name="sites")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("owner")
