"""ledger: an authorisation held as a credential is re-checked when a shipment is checked
against it; one found revoked, expired or no longer from a trusted authority is withdrawn from
that time on — when (``withdrawn_at``) and why (``withdrawn``: reason, rule, detail as JSON), so
the self-audit's replay judges every shipment as it was judged (docs/outflows.md, "Re-checked
per shipment").

Revision ID: ledger_0006
Revises: ledger_0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "ledger_0006"
down_revision = "ledger_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_authorisations") as batch:
        batch.add_column(sa.Column("withdrawn_at", UTCDateTime, nullable=True))
        batch.add_column(sa.Column("withdrawn", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_authorisations") as batch:
        batch.drop_column("withdrawn")
        batch.drop_column("withdrawn_at")
