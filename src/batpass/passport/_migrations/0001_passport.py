"""passport: passports, signed versions, links, mandates, audit log, backup copies

Revision ID: passport_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "passport_0001"
down_revision = None
branch_labels = ("passport",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "passport_passports",
        sa.Column("passport_id", sa.String(36), nullable=False),
        sa.Column("gtin", sa.String(14), nullable=False),
        sa.Column("serial", sa.String(20), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("model_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ended", sa.Boolean, nullable=False),
        sa.Column("operator", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("passport_id", name="pk_passport_passports"),
        sa.UniqueConstraint("gtin", "serial", name="uq_passport_passports_battery"),
    )
    op.create_table(
        "passport_versions",
        sa.Column("passport_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("jws", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("prev_digest", sa.String(64), nullable=True),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("change", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("passport_id", "version", name="pk_passport_versions"),
    )
    op.create_table(
        "passport_links",
        sa.Column("predecessor", sa.String(36), nullable=False),
        sa.Column("successor", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("predecessor", "successor", name="pk_passport_links"),
    )
    op.create_table(
        "passport_mandates",
        sa.Column("mandate_id", sa.String(36), nullable=False),
        sa.Column("passport_id", sa.String(36), nullable=False),
        sa.Column("mandator", sa.Text, nullable=False),
        sa.Column("mandatee", sa.Text, nullable=False),
        sa.Column("scope", sa.JSON, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_until", sa.Date, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("mandate_id", name="pk_passport_mandates"),
    )
    op.create_index("ix_passport_mandates_passport", "passport_mandates", ["passport_id"])
    op.create_table(
        "passport_audit",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("passport_id", sa.String(36), nullable=False),
        sa.Column("tiers", sa.JSON, nullable=False),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("read_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_passport_audit"),
    )
    op.create_index("ix_passport_audit_passport", "passport_audit", ["passport_id"])
    op.create_table(
        "passport_backups",
        sa.Column("passport_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("issuer", sa.Text, nullable=False),
        sa.Column("jws", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("passport_id", "version", name="pk_passport_backups"),
    )


def downgrade() -> None:
    for name in (
        "passport_backups",
        "passport_audit",
        "passport_mandates",
        "passport_links",
        "passport_versions",
        "passport_passports",
    ):
        op.drop_table(name)
