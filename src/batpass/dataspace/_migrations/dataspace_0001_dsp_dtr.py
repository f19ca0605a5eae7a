"""dataspace: DSP assets, offers, processes, agreements, tokens; digital twin registry

Revision ID: dataspace_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batpass.store.metadata import UTCDateTime

revision = "dataspace_0001"
down_revision = None
branch_labels = ("dataspace",)
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "dsp_assets",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("source_key", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=True),
        sa.Column("properties", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dsp_assets"),
    )
    op.create_table(
        "dsp_offers",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("asset_id", sa.String(200), nullable=False),
        sa.Column("access_policy", sa.JSON, nullable=False),
        sa.Column("usage_policy", sa.JSON, nullable=False),
        sa.Column("needs_bpn", sa.Boolean, nullable=False),
        sa.Column("needs_group", sa.Boolean, nullable=False),
        sa.Column("impossible", sa.Boolean, nullable=False),
        sa.Column("not_before", UTCDateTime, nullable=True),
        sa.Column("not_after", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dsp_offers"),
        sa.ForeignKeyConstraint(["asset_id"], ["dsp_assets.id"], name="fk_dsp_offers_asset_id_dsp_assets"),
    )
    op.create_index("ix_dsp_offers_asset_id", "dsp_offers", ["asset_id"])
    op.create_table(
        "dsp_offer_gates",
        sa.Column("offer_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("offer_id", "kind", "value", name="pk_dsp_offer_gates"),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["dsp_offers.id"], name="fk_dsp_offer_gates_offer_id_dsp_offers", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_dsp_offer_gates_kind", "dsp_offer_gates", ["kind", "value", "offer_id"])
    op.create_table(
        "dsp_bpn_groups",
        sa.Column("bpnl", sa.String(16), nullable=False),
        sa.Column("group_name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("bpnl", "group_name", name="pk_dsp_bpn_groups"),
    )
    op.create_table(
        "dsp_negotiations",
        sa.Column("pid", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("consumer_pid", sa.String(200), nullable=False),
        sa.Column("provider_pid", sa.String(200), nullable=True),
        sa.Column("counterparty_did", sa.Text, nullable=False),
        sa.Column("counterparty_bpnl", sa.String(16), nullable=True),
        sa.Column("counterparty_address", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_count", sa.Integer, nullable=False),
        sa.Column("state_at", UTCDateTime, nullable=False),
        sa.Column("last_message", sa.String(64), nullable=True),
        sa.Column("offer", sa.JSON, nullable=False),
        sa.Column("offer_id", sa.String(200), nullable=True),
        sa.Column("agreement_id", sa.String(200), nullable=True),
        sa.Column("error_detail", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("pid", name="pk_dsp_negotiations"),
    )
    op.create_index("ix_dsp_negotiations_consumer_pid", "dsp_negotiations", ["consumer_pid"])
    op.create_table(
        "dsp_agreements",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("negotiation_pid", sa.String(64), nullable=False),
        sa.Column("asset_id", sa.String(200), nullable=False),
        sa.Column("offer_id", sa.String(200), nullable=False),
        sa.Column("provider_did", sa.Text, nullable=False),
        sa.Column("consumer_did", sa.Text, nullable=False),
        sa.Column("consumer_bpnl", sa.String(16), nullable=True),
        sa.Column("policy", sa.JSON, nullable=False),
        sa.Column("signed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dsp_agreements"),
    )
    op.create_table(
        "dsp_transfers",
        sa.Column("pid", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("consumer_pid", sa.String(200), nullable=False),
        sa.Column("provider_pid", sa.String(200), nullable=True),
        sa.Column("agreement_id", sa.String(200), nullable=False),
        sa.Column("format", sa.String(64), nullable=False),
        sa.Column("counterparty_did", sa.Text, nullable=False),
        sa.Column("counterparty_bpnl", sa.String(16), nullable=True),
        sa.Column("counterparty_address", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_count", sa.Integer, nullable=False),
        sa.Column("state_at", UTCDateTime, nullable=False),
        sa.Column("last_message", sa.String(64), nullable=True),
        sa.Column("data_address", sa.JSON, nullable=True),
        sa.Column("error_detail", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("pid", name="pk_dsp_transfers"),
    )
    op.create_index("ix_dsp_transfers_consumer_pid", "dsp_transfers", ["consumer_pid"])
    op.create_table(
        "dsp_tokens",
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("transfer_pid", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("token_sha256", name="pk_dsp_tokens"),
    )
    op.create_index("ix_dsp_tokens_transfer_pid", "dsp_tokens", ["transfer_pid"])
    op.create_table(
        "dtr_shells",
        sa.Column("seq", _SEQ, nullable=False, autoincrement=True),
        sa.Column("aas_id", sa.String(2048), nullable=False),
        sa.Column("id_short", sa.String(128), nullable=True),
        sa.Column("global_asset_id", sa.String(2048), nullable=True),
        sa.Column("asset_kind", sa.String(32), nullable=True),
        sa.Column("asset_type", sa.String(2048), nullable=True),
        sa.Column("descriptor", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_dtr_shells"),
        sa.UniqueConstraint("aas_id", name="uq_dtr_shells_aas_id"),
    )
    op.create_index("ix_dtr_shells_global_asset_id", "dtr_shells", ["global_asset_id"])
    op.create_table(
        "dtr_asset_ids",
        sa.Column("shell_seq", _SEQ, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("reader", sa.String(200), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(2048), nullable=False),
        sa.PrimaryKeyConstraint("shell_seq", "position", "reader", name="pk_dtr_asset_ids"),
        sa.ForeignKeyConstraint(
            ["shell_seq"], ["dtr_shells.seq"], name="fk_dtr_asset_ids_shell_seq_dtr_shells", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_dtr_asset_ids_lookup", "dtr_asset_ids", ["name", "value", "reader", "shell_seq"])
    op.create_table(
        "dtr_submodels",
        sa.Column("shell_seq", _SEQ, nullable=False),
        sa.Column("sm_id", sa.String(2048), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("descriptor", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("shell_seq", "sm_id", name="pk_dtr_submodels"),
        sa.ForeignKeyConstraint(
            ["shell_seq"], ["dtr_shells.seq"], name="fk_dtr_submodels_shell_seq_dtr_shells", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    for table in (
        "dtr_submodels",
        "dtr_asset_ids",
        "dtr_shells",
        "dsp_tokens",
        "dsp_transfers",
        "dsp_agreements",
        "dsp_negotiations",
        "dsp_bpn_groups",
        "dsp_offer_gates",
        "dsp_offers",
        "dsp_assets",
    ):
        op.drop_table(table)
