"""bridge: identity crosswalk entries and their active identifier slots

Revision ID: bridge_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "bridge_0001"
down_revision = None
branch_labels = ("bridge",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bridge_crosswalk_entries",
        sa.Column("entry_id", sa.String(71), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("asserted_by", sa.String(255), nullable=False),
        sa.Column("asserted_at", UTCDateTime, nullable=False),
        sa.Column("entry", sa.JSON, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("superseded_by", sa.String(71), nullable=True),
        sa.Column("stored_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_bridge_crosswalk_entries"),
    )
    op.create_index("ix_bridge_crosswalk_entries_asserted_by", "bridge_crosswalk_entries", ["asserted_by"])
    op.create_table(
        "bridge_crosswalk_slots",
        sa.Column("slot", sa.String(32), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("entry_id", sa.String(71), nullable=False),
        sa.PrimaryKeyConstraint("slot", "value", name="pk_bridge_crosswalk_slots"),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["bridge_crosswalk_entries.entry_id"],
            name="fk_bridge_crosswalk_slots_entry_id_bridge_crosswalk_entries",
        ),
    )
    op.create_index("ix_bridge_crosswalk_slots_entry_id", "bridge_crosswalk_slots", ["entry_id"])


def downgrade() -> None:
    op.drop_index("ix_bridge_crosswalk_slots_entry_id", table_name="bridge_crosswalk_slots")
    op.drop_table("bridge_crosswalk_slots")
    op.drop_index("ix_bridge_crosswalk_entries_asserted_by", table_name="bridge_crosswalk_entries")
    op.drop_table("bridge_crosswalk_entries")
