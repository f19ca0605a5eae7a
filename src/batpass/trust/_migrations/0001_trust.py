"""trust: issued credentials, status lists, nonces, trust lists, policies, wallet

Revision ID: trust_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "trust_0001"
down_revision = None
branch_labels = ("trust",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trust_issued",
        sa.Column("id", sa.String(80), nullable=False),
        sa.Column("ctype", sa.String(80), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("holder", sa.Text, nullable=True),
        sa.Column("status_list", sa.String(36), nullable=False),
        sa.Column("status_index", sa.Integer, nullable=False),
        sa.Column("issued_at", UTCDateTime, nullable=False),
        sa.Column("valid_until", UTCDateTime, nullable=True),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("summary_digest", sa.String(80), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_trust_issued"),
    )
    op.create_table(
        "trust_status_lists",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("size_bits", sa.Integer, nullable=False),
        sa.Column("next_index", sa.Integer, nullable=False),
        sa.Column("bits", sa.LargeBinary, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trust_status_lists"),
    )
    op.create_table(
        "trust_nonces",
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("audience", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("used_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("nonce", name="pk_trust_nonces"),
    )
    op.create_table(
        "trust_lists",
        sa.Column("ecosystem", sa.String(32), nullable=False),
        sa.Column("operator", sa.Text, nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("jws", sa.Text, nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("loaded_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("ecosystem", name="pk_trust_lists"),
    )
    op.create_table(
        "trust_policies",
        sa.Column("ecosystem", sa.String(32), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("ecosystem", name="pk_trust_policies"),
    )
    op.create_table(
        "trust_wallet",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("ctype", sa.String(80), nullable=False),
        sa.Column("issuer", sa.Text, nullable=False),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("stored_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trust_wallet"),
    )
    op.create_index("ix_trust_wallet_ctype", "trust_wallet", ["ctype"])


def downgrade() -> None:
    op.drop_index("ix_trust_wallet_ctype", table_name="trust_wallet")
    for name in (
        "trust_wallet",
        "trust_policies",
        "trust_lists",
        "trust_nonces",
        "trust_status_lists",
        "trust_issued",
    ):
        op.drop_table(name)
