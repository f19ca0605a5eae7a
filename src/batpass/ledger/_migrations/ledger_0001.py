"""ledger: events (hash chain), batches (signed Merkle roots), lots, edges, received summaries,
export authorisations, outflow alerts, recycled-content credits and claims

Revision ID: ledger_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "ledger_0001"
down_revision = None
branch_labels = ("ledger",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_events",
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("batch_no", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("owner", "seq", name="pk_ledger_events"),
        sa.UniqueConstraint("owner", "id", name="uq_ledger_events_owner"),
    )
    op.create_table(
        "ledger_heads",
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("batch_no", sa.Integer, nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("owner", name="pk_ledger_heads"),
    )
    op.create_table(
        "ledger_batches",
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("batch_no", sa.Integer, nullable=False),
        sa.Column("first_seq", sa.BigInteger, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("kid", sa.Text, nullable=False),
        sa.Column("jws", sa.Text, nullable=False),
        sa.Column("signed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("owner", "batch_no", name="pk_ledger_batches"),
    )
    op.create_table(
        "ledger_lots",
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("material", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(8), nullable=False),
        sa.Column("quantity", sa.Float, nullable=False),
        sa.Column("mass_kg", sa.Float, nullable=False),
        sa.Column("remaining_kg", sa.Float, nullable=False),
        sa.Column("mass_per_piece_kg", sa.Float, nullable=True),
        sa.Column("site", sa.String(128), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("custody", sa.String(32), nullable=False),
        sa.Column("recycled", sa.String(16), nullable=True),
        sa.Column("composition", sa.Text, nullable=False),
        sa.Column("produced_at", UTCDateTime, nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("battery_id", sa.Text, nullable=True),
        sa.Column("battery", sa.Text, nullable=True),
        sa.Column("held", sa.Boolean, nullable=False),
        sa.Column("voided", sa.Boolean, nullable=False),
        sa.Column("profile", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("owner", "id", name="pk_ledger_lots"),
    )
    op.create_index("ix_ledger_lots_battery", "ledger_lots", ["owner", "battery_id"])
    op.create_table(
        "ledger_edges",
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("child", sa.String(128), nullable=False),
        sa.Column("parent_owner", sa.String(200), nullable=False),
        sa.Column("parent", sa.String(128), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("input_kg", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("owner", "child", "parent_owner", "parent", "event_id", name="pk_ledger_edges"),
    )
    op.create_index("ix_ledger_edges_parent", "ledger_edges", ["parent_owner", "parent"])
    op.create_index("ix_ledger_edges_event", "ledger_edges", ["owner", "event_id"])
    op.create_table(
        "ledger_received_summaries",
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("lot", sa.String(128), nullable=False),
        sa.Column("issuer", sa.String(200), nullable=False),
        sa.Column("jws", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("owner", "lot", name="pk_ledger_received_summaries"),
    )
    op.create_table(
        "ledger_authorisations",
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("material", sa.String(64), nullable=False),
        sa.Column("destinations", sa.Text, nullable=False),
        sa.Column("cap_kg", sa.Float, nullable=False),
        sa.Column("used_kg", sa.Float, nullable=False),
        sa.Column("valid_from", UTCDateTime, nullable=False),
        sa.Column("valid_to", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("owner", "id", name="pk_ledger_authorisations"),
    )
    op.create_table(
        "ledger_alerts",
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("owner", "id", name="pk_ledger_alerts"),
    )
    op.create_table(
        "ledger_credits",
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("lot", sa.String(128), nullable=False),
        sa.Column("element", sa.String(8), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("credited_kg", sa.Float, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("owner", "lot", "element", name="pk_ledger_credits"),
    )
    op.create_table(
        "ledger_claims",
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("lot", sa.String(128), nullable=False),
        sa.Column("element", sa.String(8), nullable=False),
        sa.Column("kg", sa.Float, nullable=False),
        sa.Column("claimant", sa.String(200), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("custody", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("owner", "id", name="pk_ledger_claims"),
    )
    op.create_index("ix_ledger_claims_lot", "ledger_claims", ["owner", "lot", "element"])


def downgrade() -> None:
    for name in (
        "ledger_claims",
        "ledger_credits",
        "ledger_alerts",
        "ledger_authorisations",
        "ledger_received_summaries",
        "ledger_edges",
        "ledger_lots",
        "ledger_batches",
        "ledger_heads",
        "ledger_events",
    ):
        op.drop_table(name)
