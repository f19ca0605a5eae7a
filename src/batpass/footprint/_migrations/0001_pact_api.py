"""footprint: PACT API tables (footprints, filter keys, OAuth2 clients and tokens, events)

Revision ID: footprint_0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "footprint_0001"
down_revision = None
branch_labels = ("footprint",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pact_footprints",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("seq", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("valid_from", UTCDateTime, nullable=False),
        sa.Column("valid_to", UTCDateTime, nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("stored_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pact_footprints"),
        sa.UniqueConstraint("seq", name="uq_pact_footprints_seq"),
    )
    op.create_table(
        "pact_footprint_keys",
        sa.Column("footprint_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(512), nullable=False),
        sa.ForeignKeyConstraint(
            ["footprint_id"],
            ["pact_footprints.id"],
            ondelete="CASCADE",
            name="fk_pact_footprint_keys_footprint_id_pact_footprints",
        ),
        sa.UniqueConstraint("footprint_id", "kind", "value", name="uq_pact_footprint_keys"),
    )
    op.create_index("ix_pact_footprint_keys_lookup", "pact_footprint_keys", ["kind", "value"])
    op.create_table(
        "pact_clients",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("client_id", name="pk_pact_clients"),
    )
    op.create_table(
        "pact_tokens",
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["pact_clients.client_id"],
            ondelete="CASCADE",
            name="fk_pact_tokens_client_id_pact_clients",
        ),
        sa.PrimaryKeyConstraint("token_sha256", name="pk_pact_tokens"),
    )
    op.create_table(
        "pact_events",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(256), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("type", sa.String(96), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=True),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("answer_outbox_id", sa.String(36), nullable=True),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pact_events"),
    )


def downgrade() -> None:
    op.drop_table("pact_events")
    op.drop_table("pact_tokens")
    op.drop_table("pact_clients")
    op.drop_index("ix_pact_footprint_keys_lookup", table_name="pact_footprint_keys")
    op.drop_table("pact_footprint_keys")
    op.drop_table("pact_footprints")
