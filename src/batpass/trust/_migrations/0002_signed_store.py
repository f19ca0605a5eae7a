"""trust: pinned operator keys, and the node's signed attestation on the rows it relies on

Revision ID: trust_0002
Revises: trust_0001
Create Date: 2026-12-06

Rows stored before this revision carry no attestation: the service reports them as findings
and leaves them out (a trust list or a held credential is added again, a policy set again).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "trust_0002"
down_revision = "trust_0001"
branch_labels = None
depends_on = None

_ATTESTED = ("trust_lists", "trust_policies", "trust_wallet")


def upgrade() -> None:
    op.create_table(
        "trust_pinned_keys",
        sa.Column("operator", sa.Text, nullable=False),
        sa.Column("kid", sa.Text, nullable=False),
        sa.Column("jwk", sa.JSON, nullable=False),
        sa.Column("pinned_at", UTCDateTime, nullable=False),
        sa.Column("retired_at", UTCDateTime, nullable=True),
        sa.Column("attestation", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("operator", "kid", name="pk_trust_pinned_keys"),
    )
    for table in _ATTESTED:
        op.add_column(table, sa.Column("attestation", sa.Text, nullable=True))


def downgrade() -> None:
    for table in _ATTESTED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("attestation")
    op.drop_table("trust_pinned_keys")
