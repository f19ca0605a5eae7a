"""trust: self-issued tokens already used for a write, kept until they expire (a replayed token is
refused, also when the replay reaches another worker)

Revision ID: trust_0003
Revises: trust_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "trust_0003"
down_revision = "trust_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trust_used_tokens",
        sa.Column("issuer", sa.String(512), nullable=False),
        sa.Column("jti", sa.String(256), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("issuer", "jti", name="pk_trust_used_tokens"),
    )
    op.create_index("ix_trust_used_tokens_expires", "trust_used_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_trust_used_tokens_expires", "trust_used_tokens")
    op.drop_table("trust_used_tokens")
