"""footprint: the PACT v2 document a footprint was given as (served as given by the v2.3 API)

Revision ID: footprint_0003
Revises: footprint_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "footprint_0003"
down_revision = "footprint_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pact_footprints") as batch:
        batch.add_column(sa.Column("v2_document", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pact_footprints") as batch:
        batch.drop_column("v2_document")
