"""ledger: export authorisations say how they were given — ``self_declared`` by the shipper, or
held as an authority's ``ExportAuthorisationCredential`` (its issuer, its token and id) — and
carry a scope of materials and waste classes (docs/outflows.md, "Authorisations as credentials").
Rows stored before are self-declared, for their one material.

Revision ID: ledger_0004
Revises: ledger_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ledger_0004"
down_revision = "ledger_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_authorisations") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="self_declared"))
        batch.add_column(sa.Column("materials", sa.Text(), nullable=True))
        batch.add_column(sa.Column("waste_classes", sa.Text(), nullable=True))
        batch.add_column(sa.Column("issuer", sa.String(200), nullable=True))
        batch.add_column(sa.Column("credential_id", sa.String(200), nullable=True))
        batch.add_column(sa.Column("credential", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_authorisations") as batch:
        for name in ("credential", "credential_id", "issuer", "waste_classes", "materials", "kind"):
            batch.drop_column(name)
